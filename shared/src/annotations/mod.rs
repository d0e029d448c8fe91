//! The annotation registry: every annotation key Strait knows, its status, and the one reader
//! through which the translation reads annotations.
//!
//! - [`keys`]: the data. Every ingress-nginx key (under the configurable prefix, default
//!   `nginx.ingress.kubernetes.io`) and every `strait.dev/` key, each with a [`Status`]:
//!   `honoured`, `honoured-with-difference`, `ignored`, `not-yet` or `refused`.
//! - [`Annotations`]: one Ingress's annotations as the translation reads them. A read of a
//!   key without a registry entry is a bug (a debug assertion, and a test scans the sources).
//! - [`review`]: what an Ingress's keys mean for serving it — snippets that refuse it whole,
//!   security keys Strait does not enforce (their routes refuse, fail closed), a canary that is
//!   set aside, and a [`Finding`] per key for reports, metrics and `strait check`.
//! - [`configmap`]: ingress-nginx ConfigMap options and the Strait flag that replaces each.
//!
//! Nothing here generates configuration text: values are parsed into typed data or rejected.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

use k8s_openapi::api::networking::v1::Ingress;

pub mod configmap;
mod keys;
pub mod support;

/// Prefix of Strait's own annotations.
pub const STRAIT_PREFIX: &str = "strait.dev";

/// What Strait does with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Same meaning as in ingress-nginx.
    Honoured,
    /// Honoured, with a difference stated in one sentence.
    HonouredWithDifference,
    /// No effect on traffic; the note says why that is safe.
    Ignored,
    /// Planned. A security-relevant one refuses its routes until it is enforced.
    NotYet,
    /// Never executed (configuration snippets): the Ingress is refused.
    Refused,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Honoured,
        Status::HonouredWithDifference,
        Status::Ignored,
        Status::NotYet,
        Status::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Honoured => "honoured",
            Self::HonouredWithDifference => "honoured-with-difference",
            Self::Ignored => "ignored",
            Self::NotYet => "not-yet",
            Self::Refused => "refused",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Feature group of a key (as ingress-nginx's annotations.md groups them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Routing,
    Https,
    Upstream,
    Proxying,
    Canary,
    Affinity,
    BasicAuth,
    ExternalAuth,
    ClientCerts,
    SourceAddress,
    RateLimit,
    Cors,
    Waf,
    Other,
    Removed,
    Strait,
}

impl Group {
    /// Groups whose keys restrict access: not enforcing one would serve a route open.
    pub const fn is_security(self) -> bool {
        matches!(
            self,
            Self::BasicAuth
                | Self::ExternalAuth
                | Self::ClientCerts
                | Self::SourceAddress
                | Self::RateLimit
                | Self::Waf
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Routing => "rewrite and routing",
            Self::Https => "HTTPS and redirects",
            Self::Upstream => "upstream",
            Self::Proxying => "timeouts, retries, sizes, buffering",
            Self::Canary => "canary",
            Self::Affinity => "session affinity",
            Self::BasicAuth => "basic auth",
            Self::ExternalAuth => "external auth",
            Self::ClientCerts => "client certificates",
            Self::SourceAddress => "source address",
            Self::RateLimit => "rate limiting",
            Self::Cors => "CORS",
            Self::Waf => "WAF",
            Self::Other => "other",
            Self::Removed => "removed from ingress-nginx",
            Self::Strait => "Strait",
        }
    }
}

/// Under which prefix a key lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// ingress-nginx's keys, under `--annotations-prefix`.
    Nginx,
    /// Strait's own keys, under `strait.dev/`.
    Strait,
}

/// Values of a security key under which it restricts nothing, so that not enforcing it serves
/// nothing open (`limit-rps: "0"` is no limit in nginx).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inert {
    /// Every value restricts.
    Never,
    /// A false boolean (Go's `strconv.ParseBool`).
    False,
    /// The number zero (`0`, also with a size unit such as `0m`).
    Zero,
    /// `off`.
    Off,
}

impl Inert {
    fn matches(self, value: &str) -> bool {
        let value = value.trim();
        match self {
            Self::Never => false,
            Self::False => parse_bool(value) == Some(false),
            Self::Zero => {
                let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                !digits.is_empty() && digits.bytes().all(|b| b == b'0')
            }
            Self::Off => value.eq_ignore_ascii_case("off"),
        }
    }
}

/// One registry entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// The key without its prefix (`rewrite-target`).
    pub name: &'static str,
    pub namespace: Namespace,
    pub group: Group,
    pub status: Status,
    /// Restricts access: not enforced, it refuses its routes (fail closed).
    pub security: bool,
    /// The key this one is an older name of (`whitelist-source-range` for
    /// `allowlist-source-range`); the newer name wins when both are set.
    pub alias_of: Option<&'static str>,
    /// The difference, the reason it is safe to ignore, the plan, or why it is refused.
    pub note: &'static str,
    /// Strait version in which this status took effect.
    pub since: &'static str,
    /// Values under which a security key restricts nothing.
    pub inert: Inert,
}

impl KeySpec {
    /// The full key under `prefix` (ingress-nginx keys) or `strait.dev`.
    pub fn full_name(&self, prefix: &str) -> String {
        match self.namespace {
            Namespace::Nginx => format!("{prefix}/{}", self.name),
            Namespace::Strait => format!("{STRAIT_PREFIX}/{}", self.name),
        }
    }
}

/// Every registry entry.
pub fn keys() -> &'static [KeySpec] {
    keys::KEYS
}

/// The entry for `name` (without prefix) in `namespace`.
pub fn lookup(namespace: Namespace, name: &str) -> Option<&'static KeySpec> {
    static INDEX: OnceLock<HashMap<(Namespace, &'static str), &'static KeySpec>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        keys::KEYS
            .iter()
            .map(|k| ((k.namespace, k.name), k))
            .collect()
    });
    index.get(&(namespace, name)).copied()
}

/// The nearest known key in `namespace` to a misspelt `name`, if one is close enough to be a
/// likely typo (`server-snippets` → `server-snippet`).
pub fn suggest(namespace: Namespace, name: &str) -> Option<&'static KeySpec> {
    let (best, distance) = keys::KEYS
        .iter()
        .filter(|k| k.namespace == namespace)
        .map(|k| (k, strsim::damerau_levenshtein(name, k.name)))
        .min_by_key(|(k, d)| (*d, k.name))?;
    // Up to a third of the name may differ: catches plurals, swapped letters and a missing
    // word part without suggesting unrelated keys.
    (distance > 0 && distance <= (name.len() / 3).max(2)).then_some(best)
}

/// How the key of a [`Finding`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyStatus {
    Known(Status),
    /// Under one of our prefixes, but no such key exists.
    Unknown,
}

impl KeyStatus {
    /// Every value, as metric labels name them.
    pub const LABELS: [&'static str; 6] = [
        "honoured",
        "honoured-with-difference",
        "ignored",
        "not-yet",
        "refused",
        "unknown",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Known(status) => status.as_str(),
            Self::Unknown => "unknown",
        }
    }
}

/// One annotation of an Ingress, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The full key as written on the Ingress.
    pub key: String,
    /// Its value, as written (for reports; the compile parses values itself).
    pub value: String,
    pub status: KeyStatus,
    /// The registry entry (`None` for unknown keys).
    pub spec: Option<&'static KeySpec>,
    /// A security key whose value restricts something (not an inert value).
    pub restricts: bool,
    /// For unknown keys: the nearest known key, in full.
    pub suggestion: Option<String>,
}

impl Finding {
    /// The registry's note, or for an unknown key what it may have meant.
    pub fn note(&self) -> String {
        match (self.spec, &self.suggestion) {
            (Some(spec), _) => spec.note.to_owned(),
            (None, Some(suggestion)) => format!("unknown key; did you mean {suggestion}?"),
            (None, None) => match configmap::lookup(self.key.rsplit('/').next().unwrap_or("")) {
                Some(option) => format!(
                    "unknown key: `{}` is an ingress-nginx ConfigMap option, not an annotation ({})",
                    option.key,
                    option.strait_equivalent()
                ),
                None => "unknown key: ingress-nginx does not know it either".to_owned(),
            },
        }
    }
}

/// One Ingress's annotations, read through the registry.
#[derive(Clone, Copy, Debug)]
pub struct Annotations<'a> {
    map: Option<&'a BTreeMap<String, String>>,
    prefix: &'a str,
}

impl<'a> Annotations<'a> {
    /// The annotations of `ingress`, ingress-nginx keys under `prefix`.
    pub fn of(ingress: &'a Ingress, prefix: &'a str) -> Self {
        Self {
            map: ingress.metadata.annotations.as_ref(),
            prefix,
        }
    }

    /// The prefix of ingress-nginx keys.
    pub fn prefix(&self) -> &'a str {
        self.prefix
    }

    /// The value of ingress-nginx key `name` (without prefix), or of its older alias when only
    /// that is set. Returns the full key read, for messages.
    pub fn nginx(&self, name: &'static str) -> Option<(String, &'a str)> {
        // ingress-nginx's parser reads an alias only when the key itself is absent or empty.
        let spec = registered(Namespace::Nginx, name)?;
        let main = self.read(spec);
        if main.as_ref().is_some_and(|(_, value)| !value.is_empty()) {
            return main;
        }
        keys::KEYS
            .iter()
            .filter(|k| k.alias_of == Some(name))
            .find_map(|alias| self.read(alias).filter(|(_, value)| !value.is_empty()))
            .or(main)
    }

    /// The value of Strait key `name` (without the `strait.dev/` prefix).
    pub fn strait(&self, name: &'static str) -> Option<(String, &'a str)> {
        self.read(registered(Namespace::Strait, name)?)
    }

    fn read(&self, spec: &KeySpec) -> Option<(String, &'a str)> {
        let key = spec.full_name(self.prefix);
        let value = self.map?.get(&key)?;
        Some((key, value.as_str()))
    }

    /// Every annotation under our prefixes, classified, in key order.
    pub fn findings(&self) -> Vec<Finding> {
        let Some(map) = self.map else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(key, value)| self.classify(key, value))
            .collect()
    }

    fn classify(&self, key: &str, value: &str) -> Option<Finding> {
        let (prefix, name) = key.split_once('/')?;
        let namespace = if prefix == self.prefix {
            Namespace::Nginx
        } else if prefix == STRAIT_PREFIX {
            Namespace::Strait
        } else {
            return None;
        };
        let Some(spec) = lookup(namespace, name) else {
            return Some(Finding {
                key: key.to_owned(),
                value: value.to_owned(),
                status: KeyStatus::Unknown,
                spec: None,
                restricts: false,
                suggestion: suggest(namespace, name).map(|s| s.full_name(self.prefix)),
            });
        };
        Some(Finding {
            key: key.to_owned(),
            value: value.to_owned(),
            status: KeyStatus::Known(spec.status),
            spec: Some(spec),
            restricts: spec.security && !spec.inert.matches(value),
            suggestion: None,
        })
    }
}

/// The registry entry of a key the code reads. Reading an unregistered key is a bug: it
/// panics in debug builds (and so in tests) and reads nothing in release.
fn registered(namespace: Namespace, name: &str) -> Option<&'static KeySpec> {
    let spec = lookup(namespace, name);
    debug_assert!(
        spec.is_some(),
        "annotation {name:?} ({namespace:?}) is read without a registry entry"
    );
    spec
}

/// What an Ingress's annotations mean for serving it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Review {
    /// Every annotation under our prefixes, classified.
    pub findings: Vec<Finding>,
    /// Snippet keys present: the Ingress is refused whole.
    pub snippets: Vec<String>,
    /// Security keys present (with a value that restricts) that Strait does not enforce.
    pub unenforced: Vec<String>,
    /// `canary: "true"`: set aside until canary releases are implemented.
    pub canary: bool,
}

impl Review {
    /// Keys with `status`, in key order.
    pub fn keys_with(&self, status: KeyStatus) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.key.as_str())
            .collect()
    }

    /// Non-security `not-yet` keys (security ones are in [`unenforced`](Self::unenforced)).
    pub fn not_yet(&self) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|f| f.status == KeyStatus::Known(Status::NotYet) && !f.restricts)
            .map(|f| f.key.as_str())
            .collect()
    }
}

/// Classifies the annotations of `ingress` (ingress-nginx keys under `prefix`).
pub fn review(ingress: &Ingress, prefix: &str) -> Review {
    let annotations = Annotations::of(ingress, prefix);
    let findings = annotations.findings();
    let snippets = findings
        .iter()
        .filter(|f| f.status == KeyStatus::Known(Status::Refused))
        .map(|f| f.key.clone())
        .collect();
    let unenforced = findings
        .iter()
        .filter(|f| f.restricts && f.spec.is_some_and(|s| s.status == Status::NotYet))
        .map(|f| f.key.clone())
        .collect();
    let canary = annotations
        .nginx("canary")
        .is_some_and(|(_, v)| parse_bool(v) == Some(true));
    Review {
        findings,
        snippets,
        unenforced,
        canary,
    }
}

/// Booleans as ingress-nginx reads them (Go's `strconv.ParseBool`).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
