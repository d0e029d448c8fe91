//! Counters of what happens to connections before HTTP: PROXY headers refused, TLS handshakes
//! done, failed and timed out. Plain atomics here; the metrics registry reads them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Scheme;

/// Front-door counters of every listener, by scheme.
#[derive(Debug, Default)]
pub(crate) struct FrontStats {
    http: Counters,
    https: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    proxy_header_rejected: AtomicU64,
    handshake_timeouts: AtomicU64,
    tls_handshakes: AtomicU64,
    tls_handshake_failures: AtomicU64,
}

/// One listener's front-door counts since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontCounts {
    /// Connections closed because the PROXY header was missing or invalid.
    pub proxy_header_rejected: u64,
    /// Connections closed because the PROXY header or TLS handshake took too long.
    pub handshake_timeouts: u64,
    /// TLS handshakes completed.
    pub tls_handshakes: u64,
    /// TLS handshakes that failed (garbage, no shared protocol or cipher, client abort).
    pub tls_handshake_failures: u64,
}

/// What happened at the front door of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrontEvent {
    ProxyHeaderRejected,
    HandshakeTimeout,
    TlsHandshake,
    TlsHandshakeFailure,
}

impl FrontStats {
    pub(crate) fn record(&self, scheme: Scheme, event: FrontEvent) {
        let c = self.of(scheme);
        let counter = match event {
            FrontEvent::ProxyHeaderRejected => &c.proxy_header_rejected,
            FrontEvent::HandshakeTimeout => &c.handshake_timeouts,
            FrontEvent::TlsHandshake => &c.tls_handshakes,
            FrontEvent::TlsHandshakeFailure => &c.tls_handshake_failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self, scheme: Scheme) -> FrontCounts {
        let c = self.of(scheme);
        FrontCounts {
            proxy_header_rejected: c.proxy_header_rejected.load(Ordering::Relaxed),
            handshake_timeouts: c.handshake_timeouts.load(Ordering::Relaxed),
            tls_handshakes: c.tls_handshakes.load(Ordering::Relaxed),
            tls_handshake_failures: c.tls_handshake_failures.load(Ordering::Relaxed),
        }
    }

    fn of(&self, scheme: Scheme) -> &Counters {
        match scheme {
            Scheme::Http => &self.http,
            Scheme::Https => &self.https,
        }
    }
}
