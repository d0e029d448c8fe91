//! Client-certificate authentication of one host (`auth-tls-*`; docs/architecture.md,
//! "Client certificates"), as ingress-nginx's `internal/ingress/annotations/authtls` reads
//! the keys and nginx.tmpl applies them per server:
//!
//! - `auth-tls-verify-client`: `on` (default), `off`, `optional`, `optional_no_ca`.
//! - `auth-tls-verify-depth`: default 1 (the certificate is issued by a root of `ca.crt`).
//! - `auth-tls-error-page`: failures answer 302 to it instead of 400 (`error_page 495 496`).
//! - `auth-tls-pass-certificate-to-upstream`: the URL-encoded PEM goes up in `ssl-client-cert`.
//! - `auth-tls-match-cn`: `CN=` plus a regex searched in the subject DN; no match is 403.
//!
//! The value is built once per Ingress at compile time and shared by every route of its hosts
//! and by the TLS table's SNI map; the proxy compares the handshake's and the route's.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use regex_automata::meta::{self, Regex};

use crate::model::ObjectKey;
use crate::tls::ClientCa;

/// `auth-tls-verify-client`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VerifyClient {
    /// A certificate is required and must verify (else 400).
    #[default]
    On,
    /// No certificate is asked for; upstream headers say `NONE`.
    Off,
    /// A certificate may be sent; if sent it must verify (else 400).
    Optional,
    /// A certificate may be sent and is never refused; the verdict goes upstream.
    OptionalNoCa,
}

impl VerifyClient {
    /// The value as nginx's `ssl_verify_client` spells it; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "on" => Some(Self::On),
            "off" => Some(Self::Off),
            "optional" => Some(Self::Optional),
            "optional_no_ca" => Some(Self::OptionalNoCa),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Off => "off",
            Self::Optional => "optional",
            Self::OptionalNoCa => "optional_no_ca",
        }
    }

    /// Whether the handshake sends a CertificateRequest.
    pub fn requests_certificate(self) -> bool {
        self != Self::Off
    }
}

/// The client-certificate policy of a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAuth {
    /// The Secret `ca` came from, for messages.
    pub secret: ObjectKey,
    pub ca: Arc<ClientCa>,
    pub verify: VerifyClient,
    /// Certificates between the client's and a root, plus one: 1 means issued by a root.
    pub depth: u32,
    /// `auth-tls-error-page`: a failed verification answers 302 here instead of 400.
    pub error_page: Option<HeaderValue>,
    /// `auth-tls-pass-certificate-to-upstream`.
    pub pass_certificate: bool,
    /// `auth-tls-match-cn`.
    pub match_cn: Option<MatchCn>,
}

/// By everything but the CA (equal values have equal hashes; routes hash their options).
impl std::hash::Hash for ClientAuth {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.secret.hash(state);
        self.verify.hash(state);
        self.depth.hash(state);
        self.error_page.hash(state);
        self.pass_certificate.hash(state);
        self.match_cn.as_ref().map(MatchCn::as_str).hash(state);
    }
}

/// Largest compiled `auth-tls-match-cn` automaton; far above any realistic alternation of
/// names, small enough that a hostile value cannot make a large table.
const MATCH_CN_NFA_LIMIT: usize = 1 << 20;

/// `auth-tls-match-cn`: `CN=` and a regular expression, searched (unanchored, case-sensitive,
/// as nginx's `!~`) in the client's subject DN written as RFC 2253 (`CN=client,O=Org`).
/// The whole value, `CN=` included, is the pattern, as in the nginx template. Compiled by the
/// regex crate's engine: linear time on any input; PCRE-only syntax is refused.
#[derive(Clone)]
pub struct MatchCn {
    source: Box<str>,
    regex: Regex,
}

/// Why an `auth-tls-match-cn` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatchCnError {
    #[error("does not start with CN=")]
    MissingPrefix,
    #[error("is not a regular expression Strait compiles: {0}")]
    Regex(String),
}

impl MatchCn {
    pub fn parse(value: &str) -> Result<Self, MatchCnError> {
        if !value.starts_with("CN=") {
            return Err(MatchCnError::MissingPrefix);
        }
        let regex = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .nfa_size_limit(Some(MATCH_CN_NFA_LIMIT))
                    .dfa_size_limit(Some(MATCH_CN_NFA_LIMIT)),
            )
            .build(value)
            .map_err(|e| MatchCnError::Regex(e.to_string()))?;
        Ok(Self {
            source: value.into(),
            regex,
        })
    }

    /// Whether the subject DN (RFC 2253) matches.
    pub fn matches(&self, subject_dn: &str) -> bool {
        self.regex.is_match(subject_dn)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for MatchCn {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for MatchCn {}

impl fmt::Debug for MatchCn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MatchCn").field(&self.source).finish()
    }
}

/// `auth-tls-error-page` as ingress-nginx validates it: an `http(s)://` URL or an absolute
/// path, of letters, digits and `-._/:`. (nginx's internal `@location` form has no equivalent
/// here and is refused.) The value becomes a `Location` header.
pub fn parse_error_page(value: &str) -> Option<HeaderValue> {
    let value = value.trim();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-._/:".contains(c);
    let valid = match rest {
        Some(rest) => !rest.is_empty() && !rest.starts_with('/') && rest.chars().all(ok_char),
        None => value.starts_with('/') && value.chars().all(ok_char),
    };
    if !valid || value.contains("//") && rest.is_none() {
        return None;
    }
    HeaderValue::from_str(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ingress-nginx e2e `authtls.go`, "should return 200 using auth-tls-match-cn where
    /// atleast one of the regex options matches CN from client": alternatives are searched in
    /// the DN.
    #[test]
    fn match_cn_searches_the_subject_dn() {
        let m = MatchCn::parse("CN=(itwillmatch|withthenextoption|authtls)").unwrap();
        assert!(m.matches("CN=authtls,O=Example"));
        assert!(m.matches("O=Example,CN=authtls"));
        assert!(!m.matches("CN=other,O=Example"));
        let exact = MatchCn::parse("CN=notgonnamatch").unwrap();
        assert!(!exact.matches("CN=authtls"));
        // Case-sensitive, as nginx's `!~`.
        assert!(!MatchCn::parse("CN=AuthTLS").unwrap().matches("CN=authtls"));
    }

    /// annotations.md, "Client Certificate Authentication": the value starts with `CN=`.
    #[test]
    fn match_cn_refuses_other_values() {
        assert_eq!(
            MatchCn::parse("authtls").unwrap_err(),
            MatchCnError::MissingPrefix
        );
        assert!(matches!(
            MatchCn::parse("CN=(unclosed"),
            Err(MatchCnError::Regex(_))
        ));
        // Look-around is PCRE only: refused, never approximated.
        assert!(matches!(
            MatchCn::parse("CN=(?!x)"),
            Err(MatchCnError::Regex(_))
        ));
    }

    #[test]
    fn verify_client_values() {
        for v in ["on", "off", "optional", "optional_no_ca"] {
            assert_eq!(VerifyClient::parse(v).unwrap().as_str(), v);
        }
        assert_eq!(VerifyClient::parse("ON"), None);
        assert_eq!(VerifyClient::parse("maybe"), None);
        assert!(!VerifyClient::Off.requests_certificate());
    }

    /// ingress-nginx's `redirectRegex` for `auth-tls-error-page`.
    #[test]
    fn error_page_values() {
        assert!(parse_error_page("http://example.com/error").is_some());
        assert!(parse_error_page("https://example.com:8443/e/x.html").is_some());
        assert!(parse_error_page("/error").is_some());
        assert!(parse_error_page("@named").is_none());
        assert!(parse_error_page("http://ex ample.com").is_none());
        assert!(parse_error_page("javascript:alert(1)").is_none());
        assert!(parse_error_page("//evil.example").is_none());
        assert!(parse_error_page("http://").is_none());
    }

    /// Any input: parsing never panics, and what it accepts is a valid header value.
    #[test]
    fn parsers_take_any_input() {
        bolero::check!().with_type::<String>().for_each(|s| {
            let _ = MatchCn::parse(s).map(|m| m.matches(s));
            let _ = parse_error_page(s);
            let _ = VerifyClient::parse(s);
        });
    }
}
