//! Flags of the access and redirect policies: redirect code, limit status codes, global auth.

use super::*;

/// ingress-nginx's `http-redirect-code` takes 301, 302, 307 or 308; anything else is refused
/// at start-up with the list.
#[test]
fn http_redirect_code_takes_only_redirect_codes() {
    for bad in ["200", "303", "abc", ""] {
        let err = Cli::try_parse_from(["strait", "serve", &format!("--http-redirect-code={bad}")])
            .expect_err(bad)
            .to_string();
        assert!(err.contains("301, 302, 307 or 308"), "{bad}: {err}");
    }
}

/// ingress-nginx's ConfigMap `limit-req-status-code` and `limit-conn-status-code` (default
/// 503); nginx's `limit_req_status` / `limit_conn_status` take 400 to 599.
#[test]
fn limit_status_codes_reach_the_config_within_400_to_599() {
    let config = serve(&[
        "--manifests=/m",
        "--limit-req-status-code=429",
        "--limit-conn-status-code=599",
    ])
    .unwrap()
    .into_config();
    assert_eq!(config.proxy.limit_req_status, 429);
    assert_eq!(config.proxy.limit_conn_status, 599);
    for bad in ["399", "600", "abc", "200"] {
        let flag = format!("--limit-req-status-code={bad}");
        assert!(serve(&["--manifests=/m", &flag]).is_err(), "{bad}");
    }
}

/// configmap.md "global-auth-url" and siblings, "no-auth-locations": each a flag, checked when
/// read; a bad value stops the start.
#[test]
fn global_auth_flags_build_the_global_auth_and_bad_values_fail() {
    let config = serve(&["--manifests", "/m"]).unwrap().into_config();
    assert_eq!(config.compile.global_auth, None);
    assert_eq!(
        config.compile.no_auth_locations,
        ["/.well-known/acme-challenge"]
    );
    let config = serve(&[
        "--manifests",
        "/m",
        "--global-auth-url=https://auth.example.com/verify",
        "--global-auth-method=POST",
        "--global-auth-signin=https://$host/oauth2/start",
        "--global-auth-signin-redirect-param=next",
        "--global-auth-response-headers=X-User, X-Email",
        "--global-auth-request-redirect=https://app.example.com/",
        "--global-auth-cache-key=$http_authorization",
        "--global-auth-cache-duration=200 10m",
        "--global-auth-always-set-cookie=true",
        "--no-auth-locations=/healthz, /.well-known/acme-challenge",
    ])
    .unwrap()
    .into_config();
    let auth = config.compile.global_auth.expect("global auth");
    assert_eq!(&*auth.url.text, "https://auth.example.com/verify");
    assert_eq!(auth.method, Some("POST"));
    assert_eq!(auth.response_headers.len(), 2);
    assert!(auth.signin.is_some() && auth.cache.is_some() && auth.always_set_cookie);
    assert_eq!(
        config.compile.no_auth_locations,
        ["/healthz", "/.well-known/acme-challenge"]
    );
    for bad in [
        "--global-auth-url=auth.example.com",
        "--global-auth-method=get",
        "--global-auth-signin=javascript:x",
        "--global-auth-signin-redirect-param=a&b",
        "--global-auth-response-headers=a b",
        "--global-auth-request-redirect=$request_uri",
        "--global-auth-cache-key=$nope",
        "--global-auth-cache-duration=5m 200",
    ] {
        assert!(serve(&["--manifests", "/m", bad]).is_err(), "{bad}");
    }
}
