//! Basic auth of one Ingress (`auth-type: basic`, `auth-secret`, `auth-secret-type`,
//! `auth-realm`), as ingress-nginx's `internal/ingress/annotations/auth/main.go` reads them:
//!
//! - No `auth-type`: no basic auth (an `auth-secret` alone does nothing there either; warned).
//! - `auth-type: digest` is not enforced: the routes are refused (fail closed).
//! - `auth-secret` is `name` or `namespace/name`; another namespace than the Ingress's is
//!   refused, as ingress-nginx does under its default `allow-cross-namespace-resources: false`.
//! - `auth-secret-type`: `auth-file` (default: the `auth` key is an htpasswd file) or
//!   `auth-map` (each key a user, each value a hash).
//! - `auth-realm`: the realm of the `WWW-Authenticate` challenge, default empty.
//!
//! A missing Secret, one without usable htpasswd data, or a value that does not parse refuses
//! the Ingress's routes with an Error diagnostic naming the key or the Secret.

use std::sync::Arc;

use crate::annotations::Annotations;
use crate::index::Index;
use crate::model::{Diagnostic, ObjectKey, ObjectRef, Reason};
use crate::table::Refusal;
use crate::table::basic_auth::{BasicAuth, Htpasswd, HtpasswdError};

/// The basic auth the Ingress asks for: `Ok(None)` when it asks for none, `Err` when its
/// routes must be refused (the diagnostic is pushed).
pub(super) fn read(
    keys: Annotations<'_>,
    index: &Index,
    ingress: &ObjectKey,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<Arc<BasicAuth>>, Refusal> {
    let mut refuse = |reason: Reason, refusal: Refusal, message: String| {
        diagnostics.push(Diagnostic::error(object.clone(), reason, message));
        Err(refusal)
    };
    let invalid = Refusal::InvalidSecurityAnnotation;
    let Some((type_key, auth_type)) = keys.nginx("auth-type") else {
        if let Some((key, _)) = keys.nginx("auth-secret") {
            let message = format!("{key} without auth-type: no basic auth, as in ingress-nginx");
            diagnostics.push(Diagnostic::warning(
                object.clone(),
                Reason::InvalidAnnotation,
                message,
            ));
        }
        return Ok(None);
    };
    match auth_type.trim() {
        "basic" => {}
        "digest" => {
            let message = format!(
                "{type_key}: \"digest\" is not enforced by Strait yet; this Ingress's routes answer 503 (fail closed)"
            );
            let refusal = Refusal::UnsupportedSecurityAnnotation;
            return refuse(Reason::UnsupportedAnnotation, refusal, message);
        }
        other => {
            let message = format!("{type_key}: {other:?} is not basic or digest; routes refused");
            return refuse(Reason::InvalidAnnotation, invalid, message);
        }
    }
    let map = match keys.nginx("auth-secret-type") {
        None => false,
        Some((_, v)) if v.trim() == "auth-file" => false,
        Some((_, v)) if v.trim() == "auth-map" => true,
        Some((key, v)) => {
            let message = format!("{key}: {v:?} is not auth-file or auth-map; routes refused");
            return refuse(Reason::InvalidAnnotation, invalid, message);
        }
    };
    let Some((secret_key, secret_name)) = keys.nginx("auth-secret") else {
        let message = format!("{type_key} without auth-secret: routes refused");
        return refuse(Reason::InvalidAnnotation, invalid, message);
    };
    let secret = match secret_ref(&ingress.namespace, secret_name) {
        Ok(secret) => secret,
        Err(why) => {
            let message = format!("{secret_key}: {secret_name:?} {why}; routes refused");
            return refuse(Reason::InvalidAnnotation, invalid, message);
        }
    };
    let (realm_key, realm) = keys.nginx("auth-realm").unwrap_or_default();
    let users = match users(index, &secret, map) {
        Ok(users) => users,
        Err((reason, why)) => {
            let message = format!("basic-auth Secret {secret}: {why}; routes refused");
            return refuse(reason, Refusal::BasicAuthSecret, message);
        }
    };
    match BasicAuth::new(realm, secret, users) {
        Ok(auth) => Ok(Some(Arc::new(auth))),
        Err(why) => {
            let message = format!("{realm_key}: {realm:?} {why}; routes refused");
            refuse(Reason::InvalidAnnotation, invalid, message)
        }
    }
}

/// `name` or `namespace/name` (client-go's `SplitMetaNamespaceKey`), in the Ingress's namespace.
fn secret_ref(namespace: &str, value: &str) -> Result<ObjectKey, &'static str> {
    let value = value.trim();
    let (ns, name) = match value.split_once('/') {
        None => (namespace, value),
        Some((ns, name)) => (ns, name),
    };
    if name.is_empty() || name.contains('/') {
        return Err("is not a Secret name or namespace/name");
    }
    if ns != namespace {
        return Err("is in another namespace: cross-namespace Secrets are not allowed");
    }
    Ok(ObjectKey::new(namespace, name))
}

fn users(index: &Index, secret: &ObjectKey, map: bool) -> Result<Arc<Htpasswd>, (Reason, String)> {
    let bad = |e: &HtpasswdError, what: &str| (Reason::AuthSecretInvalid, format!("{what} {e}"));
    let Some(data) = index.auth_secrets().get(secret) else {
        return Err(match index.secrets().contains_key(secret) {
            true => (Reason::AuthSecretInvalid, "is a TLS Secret".to_owned()),
            false => (Reason::AuthSecretMissing, "not found".to_owned()),
        });
    };
    if map {
        return data.map.clone().map_err(|e| bad(&e, "auth-map:"));
    }
    match &data.file {
        Some(Ok(users)) => Ok(users.clone()),
        Some(Err(e)) => Err(bad(e, "key auth:")),
        None => Err((
            Reason::AuthSecretInvalid,
            "has no key auth (auth-secret-type auth-file)".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::secret_ref;

    #[test]
    fn secret_name_forms() {
        assert_eq!(secret_ref("a", "s").unwrap().to_string(), "a/s");
        assert_eq!(secret_ref("a", "a/s").unwrap().to_string(), "a/s");
        assert!(secret_ref("a", "b/s").is_err());
        assert!(secret_ref("a", "").is_err());
        assert!(secret_ref("a", "a/").is_err());
        assert!(secret_ref("a", "a/b/c").is_err());
    }
}
