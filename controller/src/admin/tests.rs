use http_body_util::{BodyExt, Empty};
use tokio::sync::oneshot;

use super::*;

async fn get(addr: SocketAddr, method: Method, path: &str) -> (StatusCode, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "admin")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn health_readiness_and_not_found() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let readiness = Readiness::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let admin = Admin::new(readiness.clone());
    let server = tokio::spawn(serve_admin(listener, admin, async move {
        let _ = stopped.await;
    }));

    assert_eq!(
        get(addr, Method::GET, "/healthz").await,
        (StatusCode::OK, "ok\n".into())
    );
    let not_ready = (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_owned());
    assert_eq!(get(addr, Method::GET, "/readyz").await, not_ready);
    readiness.set_ready(true);
    assert_eq!(
        get(addr, Method::GET, "/readyz").await,
        (StatusCode::OK, "ready\n".into())
    );
    assert_eq!(
        get(addr, Method::GET, "/metrics").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(addr, Method::GET, "/healthz/x").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(addr, Method::POST, "/healthz").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );

    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    finished.expect("admin stops on shutdown").unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn shutdown_lets_an_open_keep_alive_connection_go() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let admin = Admin::new(Readiness::new());
    let server = tokio::spawn(serve_admin(listener, admin, async move {
        let _ = stopped.await;
    }));
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let client = tokio::spawn(connection);
    let request = Request::get("/healthz")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().collect().await.unwrap();

    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(2), server).await;
    finished
        .expect("idle connections do not hold shutdown")
        .unwrap()
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(2), client).await;
    assert!(closed.is_ok(), "the server closed the idle connection");
}

// The handler alone, without sockets (STYLE item 19).

const LOCAL_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

fn request(method: Method, path: &str, body: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// Status, content type and body of one handled request.
async fn answer(
    admin: &Admin,
    peer: SocketAddr,
    request: Request<Full<Bytes>>,
) -> (StatusCode, String, String) {
    let response = admin.handle(peer, request).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// An admin serving a registry with both the proxy's and the controller's families, after one
/// publish of a table with a missing Service.
fn admin_with_metrics() -> Admin {
    use strait_shared::{CompileConfig, Index, Object, RouteTable};

    let mut registry = Registry::with_prefix("strait");
    let _proxy = strait_proxy::ProxyMetrics::register(&mut registry);
    let metrics = crate::metrics::ControllerMetrics::register(&mut registry);
    let table = Arc::new(arc_swap::ArcSwap::from_pointee(RouteTable::default()));
    let mut publisher =
        crate::publish::Publisher::new(table, CompileConfig::default()).with_metrics(metrics);
    let ingress = serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"ingressClassName": "strait", "rules": [{"host": "a.example.com", "http": {
            "paths": [{"path": "/", "pathType": "Prefix",
                       "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    });
    let mut index = Index::new();
    index.apply(Object::from_value(ingress).unwrap().unwrap());
    publisher.publish(&index);
    Admin::new(Readiness::new()).metrics(Arc::new(registry))
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text_by_default() {
    let admin = admin_with_metrics();
    let (status, content_type, body) =
        answer(&admin, LOCAL_PEER, request(Method::GET, "/metrics", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.contains("\nstrait_table_generation 1\n"), "{body}");
    assert!(
        body.contains(r#"strait_rejected_objects{reason="ServiceMissing",severity="error"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(r#"strait_publishes_total{result="published"} 1"#),
        "{body}"
    );
    // The proxy's families share the registry. A family is only written once it has a series,
    // and which proxy series exist before any traffic is the proxy's business: one is enough.
    let proxy_families = strait_proxy::metrics::NAMES
        .iter()
        .filter(|(name, _)| body.contains(&format!("\n{name}")))
        .count();
    assert!(proxy_families > 0, "no proxy metric in\n{body}");
}

#[tokio::test]
async fn metrics_are_labelled_openmetrics_when_the_scraper_asks() {
    let admin = admin_with_metrics();
    let mut asking = request(Method::GET, "/metrics", "");
    asking.headers_mut().insert(
        header::ACCEPT,
        HeaderValue::from_static(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        ),
    );
    let (status, content_type, body) = answer(&admin, LOCAL_PEER, asking).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    let (status, ..) = answer(&admin, LOCAL_PEER, request(Method::POST, "/metrics", "")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A log control whose layer the caller keeps alive (never installed globally).
fn admin_with_log(
    filter: &str,
) -> (
    tracing_subscriber::reload::Layer<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>,
    Admin,
) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap();
    let (layer, control) = LogControl::new(filter);
    (
        layer,
        Admin::new(Readiness::new()).log_control(Some(control)),
    )
}

#[tokio::test]
async fn log_level_is_read_and_changed_at_runtime() {
    let (_layer, admin) = admin_with_log("info");
    let get = || request(Method::GET, "/log/level", "");
    let (status, content_type, body) = answer(&admin, LOCAL_PEER, get()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "info\n"));
    assert_eq!(content_type, "text/plain; charset=utf-8");

    let put = request(Method::PUT, "/log/level", "info,strait_proxy=debug\n");
    let (status, _, body) = answer(&admin, LOCAL_PEER, put).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("strait_proxy=debug"), "{body}");
    let (_, _, now) = answer(&admin, LOCAL_PEER, get()).await;
    assert_eq!(now, body);
}

#[tokio::test]
async fn an_invalid_log_filter_is_400_and_changes_nothing() {
    let (_layer, admin) = admin_with_log("warn");
    for bad in ["strait=loud", "", "   \n"] {
        let put = request(Method::PUT, "/log/level", bad);
        let (status, _, body) = answer(&admin, LOCAL_PEER, put).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert!(body.contains("log filter"), "{body}");
    }
    let huge = "a".repeat(MAX_FILTER_BYTES + 1);
    let put = request(Method::PUT, "/log/level", &huge);
    assert_eq!(
        answer(&admin, LOCAL_PEER, put).await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, _, body) = answer(&admin, LOCAL_PEER, request(Method::GET, "/log/level", "")).await;
    assert_eq!(body, "warn\n");
    let post = request(Method::POST, "/log/level", "debug");
    let response = admin.handle(LOCAL_PEER, post).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "GET, HEAD, PUT");
}

#[tokio::test]
async fn the_log_level_is_changed_only_from_a_loopback_peer() {
    let (_layer, admin) = admin_with_log("info");
    let remote: SocketAddr = "10.1.2.3:40000".parse().unwrap();
    let put = request(Method::PUT, "/log/level", "trace");
    assert_eq!(answer(&admin, remote, put).await.0, StatusCode::FORBIDDEN);
    let get = request(Method::GET, "/log/level", "");
    assert_eq!(
        answer(&admin, remote, get).await,
        (StatusCode::OK, PLAIN_TEXT.to_owned(), "info\n".to_owned())
    );
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:40000".parse().unwrap();
    let put = request(Method::PUT, "/log/level", "debug");
    assert_eq!(answer(&admin, mapped, put).await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_a_log_control_the_log_level_is_not_implemented() {
    let admin = Admin::new(Readiness::new());
    for method in [Method::GET, Method::PUT] {
        let (status, ..) = answer(&admin, LOCAL_PEER, request(method, "/log/level", "debug")).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    }
}
