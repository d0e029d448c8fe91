use hyper::body::Body as _;
use std::net::IpAddr;

use http::header::{CACHE_CONTROL, HOST};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use strait_shared::table::external_auth::{AuthValues, ExternalAuth, SetHeaders, Template};

use super::subrequest::{self, Asking};
use super::*;
use crate::config::Scheme;

fn auth(values: AuthValues<'_>) -> ExternalAuth {
    ExternalAuth::parse(&values).expect("valid").0
}

fn url(url: &str) -> AuthValues<'_> {
    AuthValues {
        url,
        ..AuthValues::default()
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(*name, HeaderValue::from_static(value));
    }
    h
}

struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    host: HeaderValue,
    id: HeaderValue,
}

impl Req {
    fn new(target: &str, pairs: &[(&'static str, &'static str)]) -> Self {
        Self {
            method: Method::POST,
            uri: target.parse().unwrap(),
            headers: headers(pairs),
            host: HeaderValue::from_static("App.Example.com:8080"),
            id: HeaderValue::from_static("0123456789abcdef0123456789abcdef"),
        }
    }

    fn asking(&self, trusted_peer: bool) -> Asking<'_> {
        Asking {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            host: &self.host,
            client: IpAddr::from([192, 0, 2, 7]),
            trusted_peer,
            scheme: Scheme::Https,
            request_id: &self.id,
        }
    }
}

fn render(template: &str, asking: &Asking<'_>) -> String {
    let mut out = Vec::new();
    Template::parse(template).unwrap().render(asking, &mut out);
    String::from_utf8(out).unwrap()
}

/// The variables a template can name, as nginx gives them.
#[test]
fn variables_take_the_request_s_values() {
    let req = Req::new(
        "/p/a?x=1&Next=/home&y",
        &[
            ("cookie", "a=1; _oauth2_proxy=tok en ; b=2"),
            ("cookie", "c=3"),
            ("authorization", "Basic YWxpY2U6cGE6c3M="),
            ("x-user", "u1"),
            ("x-user", "u2"),
        ],
    );
    let a = req.asking(false);
    assert_eq!(
        render("$host|$http_host|$scheme", &a),
        "app.example.com|App.Example.com:8080|https"
    );
    assert_eq!(
        render("$request_uri|$uri|$args", &a),
        "/p/a?x=1&Next=/home&y|/p/a|x=1&Next=/home&y"
    );
    assert_eq!(
        render("$escaped_request_uri", &a),
        "%2Fp%2Fa%3Fx%3D1%26Next%3D%2Fhome%26y"
    );
    assert_eq!(render("$arg_next|$arg_y|$arg_z", &a), "/home||");
    assert_eq!(
        render("$cookie__OAUTH2_proxy|$cookie_c|$cookie_d", &a),
        "tok en|3|"
    );
    assert_eq!(
        render("$remote_user:$remote_addr:$request_method", &a),
        "alice:192.0.2.7:POST"
    );
    assert_eq!(render("$http_x_user", &a), "u1, u2");
}

/// nginx.tmpl's `location = /_external-auth-…`: the headers ingress-nginx sets on the
/// subrequest, no body, the client's other headers passed, `X-Forwarded-Proto` cleared.
#[test]
fn the_subrequest_carries_what_nginx_sends() {
    let req = Req::new(
        "/doc?q=1",
        &[
            ("cookie", "s=1"),
            ("content-length", "5"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "evil.test"),
            ("x-real-ip", "10.9.9.9"),
        ],
    );
    let a = auth(url("http://auth.test:9000/verify?rule=$arg_q"));
    let sub = subrequest::build(
        &a,
        &req.asking(false),
        HeaderValue::from_static("auth.test"),
    )
    .unwrap();
    assert_eq!(sub.method(), Method::GET);
    assert_eq!(sub.uri(), "/verify?rule=1");
    assert!(sub.body().is_end_stream());
    let h = sub.headers();
    let get = |name: &str| h.get(name).map(|v| v.to_str().unwrap());
    assert_eq!(get("host"), Some("auth.test"));
    assert_eq!(
        get("x-original-url"),
        Some("https://App.Example.com:8080/doc?q=1")
    );
    assert_eq!(get("x-original-method"), Some("POST"));
    assert_eq!(get("x-sent-from"), Some("nginx-ingress-controller"));
    assert_eq!(get("x-real-ip"), Some("192.0.2.7"));
    assert_eq!(get("x-forwarded-for"), Some("192.0.2.7"));
    assert_eq!(get("x-auth-request-redirect"), Some("/doc?q=1"));
    assert_eq!(
        get("x-request-id"),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(get("cookie"), Some("s=1"));
    for gone in [
        "content-length",
        "connection",
        "x-hop",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-original-uri",
        "x-scheme",
    ] {
        assert_eq!(get(gone), None, "{gone}");
    }
    // A trusted proxy's forwarding headers pass (but X-Forwarded-Proto, cleared by nginx).
    let sub =
        subrequest::build(&a, &req.asking(true), HeaderValue::from_static("auth.test")).unwrap();
    assert_eq!(sub.headers()["x-forwarded-host"], "evil.test");
    assert_eq!(sub.headers().get("x-forwarded-proto"), None);
}

/// nginx.tmpl: with `auth-method`, `proxy_method` and `X-Original-URI` / `X-Scheme`;
/// `auth-request-redirect` replaces `X-Auth-Request-Redirect`.
#[test]
fn method_and_request_redirect() {
    let req = Req::new("/x", &[]);
    let a = auth(AuthValues {
        method: Some("POST"),
        request_redirect: Some("https://app.test/after"),
        ..url("https://$host/auth")
    });
    let sub = subrequest::build(
        &a,
        &req.asking(false),
        HeaderValue::from_static("app.example.com"),
    )
    .unwrap();
    assert_eq!(sub.method(), Method::POST);
    assert_eq!(sub.headers()["x-original-uri"], "/x");
    assert_eq!(sub.headers()["x-scheme"], "https");
    assert_eq!(
        sub.headers()["x-auth-request-redirect"],
        "https://app.test/after"
    );
    assert_eq!(sub.headers()[HOST], "app.example.com");
}

/// `auth-proxy-set-headers` (test/e2e/annotations/auth.go "should set proxy_set_header
/// \"My-Custom-Header\" \"42\"; when auth-headers are set"; nginx.tmpl writes the lines after
/// its own): the client's header of a listed name is not passed, an empty value sends nothing,
/// variables take the request's values, a header the subrequest sets itself keeps its own
/// value first with the ConfigMap's after it (nginx 1.27 sends both lines), and `Host` is
/// replaced rather than sent twice. Without `auth-method`, `X-Original-URI` is the client's
/// to be replaced.
#[test]
fn proxy_set_headers_come_last_and_replace_the_client_s() {
    let req = Req::new(
        "/doc?q=1",
        &[
            ("x-tenant", "forged"),
            ("x-drop", "1"),
            ("x-original-uri", "/forged"),
            ("authorization", "Basic YWxpY2U6cHc="),
        ],
    );
    let mut a = auth(url("http://auth.test/verify"));
    let set = SetHeaders::parse([
        ("My-Custom-Header", "42"),
        ("X-Tenant", "team-a"),
        ("X-Drop", ""),
        ("X-Original-URL", "from-configmap"),
        ("X-Original-URI", "$request_uri"),
        ("X-Forwarded-Proto", "$scheme"),
        ("X-Who", "$remote_user@$remote_addr via $http_host"),
        ("Host", "auth.internal"),
    ])
    .expect("a header map");
    a.proxy_set_headers = Some(std::sync::Arc::new(set));
    let sub = subrequest::build(
        &a,
        &req.asking(false),
        HeaderValue::from_static("auth.test"),
    )
    .unwrap();
    let h = sub.headers();
    let all = |name: &str| -> Vec<&str> {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    };
    assert_eq!(all("my-custom-header"), ["42"]);
    assert_eq!(all("x-tenant"), ["team-a"], "the client's is not passed");
    assert!(
        all("x-drop").is_empty(),
        "an empty value drops the client's"
    );
    assert_eq!(
        all("x-original-url"),
        ["https://App.Example.com:8080/doc?q=1", "from-configmap"],
        "nginx's own line first"
    );
    assert_eq!(
        all("x-original-uri"),
        ["/doc?q=1"],
        "the client's is replaced"
    );
    assert_eq!(all("x-forwarded-proto"), ["https"]);
    assert_eq!(all("x-who"), ["alice@192.0.2.7 via App.Example.com:8080"]);
    assert_eq!(all("host"), ["auth.internal"]);
    assert_eq!(all("x-sent-from"), ["nginx-ingress-controller"]);

    // A value made from the request that is not header text fails the check (nginx would
    // send the bytes): `$remote_user` decodes to "a\nb".
    let req = Req::new("/", &[("authorization", "Basic YQpiOnB3")]);
    let mut a = auth(url("http://auth.test/verify"));
    let set = SetHeaders::parse([("X-User", "$remote_user")]).expect("a header map");
    a.proxy_set_headers = Some(std::sync::Arc::new(set));
    let built = subrequest::build(
        &a,
        &req.asking(false),
        HeaderValue::from_static("auth.test"),
    );
    assert!(matches!(built, Err(AuthFailure::Target)), "{built:?}");
}

/// test/e2e/annotations/auth.go "should redirect to signin url when not signed in":
/// `Location: http://<host>/auth/start?rd=http://<host>` + `url.QueryEscape("/?a=b&c=d")`.
#[test]
fn signin_location_carries_the_escaped_original_url() {
    let mut req = Req::new("/?a=b&c=d", &[]);
    req.host = HeaderValue::from_static("auth");
    let mut a = req.asking(false);
    a.scheme = Scheme::Http;
    let with = |signin, param| {
        auth(AuthValues {
            signin: Some(signin),
            signin_redirect_param: param,
            ..url("http://auth.test/")
        })
    };
    let location = |x: &ExternalAuth| signin_location(x, &a).unwrap().to_str().unwrap().to_owned();
    assert_eq!(
        location(&with("http://$host/auth/start", None)),
        "http://auth/auth/start?rd=http://auth%2F%3Fa%3Db%26c%3Dd"
    );
    assert_eq!(
        location(&with("http://$host/auth/start", Some("orig"))),
        "http://auth/auth/start?orig=http://auth%2F%3Fa%3Db%26c%3Dd"
    );
    assert_eq!(
        location(&with(
            "https://$host/oauth2/start?rd=$escaped_request_uri",
            None
        )),
        "https://auth/oauth2/start?rd=%2F%3Fa%3Db%26c%3Dd"
    );
    assert_eq!(signin_location(&auth(url("http://auth.test/")), &a), None);
}

/// test/e2e/annotations/auth.go "should overwrite Foo header with auth response": the
/// client's own value never reaches the upstream; a listed header the answer lacks is
/// removed; unlisted answer headers stay out.
#[test]
fn response_headers_replace_the_client_s() {
    let a = auth(AuthValues {
        response_headers: Some("Foo, X-Email"),
        ..url("http://auth.test/")
    });
    let mut upstream = headers(&[("foo", "bar"), ("x-email", "forged"), ("keep", "1")]);
    let answer = headers(&[("foo", "from-auth"), ("foo", "second"), ("x-other", "no")]);
    forward_headers(&a, Some(Passed(answer)), &mut upstream);
    let foo: Vec<_> = upstream.get_all("foo").iter().collect();
    assert_eq!(foo, ["from-auth", "second"]);
    assert_eq!(upstream.get("x-email"), None);
    assert_eq!(upstream.get("x-other"), None);
    assert_eq!(upstream["keep"], "1");
    let mut upstream = headers(&[("foo", "bar")]);
    forward_headers(&a, None, &mut upstream);
    assert_eq!(
        upstream.get("foo"),
        None,
        "stripped even when the check did not run"
    );
}

#[test]
fn verdicts_by_status() {
    let with_challenge = headers(&[("www-authenticate", "Bearer")]);
    assert!(matches!(
        verdict(StatusCode::ACCEPTED, HeaderMap::new()),
        Verdict::Allowed(_)
    ));
    match verdict(StatusCode::UNAUTHORIZED, with_challenge.clone()) {
        Verdict::Denied { status, challenge } => {
            assert_eq!(status, 401);
            assert_eq!(challenge.unwrap(), "Bearer");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        verdict(StatusCode::FORBIDDEN, with_challenge),
        Verdict::Denied {
            challenge: None,
            ..
        }
    ));
    for status in [302, 404, 500, 503] {
        let status = StatusCode::from_u16(status).unwrap();
        assert!(matches!(
            verdict(status, HeaderMap::new()),
            Verdict::Failed(AuthFailure::Status(_))
        ));
    }
}

/// annotations.md "auth-always-set-cookie": without it the cookie is set only with 200, 201,
/// 204, 206, 301, 302, 303, 304, 307 or 308.
#[test]
fn cookies_follow_the_response_status() {
    let cookie = || {
        vec![
            HeaderValue::from_static("a=1"),
            HeaderValue::from_static("b=2"),
        ]
    };
    let response = |status: u16| {
        let mut r = Response::new(());
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r
    };
    for (status, always, expected) in [
        (200, false, 2),
        (302, false, 2),
        (503, false, 0),
        (401, false, 0),
        (503, true, 2),
    ] {
        let mut r = response(status);
        Cookies {
            values: cookie(),
            always,
        }
        .add_to(&mut r);
        assert_eq!(
            r.headers().get_all("set-cookie").iter().count(),
            expected,
            "{status} {always}"
        );
    }
}

/// nginx's cache keeps no answer that sets a cookie or says no-store/no-cache/private; the
/// duration follows the status; the key separates routes and evaluated keys.
#[test]
fn the_cache_keeps_only_storable_answers_of_cached_statuses() {
    let a = auth(AuthValues {
        cache_key: Some("$http_authorization"),
        cache_duration: Some("200 5m"),
        response_headers: Some("x-user"),
        ..url("http://auth.test/")
    });
    let c = a.cache.as_ref().unwrap();
    let key = |scope: &str, evaluated: &str| {
        cache::key(&[scope.as_bytes()], &a.url.text, evaluated.as_bytes())
    };
    assert_ne!(key("/a", "k"), key("/b", "k"));
    assert_ne!(key("/a", "k"), key("/a", "j"));
    assert_ne!(
        key("/a", "bk"),
        key("/ab", "k"),
        "parts are length-prefixed"
    );
    let ok = headers(&[("x-user", "u"), ("x-other", "o")]);
    cache::put(1, &a, c, StatusCode::OK, &ok);
    let kept = cache::get(1).expect("kept");
    assert_eq!(kept.status, 200);
    assert_eq!(kept.headers.len(), 1, "only the listed headers");
    cache::put(2, &a, c, StatusCode::UNAUTHORIZED, &HeaderMap::new());
    assert!(cache::get(2).is_none(), "401 is not in 200 5m");
    cache::put(3, &a, c, StatusCode::OK, &headers(&[("set-cookie", "s=1")]));
    assert!(cache::get(3).is_none());
    let mut private = HeaderMap::new();
    private.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("max-age=60, Private"),
    );
    cache::put(4, &a, c, StatusCode::OK, &private);
    assert!(cache::get(4).is_none());
    for k in 10..(cache::ENTRIES as u128 + 20) {
        cache::put(k, &a, c, StatusCode::OK, &ok);
    }
    assert!(cache::len() <= cache::ENTRIES);
}
