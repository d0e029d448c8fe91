//! The pure translation from an [`Index`] to a [`RouteTable`](crate::table::RouteTable) plus
//! diagnostics (docs/architecture.md, "Ingress semantics" and "Backends").
//!
//! - [`class`]: which Ingresses are ours.
//! - [`rules`]: one Ingress's rules, paths and default backend, in precedence order.
//! - [`tls`]: `spec.tls` and the default certificate into the SNI map, first, so the rules
//!   know which hosts redirect to HTTPS.
//! - [`annotations`]: per-Ingress settings and verdicts read through the annotation registry;
//!   a canary Ingress is set aside before any claim, so it never takes its mainline's routes.
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

use crate::annotations::Review;
use crate::config::CompileConfig;
use crate::index::{Compiled, Index, IngressReport};
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef};
use crate::table::TableBuilder;

pub(crate) use refresh::refresh_endpoints;

/// Builds the table from everything in `index`.
pub(crate) fn compile(index: &Index, config: &CompileConfig) -> Compiled {
    let classes = class::ClassFilter::new(index, config);
    let mut diagnostics = Vec::new();
    let mut reports = Vec::with_capacity(index.ingresses().len());
    let mut ingresses: Vec<(&ObjectKey, &Ingress, Review)> = Vec::new();
    for (key, ingress) in index.ingresses() {
        let ours = classes.is_ours(ingress);
        let review = crate::annotations::review(ingress, &config.annotations_prefix);
        reports.push(IngressReport {
            key: key.clone(),
            class: class::class_of(ingress).map(|(name, _)| name.to_owned()),
            ours,
            canary: review.canary,
            refusal: None,
            findings: review.findings.clone(),
        });
        if !ours {
            continue;
        }
        if review.canary {
            // Never a claimant: the mainline keeps its host and path (docs/architecture.md,
            // "Annotations").
            let object = ObjectRef::new(Kind::Ingress, key.clone());
            diagnostics.push(annotations::canary_ignored(&object));
            continue;
        }
        ingresses.push((key, ingress, review));
    }
    ingresses.sort_by_key(|(key, ingress, _)| precedence(key, ingress));

    let mut compiler = Compiler {
        index,
        config,
        builder: TableBuilder::new(),
        diagnostics,
        tls_hosts: tls::TlsHosts::default(),
    };
    let plain: Vec<(&ObjectKey, &Ingress)> = ingresses.iter().map(|(k, i, _)| (*k, *i)).collect();
    tls::compile_tls(&mut compiler, &plain);
    for (key, ingress, review) in &ingresses {
        let refusal = rules::compile_ingress(&mut compiler, key, ingress, review);
        if let Ok(i) = reports.binary_search_by(|r| r.key.cmp(key)) {
            reports[i].refusal = refusal;
        }
    }
    let mut diagnostics = compiler.diagnostics;
    diagnostics.sort();
    diagnostics.dedup();
    Compiled {
        table: compiler.builder.build(),
        diagnostics,
        ingresses: reports,
    }
}

/// Keys of the Ingresses in `index` that our class rules select (docs/architecture.md, "Class").
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
