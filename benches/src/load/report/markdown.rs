//! The report's markdown: medians (min–max) per scenario and target, Strait/nginx and
//! Strait/HAProxy ratios with the largest gap, and the change-under-load and scale tables.

use std::fmt::{self, Write as _};

use super::Results;
use crate::load::change::{ChangeReport, ChurnRun};
use crate::load::clients::Errors;
use crate::load::scale::ScaleRow;
use crate::load::targets::Target;
use crate::load::{Options, Sample, Scenario};

pub(super) const PEERS: [Target; 2] = [Target::Nginx, Target::Haproxy];

/// A measured quantity of a [`Sample`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Metric {
    Rps,
    P50,
    P99,
    P999,
    Cpu,
    Rss,
}

impl Metric {
    const TABLE: [Metric; 6] = [
        Self::Rps,
        Self::P50,
        Self::P99,
        Self::P999,
        Self::Cpu,
        Self::Rss,
    ];
    const RATIOS: [Metric; 4] = [Self::Rps, Self::Cpu, Self::P99, Self::Rss];

    fn of(self, s: &Sample) -> Option<f64> {
        match self {
            Self::Rps => Some(s.rps),
            Self::P50 => Some(s.p50_ms),
            Self::P99 => Some(s.p99_ms),
            Self::P999 => Some(s.p999_ms),
            Self::Cpu => s.cpu_us_per_request,
            Self::Rss => s.peak_rss_mib,
        }
    }

    /// Short name, and decimals in tables (0: an integer with thousands separators).
    pub(super) fn column(self) -> (&'static str, usize) {
        match self {
            Self::Rps => ("req/s", 0),
            Self::P50 => ("p50", 2),
            Self::P99 => ("p99", 2),
            Self::P999 => ("p99.9", 2),
            Self::Cpu => ("CPU/req", 1),
            Self::Rss => ("RSS", 1),
        }
    }
}

/// Median, min and max of some repetitions.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

fn spread(values: &[f64]) -> Option<Spread> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let (n, mid) = (v.len(), v.len() / 2);
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => v[mid],
        _ => (v[mid - 1] + v[mid]) / 2.0,
    };
    Some(Spread {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

/// Nearest-rank percentile `p` of `sorted`.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    crate::load::clients::nearest_rank(sorted, p)
}

fn runs(samples: &[Sample], scenario: Scenario, target: Target) -> impl Iterator<Item = &Sample> {
    samples
        .iter()
        .filter(move |s| s.scenario == scenario && s.target == target)
}

fn values(samples: &[Sample], scenario: Scenario, target: Target, metric: Metric) -> Vec<f64> {
    runs(samples, scenario, target)
        .filter_map(|s| metric.of(s))
        .collect()
}

/// Strait's median over `peer`'s median.
pub(super) fn ratio(
    samples: &[Sample],
    scenario: Scenario,
    metric: Metric,
    peer: Target,
) -> Option<f64> {
    let median = |t| spread(&values(samples, scenario, t, metric)).map(|s| s.median);
    let r = median(Target::Strait)? / median(peer)?;
    (r.is_finite() && r > 0.0).then_some(r)
}

/// One Strait/peer ratio of medians.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Gap {
    scenario: Scenario,
    metric: Metric,
    peer: Target,
    ratio: f64,
}

impl Gap {
    /// Fewer req/s, or more CPU, latency or memory, than the peer.
    fn unfavourable(&self) -> bool {
        (self.metric == Metric::Rps && self.ratio < 1.0)
            || (self.metric != Metric::Rps && self.ratio > 1.0)
    }
}

pub(super) fn gaps(samples: &[Sample]) -> Vec<Gap> {
    let mut gaps = Vec::new();
    for scenario in Scenario::ALL {
        for metric in Metric::RATIOS {
            for peer in PEERS {
                if let Some(ratio) = ratio(samples, scenario, metric, peer) {
                    gaps.push(Gap {
                        scenario,
                        metric,
                        peer,
                        ratio,
                    });
                }
            }
        }
    }
    gaps
}

/// The ratio furthest from parity (|ln r|) in Strait's disfavour, else the furthest in its
/// favour; on a tie, the first in table order (`max_by` keeps the last, hence `rev`).
fn largest_gap(gaps: &[Gap]) -> Option<Gap> {
    let furthest = |unfavourable: bool| {
        let distance = |g: &&Gap| g.ratio.ln().abs();
        let candidates = gaps
            .iter()
            .rev()
            .filter(|g| g.unfavourable() == unfavourable);
        candidates
            .max_by(|a, b| distance(a).total_cmp(&distance(b)))
            .copied()
    };
    furthest(true).or_else(|| furthest(false))
}

fn gap_sentence(gap: Option<Gap>) -> String {
    let Some(g) = gap else {
        return "No ratio: Strait or both peers are missing from the samples.".into();
    };
    let (metric, scenario, peer) = (g.metric.column().0, g.scenario.title(), g.peer.name());
    let what = format!("{metric} in {scenario} — {:.2}× {peer}'s", g.ratio);
    if g.unfavourable() {
        format!("Largest gap in Strait's disfavour: {what}.")
    } else {
        format!("Strait is at parity or ahead on every ratio; its widest margin: {what}.")
    }
}

/// `30371.4` → `30,371`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = if v.round() < 0.0 {
        "-".to_string()
    } else {
        String::new()
    };
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `median (min–max)`, or the value alone when all repetitions agree; `—` when there is none.
fn cell(values: &[f64], metric: Metric) -> String {
    spread_cell(values, metric.column().1)
}

/// `median (min–max)` with `decimals` (0: an integer with thousands separators), or the value
/// alone when all repetitions agree; `—` when there is none.
pub(crate) fn spread_cell(values: &[f64], decimals: usize) -> String {
    let f = |v: f64| match decimals {
        0 => thousands(v),
        decimals => format!("{v:.decimals$}"),
    };
    match spread(values) {
        None => "—".into(),
        Some(s) if f(s.min) == f(s.max) => f(s.median),
        Some(s) => format!("{} ({}–{})", f(s.median), f(s.min), f(s.max)),
    }
}

/// One target's row of a scenario table, if it ran in that scenario.
fn target_row(samples: &[Sample], scenario: Scenario, target: Target) -> Option<Vec<String>> {
    runs(samples, scenario, target).next()?;
    let mut row = vec![target.name().to_string()];
    row.extend(Metric::TABLE.map(|m| cell(&values(samples, scenario, target, m), m)));
    let errors: u64 = runs(samples, scenario, target).map(|s| s.errors).sum();
    row.push(thousands(errors as f64));
    Some(row)
}

/// A markdown table; `header` separates its columns with `|`.
pub(crate) fn table(md: &mut String, header: &str, rows: &[Vec<String>]) -> fmt::Result {
    writeln!(
        md,
        "| {header} |\n|{}",
        " --- |".repeat(header.split('|').count())
    )?;
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        writeln!(md, "| {} |", cells.join(" | "))?;
    }
    writeln!(md)
}

pub(super) fn section(
    md: &mut String,
    r: &Results,
    options: &Options,
    chart: Option<&str>,
) -> fmt::Result {
    let f = &r.facts;
    let wall = (f.wall_seconds / 60.0).floor();
    writeln!(
        md,
        "## Load suite: Strait, nginx and HAProxy side by side\n\nGenerated by `{}` on {}, \
         commit `{}`, in {wall:.0} min {:.0} s of wall time; the next run replaces everything \
         between the markers.\n",
        f.command,
        f.date,
        f.commit,
        f.wall_seconds - wall * 60.0
    )?;
    let machine = [
        ("CPU", format!("{} ({} cores)", f.cpu_model, f.cores)),
        ("memory", format!("{:.1} GiB", f.memory_gib)),
        ("kernel", f.kernel.clone()),
        ("rustc", f.rustc.clone()),
        ("Strait", f.strait.clone()),
        ("nginx", f.nginx.clone()),
        ("HAProxy", f.haproxy.clone()),
        ("wrk", f.wrk.clone()),
        ("oha", f.oha.clone()),
        ("gnuplot", f.gnuplot.clone()),
    ];
    let rows: Vec<Vec<String>> = machine
        .into_iter()
        .map(|(k, v)| vec![k.into(), v])
        .collect();
    table(md, "machine and tools | ", &rows)?;
    method(md, options, f.cores)?;
    for scenario in Scenario::ALL {
        let rows: Vec<_> = Target::ALL
            .iter()
            .filter_map(|&t| target_row(&r.samples, scenario, t))
            .collect();
        if !rows.is_empty() {
            writeln!(md, "### {}\n", scenario.title())?;
            let header = "target | req/s | p50 ms | p99 ms | p99.9 ms | CPU µs/req | peak RSS MiB \
                          | errors";
            table(md, header, &rows)?;
        }
    }
    let gaps = gaps(&r.samples);
    if !gaps.is_empty() {
        ratios(md, &r.samples, &gaps, chart)?;
    }
    if let Some(change) = &r.change {
        change_section(md, change)?;
    }
    if !r.policies.is_empty() {
        crate::load::policies::section(md, &r.policies)?;
    }
    if !r.scale.is_empty() {
        scale_section(md, &r.scale)?;
    }
    Ok(())
}

fn method(md: &mut String, o: &Options, cores: usize) -> fmt::Result {
    let (c, rate) = (o.connections, o.rate);
    writeln!(
        md,
        "Method:\n\n\
         - One upstream on 127.0.0.2 answering 200 with 64 bytes; clients, proxies and upstream \
         all on loopback.\n\
         - Each run starts its target fresh, warms it for 1 s, then measures {} s; targets \
         alternate within each scenario; {} repetitions. Cells: median (min–max) over the \
         repetitions; errors: their total.\n\
         - One worker per core ({cores}) for every proxy: Strait's `--workers` (one \
         single-threaded runtime each), nginx `worker_processes`, HAProxy `nbthread`.\n\
         - Closed loop: wrk `-t{cores} -c{c}`; the new-connection scenarios send \
         `Connection: close`.\n\
         - TLS full handshake: a rustls client with resumption disabled (wrk's OpenSSL resumes \
         sessions). Every proxy serves the same ECDSA P-256 certificate.\n\
         - Fixed rate: oha `-q {rate} --latency-correction`, {c} connections.\n\
         - CPU: utime + stime of the proxy's processes from `/proc` over the measured interval, \
         divided by completed requests. RSS: sum of `VmHWM` of the proxy's processes at the end \
         of the run.\n\
         - Access logs off everywhere; nginx `keepalive_requests` raised to 1,000,000 (its \
         default, 1000, would close client connections; Strait and HAProxy have no cap).\n",
        o.duration, o.reps
    )
}

fn ratios(md: &mut String, samples: &[Sample], gaps: &[Gap], chart: Option<&str>) -> fmt::Result {
    writeln!(
        md,
        "### Ratios\n\nStrait's median over the peer's; req/s: higher is better, the others: \
         lower is better.\n"
    )?;
    let mut header = "scenario".to_string();
    for m in Metric::RATIOS {
        for p in PEERS {
            write!(header, " | {} Strait/{}", m.column().0, p.name())?;
        }
    }
    let cell = |s, m, p| ratio(samples, s, m, p).map_or("—".into(), |r| format!("{r:.2}×"));
    let rows: Vec<Vec<String>> = Scenario::ALL
        .iter()
        .map(|&s| {
            let ratios = Metric::RATIOS
                .iter()
                .flat_map(|&m| PEERS.map(|p| cell(s, m, p)));
            std::iter::once(s.title().to_string())
                .chain(ratios)
                .collect()
        })
        .collect();
    table(md, &header, &rows)?;
    writeln!(md, "{}\n", gap_sentence(largest_gap(gaps)))?;
    match chart {
        Some(name) => writeln!(md, "![Strait's ratios to nginx and HAProxy]({name})\n"),
        None => Ok(()),
    }
}

/// Each kind of failure, what it means, and its count.
fn kinds(e: &Errors) -> [(&'static str, &'static str, u64); 5] {
    [
        ("connect", "connections refused or not accepted", e.connect),
        (
            "read",
            "connections closed under in-flight requests",
            e.read,
        ),
        (
            "write",
            "connections closed before the request was sent",
            e.write,
        ),
        (
            "timeout",
            "requests unanswered within the client's timeout",
            e.timeout,
        ),
        ("status", "answers other than 2xx/3xx", e.status),
    ]
}

/// `0`, or the total and its non-zero kinds: `12 (read 10, status 2)`.
fn failures(e: &Errors) -> String {
    let parts: Vec<String> = kinds(e)
        .iter()
        .filter(|k| k.2 > 0)
        .map(|(kind, _, n)| format!("{kind} {}", thousands(*n as f64)))
        .collect();
    match e.total() {
        0 => "0".into(),
        total => format!("{} ({})", thousands(total as f64), parts.join(", ")),
    }
}

/// What a churn run's failures, routes and processes say, in one sentence.
fn churn_sentence(run: &ChurnRun, p99: Option<f64>) -> String {
    let (name, total, writes) = (run.target.name(), run.errors.total(), run.writes);
    let mut s = format!("{name}: no failed request over {writes} configuration writes");
    if let Some((kind, meaning, n)) = kinds(&run.errors).into_iter().max_by_key(|k| k.2)
        && total > 0
    {
        let attempts = (run.requests + total) as f64;
        s = format!(
            "{name}: {} of {} requests failed ({:.3}%) over {writes} configuration writes, \
             mostly {kind} errors ({}): {meaning}",
            thousands(total as f64),
            thousands(attempts),
            100.0 * total as f64 / attempts,
            thousands(n as f64),
        );
    }
    let probed = run.missed + run.route_ms.len();
    s += &match (run.missed, p99) {
        (0, Some(p99)) => format!("; every new route answered, p99 {p99:.1} ms after its write"),
        (0, None) => "; no route was probed".into(),
        (missed, _) => format!("; {missed} of {probed} new routes never answered"),
    };
    if run.processes_peak > run.processes_before {
        let (a, b) = (run.processes_before, run.processes_peak);
        s += &format!("; its process count went from {a} to {b} at peak");
    }
    s + "."
}

fn change_section(md: &mut String, change: &ChangeReport) -> fmt::Result {
    writeln!(
        md,
        "### Change under load\n\nKeep-alive load while the configuration is rewritten ten \
         times a second (a route added, one removed; every fifth write also moves the \
         endpoint). Strait reads its manifests folder; nginx gets `nginx -s reload` after each \
         write. Route live: from a write to its new route's first 200. Endpoint live: from a \
         write that moves the endpoint to the first new connection answered by the new address \
         (missed: not seen before the next move, half a second later). The load generator \
         runs at nice 10 here, so that the probers are not queued behind it for the CPU.\n"
    )?;
    let (mut rows, mut sentences) = (Vec::new(), Vec::new());
    for run in [&change.strait, &change.nginx] {
        let mut sorted = run.route_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let [p50, p99] = [50.0, 99.0].map(|p| percentile(&sorted, p));
        let ms = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1}"));
        rows.push(vec![
            run.target.name().into(),
            run.writes.to_string(),
            format!("{:.1}", run.seconds),
            thousands(run.requests as f64),
            failures(&run.errors),
            format!("{} / {}", ms(p50), ms(p99)),
            run.missed.to_string(),
            {
                let mut moved = run.endpoint_ms.clone();
                moved.sort_by(f64::total_cmp);
                let [p50, p99] = [50.0, 99.0].map(|p| percentile(&moved, p));
                format!("{} / {} ({} missed)", ms(p50), ms(p99), run.endpoint_missed)
            },
            format!("{} → {}", run.processes_before, run.processes_peak),
            format!("{:.1} → {:.1}", run.rss_before_mib, run.rss_peak_mib),
        ]);
        sentences.push(churn_sentence(run, p99));
    }
    let header = "target | config writes | seconds | requests completed | failed requests \
                  | route live p50 / p99 ms | missed routes | endpoint live p50 / p99 ms \
                  | processes before → peak \
                  | RSS before → peak MiB";
    table(md, header, &rows)?;
    writeln!(md, "- {}\n", sentences.join("\n- "))
}

fn scale_section(md: &mut String, scale: &[ScaleRow]) -> fmt::Result {
    let rows: Vec<Vec<String>> = scale
        .iter()
        .map(|r| {
            let mib = r.manifest_bytes as f64 / (1024.0 * 1024.0);
            let (ready, build) = (r.ready_seconds, r.build_seconds * 1e3);
            let (ingresses, endpoints) = (r.ingresses as f64, r.endpoints as f64);
            vec![
                thousands(ingresses),
                thousands(endpoints),
                format!("{mib:.1}"),
            ]
            .into_iter()
            .chain([format!("{ready:.2}"), format!("{build:.1}")])
            .chain([r.peak_rss_mib, r.rss_mib].map(|m| format!("{m:.1}")))
            .collect()
        })
        .collect();
    let header = "Ingresses | endpoints | manifests MiB | time to ready s | table build ms \
                  | peak RSS MiB | RSS MiB";
    writeln!(md, "### Scale\n")?;
    table(md, header, &rows)
}

#[cfg(test)]
mod tests {
    use super::super::tests::samples;
    use super::*;

    #[test]
    fn spread_of_odd_and_even_counts() {
        let odd = spread(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            odd,
            Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        let even = spread(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(
            even,
            Spread {
                median: 2.5,
                min: 1.0,
                max: 4.0
            }
        );
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(100.0));
        assert_eq!(percentile(&v, 99.0), Some(198.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn largest_gap_names_the_worst_ratio_for_strait() {
        let halved = samples(|s, t| match (s, t) {
            (Scenario::TlsKeepAlive, Target::Strait) => 15_000.0,
            (_, Target::Strait) => 27_000.0,
            _ => 30_000.0,
        });
        let gap = largest_gap(&gaps(&halved)).unwrap();
        assert_eq!(
            (gap.scenario, gap.metric),
            (Scenario::TlsKeepAlive, Metric::Rps)
        );
        assert!((gap.ratio - 0.5).abs() < 0.001, "{gap:?}");
        assert!(gap_sentence(Some(gap)).starts_with("Largest gap in Strait's disfavour"));
    }

    #[test]
    fn largest_gap_without_disfavour_names_the_widest_margin() {
        let ahead = samples(|s, t| match (s, t) {
            (Scenario::NewConnection, Target::Nginx) => 10_000.0,
            _ => 30_000.0,
        });
        let gap = largest_gap(&gaps(&ahead)).unwrap();
        assert!(!gap.unfavourable());
        assert_eq!(
            (gap.scenario, gap.peer),
            (Scenario::NewConnection, Target::Nginx)
        );
        assert!(gap_sentence(Some(gap)).starts_with("Strait is at parity or ahead"));
    }

    #[test]
    fn table_row_shows_median_min_max_and_total_errors() {
        let s = samples(|_, _| 30_370.0);
        let row = target_row(&s, Scenario::KeepAlive, Target::Strait).unwrap();
        let expected = [
            "Strait",
            "30,371 (30,370–30,372)",
            "1.00",
            "3.00 (2.00–4.00)",
            "5.00",
            "20.0",
            "11.0 (10.0–12.0)",
            "3",
        ];
        assert_eq!(row, expected);
        let direct = target_row(&s, Scenario::KeepAlive, Target::Direct).unwrap();
        assert_eq!(direct[5..7], ["—", "—"]);
        assert_eq!(target_row(&s, Scenario::TlsKeepAlive, Target::Direct), None);
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
