//! `upstream-hash-by`: the request value a route's endpoint is chosen by (docs/architecture.md,
//! "Session affinity and consistent hashing"), ingress-nginx's `chash` / `chashsubset`.
//!
//! The value is nginx text: literal characters and variables (`$name` or `${name}`), all
//! evaluated per request and hashed together. ingress-nginx's validator allows only letters,
//! digits, `-`, `_`, `$`, `{` and `}`. The variables Strait evaluates are those seen in
//! practice: `$request_uri`, `$uri`, `$host`, `$remote_addr`, `$binary_remote_addr`,
//! `$scheme`, `$http_<name>`, `$cookie_<name>` and `$arg_<name>`. Any other variable is an
//! error (nginx would hash it as an empty string, sending every request to one endpoint).

use std::fmt;
use std::net::IpAddr;

use http::{HeaderMap, Uri};
use xxhash_rust::xxh3::Xxh3;

/// One piece of the hashed value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Literal(Box<str>),
    Var(Var),
}

/// A variable the proxy evaluates per request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    /// The request target as received (path and query).
    RequestUri,
    /// The request path as received (nginx's is decoded and normalised).
    Uri,
    /// The request's host, lowercase, without port.
    Host,
    /// The client address as text (trusted proxies and PROXY protocol applied).
    RemoteAddr,
    /// The client address as bytes (4 or 16).
    BinaryRemoteAddr,
    /// `http` or `https`.
    Scheme,
    /// A request header (`_` read as `-`), lowercase; several values joined by `, `.
    Header(http::HeaderName),
    /// A request cookie's value.
    Cookie(Box<str>),
    /// A query argument's value, as received.
    Arg(Box<str>),
}

/// An `upstream-hash-by` value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HashBy {
    pub parts: Box<[Part]>,
}

/// A route's consistent hashing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hashing {
    pub by: HashBy,
    /// `upstream-hash-by-subset-size` when `upstream-hash-by-subset` is on: the key picks a
    /// subset of this many endpoints, and a random one of them serves.
    pub subset: Option<u32>,
}

/// ingress-nginx's default `upstream-hash-by-subset-size`.
pub const DEFAULT_SUBSET_SIZE: u32 = 3;

/// Why an `upstream-hash-by` value is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashByError {
    Empty,
    /// A character ingress-nginx's validator refuses.
    Character(char),
    /// `${` without `}`, or `$` with no name.
    Syntax,
    /// A variable Strait does not evaluate.
    Unknown(String),
}

impl fmt::Display for HashByError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::Character(c) => write!(
                f,
                "has {c:?}, which ingress-nginx does not accept (letters, digits, -, _, $, {{, }})"
            ),
            Self::Syntax => f.write_str("has a `$` without a variable name or an unclosed `${`"),
            Self::Unknown(name) => write!(
                f,
                "uses ${name}, which Strait does not evaluate (request_uri, uri, host, remote_addr, binary_remote_addr, scheme, http_*, cookie_*, arg_*)"
            ),
        }
    }
}

impl HashBy {
    pub fn parse(value: &str) -> Result<Self, HashByError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(HashByError::Empty);
        }
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_${}".contains(*c)))
        {
            return Err(HashByError::Character(c));
        }
        let mut parts = Vec::new();
        let mut rest = value;
        while !rest.is_empty() {
            let Some(at) = rest.find('$') else {
                parts.push(Part::Literal(rest.into()));
                break;
            };
            if at > 0 {
                parts.push(Part::Literal(rest[..at].into()));
            }
            rest = &rest[at + 1..];
            let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
                let end = braced.find('}').ok_or(HashByError::Syntax)?;
                (&braced[..end], &braced[end + 1..])
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            if name.is_empty() {
                return Err(HashByError::Syntax);
            }
            parts.push(Part::Var(Var::parse(name)?));
            rest = after;
        }
        Ok(Self {
            parts: parts.into(),
        })
    }
}

impl Var {
    fn parse(name: &str) -> Result<Self, HashByError> {
        let unknown = || HashByError::Unknown(name.to_owned());
        let named = |prefix: &str| name.strip_prefix(prefix).filter(|n| !n.is_empty());
        Ok(match name {
            "request_uri" => Self::RequestUri,
            "uri" | "document_uri" => Self::Uri,
            "host" => Self::Host,
            "remote_addr" => Self::RemoteAddr,
            "binary_remote_addr" => Self::BinaryRemoteAddr,
            "scheme" => Self::Scheme,
            _ => {
                if let Some(header) = named("http_") {
                    let header = header.replace('_', "-").to_ascii_lowercase();
                    Self::Header(
                        http::HeaderName::from_bytes(header.as_bytes()).map_err(|_| unknown())?,
                    )
                } else if let Some(cookie) = named("cookie_") {
                    Self::Cookie(cookie.into())
                } else if let Some(arg) = named("arg_") {
                    Self::Arg(arg.into())
                } else {
                    return Err(unknown());
                }
            }
        })
    }
}

/// What a key is evaluated from: the request as received.
#[derive(Clone, Copy, Debug)]
pub struct KeyRequest<'r> {
    pub uri: &'r Uri,
    pub headers: &'r HeaderMap,
    /// The request's host as received (`Host` or `:authority`); port and case are dropped.
    pub host: &'r str,
    /// The client address (trusted proxies and PROXY protocol applied).
    pub client: IpAddr,
    pub https: bool,
}

impl HashBy {
    /// The 64-bit hash of the evaluated value: the pieces are fed to one XXH3 state in
    /// order, so it equals the hash of their concatenation, and nothing is allocated. A
    /// variable with no value (a missing header) adds nothing, as in nginx.
    pub fn hash(&self, request: &KeyRequest<'_>) -> u64 {
        let mut h = Xxh3::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => h.update(text.as_bytes()),
                Part::Var(var) => var.feed(request, &mut h),
            }
        }
        h.digest()
    }
}

impl Var {
    fn feed(&self, r: &KeyRequest<'_>, h: &mut Xxh3) {
        match self {
            Self::RequestUri => {
                let target = r.uri.path_and_query().map_or("/", |pq| pq.as_str());
                h.update(target.as_bytes());
            }
            Self::Uri => h.update(r.uri.path().as_bytes()),
            Self::Host => h.update(crate::host::normalise_request_host(r.host).as_bytes()),
            Self::RemoteAddr => {
                let mut buf = [0u8; 64];
                let mut cursor = std::io::Cursor::new(&mut buf[..]);
                // An IPv6 address is at most 45 characters: always fits.
                let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{}", r.client));
                let len = usize::try_from(cursor.position()).unwrap_or(0);
                h.update(&buf[..len]);
            }
            Self::BinaryRemoteAddr => match r.client {
                IpAddr::V4(v4) => h.update(&v4.octets()),
                IpAddr::V6(v6) => h.update(&v6.octets()),
            },
            Self::Scheme => h.update(if r.https { b"https" } else { b"http" }),
            Self::Header(name) => {
                for (i, value) in r.headers.get_all(name).iter().enumerate() {
                    if i > 0 {
                        h.update(b", ");
                    }
                    h.update(value.as_bytes());
                }
            }
            Self::Cookie(name) => {
                if let Some(value) = super::canary::cookie(r.headers, name) {
                    h.update(value);
                }
            }
            Self::Arg(name) => {
                if let Some(value) = arg(r.uri.query().unwrap_or(""), name) {
                    h.update(value.as_bytes());
                }
            }
        }
    }
}

/// The first value of query argument `name` (case ignored, as nginx's `$arg_<name>`), as
/// received.
fn arg<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// `upstream-hash-by-subset-size`: a whole number from 1 (ingress-nginx takes any integer;
/// 0 or less would divide by zero in its balancer).
pub fn parse_subset_size(value: &str) -> Option<u32> {
    value.trim().parse::<u32>().ok().filter(|n| *n > 0)
}

#[cfg(test)]
#[path = "hash_by/tests.rs"]
mod tests;
