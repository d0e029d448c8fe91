//! A real HTTP/1.1 client over hyper's connection API, so a test controls keep-alive.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A collected response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (echo backends answer JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `name` of the echo backend that answered, if the body is echo JSON.
    pub fn echo_name(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v.get("name")?.as_str().map(str::to_owned)
    }

    /// A request header as the echo backend saw it (first value).
    pub fn echoed_header(&self, name: &str) -> Option<String> {
        let v = self.json();
        let h = v.get("headers")?.get(name)?;
        match h {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(a) => a.first()?.as_str().map(str::to_owned),
            _ => None,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client connection, kept alive across requests.
pub struct Conn {
    sender: SendRequest<Empty<Bytes>>,
    closed: tokio::sync::oneshot::Receiver<()>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        Self::handshake(TcpStream::connect(addr).await?).await
    }

    /// Connects from a chosen loopback source address (to play a given client or proxy).
    pub async fn open_from(local: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<Conn> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(local, 0))?;
        Self::handshake(socket.connect(addr).await?).await
    }

    /// HTTP/1.1 over an already open stream (a TLS stream, a socket that sent a PROXY header).
    pub async fn over<I>(io: I) -> std::io::Result<Conn>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        Self::handshake(io).await
    }

    async fn handshake<I>(stream: I) -> std::io::Result<Conn>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        let (tx, closed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = conn.await;
            let _ = tx.send(());
        });
        Ok(Conn { sender, closed })
    }

    /// GET `path` with `Host: host` and extra headers.
    pub async fn get(
        &mut self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply, hyper::Error> {
        let mut req = Request::get(path).header("host", host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Empty::new()).expect("valid request");
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Whether the server has closed this connection.
    pub fn is_closed(&mut self) -> bool {
        self.sender.is_closed() || self.closed.try_recv().is_ok()
    }
}

/// GET on a fresh connection.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    get_with(addr, host, path, &[]).await
}

/// GET on a fresh connection with extra headers.
pub async fn get_with(addr: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut conn = Conn::open(addr).await.expect("connect to strait");
    conn.get(host, path, headers).await.expect("request")
}
