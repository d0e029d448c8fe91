use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;

/// Every key of ingress-nginx's final `annotations-risk.md` (136), the aliases its parser
/// reads, and the removed keys old manifests still carry (docs/architecture.md, "Annotations").
const NGINX_KEYS: &str = "server-alias allowlist-source-range backend-protocol auth-realm auth-secret \
auth-secret-type auth-type canary canary-by-cookie canary-by-header canary-by-header-pattern \
canary-by-header-value canary-weight canary-weight-total auth-tls-error-page auth-tls-match-cn \
auth-tls-pass-certificate-to-upstream auth-tls-secret auth-tls-verify-client auth-tls-verify-depth \
client-body-buffer-size configuration-snippet connection-proxy-header cors-allow-credentials \
cors-allow-headers cors-allow-methods cors-allow-origin cors-expose-headers cors-max-age enable-cors \
custom-http-errors custom-headers default-backend denylist-source-range \
disable-proxy-intercept-errors enable-global-auth auth-always-set-cookie auth-cache-duration \
auth-cache-key auth-keepalive auth-keepalive-requests auth-keepalive-share-vars \
auth-keepalive-timeout auth-method auth-proxy-set-headers auth-request-redirect \
auth-response-headers auth-signin auth-signin-redirect-param auth-snippet auth-url fastcgi-index \
fastcgi-params-configmap http2-push-preload load-balance enable-access-log enable-rewrite-log \
mirror-host mirror-request-body mirror-target enable-modsecurity enable-owasp-core-rules \
modsecurity-snippet modsecurity-transaction-id enable-opentelemetry opentelemetry-operation-name \
opentelemetry-trust-incoming-span proxy-body-size proxy-buffer-size proxy-buffering \
proxy-buffers-number proxy-busy-buffers-size proxy-connect-timeout proxy-cookie-domain \
proxy-cookie-path proxy-http-version proxy-max-temp-file-size proxy-next-upstream \
proxy-next-upstream-timeout proxy-next-upstream-tries proxy-read-timeout proxy-redirect-from \
proxy-redirect-to proxy-request-buffering proxy-send-timeout proxy-ssl-ciphers proxy-ssl-name \
proxy-ssl-protocols proxy-ssl-secret proxy-ssl-server-name proxy-ssl-verify proxy-ssl-verify-depth \
limit-allowlist limit-burst-multiplier limit-connections limit-rate limit-rate-after limit-rpm \
limit-rps from-to-www-redirect permanent-redirect permanent-redirect-code relative-redirects \
temporal-redirect temporal-redirect-code app-root force-ssl-redirect preserve-trailing-slash \
rewrite-target ssl-redirect use-regex ssl-ciphers ssl-prefer-server-ciphers ssl-passthrough satisfy \
server-snippet service-upstream affinity affinity-canary-behavior affinity-mode \
session-cookie-change-on-failure session-cookie-conditional-samesite-none session-cookie-domain \
session-cookie-expires session-cookie-max-age session-cookie-name session-cookie-path \
session-cookie-samesite session-cookie-secure stream-snippet upstream-hash-by \
upstream-hash-by-subset upstream-hash-by-subset-size upstream-vhost use-port-in-redirects \
x-forwarded-prefix \
whitelist-source-range limit-whitelist \
secure-backends global-rate-limit global-rate-limit-window global-rate-limit-key \
global-rate-limit-ignored-cidrs enable-opentracing opentracing-trust-incoming-span add-base-url \
base-url-scheme session-cookie-hash upstream-fail-timeout";

#[test]
fn every_ingress_nginx_key_has_an_entry() {
    let listed: Vec<&str> = NGINX_KEYS.split_whitespace().collect();
    assert_eq!(listed.len(), 136 + 2 + 11);
    let missing: Vec<&str> = listed
        .iter()
        .copied()
        .filter(|k| lookup(Namespace::Nginx, k).is_none())
        .collect();
    assert!(missing.is_empty(), "no registry entry: {missing:?}");
}

#[test]
fn keys_are_unique_and_every_entry_says_something() {
    let mut seen = BTreeSet::new();
    for key in keys() {
        assert!(
            seen.insert((key.namespace, key.name)),
            "duplicate {}",
            key.name
        );
        assert!(!key.note.is_empty(), "{} has no note", key.name);
        assert!(!key.since.is_empty());
        if let Some(of) = key.alias_of {
            let target = lookup(key.namespace, of).expect("alias target exists");
            assert_eq!(target.status, key.status, "{} and {of}", key.name);
            assert_eq!(target.security, key.security);
        }
    }
}

#[test]
fn security_groups_are_security_relevant_and_snippets_are_refused() {
    // docs/architecture.md, "Annotations": auth, client certificates, satisfy, source lists, rate and
    // connection limits, proxy-body-size, WAF.
    for name in [
        "auth-type",
        "auth-url",
        "auth-tls-secret",
        "satisfy",
        "whitelist-source-range",
        "denylist-source-range",
        "limit-rps",
        "limit-connections",
        "proxy-body-size",
        "enable-modsecurity",
    ] {
        assert!(lookup(Namespace::Nginx, name).unwrap().security, "{name}");
    }
    for name in [
        "rewrite-target",
        "limit-rate",
        "enable-cors",
        "enable-global-auth",
    ] {
        assert!(!lookup(Namespace::Nginx, name).unwrap().security, "{name}");
    }
    let refused: Vec<&str> = keys()
        .iter()
        .filter(|k| k.status == Status::Refused)
        .map(|k| k.name)
        .collect();
    assert_eq!(
        refused,
        [
            "auth-snippet",
            "modsecurity-snippet",
            "configuration-snippet",
            "server-snippet",
            "stream-snippet"
        ]
    );
    // A security key Strait honours must not be `ignored`: that would serve it open.
    for key in keys().iter().filter(|k| k.security) {
        assert_ne!(key.status, Status::Ignored, "{}", key.name);
    }
}

#[test]
fn typos_get_the_nearest_key() {
    for (typo, meant) in [
        ("server-snippets", "server-snippet"),
        ("whitelist-source-ranges", "whitelist-source-range"),
        ("rewrite-targt", "rewrite-target"),
        ("proxy-body-szie", "proxy-body-size"),
        ("ssl-redirects", "ssl-redirect"),
    ] {
        assert_eq!(suggest(Namespace::Nginx, typo).map(|k| k.name), Some(meant));
    }
    for unrelated in ["proxy-set-header-x-foo", "use-forwarded-headers", "x"] {
        assert_eq!(
            suggest(Namespace::Nginx, unrelated).map(|k| k.name),
            None,
            "{unrelated}"
        );
    }
    assert_eq!(
        suggest(Namespace::Strait, "backend-mod").map(|k| k.name),
        Some("backend-mode")
    );
}

fn ingress(annotations: &[(&str, &str)]) -> Ingress {
    let mut ingress = Ingress::default();
    ingress.metadata.annotations = Some(
        annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    ingress
}

const P: &str = "nginx.ingress.kubernetes.io";

#[test]
fn an_alias_is_read_only_when_the_key_itself_is_absent_or_empty() {
    // ingress-nginx parser/validators.go: the alias is consulted when the value is "".
    let both = ingress(&[
        (
            "nginx.ingress.kubernetes.io/allowlist-source-range",
            "10.0.0.0/8",
        ),
        (
            "nginx.ingress.kubernetes.io/whitelist-source-range",
            "192.0.2.0/24",
        ),
    ]);
    let read = Annotations::of(&both, P).nginx("allowlist-source-range");
    assert_eq!(read.map(|(_, v)| v), Some("10.0.0.0/8"));

    let alias = ingress(&[
        ("nginx.ingress.kubernetes.io/allowlist-source-range", ""),
        (
            "nginx.ingress.kubernetes.io/whitelist-source-range",
            "192.0.2.0/24",
        ),
    ]);
    let (key, value) = Annotations::of(&alias, P)
        .nginx("allowlist-source-range")
        .expect("alias read");
    assert_eq!(key, "nginx.ingress.kubernetes.io/whitelist-source-range");
    assert_eq!(value, "192.0.2.0/24");
}

#[test]
#[should_panic(expected = "without a registry entry")]
fn reading_an_unregistered_key_is_a_bug() {
    let ing = ingress(&[]);
    let _ = Annotations::of(&ing, P).nginx("no-such-key");
}

#[test]
fn findings_classify_only_our_prefixes() {
    let ing = ingress(&[
        ("nginx.ingress.kubernetes.io/ssl-redirect", "false"),
        ("nginx.ingress.kubernetes.io/enable-modsecurity", "false"),
        (
            "nginx.ingress.kubernetes.io/enable-owasp-core-rules",
            "true",
        ),
        ("nginx.ingress.kubernetes.io/limit-rps", "0"),
        ("nginx.ingress.kubernetes.io/limit-rpm", "10"),
        ("nginx.ingress.kubernetes.io/bogus", "1"),
        ("strait.dev/backend-mode", "pod"),
        ("kubernetes.io/ingress.class", "nginx"),
        ("nginx.ingress.kubernetes.io.extra/ssl-redirect", "x"),
    ]);
    let review = review(&ing, P);
    let got: Vec<(&str, &str, bool)> = review
        .findings
        .iter()
        .map(|f| (f.key.as_str(), f.status.as_str(), f.restricts))
        .collect();
    assert_eq!(
        got,
        [
            ("nginx.ingress.kubernetes.io/bogus", "unknown", false),
            (
                "nginx.ingress.kubernetes.io/enable-modsecurity",
                "not-yet",
                false
            ),
            (
                "nginx.ingress.kubernetes.io/enable-owasp-core-rules",
                "not-yet",
                true
            ),
            ("nginx.ingress.kubernetes.io/limit-rpm", "honoured", true),
            ("nginx.ingress.kubernetes.io/limit-rps", "honoured", false),
            (
                "nginx.ingress.kubernetes.io/ssl-redirect",
                "honoured",
                false
            ),
            ("strait.dev/backend-mode", "honoured", false),
        ]
    );
    assert_eq!(
        review.unenforced,
        ["nginx.ingress.kubernetes.io/enable-owasp-core-rules"],
        "an enforced key (limit-rpm) is not unenforced, an inert value (false) restricts nothing"
    );
    assert!(review.snippets.is_empty() && !review.canary);
}

#[test]
fn configmap_keys_used_as_annotations_are_explained() {
    let ing = ingress(&[("nginx.ingress.kubernetes.io/use-forwarded-headers", "true")]);
    let finding = &review(&ing, P).findings[0];
    assert_eq!(finding.status, KeyStatus::Unknown);
    assert!(
        finding.note().contains("ConfigMap option"),
        "{}",
        finding.note()
    );
    assert!(
        finding.note().contains("--trusted-proxies"),
        "{}",
        finding.note()
    );
}

// ---- every read goes through the registry -------------------------------------------------

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The non-test sources of the crates that read annotations.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["shared/src", "controller/src", "proxy/src"] {
        rust_files(&root.join(krate), &mut files);
    }
    files
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name != "tests.rs" && !p.components().any(|c| c.as_os_str() == "tests")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable source");
            // Drop inline test modules: everything from `#[cfg(test)]` on.
            let text = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
            (p.strip_prefix(&root).unwrap().display().to_string(), text)
        })
        .collect()
}

/// String literals passed to `.nginx(` / `.strait(`, and every `"<prefix>/<key>"` literal.
fn literals_after<'t>(text: &'t str, call: &str) -> Vec<&'t str> {
    text.match_indices(call)
        .filter_map(|(i, _)| {
            let rest = &text[i + call.len()..];
            let rest = rest.strip_prefix('"')?;
            rest.split('"').next()
        })
        .collect()
}

#[test]
fn every_annotation_read_has_a_registry_entry() {
    let mut reads = 0;
    for (file, text) in sources() {
        for name in literals_after(&text, ".nginx(") {
            reads += 1;
            assert!(lookup(Namespace::Nginx, name).is_some(), "{file}: {name}");
        }
        for name in literals_after(&text, ".strait(") {
            reads += 1;
            assert!(lookup(Namespace::Strait, name).is_some(), "{file}: {name}");
        }
        // The compile's boolean reader reads `strait.dev/<name>`, then `<prefix>/<name>`.
        for name in literals_after(&text, ".boolean(") {
            reads += 1;
            assert!(lookup(Namespace::Strait, name).is_some(), "{file}: {name}");
            assert!(lookup(Namespace::Nginx, name).is_some(), "{file}: {name}");
        }
        for (prefix, namespace) in [
            ("\"nginx.ingress.kubernetes.io/", Namespace::Nginx),
            ("\"strait.dev/", Namespace::Strait),
        ] {
            for (i, _) in text.match_indices(prefix) {
                let name = text[i + prefix.len()..].split('"').next().unwrap_or("");
                if name.is_empty() || name == "ingress-controller" {
                    continue; // A prefix in a message, or the controller name.
                }
                reads += 1;
                assert!(lookup(namespace, name).is_some(), "{file}: {prefix}{name}");
            }
        }
    }
    assert!(
        reads >= 6,
        "the scan found the registry's own reads ({reads})"
    );
}

/// Whether a line reads an object's annotations: `ObjectMeta::annotations` through
/// `metadata`/`meta`, or kube's `ResourceExt::annotations()`.
fn reads_field(line: &str) -> bool {
    [
        "metadata.annotations",
        "metadata().annotations",
        "meta.annotations",
        ".annotations()",
    ]
    .iter()
    .any(|pattern| line.contains(pattern))
}

#[test]
fn only_the_registry_reads_ingress_annotations() {
    // Other readers of `.annotations`: Kubernetes' own class annotations (not ingress-nginx
    // keys), the last-applied drop, and the cache slimming that keeps our prefixes.
    let allowed = [
        "shared/src/annotations/mod.rs",
        "shared/src/compile/class.rs",
        "shared/src/index.rs",
        "controller/src/cluster/sources.rs",
    ];
    for (file, text) in sources() {
        if allowed.iter().any(|a| file.ends_with(a)) {
            continue;
        }
        let reads: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//") && reads_field(l))
            .collect();
        assert!(
            reads.is_empty(),
            "{file} reads annotations outside the registry: {reads:?}"
        );
    }
}
