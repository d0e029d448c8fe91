//! The model that crosses Strait's control→data boundary, and the pure translation from
//! Kubernetes objects to it.
//!
//! - [`annotations`]: the annotation registry (every ingress-nginx and `strait.dev/` key and
//!   its status) and the one reader of Ingress annotations.
//! - [`model`]: object identities and [`model::Diagnostic`]s.
//! - [`host`] and [`paths`]: the Ingress host and path semantics (see `docs/architecture.md`,
//!   "Hosts" and "Paths").
//! - [`table`]: the immutable [`table::RouteTable`] the proxy reads, and its builder.
//! - [`tls`]: certificates from `kubernetes.io/tls` Secrets and the SNI map in the table.
//! - [`objects`], [`index`], [`config`]: decoded Kubernetes objects, the pure index that holds
//!   them, and the translation settings; [`index::Index::compile`] builds a table (the
//!   private `compile` module: class selection, rules, backends per mode).
//!
//! This crate knows nothing of Kubernetes clients, files or servers.
#![forbid(unsafe_code)]

pub mod annotations;
mod compile;
pub mod config;
#[cfg(test)]
mod fuzz;
pub mod host;
pub mod index;
pub mod model;
pub mod objects;
pub mod paths;
pub mod table;
pub mod tls;

pub use config::CompileConfig;
pub use index::{Compiled, EndpointChanges, Index, IngressReport};
pub use model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason, Severity};
pub use objects::{Object, ObjectError};
pub use table::{Backend, BackendId, BackendMode, Endpoint, Endpoints, Refusal, RouteTable};
pub use tls::{Certificate, CertificateError, ClientCa, ClientCaError, TlsTable};
