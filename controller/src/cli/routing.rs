//! Flags that change how paths and errors are served: `--regex-keep-exact-paths`,
//! `--strict-validate-path-type`, `--default-backend-service`, `--custom-http-errors` and
//! `--enable-ssl-passthrough`
//! (docs/architecture.md, "Regex paths and rewrites" and "Error pages").

use clap::{ArgAction, Args};
use strait_shared::table::error_pages::{GLOBAL_CODES, StatusSet, parse_codes};
use strait_shared::{CompileConfig, ObjectKey};

use super::parse_object_key;

#[derive(Debug, Clone, Default, Args)]
pub struct RoutingArgs {
    /// On a host that matches by regex (some Ingress sets `use-regex` or `rewrite-target`),
    /// keep `Exact` paths exact and case-sensitive, tried before the regexes. Without it they
    /// are regexes like every other path of such a host, as in ingress-nginx.
    #[arg(long, env = "STRAIT_REGEX_KEEP_EXACT_PATHS")]
    pub regex_keep_exact_paths: bool,
    /// Skip (with an error naming each) `Exact` and `Prefix` paths with characters other than
    /// letters, digits, `.`, `_`, `-` and `/` (ingress-nginx's ConfigMap
    /// `strict-validate-path-type`, on by default since its 1.12; its admission webhook
    /// rejects such Ingresses). `false` serves them as older releases did.
    #[arg(long, env = "STRAIT_STRICT_VALIDATE_PATH_TYPE", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub strict_validate_path_type: bool,
    /// Service whose first port answers requests that no rule matches (instead of Strait's
    /// 404) and the `--custom-http-errors` of every route (ingress-nginx's flag of the same
    /// name).
    #[arg(long, env = "STRAIT_DEFAULT_BACKEND_SERVICE", value_name = "NAMESPACE/NAME", value_parser = parse_object_key)]
    pub default_backend_service: Option<ObjectKey>,
    /// Statuses (300–599, comma-separated) that the default backend answers for every route
    /// whose Ingress sets no `custom-http-errors` (ingress-nginx's ConfigMap key).
    #[arg(long, env = "STRAIT_CUSTOM_HTTP_ERRORS", value_name = "CODE,...", value_parser = codes)]
    pub custom_http_errors: Option<StatusSet>,
    /// Honour `ssl-passthrough`: the HTTPS listener reads each ClientHello's server name and
    /// splices a passthrough host's connection, TLS untouched, to the backend of its `/` route
    /// (ingress-nginx's flag of the same name, off by default; off, the annotation is
    /// reported and its hosts are terminated).
    #[arg(long, env = "STRAIT_ENABLE_SSL_PASSTHROUGH")]
    pub enable_ssl_passthrough: bool,
}

impl RoutingArgs {
    /// `config` with these flags' settings.
    pub fn apply(&self, config: CompileConfig) -> CompileConfig {
        CompileConfig {
            regex_keep_exact_paths: self.regex_keep_exact_paths,
            strict_validate_path_type: self.strict_validate_path_type,
            default_backend_service: self.default_backend_service.clone(),
            custom_http_errors: self.custom_http_errors.unwrap_or_default(),
            enable_ssl_passthrough: self.enable_ssl_passthrough,
            ..config
        }
    }
}

fn codes(s: &str) -> Result<StatusSet, String> {
    parse_codes(s, GLOBAL_CODES).map_err(|e| format!("`{s}` {e}"))
}
