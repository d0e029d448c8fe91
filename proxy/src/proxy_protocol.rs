//! PROXY protocol v1 and v2 (HAProxy's spec) in front of a connection: read the header, hand
//! back the source address it carries and a stream that replays whatever followed it.
//!
//! Parsing is the `ppp` crate's; this module only reads bytes until a header is complete,
//! bounds how many it will hold, and keeps the rest for the connection.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest header accepted, TLVs included (a v1 header is at most 107 bytes; v2 headers from
/// real load balancers are a few hundred).
pub(crate) const MAX_HEADER_BYTES: usize = 4096;

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
    todo!()
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
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        todo!("{cx:?} {}", buf.remaining())
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
