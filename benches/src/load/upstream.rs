//! The one upstream every target forwards to: a small hyper HTTP/1.1 server answering every
//! request with the same 200 and a fixed 64-byte body, on every address it is given, naming
//! the address that answered in `x-upstream-addr` (the change-under-load prober watches it
//! move). It runs as its own process (`load upstream ADDR...`), so its CPU is not the proxy's.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &[u8; 64] = b"strait bench upstream: the same answer for every target, 64 B..\n";

/// Serves forever on `addrs`.
pub fn run(addrs: &[SocketAddr]) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for addr in addrs {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind upstream {addr}"))?;
            tasks.push(tokio::spawn(accept(listener)));
        }
        for task in tasks {
            task.await?;
        }
        Ok(())
    })
}

/// The response header naming the address that answered.
pub const ADDR_HEADER: &str = "x-upstream-addr";

async fn accept(listener: TcpListener) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    let addr = http::HeaderValue::from_str(&local.to_string()).expect("an address is a header");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let addr = addr.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let addr = addr.clone();
                async move {
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "text/plain")
                            .header(ADDR_HEADER, addr)
                            .body(Full::new(Bytes::from_static(BODY)))
                            .expect("static response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
