//! Request validation at the front door (RFC 9112 §3.2, RFC 9110 §7.2): what hyper parsed but
//! a proxy must not route or forward. Pure functions over the request head, called by the
//! service before routing (docs/architecture.md, "Request validation"); the error is the short
//! reason of the `400`.
//!
//! - The request-target is origin-form (`/path?query`), absolute-form (`http://host/path`,
//!   routed by its authority, which must agree with `Host` when both are present) or `*` for
//!   `OPTIONS`. Authority-form (`GET abc HTTP/1.1` parses as one) and anything else is refused.
//!   (HTTP/2 requests carry their `:authority` as an absolute-form URI.)
//! - At most one `Host` field, and its value (like an absolute-form authority) is a valid
//!   `host[:port]`: a DNS-style name, an IPv4 address or a bracketed IPv6 literal, an optional
//!   decimal port; no userinfo, no comma lists, no whitespace, not empty.
//! - `Content-Length`, when present, is one decimal number (repeated identical values, as in
//!   `5, 5`, are one); [`normalise_content_length`] rewrites it to its canonical form.

use http::header::{CONTENT_LENGTH, HOST};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Uri};

use crate::headers;

/// Checks a request head; `Err` carries the reason of the `400`.
pub fn check_request(parts: &Parts) -> Result<(), &'static str> {
    check(&parts.method, &parts.uri, &parts.headers)
}

/// Checks the method, request-target and headers of a request; `Err` carries the reason of
/// the `400`. Never panics, whatever the input.
pub fn check(method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), &'static str> {
    let mut hosts = headers.get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err("more than one Host header");
    }
    if let Some(host) = host {
        let host = host.to_str().map_err(|_| "invalid Host header")?;
        if !is_host_port(host) {
            return Err("invalid Host header");
        }
    }
    check_target(method, uri, host)?;
    headers::content_length(headers)?;
    Ok(())
}

/// Rewrites `Content-Length` to one canonical value (no leading zeros, no repeats). Fails as
/// [`check`] does on a value that is not one number.
pub fn normalise_content_length(headers: &mut HeaderMap) -> Result<(), &'static str> {
    let Some(length) = headers::content_length(headers)? else {
        return Ok(());
    };
    // The common case, one value already canonical, is left as it is: no new header value.
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let canonical = match (values.next(), values.next()) {
        (Some(value), None) => {
            let bytes = value.as_bytes();
            bytes == b"0" || !bytes.starts_with(b"0") && bytes.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    if !canonical {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(())
}

fn check_target(
    method: &Method,
    uri: &Uri,
    host: Option<&HeaderValue>,
) -> Result<(), &'static str> {
    match (uri.scheme(), uri.authority()) {
        (None, None) => {
            let path = uri.path();
            let asterisk = path == "*" && uri.query().is_none() && method == Method::OPTIONS;
            if path.starts_with('/') || asterisk {
                Ok(())
            } else {
                Err("request-target is not origin-form")
            }
        }
        (Some(scheme), Some(authority)) => {
            let scheme = scheme.as_str();
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Err("request-target scheme is not http or https");
            }
            let authority = authority.as_str();
            if !is_host_port(authority) {
                return Err("invalid authority in request-target");
            }
            let Some(host) = host else { return Ok(()) };
            // Checked above: a valid host[:port] is ASCII.
            let host = host.to_str().unwrap_or_default();
            if same_authority(scheme, authority, host) {
                Ok(())
            } else {
                Err("Host does not match the request-target's authority")
            }
        }
        // Authority-form (only for CONNECT, which is refused earlier), or a scheme without
        // an authority.
        _ => Err("request-target is not origin-form"),
    }
}

/// Whether two `host[:port]`s name the same place: hosts equal ignoring case, ports equal with
/// a missing one being the scheme's default.
fn same_authority(scheme: &str, a: &str, b: &str) -> bool {
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let (host_a, port_a) = split_port(a);
    let (host_b, port_b) = split_port(b);
    let port = |p: Option<&str>| p.map_or(Some(default), |p| p.parse::<u16>().ok());
    host_a.eq_ignore_ascii_case(host_b) && port(port_a) == port(port_b)
}

/// Splits `host[:port]` (IPv6 literals bracketed) into host and port.
fn split_port(value: &str) -> (&str, Option<&str>) {
    let colon = if value.starts_with('[') {
        value.find(']').and_then(|end| {
            let rest = &value[end + 1..];
            rest.starts_with(':').then_some(end + 1)
        })
    } else {
        value.rfind(':')
    };
    match colon {
        Some(i) => (&value[..i], Some(&value[i + 1..])),
        None => (value, None),
    }
}

/// A valid `host[:port]`: a name of letters, digits, `-`, `_` and `.` (an IPv4 address is
/// one), or a bracketed IPv6 literal; a port of 1 to 5 digits up to 65535.
fn is_host_port(value: &str) -> bool {
    let (host, port) = split_port(value);
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    let host_ok = if let Some(literal) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        literal.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        // No empty label (`a..b`, `.a`), as nginx's `ngx_http_validate_host`; one trailing
        // dot (a fully qualified name) is fine.
        !host.is_empty()
            && host.len() <= 253
            && !host.starts_with('.')
            && !host.contains("..")
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    host_ok && port_ok
}

#[cfg(test)]
mod tests;
