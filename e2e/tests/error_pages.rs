//! Error pages through the real proxy (docs/architecture.md, "Error pages"): `custom-http-errors`,
//! `default-backend`, `disable-proxy-intercept-errors` and the global `--default-backend-service`
//! / `--custom-http-errors`, as ingress-nginx applies them (annotations.md "Custom HTTP
//! Errors", "Default Backend"; user-guide/custom-errors.md; test/e2e/annotations/
//! {customhttperrors,default_backend,disableproxyintercepterrors}.go; nginx.tmpl
//! `CUSTOM_ERRORS`).
//!
//! The application is an echo backend (`?status=NNN` sets its status) on 127.0.0.2, the error
//! backend another echo on 127.0.0.3, and `dead` a Service whose endpoint nobody listens on
//! (127.0.0.4), so Strait itself answers 502 there.

use std::net::SocketAddr;

use http::StatusCode;
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, Reply, config, dead_addr};
use strait_shared::ObjectKey;
use strait_shared::table::error_pages::{GLOBAL_CODES, parse_codes};

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "pages.test";
const REQUEST_ID: &str = "something-unique";

struct Scene {
    running: Running,
    _manifests: Manifests,
    _echoes: (Echo, Echo),
}

/// Strait with Ingress `default/pages` (`/` to `app`, `/dead` to `dead`, `/invalid` to a
/// Service that does not exist) carrying `annotations`; `global` is
/// `--default-backend-service default/errors` with `--custom-http-errors` (when `Some`).
async fn scene(annotations: &[(&str, &str)], global: Option<&str>) -> Scene {
    let app = Echo::start("app", [127, 0, 0, 2], 0).await;
    let errors = Echo::start("errors", [127, 0, 0, 3], 0).await;
    let dead: SocketAddr = dead_addr([127, 0, 0, 4]).await;
    let mut ingress = IngressB::new("default", "pages")
        .rule(HOST, "/", "Prefix", "app", 80)
        .rule(HOST, "/dead", "Prefix", "dead", 80)
        .rule(HOST, "/invalid", "Prefix", "invalid", 80);
    for (key, value) in annotations {
        ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
    }
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "app", &[app.addr]));
    items.extend(backend("default", "errors", &[errors.addr]));
    items.extend(backend("default", "dead", &[dead]));
    let manifests = Manifests::new();
    manifests.write_list("pages.json", &items);
    let mut cfg = config(manifests.path());
    if let Some(codes) = global {
        cfg.compile.default_backend_service = Some(ObjectKey::new("default", "errors"));
        cfg.compile.custom_http_errors = parse_codes(codes, GLOBAL_CODES).expect("codes");
    }
    let running = strait_controller::serve::start(cfg)
        .await
        .expect("strait starts");
    Scene {
        running,
        _manifests: manifests,
        _echoes: (app, errors),
    }
}

async fn get(s: &Scene, host: &str, target: &str) -> Reply {
    let headers = [("x-request-id", REQUEST_ID), ("accept", "text/html")];
    strait_e2e::client::get_with(s.running.http_addr, host, target, &headers).await
}

/// What the client should get: the application's answer with this status, or the error
/// backend's (its 200) with these `X-Code` and `X-Service-Name`.
#[derive(Debug)]
enum Expect {
    App(u16),
    ErrorPage {
        code: &'static str,
        service: &'static str,
    },
    /// Strait's own plain-text answer with this status.
    Own(u16),
}

fn check(reply: &Reply, expect: &Expect, what: &str) {
    match expect {
        Expect::App(status) => {
            assert_eq!(reply.status.as_u16(), *status, "{what}: {}", reply.text());
            assert_eq!(reply.echo_name().as_deref(), Some("app"), "{what}");
        }
        Expect::Own(status) => {
            assert_eq!(reply.status.as_u16(), *status, "{what}: {}", reply.text());
            assert_eq!(reply.echo_name(), None, "{what}: {}", reply.text());
        }
        Expect::ErrorPage { code, service } => {
            // `error_page CODE = @custom_…`: the error backend's own status reaches the client.
            assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text());
            assert_eq!(reply.echo_name().as_deref(), Some("errors"), "{what}");
            let echoed = |name| reply.echoed_header(name);
            assert_eq!(echoed("x-code").as_deref(), Some(*code), "{what}");
            assert_eq!(
                echoed("x-service-name").as_deref(),
                Some(*service),
                "{what}"
            );
            assert_eq!(
                echoed("x-request-id").as_deref(),
                Some(REQUEST_ID),
                "{what}"
            );
            assert_eq!(echoed("x-format").as_deref(), Some("text/html"), "{what}");
            assert_eq!(echoed("host").as_deref(), Some(HOST), "{what}");
        }
    }
}

/// `custom-http-errors` with `default-backend` (customhttperrors.go "using the custom
/// default-backend from annotation"; disableproxyintercepterrors.go "with intercept enabled").
#[tokio::test]
async fn custom_http_errors_send_listed_statuses_to_the_default_backend() {
    let s = scene(
        &[
            ("custom-http-errors", "404, 502"),
            ("default-backend", "errors"),
        ],
        None,
    )
    .await;
    let cases = [
        // disableproxyintercepterrors.go: the upstream's 404 becomes the error page.
        (
            "/status?status=404",
            Expect::ErrorPage {
                code: "404",
                service: "app",
            },
        ),
        // Not listed: the upstream's answer passes.
        ("/status?status=503", Expect::App(503)),
        ("/ok", Expect::App(200)),
        // Strait's own 502 (nginx's `error_page` catches nginx's errors too).
        (
            "/dead",
            Expect::ErrorPage {
                code: "502",
                service: "dead",
            },
        ),
    ];
    for (target, expect) in &cases {
        check(&get(&s, HOST, target).await, expect, target);
    }
    // The error request: the error location's `rewrite (.*) / break` and X-Original-URI.
    let reply = get(&s, HOST, "/status?status=404").await;
    let json = reply.json();
    assert_eq!(json["path"], "/");
    assert_eq!(json["method"], "GET");
    let echoed = |name| reply.echoed_header(name);
    assert_eq!(
        echoed("x-original-uri").as_deref(),
        Some("/status?status=404")
    );
    assert_eq!(echoed("x-namespace").as_deref(), Some("default"));
    assert_eq!(echoed("x-ingress-name").as_deref(), Some("pages"));
    assert_eq!(echoed("x-service-port").as_deref(), Some("80"));
}

/// `disable-proxy-intercept-errors: "true"` (disableproxyintercepterrors.go "with intercept
/// disabled": the upstream's 404 reaches the client); Strait's own errors still go to the error
/// backend (the location keeps its `error_page` lines).
#[tokio::test]
async fn disable_proxy_intercept_errors_passes_the_upstreams_answers() {
    let s = scene(
        &[
            ("custom-http-errors", "404,502"),
            ("disable-proxy-intercept-errors", "true"),
            ("default-backend", "errors"),
        ],
        None,
    )
    .await;
    let cases = [
        ("/status?status=404", Expect::App(404)),
        (
            "/dead",
            Expect::ErrorPage {
                code: "502",
                service: "dead",
            },
        ),
    ];
    for (target, expect) in &cases {
        check(&get(&s, HOST, target).await, expect, target);
    }
}

/// `default-backend` alone (default_backend.go "should use a custom default backend as
/// upstream": a rule whose Service does not exist is served by it with `X-Code: 503`; the
/// request goes as sent); other errors pass.
#[tokio::test]
async fn default_backend_serves_routes_without_endpoints() {
    let s = scene(&[("default-backend", "errors")], None).await;
    let cases = [
        (
            "/invalid/alma/armud",
            Expect::ErrorPage {
                code: "503",
                service: "invalid",
            },
        ),
        ("/status?status=404", Expect::App(404)),
        ("/dead", Expect::Own(502)),
    ];
    for (target, expect) in &cases {
        check(&get(&s, HOST, target).await, expect, target);
    }
    let reply = get(&s, HOST, "/invalid/alma/armud").await;
    assert_eq!(reply.json()["path"], "/invalid/alma/armud");
}

/// `--default-backend-service` and `--custom-http-errors` (default-backend.md: it answers what
/// no rule matches; configmap.md "custom-http-errors"; custom-errors.md: the default backend
/// answers every listed status of every Ingress without its own).
#[tokio::test]
async fn the_global_default_backend_answers_unmatched_requests_and_listed_errors() {
    let s = scene(&[], Some("404,502")).await;
    let cases = [
        (
            "/status?status=404",
            Expect::ErrorPage {
                code: "404",
                service: "app",
            },
        ),
        ("/status?status=500", Expect::App(500)),
        (
            "/dead",
            Expect::ErrorPage {
                code: "502",
                service: "dead",
            },
        ),
    ];
    for (target, expect) in &cases {
        check(&get(&s, HOST, target).await, expect, target);
    }
    // No rule for this host: the default backend answers it as sent.
    let reply = get(&s, "elsewhere.test", "/nothing/here").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.echo_name().as_deref(), Some("errors"));
    assert_eq!(reply.json()["path"], "/nothing/here");
}

/// Without any error backend, the listed statuses pass and unmatched requests get Strait's 404.
#[tokio::test]
async fn without_an_error_backend_nothing_is_replaced() {
    let s = scene(&[("custom-http-errors", "404,502")], None).await;
    let cases = [
        ("/status?status=404", Expect::App(404)),
        ("/dead", Expect::Own(502)),
    ];
    for (target, expect) in &cases {
        check(&get(&s, HOST, target).await, expect, target);
    }
    check(
        &get(&s, "elsewhere.test", "/").await,
        &Expect::Own(404),
        "no rule",
    );
}
