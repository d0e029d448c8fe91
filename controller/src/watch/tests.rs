use std::sync::Arc;

use arc_swap::ArcSwap;
use notify::event::{CreateKind, ModifyKind};
use prometheus_client::registry::Registry;
use strait_shared::{CompileConfig, RouteTable};

use crate::metrics::{ControllerMetrics, encode};
use crate::pipeline::Pipeline;
use crate::publish::Publisher;

use super::*;

fn config() -> WatchConfig {
    WatchConfig {
        debounce: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        resync: Duration::from_secs(3600),
        poll: Duration::from_secs(3600),
    }
}

#[test]
fn settle_waits_for_quiet_time_but_never_past_max_delay() {
    let config = config();
    let first = Instant::now();
    assert_eq!(
        settle_deadline(first, first, &config),
        first + config.debounce
    );
    let later = first + Duration::from_millis(50);
    assert_eq!(
        settle_deadline(first, later, &config),
        later + config.debounce
    );
    let much_later = first + Duration::from_millis(95);
    assert_eq!(
        settle_deadline(first, much_later, &config),
        first + config.max_delay
    );
}

#[test]
fn opening_a_file_is_not_a_change_but_writing_one_is() {
    assert!(!is_change(&EventKind::Access(AccessKind::Open(
        AccessMode::Any
    ))));
    assert!(!is_change(&EventKind::Access(AccessKind::Close(
        AccessMode::Read
    ))));
    assert!(is_change(&EventKind::Access(AccessKind::Close(
        AccessMode::Write
    ))));
    assert!(is_change(&EventKind::Create(CreateKind::File)));
    assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
}

fn event(kind: EventKind, path: &str) -> notify::Event {
    notify::Event::new(kind).add_path(path.into())
}

#[test]
fn a_manifest_closed_or_moved_into_place_is_complete_anything_else_partial() {
    let close = EventKind::Access(AccessKind::Close(AccessMode::Write));
    let moved = EventKind::Modify(ModifyKind::Name(RenameMode::To));
    let written = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any));
    assert_eq!(wake_of(&event(close, "/m/a.yaml")), Some(Wake::Complete));
    assert_eq!(wake_of(&event(moved, "/m/a.json")), Some(Wake::Complete));
    assert_eq!(wake_of(&event(moved, "/m/..data")), Some(Wake::Complete));
    assert_eq!(
        wake_of(&event(
            EventKind::Remove(notify::event::RemoveKind::File),
            "/m/a.yml"
        )),
        Some(Wake::Complete)
    );
    assert_eq!(wake_of(&event(written, "/m/a.yaml")), Some(Wake::Partial));
    assert_eq!(wake_of(&event(close, "/m/a.json.tmp")), Some(Wake::Partial));
    assert_eq!(
        wake_of(&event(EventKind::Create(CreateKind::File), "/m/a.yaml")),
        Some(Wake::Partial)
    );
    assert_eq!(
        wake_of(&event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            "/m/a.yaml"
        )),
        None
    );
}

#[tokio::test]
async fn a_complete_write_ends_the_settle_at_once_unless_one_just_did() {
    let config = WatchConfig {
        debounce: Duration::from_millis(200),
        max_delay: Duration::from_secs(5),
        ..config()
    };
    let (tx, mut rx) = mpsc::channel(64);
    tx.send(Wake::Partial).await.unwrap();
    tx.send(Wake::Complete).await.unwrap();
    let started = std::time::Instant::now();
    assert!(settle(&mut rx, &config, true).await, "it led");
    assert!(
        started.elapsed() < config.debounce,
        "{:?}",
        started.elapsed()
    );

    tx.send(Wake::Complete).await.unwrap();
    let started = std::time::Instant::now();
    assert!(!settle(&mut rx, &config, false).await, "it waited");
    assert!(
        started.elapsed() >= config.debounce,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn settle_ends_under_a_steady_stream_of_events() {
    let config = config();
    let (tx, mut rx) = mpsc::channel(64);
    let feeder = tokio::spawn(async move {
        while tx.send(Wake::Partial).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let started = std::time::Instant::now();
    settle(&mut rx, &config, false).await;
    let waited = started.elapsed();
    assert!(waited >= config.max_delay, "{waited:?}");
    assert!(waited < Duration::from_millis(600), "{waited:?}");
    drop(rx);
    feeder.await.expect("feeder");
}

fn service(port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: default}}\n\
         spec: {{ports: [{{port: {port}}}]}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\n\
         metadata: {{name: web, namespace: default}}\n\
         spec:\n  ingressClassName: strait\n  rules:\n  - host: h{port}.example.com\n    \
         http: {{paths: [{{path: /, pathType: Prefix, \
         backend: {{service: {{name: web, port: {{number: {port}}}}}}}}}]}}\n"
    )
}

/// The folder loaded and published once, then watched: the compile loop and the watch
/// run until the returned sender is used (or dropped).
async fn serve_folder(
    root: &Path,
    table: &strait_proxy::SharedTable,
    metrics: ControllerMetrics,
    config: WatchConfig,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let publisher =
        Publisher::new(table.clone(), CompileConfig::default()).with_metrics(metrics.clone());
    let dir = ManifestDir::open(root).expect("open");
    let (source, first) = ManifestSource::new(dir, metrics)
        .scan_blocking(true)
        .await
        .expect("first scan");
    let (pipeline, _) = Pipeline::new(publisher, strait_shared::Kind::ALL)
        .apply_blocking(first.into_iter().collect())
        .await
        .expect("first publish");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(async move {
        let stopped = async {
            let _ = stopped.await;
        };
        let (stop_loop, loop_stopped) = tokio::sync::oneshot::channel::<()>();
        let compile = tokio::spawn(pipeline.run(rx, config.clone(), async {
            let _ = loop_stopped.await;
        }));
        let watched = watch(source, tx, config, stopped).await;
        let _ = stop_loop.send(());
        compile.await.expect("join")?;
        watched
    });
    (stop, task)
}

#[test]
fn manifest_errors_count_the_files_that_do_not_parse() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.yaml"), service(80)).expect("write");
    std::fs::write(tmp.path().join("b.yaml"), "kind: [unclosed").expect("write");
    let mut registry = Registry::with_prefix("strait");
    let metrics = ControllerMetrics::register(&mut registry);
    let mut source = ManifestSource::new(ManifestDir::open(tmp.path()).expect("open"), metrics);
    assert!(matches!(source.scan(true), Some(Change::Replace(objects)) if objects.len() == 2));
    assert!(encode(&registry).contains("strait_manifest_errors 1\n"));
    std::fs::remove_file(tmp.path().join("b.yaml")).expect("remove");
    assert_eq!(source.scan(false), None, "the broken file held no objects");
    assert!(encode(&registry).contains("strait_manifest_errors 0\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_change_is_published_within_a_second() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.yaml"), service(80)).expect("write");
    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let mut registry = Registry::with_prefix("strait");
    let metrics = ControllerMetrics::register(&mut registry);
    let config = WatchConfig::new(Duration::from_millis(100));
    let (stop, task) = serve_folder(tmp.path(), &table, metrics, config).await;
    assert_eq!(table.load().generation, 1);
    std::fs::write(tmp.path().join("a.yaml"), service(81)).expect("rewrite");
    let changed_at = std::time::Instant::now();
    while table.load().generation < 2 {
        assert!(
            changed_at.elapsed() < Duration::from_secs(1),
            "change not live within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(table.load().lookup("h81.example.com", "/").is_some());
    // The catch-up rescan at start may have seen that write; this one only an event can.
    std::fs::write(tmp.path().join("a.yaml"), service(82)).expect("rewrite");
    let changed_at = std::time::Instant::now();
    while table.load().lookup("h82.example.com", "/").is_none() {
        assert!(changed_at.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).expect("watch still running");
    task.await.expect("join").expect("watch ends cleanly");
    // One catch-up rescan when the watch starts, then at least one per write.
    let text = encode(&registry);
    assert!(
        text.contains(r#"strait_reloads_total{trigger="resync"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"strait_reloads_total{trigger="watch"}"#),
        "{text}"
    );
    assert!(text.contains("strait_table_generation 3\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_before_the_watcher_starts_is_published() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.yaml"), service(80)).expect("write");
    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let metrics = ControllerMetrics::default();
    let publisher =
        Publisher::new(table.clone(), CompileConfig::default()).with_metrics(metrics.clone());
    let dir = ManifestDir::open(tmp.path()).expect("open");
    let (source, first) = ManifestSource::new(dir, metrics)
        .scan_blocking(true)
        .await
        .expect("first scan");
    let (pipeline, _) = Pipeline::new(publisher, strait_shared::Kind::ALL)
        .apply_blocking(first.into_iter().collect())
        .await
        .expect("first publish");
    // Written after the first scan and before any watcher exists: no event will come.
    std::fs::write(tmp.path().join("a.yaml"), service(81)).expect("rewrite");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = mpsc::channel(16);
    let compile = tokio::spawn(pipeline.run(rx, config(), std::future::pending()));
    let task = tokio::spawn(watch(source, tx, config(), async {
        let _ = stopped.await;
    }));
    let started = std::time::Instant::now();
    while table.load().lookup("h81.example.com", "/").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "change from before the watch was lost"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).expect("watch still running");
    task.await.expect("join").expect("watch ends cleanly");
    // The watch dropped its sender: the loop ends.
    compile.await.expect("join").expect("loop ends cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_a_subfolder_is_published_within_a_second() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sub = tmp.path().join("team-a");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(sub.join("a.yaml"), service(80)).expect("write");
    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let config = WatchConfig::new(Duration::from_millis(100));
    let (stop, task) = serve_folder(tmp.path(), &table, ControllerMetrics::default(), config).await;
    assert!(table.load().lookup("h80.example.com", "/").is_some());
    // The catch-up rescan at start may see a first write; only events see the later ones.
    // The objects keep their names: one file holds them at a time (else the first wins).
    for (port, folder) in [(81, sub.clone()), (82, sub.clone()), (83, sub.join("new"))] {
        if !folder.exists() {
            std::fs::remove_file(sub.join("a.yaml")).expect("rm");
            std::fs::create_dir(&folder).expect("mkdir");
        }
        std::fs::write(folder.join("a.yaml"), service(port)).expect("write");
        let host = format!("h{port}.example.com");
        let changed_at = std::time::Instant::now();
        while table.load().lookup(&host, "/").is_none() {
            assert!(
                changed_at.elapsed() < Duration::from_secs(1),
                "{host} in {} not live within 1 s",
                folder.display()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    stop.send(()).expect("watch still running");
    task.await.expect("join").expect("watch ends cleanly");
}

/// A ConfigMap volume: `a.yaml -> ..data/a.yaml`, `..data -> ..<timestamp>`; an update
/// writes a new timestamped folder and renames a new `..data` symlink over the old one.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_style_symlink_swap_is_published_within_a_second() {
    use std::os::unix::fs::symlink;

    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let version = |name: &str, port: u16| {
        std::fs::create_dir(root.join(name)).expect("mkdir");
        std::fs::write(root.join(name).join("a.yaml"), service(port)).expect("write");
    };
    version("..v1", 80);
    symlink("..v1", root.join("..data")).expect("symlink");
    symlink("..data/a.yaml", root.join("a.yaml")).expect("symlink");
    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let config = WatchConfig::new(Duration::from_millis(100));
    let (stop, task) = serve_folder(root, &table, ControllerMetrics::default(), config).await;
    assert!(table.load().lookup("h80.example.com", "/").is_some());

    version("..v2", 81);
    symlink("..v2", root.join("..data_tmp")).expect("symlink");
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).expect("swap");
    let changed_at = std::time::Instant::now();
    while table.load().lookup("h81.example.com", "/").is_none() {
        assert!(
            changed_at.elapsed() < Duration::from_secs(1),
            "swap not live within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).expect("watch still running");
    task.await.expect("join").expect("watch ends cleanly");
}
