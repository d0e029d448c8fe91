//! nginx's `proxy_send_timeout` on an upstream connection: the longest a write to the upstream
//! may stay pending (its socket buffer full because the upstream reads nothing), between two
//! successive writes, not for the whole request. The timer sits in the connection's IO, under
//! hyper, so it covers the request head and body and, after a 101, the upstream direction of
//! the tunnel, with no cost while writes complete.
//!
//! The timeout is per request (a route's `proxy-send-timeout`), while the connection is
//! pooled across requests: the link sets it before each request through a [`SendTimeout`]
//! shared with the IO.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::stall::StallTimer;

/// The send timeout of one connection, set by its link before each request (nanoseconds,
/// zero: none).
#[derive(Clone, Debug, Default)]
pub(crate) struct SendTimeout(Arc<AtomicU64>);

impl SendTimeout {
    pub(crate) fn set(&self, timeout: Duration) {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.0.store(nanos, Ordering::Relaxed);
    }

    fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// The error a write fails with once it waited for the send timeout; found again in hyper's
/// error by [`is_send_timeout`].
#[derive(Debug, thiserror::Error)]
#[error("the upstream read nothing for {0:?}")]
pub(crate) struct SendTimedOut(pub(crate) Duration);

/// The send timeout behind `error`, if a write timed out.
pub(crate) fn is_send_timeout(error: &(dyn std::error::Error + 'static)) -> Option<Duration> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(timed_out) = error.downcast_ref::<SendTimedOut>() {
            return Some(timed_out.0);
        }
        if let Some(io) = error.downcast_ref::<io::Error>()
            && let Some(timed_out) = io.get_ref().and_then(|e| e.downcast_ref::<SendTimedOut>())
        {
            return Some(timed_out.0);
        }
        next = error.source();
    }
    None
}

/// An upstream connection's IO with the send timer on its writes.
#[derive(Debug)]
pub(super) struct Timed<T> {
    inner: T,
    timeout: SendTimeout,
    /// Allocated at the first write that has to wait.
    timer: Option<StallTimer>,
}

impl<T> Timed<T> {
    pub(super) fn new(inner: T, timeout: SendTimeout) -> Self {
        Self {
            inner,
            timeout,
            timer: None,
        }
    }

    /// A write came back `polled`: a pending one arms the timer (and fails once it expired),
    /// a finished one disarms it.
    fn check<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if !polled.is_pending() {
            if let Some(timer) = &mut self.timer {
                timer.progressed();
            }
            return polled;
        }
        let timeout = self.timeout.get();
        if timeout.is_zero() {
            return Poll::Pending;
        }
        let timer = self.timer.get_or_insert_with(|| StallTimer::new(timeout));
        if timer.timeout() != timeout {
            timer.set_timeout(timeout);
        }
        if timer.waiting(cx) {
            timer.progressed();
            let error = io::Error::new(io::ErrorKind::TimedOut, SendTimedOut(timeout));
            return Poll::Ready(Err(error));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Timed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Timed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.check(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.check(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.check(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A peer that reads nothing: writes fill the pipe, then one waits past the timeout and
    /// fails with [`SendTimedOut`]; while the peer reads, writes never time out.
    #[tokio::test(start_paused = true)]
    async fn a_write_pending_past_the_timeout_fails_and_flowing_writes_do_not() {
        let (near, mut far) = tokio::io::duplex(1024);
        let timeout = SendTimeout::default();
        timeout.set(Duration::from_secs(1));
        let mut timed = Timed::new(near, timeout.clone());
        timed.write_all(&[0u8; 1024]).await.unwrap();
        let started = tokio::time::Instant::now();
        let error = timed.write_all(b"more").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(is_send_timeout(&error), Some(Duration::from_secs(1)));
        assert_eq!(started.elapsed(), Duration::from_secs(1));

        let mut sink = [0u8; 1024];
        far.read_exact(&mut sink).await.unwrap();
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            far.read_to_end(&mut all).await.map(|_| all.len())
        });
        // 8 KiB through a 1 KiB pipe: every write waits for the reader, never for 1 s.
        timed.write_all(&[1u8; 8192]).await.unwrap();
        drop(timed);
        assert_eq!(reader.await.unwrap().unwrap(), 8192);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_timeout_never_fires() {
        let (near, _far) = tokio::io::duplex(16);
        let mut timed = Timed::new(near, SendTimeout::default());
        timed.write_all(&[0u8; 16]).await.unwrap();
        let blocked = tokio::time::timeout(Duration::from_secs(3600), timed.write_all(b"x")).await;
        assert!(blocked.is_err(), "still pending after an hour");
    }
}
