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
    // One report and one review per Ingress, by position; the reviews' findings move into the
    // reports once the rules are compiled.
    let mut reports = Vec::with_capacity(index.ingresses().len());
    let mut reviews: Vec<Review> = Vec::with_capacity(index.ingresses().len());
    let mut ingresses: Vec<(usize, &ObjectKey, &Ingress)> = Vec::new();
    for (key, ingress) in index.ingresses() {
        let ours = classes.is_ours(ingress);
        let review = crate::annotations::review(ingress, &config.annotations_prefix);
        if ours && review.canary {
            // Never a claimant: the mainline keeps its host and path (docs/architecture.md,
            // "Annotations").
            let object = ObjectRef::new(Kind::Ingress, key.clone());
            diagnostics.push(annotations::canary_ignored(&object));
        } else if ours {
            ingresses.push((reports.len(), key, ingress));
        }
        reports.push(IngressReport {
            key: key.clone(),
            class: class::class_of(ingress).map(|(name, _)| name.to_owned()),
            ours,
            canary: review.canary,
            refusal: None,
            findings: Vec::new(),
        });
        reviews.push(review);
    }
    ingresses.sort_by_key(|(_, key, ingress)| precedence(key, ingress));

    let mut compiler = Compiler {
        index,
        config,
        builder: TableBuilder::new(),
        diagnostics,
        tls_hosts: tls::TlsHosts::default(),
    };
    let plain: Vec<(&ObjectKey, &Ingress)> = ingresses.iter().map(|(_, k, i)| (*k, *i)).collect();
    tls::compile_tls(&mut compiler, &plain);
    for (i, key, ingress) in ingresses {
        reports[i].refusal = rules::compile_ingress(&mut compiler, key, ingress, &reviews[i]);
    }
    for (report, review) in reports.iter_mut().zip(reviews) {
        report.findings = review.findings;
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
