//! `ssl-passthrough` into the table's passthrough hosts (docs/architecture.md, "TLS
//! passthrough"), once every route is claimed.
//!
//! ingress-nginx (controller.go, `getBackendServers`; docs tls.md "SSL Passthrough") passes a
//! server through when any of its Ingresses sets the annotation, to the backend of the
//! server's `/` location, ignoring other paths (warned) and hosts whose `/` is the default
//! backend; without `--enable-ssl-passthrough` the annotation has no effect. Here:
//!
//! - The Ingress that owns a host's `/` route decides, as the oldest Ingress wins a path: a
//!   later Ingress asking for passthrough of a host whose `/` it does not own is warned about
//!   and not used (ingress-nginx would pass that host's traffic to the other Ingress's
//!   backend).
//! - Rules without a host cannot be matched to a ClientHello's server name: reported, served
//!   terminated (as ingress-nginx, whose TLS proxy never matches them).
//! - A `/` route that is refused (fail closed: an unenforced security annotation, a missing
//!   Secret, …) is not passed through: its refusal stands, over HTTPS too.
//! - Flag off: every Ingress asking is reported (warning), its hosts terminated as today.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::Ingress;

use super::context::Compiler;
use crate::annotations::{Annotations, parse_bool};
use crate::host::HostPattern;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};

/// Marks the passthrough hosts of `ingresses` (in precedence order) in the table being built.
pub(super) fn compile_passthrough(c: &mut Compiler<'_>, ingresses: &[(&ObjectKey, &Ingress)]) {
    // Hosts already decided, by the owner of their `/` route.
    let mut decided: BTreeSet<HostPattern> = BTreeSet::new();
    for (key, ingress) in ingresses {
        let keys = Annotations::of(ingress, &c.config.annotations_prefix);
        let Some((name, value)) = keys.nginx("ssl-passthrough") else {
            continue;
        };
        let object = ObjectRef::new(Kind::Ingress, (*key).clone());
        match parse_bool(value) {
            Some(true) => {}
            Some(false) => continue,
            None => {
                let message = format!(
                    "{name}: {value:?} is not a boolean; false applies (TLS is terminated by Strait)"
                );
                let d = Diagnostic::warning(object, Reason::InvalidAnnotation, message);
                c.diagnostics.push(d);
                continue;
            }
        }
        if !c.config.enable_ssl_passthrough {
            let message = format!(
                "{name}: TLS passthrough is off (--enable-ssl-passthrough); this Ingress's hosts are served with TLS terminated by Strait"
            );
            let d = Diagnostic::warning(object, Reason::IgnoredAnnotation, message);
            c.diagnostics.push(d);
            continue;
        }
        let hosts = rule_hosts(ingress);
        if hosts.is_empty() || hosts.contains(&HostPattern::Any) {
            let message = format!(
                "{name}: rules without a host cannot be passed through (a connection is matched by its TLS server name); they are served with TLS terminated by Strait"
            );
            let d = Diagnostic::error(object.clone(), Reason::InvalidAnnotation, message);
            c.diagnostics.push(d);
        }
        for host in hosts.iter().filter(|h| **h != HostPattern::Any) {
            mark(c, key, &object, host, &mut decided);
        }
    }
}

/// Passes `host` through to its `/` route's backend if `ingress` owns that route and nothing
/// stands against it; reports why not otherwise.
fn mark(
    c: &mut Compiler<'_>,
    ingress: &ObjectKey,
    object: &ObjectRef,
    host: &HostPattern,
    decided: &mut BTreeSet<HostPattern>,
) {
    let root = c
        .builder
        .routes_of(host)
        .and_then(|routes| routes.lookup("/"))
        .map(|m| m.value.clone());
    let (reason, problem) = match root {
        None => (
            Reason::InvalidAnnotation,
            format!(
                "host {host} has no route for `/`, whose backend a passthrough connection goes to; TLS passthrough not used for it"
            ),
        ),
        Some(route) if route.ingress != *ingress => {
            if decided.contains(host) {
                return;
            }
            (
                Reason::Conflict,
                format!(
                    "host {host}: its `/` route belongs to Ingress {}, which decides TLS passthrough for the host; this Ingress's ssl-passthrough is not used for it",
                    route.ingress
                ),
            )
        }
        Some(route) if route.options.refused.is_some() => (
            Reason::InvalidAnnotation,
            format!(
                "host {host}: its `/` route is refused; TLS is terminated by Strait and the refusal answers"
            ),
        ),
        Some(route) => {
            c.builder.passthrough(host, route.backend);
            decided.insert(host.clone());
            return;
        }
    };
    let d = Diagnostic::warning(object.clone(), reason, problem);
    c.diagnostics.push(d);
}

/// An Ingress's rule hosts (valid ones; invalid hosts are reported by the rules pass), sorted,
/// without repeats.
fn rule_hosts(ingress: &Ingress) -> BTreeSet<HostPattern> {
    ingress
        .spec
        .iter()
        .flat_map(|spec| spec.rules.iter().flatten())
        .filter_map(|rule| HostPattern::parse(rule.host.as_deref().unwrap_or("")).ok())
        .collect()
}
