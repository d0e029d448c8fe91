//! The standard `process_*` metrics (the names Prometheus client libraries use, unprefixed),
//! read from `/proc/self` when `/metrics` is scraped: nothing runs between scrapes.
//!
//! | exposed name | type | source |
//! | --- | --- | --- |
//! | `process_cpu_seconds_total` | counter | `/proc/self/stat` utime + stime |
//! | `process_resident_memory_bytes` | gauge | `/proc/self/status` `VmRSS` |
//! | `process_virtual_memory_bytes` | gauge | `/proc/self/status` `VmSize` |
//! | `process_open_fds` | gauge | entries of `/proc/self/fd` |
//! | `process_max_fds` | gauge | `/proc/self/limits` `Max open files` (soft) |
//! | `process_start_time_seconds` | gauge | `/proc/stat` `btime` + `/proc/self/stat` starttime |
//!
//! A value that cannot be read (not Linux, a `/proc` without it) is left out, not zero.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Clock ticks per second of `/proc/<pid>/stat` times: `USER_HZ`, 100 on every Linux ABI.
const USER_HZ: f64 = 100.0;

/// Every process metric as (exposed name, help text).
pub const PROCESS_NAMES: &[(&str, &str)] = &[
    (
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds",
    ),
    (
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
    ),
    (
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes",
    ),
    ("process_open_fds", "Number of open file descriptors"),
    ("process_max_fds", "Maximum number of open file descriptors"),
    (
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds",
    ),
];

/// A registry without prefix holding the process collector.
pub(crate) fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Process));
    registry
}

/// Reads `/proc/self` at each encode.
#[derive(Debug)]
struct Process;

/// What one read of `/proc` found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Sample {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<i64>,
    pub virtual_bytes: Option<i64>,
    pub open_fds: Option<i64>,
    pub max_fds: Option<i64>,
    pub start_time_seconds: Option<f64>,
}

impl Sample {
    pub(crate) fn read() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let stat = stat.as_deref().and_then(stat_fields);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| boot_time(&s));
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        Self {
            cpu_seconds: stat.map(|s| s.cpu_ticks as f64 / USER_HZ),
            resident_bytes: kib(&status, "VmRSS:"),
            virtual_bytes: kib(&status, "VmSize:"),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|dir| i64::try_from(dir.count()).unwrap_or(i64::MAX)),
            max_fds: max_open_files(&limits),
            start_time_seconds: stat
                .zip(boot)
                .map(|(s, boot)| boot as f64 + s.start_ticks as f64 / USER_HZ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct StatFields {
    cpu_ticks: u64,
    start_ticks: u64,
}

/// utime + stime (fields 14, 15) and starttime (22) of `/proc/<pid>/stat`. The command name
/// (field 2) is in parentheses and may hold spaces and `)`: fields are counted after the last
/// `)`.
fn stat_fields(stat: &str) -> Option<StatFields> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(StatFields {
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        start_ticks: field(22)?,
    })
}

fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A `Key:   1234 kB` line of `/proc/<pid>/status`, in bytes.
fn kib(status: &str, key: &str) -> Option<i64> {
    let line = status.lines().find_map(|line| line.strip_prefix(key))?;
    let kib: i64 = line.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft limit of `Max open files` in `/proc/<pid>/limits` (`unlimited` is left out).
fn max_open_files(limits: &str) -> Option<i64> {
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let sample = Sample::read();
        let help = |name: &str| {
            PROCESS_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, help)| *help)
        };
        if let Some(cpu) = sample.cpu_seconds {
            let counter = ConstCounter::new(cpu);
            let name = "process_cpu_seconds";
            let metric = encoder.encode_descriptor(
                name,
                help("process_cpu_seconds_total"),
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        let ints = [
            ("process_resident_memory_bytes", sample.resident_bytes),
            ("process_virtual_memory_bytes", sample.virtual_bytes),
            ("process_open_fds", sample.open_fds),
            ("process_max_fds", sample.max_fds),
        ];
        for (name, value) in ints {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                let metric =
                    encoder.encode_descriptor(name, help(name), None, gauge.metric_type())?;
                gauge.encode(metric)?;
            }
        }
        if let Some(start) = sample.start_time_seconds {
            let gauge = ConstGauge::new(start);
            let name = "process_start_time_seconds";
            let metric = encoder.encode_descriptor(name, help(name), None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let stat = "4242 (strait (a) b) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 \
                    9 0 123456 1000 200 18446744073709551615";
        assert_eq!(
            stat_fields(stat),
            Some(StatFields {
                cpu_ticks: 300,
                start_ticks: 123_456
            })
        );
        assert_eq!(stat_fields("garbage"), None);
        assert_eq!(stat_fields("1 (x) S 1 2"), None);
    }

    #[test]
    fn status_limits_and_boot_time_parse() {
        let status = "Name:\tstrait\nVmSize:\t  20000 kB\nVmRSS:\t    1500 kB\n";
        assert_eq!(kib(status, "VmRSS:"), Some(1_536_000));
        assert_eq!(kib(status, "VmSize:"), Some(20_480_000));
        assert_eq!(kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1048576              1048576              files\n";
        assert_eq!(max_open_files(limits), Some(1_048_576));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), None);
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_on_linux() {
        let sample = Sample::read();
        assert!(sample.cpu_seconds.is_some(), "{sample:?}");
        assert!(sample.resident_bytes.is_some_and(|b| b > 0), "{sample:?}");
        assert!(sample.open_fds.is_some_and(|n| n > 0), "{sample:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = sample.start_time_seconds.expect("start time");
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "{start} vs {now}"
        );
    }
}
