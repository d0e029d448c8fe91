//! `strait echo`: a small HTTP backend that answers every request with JSON describing it.
//! Used by `strait demo`, the e2e tests and the benches.

use std::future::Future;
use tokio::net::TcpListener;

/// Serves the echo backend named `name` on `listener` until `shutdown` resolves.
pub async fn serve_echo(
    listener: TcpListener,
    name: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = (listener, name, shutdown);
    todo!("echo")
}
