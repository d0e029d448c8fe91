//! CORS through the real proxy (docs/architecture.md, "CORS"): `enable-cors` and the `cors-*`
//! keys as ingress-nginx applies them (test/e2e/annotations/cors.go; annotations.md, "Enable
//! CORS").
//!
//! Each Ingress routes a live host to an echo backend and a `dead.*` host to an address nobody
//! listens on: a preflight answered 204 there never reached an upstream (a GET gets 502).

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, Reply, dead_addr, start};
use tokio::net::TcpStream;

const NGINX: &str = "nginx.ingress.kubernetes.io";
const LIVE: &str = "cors.test";
const DEAD: &str = "dead.cors.test";

struct Scene {
    running: Running,
    _manifests: Manifests,
    _echo: Echo,
}

/// Strait with one Ingress carrying `annotations` (ingress-nginx keys without prefix).
async fn scene(annotations: &[(&str, &str)]) -> Scene {
    let echo = Echo::start("live", [127, 0, 0, 2], 0).await;
    let dead = dead_addr([127, 0, 0, 3]).await;
    let mut ingress = IngressB::new("default", "cors")
        .rule(LIVE, "/", "Prefix", "live", 80)
        .rule(DEAD, "/", "Prefix", "dead", 80);
    for (key, value) in annotations {
        ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
    }
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "live", &[echo.addr]));
    items.extend(backend("default", "dead", &[dead]));
    let manifests = Manifests::new();
    manifests.write_list("cors.json", &items);
    let running = start(manifests.path()).await;
    Scene {
        running,
        _manifests: manifests,
        _echo: echo,
    }
}

/// One request with any method on a fresh connection.
async fn send(addr: SocketAddr, method: Method, host: &str, headers: &[(&str, &str)]) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect to strait");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri("/x")
        .header("host", host);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Empty::<Bytes>::new()).expect("request");
    let response = sender.send_request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn header<'r>(reply: &'r Reply, name: &str) -> Option<&'r str> {
    reply
        .headers
        .get(name)
        .map(|v| v.to_str().expect("ascii header"))
}

const PREFLIGHT: [(&str, &str); 2] = [
    ("origin", "https://origin.cors.com:8080"),
    ("access-control-request-method", "PUT"),
];

/// cors.go "should allow origin for cors" and the template's `trueoptions` branch: an allowed
/// preflight is answered 204 by the proxy, with the CORS headers, and never goes upstream.
#[tokio::test]
async fn preflight_is_answered_204_without_reaching_the_upstream() {
    let s = scene(&[
        ("enable-cors", "true"),
        (
            "cors-allow-origin",
            "https://origin.cors.com:8080, https://origin2.cors.com",
        ),
    ])
    .await;
    let addr = s.running.http_addr;
    assert_eq!(
        send(addr, Method::GET, DEAD, &[]).await.status,
        StatusCode::BAD_GATEWAY
    );

    let reply = send(addr, Method::OPTIONS, DEAD, &PREFLIGHT).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert!(reply.body.is_empty());
    assert_eq!(
        header(&reply, "access-control-allow-origin"),
        Some("https://origin.cors.com:8080")
    );
    assert_eq!(header(&reply, "vary"), Some("Origin"));
    assert_eq!(
        header(&reply, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        header(&reply, "access-control-allow-methods"),
        Some("GET, PUT, POST, DELETE, PATCH, OPTIONS")
    );
    assert_eq!(header(&reply, "access-control-max-age"), Some("1728000"));

    // A preflight from an origin not in the list is not answered by the proxy.
    let other = [
        ("origin", "https://evil.com"),
        ("access-control-request-method", "PUT"),
    ];
    let reply = send(addr, Method::OPTIONS, DEAD, &other).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(header(&reply, "access-control-allow-origin"), None);

    // Without CORS the same preflight goes to the upstream.
    let plain = scene(&[]).await;
    let reply = send(plain.running.http_addr, Method::OPTIONS, DEAD, &PREFLIGHT).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
}

/// cors.go "should allow - single origin for multiple cors values", "should not allow -
/// single origin for multiple cors values" and "matching origin with wildcard origin": a
/// simple response gets the origin echoed with `Vary: Origin`; an unlisted origin gets none.
#[tokio::test]
async fn simple_responses_echo_an_allowed_origin_only() {
    let s = scene(&[
        ("enable-cors", "true"),
        (
            "cors-allow-origin",
            "https://origin2.cors.com, http://*.origin.com:8080",
        ),
    ])
    .await;
    let addr = s.running.http_addr;
    for origin in ["https://origin2.cors.com", "http://foo.origin.com:8080"] {
        let reply = send(addr, Method::GET, LIVE, &[("origin", origin)]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.echo_name().as_deref(), Some("live"));
        assert_eq!(header(&reply, "access-control-allow-origin"), Some(origin));
        assert_eq!(header(&reply, "vary"), Some("Origin"));
    }
    for origin in [
        "http://origin2.cors.com",
        "http://a.b.origin.com:8080",
        "https://origin.com",
    ] {
        let reply = send(addr, Method::GET, LIVE, &[("origin", origin)]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            header(&reply, "access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(
            header(&reply, "access-control-allow-methods"),
            None,
            "{origin}"
        );
    }
    let reply = send(addr, Method::GET, LIVE, &[]).await;
    assert_eq!(header(&reply, "access-control-allow-origin"), None);
}

/// cors.go "should not break functionality - without `*`" and "with extra domain": CORS on
/// without a list (or with `*` in it) answers `*` to every request, with or without `Origin`.
#[tokio::test]
async fn star_answers_every_request() {
    for list in [None, Some("*, foo.bar.com")] {
        let mut annotations = vec![("enable-cors", "true")];
        if let Some(list) = list {
            annotations.push(("cors-allow-origin", list));
        }
        let s = scene(&annotations).await;
        let addr = s.running.http_addr;
        for headers in [&[][..], &[("origin", "https://anything.example")][..]] {
            let reply = send(addr, Method::GET, LIVE, headers).await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(header(&reply, "access-control-allow-origin"), Some("*"));
            assert_eq!(header(&reply, "vary"), None);
        }
    }
}

/// cors.go "should set cors methods to only allow POST, GET", "should set cors max-age",
/// "should disable cors allow credentials", "should allow headers for cors", "should expose
/// headers for cors"; cors/main.go: an invalid value falls back to the default.
#[tokio::test]
async fn custom_values_and_invalid_ones_fall_back() {
    let s = scene(&[
        ("enable-cors", "true"),
        ("cors-allow-methods", "POST, GET"),
        ("cors-max-age", "200"),
        ("cors-allow-credentials", "false"),
        (
            "cors-allow-headers",
            "DNT, X-CustomHeader, Keep-Alive,User-Agent",
        ),
        (
            "cors-expose-headers",
            "X-CustomResponseHeader, X-CustomSecondHeader",
        ),
    ])
    .await;
    let reply = send(s.running.http_addr, Method::GET, LIVE, &[]).await;
    assert_eq!(
        header(&reply, "access-control-allow-methods"),
        Some("POST, GET")
    );
    assert_eq!(header(&reply, "access-control-max-age"), Some("200"));
    assert_eq!(header(&reply, "access-control-allow-credentials"), None);
    assert_eq!(
        header(&reply, "access-control-allow-headers"),
        Some("DNT, X-CustomHeader, Keep-Alive,User-Agent")
    );
    assert_eq!(
        header(&reply, "access-control-expose-headers"),
        Some("X-CustomResponseHeader, X-CustomSecondHeader")
    );

    let s = scene(&[
        ("enable-cors", "true"),
        ("cors-allow-methods", "GET; $pid"),
        ("cors-max-age", "20d"),
        ("cors-allow-origin", "HTTPS://bad.example/path"),
    ])
    .await;
    let reply = send(s.running.http_addr, Method::GET, LIVE, &[]).await;
    assert_eq!(
        header(&reply, "access-control-allow-methods"),
        Some("GET, PUT, POST, DELETE, PATCH, OPTIONS")
    );
    assert_eq!(header(&reply, "access-control-max-age"), Some("1728000"));
    assert_eq!(header(&reply, "access-control-allow-origin"), Some("*"));
}

/// `enable-cors: "false"` (or absent) adds nothing, whatever the `cors-*` keys say.
#[tokio::test]
async fn disabled_cors_adds_nothing() {
    let s = scene(&[("enable-cors", "false"), ("cors-allow-origin", "*")]).await;
    let reply = send(
        s.running.http_addr,
        Method::GET,
        LIVE,
        &[("origin", "https://a.example")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(header(&reply, "access-control-allow-origin"), None);
}

/// The template's CORS block sets its headers with `more_set_headers` and no `-s` list, which
/// applies to every status: the proxy's own error for an allowed origin (here a 502 from a
/// dead upstream) carries them, so the browser can read the error; a disallowed origin's
/// error carries none.
#[tokio::test]
async fn proxy_errors_carry_the_cors_headers() {
    let s = scene(&[
        ("enable-cors", "true"),
        ("cors-allow-origin", "https://origin.cors.com:8080"),
    ])
    .await;
    let addr = s.running.http_addr;
    let allowed = [("origin", "https://origin.cors.com:8080")];
    let reply = send(addr, Method::GET, DEAD, &allowed).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        header(&reply, "access-control-allow-origin"),
        Some("https://origin.cors.com:8080")
    );
    assert_eq!(header(&reply, "vary"), Some("Origin"));
    assert!(header(&reply, "access-control-allow-methods").is_some());

    let other = [("origin", "https://evil.example")];
    let reply = send(addr, Method::GET, DEAD, &other).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(header(&reply, "access-control-allow-origin"), None);
}
