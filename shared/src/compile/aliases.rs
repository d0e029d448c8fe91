//! More names for an Ingress's hosts, after every rule is claimed (docs/architecture.md,
//! "Hosts"), as ingress-nginx builds them (`controller.go` `createServers`, `BuildRedirects`):
//!
//! - `server-alias: "a.example.com, *.b.example.com"`: each host of the Ingress's rules is also
//!   served under those names — the whole host, whichever Ingress owns each path. Per host, the
//!   first Ingress in precedence order that sets aliases is the one read; an alias that is a
//!   host of some rule keeps its own routes (a real rule wins); an alias that is no host name
//!   (ingress-nginx also takes `~regex` server names) is reported and skipped.
//! - `from-to-www-redirect: "true"`: for each exact host `h` of the Ingress, the other name
//!   (`www.h`, or `h` less `www.`) answers every request with a redirect to `h`, unless that
//!   name has rules of its own.
//!
//! Both names get the host's certificate when it covers them, else the default certificate,
//! as ingress-nginx does.

use std::collections::HashSet;

use http::HeaderValue;
use k8s_openapi::api::networking::v1::Ingress;

use super::context::Compiler;
use crate::annotations::{Annotations, parse_bool};
use crate::host::HostPattern;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};
use crate::table::{Route, RouteOptions};

/// Adds the aliases and redirect hosts of `ingresses` (ours, in precedence order).
pub(super) fn compile_aliases(c: &mut Compiler<'_>, ingresses: &[(&ObjectKey, &Ingress)]) {
    let mut aliased: HashSet<HostPattern> = HashSet::new();
    for &(key, ingress) in ingresses {
        let read = Annotations::of(ingress, &c.config.annotations_prefix);
        let object = ObjectRef::new(Kind::Ingress, key.clone());
        let aliases = aliases(read, &object, &mut c.diagnostics);
        let www = read
            .nginx("from-to-www-redirect")
            .is_some_and(|(_, v)| parse_bool(v) == Some(true));
        if aliases.is_empty() && !www {
            continue;
        }
        for host in rule_hosts(ingress) {
            if !aliases.is_empty() && aliased.insert(host.clone()) {
                for alias in &aliases {
                    if alias != &host && !c.builder.alias(alias, &host) {
                        let message = format!(
                            "server-alias {alias} of {host}: {alias} has rules of its own, which keep it"
                        );
                        warn(c, &object, Reason::Conflict, message);
                    }
                }
            } else if !aliases.is_empty() {
                let message = format!(
                    "server-alias: {host} takes the aliases of an earlier Ingress; these are skipped"
                );
                warn(c, &object, Reason::Conflict, message);
            }
            if www {
                www_redirect(c, key, &object, &host);
            }
        }
    }
}

/// The names of `server-alias`: trimmed, deduplicated, in ingress-nginx's sorted order.
fn aliases(
    read: Annotations<'_>,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<HostPattern> {
    let Some((key, value)) = read.nginx("server-alias") else {
        return Vec::new();
    };
    let mut names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut aliases = Vec::new();
    for name in names {
        match HostPattern::parse(name) {
            Ok(HostPattern::Any) => {}
            Ok(pattern) => aliases.push(pattern),
            Err(e) => diagnostics.push(Diagnostic::warning(
                object.clone(),
                Reason::InvalidAnnotation,
                format!("{key}: {name:?} skipped: {e} (Strait takes host names and `*.` wildcards, not regex server names)"),
            )),
        }
    }
    aliases
}

/// The hosts of an Ingress's rules that parse (invalid ones were reported with the rules);
/// rules without a host have no name to alias.
fn rule_hosts(ingress: &Ingress) -> Vec<HostPattern> {
    let rules = ingress.spec.as_ref().and_then(|s| s.rules.as_ref());
    let mut hosts: Vec<HostPattern> = rules
        .into_iter()
        .flatten()
        .filter_map(|rule| HostPattern::parse(rule.host.as_deref().unwrap_or("")).ok())
        .filter(|host| *host != HostPattern::Any)
        .collect();
    hosts.dedup();
    hosts
}

/// `from-to-www-redirect` for `host`: its other name redirects to it.
fn www_redirect(c: &mut Compiler<'_>, key: &ObjectKey, object: &ObjectRef, host: &HostPattern) {
    let HostPattern::Exact(name) = host else {
        return;
    };
    let other = match name.strip_prefix("www.") {
        Some(bare) => bare.to_owned(),
        None => format!("www.{name}"),
    };
    let Ok(from) = HostPattern::parse(&other) else {
        return;
    };
    // The route of the host it redirects to lends its backend id (never dialled) and its
    // access-log setting.
    let Some(target) = c.builder.routes_of(host).and_then(|r| r.values().next()) else {
        return;
    };
    let Ok(to) = HeaderValue::from_str(name) else {
        return;
    };
    let route = Route {
        ingress: key.clone(),
        backend: target.backend,
        options: RouteOptions {
            access_log: target.options.access_log,
            www_redirect: Some(to),
            ..RouteOptions::default()
        },
    };
    if !c.builder.redirect_host(&from, host, route) {
        let message = format!(
            "from-to-www-redirect: {other} has rules of its own, so it is not redirected to {name}"
        );
        warn(c, object, Reason::Conflict, message);
    }
}

fn warn(c: &mut Compiler<'_>, object: &ObjectRef, reason: Reason, message: String) {
    c.diagnostics
        .push(Diagnostic::warning(object.clone(), reason, message));
}
