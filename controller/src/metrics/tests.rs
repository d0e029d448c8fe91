use strait_shared::{Kind, ObjectKey, ObjectRef};

use super::*;

fn registered() -> (Registry, ControllerMetrics) {
    let mut registry = Registry::with_prefix("strait");
    let metrics = ControllerMetrics::register(&mut registry);
    (registry, metrics)
}

fn diagnostic(name: &str, reason: Reason, severity: Severity) -> Diagnostic {
    let object = ObjectRef::new(Kind::Ingress, ObjectKey::new("default", name));
    Diagnostic {
        object,
        severity,
        reason,
        message: format!("{name} is broken"),
    }
}

/// The exposed `strait_` metric names: `# TYPE` lines (written only for families with a
/// series), counters carrying their `_total`. (`encode` adds the unprefixed `process_*`.)
fn exposed_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter(|rest| rest.starts_with("strait_"))
        .filter_map(|rest| {
            let (name, kind) = rest.split_once(' ')?;
            Some(match kind {
                "counter" => format!("{name}_total"),
                _ => name.to_owned(),
            })
        })
        .collect()
}

#[test]
fn names_lists_exactly_what_is_registered() {
    let (registry, metrics) = registered();
    // Label families appear once they have a series.
    metrics.published(
        PublishResult::Unchanged,
        Duration::ZERO,
        &RouteTable::default(),
        &[diagnostic("a", Reason::Conflict, Severity::Error)],
        &[],
    );
    metrics.reloaded(Trigger::Watch);
    metrics.set_ingress_annotations(
        &[report(
            "a",
            true,
            &[("nginx.ingress.kubernetes.io/use-regex", "true")],
        )],
        &[],
    );
    metrics.set_certificates(&secrets(&[("shop", "web-tls", 2030)]));
    let listed: BTreeSet<String> = NAMES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(exposed_names(&encode(&registry)), listed);
}

/// Usable TLS Secrets (namespace, name, the year their certificate expires on 1 January).
fn secrets(list: &[(&str, &str, i32)]) -> BTreeMap<ObjectKey, TlsSecret> {
    list.iter()
        .map(|(namespace, name, year)| {
            let key = rcgen::KeyPair::generate().expect("key");
            let mut params =
                rcgen::CertificateParams::new(vec!["shop.example.com".to_owned()]).expect("params");
            params.not_after = rcgen::date_time_ymd(*year, 1, 1);
            let cert = params.self_signed(&key).expect("certificate");
            let parsed = strait_shared::tls::Certificate::from_pem(
                cert.pem().as_bytes(),
                key.serialize_pem().as_bytes(),
            )
            .expect("parses");
            (ObjectKey::new(*namespace, *name), Ok(Arc::new(parsed)))
        })
        .collect()
}

#[test]
fn certificate_expiry_is_a_timestamp_per_secret_and_gone_secrets_lose_their_series() {
    let (registry, metrics) = registered();
    metrics.set_certificates(&secrets(&[
        ("shop", "web-tls", 2030),
        ("api", "api-tls", 2031),
    ]));
    let text = encode(&registry);
    for expected in [
        r#"strait_ssl_certificate_expiry_timestamp_seconds{namespace="shop",secret="web-tls"} 1893456000"#,
        r#"strait_ssl_certificate_expiry_timestamp_seconds{namespace="api",secret="api-tls"} 1924992000"#,
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    let mut unusable = secrets(&[("shop", "web-tls", 2030)]);
    unusable.insert(
        ObjectKey::new("api", "api-tls"),
        Err(strait_shared::tls::CertificateError::NoKey),
    );
    metrics.set_certificates(&unusable);
    let text = encode(&registry);
    assert!(text.contains(r#"secret="web-tls"} 1893456000"#), "{text}");
    assert!(!text.contains("api-tls"), "{text}");
}

#[test]
fn build_info_and_process_metrics_are_exposed() {
    let (registry, _metrics) = registered();
    let text = encode(&registry);
    let build = format!(
        r#"strait_build_info{{version="{}",commit="{COMMIT}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{build} in\n{text}");
    assert!(!COMMIT.is_empty());
    #[cfg(target_os = "linux")]
    for (name, _) in PROCESS_NAMES {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} in\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"), "one EOF, at the end");
    assert_eq!(text.matches("# EOF").count(), 1);
}

#[test]
fn every_name_is_documented_in_the_readme() {
    let readme = include_str!("../../../README.md");
    let all = NAMES
        .iter()
        .chain(CLUSTER_NAMES)
        .chain(PROCESS_NAMES)
        .chain(strait_proxy::metrics::NAMES);
    for (name, _) in all {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} not in README.md"
        );
    }
}

#[test]
fn rejected_objects_count_distinct_objects_and_drop_to_zero_when_resolved() {
    let (registry, metrics) = registered();
    let table = RouteTable::default();
    let first = [
        diagnostic("a", Reason::ServiceMissing, Severity::Error),
        diagnostic("a", Reason::ServiceMissing, Severity::Error),
        diagnostic("b", Reason::ServiceMissing, Severity::Error),
        diagnostic("c", Reason::TlsCertificateExpired, Severity::Warning),
    ];
    metrics.published(
        PublishResult::Published,
        Duration::ZERO,
        &table,
        &first,
        &[],
    );
    let text = encode(&registry);
    assert!(
        text.contains(r#"strait_rejected_objects{reason="ServiceMissing",severity="error"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"strait_rejected_objects{reason="TlsCertificateExpired",severity="warning"} 1"#
        ),
        "{text}"
    );
    let second = [diagnostic("b", Reason::ServiceMissing, Severity::Error)];
    metrics.published(
        PublishResult::Published,
        Duration::ZERO,
        &table,
        &second,
        &first,
    );
    let text = encode(&registry);
    assert!(
        text.contains(r#"strait_rejected_objects{reason="ServiceMissing",severity="error"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"strait_rejected_objects{reason="TlsCertificateExpired",severity="warning"} 0"#
        ),
        "{text}"
    );
}

#[test]
fn publishes_and_reloads_are_counted_by_label() {
    let (registry, metrics) = registered();
    let table = RouteTable::default();
    metrics.published(
        PublishResult::Published,
        Duration::from_millis(2),
        &table,
        &[],
        &[],
    );
    metrics.published(
        PublishResult::Unchanged,
        Duration::from_millis(1),
        &table,
        &[],
        &[],
    );
    metrics.published(
        PublishResult::Unchanged,
        Duration::from_millis(1),
        &table,
        &[],
        &[],
    );
    metrics.reloaded(Trigger::Resync);
    metrics.set_manifest_errors(2);
    metrics.set_manifest_errors(1);
    let text = encode(&registry);
    for expected in [
        r#"strait_publishes_total{result="published"} 1"#,
        r#"strait_publishes_total{result="unchanged"} 2"#,
        r#"strait_reloads_total{trigger="resync"} 1"#,
        "strait_publish_duration_seconds_count 3",
        "strait_manifest_errors 1",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    assert!(metrics.last_publish_timestamp.get() > 1.0e9);
}

#[test]
fn cluster_names_list_exactly_what_is_registered() {
    let mut registry = Registry::with_prefix("strait");
    let metrics = ClusterMetrics::register(&mut registry);
    // Label families appear once they have a series.
    metrics.watch_event("Ingress", WatchEvent::Apply);
    metrics.set_synced("Ingress", true);
    metrics.api_error(ApiOperation::Watch, "Ingress");
    metrics.set_leader(true);
    metrics.status_patch(WriteResult::Ok);
    metrics.event_posted(EventKind::Warning, WriteResult::Ok);
    let listed: BTreeSet<String> = CLUSTER_NAMES.iter().map(|(n, _)| (*n).to_owned()).collect();
    let text = encode(&registry);
    assert_eq!(exposed_names(&text), listed);
    for expected in [
        r#"strait_watch_events_total{kind="Ingress",event="apply"} 1"#,
        r#"strait_api_errors_total{operation="watch",kind="Ingress"} 1"#,
        "strait_leader 1\n",
        r#"strait_status_patches_total{result="ok"} 1"#,
        r#"strait_status_patches_total{result="error"} 0"#,
        r#"strait_events_posted_total{type="Warning",result="ok"} 1"#,
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
}

/// A compile report of `default/<name>` with the given annotations.
fn report(name: &str, ours: bool, annotations: &[(&str, &str)]) -> IngressReport {
    let mut ingress = k8s_openapi::api::networking::v1::Ingress::default();
    ingress.metadata.annotations = Some(
        annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    let review = strait_shared::annotations::review(&ingress, "nginx.ingress.kubernetes.io");
    IngressReport {
        key: ObjectKey::new("default", name),
        ours,
        findings: review.findings,
        ..IngressReport::default()
    }
}

#[test]
fn ingress_annotations_count_keys_by_status_and_drop_gone_series() {
    let (registry, metrics) = registered();
    let first = [
        report(
            "app",
            true,
            &[
                (
                    "nginx.ingress.kubernetes.io/server-alias",
                    "www.example.com",
                ),
                ("nginx.ingress.kubernetes.io/proxy-cookie-path", "/ /app"),
                ("nginx.ingress.kubernetes.io/mirror-target", "http://mirror"),
                ("nginx.ingress.kubernetes.io/server-snipet", "x"),
            ],
        ),
        report(
            "theirs",
            false,
            &[("nginx.ingress.kubernetes.io/auth-type", "basic")],
        ),
    ];
    metrics.set_ingress_annotations(&first, &[]);
    let text = encode(&registry);
    for expected in [
        r#"strait_ingress_annotations{namespace="default",ingress="app",status="honoured-with-difference"} 1"#,
        r#"strait_ingress_annotations{namespace="default",ingress="app",status="not-yet"} 2"#,
        r#"strait_ingress_annotations{namespace="default",ingress="app",status="unknown"} 1"#,
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    assert!(
        !text.contains(r#"ingress="theirs""#),
        "only our Ingresses: {text}"
    );

    let second = [report(
        "app",
        true,
        &[(
            "nginx.ingress.kubernetes.io/server-alias",
            "www.example.com",
        )],
    )];
    metrics.set_ingress_annotations(&second, &first);
    let text = encode(&registry);
    assert!(text.contains(
        r#"strait_ingress_annotations{namespace="default",ingress="app",status="honoured-with-difference"} 1"#
    ));
    assert!(!text.contains(r#"status="not-yet""#), "{text}");
    assert!(!text.contains(r#"status="unknown""#), "{text}");
}
