//! One test per Ingress semantic rule (docs/architecture.md, "Ingress semantics", with "TLS", and
//! "Backends"), each named after its rule: hand-built objects → `Index::apply` → `compile` →
//! `RouteTable::lookup` (or the table's TLS map).

mod access_log;
mod annotations;
mod backends;
mod canary;
mod certs;
mod class;
mod client_auth;
mod endpoint_fast_path;
mod external_auth_headers;
mod hosts;
mod index;
mod modes;
mod node_sets;
mod passthrough;
mod paths;
mod precedence;
mod redirects;
mod regex;
mod support;
mod tls;
