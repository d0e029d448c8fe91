//! Writing one request: the head (already encoded), then the body's frames in its coding as
//! the client sends them, as few writes as the frames allow.

use std::io::{self, IoSlice, Write as _};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use hyper::body::Body;

use super::Io;
use super::head::Outgoing;
use crate::upload::{RequestBody, RequestBodyError};

/// A data frame at most this large is copied behind the request head or chunk-size line, so
/// that both go in one write; a larger one is written from its own buffer.
const COALESCE: usize = 4 * 1024;

/// Why a request could not be written whole.
#[derive(Debug)]
pub(super) enum UploadError {
    /// Writing to the upstream failed.
    Write(io::Error),
    /// The client's body failed (or grew past the route's limit).
    Body(RequestBodyError),
    /// The client's body does not match its declared length.
    Framing(&'static str),
}

/// What is left of a request to write.
pub(super) struct Upload {
    pub(super) body: RequestBody,
    outgoing: Outgoing,
    /// The body has ended (its last bytes may still be buffered).
    ended: bool,
    /// A frame was taken from the body: the request cannot be handed back whole.
    pub(super) consumed: bool,
    /// Some bytes were written.
    pub(super) wrote: bool,
    /// Body bytes queued so far.
    relayed: u64,
    /// How much of the write buffer has been written.
    pos: usize,
    /// A large data frame, written after the buffer.
    data: Bytes,
    /// What follows `data`: the CRLF that ends a chunk.
    tail: &'static [u8],
}

impl Upload {
    pub(super) fn new(body: RequestBody, outgoing: Outgoing, empty: bool) -> Self {
        Self {
            body,
            outgoing,
            ended: empty,
            consumed: false,
            wrote: false,
            relayed: 0,
            pos: 0,
            data: Bytes::new(),
            tail: b"",
        }
    }

    /// Writes what is buffered, then each body frame as it comes. Ready when the whole
    /// request has been written and flushed.
    pub(super) fn poll(
        &mut self,
        io: &mut dyn Io,
        buf: &mut Vec<u8>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        loop {
            while self.pos < buf.len() || !self.data.is_empty() || !self.tail.is_empty() {
                let slices = [
                    IoSlice::new(&buf[self.pos..]),
                    IoSlice::new(&self.data),
                    IoSlice::new(self.tail),
                ];
                match Pin::new(&mut *io).poll_write_vectored(cx, &slices) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(UploadError::Write(
                            io::ErrorKind::WriteZero.into(),
                        )));
                    }
                    Poll::Ready(Ok(written)) => {
                        self.wrote = true;
                        self.advance(buf.len(), written);
                    }
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(UploadError::Write(error))),
                }
            }
            if self.ended {
                return Pin::new(&mut *io)
                    .poll_flush(cx)
                    .map_err(UploadError::Write);
            }
            buf.clear();
            self.pos = 0;
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => {
                    // Whatever went out so far must reach the upstream while the client takes
                    // its time.
                    return match Pin::new(&mut *io).poll_flush(cx) {
                        Poll::Ready(Err(error)) => Poll::Ready(Err(UploadError::Write(error))),
                        _ => Poll::Pending,
                    };
                }
                Poll::Ready(Some(Ok(frame))) => {
                    self.consumed = true;
                    // Trailers of the client's body are not relayed (nginx drops them too).
                    if let Ok(data) = frame.into_data() {
                        self.queue(data, buf)?;
                    }
                }
                Poll::Ready(None) => self.end(buf)?,
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(UploadError::Body(error))),
            }
        }
    }

    /// Queues one data frame in the body's coding.
    fn queue(&mut self, data: Bytes, buf: &mut Vec<u8>) -> Result<(), UploadError> {
        if data.is_empty() {
            return Ok(());
        }
        self.relayed += data.len() as u64;
        match self.outgoing {
            Outgoing::Empty => return Ok(()),
            Outgoing::Length(length) if self.relayed > length => {
                return Err(UploadError::Framing(
                    "request body longer than its Content-Length",
                ));
            }
            Outgoing::Length(_) => {}
            Outgoing::Chunked => {
                // Writing to a `Vec` cannot fail.
                let _ = write!(buf, "{:X}\r\n", data.len());
                if data.len() <= COALESCE {
                    buf.extend_from_slice(&data);
                    buf.extend_from_slice(b"\r\n");
                } else {
                    self.data = data;
                    self.tail = b"\r\n";
                }
                return Ok(());
            }
        }
        if data.len() <= COALESCE {
            buf.extend_from_slice(&data);
        } else {
            self.data = data;
        }
        Ok(())
    }

    fn end(&mut self, buf: &mut Vec<u8>) -> Result<(), UploadError> {
        self.ended = true;
        match self.outgoing {
            Outgoing::Length(length) if self.relayed != length => Err(UploadError::Framing(
                "request body shorter than its Content-Length",
            )),
            Outgoing::Chunked => {
                buf.extend_from_slice(b"0\r\n\r\n");
                Ok(())
            }
            Outgoing::Empty | Outgoing::Length(_) => Ok(()),
        }
    }

    fn advance(&mut self, buffered: usize, mut written: usize) {
        let head = (buffered - self.pos).min(written);
        self.pos += head;
        written -= head;
        let data = self.data.len().min(written);
        self.data.advance(data);
        written -= data;
        self.tail = &self.tail[written.min(self.tail.len())..];
    }
}
