//! PROXY protocol v1 and v2 (HAProxy's spec) in front of a connection: read the header, hand
//! back the source address it carries and a stream that replays whatever followed it.
//!
//! Parsing is the `ppp` crate's; this module only reads bytes until a header is complete,
//! bounds how many it will hold, and keeps the rest for the connection.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use ppp::PartialResult;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Largest header accepted, TLVs included (a v1 header is at most 107 bytes; v2 headers from
/// real load balancers are a few hundred).
pub(crate) const MAX_HEADER_BYTES: usize = 4096;

/// How a v1 header starts. The space is part of it: `PROXY` alone could still be followed by
/// something other than a header, and v1 headers always have one.
const V1_PREFIX: &[u8] = b"PROXY ";

/// How a v2 header starts (the 12-byte signature, chosen so that it cannot be the start of a
/// valid request in any common protocol).
const V2_SIGNATURE: &[u8] = ppp::v2::PROTOCOL_PREFIX;

/// The fixed part of a v2 header: signature, version/command, family/protocol and the 2-byte
/// length of what follows.
const V2_FIXED_BYTES: usize = 16;

/// Why a connection's PROXY header was refused; the connection is then closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("the connection did not start with a PROXY protocol header")]
    Missing,
    #[error("invalid PROXY protocol header: {0}")]
    Invalid(String),
    #[error("PROXY protocol header longer than {MAX_HEADER_BYTES} bytes")]
    TooLong,
    #[error("connection closed inside the PROXY protocol header")]
    Eof,
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one PROXY header from the start of `io`. Returns the source address it names —
/// `None` for v1 `UNKNOWN`, v2 `LOCAL` (a load balancer's own health check) and address
/// families other than TCP over IPv4/IPv6: the connection's peer then stands — and `io`
/// wrapped so that the bytes read past the header are read again first.
pub(crate) async fn read_header<T>(io: T) -> Result<(Option<SocketAddr>, Rewind<T>), HeaderError>
where
    T: AsyncRead + Unpin,
{
    let mut io = io;
    // One allocation for the whole header: no header accepted is larger, so the buffer never
    // grows, and every read is bounded by its spare capacity. Whatever follows the header in
    // the same reads stays in this allocation as the replayed prefix.
    let mut buf = BytesMut::with_capacity(MAX_HEADER_BYTES);
    loop {
        if !buf.is_empty() {
            match parse(&buf)? {
                Parsed::Incomplete => {}
                Parsed::Complete { source, len } => {
                    buf.advance(len);
                    // Nothing left over (the usual case when the client waits for the server,
                    // or sent the header on its own): don't keep the 4 KiB alive for nothing.
                    let rest = if buf.is_empty() {
                        Bytes::new()
                    } else {
                        buf.freeze()
                    };
                    return Ok((source, Rewind::with_prefix(io, rest)));
                }
            }
        }
        // Still incomplete with the buffer full: the header is larger than any accepted. (The
        // checks in `parse` already catch both versions earlier; this bounds the loop even if
        // they did not.)
        if buf.len() >= MAX_HEADER_BYTES {
            return Err(HeaderError::TooLong);
        }
        // `len < MAX_HEADER_BYTES <= capacity`, so this reads at most the spare capacity: the
        // buffer never reallocates, and a read returns whatever has arrived without waiting
        // for more.
        if io.read_buf(&mut buf).await? == 0 {
            return Err(HeaderError::Eof);
        }
    }
}

/// What the bytes read so far amount to.
#[derive(Debug, PartialEq)]
enum Parsed {
    /// The start of a header: read more.
    Incomplete,
    /// A whole header of `len` bytes, naming `source` (if it names one we use).
    Complete {
        source: Option<SocketAddr>,
        len: usize,
    },
}

/// Looks at the bytes read so far (at least one). Fails as soon as they cannot be the start of
/// a header: a client that sends no header (plain HTTP, a TLS ClientHello) must not hold the
/// connection open waiting for bytes that will never come.
///
/// The version is picked here from the first bytes, then `ppp`'s parser for that version is
/// asked, rather than `ppp::HeaderResult::parse`: that one falls back to v1 on any v2 error,
/// which would report a malformed v2 header as a v1 prefix error.
fn parse(buf: &[u8]) -> Result<Parsed, HeaderError> {
    if starts_like(buf, V2_SIGNATURE) {
        parse_v2(buf)
    } else if starts_like(buf, V1_PREFIX) {
        parse_v1(buf)
    } else {
        Err(HeaderError::Missing)
    }
}

/// Whether `buf` and `prefix` agree on the bytes both have: `buf` starts with `prefix`, or is
/// a (possibly empty) beginning of it.
fn starts_like(buf: &[u8], prefix: &[u8]) -> bool {
    let n = buf.len().min(prefix.len());
    buf[..n] == prefix[..n]
}

/// A v1 header is one line ending in CRLF, at most this long (CRLF included) by the spec.
const V1_MAX_BYTES: usize = 107;

/// A v1 header is handed to `ppp` only once its line has ended, i.e. a CR and the byte after
/// it have arrived (`ppp` itself cuts its input there). Before that, `ppp`'s verdicts are not
/// reliable: a line cut right after a separator (`PROXY TCP4 a b 51234 `) reads as an invalid
/// empty port, and a line that has ended early (`PROXY TCP4\r\n`) reads as merely incomplete,
/// which would wait for bytes that cannot help until the handshake timeout. Until the line
/// ends, only its length is checked.
fn parse_v1(buf: &[u8]) -> Result<Parsed, HeaderError> {
    use ppp::v1::{Addresses, BinaryParseError, Header, ParseError};

    match buf.iter().position(|&b| b == b'\r') {
        // The line will be at least these bytes plus CRLF.
        None if buf.len() + 2 > V1_MAX_BYTES => return Err(HeaderError::TooLong),
        None => return Ok(Parsed::Incomplete),
        Some(cr) if cr + 2 > V1_MAX_BYTES => return Err(HeaderError::TooLong),
        Some(cr) if buf.len() < cr + 2 => return Ok(Parsed::Incomplete),
        Some(_) => {}
    }
    match Header::try_from(buf) {
        Ok(header) => {
            let source = match header.addresses {
                Addresses::Tcp4(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
                Addresses::Tcp6(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
                Addresses::Unknown => None,
            };
            Ok(Parsed::Complete {
                source,
                len: header.header.len(),
            })
        }
        Err(BinaryParseError::Parse(ParseError::HeaderTooLong)) => Err(HeaderError::TooLong),
        // Whatever `ppp` calls it, "missing" parts included: the line is over, so no later
        // byte can make it a header.
        Err(error) => Err(HeaderError::Invalid(format!("v1: {error}"))),
    }
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, HeaderError> {
    use ppp::v2::{Addresses, Command, Header, ParseError};

    match Header::try_from(buf) {
        Ok(header) => {
            let source = match (header.command, header.addresses) {
                (Command::Proxy, Addresses::IPv4(a)) => {
                    Some(SocketAddr::new(a.source_address.into(), a.source_port))
                }
                (Command::Proxy, Addresses::IPv6(a)) => {
                    Some(SocketAddr::new(a.source_address.into(), a.source_port))
                }
                // LOCAL: the sender's own connection (a health check), whatever addresses it
                // carries. Unix and unspecified families: nothing to use as a client address.
                (Command::Local, _)
                | (Command::Proxy, Addresses::Unix(_) | Addresses::Unspecified) => None,
            };
            Ok(Parsed::Complete {
                source,
                len: header.len(),
            })
        }
        // The fixed part is in, so the length is known: refuse at once rather than reading up
        // to the limit first.
        Err(ParseError::Partial(_, length)) if V2_FIXED_BYTES + length > MAX_HEADER_BYTES => {
            Err(HeaderError::TooLong)
        }
        Err(error) if error.is_incomplete() => Ok(Parsed::Incomplete),
        Err(error) => Err(HeaderError::Invalid(format!("v2: {error}"))),
    }
}

/// A stream that yields `prefix` before reading from `inner`; writes go straight through.
#[derive(Debug)]
pub(crate) struct Rewind<T> {
    prefix: Bytes,
    inner: T,
}

impl<T> Rewind<T> {
    /// A stream with nothing to replay.
    pub(crate) fn new(inner: T) -> Self {
        Self::with_prefix(inner, Bytes::new())
    }

    pub(crate) fn with_prefix(inner: T, prefix: Bytes) -> Self {
        Self { prefix, inner }
    }

    /// Puts `bytes` back in front of what is still to be replayed (TLS passthrough: the
    /// ClientHello read to learn its server name is replayed to rustls).
    pub(crate) fn unread(&mut self, bytes: Bytes) {
        self.prefix = if self.prefix.is_empty() {
            bytes
        } else {
            let mut joined = bytes::BytesMut::with_capacity(bytes.len() + self.prefix.len());
            joined.extend_from_slice(&bytes);
            joined.extend_from_slice(&self.prefix);
            joined.freeze()
        };
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    /// Replays the prefix first, as much as fits in `buf` per call; once it is drained, reads
    /// go straight to `inner`.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        if n == this.prefix.len() {
            buf.put_slice(&this.prefix);
            // An emptied `Bytes` would still hold its share of the buffer it was cut from (the
            // header's read buffer): let that go now rather than with the connection.
            this.prefix = Bytes::new();
        } else {
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
