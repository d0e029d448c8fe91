//! The per-listener families and their handles, made once per scheme: accepting a
//! connection or finishing a handshake counts without a label lookup. The TLS series exist
//! only for the `https` listener: a plain listener never handshakes, so it shows none. The
//! PROXY-header rejection series appear with their first rejection, so a listener that does
//! not expect the header shows none.

use std::sync::OnceLock;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::Counter;

use super::labels::{
    ListenerLabels, ProxyHeaderRejection, ProxyRejectLabels, TlsFailure, TlsFailureLabels,
};
use crate::config::Scheme;

/// The families labelled by listener; their handles are made once per scheme.
#[derive(Debug, Default)]
pub(super) struct ListenerFamilies {
    pub(super) connections_active: Family<ListenerLabels, Gauge>,
    pub(super) connections: Family<ListenerLabels, Counter>,
    pub(super) connections_rejected: Family<ListenerLabels, Counter>,
    pub(super) tls_handshakes: Family<ListenerLabels, Counter>,
    pub(super) tls_failures: Family<TlsFailureLabels, Counter>,
    pub(super) proxy_rejected: Family<ProxyRejectLabels, Counter>,
}

impl ListenerFamilies {
    pub(super) fn handles(&self, listener: Scheme) -> ListenerHandles {
        let labels = ListenerLabels { listener };
        ListenerHandles {
            connections_active: self.connections_active.get_or_create_owned(&labels),
            connections: self.connections.get_or_create_owned(&labels),
            connections_rejected: self.connections_rejected.get_or_create_owned(&labels),
            tls: (listener == Scheme::Https).then(|| TlsHandles {
                handshakes: self.tls_handshakes.get_or_create_owned(&labels),
                failures: std::array::from_fn(|i| {
                    self.tls_failures.get_or_create_owned(&TlsFailureLabels {
                        listener,
                        reason: TlsFailure::ALL[i],
                    })
                }),
            }),
            listener,
            proxy_rejected_family: self.proxy_rejected.clone(),
            proxy_rejected: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// The counters of one listener scheme, created up front (no lookup per connection).
#[derive(Debug)]
pub(crate) struct ListenerHandles {
    connections_active: Gauge,
    connections: Counter,
    connections_rejected: Counter,
    /// `None` on the plain listener.
    tls: Option<TlsHandles>,
    listener: Scheme,
    proxy_rejected_family: Family<ProxyRejectLabels, Counter>,
    /// Made at the first rejection of each reason.
    proxy_rejected: [OnceLock<Counter>; ProxyHeaderRejection::ALL.len()],
}

#[derive(Debug)]
struct TlsHandles {
    handshakes: Counter,
    failures: [Counter; TlsFailure::ALL.len()],
}

impl ListenerHandles {
    /// Counts an accepted connection; it counts as open until the guard is dropped.
    pub(crate) fn opened(&self) -> OpenConnection {
        self.connections.inc();
        self.connections_active.inc();
        OpenConnection(self.connections_active.clone())
    }

    /// Counts a connection closed at once because the connection limit was reached.
    pub(crate) fn rejected(&self) {
        self.connections_rejected.inc();
    }

    pub(crate) fn connections_rejected(&self) -> u64 {
        self.connections_rejected.get()
    }

    pub(crate) fn tls_handshake(&self) {
        if let Some(tls) = &self.tls {
            tls.handshakes.inc();
        }
    }

    pub(crate) fn tls_failed(&self, reason: TlsFailure) {
        if let Some(tls) = &self.tls {
            tls.failures[reason as usize].inc();
        }
    }

    pub(crate) fn proxy_header_rejected(&self, reason: ProxyHeaderRejection) {
        self.proxy_rejected[reason as usize]
            .get_or_init(|| {
                self.proxy_rejected_family
                    .get_or_create_owned(&ProxyRejectLabels {
                        listener: self.listener,
                        reason,
                    })
            })
            .inc();
    }

    pub(crate) fn tls_handshakes(&self) -> u64 {
        self.tls.as_ref().map_or(0, |tls| tls.handshakes.get())
    }

    pub(crate) fn tls_failures(&self, reason: TlsFailure) -> u64 {
        self.tls
            .as_ref()
            .map_or(0, |tls| tls.failures[reason as usize].get())
    }

    pub(crate) fn proxy_headers_rejected(&self, reason: ProxyHeaderRejection) -> u64 {
        self.proxy_rejected[reason as usize]
            .get()
            .map_or(0, Counter::get)
    }
}

/// An open client connection, counted in `client_connections_active` until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}
