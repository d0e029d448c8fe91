//! `strait controller` wired whole, in one process, against a mock API server that answers
//! by path: lists for every watched kind, watches held open, status patches and Events
//! recorded. Real sockets on loopback for the proxy and an echo backend. Also two controllers
//! beside ingress-nginx (its classes, one with `--update-status=false`), each over its own mock.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser as _;
use http::Method;
use serde_json::{Value, json};
use strait_proxy::{AccessLog, ProxyConfig};
use strait_shared::CompileConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::{Cli, Command};
use crate::cluster::ClusterConfig;
use crate::cluster::mock::{self, ApiServer, Call};
use crate::serve::{Running, ServeConfig, Source, start_with};

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

/// What the API lists at a path, given the echo backend's address.
type Lists = fn(&str, SocketAddr) -> Vec<Value>;

/// Answers every call by path (lists from `lists`) until the client is gone; reports writes
/// on `writes`.
async fn fake_api(
    mut api: ApiServer,
    lists: Lists,
    echo: SocketAddr,
    writes: mpsc::UnboundedSender<Call>,
) {
    let mut held = Vec::new();
    while let Some(call) = api.try_next(Duration::from_secs(30)).await {
        if call.method == Method::GET && call.query_value("watch").is_some() {
            held.push(call);
        } else if call.method == Method::GET {
            let list = json!({"apiVersion": "v1", "kind": "List",
                "metadata": {"resourceVersion": "10"}, "items": lists(&call.path, echo)});
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
        workers: 0,
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

/// An echo backend named `web` on 127.0.0.2; stopped by sending on the returned channel.
async fn start_echo() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind");
    let echo = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(crate::echo::serve_echo(listener, "web".to_owned(), async {
        let _ = stopped.await;
    }));
    (echo, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_serves_what_the_api_lists_and_writes_status_back() {
    let (echo, stop_echo) = start_echo().await;
    let (client, api) = mock::pair();
    let (writes, mut written) = mpsc::unbounded_channel();
    tokio::spawn(fake_api(api, items, echo, writes));

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

/// ingress-nginx's `spec.controller`.
const INGRESS_NGINX: &str = "k8s.io/ingress-nginx";
/// How long a controller with `--update-status=false` must stay silent about status, counted
/// from when the other controller's status patches have all arrived.
const QUIET: Duration = Duration::from_secs(1);

/// ingress-nginx's objects: its IngressClass `nginx`, Ingress `web` naming that class and
/// Ingress `legacy` carrying the legacy annotation, both onto Service `web`.
fn nginx_items(path: &str, echo: SocketAddr) -> Vec<Value> {
    match path {
        "/apis/networking.k8s.io/v1/ingressclasses" => vec![json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "nginx"}, "spec": {"controller": INGRESS_NGINX}})],
        "/apis/networking.k8s.io/v1/ingresses" => {
            let mut by_class = ingress("web", "web");
            by_class["spec"]["ingressClassName"] = json!("nginx");
            let mut legacy = ingress("legacy", "web");
            if let Some(spec) = legacy["spec"].as_object_mut() {
                spec.remove("ingressClassName");
            }
            legacy["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "nginx"});
            vec![by_class, legacy]
        }
        _ => items(path, echo),
    }
}

/// `strait controller` flags for running beside ingress-nginx, parsed as the binary parses
/// them.
fn beside_nginx(update_status: bool) -> ServeConfig {
    let update_status = format!("--update-status={update_status}");
    let argv = [
        "strait",
        "controller",
        "--ingress-class=strait,nginx",
        "--controller-name=strait.dev/ingress-controller,k8s.io/ingress-nginx",
        update_status.as_str(),
        "--leader-election=false",
        "--publish-status-address=203.0.113.7",
        "--pod-name=strait-0",
        "--http-addr=127.0.0.1:0",
        "--https-addr=127.0.0.1:0",
        "--admin-addr=127.0.0.1:0",
        "--debounce=50ms",
        "--access-log=false",
    ];
    match Cli::try_parse_from(argv).expect("flags parse").command {
        Command::Controller(args) => args.into_config(),
        other => panic!("expected controller, got {other:?}"),
    }
}

/// One controller over its own mock API server, and the writes that server received.
struct Controller {
    running: Running,
    written: mpsc::UnboundedReceiver<Call>,
}

impl Controller {
    async fn start(update_status: bool, echo: SocketAddr) -> Self {
        let (client, api) = mock::pair();
        let (writes, written) = mpsc::unbounded_channel();
        tokio::spawn(fake_api(api, nginx_items, echo, writes));
        let running = start_with(beside_nginx(update_status), Some(client))
            .await
            .expect("starts");
        let readiness = running.readiness().clone();
        let deadline = Instant::now() + DEADLINE;
        while !readiness.is_ready() {
            assert!(Instant::now() < deadline, "{}", readiness.report());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self { running, written }
    }

    /// Checks that the published table routes both of ingress-nginx's Ingresses, and that the
    /// proxy serves them.
    async fn serves_nginx_class(&self) {
        let table = self.running.table.load();
        for name in ["web", "legacy"] {
            let host = format!("{name}.example.com");
            let found = table
                .lookup(&host, "/")
                .map(|m| m.route.ingress.to_string());
            assert_eq!(found, Some(format!("default/{name}")), "{host}");
            let answer = get(self.running.http_addr, &host).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
        }
    }

    /// The next write within `until`, answered (an Event echoed back, a status patch with
    /// the patched Ingress); `None` at `until`.
    async fn next_write(&mut self, until: Instant) -> Option<(Method, String)> {
        let call = tokio::time::timeout_at(until, self.written.recv())
            .await
            .ok()??;
        let seen = (call.method.clone(), call.path.clone());
        let mut answer = call.body.clone();
        if call.method == Method::PATCH {
            answer = ingress("web", "web");
            answer["status"] = call.body["status"].clone();
        }
        call.ok(&answer);
        Some(seen)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_ingress_nginx_both_serve_and_only_update_status_writes_it() {
    let (echo, stop_echo) = start_echo().await;
    let mut writer = Controller::start(true, echo).await;
    let mut silent = Controller::start(false, echo).await;
    writer.serves_nginx_class().await;
    silent.serves_nginx_class().await;

    let deadline = Instant::now() + DEADLINE;
    let mut patched = Vec::new();
    while patched.len() < 2 {
        let (method, path) = writer
            .next_write(deadline)
            .await
            .expect("status written within the deadline");
        if method == Method::PATCH {
            patched.push(path);
        }
    }
    patched.sort();
    assert_eq!(
        patched,
        [
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses/legacy/status",
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status",
        ]
    );

    let quiet_until = Instant::now() + QUIET;
    while let Some((method, path)) = silent.next_write(quiet_until).await {
        assert!(
            method != Method::PATCH && !path.ends_with("/status"),
            "--update-status=false wrote status: {method} {path}"
        );
    }
    let text = crate::metrics::encode(silent.running.registry());
    assert!(text.contains("strait_leader 1"), "still the leader: {text}");

    writer.running.shutdown().await.expect("clean shutdown");
    silent.running.shutdown().await.expect("clean shutdown");
    let _ = stop_echo.send(());
}

#[test]
fn events_never_name_ingress_nginx_as_their_reporter() {
    let config = |names: &[&str]| CompileConfig {
        controller_names: names.iter().map(|n| (*n).to_owned()).collect(),
        ..CompileConfig::default()
    };
    let both = config(&["k8s.io/ingress-nginx", "example.com/edge"]);
    assert_eq!(super::reporting_controller(&both), "example.com/edge");
    let only_nginx = config(&["k8s.io/ingress-nginx"]);
    assert_eq!(
        super::reporting_controller(&only_nginx),
        "strait.dev/ingress-controller"
    );
}
