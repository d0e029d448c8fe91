//! Strait's control path and the `strait` binary's pieces: object sources (a manifests folder
//! now, the Kubernetes API later), the compile-and-publish loop, the admin listener (health,
//! readiness, metrics, runtime log level), logging, and the `demo` and `echo` helpers.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cluster;
pub mod cli;
pub mod demo;
pub mod echo;
pub mod logging;
pub mod manifests;
pub mod pipeline;
pub mod metrics;
pub mod publish;
pub mod serve;
pub mod store;
pub mod watch;
