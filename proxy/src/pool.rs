//! Upstream HTTP/1.1 connections with keep-alive pooling, over Strait's own HTTP/1.1 client
//! codec ([`h1`]), driven in the task of the request that uses them: no connection task, no
//! channel hop between tasks, no spawn per request (docs/architecture.md, "Workers").
//!
//! A [`Link`] is one upstream connection, which the request's task reads and writes itself —
//! the exchange future until the response headers are in, then the response body
//! ([`crate::body::ResponseBody`], through [`Payload`]) while it streams. When the body ends
//! the link goes back to its pool at once, in the same poll. An idle link is not polled;
//! checkout looks at its socket once (no syscall unless it turned readable) to see whether
//! the upstream closed it meanwhile.
//!
//! Per upstream address a stack of idle links (most recent on top). A request goes on a pooled
//! link when one is usable, else on a fresh one. A connection that fails before a byte of the
//! request was written hands the request back, so a stale pooled connection costs a retry,
//! not an error, and a fresh connection that fails the same way counts as a connect failure
//! the caller may retry on another endpoint (`crate::upstream`).
//!
//! Every connection's IO carries the send timer ([`send_timer`], nginx's `proxy_send_timeout`):
//! a write the upstream leaves pending longer than the route's send timeout fails the
//! exchange.
//!
//! Each worker has its own pool (see [`crate::workers`]); the mutex around the idle map is
//! only ever taken by that worker's thread, so it is never contended.
//!
//! Links are pooled per [`Dest`]: an address, the wire protocol ([`Wire`]: HTTP/1.1, HTTP/2
//! with prior knowledge, or ALPN's choice over TLS), and for TLS ([`tls`]: HTTPS and GRPCS
//! backends, external auth's `https` URLs) the server name and settings, so a TLS link is only
//! reused for the name and settings it was opened with. HTTP/2 connections are shared by the
//! requests of a worker ([`h2`]): a link on one holds a stream, not the connection.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::{Request, Response};
use hyper::client::conn::http2;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::ProxyConfig;
use crate::error::ProxyError;
use crate::metrics::Histogram;
use crate::upload::RequestBody;
use attempt::{Limits, failed, headers_within, prepare_h2};
use send_timer::{SendTimeout, Timed};
use strait_shared::table::Timeouts;

mod attempt;
mod h1;
mod h2;
mod payload;
mod send_timer;
pub(crate) mod tls;

pub(crate) use h1::Upgraded;
pub(crate) use payload::Payload;
pub(crate) use tls::TlsDest;

/// Where a link goes: an address and how to speak to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Dest {
    pub addr: SocketAddr,
    pub via: Via,
}

/// How to speak to a backend: the wire protocol, in cleartext or over TLS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Via {
    pub wire: Wire,
    pub tls: Option<TlsDest>,
}

impl Via {
    /// Cleartext HTTP/1.1: every route without a `backend-protocol`.
    pub(crate) const H1: Self = Self {
        wire: Wire::H1,
        tls: None,
    };
}

/// The HTTP version of a link (its value is its TLS configuration slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Wire {
    /// HTTP/1.1 (ALPN `http/1.1` over TLS).
    H1 = 0,
    /// HTTP/2: prior knowledge in cleartext, ALPN `h2` over TLS.
    H2 = 1,
    /// Over TLS, what ALPN picks of `h2` and `http/1.1`; HTTP/1.1 in cleartext.
    Alpn = 2,
}

impl Wire {
    /// The ALPN protocols offered over TLS.
    fn alpn(self) -> &'static [&'static [u8]] {
        match self {
            Self::H1 => &[b"http/1.1"],
            Self::H2 => &[b"h2"],
            Self::Alpn => &[b"h2", b"http/1.1"],
        }
    }
}

/// A map keyed by destination. Destinations come from the table, never from a request, so a
/// fast hasher is safe here (std's SipHash cost two hashes per request on the pool alone).
type DestMap<V> = HashMap<Dest, V, foldhash::fast::RandomState>;

/// One upstream exchange's connection: an HTTP/1.1 connection of its own (read and written by
/// whoever holds the link), or a stream on a shared HTTP/2 connection.
pub(crate) struct Link {
    conn: Conn,
    dest: Dest,
    pool: Pool,
    /// How long this connection took to open, until it first goes back to the pool (a reused
    /// connection reports none, as nginx's `$upstream_connect_time` does).
    connect_time: Option<Duration>,
}

enum Conn {
    H1 {
        /// Boxed: a link moves with its request's futures, the connection's buffers need not.
        conn: Box<h1::H1>,
        /// The send timeout its IO enforces, set for each request.
        send_timeout: SendTimeout,
    },
    H2 {
        sender: h2::H2Sender,
        /// Given back when the link is dropped.
        _stream: h2::Stream,
    },
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Link");
        debug.field("dest", &self.dest);
        match &self.conn {
            Conn::H1 { conn, .. } => debug.field("h1", conn),
            Conn::H2 { sender, .. } => debug.field("h2_open", &!sender.is_closed()),
        };
        debug.finish_non_exhaustive()
    }
}

impl Link {
    pub(crate) fn addr(&self) -> SocketAddr {
        self.dest.addr
    }

    /// The connect time of a connection opened for this request (`None` when reused).
    pub(crate) fn connect_time(&self) -> Option<Duration> {
        self.connect_time
    }

    /// The response has been read to its end: back to the pool when the connection can take
    /// another request now, else closed. An HTTP/2 stream is given back.
    pub(crate) fn release(self) {
        if let Conn::H1 { conn, .. } = &self.conn
            && conn.may_continue()
        {
            let pool = self.pool.clone();
            pool.push(self);
        }
    }

    /// The upgraded (101) connection, the upstream side of the tunnel. `None` on HTTP/2,
    /// which has no 101.
    pub(crate) fn into_upgraded(self) -> Option<Upgraded> {
        match self.conn {
            Conn::H1 { conn, .. } => Some(conn.into_upgraded()),
            Conn::H2 { .. } => None,
        }
    }

    /// Whether a pooled link can take a request: open, the last exchange ended cleanly, not
    /// idle too long.
    fn usable(&mut self, idle_since: Instant, now: Instant, idle_timeout: Duration) -> bool {
        match &mut self.conn {
            Conn::H1 { conn, .. } => {
                now.saturating_duration_since(idle_since) < idle_timeout && conn.reusable()
            }
            Conn::H2 { .. } => false,
        }
    }
}

/// A response's headers and the link it came on (the body still streams over it).
#[derive(Debug)]
pub(crate) struct Sent {
    pub response: Response<Payload>,
    pub link: Link,
}

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No byte of the request reached the upstream: it is whole again in the caller's hands,
    /// for another try.
    NotSent { error: io::Error },
    /// The request may have been sent: its body is gone, its head is still the caller's (over
    /// HTTP/1.1; HTTP/2 takes the whole request). `reused`: it went on a pooled connection
    /// (which the upstream may have closed as the request arrived).
    Failed { error: ProxyError, reused: bool },
}

#[derive(Clone, Debug)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connect_timeout: Duration,
    response_header_timeout: Duration,
    send_timeout: Duration,
    idle_timeout: Duration,
    max_idle_per_host: usize,
    h2_handshake: http2::Builder<hyper_util::rt::TokioExecutor>,
    idle: Mutex<Idle>,
    /// Shared HTTP/2 connections per destination ([`h2`]).
    h2: Mutex<DestMap<Vec<h2::Shared>>>,
    /// `upstream_connect_duration_seconds`.
    connect_time: Histogram,
    /// The worker whose pool this is (`None`: shared by the threads of one runtime).
    owner: Option<usize>,
    /// Checkouts and returns made from a thread other than the owner's: zero by construction
    /// when every connection stays on its worker (a test watches it under load).
    foreign: AtomicU64,
}

#[derive(Debug)]
struct Idle {
    hosts: DestMap<Vec<IdleLink>>,
    last_sweep: Instant,
}

#[derive(Debug)]
struct IdleLink {
    link: Link,
    since: Instant,
}

/// How one attempt on one connection ended.
// The large variant is the common one: boxing it would allocate for every request.
#[allow(clippy::large_enum_variant)]
enum Attempt {
    Done(Result<Sent, SendError>),
    /// The connection failed before the request was written; it is whole again.
    Unsent(Box<dyn std::error::Error + Send + Sync>),
}

impl Pool {
    /// A pool for the threads of one runtime (`owner` `None`) or for worker `owner` alone.
    pub(crate) fn new(config: &ProxyConfig, connect_time: Histogram, owner: Option<usize>) -> Self {
        Self {
            inner: Arc::new(Inner {
                connect_timeout: config.connect_timeout,
                response_header_timeout: config.response_header_timeout,
                send_timeout: config.send_timeout,
                idle_timeout: config.pool_idle_timeout,
                max_idle_per_host: config.pool_max_idle_per_host,
                h2_handshake: h2::builder(),
                idle: Mutex::new(Idle {
                    hosts: DestMap::default(),
                    last_sweep: Instant::now(),
                }),
                h2: Mutex::new(DestMap::default()),
                connect_time,
                owner,
                foreign: AtomicU64::new(0),
            }),
        }
    }

    /// Checkouts and returns from a thread that is not the owning worker.
    pub(crate) fn foreign_uses(&self) -> u64 {
        self.inner.foreign.load(Ordering::Relaxed)
    }

    fn idle_checked(&self) -> MutexGuard<'_, Idle> {
        if let Some(owner) = self.inner.owner
            && owner != crate::metrics::worker()
        {
            self.inner.foreign.fetch_add(1, Ordering::Relaxed);
        }
        self.idle()
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        // The map stays consistent whatever panicked while holding it: entries are only pushed
        // and popped whole.
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn h2_conns(&self) -> MutexGuard<'_, DestMap<Vec<h2::Shared>>> {
        if let Some(owner) = self.inner.owner
            && owner != crate::metrics::worker()
        {
            self.inner.foreign.fetch_add(1, Ordering::Relaxed);
        }
        // As `idle`: connections are only pushed and dropped whole.
        self.inner.h2.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn idle_count(&self) -> usize {
        self.idle().hosts.values().map(Vec::len).sum()
    }

    /// Sends `request` to `dest`: on a pooled connection while one is usable (unless
    /// `fresh`), else on a fresh one. Over HTTP/1.1 only the body is taken: the head stays in
    /// `request` whatever happens, so a next attempt needs no copy of it. Over HTTP/2 the
    /// request is taken whole (hyper's client owns it), and put back if it was not sent.
    pub(crate) async fn send(
        &self,
        dest: &Dest,
        request: &mut Request<RequestBody>,
        timeouts: Option<&Timeouts>,
        fresh: bool,
    ) -> Result<Sent, SendError> {
        let addr = dest.addr;
        let limits = Limits {
            read: timeouts
                .and_then(|t| t.read)
                .unwrap_or(self.inner.response_header_timeout),
            send: timeouts
                .and_then(|t| t.send)
                .unwrap_or(self.inner.send_timeout),
        };
        // A shared HTTP/2 connection that closed (GOAWAY) hands the request back: the next
        // one is tried, a bounded number of times.
        let mut shared_tries = 0;
        while dest.via.wire != Wire::H1
            && !fresh
            && shared_tries < 4
            && let Some((sender, stream)) = self.h2_checkout(dest)
        {
            shared_tries += 1;
            let link = Link {
                conn: Conn::H2 {
                    sender,
                    _stream: stream,
                },
                dest: dest.clone(),
                pool: self.clone(),
                connect_time: None,
            };
            match self.attempt(link, request, limits).await {
                Attempt::Done(result) => return result,
                Attempt::Unsent(error) => {
                    tracing::debug!(%addr, %error, "shared HTTP/2 upstream connection closed; retrying");
                }
            }
        }
        while let Some(link) = (!fresh && dest.via.wire != Wire::H2)
            .then(|| self.checkout(dest))
            .flatten()
        {
            match self.attempt(link, request, limits).await {
                Attempt::Done(result) => return result,
                Attempt::Unsent(error) => {
                    tracing::debug!(%addr, %error, "pooled upstream connection was stale; retrying");
                }
            }
        }
        let connect_timeout = timeouts
            .and_then(|t| t.connect)
            .unwrap_or(self.inner.connect_timeout);
        // Boxed: a new connection is the rare case, and its future (TCP, TLS, HTTP/2 handshakes)
        // would otherwise make every request's future larger.
        let link = match Box::pin(self.connect(dest, connect_timeout)).await {
            Ok(link) => link,
            Err(error) => return Err(SendError::NotSent { error }),
        };
        match self.attempt(link, request, limits).await {
            Attempt::Done(result) => result,
            Attempt::Unsent(error) => Err(SendError::NotSent {
                error: io::Error::new(io::ErrorKind::ConnectionAborted, error),
            }),
        }
    }

    /// One try on one connection, with the response-header and send timeouts. The connection
    /// is driven here, in the request's task, until the response headers are in.
    async fn attempt(
        &self,
        mut link: Link,
        request: &mut Request<RequestBody>,
        limits: Limits,
    ) -> Attempt {
        let addr = link.dest.addr;
        let reused = link.connect_time.is_none();
        let sent = request.body_mut().watch_sent();
        let fail = |error| Attempt::Done(Err(SendError::Failed { error, reused }));
        match &mut link.conn {
            Conn::H1 { conn, send_timeout } => {
                send_timeout.set(limits.send);
                let body = std::mem::replace(request.body_mut(), RequestBody::empty());
                let exchange = conn.exchange(addr, &*request, body);
                match headers_within(exchange, sent, limits.read).await {
                    Err(_elapsed) => fail(ProxyError::UpstreamTimeout { addr }),
                    Ok(Ok((response, body))) => {
                        let response = response.map(|()| Payload::H1(body));
                        Attempt::Done(Ok(Sent { response, link }))
                    }
                    Ok(Err(h1::Failure::Unsent(body, error))) => {
                        *request.body_mut() = body;
                        Attempt::Unsent(error.into())
                    }
                    Ok(Err(h1::Failure::Failed(error))) => fail(error),
                }
            }
            // The send timeout of a shared connection is the pool's (`--upstream-send-timeout`):
            // one request's cannot apply to the others' streams.
            Conn::H2 { sender, .. } => {
                let mut owned = std::mem::replace(request, Request::new(RequestBody::empty()));
                prepare_h2(&mut owned, link.dest.via.tls.is_some());
                // Boxed: hyper's HTTP/2 response future would make every attempt's larger.
                let response = sender.try_send_request(owned);
                match Box::pin(headers_within(response, sent, limits.read)).await {
                    Err(_elapsed) => fail(ProxyError::UpstreamTimeout { addr }),
                    Ok(Ok(response)) => {
                        let response = response.map(Payload::H2);
                        Attempt::Done(Ok(Sent { response, link }))
                    }
                    Ok(Err(mut error)) => match error.take_message() {
                        Some(back) => {
                            *request = back;
                            Attempt::Unsent(error.into_error().into())
                        }
                        None => fail(failed(addr, error.into_error())),
                    },
                }
            }
        }
    }

    fn checkout(&self, dest: &Dest) -> Option<Link> {
        let now = Instant::now();
        let mut idle = self.idle_checked();
        let stack = idle.hosts.get_mut(dest)?;
        while let Some(mut conn) = stack.pop() {
            if conn.link.usable(conn.since, now, self.inner.idle_timeout) {
                return Some(conn.link);
            }
        }
        None
    }

    /// Opens a link to `dest` (TCP, and the TLS handshake for a TLS destination) within
    /// `connect_timeout`: an HTTP/1.1 connection, or a new shared HTTP/2 connection (HTTP/2 by
    /// prior knowledge, or chosen by ALPN) with the link's stream taken on it.
    async fn connect(&self, dest: &Dest, connect_timeout: Duration) -> io::Result<Link> {
        let started = Instant::now();
        let addr = dest.addr;
        let send_timeout = SendTimeout::default();
        let wire = dest.via.wire;
        let open = async {
            let stream = TcpStream::connect(addr).await?;
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%addr, %error, "could not set TCP_NODELAY upstream");
            }
            // The send timer watches the socket's writes, under TLS too.
            let stream = Timed::new(stream, send_timeout.clone());
            match &dest.via.tls {
                None if wire == Wire::H2 => {
                    Ok::<_, io::Error>(Opened::H2(self.h2_handshake(stream).await?))
                }
                None => Ok(Opened::H1(Box::new(h1::H1::new(stream)))),
                Some(tls) => {
                    let stream = tls::connect(tls, wire, stream).await?;
                    if wire == Wire::H2 || (wire == Wire::Alpn && tls::negotiated_h2(&stream)) {
                        Ok(Opened::H2(self.h2_handshake(stream).await?))
                    } else {
                        Ok(Opened::H1(Box::new(h1::H1::new(stream))))
                    }
                }
            }
        };
        let opened = tokio::time::timeout(connect_timeout, open)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        let connect_time = started.elapsed();
        self.inner.connect_time.observe(connect_time.as_secs_f64());
        let conn = match opened {
            Opened::H1(conn) => Conn::H1 { conn, send_timeout },
            Opened::H2(sender) => {
                send_timeout.set(self.inner.send_timeout);
                let stream = self.h2_register(dest, &sender);
                Conn::H2 {
                    sender,
                    _stream: stream,
                }
            }
        };
        Ok(Link {
            conn,
            dest: dest.clone(),
            pool: self.clone(),
            connect_time: Some(connect_time),
        })
    }

    fn push(&self, mut link: Link) {
        link.connect_time = None;
        if self.inner.max_idle_per_host == 0 {
            return;
        }
        let now = Instant::now();
        let idle_timeout = self.inner.idle_timeout;
        let mut idle = self.idle_checked();
        if now.saturating_duration_since(idle.last_sweep) >= idle_timeout {
            idle.hosts.retain(|_, stack| {
                stack.retain_mut(|conn| conn.link.usable(conn.since, now, idle_timeout));
                !stack.is_empty()
            });
            idle.last_sweep = now;
        }
        let stack = idle.hosts.entry(link.dest.clone()).or_default();
        if stack.len() < self.inner.max_idle_per_host {
            stack.push(IdleLink { link, since: now });
        }
    }
}

/// A connection just opened.
enum Opened {
    H1(Box<h1::H1>),
    H2(h2::H2Sender),
}
