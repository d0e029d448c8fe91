//! The accept loops of the plain-HTTP and HTTPS listeners and their shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

use crate::config::{ListenerInfo, Scheme};
use crate::connection;
use crate::drain;
use crate::front::{self, Front, Opened};
use crate::proxy::Proxy;
use crate::tls::{ClientCert, TlsFacts};

/// Back-off after an accept error (EMFILE, ENFILE, ENOMEM, …), doubled per consecutive error.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Serves plain HTTP (HTTP/1.1 and h2c prior knowledge) on `listener` until `shutdown`
/// resolves; then stops accepting, shuts every connection down gracefully, waits up to
/// [`ProxyConfig::drain_timeout`](crate::ProxyConfig::drain_timeout) for in-flight requests
/// (and upgraded tunnels) to finish, drops what is left, and returns.
///
/// With [`ProxyConfig::proxy_protocol`](crate::ProxyConfig::proxy_protocol) `.http` every
/// connection must start with a PROXY protocol header.
///
/// Accept errors are logged and retried after a short back-off; they never end the loop. The
/// only error returned is failing to read the listener's local address.
pub async fn serve_http(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let front = Front {
        scheme: Scheme::Http,
        tls: None,
        proxy_protocol: proxy.config.proxy_protocol.http,
    };
    serve(listener, proxy, front, shutdown).await
}

/// Serves HTTPS on `listener` as [`serve_http`] serves HTTP: TLS with `tls` (see
/// [`server_config`](crate::tls::server_config)), then HTTP/2 or HTTP/1.1 as ALPN chose.
/// Responses carry `Strict-Transport-Security` unless turned off.
pub async fn serve_https(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    tls: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let front = Front {
        scheme: Scheme::Https,
        tls: Some(tls),
        proxy_protocol: proxy.config.proxy_protocol.https,
    };
    serve(listener, proxy, front, shutdown).await
}

async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    front: Front,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let info = ListenerInfo {
        scheme: front.scheme,
        port: listener.local_addr()?.port(),
    };
    let shared = Arc::new(Shared {
        info,
        front,
        builder: connection::builder(&proxy.config),
        proxy: Arc::clone(&proxy),
    });
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
                spawn_connection(stream, peer, &shared, &drain_rx);
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
    tracing::info!(
        port = info.port,
        scheme = info.scheme.as_str(),
        "listener stopped accepting; draining"
    );
    drain::finish(drain_tx, proxy.config.drain_timeout).await;
    Ok(())
}

/// What every connection of one listener shares.
struct Shared {
    info: ListenerInfo,
    front: Front,
    builder: Builder<TokioExecutor>,
    proxy: Arc<Proxy>,
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    drain: &drain::Signal,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
    }
    let slot = match &shared.proxy.connection_slots {
        None => None,
        Some(slots) => match Arc::clone(slots).try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                // Dropping the stream closes it; nothing is read or written.
                tracing::debug!(%peer, "closing connection: client connection limit reached");
                shared.proxy.metrics.listener(shared.info.scheme).rejected();
                return;
            }
        },
    };
    let shared = Arc::clone(shared);
    let mut drain = drain.clone();
    let span = tracing::debug_span!("conn", %peer, client = tracing::field::Empty);
    let open = shared.proxy.metrics.listener(shared.info.scheme).opened();
    tokio::spawn(
        async move {
            // Counted as open, and holding its slot, until this task ends.
            let _open = (open, slot);
            let Some((opened, client)) =
                front::open(stream, peer, &shared.front, &shared.proxy, &mut drain).await
            else {
                return;
            };
            let proxy = Arc::clone(&shared.proxy);
            let (info, builder) = (shared.info, &shared.builder);
            match opened {
                Opened::Passthrough(pass) => {
                    front::splice(*pass, client, &proxy, drain).await;
                }
                Opened::Plain(io) => {
                    connection::serve(io, client, info, None, proxy, builder, drain).await;
                }
                Opened::Tls {
                    stream,
                    client_auth,
                } => {
                    let mut tls = TlsFacts::of(stream.get_ref().1, proxy.access_log.is_on());
                    tls.client_cert = client_auth.map(|auth| {
                        let chain = stream.get_ref().1.peer_certificates();
                        Arc::new(ClientCert::of(auth, chain.unwrap_or_default()))
                    });
                    connection::serve(stream, client, info, Some(tls), proxy, builder, drain).await;
                }
            }
        }
        .instrument(span),
    );
}
