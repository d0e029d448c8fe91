//! The body of an upstream request, [`RequestBody`]: the client's body, telling the upstream
//! attempt when it has been sent in full, so the response-header timeout starts then; counts
//! the bytes relayed; keeps a copy of a small body when the request may be sent again
//! ([`replay`]), and is that copy on the next attempt. It sits below the pool that sends it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use strait_shared::table::BodyLimit;
use tokio::sync::oneshot;

use crate::metrics::Counter;
use crate::stall::StallTimer;

mod replay;

pub(crate) use replay::Kept;

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
/// pauses longer than the client body timeout between two reads; a kept copy of it, sent
/// again to the next endpoint; or none at all (an external auth subrequest).
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: Source,
    /// Cuts a client that pauses longer than the client body timeout (`None`: no timeout).
    stall: Option<StallTimer>,
    /// Dropped when the body has ended; its receiver then resolves.
    sent: Option<oneshot::Sender<()>>,
    /// Bytes relayed so far, added to `counter` when the body is dropped.
    bytes: u64,
    /// The route's body limit (`u64::MAX`: none).
    limit: u64,
    /// `None` for a replayed copy: the client sent those bytes once, and they were counted.
    counter: Option<Counter>,
    /// The running count for the access log, when the request is logged.
    tally: Option<Arc<AtomicU64>>,
    /// Keeps a copy of the frames while they stream, when the request may be sent again.
    keeper: Option<replay::Keeper>,
}

#[derive(Debug)]
enum Source {
    /// The client's body, as it arrives.
    Client(Incoming),
    /// A kept copy, on a later attempt.
    Replay(replay::Replayed),
    /// No body at all.
    Empty,
}

impl RequestBody {
    /// `inner`, counted into `counter` (and `tally` as it goes).
    pub(crate) fn new(inner: Incoming, counter: Counter, tally: Option<Arc<AtomicU64>>) -> Self {
        Self {
            inner: Source::Client(inner),
            stall: None,
            sent: None,
            bytes: 0,
            limit: u64::MAX,
            counter: Some(counter),
            tally,
            keeper: None,
        }
    }

    /// No body (an external auth subrequest).
    pub(crate) fn empty() -> Self {
        Self::uncounted(Source::Empty)
    }

    /// A body the client does not send now (nothing to count, no limit, no timeout).
    fn uncounted(inner: Source) -> Self {
        Self {
            inner,
            stall: None,
            sent: None,
            bytes: 0,
            limit: u64::MAX,
            counter: None,
            tally: None,
            keeper: None,
        }
    }

    /// The body `kept` holds (`None`: an empty body), for another attempt (not counted again:
    /// the client sent it once); `None` when the copy is not complete.
    pub(crate) fn replay(kept: Option<Arc<Kept>>) -> Option<Self> {
        let replayed = replay::Replayed::of(kept)?;
        Some(Self::uncounted(Source::Replay(replayed)))
    }

    /// Starts keeping a copy of this body as it streams, when it is not declared larger than
    /// [`replay::KEEP_LIMIT`]; the copy is complete once the body has been read to its end
    /// within the limit. `None`: the body will not be kept.
    pub(crate) fn keep(&mut self) -> Option<Arc<Kept>> {
        let declared = self.size_hint().exact();
        if declared.is_some_and(|len| len > replay::KEEP_LIMIT) || self.bytes > 0 {
            return None;
        }
        let kept = Arc::new(Kept::default());
        self.keeper = Some(replay::Keeper::new(Arc::clone(&kept)));
        Some(kept)
    }

    /// Cuts the body when the client pauses longer than `timeout` between two reads (zero:
    /// never).
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Self {
        self.stall = (!timeout.is_zero()).then(|| StallTimer::new(timeout));
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
        let inner = match &mut this.inner {
            Source::Client(inner) => inner,
            Source::Empty => return Poll::Ready(None),
            Source::Replay(replay) => {
                let frame = replay.next_frame();
                if replay.remaining() == 0 {
                    this.sent = None;
                }
                return Poll::Ready(frame.map(|data| Ok(Frame::data(data))));
            }
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
            stall.progressed();
        }
        let at_end = inner.is_end_stream();
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Err(_))) => {
                this.keeper = None;
                true
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if this.bytes.saturating_add(data.len() as u64) > this.limit {
                        this.sent = None;
                        this.keeper = None;
                        return Poll::Ready(Some(Err(RequestBodyError::TooLarge(this.limit))));
                    }
                    this.count(data.len());
                    if let Some(keeper) = &mut this.keeper
                        && !keeper.data(data)
                    {
                        this.keeper = None;
                    }
                } else {
                    // Trailers are not kept: such a body is not sent again.
                    this.keeper = None;
                }
                at_end
            }
            Poll::Pending => false,
        };
        if ended {
            this.sent = None;
            if let Some(keeper) = this.keeper.take() {
                keeper.end();
            }
        }
        polled.map(|frame| frame.map(|r| r.map_err(RequestBodyError::Client)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Source::Client(inner) => inner.is_end_stream(),
            Source::Replay(replay) => replay.remaining() == 0,
            Source::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Source::Client(inner) => inner.size_hint(),
            Source::Replay(replay) => SizeHint::with_exact(replay.remaining()),
            Source::Empty => SizeHint::with_exact(0),
        }
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
