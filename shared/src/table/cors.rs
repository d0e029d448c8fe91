//! CORS of one Ingress (`enable-cors` and the `cors-*` keys), parsed when the table is built
//! (docs/architecture.md, "CORS").
//!
//! The values are checked with ingress-nginx's own rules (`internal/ingress/annotations/cors`):
//! an invalid value falls back to ingress-nginx's default for that key (a warning says so), and
//! a `cors-allow-origin` entry that is not `scheme://host[:port]`, `scheme://*.host[:port]`,
//! `null` or `*` is skipped. Every value kept is plain header text (letters, digits, `-`, `_`,
//! `,`, `*`, spaces), so it can never smuggle another header or nginx variable.

use http::HeaderValue;

/// `cors-allow-methods` default.
pub const DEFAULT_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS";
/// `cors-allow-headers` default.
pub const DEFAULT_HEADERS: &str = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization";
/// `cors-max-age` default, in seconds (20 days).
pub const DEFAULT_MAX_AGE: i64 = 1_728_000;

/// The CORS policy of a route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cors {
    pub origins: AllowOrigin,
    /// `Access-Control-Allow-Methods`. The header values are made when the table is built,
    /// so a response pays a reference-count increment per header.
    pub allow_methods: HeaderValue,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: HeaderValue,
    /// `Access-Control-Expose-Headers`; `None`: not sent.
    pub expose_headers: Option<HeaderValue>,
    /// `Access-Control-Allow-Credentials: true` is sent.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age`, in seconds.
    pub max_age: HeaderValue,
}

impl Default for Cors {
    /// What `enable-cors: "true"` alone gives: any origin, ingress-nginx's defaults.
    fn default() -> Self {
        Self {
            origins: AllowOrigin::Any,
            allow_methods: HeaderValue::from_static(DEFAULT_METHODS),
            allow_headers: HeaderValue::from_static(DEFAULT_HEADERS),
            expose_headers: None,
            allow_credentials: true,
            max_age: HeaderValue::from(DEFAULT_MAX_AGE),
        }
    }
}

/// Which `Origin`s get CORS headers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AllowOrigin {
    /// `*`: every request, with or without `Origin`, gets `Access-Control-Allow-Origin: *`.
    Any,
    /// Requests whose `Origin` matches one of these get it echoed (and `Vary: Origin`); an
    /// empty list matches nothing.
    List(Vec<OriginPattern>),
}

impl AllowOrigin {
    /// Whether `origin` (the request's `Origin` header) is allowed.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            Self::Any => true,
            Self::List(patterns) => patterns.iter().any(|p| p.matches(origin)),
        }
    }
}

/// One `cors-allow-origin` entry: `scheme://host[:port]`, with the first label of the host a
/// wildcard (`*.`) when `wildcard`, or `null`. Kept lowercase; matched case-insensitively, as
/// nginx's `~*` does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OriginPattern {
    /// `scheme://` (or the whole entry when not a wildcard).
    prefix: String,
    /// The first host label is one `[A-Za-z0-9-]+` label.
    wildcard: bool,
    /// After the wildcard label: `.host[:port]`.
    suffix: String,
}

impl OriginPattern {
    /// Parses one entry as ingress-nginx's `corsOriginRegex` accepts it
    /// (`^([a-z]+://(\*\.)?[A-Za-z0-9\-.]*(:\d+)?|\*|null)?$`, `*` handled by the caller).
    pub fn parse(entry: &str) -> Option<Self> {
        if entry == "null" {
            return Some(Self::exact(entry));
        }
        let (scheme, rest) = entry.split_once("://")?;
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        let (wildcard, host_port) = match rest.strip_prefix("*.") {
            Some(host) => (true, host),
            None => (false, rest),
        };
        let (host, port) = match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        let host_ok = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !host_ok || !port_ok {
            return None;
        }
        let entry = entry.to_ascii_lowercase();
        Some(if wildcard {
            let scheme_len = scheme.len() + "://".len();
            Self {
                prefix: entry[..scheme_len].to_owned(),
                wildcard: true,
                // Keeps the dot after `*`.
                suffix: entry[scheme_len + 1..].to_owned(),
            }
        } else {
            Self::exact(&entry)
        })
    }

    fn exact(entry: &str) -> Self {
        Self {
            prefix: entry.to_owned(),
            wildcard: false,
            suffix: String::new(),
        }
    }

    /// Whether the whole of `origin` matches (case-insensitively).
    pub fn matches(&self, origin: &[u8]) -> bool {
        let (prefix, suffix) = (self.prefix.as_bytes(), self.suffix.as_bytes());
        if !self.wildcard {
            return origin.eq_ignore_ascii_case(prefix);
        }
        if origin.len() <= prefix.len() + suffix.len() {
            return false;
        }
        let (head, rest) = origin.split_at(prefix.len());
        let (label, tail) = rest.split_at(rest.len() - suffix.len());
        head.eq_ignore_ascii_case(prefix)
            && tail.eq_ignore_ascii_case(suffix)
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    }
}

/// Why a value was replaced by its default, for the warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// The key without prefix.
    pub key: &'static str,
    pub value: String,
    /// What applies instead.
    pub default: &'static str,
}

/// The raw values of the `cors-*` keys of an Ingress with `enable-cors: "true"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorsValues<'a> {
    pub allow_origin: Option<&'a str>,
    pub allow_methods: Option<&'a str>,
    pub allow_headers: Option<&'a str>,
    pub expose_headers: Option<&'a str>,
    pub allow_credentials: Option<&'a str>,
    pub max_age: Option<&'a str>,
}

impl Cors {
    /// The policy of `values`, with a [`Fallback`] for each value replaced by its default and
    /// the `cors-allow-origin` entries skipped.
    pub fn parse(values: CorsValues<'_>) -> (Self, Vec<Fallback>) {
        let mut fallbacks = Vec::new();
        let mut fallback = |key, value: &str, default| {
            fallbacks.push(Fallback {
                key,
                value: value.to_owned(),
                default,
            });
        };
        let mut cors = Self::default();
        if let Some(value) = values.allow_origin {
            match parse_origins(value) {
                Some((origins, skipped)) => {
                    cors.origins = origins;
                    for entry in skipped {
                        fallback("cors-allow-origin", entry, "entry skipped");
                    }
                }
                None => fallback("cors-allow-origin", value, "*"),
            }
        }
        if let Some(value) = values.allow_methods {
            let ok = is_list(value, |b| b.is_ascii_alphabetic(), false);
            match header(value).filter(|_| ok) {
                Some(value) => cors.allow_methods = value,
                None => fallback("cors-allow-methods", value, DEFAULT_METHODS),
            }
        }
        if let Some(value) = values.allow_headers {
            // ingress-nginx's `HeadersVariable`: `^[A-Za-z0-9-_, ]*$`, and not empty.
            let ok = value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(&b))
                && !value.trim().is_empty();
            match header(value).filter(|_| ok) {
                Some(value) => cors.allow_headers = value,
                None => fallback("cors-allow-headers", value, DEFAULT_HEADERS),
            }
        }
        if let Some(value) = values.expose_headers {
            let word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            let ok = is_list(value, word, true);
            match header(value).filter(|_| ok) {
                Some(value) => cors.expose_headers = Some(value),
                None => fallback("cors-expose-headers", value, "none"),
            }
        }
        if let Some(value) = values.allow_credentials {
            match crate::annotations::parse_bool(value) {
                Some(b) => cors.allow_credentials = b,
                None => fallback("cors-allow-credentials", value, "true"),
            }
        }
        if let Some(value) = values.max_age {
            // Go's `strconv.Atoi`: optional sign, decimal digits, no spaces.
            match value.parse::<i64>() {
                Ok(n) => cors.max_age = HeaderValue::from(n),
                Err(_) => fallback("cors-max-age", value, "1728000"),
            }
        }
        (cors, fallbacks)
    }
}

/// `value` as a header value (made once, when the table is built).
fn header(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value).ok()
}

/// `cors-allow-origin`: `None` when the whole value fails ingress-nginx's validator (its
/// default `*` then applies), else the origins and the entries skipped.
fn parse_origins(value: &str) -> Option<(AllowOrigin, Vec<&str>)> {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    if compact.is_empty() || !origins_valid(&compact) {
        return None;
    }
    let mut patterns = Vec::new();
    let mut skipped = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" {
            return Some((AllowOrigin::Any, skipped));
        }
        match OriginPattern::parse(entry) {
            Some(pattern) => patterns.push(pattern),
            None => skipped.push(entry),
        }
    }
    Some((AllowOrigin::List(patterns), skipped))
}

/// ingress-nginx's `corsOriginRegexValidator` on a value without spaces:
/// `^((((([a-z]+://)?(\*\.)?[A-Za-z0-9\-.]*(:\d+)?,?)|null)+)|\*)?$`. Its items repeat without
/// separators, so it accepts exactly the strings made of host characters and commas, `*.`,
/// `:` followed by digits, and `://` right after a lowercase letter.
fn origins_valid(value: &str) -> bool {
    if value == "*" {
        return true;
    }
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            c if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b',' => i += 1,
            b'*' if b.get(i + 1) == Some(&b'.') => i += 2,
            b':' if b[i + 1..].starts_with(b"//") && i > 0 && b[i - 1].is_ascii_lowercase() => {
                i += 3;
            }
            b':' => {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 0 {
                    return false;
                }
                i += 1 + digits;
            }
            _ => return false,
        }
    }
    true
}

/// ingress-nginx's list regexes `^(WORD,?\s?)+$`: one or more words, each followed by at most
/// one comma and then at most one whitespace character. With `star`, a lone `*` is a word too.
fn is_list(value: &str, word: impl Fn(u8) -> bool, star: bool) -> bool {
    let b = value.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return false;
    }
    while i < b.len() {
        let start = i;
        if star && b[i] == b'*' {
            i += 1;
        } else {
            while i < b.len() && word(b[i]) {
                i += 1;
            }
        }
        if i == start {
            return false;
        }
        if b.get(i) == Some(&b',') {
            i += 1;
        }
        if b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests;
