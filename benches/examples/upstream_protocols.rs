//! Upstream protocols through Strait, in one process on loopback: HTTP/1.1 keep-alive clients
//! to a route whose backend speaks HTTP/1.1 (`backend-protocol` unset) and to one speaking
//! HTTP/2 (`H2C`), the same backend for both; then gRPC unary calls (HTTP/2 client, `GRPC`
//! route) through Strait beside the same calls straight to the backend. Reports requests/s,
//! the CPU per request of Strait's data path (its one worker thread, `--workers 1`: the
//! `strait-worker-*` threads' CPU time from `/proc/self/task`) and of the whole process
//! (Strait, backend and clients).
//!
//!   cargo run -p strait-benches --release --example upstream_protocols -- \
//!       [concurrency=32] [seconds=5]
//!
//! Each load runs for `seconds` after a one-second warm-up of the same load (connections and
//! pools opened), which is not counted.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use strait_benches::load::procs::{cpu_seconds, ticks_per_second};
use strait_e2e::Manifests;
use strait_e2e::manifests::{IngressB, backend, our_class};
use tokio::net::{TcpListener, TcpStream};

const BODY: &[u8] = b"{\"ok\":true}";
/// A gRPC unary answer: one 11-byte message and `grpc-status: 0`.
const GRPC_MESSAGE: &[u8] = b"\0\0\0\0\x0bhello world";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let concurrency: usize = args.first().map_or(Ok(32), |s| s.parse())?;
    let seconds: u64 = args.get(1).map_or(Ok(5), |s| s.parse())?;
    let run = Duration::from_secs(seconds);

    let backend_addr = serve_backend().await?;
    let mut items = vec![our_class()];
    for (name, protocol) in [("h1", "HTTP"), ("h2", "H2C"), ("grpc", "GRPC")] {
        let ingress = IngressB::new("default", name)
            .rule(&format!("{name}.bench"), "/", "Prefix", name, 80)
            .annotation("nginx.ingress.kubernetes.io/backend-protocol", protocol)
            .build();
        items.push(ingress);
        items.extend(backend("default", name, &[backend_addr]));
    }
    let manifests = Manifests::new();
    manifests.write_list("bench.json", &items);
    let mut config = strait_e2e::config(manifests.path());
    config.workers = 1;
    let running = strait_controller::serve::start(config).await?;
    let strait = running.http_addr;
    let warm_up = Duration::from_secs(1);

    println!("| load | requests/s | Strait CPU µs/request | process CPU µs/request |");
    println!("| --- | --- | --- | --- |");
    for (label, host) in [
        ("HTTP/1.1 client → h1 upstream", "h1.bench"),
        ("HTTP/1.1 client → h2 upstream (`H2C`)", "h2.bench"),
    ] {
        h1_load(strait, host, concurrency, warm_up).await;
        let m = measure(run, || h1_load(strait, host, concurrency, run)).await;
        println!("| {label} | {m} |");
    }
    grpc_load(strait, "grpc.bench", concurrency, warm_up).await;
    let m = measure(run, || grpc_load(strait, "grpc.bench", concurrency, run)).await;
    println!("| gRPC unary through Strait (`GRPC`) | {m} |");
    grpc_load(backend_addr, "grpc.bench", concurrency, warm_up).await;
    let m = measure(run, || {
        grpc_load(backend_addr, "grpc.bench", concurrency, run)
    })
    .await;
    println!("| gRPC unary direct to the backend | {m} |");
    Ok(())
}

/// One load's figures, printed as table cells.
struct Measured {
    rate: f64,
    strait_us: f64,
    process_us: f64,
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} | {:.1} | {:.1}",
            self.rate, self.strait_us, self.process_us
        )
    }
}

/// Requests/s and CPU µs per request (Strait's workers, the whole process) of one load.
async fn measure<F, Fut>(run: Duration, load: F) -> Measured
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let pid = std::process::id();
    let (process, strait) = (cpu_seconds(pid), worker_cpu_seconds());
    let done = load().await;
    let (process, strait) = (cpu_seconds(pid) - process, worker_cpu_seconds() - strait);
    let n = done.max(1) as f64;
    Measured {
        rate: n / run.as_secs_f64(),
        strait_us: strait * 1e6 / n,
        process_us: process * 1e6 / n,
    }
}

/// CPU time (user + system) of this process's Strait data-path threads (`strait-worker-N`,
/// named by `strait_proxy::workers::start`), from `/proc/self/task/*/stat`.
fn worker_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) state ppid …": comm may hold spaces, so split at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with("strait-worker") {
            continue;
        }
        // After the comm: state is field 3, utime field 14 and stime field 15.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        ticks += field(14).unwrap_or(0) + field(15).unwrap_or(0);
    }
    ticks as f64 / ticks_per_second() as f64
}

/// The backend: HTTP/1.1 and HTTP/2 (prior knowledge) on one port; gRPC-shaped answers to
/// `application/grpc` requests.
async fn serve_backend() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.2:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                    let grpc = request.headers().contains_key("te");
                    let _ = request.into_body().collect().await;
                    let response = if grpc {
                        let trailers = http::HeaderMap::from_iter([(
                            http::HeaderName::from_static("grpc-status"),
                            http::HeaderValue::from_static("0"),
                        )]);
                        let body = Full::new(Bytes::from_static(GRPC_MESSAGE))
                            .with_trailers(async move { Some(Ok(trailers)) })
                            .boxed();
                        Response::builder()
                            .header("content-type", "application/grpc")
                            .body(body)
                    } else {
                        Response::builder().body(Full::new(Bytes::from_static(BODY)).boxed())
                    };
                    Ok::<_, Infallible>(response.expect("response"))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// `concurrency` keep-alive HTTP/1.1 connections sending GETs for `run`; completed requests.
async fn h1_load(addr: SocketAddr, host: &str, concurrency: usize, run: Duration) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + run;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (done, host) = (Arc::clone(&done), host.to_owned());
        tasks.push(tokio::spawn(async move {
            let Ok(tcp) = TcpStream::connect(addr).await else {
                return;
            };
            let _ = tcp.set_nodelay(true);
            let Ok((mut sender, conn)) =
                hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await
            else {
                return;
            };
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let request = Request::get("/")
                    .header("host", &host)
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let Ok(response) = sender.send_request(request).await else {
                    return;
                };
                if response.into_body().collect().await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed)
}

/// `concurrency` unary calls in flight on one HTTP/2 connection for `run`; completed calls.
async fn grpc_load(addr: SocketAddr, host: &str, concurrency: usize, run: Duration) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + run;
    let Ok(tcp) = TcpStream::connect(addr).await else {
        return 0;
    };
    // Without it a request's HEADERS and DATA frames, written apart, meet Nagle and the peer's
    // delayed ACK: ~40 ms a call, and the load measures that instead of the proxy.
    let _ = tcp.set_nodelay(true);
    let Ok((sender, conn)) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Full<Bytes>>(TokioIo::new(tcp))
        .await
    else {
        return 0;
    };
    tokio::spawn(conn);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (done, mut sender, uri) = (
            Arc::clone(&done),
            sender.clone(),
            format!("http://{host}/bench.Echo/Unary"),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let request = Request::post(&uri)
                    .header("content-type", "application/grpc")
                    .header("te", "trailers")
                    .body(Full::new(Bytes::from_static(GRPC_MESSAGE)))
                    .expect("request");
                let Ok(response) = sender.send_request(request).await else {
                    return;
                };
                if let Ok(body) = response.into_body().collect().await
                    && body
                        .trailers()
                        .is_some_and(|t| t.get("grpc-status").is_some_and(|s| s == "0"))
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed)
}
