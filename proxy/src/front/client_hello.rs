//! The server name (SNI) of a TLS ClientHello read from raw bytes, for TLS passthrough
//! (docs/architecture.md, "TLS passthrough"): the bytes must be kept to be replayed to the
//! backend, so rustls's own parsing (which consumes them) cannot be used, and no maintained
//! crate does only this (tls-parser parses all of TLS with nom).
//!
//! Only what finding the name needs is checked; anything that is not a well-formed ClientHello
//! is [`Peek::NotHello`], which hands the bytes to rustls, whose verdict the client gets as
//! today. A ClientHello may span records (RFC 8446 §5.1: handshake messages may be
//! fragmented); its fragments are joined, up to [`MAX_HELLO_BYTES`] in all.

use std::borrow::Cow;

/// Most bytes read before a ClientHello must be complete, record headers included. Real
/// ClientHellos are a few hundred bytes, under 2 KiB with post-quantum key shares; rustls
/// itself takes one of at most 64 KiB, but a passthrough listener holds these bytes for every
/// connection in its handshake.
pub(crate) const MAX_HELLO_BYTES: usize = 16 * 1024;

/// Largest TLSPlaintext fragment (RFC 8446 §5.1: 2^14 bytes).
const MAX_RECORD_PAYLOAD: usize = 1 << 14;
const RECORD_HEADER: usize = 5;
const HANDSHAKE_HEADER: usize = 4;
const CONTENT_HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST: u8 = 0;

/// What the bytes read so far are.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Peek<'a> {
    /// The start of a ClientHello: read more.
    Incomplete,
    /// A whole ClientHello, with the host name it asks for, if any.
    Hello { server_name: Option<Cow<'a, str>> },
    /// Not a ClientHello (not TLS, or malformed): for rustls to answer.
    NotHello,
    /// A record longer than TLS allows, or a ClientHello longer than [`MAX_HELLO_BYTES`].
    TooLarge,
}

/// Looks at the bytes read so far from a connection.
pub(crate) fn peek(buf: &[u8]) -> Peek<'_> {
    // The first record, where the handshake message's header is (a zero-length fragment
    // carries nothing and is not allowed for handshake records).
    let Some(first) = record(buf) else {
        return Peek::Incomplete;
    };
    let (payload, _) = match first {
        Record::Ok(payload, rest) => (payload, rest),
        Record::NotHandshake => return Peek::NotHello,
        Record::TooLarge => return Peek::TooLarge,
        Record::Partial => return partial_first(buf),
    };
    if payload.len() < HANDSHAKE_HEADER {
        // Fragmented inside the handshake header: legal, never done by real clients.
        return Peek::NotHello;
    }
    if payload[0] != CLIENT_HELLO {
        return Peek::NotHello;
    }
    let body_len = u24(&payload[1..4]);
    if HANDSHAKE_HEADER + body_len + RECORD_HEADER > MAX_HELLO_BYTES {
        return Peek::TooLarge;
    }
    let body = &payload[HANDSHAKE_HEADER..];
    if body.len() >= body_len {
        // The usual case: the whole message in its first record; no copy.
        return hello(&body[..body_len]).map_or(Peek::NotHello, |name| Peek::Hello {
            server_name: name.map(Cow::Borrowed),
        });
    }
    // Spread over records: join the fragments.
    let mut joined = Vec::with_capacity(body_len);
    joined.extend_from_slice(body);
    let mut rest = &buf[RECORD_HEADER + payload.len()..];
    while joined.len() < body_len {
        match record(rest) {
            None | Some(Record::Partial) => return Peek::Incomplete,
            Some(Record::NotHandshake) => return Peek::NotHello,
            Some(Record::TooLarge) => return Peek::TooLarge,
            Some(Record::Ok(more, after)) => {
                if more.is_empty() {
                    return Peek::NotHello;
                }
                let take = more.len().min(body_len - joined.len());
                joined.extend_from_slice(&more[..take]);
                rest = after;
            }
        }
    }
    match hello(&joined) {
        Some(name) => Peek::Hello {
            server_name: name.map(|n| Cow::Owned(n.to_owned())),
        },
        None => Peek::NotHello,
    }
}

/// The first record is not all there yet: read more, unless what there is already shows a
/// message that will not fit.
fn partial_first(buf: &[u8]) -> Peek<'_> {
    let payload = &buf[RECORD_HEADER..];
    if payload.len() >= HANDSHAKE_HEADER {
        if payload[0] != CLIENT_HELLO {
            return Peek::NotHello;
        }
        if HANDSHAKE_HEADER + u24(&payload[1..4]) + RECORD_HEADER > MAX_HELLO_BYTES {
            return Peek::TooLarge;
        }
    }
    Peek::Incomplete
}

enum Record<'a> {
    /// A whole handshake record: its payload and the bytes after it.
    Ok(&'a [u8], &'a [u8]),
    /// A handshake record whose header is read but not all its payload.
    Partial,
    NotHandshake,
    TooLarge,
}

/// The record at the start of `buf`; `None` before its header is complete (a first byte that
/// is not a handshake record says so at once).
fn record(buf: &[u8]) -> Option<Record<'_>> {
    match buf {
        [] => None,
        [t, ..] if *t != CONTENT_HANDSHAKE => Some(Record::NotHandshake),
        [_, major, ..] if *major != 3 => Some(Record::NotHandshake),
        _ if buf.len() < RECORD_HEADER => None,
        _ => {
            let len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
            if len > MAX_RECORD_PAYLOAD {
                return Some(Record::TooLarge);
            }
            let rest = &buf[RECORD_HEADER..];
            Some(if rest.len() < len {
                Record::Partial
            } else {
                Record::Ok(&rest[..len], &rest[len..])
            })
        }
    }
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// A cursor over a message body; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one- or two-byte length prefix.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// The host name a ClientHello body asks for: `Some(None)` without one, `None` when the body
/// is malformed (RFC 8446 §4.1.2, RFC 6066 §3).
fn hello(body: &[u8]) -> Option<Option<&str>> {
    let mut r = Reader(body);
    r.take(2 + 32)?; // legacy_version, random
    r.vec8()?; // legacy_session_id
    r.vec16()?; // cipher_suites
    r.vec8()?; // legacy_compression_methods
    if r.0.is_empty() {
        return Some(None); // no extensions (TLS 1.2 allows it)
    }
    let mut extensions = Reader(r.vec16()?);
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let data = extensions.vec16()?;
        if kind == EXT_SERVER_NAME {
            return server_name(data).map(Some);
        }
    }
    Some(None)
}

/// The first `host_name` of a server_name extension, ASCII only (RFC 6066: a DNS name).
fn server_name(data: &[u8]) -> Option<&str> {
    let mut list = Reader(Reader(data).vec16()?);
    while !list.0.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == NAME_TYPE_HOST {
            return (!name.is_empty() && name.is_ascii())
                .then(|| std::str::from_utf8(name).ok())
                .flatten();
        }
    }
    None
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
