//! Test fixtures: a proxy on 127.0.0.1:0 serving a hand-built table, tiny hyper upstreams,
//! and clients (hyper HTTP/1.1, hyper h2c, raw TCP). Every wait has a deadline.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use strait_proxy::{Proxy, ProxyBuilder, ProxyConfig, SharedTable, serve_http};
use strait_shared::host::HostPattern;
use strait_shared::model::ObjectKey;
use strait_shared::paths::PathKind;
use strait_shared::table::{PortRef, Route, RouteOptions, ServiceRef, TableBuilder, Unavailable};
use strait_shared::{BackendMode, Endpoint, Endpoints, RouteTable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DEADLINE: Duration = Duration::from_secs(10);

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type UpBody = BoxBody<Bytes, BoxError>;

/// Awaits `fut`, failing the test when it takes longer than [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Polls `condition` until it holds, failing after [`DEADLINE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Tables

/// One rule of a test table: host (empty for any), prefix path, backend state, whether its
/// requests are access-logged.
pub struct Rule {
    pub host: &'static str,
    pub path: &'static str,
    pub backend: Result<Vec<SocketAddr>, Unavailable>,
    pub access_log: bool,
}

pub fn rule(host: &'static str, addrs: &[SocketAddr]) -> Rule {
    Rule {
        host,
        path: "/",
        backend: Ok(addrs.to_vec()),
        access_log: true,
    }
}

impl Rule {
    /// The rule's Ingress turned its access log off.
    pub fn quiet(mut self) -> Self {
        self.access_log = false;
        self
    }
}

pub fn table(rules: Vec<Rule>) -> RouteTable {
    let mut builder = TableBuilder::new();
    for (i, rule) in rules.into_iter().enumerate() {
        let service = ServiceRef {
            service: ObjectKey::new("default", format!("svc-{i}")),
            port: PortRef::Number(80),
        };
        let backend = rule.backend;
        let id = builder.backend(service, BackendMode::Pod, move |_, _| {
            backend.map(|addrs| {
                Endpoints::new(
                    addrs
                        .into_iter()
                        .map(|addr| Endpoint { addr, weight: 1 })
                        .collect(),
                )
            })
        });
        let route = Route {
            ingress: ObjectKey::new("default", format!("ing-{i}")),
            backend: id,
            options: RouteOptions {
                access_log: rule.access_log,
                ..RouteOptions::default()
            },
        };
        let host = HostPattern::parse(rule.host).expect("test host");
        builder
            .insert(&host, PathKind::Prefix, rule.path, route)
            .expect("no conflicting test rules");
    }
    builder.build()
}

// ---------------------------------------------------------------------------------------------
// The proxy

pub struct Harness {
    pub addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    pub table: SharedTable,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Harness {
    pub async fn start(config: ProxyConfig, table: RouteTable) -> Self {
        Self::start_with(config, table, |builder| builder).await
    }

    /// Starts a proxy whose builder `build` finishes (metrics, access log, …).
    pub async fn start_with(
        config: ProxyConfig,
        table: RouteTable,
        build: impl FnOnce(ProxyBuilder) -> ProxyBuilder,
    ) -> Self {
        let table: SharedTable = Arc::new(ArcSwap::from_pointee(table));
        let proxy = build(Proxy::builder(config, Arc::clone(&table))).build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_http(listener, Arc::clone(&proxy), async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            proxy,
            table,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Asks for shutdown; the returned handle finishes when `serve_http` returns.
    pub fn shutdown(&mut self) -> JoinHandle<io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("shut down once")
    }
}

// ---------------------------------------------------------------------------------------------
// Upstreams

pub struct Upstream {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepts: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

/// A hyper HTTP/1.1 upstream (with upgrades) answering with `handler`.
pub async fn upstream<F, Fut>(handler: F) -> Upstream
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<UpBody>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepts);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req).await) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Upstream { addr, accepts }
}

/// An upstream whose body names it and describes the request it got: the first line is
/// `name`, the second `METHOD target`, then one `name: value` line per header.
pub async fn named(name: &'static str) -> Upstream {
    upstream(move |req: Request<Incoming>| async move { describe(name, &req) }).await
}

pub fn describe(name: &str, req: &Request<Incoming>) -> Response<UpBody> {
    let mut text = format!("{name}\n{} {}\n", req.method(), req.uri());
    for (k, v) in req.headers() {
        text.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    Response::new(full(text))
}

pub fn full(text: impl Into<Bytes>) -> UpBody {
    Full::new(text.into()).map_err(|e| match e {}).boxed()
}

pub fn empty() -> UpBody {
    Empty::new().map_err(|e| match e {}).boxed()
}

pub fn boxed(body: Incoming) -> UpBody {
    body.map_err(|e| Box::new(e) as BoxError).boxed()
}

/// An address nothing listens on.
pub async fn dead_addr() -> SocketAddr {
    bind_local().await.local_addr().unwrap()
}

/// A listener on 127.0.0.1, port 0.
pub async fn bind_local() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Clients

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// Lines of a [`describe`]d request, lower-cased header names as hyper gives them.
    pub fn header_line(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }
}

/// An HTTP/1.1 client connection to `addr`.
pub async fn h1(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<UpBody> {
    h1_with_conn(addr).await.0
}

/// An HTTP/1.1 client connection to `addr`, and its connection task (finishes when the
/// connection closes).
pub async fn h1_with_conn(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http1::SendRequest<UpBody>,
    JoinHandle<()>,
) {
    let stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    (sender, conn)
}

/// An h2c (prior knowledge) client connection to `addr`, and its connection task.
pub async fn h2(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<UpBody>,
    JoinHandle<Result<(), hyper::Error>>,
) {
    let stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    (sender, tokio::spawn(conn))
}

pub fn get_request(host: &str, target: &str) -> Request<UpBody> {
    Request::get(target)
        .header("host", host)
        .body(empty())
        .unwrap()
}

/// Sends `req` on `sender` and reads the whole response.
pub async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<UpBody>,
    req: Request<UpBody>,
) -> Reply {
    within("response", async {
        sender.ready().await.unwrap();
        let res = sender.send_request(req).await.unwrap();
        collect(res).await
    })
    .await
}

pub async fn collect(res: Response<Incoming>) -> Reply {
    let (parts, body) = res.into_parts();
    let body = within("body", body.collect()).await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// One GET on a fresh HTTP/1.1 connection.
pub async fn get(addr: SocketAddr, host: &str, target: &str) -> Reply {
    let mut sender = h1(addr).await;
    send(&mut sender, get_request(host, target)).await
}

/// Writes `bytes` on a fresh TCP connection and reads until the server closes it.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = within("server to close", stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw HTTP/1.1 response.
pub fn raw_status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}
