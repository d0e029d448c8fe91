//! TLS handshake load: `concurrency` tasks each open a connection, complete a TLS handshake,
//! send one `GET` with `Connection: close`, read the answer, and start over, for `seconds`.
//! Reports completed connections per second.
//!
//! Unlike wrk (whose OpenSSL connections keep their session and may resume), this client can
//! disable resumption, so every handshake is a full one with a certificate signature; with
//! `--resume` it keeps one session store per task, as a browser would.
//!
//!   cargo run -p strait-benches --release --example tls_handshakes -- \
//!       ADDR HOST [concurrency=64] [seconds=8] [--resume]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use strait_e2e::tls::AcceptAnyCertificate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let resume = args.iter().any(|a| a == "--resume");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let usage = "usage: tls_handshakes ADDR HOST [concurrency] [seconds] [--resume]";
    let addr: SocketAddr = positional.first().ok_or(usage)?.parse()?;
    let host = positional.get(1).ok_or(usage)?.to_string();
    let concurrency: usize = positional.get(2).map_or(Ok(64), |s| s.parse())?;
    let seconds: u64 = positional.get(3).map_or(Ok(8), |s| s.parse())?;

    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        // One config per task: with --resume each task resumes its own session.
        let connector = TlsConnector::from(Arc::new(client_config(resume)?));
        let name = ServerName::try_from(host.clone())?;
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let (done, failed) = (Arc::clone(&done), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match one(addr, &connector, name.clone(), request.as_bytes()).await {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let done = done.load(Ordering::Relaxed);
    println!(
        "{} handshakes: {done} connections in {seconds} s = {:.0}/s, {} failed",
        if resume { "resumed" } else { "full" },
        done as f64 / seconds as f64,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn one(
    addr: SocketAddr,
    connector: &TlsConnector,
    name: ServerName<'static>,
    request: &[u8],
) -> std::io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request).await?;
    let mut answer = Vec::with_capacity(1024);
    tls.read_to_end(&mut answer).await?;
    if answer.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other("not a 200"))
    }
}

fn client_config(resume: bool) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Ok(config)
}
