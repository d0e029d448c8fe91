//! The upstream protocol of one Ingress (`backend-protocol`) and its TLS settings
//! (`proxy-ssl-secret`, `-verify`, `-verify-depth`, `-name`, `-server-name`, `-protocols`), as
//! ingress-nginx's `backendprotocol` and `proxyssl` parsers read them:
//!
//! - `backend-protocol`: HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP (case-insensitive), plus Strait's
//!   H2C. `FCGI` refuses the routes (Strait does not speak it); another value is reported and
//!   HTTP applies, as in ingress-nginx. Absent: the Service port's `appProtocol` decides
//!   (per route, in [`super::route`]).
//! - The `proxy-ssl-*` keys are read only with `proxy-ssl-secret`, as in ingress-nginx (its
//!   parser stops there without one). The Secret is `namespace/name` in the Ingress's
//!   namespace; a value of another form or namespace, a missing Secret, or one whose `ca.crt`
//!   or client key pair does not parse, refuses the routes (ingress-nginx denies the
//!   location). `proxy-ssl-verify: on` without a `ca.crt` refuses them too (nginx would fail
//!   every handshake), and so does `proxy-ssl-verify: on` without any `proxy-ssl-secret`
//!   (ingress-nginx would silently not verify: fail closed instead).
//! - Other invalid values are reported and ingress-nginx's defaults apply: verify off, depth
//!   1, no `proxy-ssl-name`, server name off, TLSv1.2.

use std::sync::Arc;

use crate::annotations::Annotations;
use crate::index::Index;
use crate::model::{Diagnostic, ObjectKey, ObjectRef, Reason};
use crate::table::Refusal;
use crate::table::upstream::{
    Protocol, ProtocolError, TlsVersions, UpstreamTls, Verify, parse_on_off, parse_server_name,
    parse_verify_depth,
};

/// The `proxy-ssl-*` keys other than the Secret.
const SSL_KEYS: [&str; 5] = [
    "proxy-ssl-verify",
    "proxy-ssl-verify-depth",
    "proxy-ssl-name",
    "proxy-ssl-server-name",
    "proxy-ssl-protocols",
];

/// What an Ingress asks of its upstream connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct IngressUpstream {
    /// `backend-protocol`; `None`: the backend's `appProtocol`, else HTTP.
    pub(super) protocol: Option<Protocol>,
    pub(super) tls: Option<Arc<UpstreamTls>>,
}

/// The Ingress's upstream settings; `Err` when its routes must be refused (the diagnostic is
/// pushed).
pub(super) fn read(
    keys: Annotations<'_>,
    index: &Index,
    ingress: &ObjectKey,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<IngressUpstream, Refusal> {
    let mut reading = Reading {
        keys,
        object,
        diagnostics,
    };
    let protocol = reading.protocol()?;
    let tls = reading.tls(index, ingress)?;
    Ok(IngressUpstream { protocol, tls })
}

struct Reading<'a, 'd> {
    keys: Annotations<'a>,
    object: &'d ObjectRef,
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl Reading<'_, '_> {
    fn refuse<T>(&mut self, reason: Reason, message: String) -> Result<T, Refusal> {
        let message = format!("{message}; this Ingress's routes answer 503 (fail closed)");
        self.diagnostics
            .push(Diagnostic::error(self.object.clone(), reason, message));
        Err(Refusal::UpstreamProtocol)
    }

    fn warn(&mut self, message: String) {
        self.diagnostics.push(Diagnostic::warning(
            self.object.clone(),
            Reason::InvalidAnnotation,
            message,
        ));
    }

    fn protocol(&mut self) -> Result<Option<Protocol>, Refusal> {
        let Some((key, value)) = self.keys.nginx("backend-protocol") else {
            return Ok(None);
        };
        match Protocol::parse(value) {
            Ok(protocol) => Ok(Some(protocol)),
            Err(ProtocolError::Fcgi) => self.refuse(
                Reason::UnsupportedAnnotation,
                format!("{key}: FCGI (FastCGI) is not spoken by Strait"),
            ),
            Err(e @ ProtocolError::Unknown) => {
                self.warn(format!(
                    "{key}: {value:?} {e}; HTTP applies, as in ingress-nginx"
                ));
                Ok(Some(Protocol::Http))
            }
        }
    }

    fn tls(
        &mut self,
        index: &Index,
        ingress: &ObjectKey,
    ) -> Result<Option<Arc<UpstreamTls>>, Refusal> {
        let Some((secret_key, secret_value)) = self.keys.nginx("proxy-ssl-secret") else {
            return self.without_secret();
        };
        let secret = match secret_ref(&ingress.namespace, secret_value) {
            Ok(secret) => secret,
            Err(why) => {
                let message = format!("{secret_key}: {secret_value:?} {why}");
                return self.refuse(Reason::InvalidAnnotation, message);
            }
        };
        let Some(material) = index.upstream_tls_secrets().get(&secret) else {
            let (reason, why) = if index.secrets().contains_key(&secret) {
                (Reason::TlsSecretInvalid, "has neither ca.crt nor tls.crt")
            } else {
                (Reason::TlsSecretMissing, "not found")
            };
            return self.refuse(reason, format!("{secret_key}: Secret {secret} {why}"));
        };
        let roots = match &material.ca {
            Some(Ok(roots)) => Some(Arc::clone(roots)),
            Some(Err(e)) => {
                let message = format!("{secret_key}: Secret {secret}: ca.crt: {e}");
                return self.refuse(Reason::TlsSecretInvalid, message);
            }
            None => None,
        };
        let client = match &material.client {
            Some(Ok(client)) => Some(Arc::clone(client)),
            Some(Err(e)) => {
                let message = format!("{secret_key}: Secret {secret}: client certificate: {e}");
                return self.refuse(Reason::TlsSecretInvalid, message);
            }
            None => None,
        };
        let verify = self
            .parsed(
                "proxy-ssl-verify",
                parse_on_off,
                "is not on or off; off applies",
            )
            .unwrap_or(false);
        let depth = self
            .parsed(
                "proxy-ssl-verify-depth",
                parse_verify_depth,
                "is not a positive whole number; 1 applies",
            )
            .unwrap_or(1);
        let verify = match (verify, roots) {
            (false, _) => None,
            (true, Some(roots)) => Some(Verify { roots, depth }),
            (true, None) => {
                let message = format!(
                    "proxy-ssl-verify is on but Secret {secret} ({secret_key}) has no ca.crt to verify the backend with"
                );
                return self.refuse(Reason::TlsSecretInvalid, message);
            }
        };
        let name = self.parsed(
            "proxy-ssl-name",
            parse_server_name,
            "is not a DNS name or IP address; the Host sent upstream is used",
        );
        let sni = self
            .parsed(
                "proxy-ssl-server-name",
                parse_on_off,
                "is not on or off; off applies",
            )
            .unwrap_or(false);
        let versions = self
            .parsed(
                "proxy-ssl-protocols",
                TlsVersions::parse,
                "is not TLSv1.2 and/or TLSv1.3, space-separated; TLSv1.2 applies",
            )
            .unwrap_or(TlsVersions::DEFAULT_WITH_SECRET);
        Ok(Some(Arc::new(UpstreamTls {
            secret: Some(secret),
            verify,
            client,
            name,
            sni,
            versions,
            client_configs: Default::default(),
        })))
    }

    /// No `proxy-ssl-secret`: the other keys do nothing (as in ingress-nginx), but
    /// `proxy-ssl-verify: on` asks for a check there is no CA for.
    fn without_secret(&mut self) -> Result<Option<Arc<UpstreamTls>>, Refusal> {
        if let Some((key, value)) = self.keys.nginx("proxy-ssl-verify")
            && value.trim() == "on"
        {
            let message = format!(
                "{key}: \"on\" without proxy-ssl-secret: there is no CA to verify the backend with"
            );
            return self.refuse(Reason::InvalidAnnotation, message);
        }
        let present: Vec<String> = SSL_KEYS
            .iter()
            .filter_map(|name| self.keys.nginx(name).map(|(key, _)| key))
            .collect();
        if !present.is_empty() {
            self.warn(format!(
                "{}: no effect without proxy-ssl-secret, as in ingress-nginx",
                present.join(", ")
            ));
        }
        Ok(None)
    }

    /// `<prefix>/<name>` through `parse`; a value that does not parse is reported with `why`.
    fn parsed<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
        why: &str,
    ) -> Option<T> {
        let (key, value) = self.keys.nginx(name)?;
        let parsed = parse(value);
        if parsed.is_none() {
            self.warn(format!("{key}: {value:?} {why}"));
        }
        parsed
    }
}

/// `namespace/name` (ingress-nginx's `ParseNameNS`: both parts required), in the Ingress's
/// namespace.
fn secret_ref(namespace: &str, value: &str) -> Result<ObjectKey, &'static str> {
    let value = value.trim();
    let Some((ns, name)) = value.split_once('/') else {
        return Err("is not namespace/name");
    };
    if ns.is_empty() || name.is_empty() || name.contains('/') {
        return Err("is not namespace/name");
    }
    if ns != namespace {
        return Err("is in another namespace: cross-namespace Secrets are not allowed");
    }
    Ok(ObjectKey::new(namespace, name))
}

#[cfg(test)]
mod tests {
    use super::secret_ref;

    #[test]
    fn secret_names_are_namespace_slash_name_in_the_ingress_namespace() {
        assert_eq!(secret_ref("a", "a/s").unwrap().to_string(), "a/s");
        assert!(secret_ref("a", "s").is_err());
        assert!(secret_ref("a", "b/s").is_err());
        assert!(secret_ref("a", "a/").is_err());
        assert!(secret_ref("a", "/s").is_err());
        assert!(secret_ref("a", "a/b/c").is_err());
    }
}
