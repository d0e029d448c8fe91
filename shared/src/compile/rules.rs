//! One Ingress's rules, paths and default backend, claimed in the table in precedence order.
//!
//! - Hosts: [`HostPattern::parse`]; an invalid host skips its rule (`InvalidHost`).
//! - Paths: `pathType` is required (`InvalidPathType` otherwise). An empty path means `/` for
//!   `Prefix` and `ImplementationSpecific` (the Kubernetes default); every path must start
//!   with `/` (`InvalidPath`).
//! - A rule with a host and no paths serves `/` of that host from the Ingress's
//!   `spec.defaultBackend`, as ingress-nginx does; without one it adds nothing.
//! - Redirects: a route redirects plain HTTP to HTTPS when its Ingress forces it, or when its
//!   host is a TLS host (of any of our Ingresses: TLS is per host) and its Ingress does not
//!   opt out. Host-less rules and the default backend have no TLS host, so only force counts.
//! - Access log: on unless the Ingress sets `enable-access-log: "false"`; carried per route.
//! - Auth: basic auth ([`basic_auth`]) and external auth ([`external_auth`], the Ingress's own
//!   or the global one) are carried by every route of the Ingress but those whose rule path
//!   starts with one of `--no-auth-locations` (ingress-nginx leaves both off there).
//! - Refusal: an Ingress with a snippet, or with a security annotation Strait does not enforce
//!   (under the default `--unsupported-security-annotations=refuse`), still claims its routes,
//!   so they answer 503 with the reason instead of falling through to another rule.
//! - Claims: the first Ingress to claim host + pathType + path (or the default backend) wins;
//!   a later claim is skipped with a `Conflict` diagnostic naming the winner, and the rest of
//!   that Ingress still goes in.
//! - Regex hosts ([`super::regex`]): a claim there is one or two regex locations, compiled
//!   here; one that does not compile is skipped with an `InvalidPath` error (quarantined
//!   alone). A rewritten path carries its [`Rewrite`]; every route of a host with an
//!   `app-root` carries it.

use std::sync::Arc;

use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend, IngressRule};

use super::annotations::{self, PathAnnotations, Settings, Target};
use super::backend::service_ref;
use super::context::Compiler;
use super::regex;
use crate::annotations::{Annotations, Review};
use crate::host::HostPattern;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};
use crate::paths::PathKind;
use crate::paths::regex::{RegexError, RegexPath, RegexRejected};
use crate::table::basic_auth::BasicAuth;
use crate::table::rewrite::Rewrite;
use crate::table::{ExternalAuth, Refusal, Route, RouteOptions, Satisfy};
use strict_path::strictly_valid;

mod basic_auth;
pub(super) mod client_auth;
mod external_auth;
mod strict_path;
mod upstream;

/// What every claim of one Ingress shares.
struct IngressCtx<'a> {
    key: &'a ObjectKey,
    object: ObjectRef,
    settings: Settings,
    /// Basic auth of every route (`auth-type: basic`), read in [`basic_auth`].
    basic_auth: Option<std::sync::Arc<BasicAuth>>,
    /// External auth of every route (own or global), read in [`external_auth`].
    external_auth: Option<std::sync::Arc<ExternalAuth>>,
    satisfy: Satisfy,
    /// `use-regex`, `rewrite-target`, `x-forwarded-prefix`, `app-root`.
    paths: &'a PathAnnotations,
    /// The `default-backend` Service's backend, when it can serve.
    error_backend: Option<crate::table::BackendId>,
    /// `backend-protocol` and `proxy-ssl-*`, read in [`upstream`].
    upstream: upstream::IngressUpstream,
}

pub(super) fn compile_ingress(
    c: &mut Compiler<'_>,
    key: &ObjectKey,
    ingress: &Ingress,
    review: &Review,
    paths: &PathAnnotations,
) -> Option<Refusal> {
    let object = ObjectRef::new(Kind::Ingress, key.clone());
    let read = Annotations::of(ingress, &c.config.annotations_prefix);
    let mut settings = annotations::settings(read, review, c.config, &object, &mut c.diagnostics);
    annotations::report(review, c.config, &object, &mut c.diagnostics);
    let basic_auth = basic_auth::read(read, c.index, key, &object, &mut c.diagnostics)
        .unwrap_or_else(|refusal| {
            settings.refused = settings.refused.or(Some(refusal));
            None
        });
    let reading = external_auth::Reading {
        keys: read,
        config: c.config,
        index: c.index,
        ingress: key,
        object: &object,
    };
    let (external, satisfy) = external_auth::read(&reading, &mut c.diagnostics);
    let external_auth = external.unwrap_or_else(|refusal| {
        settings.refused = settings.refused.or(Some(refusal));
        None
    });
    let error_backend = c.own_error_backend(&object, &settings.errors, settings.mode);
    let upstream =
        upstream::read(read, c.index, key, &object, &mut c.diagnostics).unwrap_or_else(|refusal| {
            settings.refused = settings.refused.or(Some(refusal));
            upstream::IngressUpstream::default()
        });
    let ctx = IngressCtx {
        error_backend,
        key,
        object,
        settings,
        basic_auth,
        external_auth,
        satisfy,
        paths,
        upstream,
    };
    let Some(spec) = ingress.spec.as_ref() else {
        return ctx.settings.refused;
    };
    for rule in spec.rules.iter().flatten() {
        compile_rule(c, &ctx, rule, spec.default_backend.as_ref());
    }
    if let Some(backend) = &spec.default_backend {
        compile_default_backend(c, &ctx, backend);
    }
    ctx.settings.refused
}

fn compile_rule(
    c: &mut Compiler<'_>,
    ctx: &IngressCtx<'_>,
    rule: &IngressRule,
    default_backend: Option<&IngressBackend>,
) {
    let raw_host = rule.host.as_deref().unwrap_or("");
    let host = match HostPattern::parse(raw_host) {
        Ok(host) => host,
        Err(e) => {
            let d = Diagnostic::error(ctx.object.clone(), Reason::InvalidHost, e.to_string());
            c.diagnostics.push(d);
            return;
        }
    };
    let paths = rule.http.as_ref().map_or(&[][..], |h| h.paths.as_slice());
    if paths.is_empty() {
        if let (Some(backend), false) = (default_backend, host == HostPattern::Any) {
            claim(c, ctx, &host, PathKind::Prefix, "/", backend);
        }
        return;
    }
    for path in paths {
        compile_path(c, ctx, &host, path);
    }
}

fn compile_path(
    c: &mut Compiler<'_>,
    ctx: &IngressCtx<'_>,
    host: &HostPattern,
    p: &HTTPIngressPath,
) {
    let Some(kind) = PathKind::parse(&p.path_type) else {
        let message = format!(
            "host {}: pathType {:?} is not Exact, Prefix or ImplementationSpecific",
            describe(host),
            p.path_type
        );
        let d = Diagnostic::error(ctx.object.clone(), Reason::InvalidPathType, message);
        c.diagnostics.push(d);
        return;
    };
    let raw = p.path.as_deref().unwrap_or("");
    let path = if raw.is_empty() && kind != PathKind::Exact {
        "/"
    } else {
        raw
    };
    if !path.starts_with('/') {
        let message = format!(
            "host {}: {} path {path:?} must start with /",
            describe(host),
            kind.as_str()
        );
        let d = Diagnostic::error(ctx.object.clone(), Reason::InvalidPath, message);
        c.diagnostics.push(d);
        return;
    }
    if c.config.strict_validate_path_type
        && kind != PathKind::ImplementationSpecific
        && !raw.is_empty()
        && !strictly_valid(raw)
    {
        let message = format!(
            "host {}: {} path {raw:?} has characters other than letters, digits, `.`, `_`, `-` and `/`; not served (--strict-validate-path-type; use pathType ImplementationSpecific for a regex)",
            describe(host),
            kind.as_str()
        );
        let d = Diagnostic::error(ctx.object.clone(), Reason::InvalidPath, message);
        c.diagnostics.push(d);
        return;
    }
    claim(c, ctx, host, kind, path, &p.backend);
}

/// Claims host + kind + path for `backend`, unless an earlier Ingress holds it.
fn claim(
    c: &mut Compiler<'_>,
    ctx: &IngressCtx<'_>,
    host: &HostPattern,
    kind: PathKind,
    path: &str,
    backend: &IngressBackend,
) {
    let what = || format!("{} path {path} on host {}", kind.as_str(), describe(host));
    if let Some(winner) = c.builder.claim(host, kind, path) {
        let d = conflict(ctx, &what(), &winner.ingress);
        c.diagnostics.push(d);
        return;
    }
    let rewrites = ctx.paths.rewrites(path);
    if rewrites && matches!(ctx.paths.target, Target::Unsupported(_)) {
        // Reported once for the Ingress when its annotation was read.
        return;
    }
    let locations = match regex_locations(c, ctx, host, kind, path) {
        Ok(locations) => locations,
        Err(e) => return quarantine(c, ctx, &what(), &e),
    };
    let rewrite = match (&ctx.paths.target, rewrites) {
        (Target::Rewrite(target), true) => {
            let prefix = ctx.paths.forwarded_prefix.clone();
            match Rewrite::new(path, target.clone(), prefix) {
                Ok(rewrite) => Some(Arc::new(rewrite)),
                Err(e) => return quarantine(c, ctx, &what(), &e),
            }
        }
        _ => None,
    };
    let Some(mut route) = route(c, ctx, host, Some(path), backend, &what) else {
        return;
    };
    route.options.rewrite = rewrite;
    route.options.app_root = c.regex.app_roots.get(host).cloned();
    let inserted = match locations {
        Some(locations) => c.builder.insert_regex(host, kind, path, locations, route),
        None => c
            .builder
            .insert(host, kind, path, route)
            .map_err(RegexRejected::Taken),
    };
    match inserted {
        Ok(()) => {}
        // Not reached: `claim` above found the slot free. Reported rather than assumed.
        Err(RegexRejected::Taken(winner)) => {
            let d = conflict(ctx, &what(), &winner.ingress);
            c.diagnostics.push(d);
        }
        Err(RegexRejected::HostTooLarge) => {
            quarantine(c, ctx, &what(), &RegexError::HostTooLarge);
        }
    }
}

/// The compiled regex locations of a claim on a regex host; `Ok(None)` elsewhere.
fn regex_locations(
    c: &Compiler<'_>,
    ctx: &IngressCtx<'_>,
    host: &HostPattern,
    kind: PathKind,
    path: &str,
) -> Result<Option<Vec<RegexPath>>, RegexError> {
    let Some(paths) = regex::locations(c, ctx.paths, host, kind, path) else {
        return Ok(None);
    };
    let compiled: Result<Vec<RegexPath>, RegexError> =
        paths.iter().map(|p| RegexPath::parse(p)).collect();
    compiled.map(Some)
}

/// A claim on a regex host whose regex cannot serve: skipped with an Error naming it.
fn quarantine(c: &mut Compiler<'_>, ctx: &IngressCtx<'_>, what: &str, error: &RegexError) {
    let message = format!(
        "{what}: matched as a regular expression (its host uses use-regex or rewrite-target), it {error}; not served"
    );
    c.diagnostics.push(Diagnostic::error(
        ctx.object.clone(),
        Reason::InvalidPath,
        message,
    ));
}

fn compile_default_backend(c: &mut Compiler<'_>, ctx: &IngressCtx<'_>, backend: &IngressBackend) {
    let what = || "default backend".to_owned();
    if let Some(winner) = c.builder.current_default_backend() {
        let d = conflict(ctx, &what(), &winner.ingress);
        c.diagnostics.push(d);
        return;
    }
    let Some(route) = route(c, ctx, &HostPattern::Any, None, backend, &what) else {
        return;
    };
    if let Err(winner) = c.builder.default_backend(route) {
        // Not reached: checked just above. Reported rather than assumed.
        let d = conflict(ctx, &what(), &winner.ingress);
        c.diagnostics.push(d);
    }
}

/// The route for a backend on `host` at rule path `path` (`None`: the default backend), or
/// `None` (with a diagnostic) when it names no usable Service.
fn route(
    c: &mut Compiler<'_>,
    ctx: &IngressCtx<'_>,
    host: &HostPattern,
    path: Option<&str>,
    backend: &IngressBackend,
    what: &dyn Fn() -> String,
) -> Option<Route> {
    let service = match service_ref(&ctx.key.namespace, backend) {
        Ok(service) => service,
        Err((reason, detail)) => {
            let message = format!("{}: {detail}", what());
            c.diagnostics
                .push(Diagnostic::error(ctx.object.clone(), reason, message));
            return None;
        }
    };
    let settings = &ctx.settings;
    let error_pages = c.error_pages(&settings.errors, ctx.error_backend, ctx.key, &service);
    let upstream = route_upstream(c, ctx, &service);
    let keyed = settings.affinity.is_some() || settings.hashing.is_some();
    let secret = keyed.then(|| super::backend::secret(c.index, &service));
    let backend = c.backend(&ctx.object, service, settings.mode);
    if let Some(secret) = &secret {
        let subset = settings.hashing.as_ref().and_then(|h| h.subset);
        c.builder.key_backend(backend, secret, subset);
    }
    let redirects = settings.redirects;
    let https_redirect = redirects.force || (redirects.ssl && c.tls_hosts.contains(host));
    let exempt = path.is_some_and(|p| external_auth::exempt(c.config, p));
    let (client_auth, refused) = match c.client_auth.get(host) {
        None => (None, settings.refused),
        Some(Ok(auth)) => (Some(Arc::clone(auth)), settings.refused),
        Some(Err(refusal)) => (None, settings.refused.or(Some(*refusal))),
    };
    Some(Route {
        ingress: ctx.key.clone(),
        backend,
        options: RouteOptions {
            https_redirect,
            access_log: settings.access_log,
            refused,
            basic_auth: ctx.basic_auth.clone().filter(|_| !exempt),
            external_auth: ctx.external_auth.clone().filter(|_| !exempt),
            satisfy: ctx.satisfy,
            source: settings.source.clone(),
            max_body_size: settings.max_body_size,
            limits: settings.limits.clone(),
            cors: settings.cors.clone(),
            timeouts: settings.timeouts.clone(),
            redirect: settings.redirect.clone(),
            https_redirect_style: settings.https_redirect_style,
            upstream_host: settings.upstream_host.clone(),
            www_redirect: None,
            canary: None,
            retries: settings.retries.clone(),
            rewrite: None,
            app_root: None,
            error_pages,
            upstream,
            client_auth,
            affinity: settings.affinity.clone(),
            hashing: settings.hashing.clone(),
            load_balance: settings.load_balance,
        },
    })
}

/// The upstream settings of a route to `service`: the Ingress's `backend-protocol`, else the
/// Service port's `appProtocol` (Gateway API's and Contour's reading), else cleartext HTTP/1.1
/// (`None`, also when nothing differs from it).
fn route_upstream(
    c: &Compiler<'_>,
    ctx: &IngressCtx<'_>,
    service: &crate::table::ServiceRef,
) -> Option<Arc<crate::table::upstream::Upstream>> {
    use crate::table::upstream::{Protocol, Upstream};
    let ingress = &ctx.upstream;
    let protocol = ingress
        .protocol
        .or_else(|| {
            super::backend::app_protocol(c.index, service).and_then(Protocol::of_app_protocol)
        })
        .unwrap_or_default();
    if protocol == Protocol::Http && ingress.tls.is_none() {
        return None;
    }
    Some(Arc::new(Upstream {
        protocol,
        tls: ingress.tls.clone(),
    }))
}

fn conflict(ctx: &IngressCtx<'_>, what: &str, winner: &ObjectKey) -> Diagnostic {
    let message = if winner == ctx.key {
        format!("{what}: duplicate of an earlier entry in this Ingress; ignored")
    } else {
        format!("{what}: conflict lost to {winner}")
    };
    Diagnostic::error(ctx.object.clone(), Reason::Conflict, message)
}

/// A host for messages: the no-host rules read as "(any host)" rather than `*`.
fn describe(host: &HostPattern) -> String {
    match host {
        HostPattern::Any => "(any host)".to_owned(),
        other => other.to_string(),
    }
}
