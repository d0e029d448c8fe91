//! The accept loop of a plain-HTTP listener and its shutdown.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

use crate::config::{ListenerInfo, Scheme};
use crate::connection;
use crate::drain;
use crate::proxy::Proxy;

/// Back-off after an accept error (EMFILE, ENFILE, ENOMEM, …), doubled per consecutive error.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Serves plain HTTP (HTTP/1.1 and h2c prior knowledge) on `listener` until `shutdown`
/// resolves; then stops accepting, shuts every connection down gracefully, waits up to
/// [`ProxyConfig::drain_timeout`](crate::ProxyConfig::drain_timeout) for in-flight requests
/// (and upgraded tunnels) to finish, drops what is left, and returns.
///
/// Accept errors are logged and retried after a short back-off; they never end the loop. The
/// only error returned is failing to read the listener's local address.
pub async fn serve_http(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let info = ListenerInfo {
        scheme: Scheme::Http,
        port: listener.local_addr()?.port(),
    };
    let builder = Arc::new(connection::builder(&proxy.config));
    let (drain_tx, drain_rx) = drain::channel();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                spawn_connection(stream, peer, info, &proxy, &builder, &drain_rx);
            }
            Err(error) => {
                tracing::warn!(%error, ?backoff, "accept failed; backing off");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
    drop(listener);
    drop(drain_rx);
    tracing::info!(port = info.port, "listener stopped accepting; draining");
    drain::finish(drain_tx, proxy.config.drain_timeout).await;
    Ok(())
}

fn spawn_connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    info: ListenerInfo,
    proxy: &Arc<Proxy>,
    builder: &Arc<hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>>,
    drain: &drain::Signal,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
    }
    let proxy = Arc::clone(proxy);
    let builder = Arc::clone(builder);
    let drain = drain.clone();
    let span = tracing::debug_span!("conn", %peer);
    tokio::spawn(
        async move { connection::serve(stream, peer, info, proxy, &builder, drain).await }
            .instrument(span),
    );
}
