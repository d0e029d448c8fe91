//! The front door of one accepted connection, before any HTTP: the PROXY protocol header (when the
//! listener requires one) and the TLS handshake (HTTPS listeners), both within the handshake
//! timeout (docs/architecture.md, "Data flow": accept → [PROXY header] → [TLS] → hyper).
//!
//! Whatever fails here — no or bad PROXY header, garbage instead of a ClientHello, a client
//! that stalls — closes the connection, is logged at debug and counted; nothing is held past
//! the timeout.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::Acceptor;
use strait_shared::table::ClientAuth;
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::Scheme;
use crate::drain::{self, Phase, Signal};
use crate::metrics::{ProxyHeaderRejection, TlsFailure};
use crate::proxy::Proxy;
use crate::proxy_protocol::{self, HeaderError, Rewind};

mod client_hello;
mod passthrough;

pub(crate) use passthrough::{Passthrough, splice};

/// How a listener's connections reach HTTP.
#[derive(Clone)]
pub(crate) struct Front {
    pub scheme: Scheme,
    /// Present on HTTPS listeners: the configuration of hosts without client-certificate
    /// auth (those with it get their CA's, chosen by the ClientHello's server name).
    pub tls: Option<Arc<ServerConfig>>,
    /// Every connection must start with a PROXY protocol header.
    pub proxy_protocol: bool,
}

/// A connection ready for HTTP.
pub(crate) enum Opened {
    Plain(Rewind<TcpStream>),
    Tls {
        stream: Box<TlsStream<Rewind<TcpStream>>>,
        /// The client-certificate auth of the host the handshake named, if it has one.
        client_auth: Option<Arc<ClientAuth>>,
    },
    /// A TLS passthrough host's connection (docs/architecture.md, "TLS passthrough").
    Passthrough(Box<Passthrough>),
}

enum FrontError {
    ProxyHeader(HeaderError),
    Tls(io::Error),
}

/// How far a connection got through the front door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    ProxyHeader,
    Tls,
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
    let mut stage = if front.proxy_protocol {
        Stage::ProxyHeader
    } else {
        Stage::Tls
    };
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(timeout, handshake(stream, peer, front, proxy, &mut stage)) => {
            outcome
        }
        () = drain::reached(drain, Phase::Draining) => {
            tracing::debug!("draining; closing a connection still in its handshake");
            return None;
        }
    };
    let counters = proxy.metrics.listener(front.scheme);
    match outcome {
        Ok(Ok(opened)) => {
            if let (Opened::Tls { .. }, _) = &opened {
                counters.tls_handshake();
            }
            Some(opened)
        }
        Ok(Err(FrontError::ProxyHeader(error))) => {
            tracing::debug!(%error, "closing connection: PROXY protocol header refused");
            counters.proxy_header_rejected(ProxyHeaderRejection::Invalid);
            None
        }
        Ok(Err(FrontError::Tls(error))) => {
            let reason = tls_failure(&error);
            tracing::debug!(%error, reason = reason.as_str(), "TLS handshake failed");
            counters.tls_failed(reason);
            None
        }
        Err(_elapsed) => {
            tracing::debug!(?timeout, ?stage, "closing connection: handshake timed out");
            match stage {
                Stage::ProxyHeader => {
                    counters.proxy_header_rejected(ProxyHeaderRejection::Timeout);
                }
                Stage::Tls => counters.tls_failed(TlsFailure::Timeout),
            }
            None
        }
    }
}

async fn handshake(
    stream: TcpStream,
    peer: SocketAddr,
    front: &Front,
    proxy: &Proxy,
    stage: &mut Stage,
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
    let Some(base) = &front.tls else {
        return Ok((Opened::Plain(io), client));
    };
    *stage = Stage::Tls;
    // Only when some host is passed through is the ClientHello read before rustls reads it.
    let io = if proxy.table.current().tls().has_passthrough() {
        match passthrough::route(io, proxy)
            .await
            .map_err(FrontError::Tls)?
        {
            passthrough::Route::Terminate(io) => io,
            passthrough::Route::Pass(pass) => return Ok((Opened::Passthrough(pass), client)),
        }
    } else {
        io
    };
    let start = LazyConfigAcceptor::new(Acceptor::default(), io)
        .await
        .map_err(FrontError::Tls)?;
    let client_auth = proxy
        .table
        .current()
        .tls()
        .client_auth(start.client_hello().server_name())
        .cloned();
    let config = match &client_auth {
        Some(auth) if auth.verify.requests_certificate() => config_for(base, auth),
        _ => Arc::clone(base),
    };
    let stream = start.into_stream(config).await.map_err(FrontError::Tls)?;
    let stream = Box::new(stream);
    Ok((
        Opened::Tls {
            stream,
            client_auth,
        },
        client,
    ))
}

/// The server configuration for a host with client auth: its CA's, built on first use.
fn config_for(base: &Arc<ServerConfig>, auth: &ClientAuth) -> Arc<ServerConfig> {
    auth.ca.server_config(|| {
        crate::tls::client_auth_config(base, &auth.ca).unwrap_or_else(|error| {
            // Not reached in practice (the base configuration was built the same way). The
            // handshake then asks for no certificate, which the request check treats as none.
            tracing::error!(%error, "building the client-certificate TLS configuration failed");
            Arc::clone(base)
        })
    })
}

/// The bounded reason of a failed handshake. tokio-rustls reports rustls's own errors as
/// `InvalidData` carrying the `rustls::Error`; everything else is the socket's.
fn tls_failure(error: &io::Error) -> TlsFailure {
    if let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return match tls {
            rustls::Error::AlertReceived(_) => TlsFailure::Alert,
            rustls::Error::PeerIncompatible(_) | rustls::Error::NoApplicationProtocol => {
                TlsFailure::Incompatible
            }
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. }
            | rustls::Error::PeerMisbehaved(_)
            | rustls::Error::DecryptError => TlsFailure::Protocol,
            _ => TlsFailure::Other,
        };
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => TlsFailure::Closed,
        _ => TlsFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{AlertDescription, InvalidMessage, PeerIncompatible};

    fn wrapped(error: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }

    #[test]
    fn tls_failures_are_classed_boundedly() {
        let cases = [
            (
                wrapped(rustls::Error::AlertReceived(
                    AlertDescription::BadCertificate,
                )),
                TlsFailure::Alert,
            ),
            (
                wrapped(rustls::Error::PeerIncompatible(
                    PeerIncompatible::NoCipherSuitesInCommon,
                )),
                TlsFailure::Incompatible,
            ),
            (
                wrapped(rustls::Error::NoApplicationProtocol),
                TlsFailure::Incompatible,
            ),
            (
                wrapped(rustls::Error::InvalidMessage(
                    InvalidMessage::InvalidContentType,
                )),
                TlsFailure::Protocol,
            ),
            (
                wrapped(rustls::Error::General("x".into())),
                TlsFailure::Other,
            ),
            (
                io::Error::from(io::ErrorKind::UnexpectedEof),
                TlsFailure::Closed,
            ),
            (
                io::Error::from(io::ErrorKind::ConnectionReset),
                TlsFailure::Closed,
            ),
            (io::Error::other("what"), TlsFailure::Other),
        ];
        for (error, reason) in cases {
            assert_eq!(tls_failure(&error), reason, "{error}");
        }
    }
}
