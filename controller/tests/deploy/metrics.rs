//! Scraping: the admin listener's `/metrics` behind a Service port named `metrics`, the
//! `prometheus.io/*` pod annotations, and the Prometheus Operator monitors (checked as YAML:
//! k8s-openapi has no type for them).

use std::sync::Arc;

use prometheus_client::registry::Registry;

use super::*;

#[tokio::test]
async fn metrics_are_scrapable_in_every_overlay() {
    for (deploy, _, args) in setup() {
        scrapable(&deploy, &args).await;
    }
}

async fn scrapable(deploy: &Deploy, args: &ControllerArgs) {
    let (found, _, container) = deploy.deployment();
    let (file, admin_port) = (&found.file, args.common.admin_addr.port());
    let meta = found.object.spec.template.metadata.as_ref();
    let annotations = meta.and_then(|m| m.annotations.clone()).unwrap_or_default();
    let annotation = |key: &str| annotations.get(key).map(String::as_str);
    same(
        file,
        "prometheus.io/scrape",
        annotation("prometheus.io/scrape"),
        Some("true"),
    );
    let port = admin_port.to_string();
    same(
        file,
        "prometheus.io/port",
        annotation("prometheus.io/port"),
        Some(&*port),
    );
    let path = annotation("prometheus.io/path").unwrap_or("/metrics");
    // The path is the admin listener's metrics page.
    let registry = Arc::new(Registry::default());
    let admin = Admin::new(Readiness::new()).metrics(registry);
    let prometheus: SocketAddr = "10.0.0.2:43000".parse().expect("address");
    let request = Request::get(path)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let status = admin.handle(prometheus, request).await.status();
    same(
        file,
        &format!("GET {path} on the admin port"),
        status,
        StatusCode::OK,
    );

    let service = metrics_service(deploy, container, admin_port);
    for monitor in &deploy.monitors {
        monitors_metrics(monitor, service, path);
    }
    if deploy.overlay == "monitoring" {
        check(
            file,
            !deploy.monitors.is_empty(),
            "no ServiceMonitor or PodMonitor",
        );
    }
}

/// The one headless Service with a port named `metrics`, which must target the admin port.
fn metrics_service<'a>(
    deploy: &'a Deploy,
    container: &Container,
    admin: u16,
) -> &'a Found<Service> {
    let file = &deploy.deployment().0.file;
    let named = |found: &&Found<Service>| {
        let ports = found
            .object
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten());
        ports.clone().any(|p| p.name.as_deref() == Some("metrics"))
    };
    let services: Vec<&Found<Service>> = deploy.services.iter().filter(named).collect();
    let [service] = services[..] else {
        panic!(
            "{file}: {} Services with a port named `metrics`, expected 1",
            services.len()
        );
    };
    let spec = service.object.spec.as_ref().expect("spec");
    let what = "clusterIP (headless: every pod is scraped)";
    same(
        &service.file,
        what,
        spec.cluster_ip.as_deref(),
        Some("None"),
    );
    let ports = spec.ports.iter().flatten();
    for port in ports.filter(|p| p.name.as_deref() == Some("metrics")) {
        let target = port.target_port.as_ref();
        let target = target.map_or(port.port, |t| port_number(file, container, t));
        same(
            &service.file,
            "port metrics targets",
            target,
            i32::from(admin),
        );
    }
    service
}

/// A ServiceMonitor must select the metrics Service and scrape its `metrics` port at `path`.
fn monitors_metrics(monitor: &Found<Value>, service: &Found<Service>, path: &str) {
    let (file, spec) = (&monitor.file, &monitor.object["spec"]);
    let name = &monitor.object["metadata"]["name"];
    let kind = monitor.object["kind"].as_str().unwrap_or_default();
    let what = format!("{kind} {name}");
    same(file, &what, kind, "ServiceMonitor");
    let (namespace, _) = key(&service.object.metadata);
    let names = spec["namespaceSelector"]["matchNames"].as_array();
    let in_namespace = names.is_some_and(|n| n.iter().any(|n| n == namespace))
        || spec["namespaceSelector"]["any"] == true
        || (names.is_none() && monitor.object["metadata"]["namespace"] == namespace);
    check(
        file,
        in_namespace,
        &format!("{what}: does not look in namespace {namespace}"),
    );
    let labels = service.object.metadata.labels.clone().unwrap_or_default();
    let wanted = spec["selector"]["matchLabels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let picks = !wanted.is_empty()
        && wanted
            .iter()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    check(
        file,
        picks,
        &format!("{what}: selector does not pick Service strait-metrics"),
    );
    let endpoints = spec["endpoints"].as_array().cloned().unwrap_or_default();
    check(
        file,
        !endpoints.is_empty(),
        &format!("{what}: no endpoints"),
    );
    for endpoint in &endpoints {
        same(
            file,
            &format!("{what} endpoint port"),
            endpoint["port"].as_str(),
            Some("metrics"),
        );
        let scraped = endpoint["path"].as_str().unwrap_or("/metrics");
        same(file, &format!("{what} endpoint path"), scraped, path);
    }
}
