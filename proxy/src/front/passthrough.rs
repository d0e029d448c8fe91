//! TLS passthrough (docs/architecture.md, "TLS passthrough"; ingress-nginx annotations.md
//! "SSL Passthrough"): on an HTTPS listener whose table has passthrough hosts, the ClientHello
//! is read into a bounded buffer under the handshake timeout and its server name looked up;
//! a passthrough host's connection is spliced to a backend endpoint with the hello replayed,
//! any other is handed to rustls with the hello replayed, as if nothing had been read.
//!
//! What the backend sees is the client's TLS, unchanged, from Strait's address: the client
//! address (the TCP peer, or the PROXY header's source when the listener takes one) is only
//! logged; nothing is sent ahead of the hello, as in ingress-nginx, whose TLS proxy sends no
//! PROXY header to passthrough backends.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client_hello::{MAX_HELLO_BYTES, Peek, peek};
use crate::drain::{self, Phase, Signal};
use crate::metrics::PassthroughResult;
use crate::proxy::Proxy;
use crate::proxy_protocol::Rewind;
use crate::upgrade::idle;

/// A passthrough connection closes when no byte moved either way for this long (nginx's
/// stream `proxy_timeout` default; ingress-nginx's own TLS proxy has none).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Endpoints tried, in balancing order, before a connection is given up.
const MAX_CONNECT_TRIES: usize = 3;

/// A connection for a passthrough host, its ClientHello read.
pub(crate) struct Passthrough {
    client: Rewind<TcpStream>,
    /// The bytes read so far (the ClientHello and whatever came with it), for the backend.
    hello: Bytes,
    /// The endpoints to try, in order; empty when the backend has none.
    targets: Vec<SocketAddr>,
}

/// What to do with a connection once its ClientHello is read.
pub(super) enum Route {
    Terminate(Rewind<TcpStream>),
    Pass(Box<Passthrough>),
}

/// Reads the ClientHello of `io` and decides by its server name. Fails only when the
/// connection fails or its hello is too large (both as TLS handshake failures).
pub(super) async fn route(mut io: Rewind<TcpStream>, proxy: &Proxy) -> io::Result<Route> {
    let buf = read_hello(&mut io).await?;
    let table = proxy.table.current();
    let backend = match peek(&buf) {
        Peek::Hello {
            server_name: Some(name),
        } => table.passthrough(&name),
        _ => None,
    };
    let Some(backend) = backend else {
        io.unread(buf.freeze());
        return Ok(Route::Terminate(io));
    };
    let targets = match &backend.state {
        Ok(endpoints) if !endpoints.is_empty() => {
            let schedule = endpoints.schedule();
            let list = endpoints.list();
            let start = endpoints.next_ticket();
            let mut targets = Vec::with_capacity(MAX_CONNECT_TRIES.min(list.len()));
            for i in 0..schedule.len() {
                let addr = list[schedule[(start + i) % schedule.len()] as usize].addr;
                if !targets.contains(&addr) {
                    targets.push(addr);
                }
                if targets.len() == targets.capacity() {
                    break;
                }
            }
            targets
        }
        Ok(_) => Vec::new(),
        Err(unavailable) => {
            tracing::debug!(
                reason = unavailable.reason(),
                "passthrough backend unavailable"
            );
            Vec::new()
        }
    };
    Ok(Route::Pass(Box::new(Passthrough {
        client: io,
        hello: buf.freeze(),
        targets,
    })))
}

/// Reads until the bytes hold a whole ClientHello, or show they are not one (then rustls
/// answers them), at most [`MAX_HELLO_BYTES`]. The caller bounds the time.
async fn read_hello(io: &mut Rewind<TcpStream>) -> io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(MAX_HELLO_BYTES);
    loop {
        match peek(&buf) {
            Peek::Incomplete if buf.len() < MAX_HELLO_BYTES => {}
            Peek::Incomplete | Peek::TooLarge => {
                tracing::debug!(
                    read = buf.len(),
                    "ClientHello refused: a record over 2^14 bytes or a hello over {MAX_HELLO_BYTES} bytes"
                );
                let too_large =
                    rustls::Error::InvalidMessage(rustls::InvalidMessage::MessageTooLarge);
                return Err(io::Error::new(io::ErrorKind::InvalidData, too_large));
            }
            Peek::Hello { .. } | Peek::NotHello => return Ok(buf),
        }
        // `len < MAX_HELLO_BYTES <= capacity`: reads only into the spare capacity, which never
        // grows.
        if io.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Connects to the first endpoint that answers, replays the hello and copies both ways until
/// either side closes, the connection is idle for [`IDLE_TIMEOUT`], or the drain ends.
pub(crate) async fn splice(
    pass: Passthrough,
    client_addr: SocketAddr,
    proxy: &Proxy,
    mut drain: Signal,
) {
    let Passthrough {
        client,
        hello,
        targets,
    } = pass;
    let mut upstream = None;
    for addr in targets {
        match tokio::time::timeout(proxy.config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                upstream = Some((stream, addr));
                break;
            }
            Ok(Err(error)) => tracing::debug!(%addr, %error, "passthrough connect failed"),
            Err(_) => tracing::debug!(%addr, "passthrough connect timed out"),
        }
    }
    let metrics = &proxy.metrics;
    let Some((mut stream, addr)) = upstream else {
        tracing::debug!(client = %client_addr, "passthrough closed: no backend endpoint answered");
        metrics.passthrough(PassthroughResult::Unreachable);
        return;
    };
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%addr, %error, "could not set TCP_NODELAY");
    }
    if let Err(error) = stream.write_all(&hello).await {
        tracing::debug!(%addr, %error, "passthrough closed: replaying the ClientHello failed");
        metrics.passthrough(PassthroughResult::Failed);
        return;
    }
    metrics.passthrough(PassthroughResult::Spliced);
    drop(hello);
    let activity = idle::Activity::new();
    let mut client = idle::Watched {
        inner: client,
        activity: activity.clone(),
    };
    let mut stream = idle::Watched {
        inner: stream,
        activity: activity.clone(),
    };
    tokio::select! {
        () = activity.idle_for(IDLE_TIMEOUT) => {
            tracing::debug!(%addr, client = %client_addr, "passthrough closed: idle");
        }
        copied = tokio::io::copy_bidirectional(&mut client, &mut stream) => match copied {
            Ok((up, down)) => tracing::debug!(%addr, client = %client_addr, up, down, "passthrough closed"),
            Err(error) => tracing::debug!(%addr, client = %client_addr, %error, "passthrough failed"),
        },
        () = drain::reached(&mut drain, Phase::Closing) => {
            tracing::debug!(%addr, "passthrough closed at the end of the drain");
        }
    }
}
