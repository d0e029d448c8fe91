//! One client connection: HTTP/1.1 or h2c (prior knowledge) via hyper-util's auto builder,
//! with upgrades, header limits, an idle watchdog and the listener's drain signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::activity::{Activity, TrackedIo};
use crate::config::{HYPER_MAX_HEADERS, ListenerInfo, ProxyConfig};
use crate::drain::{self, Phase, Signal};
use crate::forwarding::ConnValues;
use crate::proxy::{ConnCtx, Proxy};
use crate::service;
use crate::tls::TlsFacts;

/// hyper's smallest HTTP/1 read buffer; `max_buf_size` panics below it.
const MIN_H1_BUF: usize = 8 * 1024;

/// HTTP/2 limits, set explicitly rather than inherited (docs/architecture.md, "Slow and
/// hostile clients"). Streams open at once per connection: nginx's
/// `http2_max_concurrent_streams`.
const H2_MAX_CONCURRENT_STREAMS: u32 = 128;
/// Rapid reset (CVE-2023-44487): streams the client opened and reset before the service saw
/// them; over this the connection gets GOAWAY (h2's default).
const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// Streams the server had to reset for errors the client caused (RUSTSEC-2024-0003, and the
/// 2025 "MadeYouReset" variant); over this the connection gets GOAWAY (hyper's default).
const H2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// The connection builder of a listener, with the configured limits. Oversized HTTP/1 header
/// blocks (bytes or count) get 431 from hyper; oversized HTTP/2 header lists get 431 from h2.
pub(crate) fn builder(config: &ProxyConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper's own HTTP/1 header read timeout is off: it would arm a fresh timer for every
    // request. The connection's `Activity` enforces both bounds it stood for, the idle
    // keep-alive timeout and the client header timeout, with one timer per connection.
    let mut http1 = builder.http1();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(config.max_header_bytes.max(MIN_H1_BUF));
    // Setting the limit, even to hyper's own value, moves the parse buffer to the heap.
    if config.max_headers != HYPER_MAX_HEADERS {
        http1.max_headers(config.max_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESET_STREAMS);
    builder
}

/// Serves one accepted connection until it closes, goes idle, or the drain ends it.
pub(crate) async fn serve<I>(
    io: I,
    peer: SocketAddr,
    listener: ListenerInfo,
    tls: Option<TlsFacts>,
    proxy: Arc<Proxy>,
    builder: &Builder<TokioExecutor>,
    drain: Signal,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeouts = Timeouts {
        idle: proxy.config.idle_timeout,
        header: proxy.config.client_header_timeout,
    };
    let activity = Activity::new();
    let io = TokioIo::new(TrackedIo::new(io, Arc::clone(&activity)));
    let ctx = Arc::new(ConnCtx {
        proxy,
        peer,
        listener,
        tls,
        activity: Arc::clone(&activity),
        drain: drain.clone(),
        forwarded: ConnValues::new(peer.ip(), listener),
    });
    let service = service_fn(move |request| service::handle(Arc::clone(&ctx), request));
    let conn = builder.serve_connection_with_upgrades(io, service);
    drive(conn, &activity, timeouts, drain).await;
}

#[derive(Clone, Copy)]
struct Timeouts {
    idle: Duration,
    header: Duration,
}

/// Polls the connection; on drain or idleness shuts it down gracefully and keeps polling until
/// it finishes, or until the drain's grace period is over. A header block not complete within
/// the client header timeout closes the connection at once, without an answer (hyper owns the
/// socket and a half-read request has no response slot; nginx closes too).
async fn drive<C>(conn: C, activity: &Activity, timeouts: Timeouts, mut drain: Signal)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(conn);
    let reason = tokio::select! {
        ended = conn.as_mut() => return log_end(ended),
        () = drain::reached(&mut drain, Phase::Draining) => "draining",
        () = activity.idle(timeouts.idle) => "idle",
        () = activity.header_timeout(timeouts.header) => {
            tracing::debug!(timeout = ?timeouts.header, "closing connection: request header timed out");
            return;
        }
    };
    tracing::debug!(reason, "closing connection gracefully");
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        ended = conn.as_mut() => log_end(ended),
        () = drain::reached(&mut drain, Phase::Closing) => {
            tracing::debug!("drain grace period over; dropping connection");
        }
    }
}

fn log_end<E: std::fmt::Display>(ended: Result<(), E>) {
    match ended {
        Ok(()) => tracing::trace!("connection closed"),
        Err(error) => tracing::debug!(%error, "connection ended with an error"),
    }
}
