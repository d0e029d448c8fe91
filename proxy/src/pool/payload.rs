//! A response body as it comes off a link: framed by Strait's HTTP/1.1 codec ([`super::h1`])
//! and read from the link's connection, or hyper's HTTP/2 stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::{Conn, Link, h1};
use crate::error::UpstreamError;

/// The body of an upstream response.
#[derive(Debug)]
pub(crate) enum Payload {
    /// HTTP/1.1: what is left of the body, read from the link's connection.
    H1(h1::Framing),
    /// HTTP/2: hyper's stream.
    H2(Incoming),
}

impl Payload {
    /// No body.
    pub(crate) const EMPTY: Self = Self::H1(h1::Framing::Empty);

    /// The next frame; an HTTP/1.1 body is read from `link` (a body with no link left has
    /// nothing more to read).
    pub(crate) fn poll_frame(
        &mut self,
        link: Option<&mut Link>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamError>>> {
        match self {
            Self::H1(h1::Framing::Empty) => Poll::Ready(None),
            Self::H1(framing) => match link.map(|link| &mut link.conn) {
                Some(Conn::H1 { conn, .. }) => conn.poll_body(framing, cx),
                _ => Poll::Ready(Some(Err(UpstreamError::Closed))),
            },
            Self::H2(body) => Pin::new(body).poll_frame(cx).map_err(UpstreamError::Http2),
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        match self {
            Self::H1(framing) => *framing == h1::Framing::Empty,
            Self::H2(body) => body.is_end_stream(),
        }
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        match self {
            Self::H1(h1::Framing::Empty) => SizeHint::with_exact(0),
            Self::H1(h1::Framing::Length(left)) => SizeHint::with_exact(*left),
            Self::H1(_) => SizeHint::default(),
            Self::H2(body) => body.size_hint(),
        }
    }
}
