use std::collections::BTreeSet;
use std::time::Duration;

use strait_shared::ObjectKey;

use super::*;

fn delete(kind: Kind, name: &str) -> Change {
    Change::Delete(kind, ObjectKey::new("default", name))
}

fn relist(kind: Kind) -> Change {
    Change::Relist {
        kind,
        namespace: None,
        objects: Vec::new(),
        keep: BTreeSet::new(),
    }
}

fn config() -> WatchConfig {
    WatchConfig::new(Duration::from_millis(100))
}

#[test]
fn endpoint_data_goes_at_once_and_the_rest_waits() {
    let mut pending = Pending::default();
    let mut ready = Vec::new();
    let now = Instant::now();
    pending.sort(delete(Kind::Service, "a"), now, &mut ready);
    pending.sort(delete(Kind::EndpointSlice, "a-1"), now, &mut ready);
    pending.sort(relist(Kind::Node), now, &mut ready);
    pending.sort(relist(Kind::Ingress), now, &mut ready);
    assert_eq!(
        ready,
        [delete(Kind::EndpointSlice, "a-1"), relist(Kind::Node)]
    );
    assert_eq!(
        pending.take(),
        [delete(Kind::Service, "a"), relist(Kind::Ingress)]
    );
    assert_eq!(pending.deadline(&config()), None);
}

#[test]
fn a_folder_scan_goes_at_once_after_what_waits() {
    let mut pending = Pending::default();
    let mut ready = Vec::new();
    let now = Instant::now();
    pending.sort(delete(Kind::Secret, "s"), now, &mut ready);
    pending.sort(Change::Replace(Vec::new()), now, &mut ready);
    assert_eq!(
        ready,
        [delete(Kind::Secret, "s"), Change::Replace(Vec::new())]
    );
    assert_eq!(pending.deadline(&config()), None);
}

#[test]
fn the_deadline_is_quiet_time_after_the_last_change_capped_after_the_first() {
    let config = config();
    let mut pending = Pending::default();
    let mut ready = Vec::new();
    let first = Instant::now();
    pending.sort(delete(Kind::Service, "a"), first, &mut ready);
    assert_eq!(pending.deadline(&config), Some(first + config.debounce));
    let later = first + Duration::from_millis(450);
    pending.sort(delete(Kind::Service, "b"), later, &mut ready);
    assert_eq!(pending.deadline(&config), Some(first + config.max_delay));
    // Endpoint data does not push the deadline back.
    let last = first + Duration::from_millis(480);
    pending.sort(delete(Kind::EndpointSlice, "a-1"), last, &mut ready);
    assert_eq!(pending.deadline(&config), Some(first + config.max_delay));
}

mod run {
    use std::sync::Arc;

    use arc_swap::ArcSwap;
    use serde_json::json;
    use strait_shared::{CompileConfig, Object, RouteTable};
    use tokio::sync::mpsc;

    use super::*;
    use crate::pipeline::Pipeline;
    use crate::publish::Publisher;

    /// A debounce long enough that waiting for it cannot pass for "at once".
    const DEBOUNCE: Duration = Duration::from_secs(10);

    fn object(value: serde_json::Value) -> Object {
        Object::from_value(value).expect("decodes").expect("read")
    }

    fn ingress(host: &str) -> Object {
        object(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": host, "namespace": "default"},
            "spec": {"ingressClassName": "strait", "rules": [{"host": host,
                "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
        }))
    }

    fn service() -> Object {
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
    }

    fn slice(ips: &[&str]) -> Object {
        let endpoints: Vec<_> = ips
            .iter()
            .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
            .collect();
        object(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080}]
        }))
    }

    /// A running loop that has published `a.example.com` with one endpoint (generation 1).
    fn running() -> (
        mpsc::Sender<Change>,
        strait_proxy::SharedTable,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
        let publisher = Publisher::new(table.clone(), CompileConfig::default());
        let mut pipeline = Pipeline::new(publisher, []);
        let first = [ingress("a.example.com"), service(), slice(&["10.0.0.1"])];
        pipeline.apply(first.into_iter().map(Change::Apply).collect());
        assert_eq!(table.load().generation, 1);
        let config = WatchConfig {
            max_delay: 2 * DEBOUNCE,
            ..WatchConfig::new(DEBOUNCE)
        };
        let (tx, rx) = mpsc::channel(16);
        let run = tokio::spawn(pipeline.run(rx, config, std::future::pending()));
        (tx, table, run)
    }

    fn endpoints(table: &strait_proxy::SharedTable) -> usize {
        let table = table.load();
        let found = table.lookup("a.example.com", "/").expect("route");
        found.backend.state.as_ref().map_or(0, |e| e.len())
    }

    /// Waits (in the paused clock) until `live` holds; how long that took.
    async fn live_after(live: impl Fn() -> bool) -> Duration {
        let started = Instant::now();
        while !live() {
            assert!(started.elapsed() < 10 * DEBOUNCE, "never live");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn an_endpoint_change_is_published_without_waiting_for_the_debounce() {
        let (tx, table, run) = running();
        let two = slice(&["10.0.0.1", "10.0.0.2"]);
        tx.send(Change::Apply(two)).await.expect("open");
        let waited = live_after(|| endpoints(&table) == 2).await;
        assert!(waited < Duration::from_millis(10), "{waited:?}");
        drop(tx);
        run.await.expect("join").expect("loop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_folder_scan_is_published_without_a_second_debounce() {
        let (tx, table, run) = running();
        let objects = vec![ingress("b.example.com"), service(), slice(&["10.0.0.1"])];
        tx.send(Change::Replace(objects)).await.expect("open");
        let waited = live_after(|| table.load().lookup("b.example.com", "/").is_some()).await;
        assert!(waited < Duration::from_millis(10), "{waited:?}");
        assert_eq!(table.load().generation, 2, "published once");
        drop(tx);
        run.await.expect("join").expect("loop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_route_change_is_live_after_the_debounce_and_endpoints_do_not_wait_for_it() {
        let (tx, table, run) = running();
        tx.send(Change::Apply(ingress("b.example.com")))
            .await
            .expect("open");
        tx.send(Change::Apply(slice(&["10.0.0.1", "10.0.0.2"])))
            .await
            .expect("open");
        let waited = live_after(|| endpoints(&table) == 2).await;
        assert!(waited < Duration::from_millis(10), "{waited:?}");
        assert!(table.load().lookup("b.example.com", "/").is_none());
        let waited = live_after(|| table.load().lookup("b.example.com", "/").is_some()).await;
        assert!(waited + Duration::from_millis(10) >= DEBOUNCE, "{waited:?}");
        assert!(waited < DEBOUNCE + Duration::from_millis(10), "{waited:?}");
        assert_eq!(table.load().generation, 3, "endpoints, then the route");
        drop(tx);
        run.await.expect("join").expect("loop");
    }
}
