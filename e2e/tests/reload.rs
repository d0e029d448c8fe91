//! Live changes to the manifests folder: applied within a second, without dropping open
//! connections; broken files and broken objects leave every other route working.

use std::time::{Duration, Instant};

use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Conn, Echo, Manifests, eventually, get, start};

fn base(a: &Echo, b: &Echo) -> Vec<serde_json::Value> {
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("default", "b", &[b.addr]));
    items
}

#[tokio::test]
async fn hot_reload_keeps_open_keepalive_connection_working() {
    let (a, b) = strait_e2e::echoes_ab().await;
    let m = Manifests::new();
    m.write_list("backends.json", &base(&a, &b));
    m.write_list(
        "ingress.json",
        &[IngressB::new("default", "i")
            .rule("r.test", "/", "Prefix", "a", 80)
            .build()],
    );
    let s = start(m.path()).await;
    let mut conn = Conn::open(s.http_addr).await.unwrap();
    let r = conn.get("r.test", "/", &[]).await.unwrap();
    assert_eq!(r.echo_name().as_deref(), Some("a"));

    // Repoint the route at b; the same connection must see the change and stay open.
    let written = Instant::now();
    m.write_list(
        "ingress.json",
        &[IngressB::new("default", "i")
            .rule("r.test", "/", "Prefix", "b", 80)
            .build()],
    );
    let mut requests = 0;
    loop {
        let r = conn
            .get("r.test", "/", &[])
            .await
            .expect("keep-alive request");
        requests += 1;
        if r.echo_name().as_deref() == Some("b") {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(5),
            "change not live"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let live_after = written.elapsed();
    assert!(
        live_after < Duration::from_secs(1),
        "change took {live_after:?} to go live (must be < 1 s)"
    );
    assert!(!conn.is_closed(), "keep-alive connection was dropped");
    assert!(requests >= 1);
    // New routes appear, removed ones disappear.
    m.write_list(
        "extra.json",
        &[IngressB::new("default", "extra")
            .rule("new.test", "/", "Prefix", "a", 80)
            .build()],
    );
    eventually("new route answers", || async {
        (get(s.http_addr, "new.test", "/").await.status == 200).then_some(())
    })
    .await;
    m.remove("extra.json");
    eventually("removed route is gone", || async {
        (get(s.http_addr, "new.test", "/").await.status == 404).then_some(())
    })
    .await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_yaml_keeps_last_good_version_of_that_file_and_other_files_still_apply() {
    let (a, b) = strait_e2e::echoes_ab().await;
    let m = Manifests::new();
    m.write_list("backends.json", &base(&a, &b));
    let good = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: y\n  namespace: default\nspec:\n  ingressClassName: strait\n  rules:\n  - host: yaml.test\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: a\n            port:\n              number: 80\n";
    m.write("yaml-ingress.yaml", good);
    let s = start(m.path()).await;
    assert_eq!(
        get(s.http_addr, "yaml.test", "/")
            .await
            .echo_name()
            .as_deref(),
        Some("a")
    );

    // Break the YAML: the file's last good objects stay.
    m.write(
        "yaml-ingress.yaml",
        "kind: Ingress\nmetadata: [unclosed\n  name: y\n",
    );
    // Another file changes meanwhile and must apply.
    m.write_list(
        "other.json",
        &[IngressB::new("default", "o")
            .rule("other.test", "/", "Prefix", "b", 80)
            .build()],
    );
    eventually("other file applies", || async {
        (get(s.http_addr, "other.test", "/")
            .await
            .echo_name()
            .as_deref()
            == Some("b"))
        .then_some(())
    })
    .await;
    assert_eq!(
        get(s.http_addr, "yaml.test", "/")
            .await
            .echo_name()
            .as_deref(),
        Some("a"),
        "broken file lost its last good version"
    );
    // Fixing the file applies it again.
    m.write("yaml-ingress.yaml", &good.replace("name: a", "name: b"));
    eventually("fixed file applies", || async {
        (get(s.http_addr, "yaml.test", "/")
            .await
            .echo_name()
            .as_deref()
            == Some("b"))
        .then_some(())
    })
    .await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn broken_objects_leave_every_other_route_working() {
    let (a, b) = strait_e2e::echoes_ab().await;
    let m = Manifests::new();
    m.write_list("backends.json", &base(&a, &b));
    let mut bad_type = IngressB::new("default", "bad-type")
        .rule("bad.test", "/x", "Prefix", "a", 80)
        .build();
    bad_type["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = "Regexish".into();
    let items = vec![
        IngressB::new("default", "good")
            .rule("good.test", "/", "Prefix", "a", 80)
            .build(),
        IngressB::new("default", "missing-svc")
            .rule("missing.test", "/", "Prefix", "ghost", 80)
            .build(),
        bad_type,
        IngressB::new("default", "winner")
            .created("2026-01-01T00:00:00Z")
            .rule("dup.test", "/", "Prefix", "a", 80)
            .build(),
        IngressB::new("default", "loser")
            .created("2026-06-01T00:00:00Z")
            .rule("dup.test", "/", "Prefix", "b", 80)
            .rule("loser-own.test", "/", "Prefix", "b", 80)
            .build(),
    ];
    m.write_list("ingresses.json", &items);
    let s = start(m.path()).await;
    let addr = s.http_addr;
    assert_eq!(
        get(addr, "good.test", "/").await.echo_name().as_deref(),
        Some("a")
    );
    assert_eq!(get(addr, "missing.test", "/").await.status, 503);
    assert_eq!(get(addr, "bad.test", "/x").await.status, 404);
    assert_eq!(
        get(addr, "dup.test", "/").await.echo_name().as_deref(),
        Some("a")
    );
    assert_eq!(
        get(addr, "loser-own.test", "/")
            .await
            .echo_name()
            .as_deref(),
        Some("b")
    );
    s.shutdown().await.unwrap();
}

/// A one-shot upstream that reports when a request has arrived and answers only when told.
async fn gated_upstream() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.5:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "request cut short");
            head.extend_from_slice(&buf[..n]);
        }
        let _ = arrived_tx.send(());
        let _ = release_rx.await;
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngate";
        stream.write_all(answer).await.unwrap();
    });
    (addr, arrived, release)
}

#[tokio::test]
async fn a_request_in_flight_during_a_reload_completes() {
    let (gate, arrived, release) = gated_upstream().await;
    let b = Echo::start("b", [127, 0, 0, 3], 0).await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("default", "gate", &[gate]));
    items.extend(backend("default", "b", &[b.addr]));
    m.write_list("backends.json", &items);
    m.write_list(
        "ingress.json",
        &[IngressB::new("default", "i")
            .rule("r.test", "/", "Prefix", "gate", 80)
            .build()],
    );
    let s = start(m.path()).await;
    let addr = s.http_addr;
    // A request is in flight at the upstream...
    let slow = tokio::spawn(async move { get(addr, "r.test", "/slow").await });
    tokio::time::timeout(strait_e2e::DEADLINE, arrived)
        .await
        .expect("request reached the upstream")
        .unwrap();
    // ...the route is replaced by another one and the change goes live (probed on the new
    // host: a probe of the old one could land on the gated upstream)...
    let written = Instant::now();
    m.write_list(
        "ingress.json",
        &[IngressB::new("default", "i")
            .rule("probe.test", "/", "Prefix", "b", 80)
            .build()],
    );
    eventually("new table live", || async {
        let st = get(addr, "probe.test", "/").await.status;
        (st == 200).then_some(())
    })
    .await;
    let live = written.elapsed();
    assert!(live < Duration::from_secs(1), "change took {live:?}");
    assert_eq!(
        get(addr, "r.test", "/").await.status,
        404,
        "old route still served"
    );
    // ...and the request in flight still completes.
    release.send(()).unwrap();
    let r = tokio::time::timeout(strait_e2e::DEADLINE, slow)
        .await
        .expect("in-flight request finished in time")
        .expect("task");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "gate");
    s.shutdown().await.unwrap();
}
