//! `strait demo`: a self-contained tour. Two echo backends ("apple" and "banana") on loopback,
//! example manifests in a temporary folder, and `strait serve` over that folder; the folder
//! is watched, so editing it changes the routes live.

use std::future::Future;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use strait_proxy::{AccessLog, ProxyConfig};
use strait_shared::CompileConfig;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::DemoArgs;
use crate::echo::serve_echo;
use crate::serve::{self, Running, ServeConfig, Source};

/// Our IngressClass (written to `ingress-class.yaml`).
const INGRESS_CLASS: &str = "\
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: strait
spec:
  controller: strait.dev/ingress-controller
";

/// One echo backend: a Service and the EndpointSlice pointing at the echo's address
/// (written to `<name>.yaml`; `{name}`, `{ip}` and `{port}` are filled in).
const BACKEND: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: default
spec:
  ports:
    - name: http
      port: 80
      targetPort: {port}
      protocol: TCP
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-demo
  namespace: default
  labels:
    kubernetes.io/service-name: {name}
addressType: IPv4
endpoints:
  - addresses:
      - {ip}
    conditions:
      ready: true
ports:
  - name: http
    port: {port}
    protocol: TCP
";

/// Host routing (`banana.demo.local`) and path routing (`demo.local/banana`), written to
/// `ingress.yaml`.
const INGRESS: &str = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: demo
  namespace: default
spec:
  ingressClassName: strait
  rules:
    - host: demo.local
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: apple
                port:
                  number: 80
          - path: /banana
            pathType: Prefix
            backend:
              service:
                name: banana
                port:
                  number: 80
    - host: banana.demo.local
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: banana
                port:
                  number: 80
";

/// HTTPS for `secure.demo.local` with a certificate generated at start (written to
/// `secure.yaml`; `{cert}` and `{key}` are filled in, indented PEM).
const SECURE: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: secure-demo-tls
  namespace: default
type: kubernetes.io/tls
stringData:
  tls.crt: |
{cert}
  tls.key: |
{key}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: secure
  namespace: default
spec:
  ingressClassName: strait
  tls:
    - hosts: [secure.demo.local]
      secretName: secure-demo-tls
  rules:
    - host: secure.demo.local
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: apple
                port:
                  number: 80
";

/// The host `secure.yaml` serves over HTTPS.
const SECURE_HOST: &str = "secure.demo.local";

/// The echo backends: name and preferred loopback address.
const BACKENDS: [(&str, Ipv4Addr); 2] = [
    ("apple", Ipv4Addr::new(127, 0, 0, 2)),
    ("banana", Ipv4Addr::new(127, 0, 0, 3)),
];

/// A running demo: the server, its manifests folder and the echo backends.
#[derive(Debug)]
pub struct DemoHandle {
    /// The proxy, listening on [`Running::http_addr`].
    pub running: Running,
    /// The folder being served; deleted when the handle is dropped.
    pub manifests: TempDir,
    /// Asked-for addresses whose port was taken, so a free port was used instead.
    pub taken_addrs: Vec<SocketAddr>,
    echoes: Vec<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
}

impl DemoHandle {
    /// Where the demo proxy listens for plain HTTP.
    pub fn http_addr(&self) -> SocketAddr {
        self.running.http_addr
    }

    /// Where the demo proxy listens for HTTPS.
    pub fn https_addr(&self) -> SocketAddr {
        self.running.https_addr
    }

    /// The manifests folder the demo serves.
    pub fn manifests_dir(&self) -> &Path {
        self.manifests.path()
    }

    /// Stops the proxy, then the echo backends, then deletes the folder.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.running.shutdown().await?;
        for (stop, task) in self.echoes {
            let _ = stop.send(());
            task.await.context("echo task panicked")??;
        }
        Ok(())
    }
}

/// Runs the demo until `shutdown` resolves (the binary passes SIGINT/SIGTERM).
pub async fn run(args: DemoArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let demo = start_demo(&args).await?;
    println!("{}", instructions(&demo));
    shutdown.await;
    println!("shutting down");
    demo.shutdown().await
}

/// Starts the echo backends, writes the manifests and starts the server; returns once the
/// first table is published.
pub async fn start_demo(args: &DemoArgs) -> anyhow::Result<DemoHandle> {
    let manifests = tempfile::Builder::new()
        .prefix("strait-demo-")
        .tempdir()
        .context("creating the demo manifests folder")?;
    write_file(manifests.path(), "ingress-class.yaml", INGRESS_CLASS)?;
    write_file(manifests.path(), "ingress.yaml", INGRESS)?;
    write_file(manifests.path(), "secure.yaml", &secure_manifest()?)?;
    let mut echoes = Vec::new();
    for (name, ip) in BACKENDS {
        let listener = bind_loopback(ip).await?;
        let addr = listener.local_addr()?;
        let backend = BACKEND
            .replace("{name}", name)
            .replace("{ip}", &addr.ip().to_string())
            .replace("{port}", &addr.port().to_string());
        write_file(manifests.path(), &format!("{name}.yaml"), &backend)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        echoes.push((
            stop,
            tokio::spawn(serve_echo(listener, name.to_owned(), shutdown)),
        ));
    }
    let (http_addr, taken_http) = free_http_addr(args.http_addr)?;
    let (https_addr, taken_https) = free_http_addr(args.https_addr)?;
    let config = ServeConfig {
        source: Source::Manifests(manifests.path().to_owned()),
        http_addr,
        https_addr,
        admin_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        compile: CompileConfig::default(),
        proxy: ProxyConfig {
            https_redirect_port: 0,
            ..ProxyConfig::default()
        },
        debounce: Duration::from_millis(100),
        workers: 0,
        // The demo prints its own guide on stdout; access-log lines would bury it.
        access_log: AccessLog::off(),
        log_control: None,
    };
    let running = serve::start(config)
        .await
        .context("starting the demo server")?;
    Ok(DemoHandle {
        running,
        manifests,
        taken_addrs: taken_http.into_iter().chain(taken_https).collect(),
        echoes,
    })
}

/// `secure.yaml` with a fresh self-signed certificate for [`SECURE_HOST`].
fn secure_manifest() -> anyhow::Result<String> {
    let generated = rcgen::generate_simple_self_signed(vec![SECURE_HOST.to_owned()])
        .context("generating the demo certificate")?;
    let indent = |pem: &str| {
        pem.lines()
            .map(|line| format!("    {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(SECURE
        .replace("{cert}", &indent(&generated.cert.pem()))
        .replace("{key}", &indent(&generated.signing_key.serialize_pem())))
}

/// Binds `ip:0`, or `127.0.0.1:0` where only that loopback address exists (macOS).
async fn bind_loopback(ip: Ipv4Addr) -> anyhow::Result<TcpListener> {
    match TcpListener::bind((ip, 0)).await {
        Ok(listener) => Ok(listener),
        Err(error) => {
            tracing::debug!(%error, %ip, "falling back to 127.0.0.1 for a demo backend");
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await;
            listener.context("binding a demo echo backend on 127.0.0.1")
        }
    }
}

/// `wanted` when its port is free, else the same IP with port 0; the second value is `wanted`
/// when it was taken. (The probe is released before the server binds: a demo can live with
/// the race.)
fn free_http_addr(wanted: SocketAddr) -> anyhow::Result<(SocketAddr, Option<SocketAddr>)> {
    match std::net::TcpListener::bind(wanted) {
        Ok(_probe) => Ok((wanted, None)),
        Err(error) if error.kind() == ErrorKind::AddrInUse && wanted.port() != 0 => {
            Ok((SocketAddr::new(wanted.ip(), 0), Some(wanted)))
        }
        Err(error) => Err(error).with_context(|| format!("binding the demo proxy on {wanted}")),
    }
}

fn write_file(dir: &Path, name: &str, contents: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
}

/// What the demo prints once it is up.
fn instructions(demo: &DemoHandle) -> String {
    let addr = reachable(demo.http_addr());
    let https = reachable(demo.https_addr());
    let (https_ip, https_port) = (https.ip(), https.port());
    let taken: String = demo
        .taken_addrs
        .iter()
        .map(|taken| format!("{taken} is taken, so the demo uses a free port instead.\n"))
        .collect();
    let dir = demo.manifests_dir().display();
    format!(
        "{taken}Strait demo listening on http://{addr} and https://{https}
Manifests (edit them; changes are live within a second): {dir}

Host routing (answered by \"banana\"):
  curl -s -H 'Host: banana.demo.local' http://{addr}/
Path routing (/banana goes to \"banana\", everything else on demo.local to \"apple\"):
  curl -s -H 'Host: demo.local' http://{addr}/banana/split
Client IP (a spoofed X-Forwarded-For is dropped; the echo shows your address):
  curl -s -H 'Host: demo.local' -H 'X-Forwarded-For: 203.0.113.7' http://{addr}/
HTTPS with the certificate from secure.yaml (self-signed, hence -k), chosen by SNI:
  curl -sk --resolve {SECURE_HOST}:{https_port}:{https_ip} https://{SECURE_HOST}:{https_port}/
Plain HTTP to a host listed in spec.tls is redirected (308) to HTTPS:
  curl -si -H 'Host: {SECURE_HOST}' http://{addr}/

Press Ctrl-C to stop."
    )
}

/// `addr` with an unspecified IP replaced by loopback, for copy-paste commands.
fn reachable(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let loopback = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        addr.set_ip(loopback);
    }
    addr
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{Request, header};
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::TokioIo;
    use serde_json::Value;
    use tokio::net::TcpStream;

    use super::*;

    async fn get(addr: SocketAddr, host: &str, path: &str, xff: Option<&str>) -> Value {
        let response = fetch(addr, host, path, xff).await;
        assert_eq!(response.status(), 200, "{host}{path}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&body).unwrap()
    }

    async fn fetch(
        addr: SocketAddr,
        host: &str,
        path: &str,
        xff: Option<&str>,
    ) -> http::Response<hyper::body::Incoming> {
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let mut request = Request::get(path).header(header::HOST, host);
        if let Some(xff) = xff {
            request = request.header("x-forwarded-for", xff);
        }
        let response = sender.send_request(request.body(Empty::<Bytes>::new()).unwrap());
        response.await.unwrap()
    }

    #[test]
    fn a_taken_port_falls_back_to_a_free_one() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let wanted = taken.local_addr().unwrap();
        let (addr, reported) = free_http_addr(wanted).unwrap();
        assert_eq!(
            (addr, reported),
            (SocketAddr::new(wanted.ip(), 0), Some(wanted))
        );
        drop(taken);
        assert_eq!(free_http_addr(wanted).unwrap(), (wanted, None));
    }

    #[test]
    fn templates_have_their_placeholders() {
        let backend = BACKEND.replace("{name}", "apple");
        assert!(!backend.contains("{name}") && backend.contains("{port}"));
        assert_eq!(INGRESS.matches("host:").count(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_routes_by_host_and_path_and_shows_the_client_ip() {
        let args = DemoArgs {
            http_addr: "127.0.0.1:0".parse().unwrap(),
            https_addr: "127.0.0.1:0".parse().unwrap(),
        };
        let demo = start_demo(&args).await.unwrap();
        let addr = demo.http_addr();
        let text = instructions(&demo);
        assert!(text.contains(&demo.manifests_dir().display().to_string()));
        assert_eq!(text.matches("curl -s").count(), 5);

        let host_routed = get(addr, "banana.demo.local", "/", None).await;
        assert_eq!(host_routed["name"], "banana");
        let path_routed = get(addr, "demo.local", "/banana/split", None).await;
        assert_eq!(path_routed["name"], "banana");
        assert_eq!(path_routed["path"], "/banana/split");
        let root = get(addr, "demo.local", "/", Some("203.0.113.7")).await;
        assert_eq!(root["name"], "apple");
        assert_eq!(root["headers"]["x-forwarded-for"], "127.0.0.1");
        let redirect = fetch(addr, SECURE_HOST, "/x?y=1", None).await;
        assert_eq!(redirect.status(), 308);
        let https_port = demo.https_addr().port();
        assert_eq!(
            redirect.headers()[header::LOCATION],
            format!("https://{SECURE_HOST}:{https_port}/x?y=1").as_str()
        );
        assert_eq!(
            demo.running.table.load().tls().len(),
            1,
            "secure.yaml's certificate"
        );

        let dir = demo.manifests_dir().to_owned();
        tokio::time::timeout(Duration::from_secs(10), demo.shutdown())
            .await
            .unwrap()
            .unwrap();
        assert!(!dir.exists(), "the folder is removed");
    }
}
