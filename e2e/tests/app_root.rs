//! `app-root` through the real proxy (docs/architecture.md, "Regex paths and rewrites"): `/` of
//! the Ingress's hosts answers `302` to `$scheme://$http_host<app-root>`, before anything of
//! the location runs — test/e2e/annotations/approot.go, docs/examples/rewrite/README.md "App
//! Root", and the template's server-level `if ($uri = /) { return 302 … }`.

use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::{cert_for, tls_secret};
use strait_e2e::{Echo, Manifests, config, get};

const NGINX: &str = "nginx.ingress.kubernetes.io";

#[tokio::test]
async fn app_root_redirects_the_root_of_its_hosts() {
    let echo = Echo::start("app", [127, 0, 0, 2], 0).await;
    let root = |ing: IngressB, value: &str| ing.annotation(&format!("{NGINX}/app-root"), value);
    let ingresses = [
        // approot.go, "should redirect to /foo".
        root(IngressB::new("default", "approot"), "/foo").rule(
            "approot.bar.com",
            "/",
            "Prefix",
            "app",
            80,
        ),
        // README, "App Root".
        root(IngressB::new("default", "readme"), "/app1").rule(
            "approot.readme.com",
            "/",
            "Prefix",
            "app",
            80,
        ),
        // A TLS host: the redirect comes before the HTTPS redirect of the location (nginx's
        // server rewrite phase runs first).
        root(IngressB::new("default", "secure"), "/app")
            .rule("secure.approot.test", "/", "Prefix", "app", 80)
            .tls(&["secure.approot.test"], Some("tls")),
        // ingress-nginx ignores a value that is not a path.
        root(IngressB::new("default", "invalid"), "app").rule(
            "invalid.approot.test",
            "/",
            "Prefix",
            "app",
            80,
        ),
    ];
    let mut items = vec![
        our_class(),
        tls_secret("default", "tls", &cert_for(&["secure.approot.test"])),
    ];
    items.extend(backend("default", "app", &[echo.addr]));
    items.extend(ingresses.into_iter().map(IngressB::build));
    let manifests = Manifests::new();
    manifests.write_list("approot.json", &items);
    let s = strait_controller::serve::start(config(manifests.path()))
        .await
        .expect("starts");
    let https_port = s.https_addr.port();

    // (where from, Host, request target, status, Location or the path the echo received)
    let cases: &[(&str, &str, &str, u16, String)] = &[
        (
            "approot.go",
            "approot.bar.com",
            "/",
            302,
            "http://approot.bar.com/foo".into(),
        ),
        (
            "README",
            "approot.readme.com",
            "/",
            302,
            "http://approot.readme.com/app1".into(),
        ),
        (
            "$http_host keeps the port",
            "approot.bar.com:8080",
            "/",
            302,
            "http://approot.bar.com:8080/foo".into(),
        ),
        (
            "return drops the query",
            "approot.bar.com",
            "/?q=1",
            302,
            "http://approot.bar.com/foo".into(),
        ),
        (
            "only / itself",
            "approot.bar.com",
            "/foo",
            200,
            "/foo".into(),
        ),
        (
            "only / itself, not /x",
            "approot.bar.com",
            "/x?q=1",
            200,
            "/x?q=1".into(),
        ),
        (
            "before the HTTPS redirect",
            "secure.approot.test",
            "/",
            302,
            "http://secure.approot.test/app".into(),
        ),
        (
            "then the HTTPS redirect",
            "secure.approot.test",
            "/app",
            308,
            format!("https://secure.approot.test:{https_port}/app"),
        ),
        (
            "an invalid value is ignored",
            "invalid.approot.test",
            "/",
            200,
            "/".into(),
        ),
    ];
    for (what, host, target, status, expected) in cases {
        let reply = get(s.http_addr, host, target).await;
        assert_eq!(reply.status, *status, "{what}: {}", reply.text());
        if (300..400).contains(status) {
            let location = reply.headers.get("location").map(|v| v.to_str().unwrap());
            assert_eq!(location, Some(expected.as_str()), "{what}");
            assert!(reply.echo_name().is_none(), "{what}: answered by the proxy");
        } else {
            assert_eq!(reply.json()["path"], *expected, "{what}");
        }
    }
    s.shutdown().await.expect("shutdown");
}
