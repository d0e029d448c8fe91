//! HTTP/2 upstream connections (GRPC, GRPCS, H2C, and AUTO_HTTP when ALPN picks `h2`):
//! multiplexed, so one connection is shared by many requests of a worker.
//!
//! Unlike an HTTP/1.1 [`Link`](super::Link), whose connection future the request's own task
//! drives, an HTTP/2 connection cannot live in one request's task: its streams belong to
//! several requests at once, and its frames (flow-control updates, pings, GOAWAY) must move
//! whichever of them is polled. Its future runs in a task of its own, spawned on the worker's
//! runtime: workers are single-threaded runtimes (`crate::workers`), so the task, like the
//! requests using it, never leaves the worker's thread.
//!
//! Per destination the pool keeps the open connections with their count of streams in flight;
//! a request takes the first with fewer than [`MAX_STREAMS`], else a new connection is opened.
//! Flow control is h2's. Idle connections are pinged ([`KEEP_ALIVE`]) so a dead peer is found
//! before a request is sent on it, and are closed after the pool's idle timeout. A connection
//! the upstream closed or sent GOAWAY on hands back a request it did not send
//! (`try_send_request`): it goes on another connection. A stream the upstream refused after
//! GOAWAY fails the exchange, which the retry policy may send again (`crate::upstream`).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::time::Instant;

use super::{Dest, Pool};
use crate::upload::RequestBody;

/// Streams a request may add to a connection before another connection is opened (the
/// common server default, 100, which also bounds how long one slow connection can queue).
pub(super) const MAX_STREAMS: usize = 100;

/// How often an idle connection is pinged, and how long the answer may take.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) type H2Sender = http2::SendRequest<RequestBody>;

/// One shared connection.
#[derive(Debug)]
pub(super) struct Shared {
    sender: H2Sender,
    streams: Arc<AtomicUsize>,
    /// When a request last took a stream on it.
    last_used: Instant,
}

/// A request's place on a shared connection, given back when dropped (its response body
/// ended or was dropped).
#[derive(Debug)]
pub(crate) struct Stream(Arc<AtomicUsize>);

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection settings: hyper's HTTP/2 client with pings while idle, on tokio.
pub(super) fn builder() -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    builder
}

impl Pool {
    /// A stream on an open connection to `dest` with room for one, if there is one. Closed
    /// connections, and ones idle past the idle timeout, are dropped on the way.
    pub(super) fn h2_checkout(&self, dest: &Dest) -> Option<(H2Sender, Stream)> {
        let now = Instant::now();
        let idle_timeout = self.inner.idle_timeout;
        let mut shared = self.h2_conns();
        let conns = shared.get_mut(dest)?;
        conns.retain(|conn| {
            let idle = conn.streams.load(Ordering::Relaxed) == 0
                && now.saturating_duration_since(conn.last_used) >= idle_timeout;
            !conn.sender.is_closed() && !idle
        });
        let conn = conns
            .iter_mut()
            .find(|conn| conn.streams.load(Ordering::Relaxed) < MAX_STREAMS)?;
        conn.streams.fetch_add(1, Ordering::Relaxed);
        conn.last_used = now;
        Some((conn.sender.clone(), Stream(Arc::clone(&conn.streams))))
    }

    /// Adds a new connection to `dest`'s, with the opening request's stream taken.
    pub(super) fn h2_register(&self, dest: &Dest, sender: &H2Sender) -> Stream {
        let streams = Arc::new(AtomicUsize::new(1));
        let conn = Shared {
            sender: sender.clone(),
            streams: Arc::clone(&streams),
            last_used: Instant::now(),
        };
        let mut shared = self.h2_conns();
        let conns = shared.entry(dest.clone()).or_default();
        conns.retain(|conn| !conn.sender.is_closed());
        conns.push(conn);
        Stream(streams)
    }

    /// The HTTP/2 handshake over an open stream; the connection's future is spawned on the
    /// current (worker's) runtime.
    pub(super) async fn h2_handshake<I>(&self, io: I) -> io::Result<H2Sender>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) = self
            .inner
            .h2_handshake
            .handshake(TokioIo::new(io))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(async move {
            if let Err(error) = conn.await {
                tracing::debug!(%error, "HTTP/2 upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}
