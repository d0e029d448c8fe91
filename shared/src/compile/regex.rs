//! Which hosts match by regex, and each host's app-root, decided from every Ingress before any
//! path is claimed (docs/architecture.md, "Regex paths and rewrites"); and the locations one
//! claim on such a host becomes.
//!
//! - A host matches by regex once any of our Ingresses with a rule for it sets `use-regex` or
//!   rewrites one of its paths there (ingress-nginx's `enforceRegexModifier` over the server's
//!   locations). Then every path of the host, from every Ingress and of every pathType, is a
//!   regex location — `Exact` included, unless `--regex-keep-exact-paths`.
//! - A `Prefix` path of an Ingress that neither sets `use-regex` nor rewrites it is two
//!   locations on such a host, `<path>/` and `<path>`, as ingress-nginx's
//!   `updateServerLocations` makes them (the second only when no `Exact` location has the
//!   same path): they lead to the same route, and the pair sorts as nginx sorts it.
//! - A host's app-root is the first, in precedence order, of its Ingresses' `app-root`s; a
//!   different one from a younger Ingress is reported and not used.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;

use super::annotations::{PathAnnotations, Target};
use super::context::{Compiler, RegexPlan};
use crate::host::HostPattern;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};
use crate::paths::PathKind;

/// Fills `c.regex` from our Ingresses (in precedence order) and their path annotations, and
/// switches the regex hosts of the table being built to regex matching.
pub(super) fn plan(
    c: &mut Compiler<'_>,
    ingresses: &[(&ObjectKey, &Ingress)],
    annotations: &[PathAnnotations],
) {
    let mut regex_hosts = BTreeSet::new();
    let mut app_roots: BTreeMap<HostPattern, (Arc<str>, &ObjectKey)> = BTreeMap::new();
    for ((key, ingress), paths) in ingresses.iter().zip(annotations) {
        if !paths.use_regex && paths.target == Target::None && paths.app_root.is_none() {
            continue;
        }
        let mut lost = BTreeSet::new();
        for (host, _, path) in rule_paths(ingress) {
            if paths.regex(path) {
                regex_hosts.insert(host.clone());
            }
            let Some(root) = &paths.app_root else {
                continue;
            };
            match app_roots.get(&host) {
                None => {
                    app_roots.insert(host, (Arc::clone(root), key));
                }
                Some((held, holder)) if held != root && *holder != *key => {
                    lost.insert((host, Arc::clone(held), (*holder).clone()));
                }
                Some(_) => {}
            }
        }
        for (host, held, holder) in lost {
            let object = ObjectRef::new(Kind::Ingress, (*key).clone());
            let message = format!(
                "app-root on host {}: conflict lost to {holder}, whose app-root {held} applies",
                describe(&host)
            );
            c.diagnostics
                .push(Diagnostic::warning(object, Reason::Conflict, message));
        }
    }
    // The `Exact` paths of the regex hosts, from every Ingress: a plain `Prefix` with the same
    // path is one location there, not two.
    let mut exact: BTreeMap<HostPattern, BTreeSet<String>> = BTreeMap::new();
    if !regex_hosts.is_empty() {
        for (_, ingress) in ingresses {
            for (host, kind, path) in rule_paths(ingress) {
                if kind == PathKind::Exact && regex_hosts.contains(&host) {
                    exact.entry(host).or_default().insert(path.to_owned());
                }
            }
        }
    }
    let keep_exact = c.config.regex_keep_exact_paths;
    for host in &regex_hosts {
        c.builder.regex_host(host, keep_exact);
    }
    c.regex = RegexPlan {
        exact,
        hosts: regex_hosts,
        app_roots: app_roots
            .into_iter()
            .map(|(host, (root, _))| (host, root))
            .collect(),
    };
}

/// The location paths of a claim on `host`, or `None` when the host does not match by regex
/// (or the claim is an `Exact` kept exact).
pub(super) fn locations<'p>(
    c: &Compiler<'_>,
    annotations: &PathAnnotations,
    host: &HostPattern,
    kind: PathKind,
    path: &'p str,
) -> Option<Vec<Cow<'p, str>>> {
    if !c.regex.hosts.contains(host) || (kind == PathKind::Exact && c.config.regex_keep_exact_paths)
    {
        return None;
    }
    if annotations.regex(path) || kind != PathKind::Prefix || path == "/" {
        return Some(vec![Cow::Borrowed(path)]);
    }
    let with_slash = if path.ends_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("{path}/"))
    };
    let exact_taken = c
        .regex
        .exact
        .get(host)
        .is_some_and(|paths| paths.contains(path));
    if exact_taken || with_slash == path {
        Some(vec![with_slash])
    } else {
        Some(vec![with_slash, Cow::Borrowed(path)])
    }
}

/// The path a rule path stands for, as the rules read it: an empty path is `/` unless
/// `Exact`; `None` (an `InvalidPath`) unless it starts with `/`.
pub(super) fn effective_path(kind: PathKind, raw: &str) -> Option<&str> {
    let path = if raw.is_empty() && kind != PathKind::Exact {
        "/"
    } else {
        raw
    };
    path.starts_with('/').then_some(path)
}

/// Every host, pathType and path the rules of `ingress` claim, skipping what the rules reject
/// (they report it): a rule with a host and no paths claims `/` as a `Prefix` when the Ingress
/// has a default backend.
fn rule_paths(ingress: &Ingress) -> Vec<(HostPattern, PathKind, &str)> {
    let Some(spec) = ingress.spec.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rule in spec.rules.iter().flatten() {
        let Ok(host) = HostPattern::parse(rule.host.as_deref().unwrap_or("")) else {
            continue;
        };
        let paths = rule.http.as_ref().map_or(&[][..], |h| h.paths.as_slice());
        if paths.is_empty() {
            if spec.default_backend.is_some() && host != HostPattern::Any {
                out.push((host, PathKind::Prefix, "/"));
            }
            continue;
        }
        for p in paths {
            let Some(kind) = PathKind::parse(&p.path_type) else {
                continue;
            };
            if let Some(path) = effective_path(kind, p.path.as_deref().unwrap_or("")) {
                out.push((host.clone(), kind, path));
            }
        }
    }
    out
}

fn describe(host: &HostPattern) -> String {
    match host {
        HostPattern::Any => "(any host)".to_owned(),
        other => other.to_string(),
    }
}
