//! The ratio chart: a gnuplot data file and script, rendered to PNG.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, anyhow, bail};

use super::markdown::{Metric, PEERS, ratio};
use crate::load::targets::Target;
use crate::load::{Options, Sample, Scenario};

/// The chart's panels, each with its metrics; every metric has a bar per peer.
const PANELS: [(&str, [Metric; 2]); 2] = [
    ("req/s and CPU per request", [Metric::Rps, Metric::Cpu]),
    (
        "p99 latency and peak RSS (lower is better)",
        [Metric::P99, Metric::Rss],
    ),
];
/// Bar colours in series order: dark for the panel's first metric; green nginx, blue HAProxy.
const COLOURS: [&str; 4] = ["#2e7d32", "#1565c0", "#a5d6a7", "#90caf9"];

/// Every panel's series in order: (metric, peer).
fn series() -> impl Iterator<Item = (Metric, Target)> {
    PANELS
        .into_iter()
        .flat_map(|(_, ms)| ms.into_iter().flat_map(|m| PEERS.map(|p| (m, p))))
}

/// One line per scenario: index, label, then the ratio of every series (`?` if missing).
fn chart_data(samples: &[Sample]) -> String {
    let mut out = String::from("# index, label, then Strait's ratio for every chart series\n");
    for (i, s) in Scenario::ALL.into_iter().enumerate() {
        let r =
            series().map(|(m, p)| ratio(samples, s, m, p).map_or("?".into(), |r| r.to_string()));
        out += &format!(
            "{i} \"{}\" {}\n",
            s.label(),
            r.collect::<Vec<_>>().join(" ")
        );
    }
    out
}

/// Log-scale bounds with room for the value labels around every ratio of `metrics`.
fn y_range(samples: &[Sample], metrics: [Metric; 2]) -> (f64, f64) {
    let all = Scenario::ALL.into_iter().flat_map(|s| {
        metrics
            .into_iter()
            .flat_map(move |m| PEERS.map(|p| ratio(samples, s, m, p)))
    });
    let (lo, hi) = all
        .flatten()
        .fold((0.8f64, 1.25f64), |(l, h), r| (l.min(r), h.max(r)));
    (lo * 0.6, hi / 0.6)
}

fn chart_script(samples: &[Sample], data: &Path, chart: &Path, terminal: &str) -> String {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "''"));
    let xtics: Vec<String> = Scenario::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| format!("\"{}\" {i}", s.label().replacen(' ', "\\n", 1)))
        .collect();
    let mut gp = format!(
        "set terminal {terminal} size 1000,560 font 'Sans,9'\nset output {}\n\
         set datafile missing '?'\nset multiplot layout 1,2 title \"Strait relative to nginx \
         and HAProxy (req/s: higher is better; CPU per request: lower is better)\" font ',11'\n\
         set logscale y 2\nset ytics (0.125, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 8, 16)\n\
         set grid ytics\nset style fill solid 0.9 border -1\n\
         set key below maxrows 2\nset bmargin 7\n\
         set xrange [-0.6:{}]\nset xtics ({}) scale 0\nset ylabel 'Strait / peer'\n\
         set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 front\n",
        quote(chart),
        Scenario::ALL.len() as f64 - 0.4,
        xtics.join(", ")
    );
    let mut series = series().enumerate();
    for (title, metrics) in PANELS {
        let (lo, hi) = y_range(samples, metrics);
        let mut plots = vec!["NaN with lines lw 2 dt 2 lc 'black' title '1.0 = parity'".into()];
        for (k, (j, (m, p))) in series.by_ref().take(COLOURS.len()).enumerate() {
            let (x, c, w) = (format!("($1{:+.2})", (k as f64 - 1.5) * 0.2), j + 3, 0.09);
            plots.push(format!(
                "{} using {x}:(1):({x}-{w}):({x}+{w}):(1):{c} with boxxyerror lc rgb '{}' \
                 title '{} vs {}'",
                quote(data),
                COLOURS[k],
                m.column().0,
                p.name()
            ));
            for (cmp, align, off) in [(">=", "left", 0.4), ("<", "right", -0.4)] {
                plots.push(format!(
                    "'' using {x}:(${c} {cmp} 1 ? ${c} : NaN):(sprintf('%.2f', ${c})) with \
                     labels rotate by 90 {align} offset 0,{off} font ',7' notitle"
                ));
            }
        }
        gp += &format!("set title '{title}'\nset yrange [{lo:.3}:{hi:.3}]\n");
        gp += &format!("plot {}\n", plots.join(", \\\n     "));
    }
    gp + "unset multiplot\n"
}

/// Draws the ratio chart with gnuplot: pngcairo, or plain png where cairo is missing.
pub(super) fn draw_chart(samples: &[Sample], options: &Options) -> Result<()> {
    fs::create_dir_all(&options.work)?;
    let data = options.work.join("load-ratios.dat");
    let script = options.work.join("load-ratios.gp");
    fs::write(&data, chart_data(samples))?;
    let mut stderr = String::new();
    for terminal in ["pngcairo", "png"] {
        fs::write(
            &script,
            chart_script(samples, &data, &options.chart, terminal),
        )?;
        let out = Command::new("gnuplot")
            .arg(&script)
            .output()
            .map_err(|e| anyhow!("gnuplot ({e}): install it (benches/load.sh does)"))?;
        if out.status.success() {
            return Ok(());
        }
        stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    bail!("gnuplot failed on {}: {stderr}", script.display())
}

#[cfg(test)]
mod tests {
    use super::super::tests::samples;
    use super::super::{Facts, Results, write};
    use super::*;
    use crate::load::change::{ChangeReport, ChurnRun};
    use crate::load::clients::Errors;

    #[test]
    #[ignore = "needs gnuplot; writes a sample report and chart into /tmp/strait-load-report"]
    fn renders_a_sample_report_and_chart() {
        let mut s = samples(|s, t| match t {
            Target::Direct => 48_000.0,
            Target::Strait => 30_000.0,
            Target::Nginx => 24_000.0 + 3_000.0 * s as usize as f64,
            Target::Haproxy => 36_000.0 - 4_500.0 * s as usize as f64,
        });
        for x in &mut s {
            let f = 0.7 + 0.3 * x.target as usize as f64 - 0.1 * x.scenario as usize as f64;
            x.cpu_us_per_request = x.cpu_us_per_request.map(|c| c * f);
            x.peak_rss_mib = x.peak_rss_mib.map(|m| m * (4.0 - x.target as usize as f64));
            x.p99_ms *= f;
        }
        let run = |target, read| ChurnRun {
            target,
            writes: 300,
            seconds: 30.0,
            requests: 2_000_000,
            errors: Errors {
                read,
                ..Errors::default()
            },
            route_ms: (1..=290).map(f64::from).collect(),
            missed: (read > 0) as usize * 10,
            endpoint_ms: (1..=58).map(f64::from).collect(),
            endpoint_missed: 0,
            processes_before: 3,
            processes_peak: 3 + (read > 0) as usize * 27,
            rss_before_mib: 10.0,
            rss_peak_mib: 14.0,
        };
        let dir = Path::new("/tmp/strait-load-report");
        fs::create_dir_all(dir).unwrap();
        let options = Options {
            strait: "strait".into(),
            duration: 5,
            reps: 3,
            connections: 64,
            rate: 5000,
            churn_seconds: 30,
            scale: vec![],
            skip: vec![],
            results: dir.join("RESULTS.md"),
            chart: dir.join("load-ratios.png"),
            work: dir.join("work"),
        };
        let results = Results {
            facts: Facts::gather(&options).unwrap(),
            samples: s,
            change: Some(ChangeReport {
                strait: run(Target::Strait, 0),
                nginx: run(Target::Nginx, 1234),
            }),
            scale: vec![],
            policies: vec![],
        };
        fs::write(&options.results, "# Results\n").unwrap();
        write(&results, &options).unwrap();
    }
}
