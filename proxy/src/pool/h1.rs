//! Strait's own HTTP/1.1 client codec for upstream connections, driven in the request's task.
//!
//! hyper's client ran each exchange through its dispatcher: a request channel to the
//! connection future, a body channel from it (`Incoming`), and a header map re-encoded from a
//! second copy. Here an exchange is one future over the connection itself: it writes the
//! request head (one buffer, kept across requests) and the body, reads the response head with
//! httparse into a header map whose values share the bytes read, and the response body is
//! then read from the same buffer by [`H1::poll_body`] as the client takes it — a data frame
//! is a slice of the read buffer, not a copy. No task, no channel, no second header map.
//!
//! What hyper's client did and this keeps: the request body streams while the response head
//! is awaited (an early response stops the upload and closes the connection afterwards);
//! interim 1xx responses are skipped; 101 hands the connection over as the upstream side of a
//! tunnel, with any bytes read past the head; the framing of RFC 9112 §6.3 (chunked wins over
//! `Content-Length` and then closes; no length means until close); `Connection: close` and
//! HTTP/1.0 without keep-alive close after the response; a connection goes back to the pool
//! only when both messages ended cleanly and nothing is left unread.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response};
use hyper::body::{Body, Frame};
use tokio::io::{AsyncRead, AsyncWrite};

use super::send_timer;
use crate::error::{ProxyError, UpstreamError};
use crate::upload::{RequestBody, RequestBodyError};
use head::Parsed;
use upload::{Upload, UploadError};

pub(crate) mod chunked;
mod head;
mod tunnel;
mod upload;

#[cfg(test)]
mod tests;

pub(crate) use head::Incoming as Framing;
pub(crate) use tunnel::Upgraded;

/// Bytes reserved in the read buffer before each read that finds it nearly full.
const READ_RESERVE: usize = 16 * 1024;

/// The byte stream under a connection: TCP, or TLS over TCP, with the send timer.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One upstream HTTP/1.1 connection.
pub(crate) struct H1 {
    io: Box<dyn Io>,
    /// Bytes read and not yet taken: the rest of a response head or body.
    read: BytesMut,
    /// The request head being written (and small body frames after it).
    write: Vec<u8>,
    /// The request being written: until its body has ended, which may be after the response
    /// head (a full-duplex exchange).
    upload: Option<Upload>,
    /// The connection can carry another exchange once the current one has ended.
    keep_alive: bool,
}

impl std::fmt::Debug for H1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1")
            .field("buffered", &self.read.len())
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

/// Why an exchange ended without a response.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Not a byte of the request was written: here is its body back, for another connection.
    Unsent(RequestBody, io::Error),
    /// The request may have been (partly) sent.
    Failed(ProxyError),
}

impl H1 {
    pub(crate) fn new(io: impl Io + 'static) -> Self {
        Self {
            io: Box::new(io),
            read: BytesMut::new(),
            write: Vec::new(),
            upload: None,
            keep_alive: true,
        }
    }

    /// Sends the head of `request` (only read: it stays whole for another attempt) with
    /// `body`, and reads the response head; the body is then read with [`H1::poll_body`] and
    /// the framing returned here.
    pub(crate) fn exchange<B>(
        &mut self,
        addr: SocketAddr,
        request: &Request<B>,
        body: RequestBody,
    ) -> Exchange<'_> {
        self.write.clear();
        let empty = body.is_end_stream();
        let exact = body.size_hint().exact();
        let outgoing = head::encode_request(request, empty, exact, &mut self.write);
        self.upload = Some(Upload::new(body, outgoing, empty));
        Exchange {
            method: request.method().clone(),
            conn: self,
            addr,
            write_error: None,
        }
    }

    /// Writes what is left of the request.
    fn poll_upload(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), UploadError>> {
        let Some(upload) = &mut self.upload else {
            return Poll::Ready(Ok(()));
        };
        let polled = upload.poll(&mut *self.io, &mut self.write, cx);
        match &polled {
            Poll::Ready(Ok(())) => self.upload = None,
            Poll::Ready(Err(_)) => self.keep_alive = false,
            Poll::Pending => {}
        }
        polled
    }

    /// The next frame of a response body framed as `framing` (which tracks what is left).
    pub(crate) fn poll_body(
        &mut self,
        framing: &mut Framing,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamError>>> {
        let polled = self.poll_body_inner(framing, cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.keep_alive = false;
            *framing = Framing::Empty;
        }
        polled
    }

    fn poll_body_inner(
        &mut self,
        framing: &mut Framing,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamError>>> {
        if let Poll::Ready(Err(error)) = self.poll_upload(cx) {
            self.upload = None;
            match error {
                // The upstream stopped reading: its answer may still come whole.
                UploadError::Write(_) => {}
                UploadError::Body(error) => {
                    return Poll::Ready(Some(Err(UpstreamError::Io(io::Error::other(error)))));
                }
                UploadError::Framing(detail) => {
                    return Poll::Ready(Some(Err(UpstreamError::Io(io::Error::other(detail)))));
                }
            }
        }
        loop {
            match framing {
                Framing::Empty => return Poll::Ready(None),
                Framing::Length(left) => {
                    if !self.read.is_empty() {
                        let take = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(self.read.len());
                        *left -= take as u64;
                        if *left == 0 {
                            *framing = Framing::Empty;
                        }
                        let data = self.read.split_to(take).freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Framing::UntilClose => {
                    if !self.read.is_empty() {
                        let data = self.read.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Framing::Chunked(decoder) => match decoder.step(&mut self.read) {
                    Err(error) => return Poll::Ready(Some(Err(error))),
                    Ok(chunked::Step::Data(data)) => {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(chunked::Step::Trailers(trailers)) => {
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(chunked::Step::End) => {
                        *framing = Framing::Empty;
                        return Poll::Ready(None);
                    }
                    Ok(chunked::Step::More) => {}
                },
            }
            match self.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) if *framing == Framing::UntilClose => {
                    self.keep_alive = false;
                    *framing = Framing::Empty;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(0)) => return Poll::Ready(Some(Err(UpstreamError::Closed))),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(UpstreamError::Io(error)))),
            }
        }
    }

    /// Whether the exchange that just ended leaves the connection fit for another.
    pub(crate) fn may_continue(&self) -> bool {
        self.keep_alive && self.upload.is_none() && self.read.is_empty()
    }

    /// Whether the connection can carry the next exchange: the last one ended cleanly, nothing
    /// unread is buffered, and the upstream has not closed it or sent anything since. Looks at
    /// the socket once, without a waker worth waking (nothing waits on an idle connection):
    /// without a readiness event since the last read that is no system call.
    pub(crate) fn reusable(&mut self) -> bool {
        self.keep_alive
            && self.read.is_empty()
            && self
                .poll_fill(&mut Context::from_waker(Waker::noop()))
                .is_pending()
    }

    /// The connection after a 101: the upstream side of the tunnel, with what was read past
    /// the response head.
    pub(crate) fn into_upgraded(self: Box<Self>) -> Upgraded {
        Upgraded::new(self.io, self.read.freeze())
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read.capacity() - self.read.len() < READ_RESERVE / 4 {
            self.read.reserve(READ_RESERVE);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut *self.io), cx, &mut self.read)
    }

    fn poll_head(
        &mut self,
        method: &Method,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(Response<()>, Framing), UpstreamError>> {
        loop {
            if !self.read.is_empty() {
                match head::parse_response(&mut self.read, method)? {
                    Some(Parsed::Interim) => continue,
                    Some(Parsed::Final {
                        response,
                        body,
                        keep_alive,
                    }) => {
                        self.keep_alive &= keep_alive;
                        return Poll::Ready(Ok((response, body)));
                    }
                    None => {}
                }
            }
            match self.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(UpstreamError::Closed)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(UpstreamError::Io(error))),
            }
        }
    }
}

/// One request and its response head on an [`H1`] connection.
pub(crate) struct Exchange<'a> {
    conn: &'a mut H1,
    addr: SocketAddr,
    method: Method,
    /// A write failed after the head went out; the response may still have come.
    write_error: Option<ProxyError>,
}

impl Future for Exchange<'_> {
    type Output = Result<(Response<()>, Framing), Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.write_error.is_none()
            && let Poll::Ready(Err(error)) = this.conn.poll_upload(cx)
            && let Some(upload) = this.conn.upload.take()
        {
            let failed = match error {
                UploadError::Write(error) if !upload.wrote && !upload.consumed => {
                    return Poll::Ready(Err(Failure::Unsent(upload.body, error)));
                }
                UploadError::Write(error) => {
                    this.write_error = write_failed(this.addr, error);
                    None
                }
                UploadError::Body(error) => client_body(error),
                UploadError::Framing(detail) => Some(ProxyError::BadRequest(detail)),
            };
            if let Some(failed) = failed {
                return Poll::Ready(Err(Failure::Failed(failed)));
            }
        }
        if this
            .conn
            .upload
            .as_ref()
            .is_some_and(|upload| !upload.wrote)
        {
            return Poll::Pending;
        }
        match this.conn.poll_head(&this.method, cx) {
            // The upload, if not over, goes on while the body is read (a full-duplex
            // exchange); the connection is reused only if it ends.
            Poll::Ready(Ok(head)) => Poll::Ready(Ok(head)),
            Poll::Ready(Err(error)) => {
                this.conn.keep_alive = false;
                let failed = this.write_error.take().unwrap_or(ProxyError::Upstream {
                    addr: this.addr,
                    source: error,
                });
                Poll::Ready(Err(Failure::Failed(failed)))
            }
            Poll::Pending => match this.write_error.take() {
                Some(error) => Poll::Ready(Err(Failure::Failed(error))),
                None => Poll::Pending,
            },
        }
    }
}

/// A write that failed once the request may have been (partly) sent.
fn write_failed(addr: SocketAddr, error: io::Error) -> Option<ProxyError> {
    Some(match send_timer::is_send_timeout(&error) {
        Some(after) => ProxyError::UpstreamSendTimeout { addr, after },
        None => ProxyError::Upstream {
            addr,
            source: UpstreamError::Io(error),
        },
    })
}

/// The client's side of a failed upload.
fn client_body(error: RequestBodyError) -> Option<ProxyError> {
    Some(match error {
        RequestBodyError::Timeout(after) => ProxyError::ClientBodyTimeout { after },
        RequestBodyError::TooLarge(limit) => ProxyError::BodyTooLarge { limit },
        RequestBodyError::Client(source) => ProxyError::ClientBody { source },
    })
}
