use std::time::Duration;

use super::*;

fn values(url: &str) -> AuthValues<'_> {
    AuthValues {
        url,
        ..AuthValues::default()
    }
}

fn parsed(v: &AuthValues<'_>) -> ExternalAuth {
    ExternalAuth::parse(v).expect("valid").0
}

/// The values a test's [`Values`] gives each variable.
struct Fixed;

impl Values for Fixed {
    fn write(&self, variable: &Variable, out: &mut Vec<u8>) {
        let text = match variable {
            Variable::Host => "example.com".to_owned(),
            Variable::RequestUri => "/a?b=c".to_owned(),
            Variable::EscapedRequestUri => {
                escape_component(b"/a?b=c", out);
                return;
            }
            other => format!("<{other}>"),
        };
        out.extend_from_slice(text.as_bytes());
    }
}

fn render(t: &Template) -> String {
    let mut out = Vec::new();
    t.render(&Fixed, &mut out);
    String::from_utf8(out).unwrap()
}

/// ingress-nginx internal/ingress/annotations/authreq/main_test.go `TestAnnotations`: no
/// scheme, no host, a host with `..` are refused ("could not parse auth-url annotation");
/// test/e2e/annotations/auth.go "with invalid auth-url should deny whole location"
/// (`https://invalid..auth.url` answers 503).
#[test]
fn auth_url_must_be_absolute_http_with_a_host() {
    for bad in [
        "",
        "bar",
        "http://",
        "http://foo..bar.com",
        "https://invalid..auth.url",
        "ftp://auth.example.com/",
        "http://auth.example.com:0/",
        "http://auth.example.com:99999/",
        "http://auth.example.com:/x",
        "http://user@auth.example.com/",
        "http://auth.example.com/a%20b",
        "http://auth.example.com/a b",
        "http://auth.example.com/#frag",
        "http://[::1]/",
        "http://999.1.1.1/",
        "http://auth.$host/",
        "http://auth.example.com/$path",
        "http://auth.example.com/${host",
    ] {
        assert!(parse_auth_url(bad).is_err(), "{bad:?}");
    }
}

/// The URL's parts: TLS, host kind, default ports, the target with its query
/// (main_test.go "valid URL": `http://bar.foo.com/external-auth/auth?allowed_groups=snow-group,rain-group`).
#[test]
fn auth_url_parts() {
    let u = parse_auth_url(
        "http://bar.foo.com/external-auth/auth?allowed_groups=snow-group,rain-group",
    )
    .unwrap();
    assert!(!u.tls);
    assert_eq!(u.host, AuthHost::Name("bar.foo.com".into()));
    assert_eq!(u.port, 80);
    assert_eq!(
        u.target.literal(),
        Some("/external-auth/auth?allowed_groups=snow-group,rain-group")
    );
    let u = parse_auth_url("HTTPS://Auth.Example.COM.").unwrap();
    assert!(u.tls);
    assert_eq!(u.port, 443);
    assert_eq!(u.host.name().map(|n| &**n), Some("auth.example.com"));
    assert_eq!(u.target.literal(), Some("/"));
    let u = parse_auth_url("http://10.1.2.3:4180?x=1").unwrap();
    assert_eq!(
        u.host,
        AuthHost::Ip("10.1.2.3".parse().unwrap(), "10.1.2.3".into())
    );
    assert_eq!(u.port, 4180);
    assert_eq!(u.target.literal(), Some("/?x=1"));
    let u = parse_auth_url("http://oauth2-proxy.auth.svc.cluster.local:4180/oauth2/auth").unwrap();
    assert_eq!(
        u.host,
        AuthHost::Name("oauth2-proxy.auth.svc.cluster.local".into())
    );
}

/// oauth2-proxy's documented ingress-nginx setup: `auth-url: https://$host/oauth2/auth`;
/// the host is the request's own (ingress-nginx's `URLWithNginxVariableRegex` allows `$`).
#[test]
fn auth_url_may_name_the_request_host_and_variables_in_the_path() {
    for url in ["https://$host/oauth2/auth", "http://$http_host:8080/x"] {
        assert_eq!(
            parse_auth_url(url).unwrap().host,
            AuthHost::Request,
            "{url}"
        );
    }
    let u = parse_auth_url("http://auth.local/check?uri=$escaped_request_uri&m=$request_method")
        .unwrap();
    assert_eq!(
        render(&u.target),
        "/check?uri=%2Fa%3Fb%3Dc&m=<$request_method>"
    );
}

/// main_test.go `TestAnnotations` methods and ingress-nginx's `methodsRegex` (case-sensitive);
/// an invalid method denies the location ("invalid HTTP method").
#[test]
fn methods_are_ingress_nginx_s_list() {
    let mut v = values("http://a.b/");
    for m in ["GET", "POST", "TRACE"] {
        v.method = Some(m);
        assert_eq!(parsed(&v).method, Some(m));
    }
    for bad in ["get", "FETCH", "GET,POST"] {
        v.method = Some(bad);
        let e = ExternalAuth::parse(&v).unwrap_err();
        assert_eq!(e.key, "auth-method", "{bad}");
    }
    v.method = None;
    assert_eq!(parsed(&v).method, None, "GET without the extra headers");
}

/// main_test.go `TestHeaderAnnotations`.
#[test]
fn response_header_lists() {
    let list =
        |s: &str| parse_header_list(s).map(|h| h.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    assert_eq!(list("h1").unwrap(), ["h1"]);
    assert!(list("").unwrap().is_empty());
    assert!(list("  ").unwrap().is_empty());
    assert_eq!(list(",1,,2,").unwrap(), ["1", "2"]);
    assert_eq!(
        list("X-Auth-Request-User, x-auth-request-user,X_Email").unwrap(),
        ["x-auth-request-user", "x_email"]
    );
    assert!(list("1 2").is_err());
    assert!(list("1+2").is_err());
    let mut v = values("http://a.b/");
    v.response_headers = Some("ok, bad:header");
    assert_eq!(
        ExternalAuth::parse(&v).unwrap_err().key,
        "auth-response-headers"
    );
}

/// ingress-nginx template.go `buildAuthSignURL` and test/e2e/annotations/auth.go "should
/// redirect to signin url when not signed in": `rd` is added with `?` when the URL has no
/// query, with `&` when it has one, and not at all when the URL sets it already;
/// `auth-signin-redirect-param` renames it ("when external authentication is configured
/// with a custom redirect param": `orig`).
#[test]
fn signin_redirect_param() {
    let s = parse_signin("http://$host/auth/start", None).unwrap();
    assert_eq!(s.redirect, Some((b'?', "rd".into())));
    assert_eq!(render(&s.url), "http://example.com/auth/start");
    let s = parse_signin("https://auth.example.com/start?a=b", Some("orig")).unwrap();
    assert_eq!(s.redirect, Some((b'&', "orig".into())));
    let s = parse_signin("https://$host/oauth2/start?rd=$escaped_request_uri", None).unwrap();
    assert_eq!(s.redirect, None);
    assert_eq!(
        render(&s.url),
        "https://example.com/oauth2/start?rd=%2Fa%3Fb%3Dc"
    );
    let s = parse_signin("/oauth2/start?rd=", None).unwrap();
    assert_eq!(
        s.redirect,
        Some((b'&', "rd".into())),
        "an empty rd is not set"
    );
    for bad in [
        "",
        "auth/start",
        "http:///x",
        "http://a..b/",
        "http://a/b c",
        "http://a/$nope",
    ] {
        assert!(parse_signin(bad, None).is_err(), "{bad:?}");
    }
}

/// ingress-nginx main.go: an invalid `auth-signin` or `auth-signin-redirect-param` is logged
/// and left out (a 401 is answered as is; `rd` is used), never refused.
#[test]
fn invalid_signin_values_are_warnings() {
    let mut v = values("http://a.b/");
    v.signin = Some("javascript:alert(1)");
    v.signin_redirect_param = Some("r&d");
    let (auth, warnings) = ExternalAuth::parse(&v).unwrap();
    assert_eq!(auth.signin, None);
    let keys: Vec<_> = warnings.iter().map(|w| w.key).collect();
    assert_eq!(keys, ["auth-signin-redirect-param", "auth-signin"]);
}

/// main.go returns an error (not a denied location) for these, and ingress-nginx then drops
/// the whole external auth of the location (served open); Strait refuses the routes instead.
#[test]
fn invalid_request_redirect_or_cookie_flag_refuse() {
    let mut v = values("http://a.b/");
    v.request_redirect = Some("http://foo.com/redirect-me");
    assert_eq!(
        parsed(&v).request_redirect.as_deref(),
        Some("http://foo.com/redirect-me")
    );
    v.request_redirect = Some("http://foo.com/$request_uri");
    assert_eq!(
        ExternalAuth::parse(&v).unwrap_err().key,
        "auth-request-redirect"
    );
    v.request_redirect = None;
    v.always_set_cookie = Some("yes");
    assert_eq!(
        ExternalAuth::parse(&v).unwrap_err().key,
        "auth-always-set-cookie"
    );
    v.always_set_cookie = Some("true");
    assert!(parsed(&v).always_set_cookie);
}

/// main_test.go `TestCacheDurationAnnotations` and `TestParseStringToCacheDurations`;
/// configmap.md "global-auth-cache-duration" (`200 202 10m, 401 5m`, default
/// `200 202 401 5m`); nginx `proxy_cache_valid` (time alone: 200, 301, 302; `any`).
#[test]
fn cache_durations() {
    let ttl = |value: &str, status| ttl_for(&parse_cache_durations(value).unwrap(), status);
    let min = |m: u64| Some(Duration::from_secs(60 * m));
    assert_eq!(ttl("", 202), min(5));
    assert_eq!(ttl("  ", 401), min(5));
    assert_eq!(ttl("", 403), None);
    assert_eq!(ttl("200 202 10m, 401 5m", 202), min(10));
    assert_eq!(ttl("200 202 10m, 401 5m", 401), min(5));
    assert_eq!(ttl(",5m,,401 10m,", 302), min(5));
    assert_eq!(ttl(",5m,,401 10m,", 204), None);
    assert_eq!(ttl("200 1h 30m", 200), min(90));
    assert_eq!(ttl("any 500ms", 418), Some(Duration::from_millis(500)));
    assert_eq!(ttl("200 1M", 200), Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(
        ttl("401 30s, 401 1h", 401),
        Some(Duration::from_secs(30)),
        "first wins"
    );
    for bad in [
        "200",
        ",200,",
        "5m, xaxax",
        "5m 200",
        "200 5x",
        "200 1h30m",
        "99 5m",
        "600 5m",
        "200 99999999999999999999y",
    ] {
        assert!(parse_cache_durations(bad).is_err(), "{bad:?}");
    }
}

/// An invalid duration denies the location in ingress-nginx ("invalid cache duration").
#[test]
fn invalid_cache_duration_refuses_and_invalid_key_is_a_warning() {
    let mut v = values("http://a.b/");
    v.cache_key = Some("$remote_user$http_authorization");
    v.cache_duration = Some("200 5m 201");
    assert_eq!(
        ExternalAuth::parse(&v).unwrap_err().key,
        "auth-cache-duration"
    );
    v.cache_duration = Some("200 202 401 30m");
    let cache = parsed(&v).cache.expect("cache");
    assert_eq!(
        cache.key.parts(),
        [
            Part::Var(Variable::RemoteUser),
            Part::Var(Variable::Header("authorization".into()))
        ]
    );
    for key in ["$jwt_claim_sub", "a.b", "${host"] {
        v.cache_key = Some(key);
        let (auth, warnings) = ExternalAuth::parse(&v).unwrap();
        assert!(auth.cache.is_none(), "{key}");
        assert_eq!(warnings[0].key, "auth-cache-key");
    }
    v.cache_key = Some("fixed");
    assert_eq!(parsed(&v).cache.unwrap().key.literal(), Some("fixed"));
    v.cache_key = Some("");
    assert!(parsed(&v).cache.is_none());
}

#[test]
fn template_variables() {
    let t = Template::parse("a$host-${http_X_User}$cookie_Session_Id$arg_x$URI").unwrap();
    assert_eq!(
        t.parts(),
        [
            Part::Text("a".into()),
            Part::Var(Variable::Host),
            Part::Text("-".into()),
            Part::Var(Variable::Header("x-user".into())),
            Part::Var(Variable::Cookie("Session_Id".into())),
            Part::Var(Variable::Arg("x".into())),
            Part::Var(Variable::Uri),
        ]
    );
    assert_eq!(Template::parse("$").unwrap_err(), TemplateError::EmptyName);
    assert_eq!(
        Template::parse("${}").unwrap_err(),
        TemplateError::EmptyName
    );
    assert_eq!(Template::parse("${x").unwrap_err(), TemplateError::Unclosed);
    assert!(matches!(
        Template::parse("$http_").unwrap_err(),
        TemplateError::Unknown(_)
    ));
    assert!(matches!(
        Template::parse("$server_addr").unwrap_err(),
        TemplateError::Unknown(_)
    ));
}

#[test]
fn escaping_matches_go_query_escape() {
    let mut out = Vec::new();
    escape_component(b"/?a=b&c=d e~_.-", &mut out);
    assert_eq!(out, b"%2F%3Fa%3Db%26c%3Dd%20e~_.-");
}

/// Property: whatever the values, parsing never panics; an accepted URL names a host of its
/// kind, and every literal part of its target, of a sign-in URL and of a request redirect is
/// plain URL text (it is sent in a request line or a header).
#[test]
fn any_input_parses_or_is_refused_safely() {
    let safe = |t: &Template| {
        t.parts().iter().all(|p| match p {
            Part::Text(text) => text.bytes().all(|b| b.is_ascii_graphic()),
            Part::Var(_) => true,
        })
    };
    bolero::check!()
        .with_test_time(crate::fuzz::budget().min(Duration::from_secs(2)))
        .for_each(|input: &[u8]| {
            let text = String::from_utf8_lossy(input);
            let mut parts = text.splitn(6, '\u{1}');
            let mut next = || parts.next();
            let url = next().unwrap_or("");
            let v = AuthValues {
                url,
                signin: next(),
                cache_key: next(),
                cache_duration: next(),
                request_redirect: next(),
                response_headers: next(),
                ..AuthValues::default()
            };
            let _ = parse_cache_durations(url);
            let _ = Template::parse(url);
            if let Ok((auth, _)) = ExternalAuth::parse(&v) {
                assert!(safe(&auth.url.target));
                assert!(auth.url.port > 0);
                if let AuthHost::Name(name) = &auth.url.host {
                    assert!(!name.is_empty() && !name.contains(".."));
                }
                assert!(auth.signin.as_ref().is_none_or(|s| safe(&s.url)));
                assert!(
                    auth.request_redirect
                        .as_deref()
                        .is_none_or(|r| r.bytes().all(|b| b.is_ascii_graphic()))
                );
                assert!(
                    auth.response_headers
                        .iter()
                        .all(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
                );
            }
        });
}
