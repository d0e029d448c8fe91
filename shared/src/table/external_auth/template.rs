//! Values with nginx variables (`https://$host/oauth2/start?rd=$escaped_request_uri`,
//! `$remote_user$http_authorization`), parsed when the table is built into literal text and
//! typed [`Variable`]s from a fixed set. The proxy fills the variables per request
//! ([`Template::render`]); nothing is ever handed to an interpreter or written as
//! configuration, and a variable outside the set is an error here, not a surprise later.
//!
//! Syntax as nginx reads it: `$name` (letters, digits, `_`) or `${name}`; names are matched
//! case-insensitively, as nginx does.

use std::fmt;

/// A value with variables: literal text and variables, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Template {
    parts: Box<[Part]>,
}

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Text(Box<str>),
    Var(Variable),
}

/// The request facts a template may name (nginx's variable of the same name in brackets).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Variable {
    /// `$host`: the request's host, lowercase, without a port.
    Host,
    /// `$http_host`, `$best_http_host`: the `Host` header (or `:authority`) as received.
    HttpHost,
    /// `$scheme`, `$pass_access_scheme`: `http` or `https` as the client used it (a trusted
    /// proxy's `X-Forwarded-Proto` believed).
    Scheme,
    /// `$request_uri`: the request target (path and query) as received.
    RequestUri,
    /// `$escaped_request_uri`: the same, percent-encoded as a query value (ingress-nginx's
    /// `set_escape_uri`).
    EscapedRequestUri,
    /// `$uri`, `$document_uri`: the path, without the query.
    Uri,
    /// `$args`, `$query_string`: the query, without `?`.
    Args,
    /// `$arg_<name>`: that query argument's value, as received.
    Arg(Box<str>),
    /// `$request_method`.
    RequestMethod,
    /// `$remote_addr`: the client address (trusted proxies and PROXY protocol applied).
    RemoteAddr,
    /// `$remote_user`: the user of an `Authorization: Basic` header.
    RemoteUser,
    /// `$http_<name>`: a request header, `_` read as `-` (values of a repeated header are
    /// joined with `, `, as nginx does).
    Header(Box<str>),
    /// `$cookie_<name>`: a cookie of the `Cookie` header.
    Cookie(Box<str>),
}

/// Why a template does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`$` without a variable name")]
    EmptyName,
    #[error("`${{` without its closing `}}`")]
    Unclosed,
    #[error("unknown variable `${0}` (known: {KNOWN})")]
    Unknown(String),
}

/// The variables [`Variable`] knows, for messages.
pub const KNOWN: &str = "$host, $http_host, $best_http_host, $scheme, $pass_access_scheme, \
$request_uri, $escaped_request_uri, $uri, $document_uri, $args, $query_string, $arg_<name>, \
$request_method, $remote_addr, $remote_user, $http_<name>, $cookie_<name>";

impl Template {
    /// Parses `text`. Literal text is kept byte for byte; the caller checks its characters.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            if at > 0 {
                parts.push(Part::Text(rest[..at].into()));
            }
            let after = &rest[at + 1..];
            let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').ok_or(TemplateError::Unclosed)?;
                (&braced[..end], &braced[end + 1..])
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            parts.push(Part::Var(Variable::parse(name)?));
            rest = tail;
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.into()));
        }
        Ok(Self {
            parts: parts.into(),
        })
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The text, when the template has no variable.
    pub fn literal(&self) -> Option<&str> {
        match &*self.parts {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Writes the template to `out`, each variable's value by `values`.
    pub fn render(&self, values: &impl Values, out: &mut Vec<u8>) {
        for part in &*self.parts {
            match part {
                Part::Text(text) => out.extend_from_slice(text.as_bytes()),
                Part::Var(variable) => values.write(variable, out),
            }
        }
    }
}

/// Where [`Template::render`] takes variable values from (the proxy, per request).
pub trait Values {
    /// Appends `variable`'s value to `out` (nothing when the request has none).
    fn write(&self, variable: &Variable, out: &mut Vec<u8>);
}

impl Variable {
    /// A variable name without its `$` (and braces).
    pub fn parse(name: &str) -> Result<Self, TemplateError> {
        if name.is_empty() {
            return Err(TemplateError::EmptyName);
        }
        let lower = name.to_ascii_lowercase();
        let prefixed = |prefix: &str| {
            lower
                .strip_prefix(prefix)
                .filter(|rest| !rest.is_empty())
                .map(|_| &name[prefix.len()..])
        };
        let variable = match lower.as_str() {
            "host" => Self::Host,
            "http_host" | "best_http_host" => Self::HttpHost,
            "scheme" | "pass_access_scheme" => Self::Scheme,
            "request_uri" => Self::RequestUri,
            "escaped_request_uri" => Self::EscapedRequestUri,
            "uri" | "document_uri" => Self::Uri,
            "args" | "query_string" => Self::Args,
            "request_method" => Self::RequestMethod,
            "remote_addr" => Self::RemoteAddr,
            "remote_user" => Self::RemoteUser,
            _ => {
                if let Some(header) = prefixed("http_") {
                    Self::Header(header.to_ascii_lowercase().replace('_', "-").into())
                } else if let Some(cookie) = prefixed("cookie_") {
                    Self::Cookie(cookie.into())
                } else if let Some(arg) = prefixed("arg_") {
                    Self::Arg(arg.into())
                } else {
                    return Err(TemplateError::Unknown(name.chars().take(64).collect()));
                }
            }
        };
        Ok(variable)
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host => f.write_str("$host"),
            Self::HttpHost => f.write_str("$http_host"),
            Self::Scheme => f.write_str("$scheme"),
            Self::RequestUri => f.write_str("$request_uri"),
            Self::EscapedRequestUri => f.write_str("$escaped_request_uri"),
            Self::Uri => f.write_str("$uri"),
            Self::Args => f.write_str("$args"),
            Self::Arg(name) => write!(f, "$arg_{name}"),
            Self::RequestMethod => f.write_str("$request_method"),
            Self::RemoteAddr => f.write_str("$remote_addr"),
            Self::RemoteUser => f.write_str("$remote_user"),
            Self::Header(name) => write!(f, "$http_{}", name.replace('-', "_")),
            Self::Cookie(name) => write!(f, "$cookie_{name}"),
        }
    }
}

/// Appends `bytes` percent-encoded as a URL query value: everything but `A-Z a-z 0-9 - _ . ~`
/// becomes `%XX` (what ingress-nginx's `set_escape_uri` and Go's `url.QueryEscape` agree on,
/// space included as `%20`).
pub fn escape_component(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}
