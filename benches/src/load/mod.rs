//! The load suite: Strait next to direct, nginx and HAProxy on the same upstream, the same
//! certificate and the same worker count, in one run on one machine; then Strait and nginx
//! under configuration churn, and Strait at scale. Writes the generated part of
//! `benches/RESULTS.md` and `benches/load-ratios.png`.
//!
//! Run it with `bash benches/load.sh` (installs nginx, HAProxy, wrk, gnuplot and oha first).

pub mod change;
pub mod clients;
pub mod policies;
pub mod procs;
pub mod report;
pub mod scale;
pub mod targets;
pub mod upstream;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use procs::{Proc, cpu_seconds, free_port, peak_rss_kib};
use targets::{Env, PLAIN_HOST, TLS_HOST, Target};

#[derive(Parser, Debug)]
#[command(name = "load", about = "Strait's load suite against nginx and HAProxy")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the suite and write the report.
    Run(Options),
    /// Serve as the shared upstream (started by `run`).
    Upstream { addrs: Vec<std::net::SocketAddr> },
}

#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// The `strait` binary (release build).
    #[arg(long, default_value = "target/release/strait")]
    pub strait: PathBuf,
    /// Seconds of load per measured run.
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    /// Repetitions of every (scenario, target) pair; targets alternate within each.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Client connections of the closed-loop and fixed-rate scenarios.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Requests per second of the fixed-rate latency scenario.
    #[arg(long, default_value_t = 5000)]
    pub rate: u32,
    /// Seconds of manifest (and nginx config) churn in the change-under-load part (60: 600
    /// writes and 120 endpoint moves, so that a p99 is not one sample).
    #[arg(long, default_value_t = 60)]
    pub churn_seconds: u64,
    /// Ingress counts of the scale part.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,50000")]
    pub scale: Vec<usize>,
    /// Parts to skip (comma-separated).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub skip: Vec<Part>,
    /// The report to update (between its load-suite markers).
    #[arg(long, default_value = "benches/RESULTS.md")]
    pub results: PathBuf,
    /// The chart of the main ratios.
    #[arg(long, default_value = "benches/load-ratios.png")]
    pub chart: PathBuf,
    /// Scratch folder (configs, manifests, logs); emptied first.
    #[arg(long, default_value = "target/load-work")]
    pub work: PathBuf,
}

/// The suite's three parts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The scenarios side by side with nginx and HAProxy.
    Load,
    /// Configuration churn under load.
    Change,
    /// Strait at 1k/10k/50k Ingresses.
    Scale,
    /// What each per-route policy costs (Strait only).
    Policies,
}

/// The measured scenarios, in run order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    KeepAlive,
    NewConnection,
    TlsKeepAlive,
    TlsNewConnection,
    FixedRate,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::KeepAlive,
        Scenario::NewConnection,
        Scenario::TlsKeepAlive,
        Scenario::TlsNewConnection,
        Scenario::FixedRate,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Scenario::KeepAlive => "HTTP/1.1 keep-alive",
            Scenario::NewConnection => "HTTP/1.1 new connection per request",
            Scenario::TlsKeepAlive => "TLS 1.3 keep-alive",
            Scenario::TlsNewConnection => "TLS 1.3 new connection per request (full handshake)",
            Scenario::FixedRate => "fixed rate, HTTP/1.1 keep-alive",
        }
    }

    /// Short label for the chart.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::KeepAlive => "keep-alive",
            Scenario::NewConnection => "new conn",
            Scenario::TlsKeepAlive => "TLS keep-alive",
            Scenario::TlsNewConnection => "TLS new conn",
            Scenario::FixedRate => "fixed rate",
        }
    }

    pub fn tls(self) -> bool {
        matches!(self, Scenario::TlsKeepAlive | Scenario::TlsNewConnection)
    }

    /// The targets of this scenario: direct has no TLS listener.
    pub fn targets(self) -> &'static [Target] {
        if self.tls() {
            &Target::PROXIES
        } else {
            &Target::ALL
        }
    }
}

/// One measured run of one target in one scenario.
#[derive(Clone, Debug)]
pub struct Sample {
    pub scenario: Scenario,
    pub target: Target,
    pub rep: usize,
    /// Completed requests (2xx/3xx answers).
    pub requests: u64,
    /// Failed requests: connect/read/write errors, timeouts and non-2xx/3xx answers.
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// CPU time (user + system) of the proxy's processes per completed request.
    pub cpu_us_per_request: Option<f64>,
    /// Sum of the proxy processes' peak RSS (`VmHWM`) at the end of the run.
    pub peak_rss_mib: Option<f64>,
}

/// Entry point of `cargo run -p strait-benches --release --example load -- ...`.
pub fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Upstream { addrs } => upstream::run(&addrs),
        Cmd::Run(options) => {
            stop_all_on_signal()?;
            run(options)
        }
    }
}

/// The suite's children run in process groups of their own (so that a whole nginx can be
/// stopped), out of reach of the terminal's Ctrl-C: on SIGINT or SIGTERM this stops them all
/// before exiting.
fn stop_all_on_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut interrupt, mut terminate) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        });
        eprintln!("load suite: interrupted; stopping everything it started");
        procs::stop_all();
        std::process::exit(130);
    });
    Ok(())
}

fn run(options: Options) -> Result<()> {
    let started = Instant::now();
    if !options.strait.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p strait-controller`",
            options.strait.display()
        );
    }
    let _ = std::fs::remove_dir_all(&options.work);
    std::fs::create_dir_all(&options.work)?;
    let work = std::fs::canonicalize(&options.work)?;
    let facts = report::Facts::gather(&options)?;
    eprintln!("load suite: {}", facts.summary());

    let (upstream, _upstream_proc) = start_upstream(&work)?;
    let env = Env {
        strait: std::fs::canonicalize(&options.strait)?,
        work: work.clone(),
        upstream,
        cert: strait_e2e::tls::cert_for(&[TLS_HOST]),
        workers: std::thread::available_parallelism().map_or(2, usize::from),
    };
    env.write_cert_files()?;

    let mut results = report::Results {
        facts,
        samples: Vec::new(),
        change: None,
        scale: Vec::new(),
        policies: Vec::new(),
    };
    if !options.skip.contains(&Part::Load) {
        results.samples = measure(&env, &options)?;
    }
    // A failure in the later parts is reported after the measurements so far are written.
    let mut failed = Vec::new();
    if !options.skip.contains(&Part::Change) {
        match change::run(&env, &options) {
            Ok(change) => results.change = Some(change),
            Err(e) => failed.push(e.context("change under load")),
        }
    }
    if !options.skip.contains(&Part::Policies) {
        match policies::run(&env, &options) {
            Ok(samples) => results.policies = samples,
            Err(e) => failed.push(e.context("policies")),
        }
    }
    if !options.skip.contains(&Part::Scale) {
        match scale::run(&env, &options.scale) {
            Ok(scale) => results.scale = scale,
            Err(e) => failed.push(e.context("scale")),
        }
    }
    results.facts.wall_seconds = started.elapsed().as_secs_f64();
    report::write(&results, &options)?;
    eprintln!(
        "load suite: done in {:.0} s; wrote {} and {}",
        started.elapsed().as_secs_f64(),
        options.results.display(),
        options.chart.display()
    );
    for e in &failed {
        eprintln!("load suite: part failed: {e:#}");
    }
    match failed.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Starts the upstream (this same binary, `upstream` subcommand) on 127.0.0.2 and 127.0.0.3.
fn start_upstream(work: &std::path::Path) -> Result<([String; 2], Proc)> {
    let port = free_port("127.0.0.2")?;
    let addrs = [format!("127.0.0.2:{port}"), format!("127.0.0.3:{port}")];
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("upstream").args(&addrs);
    let mut proc = Proc::spawn("upstream", cmd, &work.join("upstream.log"))?;
    for addr in &addrs {
        proc.wait_ready("the upstream", Duration::from_secs(10), || {
            procs::http_status(addr, PLAIN_HOST, "/") == Some(200)
        })?;
    }
    Ok((addrs, proc))
}

/// The throughput and latency scenarios: every repetition runs every scenario, and within a
/// scenario the targets alternate. Each run starts its target fresh, warms it for one second,
/// then measures.
fn measure(env: &Env, options: &Options) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    let duration = Duration::from_secs(options.duration);
    for rep in 0..options.reps {
        for scenario in Scenario::ALL {
            for &target in scenario.targets() {
                let mut running = targets::start(env, target)?;
                let load = clients::Load {
                    scenario,
                    http: running.http.clone(),
                    https: running.https.clone(),
                    connections: options.connections,
                    rate: options.rate,
                };
                load.run(Duration::from_secs(1))
                    .with_context(|| format!("warm-up of {}", target.name()))?;
                let cpu_before = running.pid().map(cpu_seconds);
                let result = load
                    .run(duration)
                    .with_context(|| format!("{} against {}", scenario.title(), target.name()))?;
                let cpu = running.pid().map(cpu_seconds);
                let rss = running.pid().map(peak_rss_kib);
                if let Some(proc) = running.proc.as_mut() {
                    proc.check_alive()?;
                }
                let requests = result.requests.max(1) as f64;
                let sample = Sample {
                    scenario,
                    target,
                    rep,
                    requests: result.requests,
                    errors: result.errors,
                    rps: result.requests as f64 / result.seconds,
                    p50_ms: result.p50_ms,
                    p99_ms: result.p99_ms,
                    p999_ms: result.p999_ms,
                    cpu_us_per_request: cpu
                        .zip(cpu_before)
                        .map(|(after, before)| (after - before) * 1e6 / requests),
                    peak_rss_mib: rss.map(|kib| kib as f64 / 1024.0),
                };
                eprintln!(
                    "rep {} · {:<52} · {:<7} · {:>8.0} req/s · p99 {:>6.2} ms · {} errors · cpu {} µs/req · rss {} MiB",
                    rep + 1,
                    scenario.title(),
                    target.name(),
                    sample.rps,
                    sample.p99_ms,
                    sample.errors,
                    sample
                        .cpu_us_per_request
                        .map_or("-".into(), |c| format!("{c:.1}")),
                    sample
                        .peak_rss_mib
                        .map_or("-".into(), |m| format!("{m:.1}")),
                );
                samples.push(sample);
            }
        }
    }
    Ok(samples)
}
