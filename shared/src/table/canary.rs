//! A canary of a route (docs/architecture.md, "Canary"): the backend of an Ingress with
//! `canary: "true"` as the alternative for one host + path of its main Ingress, and the
//! decision per request, as ingress-nginx's `balancer.lua` (`route_to_alternative_balancer`)
//! makes it:
//!
//! 1. `canary-by-header`: when the request has the header (its first value): with
//!    `canary-by-header-value`, that exact value goes to the canary (any other falls through);
//!    else with `canary-by-header-pattern`, a match anywhere in the value goes to the canary
//!    (no match falls through); else `always` goes to the canary, `never` to the main backend
//!    (anything else falls through).
//! 2. `canary-by-cookie`: `always` → canary, `never` → main (anything else falls through).
//! 3. `canary-weight` out of `canary-weight-total` (a total of 100 or less counts as 100).
//!
//! The decision reads the request's headers only: no lock, no allocation.

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::model::ObjectKey;
use crate::table::BackendId;

/// The canary of one route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Canary {
    /// The canary Ingress (for metrics and logs).
    pub ingress: ObjectKey,
    pub backend: BackendId,
    /// `canary-by-header`, as a header name (`_` read as `-`, as nginx's `$http_` variables).
    pub header: Option<HeaderName>,
    pub header_match: HeaderMatch,
    /// `canary-by-cookie`.
    pub cookie: Option<Box<str>>,
    /// `canary-weight`, out of [`Canary::weight_total`].
    pub weight: u32,
    /// `canary-weight-total`, at least 100.
    pub weight_total: u32,
    /// `affinity-canary-behavior` of the canary Ingress is `sticky` (the default): with the
    /// main route's cookie affinity, the canary's responses set the cookie too, and a request
    /// whose cookie names either backend stays on it (docs/architecture.md, "Session affinity
    /// and consistent hashing"). `legacy`: the canary ignores affinity.
    pub sticky: bool,
}

/// How the value of the canary header is read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HeaderMatch {
    /// `always` and `never`.
    AlwaysNever,
    /// `canary-by-header-value`: this exact value.
    Value(HeaderValue),
    /// `canary-by-header-pattern`: a match anywhere in the value.
    Pattern(Pattern),
    /// A `canary-by-header-pattern` that does not compile: a request with the header goes to
    /// the main backend (ingress-nginx's balancer does so on a pattern error).
    Invalid,
}

/// A `canary-by-header-pattern` regex (compiled once, linear-time matching), compared by its
/// source text.
#[derive(Clone, Debug)]
pub struct Pattern(pub regex::bytes::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

impl std::hash::Hash for Pattern {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

/// The largest compiled size of a header pattern (the `regex` crate's own limit is 10 MiB).
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// Compiles a `canary-by-header-pattern`.
pub fn compile_pattern(pattern: &str) -> Result<Pattern, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map(Pattern)
}

/// A `canary-by-header` name: `_` read as `-` and case ignored, as nginx's `$http_<name>`.
pub fn header_name(name: &str) -> Option<HeaderName> {
    let name = name.trim().replace('_', "-").to_ascii_lowercase();
    HeaderName::from_bytes(name.as_bytes()).ok()
}

impl Canary {
    /// The weight total in force: `canary-weight-total` when it is above 100, else 100.
    pub fn effective_total(total: i64) -> u32 {
        u32::try_from(total)
            .ok()
            .filter(|t| *t > 100)
            .unwrap_or(100)
    }

    /// Whether this request goes to the canary. `roll(n)` draws a number in `1..=n`.
    pub fn chooses_canary(&self, headers: &HeaderMap, roll: impl FnOnce(u32) -> u32) -> bool {
        if let Some(value) = self.header.as_ref().and_then(|name| headers.get(name)) {
            match &self.header_match {
                HeaderMatch::Value(wanted) if wanted == value => return true,
                HeaderMatch::Value(_) => {}
                HeaderMatch::Pattern(pattern) if pattern.0.is_match(value.as_bytes()) => {
                    return true;
                }
                HeaderMatch::Pattern(_) => {}
                HeaderMatch::Invalid => return false,
                HeaderMatch::AlwaysNever => match value.as_bytes() {
                    b"always" => return true,
                    b"never" => return false,
                    _ => {}
                },
            }
        }
        if let Some(value) = self
            .cookie
            .as_deref()
            .and_then(|name| cookie(headers, name))
        {
            match value {
                b"always" => return true,
                b"never" => return false,
                _ => {}
            }
        }
        self.weight > 0 && roll(self.weight_total) <= self.weight
    }
}

/// The value of cookie `name` (case ignored, as nginx's `$cookie_<name>`) in the request's
/// `Cookie` headers: the first one.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            key.trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| value.trim_ascii())
        })
}

#[cfg(test)]
mod tests;
