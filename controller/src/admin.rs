//! The admin listener: `/healthz` (the process is alive) and `/readyz` (a table is published
//! and the sources have synced). Plain hyper; no second HTTP framework.

use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use tokio::net::{TcpListener, TcpStream};

/// Readiness as the admin listener reports it.
#[derive(Debug, Default)]
pub struct Readiness {
    ready: AtomicBool,
}

impl Readiness {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// How long in-flight admin requests may take to finish once shutdown is asked for.
const ADMIN_GRACE: Duration = Duration::from_secs(5);

/// Serves the admin endpoints until `shutdown` resolves, then lets in-flight requests finish
/// (for at most a few seconds) and returns.
///
/// `GET /healthz` answers 200 `ok`; `GET /readyz` answers 200 `ready` or 503 `not ready`;
/// anything else is 404 (405 for another method on a known path).
pub async fn serve_admin(
    listener: TcpListener,
    readiness: Arc<Readiness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = http1::Builder::new();
    accept_until(
        listener,
        shutdown,
        ADMIN_GRACE,
        "admin",
        move |stream, _peer| {
            let readiness = readiness.clone();
            let service = service_fn(move |request| {
                let response = admin_response(&request, &readiness);
                async move { Ok::<_, Infallible>(response) }
            });
            builder.serve_connection(TokioIo::new(stream), service)
        },
    )
    .await
}

fn admin_response(request: &Request<Incoming>, readiness: &Readiness) -> Response<Full<Bytes>> {
    let (status, body) = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/healthz") => (StatusCode::OK, "ok\n"),
        (&Method::GET | &Method::HEAD, "/readyz") if readiness.is_ready() => {
            (StatusCode::OK, "ready\n")
        }
        (&Method::GET | &Method::HEAD, "/readyz") => {
            (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
        }
        (_, "/healthz" | "/readyz") => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        _ => (StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Accepts connections on `listener` and drives each one returned by `serve` on its own task
/// until `shutdown` resolves; then stops accepting, asks every connection to finish its
/// in-flight requests, and waits for them for at most `grace`.
///
/// Shared by the admin and echo listeners. An accept error (for example too many open files)
/// is logged and retried after a short pause rather than ending the listener.
pub(crate) async fn accept_until<C>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    what: &'static str,
    mut serve: impl FnMut(TcpStream, SocketAddr) -> C,
) -> std::io::Result<()>
where
    C: GracefulConnection + Send + 'static,
    C::Error: Display,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, listener = what, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connection = graceful.watch(serve(stream, peer));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, listener = what, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(
            listener = what,
            "grace period over; abandoning open connections"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
        let server = tokio::spawn(serve_admin(listener, readiness.clone(), async move {
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
        let server = tokio::spawn(serve_admin(listener, Readiness::new(), async move {
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
}
