//! Per-route access policies, enforced in `service` after the route is found: each
//! route carries a policy only when its Ingress (or a global flag) asks for one, so a route
//! without any costs a few field reads.
//!
//! [`guard`] runs a route's access controls in nginx's access-phase order — source lists
//! (`allow`/`deny`), basic auth (`auth_basic`), external auth (`auth_request`) — and combines
//! them by `satisfy` (docs/architecture.md, "Satisfy"):
//!
//! - `all` (default): each must pass; the first refusal is the answer.
//! - `any`: the first that passes lets the request through and the rest are not asked. When
//!   none passes, the answer is 401 if any control said 401, else 403 (nginx keeps a 401 over
//!   a 403). An external auth that gives no verdict is a 500 at once, as in nginx.
//!
//! Either way a final 401 becomes a redirect to `auth-signin` when the route's external auth
//! has one (nginx's `error_page 401` covers the whole location, basic auth's 401 included).

use http::{HeaderMap, StatusCode};
use strait_shared::RouteTable;
use strait_shared::table::{ExternalAuth, RouteOptions, Satisfy};

use crate::error::ProxyError;
use crate::proxy::ConnCtx;

pub(crate) mod access;
pub(crate) mod basic_auth;
pub(crate) mod client_cert;
pub(crate) mod cors;
pub(crate) mod external_auth;
pub(crate) mod limits;

use external_auth::{Asking, Cookies, Passed, Scope, Verdict};

/// A route's external auth and what it needs of the request.
pub(crate) struct External<'a> {
    pub auth: &'a ExternalAuth,
    pub asking: Asking<'a>,
    pub table: &'a RouteTable,
    pub scope: Scope<'a>,
}

/// Runs the route's access controls. `Ok` carries the 2xx answer of the external auth when it
/// was asked and passed; `cookies` gets its `Set-Cookie`s, whatever the outcome.
pub(crate) async fn guard(
    ctx: &ConnCtx,
    headers: &HeaderMap,
    options: &RouteOptions,
    external: Option<&External<'_>>,
    cookies: &mut Option<Cookies>,
) -> Result<Option<Passed>, ProxyError> {
    let result = match options.satisfy {
        Satisfy::All => all(ctx, headers, options, external, cookies).await,
        Satisfy::Any => any(ctx, headers, options, external, cookies).await,
    };
    result.map_err(|error| signin(error, external))
}

async fn all(
    ctx: &ConnCtx,
    headers: &HeaderMap,
    options: &RouteOptions,
    external: Option<&External<'_>>,
    cookies: &mut Option<Cookies>,
) -> Result<Option<Passed>, ProxyError> {
    access::check(ctx, headers, options)?;
    if let Some(auth) = &options.basic_auth {
        basic_auth::check(auth, headers).await?;
    }
    let Some(external) = external else {
        return Ok(None);
    };
    match ask(ctx, external, cookies).await {
        Verdict::Allowed(passed) => Ok(Some(passed)),
        Verdict::Denied { status, challenge } => Err(ProxyError::AuthDenied { status, challenge }),
        Verdict::Failed(failure) => Err(ProxyError::AuthFailed(failure)),
    }
}

async fn any(
    ctx: &ConnCtx,
    headers: &HeaderMap,
    options: &RouteOptions,
    external: Option<&External<'_>>,
    cookies: &mut Option<Cookies>,
) -> Result<Option<Passed>, ProxyError> {
    access::check_body_size(headers, options)?;
    let mut refused: Option<ProxyError> = None;
    let mut note = |error: ProxyError| {
        if refused
            .as_ref()
            .is_none_or(|r| r.status() != StatusCode::UNAUTHORIZED)
        {
            refused = Some(error);
        }
    };
    if let Some(policy) = &options.source {
        match access::check_source(ctx, headers, policy) {
            Ok(()) => return Ok(None),
            Err(error) => note(error),
        }
    }
    if let Some(auth) = &options.basic_auth {
        match basic_auth::check(auth, headers).await {
            Ok(()) => return Ok(None),
            Err(error) => note(error),
        }
    }
    if let Some(external) = external {
        match ask(ctx, external, cookies).await {
            Verdict::Allowed(passed) => return Ok(Some(passed)),
            Verdict::Denied { status, challenge } => {
                note(ProxyError::AuthDenied { status, challenge });
            }
            Verdict::Failed(failure) => return Err(ProxyError::AuthFailed(failure)),
        }
    }
    refused.map_or(Ok(None), Err)
}

async fn ask(ctx: &ConnCtx, external: &External<'_>, cookies: &mut Option<Cookies>) -> Verdict {
    let proxy = &ctx.proxy;
    // Boxed: only routes with external auth pay for its future (a whole upstream exchange);
    // inline it would make every request's future larger.
    Box::pin(external_auth::check(
        proxy,
        external.table,
        external.auth,
        &external.asking,
        external.scope,
        cookies,
    ))
    .await
}

/// A 401 becomes the sign-in redirect when the route's external auth has `auth-signin`.
fn signin(error: ProxyError, external: Option<&External<'_>>) -> ProxyError {
    if error.status() != StatusCode::UNAUTHORIZED {
        return error;
    }
    match external.and_then(|e| external_auth::signin_location(e.auth, &e.asking)) {
        Some(location) => ProxyError::SignIn { location },
        None => error,
    }
}
