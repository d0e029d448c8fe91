//! `strait controller` wired whole, in one process, against a mock API server that answers
//! by path: lists for every watched kind, watches held open, status patches and Events
//! recorded. Real sockets on loopback for the proxy and an echo backend.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use strait_proxy::{AccessLog, ProxyConfig};
use strait_shared::CompileConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

use crate::cluster::ClusterConfig;
use crate::cluster::mock::{self, ApiServer, Call};
use crate::serve::{ServeConfig, Source, start_with};

const DEADLINE: Duration = Duration::from_secs(10);

fn ingress(name: &str, service: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "generation": 1, "resourceVersion": "5"},
        "spec": {"ingressClassName": "strait", "rules": [{"host": format!("{name}.example.com"),
            "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}
    })
}

fn items(path: &str, echo: SocketAddr) -> Vec<Value> {
    match path {
        "/apis/networking.k8s.io/v1/ingresses" => {
            vec![ingress("web", "web"), ingress("broken", "missing")]
        }
        "/api/v1/services" => vec![json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"name": "http", "port": 80}]}})],
        "/apis/discovery.k8s.io/v1/endpointslices" => vec![json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [echo.ip().to_string()], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": echo.port()}]})],
        _ => vec![],
    }
}

/// Answers every call by path until the client is gone; reports writes on `writes`.
async fn fake_api(mut api: ApiServer, echo: SocketAddr, writes: mpsc::UnboundedSender<Call>) {
    let mut held = Vec::new();
    while let Some(call) = api.try_next(Duration::from_secs(30)).await {
        if call.method == Method::GET && call.query_value("watch").is_some() {
            held.push(call);
        } else if call.method == Method::GET {
            let list = json!({"apiVersion": "v1", "kind": "List",
                "metadata": {"resourceVersion": "10"}, "items": items(&call.path, echo)});
            call.ok(&list);
        } else {
            let _ = writes.send(call);
        }
    }
}

fn config() -> ServeConfig {
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let cluster = ClusterConfig {
        publish_addresses: vec!["203.0.113.7".to_owned()],
        leader_election: false,
        election_id: "strait-leader".to_owned(),
        pod_name: Some("strait-0".to_owned()),
        ..ClusterConfig::default()
    };
    ServeConfig {
        source: Source::Cluster(Box::new(cluster)),
        http_addr: local,
        https_addr: local,
        admin_addr: local,
        compile: CompileConfig::default(),
        proxy: ProxyConfig::default(),
        debounce: Duration::from_millis(50),
        access_log: AccessLog::off(),
        log_control: None,
    }
}

async fn get(addr: SocketAddr, host: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_serves_what_the_api_lists_and_writes_status_back() {
    let echo_listener = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind");
    let echo = echo_listener.local_addr().expect("addr");
    let (stop_echo, echo_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(crate::echo::serve_echo(
        echo_listener,
        "web".to_owned(),
        async {
            let _ = echo_stopped.await;
        },
    ));
    let (client, api) = mock::pair();
    let (writes, mut written) = mpsc::unbounded_channel();
    tokio::spawn(fake_api(api, echo, writes));

    let running = start_with(config(), Some(client)).await.expect("starts");
    let readiness = running.readiness().clone();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !readiness.is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            readiness.report()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        running.table.load().generation,
        1,
        "one table, once everything listed"
    );
    let answer = get(running.http_addr, "web.example.com").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = get(running.http_addr, "broken.example.com").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");

    let mut patched = Vec::new();
    while patched.len() < 2 {
        let call = tokio::time::timeout(DEADLINE, written.recv())
            .await
            .expect("status written within the deadline")
            .expect("api running");
        if call.method == Method::PATCH {
            assert!(call.path.ends_with("/status"), "{}", call.path);
            let lb = &call.body["status"]["loadBalancer"]["ingress"];
            assert_eq!(lb, &json!([{"ip": "203.0.113.7"}]), "{}", call.body);
            patched.push(call.path.clone());
            let mut answer = ingress("web", "web");
            answer["status"] = call.body["status"].clone();
            call.ok(&answer);
        } else {
            // An Event: echo it back.
            let body = call.body.clone();
            call.ok(&body);
        }
    }
    patched.sort();
    assert_eq!(
        patched,
        [
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses/broken/status",
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status",
        ]
    );
    let text = crate::metrics::encode(running.registry());
    assert!(text.contains("strait_leader 1"), "{text}");
    assert!(
        text.contains(r#"strait_watch_synced{kind="Ingress"} 1"#),
        "{text}"
    );
    running.shutdown().await.expect("clean shutdown");
    let _ = stop_echo.send(());
}
