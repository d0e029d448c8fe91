//! The body of every response: [`ResponseBody`], what the client gets — the upstream's body,
//! or a short one of ours — holding the connection's in-flight guard, the request's
//! [`Exchange`] and its connection-limit slot until hyper drops it; counts the bytes sent.
//! Streamed, never collected. (The request's body, going the other way, is
//! `crate::upload`'s: the pool below sends it.)

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::activity::InFlight;
use crate::exchange::Exchange;
use crate::pool::{Link, Payload};
use crate::zones::Slot;

pub use crate::stall::ResponseBodyError;
use crate::stall::StallTimer;

/// Body of every response the proxy sends.
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
    in_flight: Option<InFlight>,
    /// Recorded (metrics, access log) when the body is dropped.
    exchange: Option<Exchange>,
    /// Cuts an upstream body that stalls (`None`: no read timeout).
    read_timer: Option<StallTimer>,
    /// The request's place in its route's connection limit, given back with the body.
    limit_slot: Option<Slot>,
}

#[derive(Debug)]
enum Kind {
    /// The upstream's body and the connection it streams over (`None` once it went back to
    /// the pool, or for an upgrade).
    Upstream(Payload, Option<Link>),
    Full(Option<Bytes>),
}

impl ResponseBody {
    /// The upstream's body; an HTTP/1.1 body is read from `link`, which goes back to its pool
    /// when the body ends.
    pub(crate) fn upstream(body: Payload, link: Option<Link>) -> Self {
        Self {
            kind: Kind::Upstream(body, link),
            in_flight: None,
            exchange: None,
            read_timer: None,
            limit_slot: None,
        }
    }

    /// Cuts the upstream's body when a read waits longer than `timeout` (zero: never).
    pub(crate) fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timer = (!timeout.is_zero()).then(|| StallTimer::new(timeout));
        self
    }

    pub(crate) fn text(text: &'static str) -> Self {
        let bytes = (!text.is_empty()).then(|| Bytes::from_static(text.as_bytes()));
        Self {
            kind: Kind::Full(bytes),
            in_flight: None,
            exchange: None,
            read_timer: None,
            limit_slot: None,
        }
    }

    /// Keeps the request's connection-limit slot until this body is dropped.
    pub(crate) fn with_limit_slot(mut self, slot: Option<Slot>) -> Self {
        self.limit_slot = slot;
        self
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
                let polled = body.poll_frame(link.as_mut(), cx);
                if let Some(timer) = &mut this.read_timer {
                    if !polled.is_pending() {
                        timer.progressed();
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
                    link.release();
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
            link.release();
        }
    }
}
