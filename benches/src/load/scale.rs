//! Scale: Strait started on a manifests folder of 1k, 10k and 50k Ingresses (each with its
//! own Service and a five-pod EndpointSlice): time to ready, table-build time, peak RSS.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::procs::status_kib;
use super::targets::{Env, fresh_dir, start_strait, write_list};

/// One size of the scale part.
#[derive(Clone, Debug)]
pub struct ScaleRow {
    pub ingresses: usize,
    /// Endpoints in the generated EndpointSlices (5 per Service).
    pub endpoints: usize,
    /// Bytes of generated manifests on disk.
    pub manifest_bytes: u64,
    /// From spawning `strait serve` to `/readyz` answering 200.
    pub ready_seconds: f64,
    /// The first compile-and-publish: `strait_publish_duration_seconds` sum over its count
    /// (count 1 unless a later publish compiled the same objects again).
    pub build_seconds: f64,
    /// `VmHWM` of the process once ready.
    pub peak_rss_mib: f64,
    /// `VmRSS` once ready.
    pub rss_mib: f64,
}

/// Ready pods per Service.
const PODS: usize = 5;
/// Objects per manifest file (an Ingress, its Service and its EndpointSlice each count).
const OBJECTS_PER_FILE: usize = 3_000;
const INGRESSES_PER_FILE: usize = OBJECTS_PER_FILE / 3;

/// Runs every size in `sizes`, one Strait process each, stopped before the next.
pub fn run(env: &Env, sizes: &[usize]) -> Result<Vec<ScaleRow>> {
    sizes
        .iter()
        .map(|&ingresses| {
            let row = run_size(env, ingresses)
                .with_context(|| format!("scale part at {ingresses} Ingresses"))?;
            eprintln!(
                "scale · {:>6} Ingresses · {:>6} endpoints · {:>6.1} MiB of manifests · ready in {:>6.2} s · build {:>6.3} s · peak RSS {:>7.1} MiB · RSS {:>7.1} MiB",
                row.ingresses,
                row.endpoints,
                row.manifest_bytes as f64 / (1024.0 * 1024.0),
                row.ready_seconds,
                row.build_seconds,
                row.peak_rss_mib,
                row.rss_mib,
            );
            Ok(row)
        })
        .collect()
}

/// One size: writes the folder, starts Strait on it, reads its metrics and `/proc` once ready,
/// stops it and removes the folder.
fn run_size(env: &Env, ingresses: usize) -> Result<ScaleRow> {
    let dir = fresh_dir(env, &format!("scale-{ingresses}"))?;
    let manifest_bytes = write_manifests(&dir, ingresses)?;

    let started = Instant::now();
    let running = start_strait(env, &dir, &[])?;
    let ready_seconds = started.elapsed().as_secs_f64();

    let pid = running.pid().context("Strait has a process")?;
    let admin = running
        .admin
        .as_deref()
        .context("Strait has an admin address")?;
    let metrics = http_get(admin, "/metrics")?;
    let build_seconds = build_seconds(&metrics).with_context(|| {
        format!("no strait_publish_duration_seconds sum and count in {admin}/metrics")
    })?;
    // The table must hold what was generated, or the timings are of something else.
    let expected = [
        ("strait_table_routes", ingresses * 3),
        ("strait_table_endpoints", ingresses * PODS),
    ];
    for (name, want) in expected {
        let got = sample(&metrics, name).with_context(|| format!("no {name} in /metrics"))?;
        if got != want as f64 {
            bail!(
                "{name} is {got}, expected {want} (see {})",
                env.work.join("strait.log").display()
            );
        }
    }
    let kib = |field| status_kib(pid, field).with_context(|| format!("{field} of pid {pid}"));
    let peak_rss_mib = kib("VmHWM")? as f64 / 1024.0;
    let rss_mib = kib("VmRSS")? as f64 / 1024.0;

    drop(running);
    fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    Ok(ScaleRow {
        ingresses,
        endpoints: ingresses * PODS,
        manifest_bytes,
        ready_seconds,
        build_seconds,
        peak_rss_mib,
        rss_mib,
    })
}

/// The objects of Ingresses `range`: each Ingress, its Service and its EndpointSlice.
fn objects(range: std::ops::Range<usize>) -> Vec<Value> {
    range.flat_map(|i| crate::scale_objects(i, PODS)).collect()
}

/// Writes `ingresses` Ingresses with their Services and EndpointSlices into `dir` as `kind:
/// List` files of at most [`OBJECTS_PER_FILE`] objects; returns the bytes written. Each file is
/// generated just before it is written, so memory stays at one file's worth.
pub fn write_manifests(dir: &Path, ingresses: usize) -> Result<u64> {
    let mut bytes = 0;
    for (n, start) in (0..ingresses).step_by(INGRESSES_PER_FILE).enumerate() {
        let end = ingresses.min(start + INGRESSES_PER_FILE);
        let path = dir.join(format!("scale-{n:03}.json"));
        write_list(&path, &objects(start..end))?;
        bytes += fs::metadata(&path)?.len();
    }
    Ok(bytes)
}

/// The mean of `strait_publish_duration_seconds`: its sum over its count. Strait publishes
/// once when it loads the folder, so the count is 1 and this is the first build; a later
/// publish (a file event for the folder just written, or the periodic resync) compiles the
/// same objects again, so the mean is still the time of one build.
fn build_seconds(metrics: &str) -> Option<f64> {
    let sum = sample(metrics, "strait_publish_duration_seconds_sum")?;
    let count = sample(metrics, "strait_publish_duration_seconds_count")?;
    (count > 0.0).then(|| sum / count)
}

/// The value of the first sample of `name` in a Prometheus or OpenMetrics text exposition,
/// whatever its labels.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = match rest.strip_prefix('{') {
                Some(labelled) => &labelled[labelled.find('}')? + 1..],
                None => rest,
            };
            // A longer name sharing the prefix (`_sum` of `_sum_x`) is not followed by a space.
            rest.strip_prefix(' ')?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
}

/// One `GET` on a new HTTP/1.1 connection (`Connection: close`): the body of a 200 answer.
fn http_get(addr: &str, path: &str) -> Result<String> {
    let mut conn = TcpStream::connect(addr).with_context(|| format!("connect to {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer)
        .with_context(|| format!("read GET {addr}{path}"))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .with_context(|| format!("GET {addr}{path}: no end of headers"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("GET {addr}{path}: {status}");
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// Shaped as prometheus-client encodes the registry (OpenMetrics text).
    const EXPOSITION: &str = "\
# HELP strait_publish_duration_seconds Time to compile a table and swap it in (or find it unchanged).
# TYPE strait_publish_duration_seconds histogram
strait_publish_duration_seconds_sum 0.75
strait_publish_duration_seconds_count 3
strait_publish_duration_seconds_bucket{le=\"0.001\"} 0
strait_publish_duration_seconds_bucket{le=\"+Inf\"} 3
# TYPE strait_publishes_total counter
strait_publishes_total{result=\"published\"} 1
strait_publishes_total{result=\"unchanged\"} 2
strait_table_routes 3000
# EOF
";

    #[test]
    fn the_build_time_is_the_publish_sum_over_its_count() {
        assert_eq!(build_seconds(EXPOSITION), Some(0.25));
        let once =
            "strait_publish_duration_seconds_sum 1.5\nstrait_publish_duration_seconds_count 1\n";
        assert_eq!(build_seconds(once), Some(1.5));
    }

    #[test]
    fn samples_are_read_with_or_without_labels() {
        assert_eq!(sample(EXPOSITION, "strait_table_routes"), Some(3000.0));
        assert_eq!(sample(EXPOSITION, "strait_publishes_total"), Some(1.0));
        assert_eq!(
            sample(EXPOSITION, "strait_publish_duration_seconds_bucket"),
            Some(0.0)
        );
        // A name that only prefixes others, or only appears in a comment, has no sample.
        assert_eq!(sample(EXPOSITION, "strait_publish_duration_seconds"), None);
        assert_eq!(sample(EXPOSITION, "strait_table"), None);
        let digits = "strait_x_count2 9\nstrait_x_count 4\n";
        assert_eq!(sample(digits, "strait_x_count"), Some(4.0));
    }

    #[test]
    fn a_missing_or_empty_publish_metric_is_none() {
        let without = "strait_table_routes 3000\n# EOF\n";
        assert_eq!(build_seconds(without), None);
        let no_count = "strait_publish_duration_seconds_sum 0.5\n";
        assert_eq!(build_seconds(no_count), None);
        let never =
            "strait_publish_duration_seconds_sum 0\nstrait_publish_duration_seconds_count 0\n";
        assert_eq!(build_seconds(never), None);
    }

    fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} in {value}"))
    }

    #[test]
    fn every_ingress_has_its_own_service_and_slice() {
        let objects = objects(0..25);
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        let mut keys = BTreeSet::new();
        for object in &objects {
            let kind = str_at(object, "/kind");
            *kinds.entry(kind).or_default() += 1;
            let key = (
                kind,
                str_at(object, "/metadata/namespace"),
                str_at(object, "/metadata/name"),
            );
            assert!(keys.insert(key), "{key:?} is generated twice");
        }
        assert_eq!(
            kinds,
            BTreeMap::from([("EndpointSlice", 25), ("Ingress", 25), ("Service", 25)])
        );
        let services: BTreeSet<(&str, &str)> = objects
            .iter()
            .filter(|o| str_at(o, "/kind") == "Service")
            .map(|o| {
                (
                    str_at(o, "/metadata/namespace"),
                    str_at(o, "/metadata/name"),
                )
            })
            .collect();
        let mut hosts = BTreeSet::new();
        for object in &objects {
            let namespace = str_at(object, "/metadata/namespace");
            match str_at(object, "/kind") {
                "EndpointSlice" => {
                    let owner = str_at(object, "/metadata/labels/kubernetes.io~1service-name");
                    assert!(services.contains(&(namespace, owner)), "{object}");
                    let endpoints = object["endpoints"].as_array().expect("endpoints");
                    assert_eq!(endpoints.len(), PODS);
                }
                "Ingress" => {
                    assert_eq!(str_at(object, "/spec/ingressClassName"), "strait");
                    assert!(
                        hosts.insert(str_at(object, "/spec/rules/0/host")),
                        "{object}"
                    );
                    let paths = object
                        .pointer("/spec/rules/0/http/paths")
                        .and_then(Value::as_array)
                        .expect("paths");
                    assert_eq!(paths.len(), 3);
                    for path in paths {
                        let service = str_at(path, "/backend/service/name");
                        assert!(services.contains(&(namespace, service)), "{object}");
                    }
                }
                _ => {}
            }
        }
        let namespaces: BTreeSet<&str> = services.iter().map(|(ns, _)| *ns).collect();
        assert_eq!(namespaces.len(), crate::NAMESPACES);
    }

    #[test]
    fn manifests_are_split_into_lists_of_at_most_3000_objects() {
        let dir = std::env::temp_dir().join(format!("strait-scale-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        let bytes = write_manifests(&dir, 2_500).expect("written");
        let mut sizes = Vec::new();
        let mut on_disk = 0;
        for entry in fs::read_dir(&dir).expect("listed") {
            let path = entry.expect("entry").path();
            on_disk += fs::metadata(&path).expect("metadata").len();
            let list: Value =
                serde_json::from_slice(&fs::read(&path).expect("read")).expect("JSON");
            assert_eq!(list["kind"], "List");
            sizes.push(list["items"].as_array().expect("items").len());
        }
        fs::remove_dir_all(&dir).expect("cleaned up");
        sizes.sort_unstable();
        assert_eq!(sizes, [1_500, 3_000, 3_000]);
        assert_eq!(bytes, on_disk);
    }
}
