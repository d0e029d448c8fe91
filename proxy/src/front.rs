//! The front door of one accepted connection, before any HTTP: the PROXY protocol header
//! (when the listener requires one) and the TLS handshake (HTTPS listeners), both within the
//! handshake timeout (DESIGN.md data flow: accept → [PROXY header] → [TLS] → hyper).
//!
//! Whatever fails here — no or bad PROXY header, garbage instead of a ClientHello, a client
//! that stalls — closes the connection, is logged at debug and counted; nothing is held past
//! the timeout.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::Scheme;
use crate::drain::{self, Phase, Signal};
use crate::proxy::Proxy;
use crate::proxy_protocol::{self, HeaderError, Rewind};
use crate::stats::FrontEvent;

/// How a listener's connections reach HTTP.
#[derive(Clone)]
pub(crate) struct Front {
    pub scheme: Scheme,
    /// Present on HTTPS listeners.
    pub tls: Option<TlsAcceptor>,
    /// Every connection must start with a PROXY protocol header.
    pub proxy_protocol: bool,
}

/// A connection ready for HTTP.
pub(crate) enum Opened {
    Plain(Rewind<TcpStream>),
    Tls(Box<TlsStream<Rewind<TcpStream>>>),
}

enum FrontError {
    ProxyHeader(HeaderError),
    Tls(std::io::Error),
}

/// Runs the front door; `None` when the connection was closed (already logged and counted).
/// The address returned is the client's: the PROXY header's source, else the TCP peer.
pub(crate) async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    front: &Front,
    proxy: &Arc<Proxy>,
    drain: &mut Signal,
) -> Option<(Opened, SocketAddr)> {
    if front.tls.is_none() && !front.proxy_protocol {
        return Some((Opened::Plain(Rewind::new(stream)), peer));
    }
    let timeout = proxy.config.handshake_timeout;
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(timeout, handshake(stream, peer, front)) => outcome,
        () = drain::reached(drain, Phase::Draining) => {
            tracing::debug!("draining; closing a connection still in its handshake");
            return None;
        }
    };
    let stats = &proxy.front_stats;
    match outcome {
        Ok(Ok(opened)) => {
            if front.tls.is_some() {
                stats.record(front.scheme, FrontEvent::TlsHandshake);
            }
            Some(opened)
        }
        Ok(Err(FrontError::ProxyHeader(error))) => {
            tracing::debug!(%error, "closing connection: PROXY protocol header refused");
            stats.record(front.scheme, FrontEvent::ProxyHeaderRejected);
            None
        }
        Ok(Err(FrontError::Tls(error))) => {
            tracing::debug!(%error, "TLS handshake failed");
            stats.record(front.scheme, FrontEvent::TlsHandshakeFailure);
            None
        }
        Err(_elapsed) => {
            tracing::debug!(?timeout, "closing connection: handshake timed out");
            stats.record(front.scheme, FrontEvent::HandshakeTimeout);
            None
        }
    }
}

async fn handshake(
    stream: TcpStream,
    peer: SocketAddr,
    front: &Front,
) -> Result<(Opened, SocketAddr), FrontError> {
    let (io, client) = if front.proxy_protocol {
        let (source, io) = proxy_protocol::read_header(stream)
            .await
            .map_err(FrontError::ProxyHeader)?;
        let client = source.unwrap_or(peer);
        tracing::Span::current().record("client", tracing::field::display(client));
        (io, client)
    } else {
        (Rewind::new(stream), peer)
    };
    let Some(acceptor) = &front.tls else {
        return Ok((Opened::Plain(io), client));
    };
    let tls = acceptor.accept(io).await.map_err(FrontError::Tls)?;
    Ok((Opened::Tls(Box::new(tls)), client))
}
