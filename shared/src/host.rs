//! Host names as Ingress rules state them and as requests carry them.
//!
//! Matching ignores the port and case. `*.example.com` matches exactly one extra label.

use std::borrow::Cow;

/// A rule's host: exact, one-label wildcard, or absent (matches requests whose host matches no
/// rule).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// Lower-case exact name.
    Exact(String),
    /// Lower-case suffix after `*.`: `*.example.com` is stored as `example.com`.
    Wildcard(String),
    /// The rule names no host.
    Any,
}

/// Why a rule's host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host {0:?} is not a valid DNS name")]
    Invalid(String),
    #[error("host {0:?}: a wildcard must be the whole first label, as in *.example.com")]
    BadWildcard(String),
    #[error("host {0:?} is an IP address; Ingress hosts must be DNS names")]
    IpAddress(String),
}

impl HostPattern {
    /// Parses `spec.rules[].host` (an empty string means no host).
    pub fn parse(host: &str) -> Result<Self, HostError> {
        if host.is_empty() {
            return Ok(Self::Any);
        }
        let lower = host.to_ascii_lowercase();
        if lower.parse::<std::net::IpAddr>().is_ok() {
            return Err(HostError::IpAddress(host.to_owned()));
        }
        if let Some(rest) = lower.strip_prefix("*.") {
            if !valid_dns_name(rest) {
                return Err(HostError::BadWildcard(host.to_owned()));
            }
            return Ok(Self::Wildcard(rest.to_owned()));
        }
        if lower.contains('*') {
            return Err(HostError::BadWildcard(host.to_owned()));
        }
        if !valid_dns_name(&lower) {
            return Err(HostError::Invalid(host.to_owned()));
        }
        Ok(Self::Exact(lower))
    }

    /// Whether this pattern matches an already normalised request host.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => h == host,
            Self::Wildcard(suffix) => wildcard_suffix(host) == Some(suffix.as_str()),
            Self::Any => true,
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(h) => f.write_str(h),
            Self::Wildcard(s) => write!(f, "*.{s}"),
            Self::Any => f.write_str("*"),
        }
    }
}

/// RFC 1123 host name: labels of 1–63 letters, digits and hyphens, not starting or ending with
/// a hyphen; 253 characters at most.
fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The part of a normalised host that a one-label wildcard is keyed by: everything after the
/// first label (`a.example.com` → `example.com`), or `None` for a single label.
pub fn wildcard_suffix(host: &str) -> Option<&str> {
    host.split_once('.')
        .map(|(_, rest)| rest)
        .filter(|r| !r.is_empty())
}

/// Normalises a request's `Host` (or `:authority`) for matching: drops the port (and IPv6
/// brackets' port), one trailing dot, and lower-cases. Borrows when nothing changes.
pub fn normalise_request_host(raw: &str) -> Cow<'_, str> {
    let without_port = if raw.starts_with('[') {
        // IPv6 literal: keep up to the closing bracket.
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        match raw.rsplit_once(':') {
            // A colon inside `h` means an unbracketed IPv6 literal, which has no port.
            Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    let host = without_port.strip_suffix('.').unwrap_or(without_port);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

#[cfg(test)]
mod tests;
