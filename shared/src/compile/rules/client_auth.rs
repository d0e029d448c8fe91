//! Client-certificate auth (`auth-tls-*`) of our Ingresses' hosts, decided before any route is
//! claimed (docs/architecture.md, "Client certificates"). ingress-nginx applies it per server
//! ("Client Certificate Authentication is applied per host"), so it is per host here too:
//!
//! - The oldest Ingress (precedence order) with `auth-tls-secret` decides for each of its rule
//!   hosts; every route of such a host carries the result, whichever Ingress owns the route.
//!   A later Ingress with different settings for the host is warned about and not used.
//! - `auth-tls-secret` is `name` or `namespace/name`, in the Ingress's namespace (another
//!   namespace is refused, as under ingress-nginx's default `allow-cross-namespace-resources:
//!   false`). Its Secret (any type) must hold a usable `ca.crt`.
//! - Fail closed, where ingress-nginx fails open or half-open: a Secret that is missing, has
//!   no `ca.crt`, or an unusable one, or an invalid `auth-tls-*` value, refuses every route of
//!   the host (503) with an Error diagnostic. ingress-nginx denies the locations of a missing
//!   Secret (403) and serves the host without client auth when `ca.crt` is missing.
//! - An invalid `auth-tls-verify-client` is `on` and an invalid or `0` depth is 1, as in
//!   ingress-nginx (both the strict choice); warned.
//! - Rules without a host cannot be matched to a handshake's server name: an Ingress asking
//!   for client auth on them has those routes refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;

use super::super::context::Compiler;
use crate::annotations::{Annotations, parse_bool};
use crate::host::HostPattern;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};
use crate::table::client_auth::{MatchCn, parse_error_page};
use crate::table::{ClientAuth, Refusal, VerifyClient};

/// Each host's client auth: the policy, or the refusal of all its routes.
pub(in crate::compile) type HostClientAuth =
    BTreeMap<HostPattern, Result<Arc<ClientAuth>, Refusal>>;

/// Decides the client auth of every host of `ingresses` (in precedence order) and puts the
/// usable ones in the table's SNI map.
pub(in crate::compile) fn plan(c: &mut Compiler<'_>, ingresses: &[(&ObjectKey, &Ingress)]) {
    let mut hosts: HostClientAuth = BTreeMap::new();
    // Who decided each host, for conflict messages.
    let mut owners: BTreeMap<HostPattern, ObjectKey> = BTreeMap::new();
    for (key, ingress) in ingresses {
        let keys = Annotations::of(ingress, &c.config.annotations_prefix);
        if keys.nginx("auth-tls-secret").is_none() {
            continue;
        }
        let object = ObjectRef::new(Kind::Ingress, (*key).clone());
        let decided = read(keys, c, key, &object);
        for host in rule_hosts(ingress) {
            if let Some(owner) = owners.get(&host) {
                let same = match (hosts.get(&host), &decided) {
                    (Some(Ok(a)), Ok(b)) => a == b,
                    _ => false,
                };
                if !same {
                    let message = format!(
                        "host {}: client-certificate auth already set by Ingress {owner}; this Ingress's auth-tls-* annotations are not used for it",
                        describe(&host)
                    );
                    let d = Diagnostic::warning(object.clone(), Reason::Conflict, message);
                    c.diagnostics.push(d);
                }
                continue;
            }
            if host == HostPattern::Any && decided.is_ok() {
                let message = "auth-tls-secret on rules without a host: client certificates are asked for by server name, so these routes are refused".to_owned();
                let d = Diagnostic::error(object.clone(), Reason::InvalidAnnotation, message);
                c.diagnostics.push(d);
                hosts.insert(host.clone(), Err(Refusal::ClientCertAuth));
            } else {
                if let Ok(auth) = &decided {
                    c.builder.client_auth(&host, Arc::clone(auth));
                }
                hosts.insert(host.clone(), decided.clone());
            }
            owners.insert(host, (*key).clone());
        }
    }
    c.client_auth = hosts;
}

/// The client auth one Ingress asks for, or the refusal of its hosts (diagnostic pushed).
fn read(
    keys: Annotations<'_>,
    c: &mut Compiler<'_>,
    ingress: &ObjectKey,
    object: &ObjectRef,
) -> Result<Arc<ClientAuth>, Refusal> {
    let diagnostics = &mut c.diagnostics;
    let mut refuse = |reason: Reason, message: String| {
        let message = format!("{message}; every route of this Ingress's hosts answers 503");
        diagnostics.push(Diagnostic::error(object.clone(), reason, message));
        Err(Refusal::ClientCertAuth)
    };
    let Some((secret_key, value)) = keys.nginx("auth-tls-secret") else {
        return Err(Refusal::ClientCertAuth);
    };
    let secret = match secret_ref(&ingress.namespace, value) {
        Ok(secret) => secret,
        Err(why) => {
            return refuse(
                Reason::InvalidAnnotation,
                format!("{secret_key}: {value:?} {why}"),
            );
        }
    };
    let ca = match c.index.client_cas().get(&secret) {
        Some(Ok(ca)) => Arc::clone(ca),
        Some(Err(e)) => {
            return refuse(
                Reason::TlsSecretInvalid,
                format!("client CA Secret {secret}: {e}"),
            );
        }
        None if c.index.contains(Kind::Secret, &secret) => {
            return refuse(
                Reason::TlsSecretInvalid,
                format!(
                    "client CA Secret {secret} has no ca.crt (ingress-nginx would serve the host without client auth)"
                ),
            );
        }
        None => {
            return refuse(
                Reason::TlsSecretMissing,
                format!("client CA Secret {secret}: not found"),
            );
        }
    };
    let mut warnings = Vec::new();
    let verify = match keys.nginx("auth-tls-verify-client") {
        None => VerifyClient::On,
        Some((key, v)) => VerifyClient::parse(v).unwrap_or_else(|| {
            warnings.push(format!("{key}: {v:?} is not on, off, optional or optional_no_ca; on is used, as in ingress-nginx"));
            VerifyClient::On
        }),
    };
    let depth = match keys.nginx("auth-tls-verify-depth") {
        None => 1,
        Some((key, v)) => match v.trim().parse::<u32>() {
            Ok(0) => 1,
            // Deeper than any real PKI; bounds the intermediates considered.
            Ok(n) => n.min(16),
            Err(_) => {
                warnings.push(format!(
                    "{key}: {v:?} is not a whole number; 1 is used, as in ingress-nginx"
                ));
                1
            }
        },
    };
    let error_page = match keys.nginx("auth-tls-error-page") {
        None => None,
        Some((_, v)) if v.trim().is_empty() => None,
        Some((key, v)) => match parse_error_page(v) {
            Some(page) => Some(page),
            None => {
                let message = format!("{key}: {v:?} is not an http(s) URL or an absolute path");
                return refuse(Reason::InvalidAnnotation, message);
            }
        },
    };
    let pass_certificate = match keys.nginx("auth-tls-pass-certificate-to-upstream") {
        None => false,
        Some((key, v)) => match parse_bool(v) {
            Some(b) => b,
            None => {
                return refuse(
                    Reason::InvalidAnnotation,
                    format!("{key}: {v:?} is not a boolean"),
                );
            }
        },
    };
    let match_cn = match keys.nginx("auth-tls-match-cn") {
        None => None,
        Some((_, "")) => None,
        Some((key, v)) => match MatchCn::parse(v) {
            Ok(m) => Some(m),
            Err(e) => return refuse(Reason::InvalidAnnotation, format!("{key}: {v:?} {e}")),
        },
    };
    for message in warnings {
        let d = Diagnostic::warning(object.clone(), Reason::InvalidAnnotation, message);
        c.diagnostics.push(d);
    }
    Ok(Arc::new(ClientAuth {
        secret,
        ca,
        verify,
        depth,
        error_page,
        pass_certificate,
        match_cn,
    }))
}

/// `name` or `namespace/name`, in the Ingress's namespace.
fn secret_ref(namespace: &str, value: &str) -> Result<ObjectKey, &'static str> {
    let value = value.trim();
    let (ns, name) = value.split_once('/').unwrap_or((namespace, value));
    if name.is_empty() || name.contains('/') {
        return Err("is not a Secret name or namespace/name");
    }
    if ns != namespace {
        return Err("is in another namespace: cross-namespace Secrets are not allowed");
    }
    Ok(ObjectKey::new(namespace, name))
}

/// The hosts of an Ingress's rules (invalid ones are reported by the rules pass).
fn rule_hosts(ingress: &Ingress) -> Vec<HostPattern> {
    let mut hosts: Vec<HostPattern> = ingress
        .spec
        .iter()
        .flat_map(|spec| spec.rules.iter().flatten())
        .filter_map(|rule| HostPattern::parse(rule.host.as_deref().unwrap_or("")).ok())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

fn describe(host: &HostPattern) -> String {
    match host {
        HostPattern::Any => "(any host)".to_owned(),
        other => other.to_string(),
    }
}
