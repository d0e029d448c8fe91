use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use strait_shared::{CompileConfig, Kind, RouteTable};
use tokio::sync::mpsc;

use super::EMPTY_QUIET;
use crate::manifests::ManifestDir;
use crate::metrics::ControllerMetrics;
use crate::pipeline::Pipeline;
use crate::publish::Publisher;
use crate::watch::{ManifestSource, WatchConfig, watch};

const WINDOW: Duration = Duration::from_millis(50);

/// A Service, its EndpointSlice and an Ingress routing `w.example.com` to it: three documents.
fn documents() -> [String; 3] {
    [
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n\
         spec: {ports: [{name: http, port: 80, targetPort: 8080}]}\n"
            .to_owned(),
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, \
         namespace: default, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\n\
         endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]\n\
         ports: [{name: http, port: 8080}]\n"
            .to_owned(),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: \
         default}\nspec:\n  ingressClassName: strait\n  rules:\n  - host: w.example.com\n    \
         http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: \
         {number: 80}}}}]}\n"
            .to_owned(),
    ]
}

fn whole() -> String {
    documents().join("---\n")
}

fn open(root: &std::path::Path) -> ManifestDir {
    let mut dir = ManifestDir::open(root).expect("open");
    dir.settle_window(WINDOW);
    dir
}

/// Rescans until `done` holds (at most 2 s); how long after `since` that was.
fn rescan_until(
    dir: &mut ManifestDir,
    since: Instant,
    done: impl Fn(&ManifestDir) -> bool,
) -> Duration {
    loop {
        dir.rescan();
        if done(dir) {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(3), "never applied");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The kernel stamps mtime from its coarse clock, up to a tick (4 ms at 250 Hz) behind the
/// precise one the tests time with; a window measured from mtime may look that much short.
const MTIME_SLACK: Duration = Duration::from_millis(10);

#[test]
fn an_emptied_file_keeps_its_objects_until_it_reads_empty_once_settled() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a.yaml");
    std::fs::write(&file, whole()).expect("write");
    let mut dir = open(tmp.path());
    dir.rescan();
    assert_eq!(dir.object_count(), 3);

    // Timed from before the write: the window runs from the file's mtime.
    let truncated = Instant::now();
    std::fs::write(&file, "").expect("truncate");
    let report = dir.rescan();
    assert!(report.settling && !report.changed, "{report:?}");
    assert_eq!(dir.object_count(), 3, "held while it may be half-written");
    let waited = rescan_until(&mut dir, truncated, |d| d.object_count() == 0);
    assert!(
        waited + MTIME_SLACK >= EMPTY_QUIET,
        "applied after {waited:?}"
    );
    assert!(!dir.rescan().settling);
}

#[test]
fn a_file_cut_between_documents_keeps_its_objects_and_its_rewrite_applies_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a.yaml");
    std::fs::write(&file, whole()).expect("write");
    let mut dir = open(tmp.path());
    dir.rescan();
    std::fs::write(&file, &documents()[0]).expect("cut");
    assert!(dir.rescan().settling);
    assert_eq!(dir.object_count(), 3);
    // The rest arrives: the whole file again, nothing to apply, nothing held.
    std::fs::write(&file, whole()).expect("rewrite");
    let report = dir.rescan();
    assert!(!report.settling && !report.changed, "{report:?}");
    // A real removal applies once the file has been quiet for the window.
    let written = Instant::now();
    std::fs::write(&file, &documents()[0]).expect("remove two objects");
    let waited = rescan_until(&mut dir, written, |d| d.object_count() == 1);
    assert!(waited + MTIME_SLACK >= WINDOW, "applied after {waited:?}");
}

#[test]
fn a_version_that_only_adds_or_changes_objects_applies_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a.yaml");
    std::fs::write(&file, &documents()[0]).expect("write");
    let mut dir = open(tmp.path());
    dir.rescan();
    std::fs::write(&file, whole()).expect("grow");
    let report = dir.rescan();
    assert!(report.changed && !report.settling, "{report:?}");
    assert_eq!(dir.object_count(), 3);
}

/// A non-atomic writer (truncate, write the first document, then the rest) rewrites the file
/// in place over and over while the folder is watched; the route is checked all along, as
/// each request would: it must always be there, with its endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_in_place_never_loses_its_route() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a.yaml");
    std::fs::write(&file, whole()).expect("write");
    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let metrics = ControllerMetrics::default();
    let publisher = Publisher::new(table.clone(), CompileConfig::default());
    let (source, first) =
        ManifestSource::new(ManifestDir::open(tmp.path()).expect("open"), metrics)
            .scan_blocking(true)
            .await
            .expect("first scan");
    let (pipeline, _) = Pipeline::new(publisher, Kind::ALL)
        .apply_blocking(first.into_iter().collect())
        .await
        .expect("first publish");
    // Under a steady stream of writes (one every ~12 ms) the watch never sees 100 ms of
    // quiet: it rescans every 150 ms (the max delay), whatever state the file is in.
    let config = WatchConfig {
        max_delay: Duration::from_millis(150),
        ..WatchConfig::new(Duration::from_millis(100))
    };
    let (tx, rx) = mpsc::channel(16);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let compile = tokio::spawn(pipeline.run(rx, config.clone(), std::future::pending()));
    let watching = tokio::spawn(watch(source, tx, config, async {
        let _ = stopped.await;
    }));

    let done = Arc::new(AtomicBool::new(false));
    let (checks, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let checker = std::thread::spawn({
        let (table, done) = (table.clone(), done.clone());
        let (checks, failures) = (checks.clone(), failures.clone());
        move || {
            while !done.load(Ordering::Relaxed) {
                let table = table.load();
                let served = table
                    .lookup("w.example.com", "/")
                    .and_then(|found| found.backend.state.as_ref().ok().map(|e| e.len()))
                    .is_some_and(|endpoints| endpoints > 0);
                checks.fetch_add(1, Ordering::Relaxed);
                if !served {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });
    let writer = std::thread::spawn({
        let file = file.clone();
        move || {
            let [service, rest @ ..] = documents();
            let rest = format!("---\n{}", rest.join("---\n"));
            let started = Instant::now();
            let mut writes = 0;
            while started.elapsed() < Duration::from_millis(1500) {
                let mut out = std::fs::File::create(&file).expect("truncate");
                std::thread::sleep(Duration::from_millis(4));
                out.write_all(service.as_bytes()).expect("write");
                out.flush().expect("flush");
                std::thread::sleep(Duration::from_millis(4));
                out.write_all(rest.as_bytes()).expect("write");
                drop(out);
                writes += 1;
                std::thread::sleep(Duration::from_millis(4));
            }
            writes
        }
    });
    let writes = tokio::task::spawn_blocking(move || writer.join().expect("writer"))
        .await
        .expect("join");
    done.store(true, Ordering::Relaxed);
    checker.join().expect("checker");
    stop.send(()).expect("watch running");
    watching.await.expect("join").expect("watch");
    compile.await.expect("join").expect("loop");
    let (checks, failures) = (
        checks.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    );
    eprintln!("{writes} rewrites, {checks} checks, {failures} failed");
    assert!(
        writes > 10 && checks > 1000,
        "{writes} rewrites, {checks} checks"
    );
    assert_eq!(
        failures, 0,
        "{failures} of {checks} checks found no route or no endpoint"
    );
}
