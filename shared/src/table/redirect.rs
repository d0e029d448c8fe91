//! Redirects an Ingress asks for (docs/architecture.md, "Redirects"): `permanent-redirect` and
//! `temporal-redirect` with their codes, and how the HTTPS redirect writes its `Location`
//! (`preserve-trailing-slash`, `use-port-in-redirects`).
//!
//! A redirect target is checked as ingress-nginx's `redirect` parser checks it: a URL of the
//! characters its validator allows (letters, digits, `-._~/:,?&=`), with an `http` or `https`
//! scheme and a host. No `$`, so nothing in it is ever read as a variable or a template; the
//! proxy sends it as `Location` byte for byte.

/// `permanent-redirect`'s code when `permanent-redirect-code` is absent or out of range.
pub const DEFAULT_PERMANENT_CODE: u16 = 301;
/// `temporal-redirect`'s code when `temporal-redirect-code` is absent or out of range.
pub const DEFAULT_TEMPORAL_CODE: u16 = 302;

/// Answer every request of the route with `code` and `Location: location`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Redirect {
    pub location: Box<str>,
    pub code: u16,
    /// `relative-redirects: "true"` (nginx `absolute_redirect off`): a `location` that is a
    /// path is sent as written. Otherwise the proxy makes it absolute with the request's
    /// scheme and host, as nginx does (relativeredirects.go).
    pub relative: bool,
    /// `Location` ready to send when `location` goes out as written (a URL, or a path with
    /// `relative`), built once with the table; `None` when the proxy makes it absolute.
    pub sent: Option<http::HeaderValue>,
}

impl Redirect {
    pub fn new(location: Box<str>, code: u16, relative: bool) -> Self {
        let as_written = relative || !location.starts_with('/');
        // `location` passed the URL validator: every character is valid in a header.
        let sent = as_written
            .then(|| http::HeaderValue::from_str(&location).ok())
            .flatten();
        Self {
            location,
            code,
            relative,
            sent,
        }
    }
}

/// Why a redirect target was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectError {
    /// A character outside ingress-nginx's URL validator's set.
    Character(char),
    /// Not `http://` or `https://` followed by a host.
    NotHttpUrl,
}

impl std::fmt::Display for RedirectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Character(c) => write!(f, "has {c:?}, which a redirect URL may not contain"),
            Self::NotHttpUrl => f.write_str("is not an http:// or https:// URL with a host"),
        }
    }
}

/// The characters ingress-nginx's `URLIsValidRegex` accepts.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~/:,?&=".contains(c)
}

/// A redirect target, checked (see the module doc).
pub fn parse_redirect_url(value: &str) -> Result<Box<str>, RedirectError> {
    let value = value.trim();
    if let Some(c) = value.chars().find(|&c| !allowed(c)) {
        return Err(RedirectError::Character(c));
    }
    // Go's `url.Parse` lowercases the scheme before ingress-nginx checks it.
    let scheme_len = ["https://", "http://"]
        .iter()
        .find(|s| {
            value
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        })
        .map(|s| s.len())
        .ok_or(RedirectError::NotHttpUrl)?;
    let rest = &value[scheme_len..];
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() {
        return Err(RedirectError::NotHttpUrl);
    }
    Ok(value.into())
}

/// A `permanent-redirect` target: a URL as [`parse_redirect_url`] accepts it, or a path
/// (`/` then the same characters), which ingress-nginx accepts there (it checks the scheme of
/// `temporal-redirect` only; relativeredirects.go redirects to `/new-location`).
pub fn parse_redirect_target(value: &str) -> Result<Box<str>, RedirectError> {
    let trimmed = value.trim();
    if trimmed.starts_with('/') && !trimmed.starts_with("//") {
        return match trimmed.chars().find(|&c| !allowed(c)) {
            Some(c) => Err(RedirectError::Character(c)),
            None => Ok(trimmed.into()),
        };
    }
    parse_redirect_url(value)
}

/// The code of a redirect: `value` when it is an integer in `range`, else `default`
/// (ingress-nginx's rule: 300–308 permanent, 300–307 temporal). `Err` when `value` is not an
/// integer at all, for the caller to report.
pub fn redirect_code(
    value: Option<&str>,
    range: std::ops::RangeInclusive<u16>,
    default: u16,
) -> Result<u16, u16> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<i64>() {
        Ok(code) => Ok(u16::try_from(code)
            .ok()
            .filter(|c| range.contains(c))
            .unwrap_or(default)),
        Err(_) => Err(default),
    }
}

/// How the HTTPS redirect of a route writes its `Location`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpsRedirectStyle {
    /// `preserve-trailing-slash: "true"`: keep a trailing `/` of the request target, which
    /// ingress-nginx otherwise drops (`/dir/` → `/dir`, `/` → nothing).
    pub preserve_trailing_slash: bool,
    /// `use-port-in-redirects: "true"`: always name the port, 443 included.
    pub port_in_redirect: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// redirect.go "should respond with a standard redirect code": `http://redirect.example.com`.
    #[test]
    fn urls_ingress_nginx_accepts_are_kept_byte_for_byte() {
        for url in [
            "http://redirect.example.com",
            "https://www.google.com",
            "https://new.example:8443/path/to?a=1&b=2",
            "HTTPS://Upper.Example/X",
        ] {
            assert_eq!(parse_redirect_url(url).as_deref(), Ok(url), "{url}");
        }
    }

    #[test]
    fn variables_spaces_and_other_schemes_are_refused() {
        let cases = [
            (
                "https://new.example$request_uri",
                RedirectError::Character('$'),
            ),
            ("https://a.example/ x", RedirectError::Character(' ')),
            ("https://a.example/\";", RedirectError::Character('"')),
            ("ftp://a.example/", RedirectError::NotHttpUrl),
            ("/relative/path", RedirectError::NotHttpUrl),
            ("https://", RedirectError::NotHttpUrl),
            ("https://:8080/x", RedirectError::NotHttpUrl),
        ];
        for (url, error) in cases {
            assert_eq!(parse_redirect_url(url), Err(error), "{url}");
        }
    }

    /// redirect.go: a code outside 300–308 (permanent) or 300–307 (temporal) falls back.
    #[test]
    fn codes_out_of_range_fall_back_and_garbage_is_reported() {
        let permanent = 300..=308;
        assert_eq!(redirect_code(None, permanent.clone(), 301), Ok(301));
        assert_eq!(redirect_code(Some("308"), permanent.clone(), 301), Ok(308));
        assert_eq!(
            redirect_code(Some(" 302 "), permanent.clone(), 301),
            Ok(302)
        );
        assert_eq!(redirect_code(Some("200"), permanent.clone(), 301), Ok(301));
        assert_eq!(
            redirect_code(Some("70000"), permanent.clone(), 301),
            Ok(301)
        );
        assert_eq!(redirect_code(Some("-1"), permanent.clone(), 301), Ok(301));
        assert_eq!(redirect_code(Some("abc"), permanent, 301), Err(301));
        assert_eq!(redirect_code(Some("308"), 300..=307, 302), Ok(302));
    }

    /// relativeredirects.go: `permanent-redirect: /new-location`; a protocol-relative `//x`
    /// is not a path.
    #[test]
    fn a_permanent_redirect_may_be_a_path() {
        assert_eq!(
            parse_redirect_target("/new-location").as_deref(),
            Ok("/new-location")
        );
        assert!(parse_redirect_target("//evil.example/x").is_err());
        assert!(parse_redirect_target("/a b").is_err());
        bolero::check!().with_type::<String>().for_each(|s| {
            if let Ok(t) = parse_redirect_target(s) {
                assert!(t.chars().all(allowed) && !t.starts_with("//"));
            }
        });
    }

    #[test]
    fn parse_never_panics_and_accepts_only_allowed_characters() {
        bolero::check!().with_type::<String>().for_each(|s| {
            if let Ok(url) = parse_redirect_url(s) {
                assert!(url.chars().all(allowed));
                let lower = url.to_ascii_lowercase();
                assert!(lower.starts_with("http://") || lower.starts_with("https://"));
            }
        });
    }
}
