//! Per-core workers: the data path runs on `N` threads, each a single-threaded tokio runtime
//! with its own listening sockets (`SO_REUSEPORT`: the kernel spreads new connections over
//! them), its own upstream connection pool and its own tasks. A connection, its requests and
//! the upstream connections they use never leave the thread that accepted it: no work
//! stealing, no cross-thread wake-up, no lock another core could hold (docs/architecture.md,
//! "Workers").
//!
//! What the workers share is read-only on the request path or touched once per connection:
//! the route table (`ArcSwap`, one `load` per request), the configuration, the metric
//! families, the access-log channel and the client-connection cap.

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};

use crate::proxy::Proxy;

/// Listen backlog of each worker's socket (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: u32 = 4096;

/// The worker count `--workers 0` means: the CPUs this process may use (affinity mask and
/// cgroup quota, as [`std::thread::available_parallelism`] reads them), at least one.
pub fn default_count() -> NonZeroUsize {
    thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// `count` listening sockets on `addr`, all with `SO_REUSEPORT`: the first binds `addr` (port 0
/// picks a free port), the others the address the first got. Must be called within a tokio
/// runtime; the sockets come back deregistered from it, ready for [`start`].
pub fn bind(addr: SocketAddr, count: NonZeroUsize) -> io::Result<Vec<std::net::TcpListener>> {
    let mut sockets = Vec::with_capacity(count.get());
    let mut at = addr;
    for _ in 0..count.get() {
        let socket = if at.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(at)?;
        let listener = socket.listen(BACKLOG)?;
        at = listener.local_addr()?;
        sockets.push(listener.into_std()?);
    }
    Ok(sockets)
}

/// The listening sockets of one worker.
#[derive(Debug)]
pub struct WorkerSockets {
    pub http: std::net::TcpListener,
    pub https: std::net::TcpListener,
}

/// Pairs the sockets [`bind`] returned for each listener, one pair per worker.
pub fn pair(
    http: Vec<std::net::TcpListener>,
    https: Vec<std::net::TcpListener>,
) -> Vec<WorkerSockets> {
    http.into_iter()
        .zip(https)
        .map(|(http, https)| WorkerSockets { http, https })
        .collect()
}

/// The running workers.
#[derive(Debug)]
pub struct Workers {
    done: Vec<oneshot::Receiver<io::Result<()>>>,
    proxies: Vec<Arc<Proxy>>,
}

/// Starts one worker thread per entry of `sockets`, each serving plain HTTP and HTTPS (with
/// `tls`) through its own sibling of `proxy` (see [`Proxy::worker`]). `shutdown` turning true,
/// or its sender going away, drains every worker as [`serve_http`](crate::serve_http) does.
pub fn start(
    proxy: &Arc<Proxy>,
    sockets: Vec<WorkerSockets>,
    tls: &Arc<ServerConfig>,
    shutdown: &watch::Receiver<bool>,
) -> io::Result<Workers> {
    let mut done = Vec::with_capacity(sockets.len());
    let mut proxies = Vec::with_capacity(sockets.len());
    for (index, sockets) in sockets.into_iter().enumerate() {
        let (tx, rx) = oneshot::channel();
        let proxy = proxy.worker(index);
        proxies.push(Arc::clone(&proxy));
        let tls = Arc::clone(tls);
        let shutdown = shutdown.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        thread::Builder::new()
            .name(format!("strait-worker-{index}"))
            .spawn(move || {
                crate::metrics::set_worker(index);
                let served = runtime.block_on(run(proxy, sockets, tls, shutdown));
                let _ = tx.send(served);
            })?;
        done.push(rx);
    }
    Ok(Workers { done, proxies })
}

impl Workers {
    /// Each worker's proxy (its pool, its counters), in worker order.
    pub fn proxies(&self) -> &[Arc<Proxy>] {
        &self.proxies
    }

    /// Waits for every worker to finish its drain; the first error, if any.
    pub async fn wait(self) -> io::Result<()> {
        let mut first = Ok(());
        for done in self.done {
            let ended = done
                .await
                .unwrap_or_else(|_| Err(io::Error::other("a worker thread panicked")));
            if let Err(error) = ended
                && first.is_ok()
            {
                first = Err(error);
            }
        }
        first
    }
}

async fn run(
    proxy: Arc<Proxy>,
    sockets: WorkerSockets,
    tls: Arc<ServerConfig>,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let http = TcpListener::from_std(sockets.http)?;
    let https = TcpListener::from_std(sockets.https)?;
    let (served_http, served_https) = tokio::join!(
        crate::listener::serve_http(http, Arc::clone(&proxy), stopped(shutdown.clone())),
        crate::listener::serve_https(https, proxy, tls, stopped(shutdown)),
    );
    served_http.and(served_https)
}

/// Resolves once shutdown is asked for or its sender is gone.
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_socket_of_a_group_listens_on_the_port_the_first_got() {
        let count = NonZeroUsize::new(3).unwrap();
        let sockets = bind("127.0.0.1:0".parse().unwrap(), count).unwrap();
        assert_eq!(sockets.len(), 3);
        let first = sockets[0].local_addr().unwrap();
        assert_ne!(first.port(), 0);
        for socket in &sockets {
            assert_eq!(socket.local_addr().unwrap(), first);
        }
    }

    #[tokio::test]
    async fn a_port_taken_without_reuseport_is_an_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        assert!(bind(addr, NonZeroUsize::MIN).is_err());
    }
}
