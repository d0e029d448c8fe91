//! `upstream-vhost` through the real proxy (test/e2e/annotations/upstreamvhost.go: "set host to
//! upstreamvhost.bar.com"; annotations.md "Custom NGINX upstream vhost"): the upstream sees the
//! configured `Host`, `X-Forwarded-Host` keeps the client's, and a value with an nginx
//! variable is ignored (its diagnostic: `shared/tests/semantics/annotations.rs`).

use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, get, start};

const KEY: &str = "nginx.ingress.kubernetes.io/upstream-vhost";

#[tokio::test]
async fn the_upstream_sees_the_configured_host() {
    let echo = Echo::start("a", [127, 0, 0, 2], 0).await;
    let vhost = IngressB::new("default", "vhost")
        .annotation(KEY, "upstreamvhost.bar.com")
        .rule("vhost.test", "/", "Prefix", "a", 80);
    let variable = IngressB::new("default", "variable")
        .annotation(KEY, "$service_name.$namespace.svc")
        .rule("variable.test", "/", "Prefix", "a", 80);
    let plain = IngressB::new("default", "plain").rule("plain.test", "/", "Prefix", "a", 80);
    let mut items = vec![our_class(), vhost.build(), variable.build(), plain.build()];
    items.extend(backend("default", "a", &[echo.addr]));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    let s = start(m.path()).await;

    let r = get(s.http_addr, "vhost.test", "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.echoed_header("host").as_deref(),
        Some("upstreamvhost.bar.com")
    );
    assert_eq!(
        r.echoed_header("x-forwarded-host").as_deref(),
        Some("vhost.test")
    );

    for host in ["variable.test", "plain.test"] {
        let r = get(s.http_addr, host, "/").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.echoed_header("host").as_deref(), Some(host));
    }
    s.shutdown().await.unwrap();
}
