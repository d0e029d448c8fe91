//! How a route reaches its backend when it names a protocol (`backend-protocol`, or the
//! Service port's `appProtocol`): wire, TLS settings and server name; and a gRPC call's
//! deadline as the read timeout (docs/architecture.md, "Upstream protocols").

use std::sync::Arc;
use std::time::Duration;

use http::header::HOST;
use strait_shared::table::Timeouts;
use strait_shared::table::upstream::{Protocol, Upstream};

use super::read_timeout;
use crate::config::Scheme;
use crate::pool::{self, TlsDest, Via, Wire};
use crate::proxy::ConnCtx;

/// How a route with a `backend-protocol` (or `appProtocol`) reaches its backend: the wire
/// protocol, and for TLS the settings and server name. The name is `proxy-ssl-name`, else the
/// `Host` sent upstream (without its port) when it is looked at (verification or SNI), else a
/// shared placeholder: an allocation only on TLS routes that check or send a name they do not
/// set.
pub(super) fn via(upstream: &Upstream, ctx: &ConnCtx, headers: &http::HeaderMap) -> Via {
    let https = ctx.listener.scheme == Scheme::Https;
    let wire = match upstream.protocol {
        Protocol::Http | Protocol::Https => Wire::H1,
        Protocol::Grpc | Protocol::Grpcs | Protocol::H2c => Wire::H2,
        Protocol::AutoHttp if https => Wire::Alpn,
        Protocol::AutoHttp => Wire::H1,
    };
    if !upstream.protocol.is_tls(https) {
        return Via { wire, tls: None };
    }
    let settings = upstream
        .tls
        .as_ref()
        .unwrap_or_else(|| pool::tls::defaults());
    let name = match &settings.name {
        Some(name) => Arc::clone(name),
        None if settings.verify.is_some() || settings.sni => headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .map(|host| Arc::from(server_name(host)))
            .unwrap_or_else(|| Arc::clone(pool::tls::unnamed())),
        None => Arc::clone(pool::tls::unnamed()),
    };
    Via {
        wire,
        tls: Some(TlsDest {
            name,
            settings: Arc::clone(settings),
        }),
    }
}

/// A `Host` value as a TLS server name: without its port, an IPv6 address without brackets.
fn server_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The route's timeouts with the read timeout capped by a gRPC call's `grpc-timeout`.
pub(super) fn grpc_timeouts(
    ctx: &ConnCtx,
    route: Option<&Timeouts>,
    deadline: Duration,
) -> Timeouts {
    let mut timeouts = route.copied().unwrap_or_default();
    let read = read_timeout(ctx, route);
    timeouts.read = Some(if read.is_zero() {
        deadline
    } else {
        read.min(deadline)
    });
    timeouts
}
