//! The load generators: wrk (closed-loop scenarios), oha (fixed rate, latency corrected for
//! coordinated omission) and a rustls client for full TLS 1.3 handshakes (wrk's OpenSSL
//! connections keep their session and resume, so wrk cannot force full handshakes).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustls::ClientConfig;
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use strait_e2e::tls::AcceptAnyCertificate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::Scenario;
use super::targets::{PLAIN_HOST, TLS_HOST};

/// Failures of a load run, by kind (as wrk counts them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Errors {
    pub connect: u64,
    /// Read errors: connections reset or closed under a request.
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
    /// Answers other than 2xx/3xx.
    pub status: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status
    }
}

/// What one load run saw.
#[derive(Clone, Debug, Default)]
pub struct ClientResult {
    /// Requests answered 2xx/3xx.
    pub requests: u64,
    pub errors: u64,
    pub breakdown: Errors,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

/// One scenario's load against one target's addresses.
pub struct Load {
    pub scenario: Scenario,
    pub http: String,
    pub https: Option<String>,
    pub connections: usize,
    pub rate: u32,
}

impl Load {
    /// Runs the scenario's client for `duration`.
    pub fn run(&self, duration: Duration) -> Result<ClientResult> {
        let plain = format!("http://{}/", self.http);
        let https = || self.https.clone().context("target has no TLS listener");
        let (connections, close) = (self.connections, true);
        match self.scenario {
            Scenario::KeepAlive => wrk(&plain, PLAIN_HOST, !close, connections, duration),
            Scenario::NewConnection => wrk(&plain, PLAIN_HOST, close, connections, duration),
            Scenario::TlsKeepAlive => {
                let url = format!("https://{}/", https()?);
                wrk(&url, TLS_HOST, !close, connections, duration)
            }
            Scenario::TlsNewConnection => {
                let addr: SocketAddr = https()?.parse()?;
                handshake_load(addr, TLS_HOST, connections, duration, false)
            }
            Scenario::FixedRate => oha(&plain, PLAIN_HOST, self.rate, connections, duration),
        }
    }
}

/// The Lua hook that makes wrk print one machine-readable line with the counts and the
/// latency percentiles (microseconds) it keeps in its histogram.
const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("STRAIT-LOAD %d %d %d %d %d %d %d %.1f %.1f %.1f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#;

/// `wrk -t2 -cN -dD` (one thread per core), optionally with `Connection: close` on every
/// request (a new connection per request).
pub fn wrk(
    url: &str,
    host: &str,
    close: bool,
    connections: usize,
    duration: Duration,
) -> Result<ClientResult> {
    wrk_with(url, host, &[], close, connections, duration, 0)
}

/// [`wrk`] with more request headers (`Name: value` each), run at `nice` (0: as the suite).
pub fn wrk_with(
    url: &str,
    host: &str,
    headers: &[&str],
    close: bool,
    connections: usize,
    duration: Duration,
    nice: u8,
) -> Result<ClientResult> {
    let script = std::env::temp_dir().join("strait-load-report.lua");
    std::fs::write(&script, WRK_REPORT)?;
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let mut cmd = Command::new("nice");
    cmd.args(["-n", &nice.to_string(), "wrk"])
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .args(["--timeout", "5s", "-s"])
        .arg(&script)
        .args(["-H", &format!("Host: {host}")]);
    for header in headers {
        cmd.args(["-H", header]);
    }
    if close {
        cmd.args(["-H", "Connection: close"]);
    }
    cmd.arg(url);
    let out = cmd.output().context("run wrk (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_wrk(&stdout).with_context(|| format!("wrk output without a report line: {stdout}"))
}

/// Reads the `STRAIT-LOAD` line of [`WRK_REPORT`]. wrk's `summary.requests` counts every
/// completed response, non-2xx/3xx included; those are moved to the errors.
pub fn parse_wrk(stdout: &str) -> Option<ClientResult> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("STRAIT-LOAD "))?;
    let f: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [
        requests,
        micros,
        connect,
        read,
        write,
        status,
        timeout,
        p50,
        p99,
        p999,
    ] = f[..]
    else {
        return None;
    };
    let breakdown = Errors {
        connect: connect as u64,
        read: read as u64,
        write: write as u64,
        timeout: timeout as u64,
        status: status as u64,
    };
    Some(ClientResult {
        requests: (requests as u64).saturating_sub(breakdown.status),
        errors: breakdown.total(),
        breakdown,
        seconds: micros / 1e6,
        p50_ms: p50 / 1e3,
        p99_ms: p99 / 1e3,
        p999_ms: p999 / 1e3,
    })
}

/// `oha` at a fixed request rate over keep-alive connections, with latency correction (each
/// request's latency counts from when it was due, not when it was sent).
pub fn oha(
    url: &str,
    host: &str,
    rate: u32,
    connections: usize,
    duration: Duration,
) -> Result<ClientResult> {
    let out = Command::new("oha")
        .args([
            "--no-tui",
            "--output-format",
            "json",
            "--latency-correction",
        ])
        .args(["-z", &format!("{}s", duration.as_secs().max(1))])
        .args(["-q", &rate.to_string()])
        .args(["-c", &connections.to_string()])
        .args(["-H", &format!("Host: {host}")])
        .arg(url)
        .output()
        .context("run oha (is it installed? `cargo install oha --locked`)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "oha failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_oha(&stdout).with_context(|| format!("unreadable oha output: {stdout}"))
}

/// Reads oha's JSON report (latencies in seconds).
pub fn parse_oha(stdout: &str) -> Option<ClientResult> {
    let v: serde_json::Value = serde_json::from_str(stdout).ok()?;
    let summary = &v["summary"];
    let pct = |p: &str| v["latencyPercentiles"][p].as_f64().map(|s| s * 1e3);
    let mut ok = 0;
    let mut status_errors = 0;
    for (code, n) in v["statusCodeDistribution"].as_object()? {
        let n = n.as_u64().unwrap_or(0);
        if code.starts_with('2') || code.starts_with('3') {
            ok += n;
        } else {
            status_errors += n;
        }
    }
    // oha cancels the requests still in flight when its time is up and lists them as
    // "aborted due to deadline": the end of the run, not a failure of the target.
    let other: u64 = v["errorDistribution"].as_object().map_or(0, |m| {
        m.iter()
            .filter(|(kind, _)| !kind.contains("aborted due to deadline"))
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    });
    let breakdown = Errors {
        status: status_errors,
        read: other,
        ..Errors::default()
    };
    Some(ClientResult {
        requests: ok,
        errors: breakdown.total(),
        breakdown,
        seconds: summary["total"].as_f64()?,
        p50_ms: pct("p50")?,
        p99_ms: pct("p99")?,
        p999_ms: pct("p99.9")?,
    })
}

/// `connections` tasks each open a TCP connection, complete a TLS 1.3 handshake (a full one
/// unless `resume`), send one `GET` with `Connection: close`, read the answer to the end, and
/// start over, for `duration`. Latency is per connection, handshake included.
pub fn handshake_load(
    addr: SocketAddr,
    host: &str,
    connections: usize,
    duration: Duration,
    resume: bool,
) -> Result<ClientResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
        let failed = Arc::new(Mutex::new(0u64));
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = Vec::new();
        for _ in 0..connections {
            // One config per task: with `resume` each task resumes its own session.
            let connector = TlsConnector::from(Arc::new(client_config(resume)?));
            let name = ServerName::try_from(host.to_owned())?;
            let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let (latencies, failed) = (Arc::clone(&latencies), Arc::clone(&failed));
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match one_connection(addr, &connector, name.clone(), request.as_bytes()).await {
                        Ok(()) => mine.push(t.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                latencies.lock().expect("latencies").extend(mine);
                *failed.lock().expect("failures") += errors;
            }));
        }
        for task in tasks {
            task.await?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let mut latencies = std::mem::take(&mut *latencies.lock().expect("latencies"));
        latencies.sort_unstable();
        let errors = *failed.lock().expect("failures");
        Ok(ClientResult {
            requests: latencies.len() as u64,
            errors,
            breakdown: Errors {
                read: errors,
                ..Errors::default()
            },
            seconds,
            p50_ms: percentile_ms(&latencies, 50.0),
            p99_ms: percentile_ms(&latencies, 99.0),
            p999_ms: percentile_ms(&latencies, 99.9),
        })
    })
}

/// The `p`th percentile of sorted `values` (nearest rank), in milliseconds; 0 when empty.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    nearest_rank(sorted, p).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The `p`th percentile of sorted `values` by nearest rank; `None` when empty.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    // The small margin keeps 99.9 % of 1000 at rank 999 despite 99.9 having no exact binary form.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

async fn one_connection(
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
    // A peer that closes without close_notify still sent its whole answer first.
    match tls.read_to_end(&mut answer).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    if answer.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other("not a 200"))
    }
}

/// TLS 1.3 only, any certificate accepted, HTTP/1.1 by ALPN; resumption off unless `resume`.
fn client_config(resume: bool) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_report_line_moves_bad_statuses_to_errors() {
        let out = "Running 5s test\nSTRAIT-LOAD 1000 5000000 1 2 3 4 5 800.0 2500.0 9000.0\n";
        let r = parse_wrk(out).expect("parsed");
        assert_eq!(r.requests, 996);
        assert_eq!(r.errors, 15);
        assert_eq!(r.breakdown.read, 2);
        assert_eq!(r.seconds, 5.0);
        assert_eq!(r.p99_ms, 2.5);
        assert!(parse_wrk("no report here").is_none());
    }

    #[test]
    fn oha_report_counts_failures_but_not_deadline_aborts() {
        let out = r#"{"summary": {"total": 5.0},
            "latencyPercentiles": {"p50": 0.0002, "p99": 0.0007, "p99.9": 0.0028},
            "statusCodeDistribution": {"200": 24990, "503": 3},
            "errorDistribution": {"aborted due to deadline": 4, "connection closed": 2}}"#;
        let r = parse_oha(out).expect("parsed");
        assert_eq!(r.requests, 24990);
        assert_eq!(r.breakdown.status, 3);
        assert_eq!(r.errors, 5);
        assert!((r.p99_ms - 0.7).abs() < 1e-9);
        assert!(parse_oha("{}").is_none());
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&v, 50.0), 500.0);
        assert_eq!(percentile_ms(&v, 99.9), 999.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }
}
