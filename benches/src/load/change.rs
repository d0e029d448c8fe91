//! Change under load: keep-alive load runs while the configuration is rewritten ten times a
//! second (a route added and one removed; every fifth write also moves the endpoint between
//! two addresses). Strait picks up its manifests folder by itself; nginx gets
//! `nginx -s reload` after each write. Probers measure from each write until the new route
//! answers, and from each endpoint move until a new connection is answered by the new
//! address (the upstream names itself in `x-upstream-addr`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use strait_e2e::manifests::IngressB;

use super::Options;
use super::clients::{self, Errors};
use super::procs::{http_header, http_status, rss_kib, tree};
use super::targets::{self, Env, PLAIN_HOST, PROBE_HOST, Running, Target};
use super::upstream::ADDR_HEADER;

/// Writes per second.
const RATE: u32 = 10;
/// Each probe route stays in the configuration for this many writes (two seconds), so a
/// route is not removed before a slow pickup could serve it.
const LIVE_WRITES: usize = 20;
/// A new route not answering within this long counts as missed.
const PROBE_DEADLINE: Duration = Duration::from_secs(2);
/// The endpoint moves on every this many writes (half a second apart at [`RATE`]), so a move
/// is seen before the next one even on a slow pickup.
const MOVE_EVERY: usize = 5;

/// The load generator's niceness in this part. wrk saturates the 2-core machine; at the same
/// priority the probers, which do the measuring, queue behind its threads for the CPU and a
/// pickup of 5 ms could read as 25. At nice 10 the probers and the proxy come first; the
/// proxy still runs at full load (wrk takes whatever CPU is left).
const LOAD_NICE: u8 = 10;

/// The upstream address (index into `Env::upstream`) of write `n`.
fn endpoint(n: usize) -> usize {
    (n / MOVE_EVERY) % 2
}

/// One target's churn run.
#[derive(Clone, Debug)]
pub struct ChurnRun {
    pub target: Target,
    /// Configuration writes (each followed by a reload for nginx).
    pub writes: usize,
    pub seconds: f64,
    /// Requests the load completed, and its failures by kind.
    pub requests: u64,
    pub errors: Errors,
    /// Milliseconds from each write to its new route's first 200, for the routes that answered.
    pub route_ms: Vec<f64>,
    /// New routes that never answered within the prober's deadline.
    pub missed: usize,
    /// Milliseconds from each endpoint move to the first new connection answered by the new
    /// address, for the moves that were seen.
    pub endpoint_ms: Vec<f64>,
    /// Endpoint moves not seen before the next write that moves it again.
    pub endpoint_missed: usize,
    /// Process count of the target's tree: before the churn and at its peak.
    pub processes_before: usize,
    pub processes_peak: usize,
    /// Sum of RSS over the tree, before the churn and at its peak (sampled every 100 ms).
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
}

/// Strait's and nginx's churn runs.
#[derive(Clone, Debug)]
pub struct ChangeReport {
    pub strait: ChurnRun,
    pub nginx: ChurnRun,
}

pub fn run(env: &Env, options: &Options) -> Result<ChangeReport> {
    let manifests = targets::strait_manifests(env, 0)?;
    write_strait(env, &manifests, 0)?;
    let mut strait = targets::start_strait(env, &manifests, &[])?;
    strait.wait_proxying()?;
    let upstream = env.upstream.clone();
    let strait = churn(options, &mut strait, &upstream, |n| {
        write_strait(env, &manifests, n)
    })
    .context("change under load: Strait")?;

    let mut nginx = targets::start_nginx(env, 0, &window(0))?;
    nginx.wait_proxying()?;
    let files = nginx.nginx.clone().context("nginx files")?;
    let nginx = churn(options, &mut nginx, &upstream, |n| {
        files.write(env, endpoint(n), &window(n))?;
        files.reload()
    })
    .context("change under load: nginx")?;
    Ok(ChangeReport { strait, nginx })
}

/// The probe routes live after write `n`: the last [`LIVE_WRITES`] ones.
fn window(n: usize) -> Vec<usize> {
    (n.saturating_sub(LIVE_WRITES - 1)..=n).collect()
}

/// Write `n` of Strait's churn: `echo.json` with the Service, its EndpointSlice on upstream
/// address [`endpoint`]`(n)`, and an Ingress with an Exact route per live probe.
fn write_strait(env: &Env, dir: &Path, n: usize) -> Result<()> {
    let mut objects = targets::echo_backend(env, endpoint(n))?;
    let mut probes = IngressB::new("default", "probes");
    for k in window(n) {
        probes = probes.rule(PROBE_HOST, &format!("/probe-{k}"), "Exact", "echo", 80);
    }
    objects.push(probes.build());
    targets::write_list(&dir.join("echo.json"), &objects)
}

/// Runs keep-alive load against `running` while `write(n)` is called [`RATE`] times a second
/// for `options.churn_seconds`; probes every new route; samples the process tree.
fn churn(
    options: &Options,
    running: &mut Running,
    upstream: &[String; 2],
    mut write: impl FnMut(usize) -> Result<()>,
) -> Result<ChurnRun> {
    let pid = running.pid().context("target has a process")?;
    let addr = running.http.clone();
    let seconds = options.churn_seconds;

    let processes_before = tree(pid).len();
    let rss_before = rss_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let (mut processes, mut rss) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                processes = processes.max(tree(pid).len());
                rss = rss.max(rss_kib(pid));
                thread::sleep(Duration::from_millis(100));
            }
            (processes, rss)
        })
    };
    // The load starts a second before the first write and ends a second after the last.
    let load = {
        let url = format!("http://{addr}/");
        let connections = options.connections;
        thread::spawn(move || {
            clients::wrk_with(
                &url,
                PLAIN_HOST,
                &[],
                false,
                connections,
                Duration::from_secs(seconds + 2),
                LOAD_NICE,
            )
        })
    };
    thread::sleep(Duration::from_secs(1));

    let start = Instant::now();
    let writes = (seconds * u64::from(RATE)) as usize;
    let mut probes = Vec::with_capacity(writes);
    let mut moves = Vec::new();
    for n in 1..=writes {
        let due = start + Duration::from_secs(n as u64 - 1) / RATE;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let written = Instant::now();
        write(n).with_context(|| format!("configuration write {n}"))?;
        if endpoint(n) != endpoint(n - 1) {
            let (addr, to) = (addr.clone(), upstream[endpoint(n)].clone());
            let window = Duration::from_secs(MOVE_EVERY as u64) / RATE;
            moves.push(thread::spawn(move || {
                probe_endpoint(&addr, &to, written, window)
            }));
        }
        let addr = addr.clone();
        probes.push(thread::spawn(move || probe(&addr, n, written)));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut route_ms = Vec::new();
    let mut missed = 0;
    for probe in probes {
        match probe.join().expect("prober thread") {
            Some(ms) => route_ms.push(ms),
            None => missed += 1,
        }
    }
    let (mut endpoint_ms, mut endpoint_missed) = (Vec::new(), 0);
    for probe in moves {
        match probe.join().expect("endpoint prober thread") {
            Some(ms) => endpoint_ms.push(ms),
            None => endpoint_missed += 1,
        }
    }
    let load = load.join().expect("load thread")?;
    stop.store(true, Ordering::Relaxed);
    let (processes_peak, rss_peak) = sampler.join().expect("sampler thread");
    if let Some(proc) = running.proc.as_mut() {
        proc.check_alive()?;
    }
    let run = ChurnRun {
        target: running.target,
        writes,
        seconds: elapsed,
        requests: load.requests,
        errors: load.breakdown,
        route_ms,
        missed,
        endpoint_ms,
        endpoint_missed,
        processes_before,
        processes_peak: processes_peak.max(processes_before),
        rss_before_mib: rss_before as f64 / 1024.0,
        rss_peak_mib: rss_peak.max(rss_before) as f64 / 1024.0,
    };
    eprintln!(
        "change under load · {:<7} · {} writes in {:.1} s · {} requests, {} failed ({:?}) · {} routes live, {} missed · {} endpoint moves seen, {} missed · {} → {} processes · {:.1} → {:.1} MiB",
        run.target.name(),
        run.writes,
        run.seconds,
        run.requests,
        run.errors.total(),
        run.errors,
        run.route_ms.len(),
        run.missed,
        run.endpoint_ms.len(),
        run.endpoint_missed,
        run.processes_before,
        run.processes_peak,
        run.rss_before_mib,
        run.rss_peak_mib,
    );
    Ok(run)
}

/// Polls `/probe-n` on new connections (so nginx's new workers, not an old one holding a
/// kept-alive connection, answer) until it is 200: milliseconds since `written`, or `None`
/// after [`PROBE_DEADLINE`].
fn probe(addr: &str, n: usize, written: Instant) -> Option<f64> {
    let path = format!("/probe-{n}");
    while written.elapsed() < PROBE_DEADLINE {
        if http_status(addr, PROBE_HOST, &path) == Some(200) {
            return Some(written.elapsed().as_secs_f64() * 1e3);
        }
        thread::sleep(Duration::from_millis(2));
    }
    None
}

/// Polls `GET /` on [`PLAIN_HOST`] over new connections until the address `to` answers:
/// milliseconds since `written`, or `None` when `window` (until the next move) runs out.
fn probe_endpoint(addr: &str, to: &str, written: Instant, window: Duration) -> Option<f64> {
    while written.elapsed() < window {
        if http_header(addr, PLAIN_HOST, "/", ADDR_HEADER).as_deref() == Some(to) {
            return Some(written.elapsed().as_secs_f64() * 1e3);
        }
        thread::sleep(Duration::from_millis(1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_last_live_writes() {
        assert_eq!(window(0), vec![0]);
        assert_eq!(window(3), vec![0, 1, 2, 3]);
        let w = window(100);
        assert_eq!(w.len(), LIVE_WRITES);
        assert_eq!(w.first(), Some(&(100 - LIVE_WRITES + 1)));
        assert_eq!(w.last(), Some(&100));
    }

    #[test]
    fn the_endpoint_moves_every_fifth_write() {
        let moves: Vec<usize> = (1..=20)
            .filter(|&n| endpoint(n) != endpoint(n - 1))
            .collect();
        assert_eq!(moves, vec![5, 10, 15, 20]);
    }
}
