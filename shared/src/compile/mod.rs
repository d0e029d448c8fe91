//! The pure translation from an [`Index`] to a [`RouteTable`](crate::table::RouteTable) plus
//! diagnostics (DESIGN.md, "Ingress semantics" and "Backends").
//!
//! - [`class`]: which Ingresses are ours.
//! - [`rules`]: one Ingress's rules, paths and default backend, in precedence order.
//! - [`tls`]: `spec.tls` and the default certificate into the SNI map, first, so the rules
//!   know which hosts redirect to HTTPS.
//! - [`annotations`]: per-Ingress settings read from annotations.
//! - [`backend`]: an Ingress backend to a Service port, checked, then resolved by mode:
//!   [`pod`], [`nodeport`], [`cluster_ip`].
//!
//! Nothing here panics on user input: each bad part becomes a [`Diagnostic`] naming its
//! object, and everything else still builds.

mod annotations;
mod backend;
mod class;
mod cluster_ip;
mod nodeport;
mod pod;
mod refresh;
mod rules;
mod tls;

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::jiff::Timestamp;

use crate::config::CompileConfig;
use crate::index::{Compiled, Index};
use crate::model::{Diagnostic, ObjectKey};
use crate::table::TableBuilder;

pub(crate) use refresh::refresh_endpoints;

/// Builds the table from everything in `index`.
pub(crate) fn compile(index: &Index, config: &CompileConfig) -> Compiled {
    let classes = class::ClassFilter::new(index, config);
    let mut ingresses: Vec<(&ObjectKey, &Ingress)> = index
        .ingresses()
        .iter()
        .filter(|(_, ingress)| classes.is_ours(ingress))
        .collect();
    ingresses.sort_by_key(|(key, ingress)| precedence(key, ingress));

    let mut compiler = Compiler {
        index,
        config,
        builder: TableBuilder::new(),
        diagnostics: Vec::new(),
        tls_hosts: tls::TlsHosts::default(),
    };
    tls::compile_tls(&mut compiler, &ingresses);
    for (key, ingress) in ingresses {
        rules::compile_ingress(&mut compiler, key, ingress);
    }
    let mut diagnostics = compiler.diagnostics;
    diagnostics.sort();
    diagnostics.dedup();
    Compiled {
        table: compiler.builder.build(),
        diagnostics,
    }
}

/// Keys of the Ingresses in `index` that our class rules select (DESIGN.md, "Class").
pub(crate) fn our_ingresses<'a>(
    index: &'a Index,
    config: &CompileConfig,
) -> std::collections::BTreeSet<&'a ObjectKey> {
    let classes = class::ClassFilter::new(index, config);
    index
        .ingresses()
        .iter()
        .filter(|(_, ingress)| classes.is_ours(ingress))
        .map(|(key, _)| key)
        .collect()
}

/// The order in which Ingresses claim routes: older `creationTimestamp` first (a missing one
/// sorts last), then namespace, then name.
fn precedence<'a>(
    key: &'a ObjectKey,
    ingress: &Ingress,
) -> (bool, Option<Timestamp>, &'a ObjectKey) {
    let created = ingress.metadata.creation_timestamp.as_ref().map(|t| t.0);
    (created.is_none(), created, key)
}

/// State threaded through one compilation.
struct Compiler<'a> {
    index: &'a Index,
    config: &'a CompileConfig,
    builder: TableBuilder,
    diagnostics: Vec<Diagnostic>,
    /// Hosts of every `spec.tls` entry of our Ingresses, filled before the rules are compiled.
    tls_hosts: tls::TlsHosts,
}
