//! The global external auth flags (`--global-auth-url` and its siblings, ingress-nginx's
//! ConfigMap `global-auth-*`) and `--no-auth-locations`: every value is checked by its own
//! parser when the flags are read, so a bad one stops the start with a message rather than
//! leaving routes open or refused.

use std::sync::Arc;

use clap::{ArgAction, Args};
use strait_shared::config::DEFAULT_NO_AUTH_LOCATIONS;
use strait_shared::table::external_auth::{
    self, AuthValues, ExternalAuth, METHODS, parse_auth_url, parse_cache_durations, parse_signin,
};

/// External auth of every Ingress without its own `auth-url` (docs/architecture.md,
/// "External auth").
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalAuthArgs {
    /// Auth service of every route whose Ingress has no `auth-url` and does not set
    /// `enable-global-auth: "false"` (ConfigMap `global-auth-url`): an http(s) URL.
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_URL", value_name = "URL", value_parser = url)]
    pub global_auth_url: Option<String>,
    /// The global auth subrequest's method (ConfigMap `global-auth-method`; default GET).
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_METHOD", value_name = "METHOD", value_parser = method)]
    pub global_auth_method: Option<String>,
    /// Where a 401 of the global auth is redirected (ConfigMap `global-auth-signin`).
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_SIGNIN", value_name = "URL", value_parser = signin)]
    pub global_auth_signin: Option<String>,
    /// The sign-in URL's parameter that carries the original URL (default `rd`).
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_SIGNIN_REDIRECT_PARAM", value_name = "NAME", value_parser = param)]
    pub global_auth_signin_redirect_param: Option<String>,
    /// Headers copied from the global auth's answer to the upstream request, comma-separated.
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_RESPONSE_HEADERS", value_name = "NAME,...", value_parser = header_list)]
    pub global_auth_response_headers: Option<String>,
    /// `X-Auth-Request-Redirect` of the global auth subrequest (default: the request target).
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_REQUEST_REDIRECT", value_name = "URL", value_parser = request_redirect)]
    pub global_auth_request_redirect: Option<String>,
    /// Cache key of the global auth's answers, with variables (e.g.
    /// `$remote_user$http_authorization`); without it nothing is cached.
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_CACHE_KEY", value_name = "KEY", value_parser = cache_key)]
    pub global_auth_cache_key: Option<String>,
    /// How long the global auth's answers are cached, by status (default `200 202 401 5m`).
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_CACHE_DURATION", value_name = "DURATIONS", value_parser = cache_duration)]
    pub global_auth_cache_duration: Option<String>,
    /// Send the global auth's `Set-Cookie` to the client whatever the response status.
    #[arg(long, env = "STRAIT_GLOBAL_AUTH_ALWAYS_SET_COOKIE", default_value_t = false, action = ArgAction::Set, value_name = "BOOL")]
    pub global_auth_always_set_cookie: bool,
    /// Rule paths that get neither external nor basic auth (prefixes, comma-separated;
    /// ConfigMap `no-auth-locations`).
    #[arg(
        long,
        env = "STRAIT_NO_AUTH_LOCATIONS",
        value_name = "PATH,...",
        value_delimiter = ',',
        default_value = DEFAULT_NO_AUTH_LOCATIONS
    )]
    pub no_auth_locations: Vec<String>,
}

impl GlobalAuthArgs {
    /// The global auth, when `--global-auth-url` is set.
    pub fn global_auth(&self) -> Option<Arc<ExternalAuth>> {
        let url = self.global_auth_url.as_deref()?;
        let cookie = self.global_auth_always_set_cookie.to_string();
        let values = AuthValues {
            url,
            method: self.global_auth_method.as_deref(),
            signin: self.global_auth_signin.as_deref(),
            signin_redirect_param: self.global_auth_signin_redirect_param.as_deref(),
            response_headers: self.global_auth_response_headers.as_deref(),
            request_redirect: self.global_auth_request_redirect.as_deref(),
            always_set_cookie: Some(&cookie),
            cache_key: self.global_auth_cache_key.as_deref(),
            cache_duration: self.global_auth_cache_duration.as_deref(),
        };
        // Every value passed the parser of its flag, which is the check `parse` applies.
        let (auth, _) = ExternalAuth::parse(&values).expect("each global auth flag was checked");
        Some(Arc::new(auth))
    }

    /// `--no-auth-locations`, trimmed, empty entries dropped.
    pub fn no_auth_locations(&self) -> Vec<String> {
        self.no_auth_locations
            .iter()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

fn url(s: &str) -> Result<String, String> {
    parse_auth_url(s).map_err(|e| format!("`{s}` {e}"))?;
    Ok(s.trim().to_owned())
}

fn method(s: &str) -> Result<String, String> {
    let s = s.trim();
    match METHODS.contains(&s) {
        true => Ok(s.to_owned()),
        false => Err(format!("`{s}` is not one of {}", METHODS.join(", "))),
    }
}

fn signin(s: &str) -> Result<String, String> {
    parse_signin(s, None).map_err(|e| format!("`{s}` {e}"))?;
    Ok(s.trim().to_owned())
}

fn param(s: &str) -> Result<String, String> {
    match external_auth::valid_redirect_param(s.trim()) {
        true => Ok(s.trim().to_owned()),
        false => Err(format!(
            "`{s}` is not a query parameter name (letters, digits, -._~)"
        )),
    }
}

fn header_list(s: &str) -> Result<String, String> {
    external_auth::parse_header_list(s).map_err(|h| format!("`{h}` is not a header name"))?;
    Ok(s.to_owned())
}

fn request_redirect(s: &str) -> Result<String, String> {
    match external_auth::valid_request_redirect(s.trim()) {
        true => Ok(s.trim().to_owned()),
        false => Err(format!(
            "`{s}` has characters other than letters, digits and -._~/:,?&="
        )),
    }
}

fn cache_key(s: &str) -> Result<String, String> {
    external_auth::parse_cache_key(s)?;
    Ok(s.to_owned())
}

fn cache_duration(s: &str) -> Result<String, String> {
    parse_cache_durations(s).map_err(|e| e.to_string())?;
    Ok(s.to_owned())
}
