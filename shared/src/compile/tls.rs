//! `spec.tls` and `--default-ssl-certificate` into the table's SNI map (docs/architecture.md,
//! "TLS").
//!
//! Runs before the rules, over our Ingresses in precedence order, so that the rules know
//! which hosts are TLS hosts (for redirects) and the oldest Ingress wins a host's certificate,
//! as it wins a path.
//!
//! - A listed host is a TLS host whatever happens to its certificate: a missing or broken
//!   Secret, or a certificate that does not cover it, means that host gets the default
//!   certificate (with an Error diagnostic), not that it silently stops redirecting.
//! - Within one Ingress, entries that list hosts go first; an entry without hosts then serves
//!   each rule host its certificate covers and no listed entry took (ingress-nginx looks for
//!   a listing entry, then for any entry whose certificate verifies for the host). When its
//!   certificate is unknown (no `secretName`, missing or broken Secret), every rule host of
//!   the Ingress counts as a TLS host, as in ingress-nginx, where such hosts get the default
//!   certificate.
//! - Expiry is checked against the wall clock at compile time: an expired or not yet valid
//!   certificate is still served, with a warning.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::networking::v1::{Ingress, IngressSpec, IngressTLS};
use k8s_openapi::jiff::Timestamp;

use super::context::Compiler;
use crate::host::HostPattern;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};
use crate::tls::Certificate;

/// Claims certificates for every `spec.tls` entry of `ingresses` (in precedence order) and
/// sets the default certificate.
pub(super) fn compile_tls(c: &mut Compiler<'_>, ingresses: &[(&ObjectKey, &Ingress)]) {
    let mut run = Run {
        now: SystemTime::now(),
        holders: HashMap::new(),
    };
    for (key, ingress) in ingresses {
        let Some(spec) = ingress.spec.as_ref() else {
            continue;
        };
        let entries = spec.tls.as_deref().unwrap_or_default();
        if entries.is_empty() {
            continue;
        }
        let ctx = IngressCtx {
            key,
            object: ObjectRef::new(Kind::Ingress, (*key).clone()),
        };
        let (listing, hostless): (Vec<_>, Vec<_>) = entries
            .iter()
            .partition(|e| e.hosts.as_ref().is_some_and(|h| !h.is_empty()));
        for entry in listing {
            run.listing_entry(c, &ctx, entry);
        }
        if !hostless.is_empty() {
            let hosts = rule_hosts(spec);
            for entry in hostless {
                run.hostless_entry(c, &ctx, entry, &hosts);
            }
        }
    }
    run.default_certificate(c);
}

/// State of one TLS pass.
struct Run {
    now: SystemTime,
    /// Who claimed each host's certificate, for conflict messages.
    holders: HashMap<HostPattern, Holder>,
}

struct Holder {
    ingress: ObjectKey,
    secret: ObjectKey,
}

struct IngressCtx<'a> {
    key: &'a ObjectKey,
    object: ObjectRef,
}

impl Run {
    /// An entry with `hosts`: each valid host is a TLS host and gets the entry's certificate
    /// when that covers it.
    fn listing_entry(&mut self, c: &mut Compiler<'_>, ctx: &IngressCtx<'_>, entry: &IngressTLS) {
        let mut hosts = Vec::new();
        for raw in entry.hosts.iter().flatten() {
            match HostPattern::parse(raw) {
                Ok(HostPattern::Any) => c.diagnostics.push(Diagnostic::error(
                    ctx.object.clone(),
                    Reason::InvalidHost,
                    "spec.tls: an empty host names nothing; ignored",
                )),
                Ok(host) => hosts.push(host),
                Err(e) => c.diagnostics.push(Diagnostic::error(
                    ctx.object.clone(),
                    Reason::InvalidHost,
                    format!("spec.tls: {e}"),
                )),
            }
        }
        c.tls_hosts.0.extend(hosts.iter().cloned());
        let listed = hosts.iter().map(ToString::to_string).collect::<Vec<_>>();
        let Some((secret, cert)) = self.certificate(c, ctx, entry, &listed.join(", ")) else {
            return;
        };
        for host in &hosts {
            if cert.covers(host) {
                self.claim(c, ctx, host, &secret, &cert, false);
            } else {
                let message = format!(
                    "TLS host {host} is not among the names of Secret {secret}'s certificate \
                     ({}); it gets the default certificate",
                    cert.names().join(", ")
                );
                let d = Diagnostic::error(ctx.object.clone(), Reason::TlsHostNotCovered, message);
                c.diagnostics.push(d);
            }
        }
    }

    /// An entry without `hosts`: serves the Ingress's rule hosts its certificate covers.
    fn hostless_entry(
        &mut self,
        c: &mut Compiler<'_>,
        ctx: &IngressCtx<'_>,
        entry: &IngressTLS,
        rule_hosts: &[HostPattern],
    ) {
        let what = "this Ingress's rule hosts";
        let Some((secret, cert)) = self.certificate(c, ctx, entry, what) else {
            c.tls_hosts.0.extend(rule_hosts.iter().cloned());
            return;
        };
        let covered: Vec<&HostPattern> = rule_hosts.iter().filter(|h| cert.covers(h)).collect();
        if covered.is_empty() && !rule_hosts.is_empty() {
            let message = format!(
                "spec.tls entry without hosts: Secret {secret}'s certificate ({}) covers none of \
                 this Ingress's hosts; unused",
                cert.names().join(", ")
            );
            let d = Diagnostic::warning(ctx.object.clone(), Reason::TlsHostNotCovered, message);
            c.diagnostics.push(d);
        }
        for host in covered {
            c.tls_hosts.0.insert(host.clone());
            self.claim(c, ctx, host, &secret, &cert, true);
        }
    }

    /// The usable certificate an entry names, or `None`: no `secretName` (the default
    /// certificate, by choice), or a Secret that is missing or broken (reported; `hosts` says
    /// what falls back).
    fn certificate(
        &self,
        c: &mut Compiler<'_>,
        ctx: &IngressCtx<'_>,
        entry: &IngressTLS,
        hosts: &str,
    ) -> Option<(ObjectKey, Arc<Certificate>)> {
        let name = entry.secret_name.as_deref().filter(|n| !n.is_empty())?;
        let secret = ObjectKey::new(ctx.key.namespace.clone(), name);
        let (reason, problem) = match c.index.secrets().get(&secret) {
            Some(Ok(cert)) => {
                let cert = cert.clone();
                self.check_validity(c, &ctx.object, &secret, &cert);
                return Some((secret, cert));
            }
            Some(Err(e)) => (Reason::TlsSecretInvalid, e.to_string()),
            None => (Reason::TlsSecretMissing, "not found".to_owned()),
        };
        let message = format!(
            "TLS Secret {secret}: {problem}; the default certificate is served for {hosts}"
        );
        let d = Diagnostic::error(ctx.object.clone(), reason, message);
        c.diagnostics.push(d);
        None
    }

    /// Gives `host` this certificate unless an earlier claim holds it. A different
    /// certificate already there is a conflict, except that an entry without hosts quietly
    /// yields to its own Ingress's listing entries.
    fn claim(
        &mut self,
        c: &mut Compiler<'_>,
        ctx: &IngressCtx<'_>,
        host: &HostPattern,
        secret: &ObjectKey,
        cert: &Arc<Certificate>,
        hostless: bool,
    ) {
        let same = match c.builder.tls_certificate(host, cert.clone()) {
            Ok(()) => {
                let holder = Holder {
                    ingress: ctx.key.clone(),
                    secret: secret.clone(),
                };
                self.holders.insert(host.clone(), holder);
                return;
            }
            Err(held) => held == cert,
        };
        // Every successful claim is recorded just above, so a held host has a holder.
        let Some(holder) = self.holders.get(host) else {
            return;
        };
        if same || (hostless && holder.ingress == *ctx.key) {
            return;
        }
        let message = format!(
            "TLS host {host}: certificate already provided by Secret {} of Ingress {}; Secret \
             {secret} not used for it",
            holder.secret, holder.ingress
        );
        let d = Diagnostic::warning(ctx.object.clone(), Reason::Conflict, message);
        c.diagnostics.push(d);
    }

    /// `--default-ssl-certificate`: served when no host matches; when unusable, the proxy's
    /// generated self-signed certificate is served instead.
    fn default_certificate(&self, c: &mut Compiler<'_>) {
        let Some(key) = c.config.default_ssl_certificate.as_ref() else {
            return;
        };
        let object = ObjectRef::new(Kind::Secret, key.clone());
        let (reason, problem) = match c.index.secrets().get(key) {
            Some(Ok(cert)) => {
                let cert = cert.clone();
                self.check_validity(c, &object, key, &cert);
                c.builder.default_certificate(cert);
                return;
            }
            Some(Err(e)) => (Reason::TlsSecretInvalid, e.to_string()),
            None => (Reason::TlsSecretMissing, "not found".to_owned()),
        };
        let message = format!(
            "--default-ssl-certificate {key}: {problem}; the generated self-signed certificate \
             is served instead"
        );
        c.diagnostics
            .push(Diagnostic::error(object, reason, message));
    }

    /// A warning on `object` when the certificate is outside its validity period now.
    fn check_validity(
        &self,
        c: &mut Compiler<'_>,
        object: &ObjectRef,
        secret: &ObjectKey,
        cert: &Certificate,
    ) {
        let problem = if cert.is_expired_at(self.now) {
            format!("expired at {}", rfc3339(cert.not_after()))
        } else if cert.is_not_yet_valid_at(self.now) {
            format!("is not valid before {}", rfc3339(cert.not_before()))
        } else {
            return;
        };
        let message = format!("certificate of Secret {secret} {problem}; served anyway");
        c.diagnostics.push(Diagnostic::warning(
            object.clone(),
            Reason::TlsCertificateExpired,
            message,
        ));
    }
}

/// The valid hosts of an Ingress's rules, in order, without repeats. Invalid ones are reported
/// by the rules pass.
fn rule_hosts(spec: &IngressSpec) -> Vec<HostPattern> {
    let hosts: BTreeSet<HostPattern> = spec
        .rules
        .iter()
        .flatten()
        .filter_map(|rule| HostPattern::parse(rule.host.as_deref().unwrap_or("")).ok())
        .filter(|host| *host != HostPattern::Any)
        .collect();
    hosts.into_iter().collect()
}

/// A certificate time for messages, e.g. `2020-01-01T00:00:00Z`.
fn rfc3339(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok(),
        Err(before) => i64::try_from(before.duration().as_secs()).ok().map(|s| -s),
    };
    seconds
        .and_then(|s| Timestamp::from_second(s).ok())
        .map_or_else(|| format!("{time:?}"), |t| t.to_string())
}
