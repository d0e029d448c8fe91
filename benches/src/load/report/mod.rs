//! The report: machine facts and tool versions, tables of medians (min–max) per scenario,
//! Strait/nginx and Strait/HAProxy ratios, the change-under-load and scale tables, written
//! between markers in `benches/RESULTS.md`, and a PNG chart of the ratios drawn by gnuplot.
//!
//! This module gathers the facts and splices the section into the results file; the section
//! itself is built in `markdown`, the chart drawn in `chart`.

mod chart;
pub(crate) mod markdown;

use std::ffi::OsStr;
use std::fs;
use std::process::Command;

use anyhow::{Context, Result, bail};

use self::chart::draw_chart;
use self::markdown::{gaps, section};
use super::change::ChangeReport;
use super::scale::ScaleRow;
use super::{Options, Sample};

const BEGIN: &str = "<!-- load-suite:begin -->";
const END: &str = "<!-- load-suite:end -->";

/// What the machine and tools were.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub date: String,
    pub commit: String,
    pub cpu_model: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub strait: String,
    pub nginx: String,
    pub haproxy: String,
    pub wrk: String,
    pub oha: String,
    pub gnuplot: String,
    /// The suite's arguments as run.
    pub command: String,
    pub wall_seconds: f64,
}

impl Facts {
    /// Reads the machine and asks every tool its version; a missing tool reads "not found".
    pub fn gather(options: &Options) -> Result<Facts> {
        let dirty = stdout_of("git", &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
        let commit = stdout_of("git", &["rev-parse", "--short", "HEAD"])
            .map_or("unknown".into(), |c| if dirty { c + "-dirty" } else { c });
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = proc_field(&meminfo, "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let args: Vec<String> = std::env::args().collect();
        let unknown = || "unknown".to_string();
        Ok(Facts {
            date: stdout_of("date", &["-u", "+%Y-%m-%d"]).unwrap_or_else(unknown),
            commit,
            cpu_model: proc_field(&cpuinfo, "model name").map_or_else(unknown, Into::into),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gib: mem_kib / (1024.0 * 1024.0),
            kernel: stdout_of("uname", &["-r"]).unwrap_or_else(unknown),
            rustc: version("rustc", &["-V"]),
            strait: version(&options.strait, &["--version"]),
            nginx: version("nginx", &["-v"]),
            haproxy: version("haproxy", &["-v"]),
            wrk: version("wrk", &["-v"]),
            oha: version("oha", &["--version"]),
            gnuplot: version("gnuplot", &["--version"]),
            command: command_line(&args),
            wall_seconds: 0.0,
        })
    }

    /// One line for the console.
    pub fn summary(&self) -> String {
        let head = format!(
            "{} cores, {}, {:.0} GiB",
            self.cores, self.cpu_model, self.memory_gib
        );
        [
            &head,
            &self.strait,
            &self.nginx,
            &self.haproxy,
            &self.wrk,
            &self.oha,
            &self.gnuplot,
        ]
        .map(String::as_str)
        .join("; ")
    }
}

/// Everything one run measured.
pub struct Results {
    pub facts: Facts,
    pub samples: Vec<Sample>,
    pub change: Option<ChangeReport>,
    pub scale: Vec<ScaleRow>,
    pub policies: Vec<super::policies::PolicySample>,
}

/// Writes the report section, then the chart (so a gnuplot failure loses no numbers).
pub fn write(results: &Results, options: &Options) -> Result<()> {
    let charted = !gaps(&results.samples).is_empty();
    let chart = options
        .chart
        .file_name()
        .filter(|_| charted)
        .map(|n| n.to_string_lossy());
    let mut md = String::new();
    // Writing into a String cannot fail.
    section(&mut md, results, options, chart.as_deref()).expect("formatting into a String");
    let path = &options.results;
    let existing = match fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        read => read.with_context(|| path.display().to_string())?,
    };
    let updated = splice(&existing, &md).with_context(|| path.display().to_string())?;
    let tmp = path.with_extension("md.tmp");
    fs::write(&tmp, updated).and_then(|()| fs::rename(&tmp, path))?;
    if charted {
        draw_chart(&results.samples, options)?;
    }
    Ok(())
}

/// `existing` with `section` between the markers, or with markers and section appended.
fn splice(existing: &str, section: &str) -> Result<String> {
    let section = section.trim_end();
    match (existing.find(BEGIN), existing.find(END)) {
        (Some(b), Some(e)) if b < e => {
            let (head, tail) = (&existing[..b + BEGIN.len()], &existing[e..]);
            Ok(format!("{head}\n{section}\n{tail}"))
        }
        (None, None) => {
            let sep = match existing {
                "" => "",
                t if t.ends_with('\n') => "\n",
                _ => "\n\n",
            };
            Ok(format!("{existing}{sep}{BEGIN}\n{section}\n{END}\n"))
        }
        _ => bail!("has one load-suite marker without the other, or in the wrong order"),
    }
}

/// The command line as typed: `bash benches/load.sh` and the arguments after `run`.
fn command_line(args: &[String]) -> String {
    let run = args.iter().skip(1).position(|a| a == "run");
    let rest = run.map_or(&[][..], |i| &args[i + 2..]);
    let words = rest.iter().map(|a| {
        let safe = |c: char| c.is_ascii_alphanumeric() || "-_=.,/:+@".contains(c);
        match !a.is_empty() && a.chars().all(safe) {
            true => a.clone(),
            false => format!("'{}'", a.replace('\'', r"'\''")),
        }
    });
    std::iter::once("bash benches/load.sh".into())
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value of the first `key: value` line of a `/proc` file.
fn proc_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut fields = text.lines().filter_map(|l| l.split_once(':'));
    fields.find(|(k, _)| k.trim() == key).map(|(_, v)| v.trim())
}

/// Trimmed stdout of a command that succeeded.
fn stdout_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    out.status.success().then_some(text)
}

/// First line a tool prints on stdout or stderr, whatever its exit status (`wrk -v` fails),
/// without a copyright notice.
fn version(program: impl AsRef<OsStr>, args: &[&str]) -> String {
    let Ok(out) = Command::new(program).args(args).output() else {
        return "not found".into();
    };
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("not found");
    line.split(" Copyright")
        .next()
        .unwrap_or(line)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Scenario;
    use crate::load::targets::Target;

    fn sample(scenario: Scenario, target: Target, rep: usize, rps: f64) -> Sample {
        let proxy = target != Target::Direct;
        Sample {
            scenario,
            target,
            rep,
            requests: (rps * 5.0) as u64,
            errors: rep as u64,
            rps,
            p50_ms: 1.0,
            p99_ms: 2.0 + rep as f64,
            p999_ms: 5.0,
            cpu_us_per_request: proxy.then_some(20.0),
            peak_rss_mib: proxy.then_some(10.0 + rep as f64),
        }
    }

    /// Every scenario's targets over three repetitions at 30,000 req/s, except where `rps` says.
    pub(super) fn samples(rps: impl Fn(Scenario, Target) -> f64) -> Vec<Sample> {
        let mut out = Vec::new();
        for rep in 0..3 {
            for scenario in Scenario::ALL {
                for &target in scenario.targets() {
                    out.push(sample(
                        scenario,
                        target,
                        rep,
                        rps(scenario, target) + rep as f64,
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn splice_replaces_between_markers_and_keeps_the_rest() {
        let before = "# Title\r\n\nkept  text\n<!-- load-suite:begin -->\nold\nold\n";
        let after = "<!-- load-suite:end -->\ntrailing\n\n";
        let out = splice(&format!("{before}{after}"), "new\n").unwrap();
        let expected = before.replace("old\nold\n", "new\n");
        assert_eq!(out, format!("{expected}{after}"));
        // Running twice is stable.
        assert_eq!(splice(&out, "new\n").unwrap(), out);
    }

    #[test]
    fn splice_appends_markers_when_absent() {
        assert_eq!(
            splice("# Results\n", "new\n").unwrap(),
            "# Results\n\n<!-- load-suite:begin -->\nnew\n<!-- load-suite:end -->\n"
        );
        assert_eq!(
            splice("no newline", "x").unwrap(),
            "no newline\n\n<!-- load-suite:begin -->\nx\n<!-- load-suite:end -->\n"
        );
        assert!(splice("<!-- load-suite:end -->\n<!-- load-suite:begin -->\n", "x").is_err());
    }

    #[test]
    fn command_line_is_the_script_and_the_run_arguments() {
        let args = [
            "target/release/examples/load",
            "run",
            "--duration",
            "10",
            "--skip",
            "a b",
        ];
        let args: Vec<String> = args.map(String::from).to_vec();
        assert_eq!(
            command_line(&args),
            "bash benches/load.sh --duration 10 --skip 'a b'"
        );
    }
}
