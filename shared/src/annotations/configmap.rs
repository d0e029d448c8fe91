//! ingress-nginx ConfigMap options (`configmap.md`) and what replaces each in Strait: a flag,
//! a built-in behaviour, or nothing yet. `strait check` reads an ingress-nginx ConfigMap
//! through this table; options it does not list are nginx tuning with no Strait counterpart.

/// One ConfigMap option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigOption {
    pub key: &'static str,
    /// The Strait flag that takes its role, if any.
    pub flag: Option<&'static str>,
    /// The option restricts access for every Ingress: without a Strait equivalent, moving
    /// serves traffic it used to stop.
    pub security: bool,
    /// What differs, or why nothing is needed.
    pub note: &'static str,
}

impl ConfigOption {
    /// "use --flag (note)" or the note alone.
    pub fn strait_equivalent(&self) -> String {
        match self.flag {
            Some(flag) => format!("in Strait: {flag}; {}", self.note),
            None => format!("in Strait: {}", self.note),
        }
    }
}

const fn flag(key: &'static str, flag: &'static str, note: &'static str) -> ConfigOption {
    ConfigOption {
        key,
        flag: Some(flag),
        security: false,
        note,
    }
}

const fn none(key: &'static str, note: &'static str) -> ConfigOption {
    ConfigOption {
        key,
        flag: None,
        security: false,
        note,
    }
}

const fn guard(key: &'static str, note: &'static str) -> ConfigOption {
    ConfigOption {
        key,
        flag: None,
        security: true,
        note,
    }
}

const TRUST: &str = "X-Forwarded-* are believed only from the listed proxies, and the peer is always appended to X-Forwarded-For";

/// The options migrants set most, with their Strait counterpart.
pub static OPTIONS: &[ConfigOption] = &[
    flag("use-forwarded-headers", "--trusted-proxies", TRUST),
    flag("proxy-real-ip-cidr", "--trusted-proxies", TRUST),
    flag("compute-full-forwarded-for", "--trusted-proxies", TRUST),
    none(
        "forwarded-for-header",
        "X-Forwarded-For only; another header name is not yet configurable",
    ),
    flag(
        "use-proxy-protocol",
        "--proxy-protocol",
        "per listener: http, https or http,https",
    ),
    flag("hsts", "--hsts", "same default (on)"),
    flag("hsts-max-age", "--hsts-max-age", "same default (1 year)"),
    flag(
        "hsts-include-subdomains",
        "--hsts-include-subdomains",
        "same default (on)",
    ),
    flag("hsts-preload", "--hsts-preload", "same default (off)"),
    flag(
        "proxy-connect-timeout",
        "--upstream-connect-timeout",
        "same default (5s)",
    ),
    flag(
        "proxy-read-timeout",
        "--upstream-response-timeout",
        "same default (60s), between two reads",
    ),
    flag(
        "proxy-send-timeout",
        "--upstream-send-timeout",
        "same default (60s), between two writes",
    ),
    flag("keep-alive", "--client-idle-timeout", "same default (75s)"),
    flag(
        "upstream-keepalive-timeout",
        "--upstream-pool-idle-timeout",
        "idle time of a pooled upstream connection",
    ),
    flag(
        "upstream-keepalive-connections",
        "--upstream-pool-max-idle",
        "idle pooled connections per upstream address",
    ),
    flag(
        "large-client-header-buffers",
        "--max-header-bytes",
        "one limit on the whole header block (431 over it)",
    ),
    flag(
        "disable-access-log",
        "--access-log=false",
        "JSON access log on stdout",
    ),
    none(
        "log-format-upstream",
        "Strait's access log is JSON with fixed fields",
    ),
    none(
        "log-format-escape-json",
        "Strait's access log is always JSON",
    ),
    none(
        "ssl-redirect",
        "same default (true); per Ingress with the ssl-redirect annotation",
    ),
    none(
        "force-ssl-redirect",
        "per Ingress with the force-ssl-redirect annotation",
    ),
    none(
        "http-redirect-code",
        "Strait redirects with 308, ingress-nginx's default; other codes not yet",
    ),
    none(
        "ssl-protocols",
        "TLS 1.2 and 1.3 only (rustls); older protocols are refused",
    ),
    none("ssl-ciphers", "rustls's fixed set of modern AEAD suites"),
    none(
        "allow-snippet-annotations",
        "Strait never executes snippets, whatever this says: an Ingress with one is refused",
    ),
    none(
        "annotations-risk-level",
        "Strait refuses Critical (snippet) keys, as ingress-nginx does at its default High",
    ),
    flag(
        "strict-validate-path-type",
        "--strict-validate-path-type",
        "same default (true) and rule; an offending Exact or Prefix path is skipped with an error (no admission webhook rejects the Ingress), the Ingress's other paths are served",
    ),
    flag(
        "custom-http-errors",
        "--custom-http-errors",
        "answered by --default-backend-service (nothing is intercepted without it); an Ingress's custom-http-errors replaces the list",
    ),
    flag(
        "proxy-next-upstream",
        "--next-upstream",
        "same default (error timeout); a sent request is passed on only with a body of at most 64 KiB",
    ),
    flag(
        "proxy-next-upstream-tries",
        "--next-upstream-tries",
        "same default (3)",
    ),
    flag(
        "proxy-next-upstream-timeout",
        "--next-upstream-timeout",
        "same default (0: no limit)",
    ),
    flag(
        "retry-non-idempotent",
        "--retry-non-idempotent",
        "same default (false)",
    ),
    flag(
        "limit-req-status-code",
        "--limit-req-status-code",
        "same default (503), 400 to 599",
    ),
    flag(
        "limit-conn-status-code",
        "--limit-conn-status-code",
        "same default (503), 400 to 599",
    ),
    none("worker-processes", "one worker per core, always"),
    none("enable-opentelemetry", "no tracing export yet"),
    none("enable-brotli", "no response compression yet"),
    none("use-gzip", "no response compression yet"),
    none("use-http2", "HTTP/2 is always offered over TLS (ALPN h2)"),
    flag(
        "proxy-body-size",
        "--max-body-size",
        "same default (1m); 413 over it",
    ),
    flag(
        "global-auth-url",
        "--global-auth-url",
        "every route whose Ingress has no auth-url, unless it sets enable-global-auth: \"false\"",
    ),
    flag("global-auth-method", "--global-auth-method", "same meaning"),
    flag("global-auth-signin", "--global-auth-signin", "same meaning"),
    flag(
        "global-auth-signin-redirect-param",
        "--global-auth-signin-redirect-param",
        "same default (rd)",
    ),
    flag(
        "global-auth-response-headers",
        "--global-auth-response-headers",
        "same meaning",
    ),
    flag(
        "global-auth-request-redirect",
        "--global-auth-request-redirect",
        "same meaning",
    ),
    flag(
        "global-auth-cache-key",
        "--global-auth-cache-key",
        "same meaning",
    ),
    flag(
        "global-auth-cache-duration",
        "--global-auth-cache-duration",
        "same default (200 202 401 5m)",
    ),
    flag(
        "global-auth-always-set-cookie",
        "--global-auth-always-set-cookie",
        "same default (false)",
    ),
    guard(
        "global-auth-snippet",
        "nginx configuration text: never executed",
    ),
    flag(
        "no-auth-locations",
        "--no-auth-locations",
        "same default (/.well-known/acme-challenge); exempts rule paths from external and basic auth",
    ),
    flag(
        "whitelist-source-range",
        "--allowlist-source-range",
        "an Ingress's allowlist-source-range replaces it",
    ),
    flag(
        "denylist-source-range",
        "--denylist-source-range",
        "an Ingress's denylist-source-range replaces it; checked before the allow list",
    ),
    guard("block-cidrs", "no global block list yet"),
    guard("block-user-agents", "no global block list yet"),
    guard("block-referers", "no global block list yet"),
    guard("enable-modsecurity", "no WAF"),
    guard("enable-owasp-modsecurity-crs", "no WAF"),
];

/// The option named `key`, if the table lists it.
pub fn lookup(key: &str) -> Option<&'static ConfigOption> {
    OPTIONS.iter().find(|o| o.key == key)
}

/// The note for options the table does not list.
pub const UNLISTED: &str = "nginx tuning with no Strait counterpart";
