//! The URLs of external auth: `auth-url` (where the subrequest goes) and `auth-signin` (where
//! a 401 is redirected), checked as ingress-nginx checks them and split into typed parts.
//!
//! ingress-nginx accepts these values when they match its `URLWithNginxVariableRegex`
//! (letters, digits, `-._~/:,?&=$`; `parser/validators.go`) and Go's `url.Parse`, with a
//! scheme and a host that holds no `..` (`parser.StringToURL`). The same characters are
//! accepted here (so no `%`, `@`, `#`, `[` or spaces), the scheme must be `http` or `https`
//! (the only ones nginx's `proxy_pass` speaks), and the host is one of:
//!
//! - an IPv4 address;
//! - a DNS name, resolved by the proxy with the system resolver (an in-cluster
//!   `svc.ns.svc.cluster.local` name included);
//! - `$host`, `$http_host` or `$best_http_host` alone: the request's own host, which Strait
//!   routes through its own table instead of going out through the load balancer and back.
//!
//! Path and query may hold variables ([`Template`]).

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::template::{Part, Template, TemplateError, Variable};

/// Where the auth subrequest goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthUrl {
    /// `https`: TLS to the auth service (SNI is the host; the certificate is not verified,
    /// as nginx's `proxy_ssl_verify` defaults to off).
    pub tls: bool,
    pub host: AuthHost,
    /// The URL's port, else 80 or 443.
    pub port: u16,
    /// Path and query, `/` when the URL has none.
    pub target: Template,
    /// The URL as written (logs, diagnostics and the auth cache's keyspace).
    pub text: Arc<str>,
}

/// The host of an [`AuthUrl`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuthHost {
    /// An IPv4 address, and its text.
    Ip(Ipv4Addr, Arc<str>),
    /// A DNS name, lowercase, without a trailing dot.
    Name(Arc<str>),
    /// The request's own host (`$host`): routed through the table.
    Request,
}

impl AuthHost {
    /// The host as text, without a port: the subrequest's `Host` header (as ingress-nginx
    /// sends it, `proxy_set_header Host <url host>`), the TLS server name and what DNS
    /// resolves; `None` for the request's own host.
    pub fn name(&self) -> Option<&Arc<str>> {
        match self {
            Self::Ip(_, text) | Self::Name(text) => Some(text),
            Self::Request => None,
        }
    }
}

/// Why an auth URL does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is empty")]
    Empty,
    #[error(
        "has a character ingress-nginx does not accept in a URL (only letters, digits and -._~/:,?&=$)"
    )]
    Character,
    #[error("is not an absolute http:// or https:// URL")]
    Scheme,
    #[error("has no host")]
    NoHost,
    #[error("has an invalid host")]
    Host,
    #[error("has a port that is not 1-65535")]
    Port,
    #[error(
        "has variables in its host: only `$host` (or `$http_host`, `$best_http_host`) alone is supported"
    )]
    VariableHost,
    #[error("{0}")]
    Template(#[from] TemplateError),
}

/// ingress-nginx's `URLWithNginxVariableRegex`, without the spaces it also lets through.
fn url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~/:,?&=$".contains(&b)
}

/// Parses `auth-url`.
pub fn parse_auth_url(value: &str) -> Result<AuthUrl, UrlError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(UrlError::Empty);
    }
    if !value.bytes().all(url_byte) {
        return Err(UrlError::Character);
    }
    let (tls, rest) = split_scheme(value).ok_or(UrlError::Scheme)?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    if authority.is_empty() {
        return Err(UrlError::NoHost);
    }
    if authority.contains("..") {
        return Err(UrlError::Host);
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port = match port {
        None => {
            if tls {
                443
            } else {
                80
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 && p.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => return Err(UrlError::Port),
        },
    };
    let host = parse_host(host)?;
    let target = match target {
        "" => Template::parse("/")?,
        t if t.starts_with('?') => Template::parse(&format!("/{t}"))?,
        t => Template::parse(t)?,
    };
    Ok(AuthUrl {
        tls,
        host,
        port,
        target,
        text: value.into(),
    })
}

/// `http://` or `https://`, in any case: whether it is TLS, and the rest.
fn split_scheme(value: &str) -> Option<(bool, &str)> {
    let (scheme, rest) = value.split_once("://")?;
    if scheme.eq_ignore_ascii_case("https") {
        Some((true, rest))
    } else if scheme.eq_ignore_ascii_case("http") {
        Some((false, rest))
    } else {
        None
    }
}

fn parse_host(host: &str) -> Result<AuthHost, UrlError> {
    if host.contains('$') {
        let template = Template::parse(host)?;
        return match template.parts() {
            [Part::Var(Variable::Host | Variable::HttpHost)] => Ok(AuthHost::Request),
            _ => Err(UrlError::VariableHost),
        };
    }
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host
            .parse::<Ipv4Addr>()
            .map(|ip| AuthHost::Ip(ip, ip.to_string().into()))
            .map_err(|_| UrlError::Host);
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(UrlError::Host);
    }
    Ok(AuthHost::Name(name.to_ascii_lowercase().into()))
}

/// Where a 401 is redirected (`auth-signin`), and how the original URL is added.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signin {
    /// The URL, with variables.
    pub url: Template,
    /// The query parameter that gets the original URL (`auth-signin-redirect-param`, default
    /// `rd`), with the separator to add it with (`?` or `&`); `None` when the URL already sets
    /// that parameter itself (ingress-nginx's `buildAuthSignURL`).
    pub redirect: Option<(u8, Box<str>)>,
}

/// The default `auth-signin-redirect-param`.
pub const DEFAULT_REDIRECT_PARAM: &str = "rd";

/// Parses `auth-signin` (an absolute http(s) URL or a path; variables allowed) with its
/// redirect parameter (`None`: `rd`).
pub fn parse_signin(value: &str, param: Option<&str>) -> Result<Signin, UrlError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(UrlError::Empty);
    }
    if !value.bytes().all(url_byte) {
        return Err(UrlError::Character);
    }
    if !value.starts_with('/') {
        let (_, rest) = split_scheme(value).ok_or(UrlError::Scheme)?;
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if authority.is_empty() {
            return Err(UrlError::NoHost);
        }
        if authority.contains("..") {
            return Err(UrlError::Host);
        }
    }
    let url = Template::parse(value)?;
    let param = param.unwrap_or(DEFAULT_REDIRECT_PARAM);
    // Go's `url.Query()` of the URL as written: pairs split on `&`, then on the first `=`.
    let query = value.split_once('?').map_or("", |(_, q)| q);
    let pairs = || query.split('&').filter(|pair| !pair.is_empty());
    let sets_param = pairs().any(|pair| match pair.split_once('=') {
        Some((key, value)) => key == param && !value.is_empty(),
        None => false,
    });
    let redirect = if sets_param {
        None
    } else {
        let separator = if pairs().next().is_none() { b'?' } else { b'&' };
        Some((separator, param.into()))
    };
    Ok(Signin { url, redirect })
}

/// Whether `param` is usable as `auth-signin-redirect-param`: a query parameter name of
/// unreserved characters (letters, digits, `-._~`).
pub fn valid_redirect_param(param: &str) -> bool {
    !param.is_empty()
        && param
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether `value` is usable as `auth-request-redirect` (ingress-nginx's `URLIsValidRegex`:
/// letters, digits and `-._~/:,?&=`; no variables). It is sent as a header value.
pub fn valid_request_redirect(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/:,?&=".contains(&b))
}
