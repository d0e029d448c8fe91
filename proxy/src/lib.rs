//! Strait's data path: accept connections, route each request through the current
//! [`RouteTable`](strait_shared::RouteTable), pick an endpoint, forward over a pooled upstream
//! connection, stream the response back.
//!
//! The table is read with one `ArcSwap` load per request and never built here.
//!
//! # Layers
//!
//! The modules, top first, in the order a request travels; each names only modules below it
//! (in its own layer, only those listed after it), so the module graph has no cycle and the
//! data path reads in one direction: from the accept loop down through the stages of a
//! request to the state they share and the plain types under everything (docs/architecture.md,
//! "The proxy crate's layers"; `tests/layers.rs` checks the source against this list).
//!
//! 1. **accept**: [`workers`] (one single-threaded runtime per CPU, each with its own
//!    `SO_REUSEPORT` sockets and its own [`Proxy`] sibling: a request and its upstream
//!    connection never leave the worker's thread), then `listener` ([`serve_http`],
//!    [`serve_https`]: the accept loop, the client-connection cap, the graceful drain on
//!    shutdown).
//! 2. **front door**: `front`: the PROXY protocol header, TLS with the certificate chosen by
//!    SNI from the table, TLS passthrough; all within the handshake timeout.
//! 3. **connection**: `connection`: one client connection's hyper server (HTTP/1.1, h2c, h2
//!    over TLS), its header limits, idle and header timeouts, and the drain.
//! 4. **route**: `service`: one request: host from `:authority`/absolute-form or `Host`, table
//!    lookup, backend state (503 with the reason when unavailable), canary, redirects, the
//!    policies, hop-by-hop headers stripped and forwarding headers rebuilt
//!    (docs/architecture.md, "Client IP"), the upstream exchange, the response relayed; and
//!    the one place a failed request becomes its answer. Then what it answers with:
//!    `error_pages` (the route's custom error pages), `redirect`, `grpc` (the proxy's own
//!    errors as gRPC statuses) and `validate` (what a request must be to be routed).
//! 5. **policies**: `policy`: a route's access controls, limits, CORS and client
//!    certificates, in nginx's phase order.
//! 6. **upstream**: `upstream`: an endpoint per attempt, over the upstream connection pool, a
//!    failed attempt passed to the next endpoint as `proxy-next-upstream` says; the upstream
//!    connection is driven in the request's own task.
//! 7. **relay**: `upgrade` (an `Upgrade` handshake becomes a tunnel), then `body` (the
//!    response body, streamed, never collected; the upstream connection goes back to the pool
//!    when it ends).
//! 8. **record**: `exchange`: what one request did, recorded once, when its response body is
//!    done: metrics and the access-log line, written off the request path.
//! 9. **shared state**: what the stages read, each request through its connection's context:
//!    `proxy` (the [`Proxy`] a worker's connections share, and the context of one client
//!    connection), `stats` ([`FrontCounts`]), `balancer` ([`Balancer`]), `pool` (upstream
//!    connections, kept alive per worker, and Strait's HTTP/1.1 client codec), `upload` (the
//!    request body the pool sends), `zones` (the limits' per-client state),
//!    [`metrics`] (Prometheus families registered in the caller's registry) and
//!    [`access_log`]. The record sits above them: it reaches the metrics and the log through
//!    the [`Proxy`].
//! 10. **bottom**: types and functions every layer may use: [`tls`] (the rustls
//!     configuration, the SNI resolver, what a handshake settled), `table` (the
//!     [`SharedTable`] and each worker's view of it), `proxy_protocol`, `forwarding` (the
//!     `X-Forwarded-*` headers), `request_id`, `headers`, `activity` (a connection's idle and
//!     header clocks), `drain`, `stall` (the timer between two moves of a body), `error`
//!     (every [`ProxyError`], with its [`Fault`] and status),
//!     `config` ([`ProxyConfig`]) and `random`.
#![forbid(unsafe_code)]

// Declared alphabetically (rustfmt's order); the layers are the list above.
pub mod access_log;
mod activity;
mod balancer;
mod body;
mod config;
mod connection;
mod drain;
mod error;
mod error_pages;
mod exchange;
mod forwarding;
mod front;
#[cfg(test)]
mod fuzz;
mod grpc;
mod headers;
mod listener;
pub mod metrics;
mod policy;
mod pool;
mod proxy;
mod proxy_protocol;
mod random;
mod redirect;
mod request_id;
mod service;
mod stall;
mod stats;
mod table;
pub mod tls;
mod upgrade;
mod upload;
mod upstream;
pub mod validate;
pub mod workers;
mod zones;

pub use access_log::AccessLog;
pub use balancer::{Balancer, RoundRobin, Tried};
pub use config::{
    BalanceConfig, HYPER_MAX_HEADERS, Hsts, ListenerInfo, OutlierConfig, ProxyConfig,
    ProxyProtocol, RetryDefaults, Scheme,
};
pub use error::{Fault, LimitKind, ProxyError};
pub use listener::{serve_http, serve_https};
pub use metrics::ProxyMetrics;
pub use proxy::{Proxy, ProxyBuilder};
pub use stats::FrontCounts;
pub use table::SharedTable;
