//! External auth of a route (`auth-url` and its siblings, or the global `--global-auth-*`
//! flags), parsed when the table is built (docs/architecture.md, "External auth").
//!
//! Before a request is forwarded the proxy sends a subrequest without a body to the auth
//! URL; a 2xx lets the request through, 401 and 403 are answered to the client, anything
//! else is a 500 (fail closed). What ingress-nginx's `internal/ingress/annotations/authreq`
//! accepts is accepted here, checked the same way, and held as typed values: the URL split
//! into scheme, host, port and a path [`Template`], the method, header names, the sign-in
//! redirect and the cache settings. Nothing is kept as text that anything interprets.
//!
//! The headers of `auth-proxy-set-headers` come from a ConfigMap, read when it is decoded
//! ([`set_headers`]), and are attached by the compile, which resolves the reference.

mod cache;
pub mod set_headers;
mod template;
mod url;

pub use cache::{
    CacheStatuses, CacheValid, DEFAULT_CACHE_DURATION, DurationError, parse_cache_durations,
    ttl_for,
};
pub use set_headers::{
    AUTH_PROXY_SET_HEADERS, HeaderData, SetHeader, SetHeaders, SetHeadersError, SetValue,
    config_map_ref,
};
pub use template::{KNOWN, Part, Template, TemplateError, Values, Variable, escape_component};
pub use url::{
    AuthHost, AuthUrl, DEFAULT_REDIRECT_PARAM, Signin, UrlError, parse_auth_url, parse_signin,
    valid_redirect_param, valid_request_redirect,
};

use std::sync::Arc;

use crate::annotations::parse_bool;

/// External auth of a route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternalAuth {
    pub url: AuthUrl,
    /// The subrequest's method (`auth-method`); `None`: `GET`, and no `X-Original-URI` /
    /// `X-Scheme` headers (ingress-nginx adds those only with a method).
    pub method: Option<&'static str>,
    /// Where a 401 is redirected (`auth-signin`), with the original URL as a parameter.
    pub signin: Option<Signin>,
    /// Headers copied from a 2xx auth answer to the upstream request, lowercase
    /// (`auth-response-headers`). A listed header the answer lacks is removed from the
    /// request, so a client cannot send it itself.
    pub response_headers: Box<[Box<str>]>,
    /// `X-Auth-Request-Redirect` of the subrequest (`auth-request-redirect`); `None`: the
    /// request's own target.
    pub request_redirect: Option<Box<str>>,
    /// The auth answer's `Set-Cookie` reaches the client whatever the response status
    /// (`auth-always-set-cookie`); otherwise only with 200, 201, 204, 206, 301, 302, 303,
    /// 304, 307 and 308, as nginx's `add_header` without `always`.
    pub always_set_cookie: bool,
    /// Answers cached per worker (`auth-cache-key`, `auth-cache-duration`).
    pub cache: Option<AuthCache>,
    /// Headers set on the subrequest (`auth-proxy-set-headers`: a ConfigMap's data), after
    /// the client's and the subrequest's own; shared with the index, not copied per Ingress.
    /// `None`: none (and never for the global auth, which has no such setting).
    pub proxy_set_headers: Option<Arc<SetHeaders>>,
}

/// The auth cache of a route: answers are kept per evaluated key, within the route's own
/// keyspace (ingress-nginx: "each server and location has its own keyspace").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthCache {
    pub key: Template,
    pub valid: Box<[CacheValid]>,
}

/// The external-auth values of an Ingress (its annotations) or of the global flags, as
/// written; `None`: not set.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuthValues<'a> {
    pub url: &'a str,
    pub method: Option<&'a str>,
    pub signin: Option<&'a str>,
    pub signin_redirect_param: Option<&'a str>,
    pub response_headers: Option<&'a str>,
    pub request_redirect: Option<&'a str>,
    pub always_set_cookie: Option<&'a str>,
    pub cache_key: Option<&'a str>,
    pub cache_duration: Option<&'a str>,
}

/// A value that refuses the routes (`key` is the annotation name without its prefix).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct AuthError {
    pub key: &'static str,
    pub problem: String,
}

/// A value that is ignored, as ingress-nginx ignores it, with what applies instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthWarning {
    pub key: &'static str,
    pub problem: String,
}

/// The methods ingress-nginx accepts in `auth-method` (its `methodsRegex`, case-sensitive).
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

impl ExternalAuth {
    /// Parses the values of one Ingress or of the global flags. `Err`: the routes are
    /// refused (the value is invalid, or ingress-nginx would not apply auth as written and
    /// Strait will not serve the routes open instead). Warnings name values that are ignored,
    /// as ingress-nginx ignores them, without loosening anything.
    pub fn parse(values: &AuthValues<'_>) -> Result<(Self, Vec<AuthWarning>), AuthError> {
        let mut warnings = Vec::new();
        let url = parse_auth_url(values.url).map_err(|e| {
            let shown: String = values.url.chars().take(128).collect();
            error("auth-url", format!("{shown:?} {e}"))
        })?;
        let response_headers = match values.response_headers {
            None => Box::default(),
            Some(list) => parse_header_list(list).map_err(|h| {
                error(
                    "auth-response-headers",
                    format!("{h:?} is not a header name"),
                )
            })?,
        };
        let always_set_cookie = match values.always_set_cookie {
            None => false,
            Some(v) => parse_bool(v).ok_or_else(|| {
                error(
                    "auth-always-set-cookie",
                    format!("{v:?} is not true or false"),
                )
            })?,
        };
        let auth = Self {
            url,
            method: method(values.method)?,
            signin: signin(values, &mut warnings),
            response_headers,
            request_redirect: request_redirect(values.request_redirect)?,
            always_set_cookie,
            cache: cache(values, &mut warnings)?,
            proxy_set_headers: None,
        };
        Ok((auth, warnings))
    }
}

fn error(key: &'static str, problem: String) -> AuthError {
    AuthError { key, problem }
}

fn warn(warnings: &mut Vec<AuthWarning>, key: &'static str, problem: String) {
    warnings.push(AuthWarning { key, problem });
}

/// `auth-method`: one of [`METHODS`], exactly.
fn method(value: Option<&str>) -> Result<Option<&'static str>, AuthError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(m) => METHODS
            .iter()
            .find(|known| **known == m)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                error(
                    "auth-method",
                    format!("{m:?} is not one of {}", METHODS.join(", ")),
                )
            }),
    }
}

/// `auth-signin` with `auth-signin-redirect-param`; an invalid one is left out, as
/// ingress-nginx leaves it out (a 401 stays a 401), with a warning.
fn signin(values: &AuthValues<'_>, warnings: &mut Vec<AuthWarning>) -> Option<Signin> {
    let param = match values.signin_redirect_param.map(str::trim) {
        None | Some("") => None,
        Some(p) if valid_redirect_param(p) => Some(p),
        Some(p) => {
            let problem = format!("{p:?} is not a query parameter name; `rd` applies");
            warn(warnings, "auth-signin-redirect-param", problem);
            None
        }
    };
    match values.signin.map(str::trim) {
        None | Some("") => None,
        Some(s) => match parse_signin(s, param) {
            Ok(signin) => Some(signin),
            Err(e) => {
                let problem = format!("{e}; a 401 is answered without a redirect");
                warn(warnings, "auth-signin", problem);
                None
            }
        },
    }
}

/// `auth-request-redirect`: sent as a header, so plain URL characters only.
fn request_redirect(value: Option<&str>) -> Result<Option<Box<str>>, AuthError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) if valid_request_redirect(r) => Ok(Some(r.into())),
        Some(r) => Err(error(
            "auth-request-redirect",
            format!("{r:?} has characters other than letters, digits and -._~/:,?&="),
        )),
    }
}

/// `auth-cache-key` and `auth-cache-duration`: a bad duration refuses (ingress-nginx denies
/// the location), a bad key turns caching off with a warning (ingress-nginx leaves it out).
fn cache(
    values: &AuthValues<'_>,
    warnings: &mut Vec<AuthWarning>,
) -> Result<Option<AuthCache>, AuthError> {
    let valid = parse_cache_durations(values.cache_duration.unwrap_or(""))
        .map_err(|e| error("auth-cache-duration", e.to_string()))?;
    Ok(match values.cache_key.map(parse_cache_key) {
        None => None,
        Some(Ok(key)) if key.is_empty() => None,
        Some(Ok(key)) => Some(AuthCache { key, valid }),
        Some(Err(problem)) => {
            warn(
                warnings,
                "auth-cache-key",
                format!("{problem}; answers are not cached"),
            );
            None
        }
    })
}

/// `auth-response-headers`: comma-separated names of letters, digits, `-` and `_`
/// (ingress-nginx's `headerRegexp`), lowercase; `Err` carries the first bad entry.
pub fn parse_header_list(list: &str) -> Result<Box<[Box<str>]>, String> {
    let mut names: Vec<Box<str>> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(name.chars().take(64).collect());
        }
        let name: Box<str> = name.to_ascii_lowercase().into();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names.into())
}

/// `auth-cache-key`: ingress-nginx's `NGINXVariable` characters (letters, digits, `-_${}`;
/// spaces dropped, as its validator drops them) and known variables only.
pub fn parse_cache_key(value: &str) -> Result<Template, String> {
    let value: String = value.chars().filter(|c| *c != ' ').collect();
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_${}".contains(*c)))
    {
        return Err(format!("{bad:?} is not allowed in a cache key"));
    }
    Template::parse(&value).map_err(|e| e.to_string())
}

/// How a route combines its access controls (`satisfy`, nginx's directive of that name).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Satisfy {
    /// Every configured control must pass: source lists, basic auth, external auth.
    #[default]
    All,
    /// One passing control is enough.
    Any,
}

#[cfg(test)]
mod tests;
