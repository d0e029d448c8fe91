//! The two body types of the data path. Both stream; neither collects.
//!
//! - [`ResponseBody`]: what the client gets — the upstream's body, or a short one of ours —
//!   holding the connection's in-flight guard and the request's [`Exchange`] until hyper drops
//!   it; counts the bytes sent.
//! - [`RequestBody`]: what the upstream gets — the client's body, telling the upstream attempt
//!   when it has been sent in full, so the response-header timeout starts then; counts the
//!   bytes relayed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::oneshot;

use crate::activity::InFlight;
use crate::exchange::Exchange;
use crate::metrics::Counter;
use crate::pool::Link;

mod stall;

pub use stall::ResponseBodyError;
use strait_shared::table::BodyLimit;

/// Body of every response the proxy sends.
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
    in_flight: Option<InFlight>,
    /// Recorded (metrics, access log) when the body is dropped.
    exchange: Option<Exchange>,
    /// Cuts an upstream body that stalls (`None`: no read timeout).
    read_timer: Option<stall::ReadTimer>,
}

#[derive(Debug)]
enum Kind {
    /// The upstream's body and the connection it streams over (`None` once it went back to
    /// the pool, or for an upgrade).
    Upstream(Incoming, Option<Link>),
    Full(Option<Bytes>),
}

impl ResponseBody {
    /// The upstream's body; `link` is polled while the body streams (it moves the body's
    /// bytes) and released to its pool when the body ends.
    pub(crate) fn upstream(body: Incoming, link: Option<Link>) -> Self {
        Self {
            kind: Kind::Upstream(body, link),
            in_flight: None,
            exchange: None,
            read_timer: None,
        }
    }

    /// Cuts the upstream's body when a read waits longer than `timeout` (zero: never).
    pub(crate) fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timer = (!timeout.is_zero()).then(|| stall::ReadTimer::new(timeout));
        self
    }

    pub(crate) fn text(text: &'static str) -> Self {
        let bytes = (!text.is_empty()).then(|| Bytes::from_static(text.as_bytes()));
        Self {
            kind: Kind::Full(bytes),
            in_flight: None,
            exchange: None,
            read_timer: None,
        }
    }

    /// Keeps the request counted as in flight until this body is dropped, and records its
    /// exchange then.
    pub(crate) fn hold(mut self, in_flight: InFlight, exchange: Exchange) -> Self {
        self.in_flight = Some(in_flight);
        self.exchange = Some(exchange);
        self
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = ResponseBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseBodyError>>> {
        let this = self.get_mut();
        let polled = match &mut this.kind {
            Kind::Upstream(body, link) => {
                if let Some(link) = link {
                    link.drive(cx);
                }
                let polled = Pin::new(&mut *body).poll_frame(cx);
                if let Some(timer) = &mut this.read_timer {
                    if !polled.is_pending() {
                        timer.read();
                    } else if timer.waiting(cx) {
                        // The link is dropped with the body: a stalled connection is closed.
                        let after = timer.timeout();
                        return Poll::Ready(Some(Err(ResponseBodyError::ReadTimeout(after))));
                    }
                }
                let ended = match &polled {
                    Poll::Ready(None) => true,
                    Poll::Ready(Some(Ok(_))) => body.is_end_stream(),
                    Poll::Ready(Some(Err(_))) | Poll::Pending => false,
                };
                if ended && let Some(link) = link.take() {
                    link.release(cx);
                }
                polled
            }
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        };
        if let (Poll::Ready(Some(Ok(frame))), Some(exchange)) = (&polled, &mut this.exchange)
            && let Some(data) = frame.data_ref()
        {
            exchange.sent_bytes(data.len());
        }
        polled.map(|frame| frame.map(|r| r.map_err(ResponseBodyError::Upstream)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Upstream(body, _) => body.is_end_stream(),
            Kind::Full(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Upstream(body, _) => body.size_hint(),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

impl Drop for ResponseBody {
    /// A body with nothing left to read (no body at all, or read to its end by hyper without
    /// a last poll) still releases its connection; one dropped midway closes it.
    fn drop(&mut self) {
        if let Kind::Upstream(body, link) = &mut self.kind
            && body.is_end_stream()
            && let Some(link) = link.take()
        {
            link.release_now();
        }
    }
}

/// Why the client's body could not be relayed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestBodyError {
    /// The client's connection failed or broke the body's framing.
    #[error(transparent)]
    Client(#[from] hyper::Error),
    /// The client sent nothing for the client body timeout.
    #[error("no request body data from the client for {0:?}")]
    Timeout(Duration),
    /// The body grew past the route's limit (bytes); nothing past it was relayed.
    #[error("request body over the limit of {0} bytes")]
    TooLarge(u64),
}

/// Body of an upstream request: the client's body, passed through, cut when the client
/// pauses longer than the client body timeout between two reads; or none at all (an external
/// auth subrequest).
#[derive(Debug)]
pub(crate) struct RequestBody {
    /// `None`: an empty body.
    inner: Option<Incoming>,
    /// Cuts a client that pauses longer than the client body timeout (`None`: no timeout).
    stall: Option<stall::ReadTimer>,
    /// Dropped when the body has ended; its receiver then resolves.
    sent: Option<oneshot::Sender<()>>,
    /// Bytes relayed so far, added to `counter` when the body is dropped.
    bytes: u64,
    /// The route's body limit (`u64::MAX`: none).
    limit: u64,
    counter: Option<Counter>,
    /// The running count for the access log, when the request is logged.
    tally: Option<Arc<AtomicU64>>,
}

impl RequestBody {
    /// `inner`, counted into `counter` (and `tally` as it goes).
    pub(crate) fn new(inner: Incoming, counter: Counter, tally: Option<Arc<AtomicU64>>) -> Self {
        Self {
            inner: Some(inner),
            stall: None,
            sent: None,
            bytes: 0,
            limit: u64::MAX,
            counter: Some(counter),
            tally,
        }
    }

    /// No body.
    pub(crate) fn empty() -> Self {
        Self {
            inner: None,
            stall: None,
            sent: None,
            bytes: 0,
            limit: u64::MAX,
            counter: None,
            tally: None,
        }
    }

    /// Cuts the body when the client pauses longer than `timeout` between two reads (zero:
    /// never).
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Self {
        self.stall = (!timeout.is_zero()).then(|| stall::ReadTimer::new(timeout));
        self
    }

    /// Fails the body at the first frame that would take it past `limit` bytes (`None`:
    /// never), so nothing past the limit goes upstream.
    pub(crate) fn with_limit(mut self, limit: Option<BodyLimit>) -> Self {
        self.limit = limit.map_or(u64::MAX, |l| l.0);
        self
    }

    /// A receiver that resolves once the body has been read to its end (or dropped), or `None`
    /// when there is nothing left to send. Arms a fresh signal on every call, so a request that
    /// comes back from a stale connection can be watched again.
    pub(crate) fn watch_sent(&mut self) -> Option<oneshot::Receiver<()>> {
        if self.is_end_stream() {
            self.sent = None;
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.sent = Some(tx);
        Some(rx)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let this = self.get_mut();
        let Some(inner) = &mut this.inner else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(&mut *inner).poll_frame(cx);
        if polled.is_pending() {
            if let Some(stall) = &mut this.stall
                && stall.waiting(cx)
            {
                this.sent = None;
                return Poll::Ready(Some(Err(RequestBodyError::Timeout(stall.timeout()))));
            }
            return Poll::Pending;
        }
        if let Some(stall) = &mut this.stall {
            stall.read();
        }
        let ended = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if this.bytes.saturating_add(data.len() as u64) > this.limit {
                        this.sent = None;
                        return Poll::Ready(Some(Err(RequestBodyError::TooLarge(this.limit))));
                    }
                    this.count(data.len());
                }
                this.inner.as_ref().is_none_or(Incoming::is_end_stream)
            }
            Poll::Pending => false,
        };
        if ended {
            this.sent = None;
        }
        polled.map(|frame| frame.map(|r| r.map_err(RequestBodyError::Client)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl RequestBody {
    fn count(&mut self, len: usize) {
        let len = len as u64;
        self.bytes += len;
        if let Some(tally) = &self.tally {
            tally.fetch_add(len, Ordering::Relaxed);
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if self.bytes > 0
            && let Some(counter) = &self.counter
        {
            counter.inc_by(self.bytes);
        }
    }
}
