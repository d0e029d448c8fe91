//! Cookie session affinity of a route (`affinity: cookie` and the `session-cookie-*` keys;
//! docs/architecture.md, "Session affinity and consistent hashing"), as ingress-nginx's
//! `balancer/sticky*.lua` applies it:
//!
//! - The cookie's value is `<upstream>|<backend tag>`. `<upstream>` is, in `balanced` mode, a
//!   position on the backend's consistent-hash ring (16 hex digits: a random one for a new
//!   session), so an endpoint that joins takes its share of the sessions; in `persistent`
//!   mode, the endpoint's token (32 hex digits, a keyed hash of its address), so a session
//!   stays on its endpoint for as long as it exists. Neither carries an address.
//! - A request without the cookie, or whose `<upstream>` names no current endpoint, gets a new
//!   endpoint and a new cookie; a request whose attempt failed gets a new cookie for the
//!   endpoint that served it when `session-cookie-change-on-failure` is on.
//! - `<backend tag>` names the backend; with a canary (`affinity-canary-behavior: sticky`, the
//!   default) a request tagged for the canary's backend stays on the canary and one tagged for
//!   the main backend on the main one, whatever the canary rules would say.

/// How a session's endpoint is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// ingress-nginx's default: sessions are rebalanced when endpoints join.
    #[default]
    Balanced,
    /// A session stays on its endpoint until the endpoint leaves.
    Persistent,
}

/// The `SameSite` attribute of the cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameSite {
    None,
    Lax,
    Strict,
}

impl SameSite {
    /// `none`, `lax` or `strict`, case ignored, as ingress-nginx's validator takes them.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "lax" => Some(Self::Lax),
            "strict" => Some(Self::Strict),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Lax => "Lax",
            Self::Strict => "Strict",
        }
    }
}

/// The affinity settings of a route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Affinity {
    pub mode: Mode,
    /// `session-cookie-name`, default `INGRESSCOOKIE`.
    pub name: Box<str>,
    /// `session-cookie-path`; `None`: the rule's path (nginx's `$location_path`).
    pub path: Option<Box<str>>,
    /// `session-cookie-domain`.
    pub domain: Option<Box<str>>,
    /// `session-cookie-expires`: `Expires` this many seconds from the response.
    pub expires: Option<i64>,
    /// `session-cookie-max-age`.
    pub max_age: Option<i64>,
    /// `session-cookie-samesite`.
    pub same_site: Option<SameSite>,
    /// `session-cookie-secure`: `Secure` on plain HTTP too (HTTPS always has it).
    pub secure: bool,
    /// `session-cookie-conditional-samesite-none`: no `SameSite=None` for browsers that
    /// mishandle it.
    pub conditional_same_site_none: bool,
    /// `session-cookie-change-on-failure`.
    pub change_on_failure: bool,
}

/// ingress-nginx's default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "INGRESSCOOKIE";

impl Default for Affinity {
    fn default() -> Self {
        Self {
            mode: Mode::Balanced,
            name: DEFAULT_COOKIE_NAME.into(),
            path: None,
            domain: None,
            expires: None,
            max_age: None,
            same_site: None,
            secure: false,
            conditional_same_site_none: false,
            change_on_failure: false,
        }
    }
}

/// A cookie name: an RFC 6265 token (ingress-nginx takes letters, digits, `-`, `_`, `.`,
/// `/` and spaces; the ones a cookie name cannot hold are refused here).
pub fn parse_cookie_name(value: &str) -> Option<Box<str>> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    ok.then(|| value.into())
}

/// A cookie `Path` or `Domain` value: printable ASCII without `;`, `,` or spaces (what could
/// end the attribute or the header). `path` must start with `/`.
pub fn parse_attribute(value: &str, path: bool) -> Option<Box<str>> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 1024
        && (!path || value.starts_with('/'))
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
    ok.then(|| value.into())
}

/// `session-cookie-expires` / `-max-age`: ingress-nginx's `^0$|^-?[1-9][0-9]*$`.
pub fn parse_seconds(value: &str) -> Option<i64> {
    let value = value.trim();
    let digits = value.strip_prefix('-').unwrap_or(value);
    let canonical = value == "0"
        || (!digits.is_empty()
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()));
    canonical.then(|| value.parse().ok()).flatten()
}

/// A cookie value as read: the upstream part and the backend tag, both as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieValue<'a> {
    pub upstream: &'a [u8],
    pub tag: Option<&'a [u8]>,
}

impl<'a> CookieValue<'a> {
    /// Splits `<upstream>|<tag>` (ingress-nginx's delimiter); extra parts are ignored.
    pub fn parse(value: &'a [u8]) -> Self {
        let mut parts = value.split(|b| *b == b'|');
        let upstream = parts.next().unwrap_or_default();
        Self {
            upstream,
            tag: parts.next(),
        }
    }

    /// The upstream part as a ring position (balanced mode): 16 hex digits.
    pub fn position(&self) -> Option<u64> {
        (self.upstream.len() == 16)
            .then(|| decode_hex::<8>(self.upstream))
            .flatten()
            .map(u64::from_be_bytes)
    }

    /// The upstream part as a token (persistent mode): 32 hex digits.
    pub fn token(&self) -> Option<[u8; 16]> {
        (self.upstream.len() == 32)
            .then(|| decode_hex::<16>(self.upstream))
            .flatten()
    }

    /// Whether the tag is `tag` (hex-encoded).
    pub fn tagged(&self, tag: &[u8; 8]) -> bool {
        self.tag
            .is_some_and(|t| t.len() == 16 && decode_hex::<8>(t).as_ref() == Some(tag))
    }
}

/// `N` bytes from `2N` lowercase or uppercase hex digits.
fn decode_hex<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0; N];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Lowercase hex of `bytes`, appended to `out`.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

#[cfg(test)]
#[path = "affinity/tests.rs"]
mod tests;
