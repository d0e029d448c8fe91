//! More names for an Ingress's hosts (docs/architecture.md, "Hosts"): `server-alias`
//! (test/e2e/annotations/alias.go; annotations.md "Server Alias") and `from-to-www-redirect`
//! (test/e2e/annotations/fromtowwwredirect.go; annotations.md "Redirect from/to www").

use serde_json::Value;
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::{TestCert, cert_for, connect, tls_secret};
use strait_e2e::{Conn, Echo, Manifests, get, start};

const NGINX: &str = "nginx.ingress.kubernetes.io";

async fn scene(ingresses: Vec<Value>, extra: Vec<Value>) -> (Running, Manifests, [Echo; 2]) {
    let (a, b) = strait_e2e::echoes_ab().await;
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("default", "b", &[b.addr]));
    items.extend(ingresses);
    items.extend(extra);
    let m = Manifests::new();
    m.write_list("all.json", &items);
    (start(m.path()).await, m, [a, b])
}

/// alias.go "should return status code 200 for host 'foo' and 'bar'" and "... 404 for 'bar'"
/// (no alias), and "hosts defined in two ingresses, different path with one alias": the alias
/// serves the whole host, paths of other Ingresses included; a name with a rule of its own
/// keeps it; a regex server name is skipped.
#[tokio::test]
async fn an_alias_serves_the_whole_host_unless_it_has_rules() {
    let foo = IngressB::new("default", "foo")
        .annotation(
            &format!("{NGINX}/server-alias"),
            "bar, own.test, ~^re.*$, *.wild.test",
        )
        .rule("foo", "/", "Prefix", "a", 80);
    let foo_other = IngressB::new("default", "foo-other").rule("foo", "/other", "Prefix", "b", 80);
    let own = IngressB::new("default", "own").rule("own.test", "/", "Prefix", "b", 80);
    let (s, _m, _e) = scene(vec![foo.build(), foo_other.build(), own.build()], vec![]).await;
    for host in ["foo", "bar", "x.wild.test"] {
        let r = get(s.http_addr, host, "/").await;
        assert_eq!(r.echo_name().as_deref(), Some("a"), "{host}/");
        let r = get(s.http_addr, host, "/other").await;
        assert_eq!(r.echo_name().as_deref(), Some("b"), "{host}/other");
        assert_eq!(
            r.echoed_header("host").as_deref(),
            Some(host),
            "Host as received"
        );
    }
    let r = get(s.http_addr, "own.test", "/").await;
    assert_eq!(
        r.echo_name().as_deref(),
        Some("b"),
        "a real rule wins over an alias"
    );
    for host in ["re.test", "baz"] {
        assert_eq!(get(s.http_addr, host, "/").await.status, 404, "{host}");
    }
    s.shutdown().await.unwrap();
}

/// fromtowwwredirect.go "should redirect from www HTTP to HTTP": `www.host/foo` gets 308 to
/// `http://host:PORT/foo` (ngx_srv_redirect.lua always names the port), and the other way round
/// for a `www.` host; a name with rules of its own is not redirected.
#[tokio::test]
async fn from_to_www_redirects_the_other_name() {
    let key = format!("{NGINX}/from-to-www-redirect");
    let bare = IngressB::new("default", "bare")
        .annotation(&key, "true")
        .rule("fromtowwwredirect.bar.com", "/", "Prefix", "a", 80);
    let www = IngressB::new("default", "www")
        .annotation(&key, "true")
        .rule("www.other.test", "/", "Prefix", "a", 80);
    let taken = IngressB::new("default", "taken")
        .annotation(&key, "true")
        .rule("taken.test", "/", "Prefix", "a", 80);
    let www_taken =
        IngressB::new("default", "www-taken").rule("www.taken.test", "/", "Prefix", "b", 80);
    let ingresses = vec![bare.build(), www.build(), taken.build(), www_taken.build()];
    let (s, _m, _e) = scene(ingresses, vec![]).await;
    let port = s.http_addr.port();
    let r = get(s.http_addr, "www.fromtowwwredirect.bar.com", "/foo").await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.headers["location"],
        format!("http://fromtowwwredirect.bar.com:{port}/foo").as_str()
    );
    let r = get(s.http_addr, "other.test", "/dir/").await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.headers["location"],
        format!("http://www.other.test:{port}/dir").as_str()
    );
    let r = get(s.http_addr, "fromtowwwredirect.bar.com", "/foo").await;
    assert_eq!(
        r.echo_name().as_deref(),
        Some("a"),
        "the host itself is served"
    );
    let r = get(s.http_addr, "www.taken.test", "/").await;
    assert_eq!(
        r.echo_name().as_deref(),
        Some("b"),
        "a real rule is not redirected"
    );
    s.shutdown().await.unwrap();
}

/// fromtowwwredirect.go "should redirect from www HTTPS to HTTPS": over TLS the other name gets
/// the host's certificate (it covers both names) and a redirect to `https://host:PORT`.
#[tokio::test]
async fn from_to_www_over_https_uses_the_hosts_certificate() {
    let cert: TestCert = cert_for(&["fromtowwwredirect.bar.com", "www.fromtowwwredirect.bar.com"]);
    let ing = IngressB::new("default", "bare")
        .annotation(&format!("{NGINX}/from-to-www-redirect"), "true")
        .rule("fromtowwwredirect.bar.com", "/", "Prefix", "a", 80)
        .tls(&["fromtowwwredirect.bar.com"], Some("both-tls"));
    let secret = tls_secret("default", "both-tls", &cert);
    let (s, _m, _e) = scene(vec![ing.build()], vec![secret]).await;
    let from = "www.fromtowwwredirect.bar.com";
    let tls = connect(s.https_addr, Some(from), &["http/1.1"])
        .await
        .expect("TLS handshake");
    assert_eq!(tls.leaf(), cert.der, "the host's certificate");
    let mut c = Conn::over(tls.stream).await.unwrap();
    let r = c.get(from, "/", &[]).await.unwrap();
    assert_eq!(r.status, 308);
    let port = s.https_addr.port();
    assert_eq!(
        r.headers["location"],
        format!("https://fromtowwwredirect.bar.com:{port}").as_str()
    );
    s.shutdown().await.unwrap();
}
