//! Protocol upgrades (WebSocket and friends, HTTP/1.1): once the upstream answered 101, both
//! connections are handed over by hyper and bytes are copied both ways until either side
//! closes, until no byte moved either way for the route's read timeout (nginx's
//! `proxy_read_timeout`; zero: never), or until a write to the upstream has waited for the
//! route's send timeout (`proxy_send_timeout`, enforced by the upstream connection's own IO,
//! see `crate::pool`). The upstream connection is never pooled again.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::drain::{self, Phase, Signal};
use crate::pool::Upgraded;
use crate::zones::Slot;

pub(crate) mod idle;

/// What a tunnel is about, beside its two ends.
#[derive(Debug)]
pub(crate) struct Tunnel {
    /// The upstream address, for logs.
    pub addr: SocketAddr,
    /// Closes the tunnel when no byte moved either way for this long (zero: never).
    pub idle_timeout: Duration,
    /// The request's place in its route's connection limit: a WebSocket counts as a request
    /// in flight until its tunnel closes, as in nginx.
    pub limit_slot: Option<Slot>,
}

/// Spawns the tunnel between the client side of an accepted upgrade (once hyper hands it over)
/// and the upgraded upstream connection. The tunnel holds a drain signal, so shutdown waits
/// for it through the grace period and then closes it.
pub(crate) fn spawn_tunnel(
    client: OnUpgrade,
    upstream: Upgraded,
    mut drain: Signal,
    tunnel: Tunnel,
) {
    let Tunnel {
        addr,
        idle_timeout,
        limit_slot,
    } = tunnel;
    tokio::spawn(async move {
        // Given back when the task ends, whichever way.
        let _limit_slot = limit_slot;
        let client = match client.await {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(%addr, %error, "upgrade did not complete");
                return;
            }
        };
        let activity = idle::Activity::new();
        let mut client = idle::Watched {
            inner: TokioIo::new(client),
            activity: activity.clone(),
        };
        let mut upstream = idle::Watched {
            inner: upstream,
            activity: activity.clone(),
        };
        let idle = async {
            if idle_timeout.is_zero() {
                std::future::pending().await
            } else {
                activity.idle_for(idle_timeout).await;
            }
        };
        tokio::select! {
            () = idle => tracing::debug!(%addr, ?idle_timeout, "tunnel closed: idle for the read timeout"),
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => match copied {
                Ok((up, down)) => tracing::debug!(%addr, up, down, "tunnel closed"),
                Err(error) => tracing::debug!(%addr, %error, "tunnel failed"),
            },
            () = drain::reached(&mut drain, Phase::Closing) => {
                tracing::debug!(%addr, "tunnel closed at the end of the drain");
            }
        }
    });
}
