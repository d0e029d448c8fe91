//! Upstream HTTP/1.1 connections with keep-alive pooling, over `hyper::client::conn::http1`.
//!
//! Per upstream address a stack of idle senders (most recent on top). A request goes on a
//! pooled connection when one is usable, else on a fresh one. `try_send_request` hands a
//! request back when a connection failed before it was written, so a stale pooled connection
//! costs a retry, not an error, and a fresh connection that fails the same way counts as a
//! connect failure the caller may retry on another endpoint.
//!
//! The idle map sits behind a mutex held only to push or pop one entry (or to sweep expired
//! entries, at most once per idle timeout).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use prometheus_client::metrics::histogram::Histogram;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::body::{RequestBody, RequestBodyError};
use crate::config::ProxyConfig;
use crate::error::ProxyError;

pub(crate) type Sender = http1::SendRequest<RequestBody>;

/// A response's headers, the connection it came on, and where that connection goes.
#[derive(Debug)]
pub(crate) struct Sent {
    pub response: Response<Incoming>,
    pub sender: Sender,
    pub addr: SocketAddr,
}

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No byte of the request reached the upstream: it comes back for another try (boxed:
    /// the failure path pays for the allocation, not every response).
    NotSent {
        request: Box<Request<RequestBody>>,
        error: io::Error,
    },
    /// The request may have been sent; it is gone.
    Failed(ProxyError),
}

#[derive(Clone, Debug)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connect_timeout: Duration,
    response_header_timeout: Duration,
    idle_timeout: Duration,
    max_idle_per_host: usize,
    handshake: http1::Builder,
    idle: Mutex<Idle>,
    /// `upstream_connect_duration_seconds`.
    connect_time: Histogram,
}

#[derive(Debug)]
struct Idle {
    hosts: HashMap<SocketAddr, Vec<IdleConn>>,
    last_sweep: Instant,
}

#[derive(Debug)]
struct IdleConn {
    sender: Sender,
    since: Instant,
}

impl IdleConn {
    fn usable(&self, now: Instant, idle_timeout: Duration) -> bool {
        !self.sender.is_closed()
            && self.sender.is_ready()
            && now.saturating_duration_since(self.since) < idle_timeout
    }
}

/// How one attempt on one connection ended.
enum Attempt {
    Done(Result<Sent, SendError>),
    /// The connection failed before the request was written; here it is back.
    Unsent(Request<RequestBody>, hyper::Error),
}

impl Pool {
    pub(crate) fn new(config: &ProxyConfig, connect_time: Histogram) -> Self {
        Self {
            inner: Arc::new(Inner {
                connect_timeout: config.connect_timeout,
                response_header_timeout: config.response_header_timeout,
                idle_timeout: config.pool_idle_timeout,
                max_idle_per_host: config.pool_max_idle_per_host,
                handshake: http1::Builder::new(),
                idle: Mutex::new(Idle {
                    hosts: HashMap::new(),
                    last_sweep: Instant::now(),
                }),
                connect_time,
            }),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        // The map stays consistent whatever panicked while holding it: entries are only pushed
        // and popped whole.
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn idle_count(&self) -> usize {
        self.idle().hosts.values().map(Vec::len).sum()
    }

    /// Sends `request` to `addr`: on a pooled connection while one is usable, else on a fresh
    /// one.
    pub(crate) async fn send(
        &self,
        addr: SocketAddr,
        mut request: Request<RequestBody>,
    ) -> Result<Sent, SendError> {
        while let Some(sender) = self.checkout(addr) {
            match self.attempt(sender, addr, request).await {
                Attempt::Done(result) => return result,
                Attempt::Unsent(back, error) => {
                    tracing::debug!(%addr, %error, "pooled upstream connection was stale; retrying");
                    request = back;
                }
            }
        }
        let sender = match self.connect(addr).await {
            Ok(sender) => sender,
            Err(error) => {
                return Err(SendError::NotSent {
                    request: Box::new(request),
                    error,
                });
            }
        };
        match self.attempt(sender, addr, request).await {
            Attempt::Done(result) => result,
            Attempt::Unsent(request, error) => Err(SendError::NotSent {
                request: Box::new(request),
                error: io::Error::new(io::ErrorKind::ConnectionAborted, error),
            }),
        }
    }

    /// One try on one connection, with the response-header timeout.
    async fn attempt(
        &self,
        mut sender: Sender,
        addr: SocketAddr,
        mut request: Request<RequestBody>,
    ) -> Attempt {
        let sent = request.body_mut().watch_sent();
        let response = sender.try_send_request(request);
        match headers_within(response, sent, self.inner.response_header_timeout).await {
            Err(_elapsed) => {
                Attempt::Done(Err(SendError::Failed(ProxyError::UpstreamTimeout { addr })))
            }
            Ok(Ok(response)) => Attempt::Done(Ok(Sent {
                response,
                sender,
                addr,
            })),
            Ok(Err(mut error)) => match error.take_message() {
                Some(request) => Attempt::Unsent(request, error.into_error()),
                None => Attempt::Done(Err(SendError::Failed(failed(addr, error.into_error())))),
            },
        }
    }

    fn checkout(&self, addr: SocketAddr) -> Option<Sender> {
        let now = Instant::now();
        let mut idle = self.idle();
        let stack = idle.hosts.get_mut(&addr)?;
        while let Some(conn) = stack.pop() {
            if conn.usable(now, self.inner.idle_timeout) {
                return Some(conn.sender);
            }
        }
        None
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<Sender> {
        let started = Instant::now();
        let stream = tokio::time::timeout(self.inner.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%addr, %error, "could not set TCP_NODELAY upstream");
        }
        let (sender, conn) = self
            .inner
            .handshake
            .handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        self.inner
            .connect_time
            .observe(started.elapsed().as_secs_f64());
        tokio::spawn(async move {
            if let Err(error) = conn.with_upgrades().await {
                tracing::debug!(%addr, %error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Returns `sender` to the pool once its connection can take another request (the
    /// response body has been read to its end); a connection that closes instead is dropped.
    pub(crate) fn checkin(&self, addr: SocketAddr, mut sender: Sender) {
        if self.inner.max_idle_per_host == 0 {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move {
            if sender.ready().await.is_ok() {
                pool.push(addr, sender);
            }
        });
    }

    fn push(&self, addr: SocketAddr, sender: Sender) {
        let now = Instant::now();
        let idle_timeout = self.inner.idle_timeout;
        let mut idle = self.idle();
        if now.saturating_duration_since(idle.last_sweep) >= idle_timeout {
            idle.hosts.retain(|_, stack| {
                stack.retain(|conn| conn.usable(now, idle_timeout));
                !stack.is_empty()
            });
            idle.last_sweep = now;
        }
        let stack = idle.hosts.entry(addr).or_default();
        if stack.len() < self.inner.max_idle_per_host {
            stack.push(IdleConn { sender, since: now });
        }
    }
}

/// Whose fault a failed exchange was: hyper reports an error of the request body — the client's
/// body, relayed — as a "user" error; anything else is the upstream's.
fn failed(addr: SocketAddr, source: hyper::Error) -> ProxyError {
    let cause = std::error::Error::source(&source);
    if let Some(RequestBodyError::Timeout(after)) = cause.and_then(|e| e.downcast_ref()) {
        ProxyError::ClientBodyTimeout { after: *after }
    } else if source.is_user() {
        ProxyError::ClientBody { source }
    } else {
        ProxyError::Upstream { addr, source }
    }
}

/// Waits for response headers: without limit while the request body is still being sent (a
/// slow upload is not a slow upstream), then at most `limit`.
async fn headers_within<F: Future>(
    response: F,
    body_sent: Option<oneshot::Receiver<()>>,
    limit: Duration,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::pin!(response);
    if let Some(body_sent) = body_sent {
        tokio::select! {
            output = &mut response => return Ok(output),
            _ = body_sent => {}
        }
    }
    tokio::time::timeout(limit, response).await
}
