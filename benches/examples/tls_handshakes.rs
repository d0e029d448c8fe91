//! TLS handshake load: `concurrency` tasks each open a connection, complete a TLS 1.3
//! handshake, send one `GET` with `Connection: close`, read the answer, and start over, for
//! `seconds`. Reports completed connections per second and latency per connection.
//!
//! Unlike wrk (whose OpenSSL connections keep their session and may resume), this client
//! disables resumption, so every handshake is a full one with a certificate signature; with
//! `--resume` it keeps one session store per task, as a browser would. The load suite
//! (`bash benches/load.sh`) uses the same client, `strait_benches::load::clients::handshake_load`.
//!
//!   cargo run -p strait-benches --release --example tls_handshakes -- \
//!       ADDR HOST [concurrency=64] [seconds=8] [--resume]

use std::net::SocketAddr;
use std::time::Duration;

use strait_benches::load::clients::handshake_load;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let resume = args.iter().any(|a| a == "--resume");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let usage = "usage: tls_handshakes ADDR HOST [concurrency] [seconds] [--resume]";
    let addr: SocketAddr = positional.first().ok_or(anyhow::anyhow!(usage))?.parse()?;
    let host = positional.get(1).ok_or(anyhow::anyhow!(usage))?;
    let concurrency: usize = positional.get(2).map_or(Ok(64), |s| s.parse())?;
    let seconds: u64 = positional.get(3).map_or(Ok(8), |s| s.parse())?;

    let r = handshake_load(
        addr,
        host,
        concurrency,
        Duration::from_secs(seconds),
        resume,
    )?;
    println!(
        "{} handshakes: {} connections in {:.1} s = {:.0}/s, {} failed; p50 {:.2} ms, p99 {:.2} ms",
        if resume { "resumed" } else { "full" },
        r.requests,
        r.seconds,
        r.requests as f64 / r.seconds,
        r.errors,
        r.p50_ms,
        r.p99_ms,
    );
    Ok(())
}
