//! What happens to connections before HTTP — PROXY headers refused, TLS handshakes done,
//! failed and timed out — as one listener's totals, read from the metrics.

use crate::metrics::{ListenerHandles, ProxyHeaderRejection, TlsFailure};

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
    /// Connections closed at once because the client connection limit was reached.
    pub connections_rejected: u64,
}

impl FrontCounts {
    pub(crate) fn of(listener: &ListenerHandles) -> Self {
        let failures = TlsFailure::ALL
            .iter()
            .filter(|r| **r != TlsFailure::Timeout)
            .map(|r| listener.tls_failures(*r))
            .sum();
        Self {
            proxy_header_rejected: listener.proxy_headers_rejected(ProxyHeaderRejection::Invalid),
            handshake_timeouts: listener.proxy_headers_rejected(ProxyHeaderRejection::Timeout)
                + listener.tls_failures(TlsFailure::Timeout),
            tls_handshakes: listener.tls_handshakes(),
            tls_handshake_failures: failures,
            connections_rejected: listener.connections_rejected(),
        }
    }
}
