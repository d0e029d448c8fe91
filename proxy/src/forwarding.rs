//! Forwarding headers and the client address (docs/architecture.md, "Client IP"). Pure: headers in,
//! headers out.
//!
//! The connecting peer is the client unless it is a trusted proxy. A trusted peer's
//! `X-Forwarded-For` is kept and the peer appended; the client is the right-most address of
//! that chain that is not trusted, and its other `X-Forwarded-*` are kept; what it sent as
//! `X-Forwarded-For` and `-Host` also goes up as `X-Original-Forwarded-For` and `-Host`.
//! An untrusted peer's `X-Forwarded-*`, `X-Original-Forwarded-*`, `X-Real-IP` and `Forwarded`
//! are discarded and rebuilt from the connection.
//!
//! As ingress-nginx's template sends them whatever the peer: `X-Forwarded-Scheme` and
//! `X-Scheme` equal to `X-Forwarded-Proto`, the client's own `X-Request-ID` passed through (a
//! new one when it sent none: nginx's `map $http_x_request_id $req_id`), and no `Proxy` header
//! (httpoxy).

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::header::{FORWARDED, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

use crate::config::{ListenerInfo, Scheme};

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub(crate) const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_SCHEME: HeaderName = HeaderName::from_static("x-forwarded-scheme");
const X_SCHEME: HeaderName = HeaderName::from_static("x-scheme");
const X_ORIGINAL_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-original-forwarded-for");
const X_ORIGINAL_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-original-forwarded-host");
/// httpoxy: a CGI-style upstream would read `Proxy` as its `HTTP_PROXY`.
const PROXY: HeaderName = HeaderName::from_static("proxy");

/// What the forwarding headers of one request are built from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Forwarding<'a> {
    /// The connecting peer (or the PROXY-protocol source).
    pub peer: IpAddr,
    pub trusted: &'a [IpNet],
    pub listener: ListenerInfo,
    /// The request's host as received (`Host` or `:authority`); empty when it had none.
    pub host: &'a HeaderValue,
    /// The connection's values, built once for all its requests (`None`: made here).
    pub values: Option<&'a ConnValues>,
}

/// The forwarding header values that depend only on the connection: the peer's address as
/// text (`X-Forwarded-For` and `X-Real-IP` of an untrusted peer) and the listener's port
/// (`X-Forwarded-Port`). Built once per connection; each request clones them (a reference
/// count), instead of formatting and allocating them again.
#[derive(Clone, Debug)]
pub(crate) struct ConnValues {
    peer: HeaderValue,
    port: HeaderValue,
}

impl ConnValues {
    pub(crate) fn new(peer: IpAddr, listener: ListenerInfo) -> Self {
        Self {
            peer: ip_value(peer.to_canonical()),
            port: HeaderValue::from(listener.port),
        }
    }
}

/// Rewrites the forwarding headers of an upstream request and returns the client address.
/// `request_id` is called when a new `X-Request-ID` is needed.
pub(crate) fn apply(
    headers: &mut HeaderMap,
    fwd: &Forwarding<'_>,
    request_id: impl FnOnce() -> HeaderValue,
) -> IpAddr {
    let peer = fwd.peer.to_canonical();
    // Up to nine names are added here and by the caller (`Host` among them): one growth of
    // the map instead of one per doubling (hyper sizes it to the client's headers).
    headers.reserve(9);
    let (client, real_ip) = if is_trusted(fwd.trusted, peer) {
        remove_where(headers, |name| {
            name == PROXY.as_str()
                || name == X_ORIGINAL_FORWARDED_FOR.as_str()
                || name == X_ORIGINAL_FORWARDED_HOST.as_str()
        });
        if let Some(host) = headers.get(X_FORWARDED_HOST).cloned() {
            headers.insert(X_ORIGINAL_FORWARDED_HOST, host);
        }
        let client = keep_chain(headers, peer, fwd.trusted);
        set_defaults(headers, fwd, false);
        (client, ip_value(client))
    } else {
        remove_where(headers, |name| {
            name == PROXY.as_str() || is_forwarding(name)
        });
        // The peer is the client: one formatted value serves both headers.
        let value = match fwd.values {
            Some(values) => values.peer.clone(),
            None => ip_value(peer),
        };
        headers.insert(X_FORWARDED_FOR, value.clone());
        set_defaults(headers, fwd, true);
        (peer, value)
    };
    if let Some(proto) = headers.get(X_FORWARDED_PROTO).cloned() {
        headers.insert(X_FORWARDED_SCHEME, proto.clone());
        headers.insert(X_SCHEME, proto);
    }
    keep_request_id(headers, request_id);
    headers.insert(X_REAL_IP, real_ip);
    client
}

/// The client's first non-empty `X-Request-ID` (its others dropped), else a new one.
fn keep_request_id(headers: &mut HeaderMap, request_id: impl FnOnce() -> HeaderValue) {
    let mut ids = headers.get_all(X_REQUEST_ID).iter();
    let first = ids.next().filter(|v| !v.as_bytes().trim_ascii().is_empty());
    if first.is_some() && ids.next().is_none() {
        return;
    }
    let id = first.cloned().unwrap_or_else(request_id);
    headers.insert(X_REQUEST_ID, id);
}

/// The client address of a request from `peer` with `headers`, by the same rules as
/// [`apply`], without touching the headers (for requests that do not go upstream).
pub(crate) fn client(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if is_trusted(trusted, peer) {
        chain_client(headers, peer, trusted)
    } else {
        peer
    }
}

/// The `X-Request-ID` a request goes upstream with (and external auth sees): the client's
/// own first non-empty one, whoever the peer (ingress-nginx's `$req_id`), else a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    match headers.get(X_REQUEST_ID) {
        Some(id) if !id.as_bytes().trim_ascii().is_empty() => id.clone(),
        _ => crate::request_id::generate(),
    }
}

/// The scheme the client used: a trusted peer's `X-Forwarded-Proto` (`http` or `https`), else
/// the listener's.
pub(crate) fn scheme(
    headers: &HeaderMap,
    peer: IpAddr,
    trusted: &[IpNet],
    listener: Scheme,
) -> Scheme {
    if !is_trusted(trusted, peer.to_canonical()) {
        return listener;
    }
    match headers.get(X_FORWARDED_PROTO).map(HeaderValue::as_bytes) {
        Some(proto) if proto.eq_ignore_ascii_case(b"https") => Scheme::Https,
        Some(proto) if proto.eq_ignore_ascii_case(b"http") => Scheme::Http,
        _ => listener,
    }
}

/// Whether `ip` (canonical: IPv4-mapped IPv6 as IPv4) is in a trusted range.
pub(crate) fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client behind a trusted `peer`: the right-most untrusted address of the incoming
/// `X-Forwarded-For` chain. Walking stops at an entry that is not an address, since nothing to
/// its left can be believed; the last trusted hop reached is then the client, as it is when
/// every hop is trusted.
fn chain_client(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let mut client = peer;
    let entries = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .rev()
        .flat_map(|v| v.as_bytes().rsplit(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty());
    for entry in entries {
        match parse_entry(entry) {
            Some(ip) if is_trusted(trusted, ip) => client = ip,
            Some(ip) => {
                client = ip;
                break;
            }
            None => break,
        }
    }
    client
}

/// Appends the peer to the incoming `X-Forwarded-For` chain and returns the client
/// ([`chain_client`]). The incoming chain, if any, also goes up as `X-Original-Forwarded-For`.
fn keep_chain(headers: &mut HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let client = chain_client(headers, peer, trusted);
    let incoming = headers.get_all(X_FORWARDED_FOR);
    let mut chain = Vec::with_capacity(64);
    for value in incoming
        .iter()
        .filter(|v| !v.as_bytes().trim_ascii().is_empty())
    {
        chain.extend_from_slice(value.as_bytes());
        chain.extend_from_slice(b", ");
    }
    if let Some(original) = chain.strip_suffix(b", ") {
        // Valid header values joined by ", " stay valid.
        if let Ok(original) = HeaderValue::from_bytes(original) {
            headers.insert(X_ORIGINAL_FORWARDED_FOR, original);
        }
    }
    // Writing to a Vec cannot fail.
    let _ = write!(chain, "{peer}");
    // The incoming values were valid header values; ", " and an address keep the whole valid.
    let value =
        HeaderValue::from_maybe_shared(Bytes::from(chain)).unwrap_or_else(|_| ip_value(peer));
    headers.insert(X_FORWARDED_FOR, value);
    client
}

/// An `X-Forwarded-For` entry: an address, optionally bracketed or with a port.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = text.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<IpAddr>().ok()
        })?;
    Some(ip.to_canonical())
}

/// Sets `X-Forwarded-Proto`, `-Host` and `-Port` from the connection; with `overwrite` false
/// only those the trusted peer did not send.
fn set_defaults(headers: &mut HeaderMap, fwd: &Forwarding<'_>, overwrite: bool) {
    let mut set = |name: HeaderName, value: HeaderValue| {
        if overwrite || !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    };
    set(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(fwd.listener.scheme.as_str()),
    );
    if !fwd.host.is_empty() {
        set(X_FORWARDED_HOST, fwd.host.clone());
    }
    let port = match fwd.values {
        Some(values) => values.port.clone(),
        None => HeaderValue::from(fwd.listener.port),
    };
    set(X_FORWARDED_PORT, port);
}

/// Removes every `X-Forwarded-*`, `X-Original-Forwarded-*`, `X-Real-IP` and `Forwarded`
/// header (an untrusted peer's).
pub(crate) fn discard_incoming(headers: &mut HeaderMap) {
    remove_where(headers, is_forwarding);
}

/// A name [`discard_incoming`] removes (lowercase, as every `HeaderName` is).
fn is_forwarding(name: &str) -> bool {
    name.starts_with("x-forwarded-")
        || name == X_REAL_IP.as_str()
        || name == FORWARDED.as_str()
        || name == X_ORIGINAL_FORWARDED_FOR.as_str()
        || name == X_ORIGINAL_FORWARDED_HOST.as_str()
}

/// Removes the headers whose names match, found in one pass over the names: most requests
/// carry none of them, and a pass over a request's few names costs less than hashing each
/// name to remove.
fn remove_where(headers: &mut HeaderMap, matches: impl Fn(&str) -> bool) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| matches(name.as_str()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// An address as a header value, formatted without a heap string (and, for IPv4, without the
/// formatting machinery: it runs for every request).
fn ip_value(ip: IpAddr) -> HeaderValue {
    // 45 bytes hold the longest textual form of an IPv6 address.
    let mut buf = [0u8; 45];
    let len = match ip {
        IpAddr::V4(v4) => write_ipv4(&mut buf, v4.octets()),
        IpAddr::V6(_) => {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            let _ = write!(cursor, "{ip}");
            usize::try_from(cursor.position()).unwrap_or(0)
        }
    };
    // Digits, dots, colons and hex letters are all valid header bytes.
    HeaderValue::from_maybe_shared(Bytes::copy_from_slice(&buf[..len]))
        .expect("an IP address is a valid header value")
}

/// Dotted-quad text of `octets` into `buf` (at least 15 bytes); returns its length.
fn write_ipv4(buf: &mut [u8], octets: [u8; 4]) -> usize {
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            buf[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            buf[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            buf[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        buf[len] = b'0' + octet % 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests;
