//! Forwarding headers and the client address (docs/architecture.md, "Client IP"). Pure: headers in,
//! headers out.
//!
//! The connecting peer is the client unless it is a trusted proxy. A trusted peer's
//! `X-Forwarded-For` is kept and the peer appended; the client is the right-most address of
//! that chain that is not trusted, and its other `X-Forwarded-*` and `X-Request-ID` are kept.
//! An untrusted peer's `X-Forwarded-*`, `X-Real-IP` and `Forwarded` are discarded and rebuilt
//! from the connection.

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

/// What the forwarding headers of one request are built from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Forwarding<'a> {
    /// The connecting peer (or the PROXY-protocol source).
    pub peer: IpAddr,
    pub trusted: &'a [IpNet],
    pub listener: ListenerInfo,
    /// The request's host as received (`Host` or `:authority`); empty when it had none.
    pub host: &'a HeaderValue,
}

/// Rewrites the forwarding headers of an upstream request and returns the client address.
/// `request_id` is called when a new `X-Request-ID` is needed.
pub(crate) fn apply(
    headers: &mut HeaderMap,
    fwd: &Forwarding<'_>,
    request_id: impl FnOnce() -> HeaderValue,
) -> IpAddr {
    let peer = fwd.peer.to_canonical();
    let client = if is_trusted(fwd.trusted, peer) {
        let client = keep_chain(headers, peer, fwd.trusted);
        set_defaults(headers, fwd, false);
        if !headers.contains_key(X_REQUEST_ID) {
            headers.insert(X_REQUEST_ID, request_id());
        }
        client
    } else {
        discard_incoming(headers);
        headers.insert(X_FORWARDED_FOR, ip_value(peer));
        set_defaults(headers, fwd, true);
        headers.insert(X_REQUEST_ID, request_id());
        peer
    };
    headers.insert(X_REAL_IP, ip_value(client));
    client
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

/// The `X-Request-ID` a request from `peer` goes upstream with, decided before it goes: a
/// trusted peer's own, else a fresh one (what [`apply`] keeps or makes). External auth needs
/// it early: the subrequest carries the same id as the upstream request.
pub(crate) fn request_id(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> HeaderValue {
    match headers.get(X_REQUEST_ID) {
        Some(id) if is_trusted(trusted, peer.to_canonical()) => id.clone(),
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
/// ([`chain_client`]).
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
    set(X_FORWARDED_PORT, HeaderValue::from(fwd.listener.port));
}

/// Removes every `X-Forwarded-*`, `X-Real-IP`, `Forwarded` and `X-Request-ID` header.
pub(crate) fn discard_incoming(headers: &mut HeaderMap) {
    let forwarded: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-forwarded-"))
        .cloned()
        .collect();
    for name in forwarded {
        headers.remove(name);
    }
    headers.remove(X_REAL_IP);
    headers.remove(FORWARDED);
    headers.remove(X_REQUEST_ID);
}

/// An address as a header value, formatted without a heap string.
fn ip_value(ip: IpAddr) -> HeaderValue {
    // 45 bytes hold the longest textual form of an IPv6 address.
    let mut buf = [0u8; 45];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{ip}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    // Digits, dots, colons and hex letters are all valid header bytes.
    HeaderValue::from_bytes(&buf[..len]).expect("an IP address is a valid header value")
}

#[cfg(test)]
mod tests;
