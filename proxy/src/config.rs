//! Data-path settings ([`ProxyConfig`], parsed once from flags) and what a listener tells the
//! upstream about itself ([`ListenerInfo`]).

use std::time::Duration;

/// Data-path settings, parsed once from flags.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Peers whose `X-Forwarded-*` headers are believed (`--trusted-proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Upstream TCP connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Time allowed for the upstream to send response headers once the whole request was sent
    /// (default 60 s); then 504.
    pub response_header_timeout: Duration,
    /// A client connection with no request in flight and no byte moved for this long is closed
    /// gracefully (default 75 s). Zero disables the check. For HTTP/1 it also bounds the time
    /// from the end of one response to the end of the next request's header block, which cuts
    /// off clients that send headers too slowly (hyper's header read timeout).
    pub idle_timeout: Duration,
    /// Largest total size of a request's header block (default 64 KiB); over it: 431. HTTP/1
    /// cannot go below 8 KiB (hyper's smallest read buffer), so smaller values act as 8 KiB there.
    pub max_header_bytes: usize,
    /// Largest number of request headers (default 200); over it: 431.
    pub max_headers: usize,
    /// After shutdown is asked for, how long open connections get to finish their requests
    /// before they are dropped (default 30 s).
    pub drain_timeout: Duration,
    /// An idle pooled upstream connection is not reused after this long (default 90 s).
    pub pool_idle_timeout: Duration,
    /// Most idle pooled connections kept per upstream address (default 64); 0 disables pooling.
    pub pool_max_idle_per_host: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            response_header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(75),
            max_header_bytes: 64 * 1024,
            max_headers: 200,
            drain_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 64,
        }
    }
}

/// The scheme a listener speaks to clients; becomes `X-Forwarded-Proto` for untrusted peers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// What upstream requests learn about the listener a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerInfo {
    /// `X-Forwarded-Proto` for requests from untrusted peers.
    pub scheme: Scheme,
    /// The listener's local port: `X-Forwarded-Port` for requests from untrusted peers.
    pub port: u16,
}
