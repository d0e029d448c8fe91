//! A real gRPC service and client for `grpc_tonic.rs`: tonic's server and client call machinery
//! (`tonic::server::Grpc`, `tonic::client::Grpc`) with prost messages through
//! `tonic_prost::ProstCodec`, written by hand instead of generated (no protoc, no build
//! script). hyper carries the calls, as tonic's own transport would: HTTP/2 with prior knowledge
//! in cleartext, or over rustls with ALPN `h2` (the tree's one crypto provider, ring).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use http::uri::PathAndQuery;
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use strait_e2e::tls::TestCert;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

/// The one message type of the test service.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Msg {
    #[prost(string, tag = "1")]
    pub text: String,
    /// Unary: milliseconds to wait before answering. ServerStream: how many messages.
    #[prost(uint32, tag = "2")]
    pub n: u32,
    /// ServerStream: milliseconds between two messages.
    #[prost(uint32, tag = "3")]
    pub gap_ms: u32,
}

pub fn msg(text: &str, n: u32, gap_ms: u32) -> Msg {
    Msg {
        text: text.to_owned(),
        n,
        gap_ms,
    }
}

const SERVICE: &str = "/strait.test.Echo/";
/// The text that makes the server end a call with [`refusal`].
pub const FAIL: &str = "fail";

type MsgStream = BoxStream<'static, Result<Msg, Status>>;

/// The server's error for [`FAIL`]: a status with a message and custom metadata, which tonic
/// sends in the trailers (or, before any message, in a Trailers-Only response).
fn refusal() -> Status {
    let mut metadata = MetadataMap::new();
    metadata.insert("x-why", MetadataValue::from_static("asked-to-fail"));
    metadata.insert_bin("x-detail-bin", MetadataValue::from_bytes(&[0, 1, 2, 255]));
    Status::with_metadata(Code::FailedPrecondition, "refused by the server", metadata)
}

/// `Unary`: the message back after `n` ms, request metadata `x-probe` echoed as response
/// metadata `x-probe-seen`; [`FAIL`] → [`refusal`].
async fn unary(request: Request<Msg>) -> Result<Response<Msg>, Status> {
    let probe = request.metadata().get("x-probe").cloned();
    let m = request.into_inner();
    if m.text == FAIL {
        return Err(refusal());
    }
    tokio::time::sleep(Duration::from_millis(m.n.into())).await;
    let mut response = Response::new(m);
    if let Some(probe) = probe {
        response.metadata_mut().insert("x-probe-seen", probe);
    }
    Ok(response)
}

/// `ServerStream`: `n` messages `gap_ms` apart (`text-0`, `text-1`, …); with [`FAIL`], then
/// [`refusal`] in the trailers.
async fn server_stream(request: Request<Msg>) -> Result<Response<MsgStream>, Status> {
    let m = request.into_inner();
    let gap = Duration::from_millis(m.gap_ms.into());
    let fail = m.text == FAIL;
    let messages = stream::unfold(0u32, move |i| {
        let text = m.text.clone();
        async move {
            if i > m.n {
                return None;
            }
            if i == m.n {
                return fail.then(|| (Err(refusal()), i + 1));
            }
            if i > 0 {
                tokio::time::sleep(gap).await;
            }
            Some((Ok(msg(&format!("{text}-{i}"), i, 0)), i + 1))
        }
    });
    Ok(Response::new(messages.boxed()))
}

/// `ClientStream`: once the request stream ends, the texts joined with `,` and their count.
async fn client_stream(request: Request<Streaming<Msg>>) -> Result<Response<Msg>, Status> {
    let mut incoming = request.into_inner();
    let mut texts = Vec::new();
    while let Some(m) = incoming.message().await? {
        texts.push(m.text);
    }
    let count = u32::try_from(texts.len()).unwrap_or(u32::MAX);
    Ok(Response::new(msg(&texts.join(","), count, 0)))
}

/// `Bidi`: each message back as soon as it arrives.
async fn bidi(request: Request<Streaming<Msg>>) -> Result<Response<MsgStream>, Status> {
    Ok(Response::new(request.into_inner().boxed()))
}

/// A tower service from an async function (tonic's server traits are tower services).
struct Handler<F>(F);

impl<F, R, T, Fut> tower::Service<Request<R>> for Handler<F>
where
    F: FnMut(Request<R>) -> Fut,
    Fut: Future<Output = Result<Response<T>, Status>>,
{
    type Response = Response<T>;
    type Error = Status;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<R>) -> Fut {
        (self.0)(request)
    }
}

/// Routes one HTTP/2 request to its method, as tonic's generated server does.
async fn dispatch(request: http::Request<Incoming>) -> http::Response<tonic::body::Body> {
    let mut grpc = tonic::server::Grpc::new(ProstCodec::<Msg, Msg>::default());
    let method = request.uri().path().strip_prefix(SERVICE).unwrap_or("");
    match method {
        "Unary" => grpc.unary(Handler(unary), request).await,
        "ServerStream" => grpc.server_streaming(Handler(server_stream), request).await,
        "ClientStream" => grpc.client_streaming(Handler(client_stream), request).await,
        "Bidi" => grpc.streaming(Handler(bidi), request).await,
        _ => Status::unimplemented("no such method on the test server").into_http(),
    }
}

async fn serve_connection<I>(io: I)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(|request| async move {
        Ok::<_, Infallible>(dispatch(request).await)
    });
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// The service over HTTP/2 in cleartext (prior knowledge) on 127.0.0.2.
pub async fn serve_h2c() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve_connection(tcp));
        }
    });
    addr
}

/// The service over TLS (ALPN `h2` only, `cert`) on 127.0.0.3.
pub async fn serve_tls(cert: &TestCert) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("private key");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der.clone()], key)
        .expect("server cert");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.3:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_connection(tls).await;
                }
            });
        }
    });
    addr
}

/// hyper's HTTP/2 client connection as the tower service `tonic::client::Grpc` drives.
#[derive(Clone)]
pub struct H2(SendRequest<tonic::body::Body>);

impl tower::Service<http::Request<tonic::body::Body>> for H2 {
    type Response = http::Response<Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, hyper::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

/// How the client reaches Strait.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// The HTTP listener, HTTP/2 with prior knowledge.
    H2c,
    /// The HTTPS listener, TLS with ALPN `h2` (SNI: the host).
    Tls,
}

/// A tonic client of the test service on one HTTP/2 connection.
pub struct Client {
    grpc: tonic::client::Grpc<H2>,
}

impl Client {
    /// Connects to `addr` as `via` says; calls carry `:authority: host`.
    pub async fn connect(addr: SocketAddr, via: Via, host: &str) -> Client {
        let (sender, scheme) = match via {
            Via::H2c => (
                handshake(TcpStream::connect(addr).await.expect("connect")).await,
                "http",
            ),
            Via::Tls => {
                let tls = strait_e2e::tls::connect(addr, Some(host), &["h2"])
                    .await
                    .expect("TLS handshake");
                assert_eq!(tls.alpn().as_deref(), Some("h2"), "ALPN picks h2");
                (handshake(tls.stream).await, "https")
            }
        };
        let origin = format!("{scheme}://{host}").parse().expect("origin");
        Client {
            grpc: tonic::client::Grpc::with_origin(H2(sender), origin),
        }
    }

    async fn ready(&mut self) -> Result<(), Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unknown(format!("connection not ready: {e}")))
    }

    pub async fn unary(&mut self, request: Request<Msg>) -> Result<Response<Msg>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/strait.test.Echo/Unary");
        self.grpc.unary(request, path, codec()).await
    }

    pub async fn server_stream(
        &mut self,
        request: Request<Msg>,
    ) -> Result<Response<Streaming<Msg>>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/strait.test.Echo/ServerStream");
        self.grpc.server_streaming(request, path, codec()).await
    }

    pub async fn client_stream<S>(&mut self, request: Request<S>) -> Result<Response<Msg>, Status>
    where
        S: Stream<Item = Msg> + Send + 'static,
    {
        self.ready().await?;
        let path = PathAndQuery::from_static("/strait.test.Echo/ClientStream");
        self.grpc.client_streaming(request, path, codec()).await
    }

    pub async fn bidi<S>(&mut self, request: Request<S>) -> Result<Response<Streaming<Msg>>, Status>
    where
        S: Stream<Item = Msg> + Send + 'static,
    {
        self.ready().await?;
        let path = PathAndQuery::from_static("/strait.test.Echo/Bidi");
        self.grpc.streaming(request, path, codec()).await
    }
}

fn codec() -> ProstCodec<Msg, Msg> {
    ProstCodec::default()
}

async fn handshake<I>(io: I) -> SendRequest<tonic::body::Body>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(io))
        .await
        .expect("h2 handshake");
    tokio::spawn(conn);
    sender
}

/// A request stream fed from a channel; it ends when the sender is dropped.
pub fn channel_stream() -> (mpsc::Sender<Msg>, impl Stream<Item = Msg> + Send + 'static) {
    let (tx, rx) = mpsc::channel::<Msg>(16);
    let messages = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    (tx, messages)
}
