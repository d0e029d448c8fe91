//! End-to-end harness: echo backends on 127.0.0.x, a manifests folder, Strait started through
//! its library entry point on port 0, and a real HTTP/1.1 client.
//!
//! Everything binds port 0 on loopback and waits on conditions with deadlines.

pub mod auth;
pub mod backends;
pub mod client;
pub mod manifests;
pub mod mtls;
pub mod scrape;
pub mod tls;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use strait_controller::serve::{Running, ServeConfig, Source};
use strait_proxy::{AccessLog, ProxyConfig};
use strait_shared::CompileConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use client::{Conn, Reply, get};
pub use manifests::Manifests;

/// How long a test waits for a condition before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A running echo backend; stopped when dropped.
pub struct Echo {
    pub addr: SocketAddr,
    pub name: String,
    _stop: oneshot::Sender<()>,
}

impl Echo {
    /// Starts an echo backend named `name` on `ip`, port 0 unless `port` is given.
    pub async fn start(name: &str, ip: [u8; 4], port: u16) -> Echo {
        let ip = IpAddr::V4(Ipv4Addr::from(ip));
        let listener = TcpListener::bind((ip, port)).await.expect("bind echo");
        Self::on(listener, name)
    }

    /// Starts an echo backend on an already bound listener.
    pub fn on(listener: TcpListener, name: &str) -> Echo {
        let addr = listener.local_addr().expect("echo local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let owned = name.to_owned();
        tokio::spawn(async move {
            let stop = async move {
                let _ = rx.await;
            };
            let _ = strait_controller::echo::serve_echo(listener, owned, stop).await;
        });
        Echo {
            addr,
            name: name.to_owned(),
            _stop: tx,
        }
    }
}

/// The two echo backends most tests use: `a` on 127.0.0.2 and `b` on 127.0.0.3.
pub async fn echoes_ab() -> (Echo, Echo) {
    (
        Echo::start("a", [127, 0, 0, 2], 0).await,
        Echo::start("b", [127, 0, 0, 3], 0).await,
    )
}

/// Strait's settings for a test: every listener on 127.0.0.1:0, short debounce.
pub fn config(dir: &Path) -> ServeConfig {
    ServeConfig {
        source: Source::Manifests(dir.to_path_buf()),
        http_addr: "127.0.0.1:0".parse().expect("addr"),
        https_addr: "127.0.0.1:0".parse().expect("addr"),
        admin_addr: "127.0.0.1:0".parse().expect("addr"),
        compile: CompileConfig::default(),
        proxy: ProxyConfig {
            https_redirect_port: 0,
            ..ProxyConfig::default()
        },
        debounce: Duration::from_millis(50),
        workers: 0,
        access_log: AccessLog::off(),
        log_control: None,
    }
}

/// Starts Strait on a manifests folder with default test settings.
pub async fn start(dir: &Path) -> Running {
    strait_controller::serve::start(config(dir))
        .await
        .expect("strait starts")
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A port that nothing listens on (bound then released).
pub async fn dead_addr(ip: [u8; 4]) -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::from(ip), 0))
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    addr
}
