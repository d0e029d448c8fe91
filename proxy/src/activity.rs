//! Per-connection activity: when a client connection last moved a byte and how many of its
//! requests are in flight, so an idle keep-alive connection (HTTP/1 or h2c) can be closed.
//!
//! [`TrackedIo`] stamps every read and write that moves bytes; the service holds an
//! [`InFlight`] guard from the start of a request until its response body is dropped; the
//! connection task races [`Activity::idle`] against the connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Activity of one client connection.
#[derive(Debug)]
pub(crate) struct Activity {
    origin: Instant,
    /// Milliseconds after `origin` of the last read or write that moved bytes.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds after `origin` when the client started the request header block being
    /// waited for, or [`HEADER_ARMED`] (idle: the next byte read starts it) or
    /// [`HEADER_NONE`] (a request is in flight, or the connection is HTTP/2).
    header_since_ms: AtomicU64,
    /// Set by the first HTTP/2 request: streams multiplex, so there is no "next header block".
    multiplexed: AtomicBool,
}

/// `header_since_ms`: the connection is idle; the next byte read starts the header clock.
const HEADER_ARMED: u64 = u64::MAX - 1;
/// `header_since_ms`: no header block is awaited.
const HEADER_NONE: u64 = u64::MAX;

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            // The first header block is awaited from the start of the connection.
            header_since_ms: AtomicU64::new(0),
            multiplexed: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(HEADER_ARMED - 1)
    }

    /// Records that a byte was read: on an idle connection it starts the header clock. While a
    /// request is in flight the connection is busy whatever moves, so the clock is not read
    /// (the request's end stamps it).
    fn read(&self) {
        if self.header_since_ms.load(Ordering::Relaxed) == HEADER_ARMED {
            let now = self.now_ms();
            self.last_ms.store(now, Ordering::Relaxed);
            let _ = self.header_since_ms.compare_exchange(
                HEADER_ARMED,
                now.min(HEADER_ARMED - 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        } else {
            self.wrote();
        }
    }

    /// Records that bytes moved (a write, or a read with no header clock to start); stamps
    /// the time only when no request is in flight.
    fn wrote(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            self.touch();
        }
    }

    /// The connection speaks HTTP/2: no more header clock after its first request.
    pub(crate) fn multiplexed(&self) {
        self.multiplexed.store(true, Ordering::Relaxed);
        self.header_since_ms.store(HEADER_NONE, Ordering::Relaxed);
    }

    /// Resolves once a request header block has been awaited for `timeout`: from the start of
    /// the connection, or from the first byte after the previous response ended. Never
    /// resolves when `timeout` is zero.
    pub(crate) async fn header_timeout(&self, timeout: Duration) {
        if timeout.is_zero() {
            return std::future::pending().await;
        }
        loop {
            let since = self.header_since_ms.load(Ordering::Relaxed);
            // Not waiting for a header block now: look again one timeout later, which is
            // never after the deadline of a wait that starts meanwhile.
            let deadline = if since >= HEADER_ARMED {
                Instant::now().checked_add(timeout)
            } else {
                (self.origin + Duration::from_millis(since)).checked_add(timeout)
            };
            let Some(deadline) = deadline else {
                return std::future::pending().await;
            };
            if since < HEADER_ARMED && deadline <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }

    /// Records that bytes moved now. Relaxed: only this value is published.
    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.header_since_ms.store(HEADER_NONE, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Resolves once no request has been in flight and no byte has moved for `timeout`.
    /// Never resolves when `timeout` is zero.
    pub(crate) async fn idle(&self, timeout: Duration) {
        if timeout.is_zero() {
            return std::future::pending().await;
        }
        loop {
            let now = Instant::now();
            // Acquire pairs with the Release in `InFlight::drop`: a finished request's touch is
            // seen together with the lower count.
            let from = if self.in_flight.load(Ordering::Acquire) > 0 {
                now
            } else {
                self.last()
            };
            // A timeout too long to add to the clock never fires.
            let Some(deadline) = from.checked_add(timeout) else {
                return std::future::pending().await;
            };
            if deadline <= now {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A request in flight on a connection; dropping it ends the request and restarts the idle
/// clock.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        let last = self.0.in_flight.fetch_sub(1, Ordering::Release) == 1;
        if last && !self.0.multiplexed.load(Ordering::Relaxed) {
            // HTTP/1 keep-alive: idle until the next request's first byte.
            let _ = self.0.header_since_ms.compare_exchange(
                HEADER_NONE,
                HEADER_ARMED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

/// A client transport that records its activity.
#[derive(Debug)]
pub(crate) struct TrackedIo<I> {
    inner: I,
    activity: Arc<Activity>,
}

impl<I> TrackedIo<I> {
    pub(crate) fn new(inner: I, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for TrackedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for TrackedIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;

    const IDLE: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn idle_resolves_after_the_timeout_without_activity() {
        let activity = Activity::new();
        let start = Instant::now();
        activity.idle(IDLE).await;
        assert!(start.elapsed() >= IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_keeps_the_connection_open() {
        let activity = Activity::new();
        let guard = activity.request_started();
        assert!(timeout(IDLE * 3, activity.idle(IDLE)).await.is_err());
        drop(guard);
        let ended = Instant::now();
        activity.idle(IDLE).await;
        assert!(
            ended.elapsed() >= IDLE,
            "the idle clock restarts when the request ends"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_moving_restart_the_idle_clock() {
        let activity = Activity::new();
        let (client, server) = tokio::io::duplex(64);
        let mut server = TrackedIo::new(server, Arc::clone(&activity));
        let mut client = client;
        tokio::time::sleep(IDLE / 2).await;
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        let read_at = Instant::now();
        activity.idle(IDLE).await;
        assert!(read_at.elapsed() >= IDLE);
    }

    const HEADER: Duration = Duration::from_secs(3);

    #[tokio::test(start_paused = true)]
    async fn the_header_clock_runs_from_the_start_of_the_connection() {
        let activity = Activity::new();
        let start = Instant::now();
        activity.header_timeout(HEADER).await;
        assert!(start.elapsed() + Duration::from_millis(1) >= HEADER);
        assert!(start.elapsed() <= HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_keep_alive_connection_waits_for_its_first_byte() {
        let activity = Activity::new();
        drop(activity.request_started());
        assert!(
            timeout(HEADER * 10, activity.header_timeout(HEADER))
                .await
                .is_err()
        );
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = TrackedIo::new(server, Arc::clone(&activity));
        client.write_all(b"G").await.unwrap();
        let mut buf = [0u8; 1];
        server.read_exact(&mut buf).await.unwrap();
        let first_byte = Instant::now();
        activity.header_timeout(HEADER).await;
        assert!(first_byte.elapsed() + Duration::from_millis(1) >= HEADER);
        assert!(first_byte.elapsed() <= HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_connections_have_no_header_clock_after_their_first_request() {
        let activity = Activity::new();
        let guard = activity.request_started();
        activity.multiplexed();
        drop(guard);
        assert!(
            timeout(HEADER * 10, activity.header_timeout(HEADER))
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn zero_timeout_never_fires() {
        let activity = Activity::new();
        assert!(
            timeout(Duration::from_secs(3600), activity.idle(Duration::ZERO))
                .await
                .is_err()
        );
    }
}
