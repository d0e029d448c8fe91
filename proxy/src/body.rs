//! The two body types of the data path. Both stream; neither collects.
//!
//! - [`ResponseBody`]: what the client gets — the upstream's body, or a short one of ours —
//!   holding the connection's in-flight guard until hyper drops it.
//! - [`RequestBody`]: what the upstream gets — the client's body, telling the upstream attempt
//!   when it has been sent in full, so the response-header timeout starts then.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::oneshot;

use crate::activity::InFlight;

/// Body of every response the proxy sends.
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
    in_flight: Option<InFlight>,
}

#[derive(Debug)]
enum Kind {
    Upstream(Incoming),
    Full(Option<Bytes>),
}

impl ResponseBody {
    pub(crate) fn upstream(body: Incoming) -> Self {
        Self {
            kind: Kind::Upstream(body),
            in_flight: None,
        }
    }

    pub(crate) fn text(text: &'static str) -> Self {
        let bytes = (!text.is_empty()).then(|| Bytes::from_static(text.as_bytes()));
        Self {
            kind: Kind::Full(bytes),
            in_flight: None,
        }
    }

    /// Keeps the request counted as in flight until this body is dropped.
    pub(crate) fn hold(mut self, in_flight: InFlight) -> Self {
        self.in_flight = Some(in_flight);
        self
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Upstream(body) => Pin::new(body).poll_frame(cx),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Upstream(body) => body.is_end_stream(),
            Kind::Full(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Upstream(body) => body.size_hint(),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

/// Body of an upstream request: the client's body, passed through.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: Incoming,
    /// Dropped when the body has ended; its receiver then resolves.
    sent: Option<oneshot::Sender<()>>,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming) -> Self {
        Self { inner, sent: None }
    }

    /// A receiver that resolves once the body has been read to its end (or dropped), or `None`
    /// when there is nothing left to send. Arms a fresh signal on every call, so a request that
    /// comes back from a stale connection can be watched again.
    pub(crate) fn watch_sent(&mut self) -> Option<oneshot::Receiver<()>> {
        if self.inner.is_end_stream() {
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
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            this.sent = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
