//! Upstream protocols through Strait, in one process on loopback: HTTP/1.1 clients to a route
//! whose backend speaks HTTP/1.1 (`backend-protocol` unset) and to one speaking HTTP/2
//! (`H2C`), then gRPC unary calls (HTTP/2 client, `GRPC` route) through Strait beside the same
//! calls straight to the server. Reports requests/s and the process's CPU per request
//! (Strait, backends and clients together: compare the rows, not the absolute values).
//!
//!   cargo run -p strait-benches --release --example upstream_protocols -- \
//!       [concurrency=32] [seconds=5]
//!
//! The lead runs it for benches/RESULTS.md ("Upstream protocols").

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
use strait_benches::load::procs::cpu_seconds;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Manifests, start};
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
    let running = start(manifests.path()).await;
    let strait = running.http_addr;

    println!("| load | requests/s | CPU µs/request |");
    println!("| --- | --- | --- |");
    for (label, host) in [
        ("HTTP/1.1 client → h1 upstream", "h1.bench"),
        ("HTTP/1.1 client → h2 upstream", "h2.bench"),
    ] {
        let (rate, cpu) = measure(run, || h1_load(strait, host, concurrency, run)).await;
        println!("| {label} | {rate:.0} | {cpu:.1} |");
    }
    let (rate, cpu) = measure(run, || grpc_load(strait, "grpc.bench", concurrency, run)).await;
    println!("| gRPC unary through Strait | {rate:.0} | {cpu:.1} |");
    let (rate, cpu) = measure(run, || {
        grpc_load(backend_addr, "grpc.bench", concurrency, run)
    })
    .await;
    println!("| gRPC unary direct | {rate:.0} | {cpu:.1} |");
    Ok(())
}

/// Requests/s and CPU µs per request of one load.
async fn measure<F, Fut>(run: Duration, load: F) -> (f64, f64)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let pid = std::process::id();
    let cpu = cpu_seconds(pid);
    let done = load().await;
    let cpu = cpu_seconds(pid) - cpu;
    let n = done.max(1) as f64;
    (n / run.as_secs_f64(), cpu * 1e6 / n)
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
