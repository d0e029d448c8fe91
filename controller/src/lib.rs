//! Strait's control path and the `strait` binary's pieces: object sources (a manifests folder;
//! the Kubernetes API in [`cluster`]), the object [`store`] both feed, the one
//! compile-and-publish [`pipeline`], the admin listener (health, readiness, metrics, runtime
//! log level), logging, the [`check`] migration report, and the `demo` and `echo` helpers.
#![forbid(unsafe_code)]

pub mod admin;
mod burst;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod demo;
pub mod echo;
pub mod logging;
pub mod manifests;
pub mod metrics;
pub mod pipeline;
pub mod publish;
pub mod serve;
pub mod store;
pub mod watch;
