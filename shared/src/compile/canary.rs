//! Canary Ingresses (docs/architecture.md, "Canary"), after every main rule is claimed, as
//! ingress-nginx's `mergeAlternativeBackends` pairs them:
//!
//! - Each path of a canary Ingress (`canary: "true"`) joins the route its host + pathType +
//!   path names — whichever Ingress and namespace owns it — as that route's canary; its
//!   `spec.defaultBackend` joins the default backend. A path with no such route, a route that
//!   has a canary already (one per rule; the older canary keeps it) and a canary on the main
//!   route's own Service are reported and have no effect.
//! - Unlike ingress-nginx, whose canary joins the main *Service* and so every route that uses
//!   it (kubernetes/ingress-nginx#9458), a canary joins only the routes it names.
//! - The canary Ingress's other annotations are ignored, as there: the main route's settings
//!   (auth, limits, CORS…) apply to canary traffic. The affinity and balancing keys ingress-nginx
//!   reads on a canary are not implemented yet; they are reported with the rest.

use std::sync::Arc;

use http::HeaderValue;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use super::backend::service_ref;
use super::context::Compiler;
use crate::annotations::{Annotations, Review};
use crate::host::HostPattern;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};
use crate::paths::PathKind;
use crate::table::canary::{Canary, HeaderMatch, compile_pattern, header_name};

/// What a canary Ingress's annotations ask for (the backend comes from each path).
struct Policy {
    header: Option<http::HeaderName>,
    header_match: HeaderMatch,
    cookie: Option<Box<str>>,
    weight: u32,
    weight_total: u32,
    sticky: bool,
}

/// Joins the canary Ingresses (ours, in precedence order) to their main routes.
pub(super) fn compile_canaries(c: &mut Compiler<'_>, canaries: &[(&ObjectKey, &Ingress)]) {
    for &(key, ingress) in canaries {
        let object = ObjectRef::new(Kind::Ingress, key.clone());
        let read = Annotations::of(ingress, &c.config.annotations_prefix);
        let policy = policy(read, &object, &mut c.diagnostics);
        let Some(spec) = ingress.spec.as_ref() else {
            continue;
        };
        for rule in spec.rules.iter().flatten() {
            let Ok(host) = HostPattern::parse(rule.host.as_deref().unwrap_or("")) else {
                let message = format!("canary rule host {:?} is not valid", rule.host);
                c.diagnostics.push(Diagnostic::error(
                    object.clone(),
                    Reason::InvalidHost,
                    message,
                ));
                continue;
            };
            for p in rule.http.iter().flat_map(|h| &h.paths) {
                let Some(kind) = PathKind::parse(&p.path_type) else {
                    continue;
                };
                let raw = p.path.as_deref().unwrap_or("");
                let path = if raw.is_empty() { "/" } else { raw };
                let at = Some((&host, kind, path));
                join(c, key, &object, &policy, at, &p.backend);
            }
        }
        if let Some(backend) = &spec.default_backend {
            join(c, key, &object, &policy, None, backend);
        }
    }
}

/// Makes `backend` the canary of the route at `at` (`None`: the default backend).
fn join(
    c: &mut Compiler<'_>,
    key: &ObjectKey,
    object: &ObjectRef,
    policy: &Policy,
    at: Option<(&HostPattern, PathKind, &str)>,
    backend: &IngressBackend,
) {
    let what = match at {
        Some((host, kind, path)) => format!("{} path {path} on host {host}", kind.as_str()),
        None => "the default backend".to_owned(),
    };
    let service = match service_ref(&key.namespace, backend) {
        Ok(service) => service,
        Err((reason, detail)) => {
            let message = format!("canary for {what}: {detail}");
            c.diagnostics
                .push(Diagnostic::error(object.clone(), reason, message));
            return;
        }
    };
    let Some(main) = c.builder.route_mut(at) else {
        let message = format!(
            "canary for {what}: no Ingress serves {what}, so this canary path has no effect"
        );
        warn(c, object, Reason::Conflict, message);
        return;
    };
    if let Some(existing) = &main.options.canary {
        let message = format!(
            "canary for {what}: {} is its canary already (one canary per rule); this one has no effect",
            existing.ingress
        );
        warn(c, object, Reason::Conflict, message);
        return;
    }
    let main_id = main.backend;
    let main_backend = c.builder.backend_of(main_id);
    if *main_backend.service == service {
        let message = format!(
            "canary for {what}: {service} is the main route's own Service, so the canary has no effect"
        );
        warn(c, object, Reason::Conflict, message);
        return;
    }
    let mode = main_backend.mode;
    let id = c.backend(object, service, mode);
    let canary = Canary {
        ingress: key.clone(),
        backend: id,
        header: policy.header.clone(),
        header_match: policy.header_match.clone(),
        cookie: policy.cookie.clone(),
        weight: policy.weight,
        weight_total: policy.weight_total,
        sticky: policy.sticky,
    };
    let affinity = c
        .builder
        .route_mut(at)
        .is_some_and(|m| m.options.affinity.is_some());
    if affinity && policy.sticky {
        let secret = super::backend::secret(c.index, &c.builder.backend_of(id).service);
        c.builder.key_backend(id, &secret, None);
    }
    if let Some(main) = c.builder.route_mut(at) {
        main.options.canary = Some(Arc::new(canary));
    }
}

/// The `canary-*` keys. An invalid value is reported and takes ingress-nginx's default.
fn policy(read: Annotations<'_>, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Policy {
    let mut invalid = |key: &str, value: &str, why: &str| {
        diagnostics.push(Diagnostic::warning(
            object.clone(),
            Reason::InvalidAnnotation,
            format!("{key}: {value:?} {why}"),
        ));
    };
    let text = |name| read.nginx(name).filter(|(_, v)| !v.trim().is_empty());
    let header = text("canary-by-header").and_then(|(key, value)| {
        let name = header_name(value);
        if name.is_none() {
            invalid(&key, value, "is not a header name; ignored");
        }
        name
    });
    let header_match = if let Some((key, value)) = text("canary-by-header-value") {
        match HeaderValue::from_str(value) {
            Ok(value) => HeaderMatch::Value(value),
            Err(_) => {
                invalid(&key, value, "is not a header value; ignored");
                HeaderMatch::AlwaysNever
            }
        }
    } else if let Some((key, value)) = text("canary-by-header-pattern") {
        match compile_pattern(value) {
            Ok(pattern) => HeaderMatch::Pattern(pattern),
            Err(e) => {
                // ingress-nginx's balancer answers a pattern error with the main backend.
                invalid(
                    &key,
                    value,
                    &format!(
                        "is not a usable regex ({e}); requests with the header go to the main backend"
                    ),
                );
                HeaderMatch::Invalid
            }
        }
    } else {
        HeaderMatch::AlwaysNever
    };
    let cookie = text("canary-by-cookie").map(|(_, v)| v.trim().into());
    let sticky = match text("affinity-canary-behavior") {
        None => true,
        Some((_, v)) if v.trim() == "sticky" => true,
        Some((_, v)) if v.trim() == "legacy" => false,
        Some((key, v)) => {
            invalid(&key, v, "is not sticky or legacy; sticky applies");
            true
        }
    };
    let mut integer = |name, default: i64| match text(name) {
        None => default,
        Some((key, value)) => value.trim().parse::<i64>().unwrap_or_else(|_| {
            invalid(
                &key,
                value,
                &format!("is not an integer; {default} applies"),
            );
            default
        }),
    };
    let weight = integer("canary-weight", 0);
    let total = integer("canary-weight-total", 100);
    Policy {
        header,
        header_match,
        cookie,
        weight: u32::try_from(weight.max(0)).unwrap_or(u32::MAX),
        weight_total: Canary::effective_total(total),
        sticky,
    }
}

/// The keys of a canary Ingress that have no effect there (all but `canary*`), as one
/// warning.
pub(super) fn ignored_keys(object: &ObjectRef, review: &Review) -> Option<Diagnostic> {
    let ignored: Vec<&str> = review
        .findings
        .iter()
        .filter(|f| {
            f.spec.is_none_or(|spec| {
                !spec.name.starts_with("canary") && spec.name != "affinity-canary-behavior"
            })
        })
        .map(|f| f.key.as_str())
        .collect();
    (!ignored.is_empty()).then(|| {
        Diagnostic::warning(
            object.clone(),
            Reason::IgnoredAnnotation,
            format!(
                "{}: ignored on a canary Ingress (the main Ingress's settings apply to canary traffic)",
                ignored.join(", ")
            ),
        )
    })
}

fn warn(c: &mut Compiler<'_>, object: &ObjectRef, reason: Reason, message: String) {
    c.diagnostics
        .push(Diagnostic::warning(object.clone(), reason, message));
}
