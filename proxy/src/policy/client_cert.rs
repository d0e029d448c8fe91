//! Client-certificate auth per request (`auth-tls-*`; docs/architecture.md, "Client
//! certificates").
//!
//! The handshake of a host with client auth asks for a certificate and accepts any (see
//! [`crate::tls::client_auth_config`]); right after it, [`ClientCert::of`] verifies the chain
//! once for the connection and prepares the upstream headers. Each request of a route with
//! client auth then only compares and reads ([`check`]), in nginx's order:
//!
//! 1. The request's host must be the handshake's: a route whose client auth is not the one
//!    the handshake was made for (another host's handshake, or a CA changed since) answers
//!    421, as nginx answers a Host that does not match an SNI with client verification.
//! 2. A missing certificate (`on`) or one that fails verification (`on`, `optional`) answers
//!    400 with nginx's texts, or 302 to `auth-tls-error-page` (`error_page 495 496 = URL`).
//! 3. `auth-tls-match-cn`: the subject DN must match, else 403 (the template's server-level
//!    `if ($ssl_client_s_dn !~ …) { return 403; }`).
//!
//! Upstream headers (nginx.tmpl's `proxy_set_header ssl-client-*`) replace whatever the client
//! sent under those names.

use std::sync::Arc;

use http::header::HeaderMap;
use strait_shared::table::{ClientAuth, VerifyClient};

use crate::error::ClientCertRefused;
use crate::proxy::ConnCtx;
use crate::tls::{ClientCert, Verdict};

/// What a passed request sends upstream: the connection's certificate facts, or those of no
/// certificate (plain HTTP).
pub(crate) enum Passed<'c> {
    Connection(&'c ClientCert),
    Plain(Box<ClientCert>),
}

/// Checks a request of a route with client auth `auth` (see the module doc).
pub(crate) fn check<'c>(
    ctx: &'c ConnCtx,
    auth: &Arc<ClientAuth>,
) -> Result<Passed<'c>, ClientCertRefused> {
    let passed = match &ctx.tls {
        // Plain HTTP: no certificate can have been sent.
        None => Passed::Plain(Box::new(ClientCert::none(auth))),
        Some(tls) => match &tls.client_cert {
            Some(cert) if Arc::ptr_eq(&cert.auth, auth) || *cert.auth == **auth => {
                Passed::Connection(cert)
            }
            _ => return Err(ClientCertRefused::Misdirected),
        },
    };
    let cert = passed.cert();
    let refused = match (cert.verdict, auth.verify) {
        (Verdict::None, VerifyClient::On) => Some(ClientCertRefused::Missing),
        (Verdict::Failed, VerifyClient::On | VerifyClient::Optional) => {
            Some(ClientCertRefused::Failed)
        }
        _ => None,
    };
    if let Some(refused) = refused {
        return Err(match &auth.error_page {
            Some(page) => ClientCertRefused::ErrorPage(page.clone()),
            None => refused,
        });
    }
    if let Some(cn) = &auth.match_cn
        && !cn.matches(&cert.subject)
    {
        return Err(ClientCertRefused::CommonName);
    }
    Ok(passed)
}

impl Passed<'_> {
    fn cert(&self) -> &ClientCert {
        match self {
            Self::Connection(cert) => cert,
            Self::Plain(cert) => cert,
        }
    }

    /// Sets the `ssl-client-*` headers of the upstream request, replacing the client's.
    pub(crate) fn forward_headers(&self, headers: &mut HeaderMap) {
        self.cert().forward_headers(headers);
    }
}
