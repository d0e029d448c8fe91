//! The pure translation from an [`Index`] to a [`RouteTable`](crate::table::RouteTable) plus
//! diagnostics (docs/architecture.md, "Ingress semantics" and "Backends").
//!
//! The modules, in the order a compile runs; each one uses only modules above it, so the
//! module graph has no cycle (and `crate::index` does not call back into this module: the
//! `Index::compile`, `refresh_endpoints` and `our_ingresses` methods are defined here):
//!
//! 1. [`context`]: the bottom layer, shared by all: the [`Compiler`] state one compile threads
//!    through, the TLS hosts, the usable nodes (computed once per compile or refresh) and the
//!    small types the backend modes share.
//! 2. [`class`]: which Ingresses are ours.
//! 3. [`annotations`]: per-Ingress settings and verdicts read through the annotation registry;
//!    a canary Ingress is set aside before any claim, so it never takes its mainline's routes.
//! 4. [`tls`]: `spec.tls` and the default certificate into the SNI map, first, so the rules
//!    know which hosts redirect to HTTPS.
//! 5. [`regex`]: which hosts match by regex, and their app roots, from every Ingress's path
//!    annotations, before any path is claimed.
//! 6. [`pod`], [`nodeport`] (which reads pod mode's endpoints for the `Local` policy),
//!    [`cluster_ip`]: the endpoints of one Service port, by mode.
//! 7. [`backend`]: an Ingress backend to a Service port, checked, then resolved by its mode.
//! 8. [`rules`]: one Ingress's rules, paths and default backend, in precedence order; then the
//!    regex hosts' paths are compiled together; then [`canary`]: canary Ingresses join the
//!    routes they name; then [`aliases`]: `server-alias` names and `from-to-www-redirect`
//!    hosts, once every rule has claimed its host (a real rule wins over an alias), so an
//!    alias serves the canaries too.
//!    changed endpoint data touches, resolved by [`backend`] as a full compile does.
//! 10. This module: the entry points, which run 2–8 in that order.
//!
//! Nothing here panics on user input: each bad part becomes a
//! [`Diagnostic`](crate::model::Diagnostic) naming its object, and everything else still
//! builds.

// Declared alphabetically (rustfmt's order); the run order is the list above.
mod aliases;
mod annotations;
mod backend;
mod canary;
mod class;
mod cluster_ip;
mod context;
mod error_pages;
#[cfg(test)]
mod layers;
mod nodeport;
mod passthrough;
mod pod;
mod refresh;
mod regex;
mod rules;
mod tls;

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::jiff::Timestamp;

use crate::annotations::{Annotations, Review};
use crate::config::CompileConfig;
use crate::index::{Compiled, EndpointChanges, Index, IngressReport};
use crate::model::{Kind, ObjectKey, ObjectRef};
use crate::table::RouteTable;
use context::Compiler;

impl Index {
    /// Builds the routing table (pure; never fails: bad parts become diagnostics).
    pub fn compile(&self, config: &CompileConfig) -> Compiled {
        compile(self, config)
    }

    /// The endpoint fast path: `table` (compiled from this index before `changes` were
    /// applied) with the endpoint sets of the backends `changes` touch recomputed. Routers,
    /// certificates and untouched backends are shared, not rebuilt. Equal to
    /// [`compile`](Self::compile)'s table when nothing but EndpointSlices and Nodes changed;
    /// the caller keeps the previous diagnostics (endpoint state raises none).
    pub fn refresh_endpoints(
        &self,
        table: &RouteTable,
        changes: &EndpointChanges,
        config: &CompileConfig,
    ) -> RouteTable {
        refresh::refresh_endpoints(self, table, changes, config)
    }

    /// Keys of the Ingresses that are ours under `config`'s class rules (the status writer
    /// and the Event recorder act on these only).
    pub fn our_ingresses(&self, config: &CompileConfig) -> std::collections::BTreeSet<&ObjectKey> {
        our_ingresses(self, config)
    }
}

/// Builds the table from everything in `index`.
fn compile(index: &Index, config: &CompileConfig) -> Compiled {
    let classes = class::ClassFilter::new(index, config);
    let mut diagnostics = Vec::new();
    // One report and one review per Ingress, by position; the reviews' findings move into the
    // reports once the rules are compiled.
    let mut reports = Vec::with_capacity(index.ingresses().len());
    let mut reviews: Vec<Review> = Vec::with_capacity(index.ingresses().len());
    let mut ingresses: Vec<(usize, &ObjectKey, &Ingress)> = Vec::new();
    let mut canaries: Vec<(&ObjectKey, &Ingress)> = Vec::new();
    for (key, ingress) in index.ingresses() {
        let ours = classes.is_ours(ingress);
        let review = crate::annotations::review(ingress, &config.annotations_prefix);
        if ours && review.canary {
            // Never a claimant: it joins the routes it names once they are claimed.
            let object = ObjectRef::new(Kind::Ingress, key.clone());
            diagnostics.extend(canary::ignored_keys(&object, &review));
            canaries.push((key, ingress));
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
    canaries.sort_by_key(|(key, ingress)| precedence(key, ingress));

    let mut compiler = Compiler::new(index, config);
    compiler.diagnostics = diagnostics;
    let plain: Vec<(&ObjectKey, &Ingress)> = ingresses.iter().map(|(_, k, i)| (*k, *i)).collect();
    tls::compile_tls(&mut compiler, &plain);
    rules::client_auth::plan(&mut compiler, &plain);
    let paths: Vec<annotations::PathAnnotations> = plain
        .iter()
        .map(|(key, ingress)| {
            let object = ObjectRef::new(Kind::Ingress, (*key).clone());
            let read = Annotations::of(ingress, &config.annotations_prefix);
            annotations::paths(read, &object, &mut compiler.diagnostics)
        })
        .collect();
    regex::plan(&mut compiler, &plain, &paths);
    for ((i, key, ingress), paths) in ingresses.into_iter().zip(&paths) {
        reports[i].refusal =
            rules::compile_ingress(&mut compiler, key, ingress, &reviews[i], paths);
    }
    for (host, error, owners) in compiler.builder.seal_regex() {
        for owner in owners {
            let message = format!("regex paths of host {host}: {error}; none of them is served");
            let object = ObjectRef::new(Kind::Ingress, owner);
            let d =
                crate::model::Diagnostic::error(object, crate::model::Reason::InvalidPath, message);
            compiler.diagnostics.push(d);
        }
    }
    passthrough::compile_passthrough(&mut compiler, &plain);
    canary::compile_canaries(&mut compiler, &canaries);
    compiler.install_global_default_backend();
    aliases::compile_aliases(&mut compiler, &plain);
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
fn our_ingresses<'a>(
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
