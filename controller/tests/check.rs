//! The real `strait check` binary on a folder of ingress-nginx manifests written from
//! ingress-nginx's documentation (`tests/fixtures/ingress-nginx/`, see its README): exit
//! statuses, the table's key lines, the JSON's statuses, and stdin giving the same report as
//! the folder.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ingress-nginx");

/// ingress-nginx's class and controller, as a side-by-side migration would take them.
const NGINX_FLAGS: [&str; 4] = [
    "--ingress-class",
    "nginx",
    "--controller-name",
    "k8s.io/ingress-nginx",
];

/// `strait check` with a clean environment (no `STRAIT_*` fallbacks, no `RUST_LOG`).
fn strait_check() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strait"));
    command.arg("check").env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("STRAIT_") || key == "KUBECONFIG" {
            command.env_remove(key);
        }
    }
    command
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = strait_check()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strait check");
    let mut input = child.stdin.take().expect("piped stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("strait check finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 report")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("--output json prints JSON")
}

fn ingress<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ingresses"]
        .as_array()
        .expect("ingresses")
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("Ingress {name} in the report"))
}

fn annotation_status<'a>(report: &'a Value, ingress_name: &str, key: &str) -> &'a Value {
    let key = format!("nginx.ingress.kubernetes.io/{key}");
    let annotations = ingress(report, ingress_name)["annotations"]
        .as_array()
        .expect("annotations");
    let found = annotations.iter().find(|a| a["key"] == key.as_str());
    &found.unwrap_or_else(|| panic!("{key} on {ingress_name}"))["status"]
}

#[test]
fn the_table_names_refusals_typos_and_configmap_flags_and_exits_1() {
    let output = run(&[&NGINX_FLAGS[..], &[FIXTURES]].concat(), None);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}\n{}", stderr(&output));
    assert_eq!(stderr(&output), "", "a report, no log lines");
    for line in [
        "Ingress default/external-auth-oauth2: needs attention",
        "Ingress default/ingress-with-auth: needs attention",
        "  route refused: its Ingress carries a snippet annotation, which Strait never executes",
        "Ingress default/nginx-configuration-snippet: REFUSED",
        "did you mean nginx.ingress.kubernetes.io/server-snippet?",
        "Ingress default/canary: needs attention",
        "canary: joins the routes of its main Ingress",
        "Ingress default/legacy-class: ok",
        "class: ours, annotation kubernetes.io/ingress.class: nginx",
        "Ingress default/rewrite: needs attention",
        "Service kubernetes-dashboard/kubernetes-dashboard not found",
        "default/whoami  ingressClassName traefik",
        "ingress-nginx ConfigMap ingress-nginx/ingress-nginx-controller:",
        "exit status 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let configmap_line = |key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("a ConfigMap line for {key}:\n{text}"))
            .to_owned()
    };
    let words = |line: String| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let forwarded = words(configmap_line("use-forwarded-headers"));
    assert_eq!(
        forwarded[..4],
        [
            "use-forwarded-headers",
            "true",
            "flag",
            "--trusted-proxies:"
        ]
    );
    let body = words(configmap_line("proxy-body-size"));
    assert_eq!(
        body[..4],
        ["proxy-body-size", "16m", "flag", "--max-body-size:"]
    );
}

#[test]
fn the_json_carries_the_statuses() {
    let output = run(
        &[&NGINX_FLAGS[..], &["--output", "json", FIXTURES]].concat(),
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json_of(&output);

    let verdict = |name: &str| ingress(&report, name)["verdict"].clone();
    assert_eq!(verdict("ingress-with-auth"), "attention");
    assert_eq!(verdict("external-auth-oauth2"), "attention");
    assert_eq!(verdict("internal-tools"), "ok");
    assert_eq!(verdict("upload"), "ok");
    assert_eq!(verdict("nginx-configuration-snippet"), "refused");
    assert_eq!(verdict("canary"), "attention");
    assert_eq!(verdict("production"), "ok");
    assert_eq!(verdict("legacy-class"), "ok");
    assert_eq!(verdict("rewrite"), "attention");
    assert_eq!(verdict("whoami"), "not-ours");

    for (name, key, status) in [
        ("ingress-with-auth", "auth-type", "honoured-with-difference"),
        (
            "external-auth-oauth2",
            "auth-url",
            "honoured-with-difference",
        ),
        ("external-auth-oauth2", "auth-signin", "honoured"),
        (
            "nginx-configuration-snippet",
            "configuration-snippet",
            "refused",
        ),
        ("server-snippet-typo", "server-snippets", "unknown"),
        ("rewrite", "rewrite-target", "honoured-with-difference"),
        (
            "kubernetes-dashboard",
            "backend-protocol",
            "honoured-with-difference",
        ),
        ("nginx-test", "affinity", "honoured-with-difference"),
    ] {
        assert_eq!(
            annotation_status(&report, name, key),
            status,
            "{name}: {key}"
        );
    }
    let typo = &ingress(&report, "server-snippet-typo")["annotations"][0];
    assert_eq!(
        typo["suggestion"],
        "nginx.ingress.kubernetes.io/server-snippet"
    );
    assert!(ingress(&report, "external-auth-oauth2")["refused"].is_null());
    assert_eq!(
        ingress(&report, "nginx-configuration-snippet")["refused"]["reason"],
        "snippet_annotation"
    );
    assert_eq!(
        ingress(&report, "legacy-class")["class"]["source"],
        "annotation"
    );
    let dashboard = &ingress(&report, "kubernetes-dashboard")["diagnostics"];
    assert!(
        dashboard
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["reason"] == "ServiceMissing"),
        "{dashboard}"
    );

    let options: Vec<(String, String)> = report["configmap"]
        .as_array()
        .expect("configmap")
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("allow-snippet-annotations", "no-flag"),
        ("hsts", "flag"),
        ("proxy-body-size", "flag"),
        ("use-forwarded-headers", "flag"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, s)| ((*k).to_owned(), (*s).to_owned()))
        .collect();
    assert_eq!(options, expected);

    let summary = &report["summary"];
    assert_eq!(summary["ingresses"], 14);
    assert_eq!(summary["not_ours"], 1);
    assert_eq!(summary["refused"], 1);
    assert_eq!(summary["canary"], 1);
    assert_eq!(summary["keys"]["refused"], 1);
    assert_eq!(summary["keys"]["unknown"], 1);
    assert_eq!(summary["configmap_attention"], 1);
    assert_eq!(summary["exit_code"], 1);
}

/// Every manifest file under `dir`, in path order.
fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixtures folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(manifest_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn stdin_gives_the_same_report_as_the_folder() {
    let stream = manifest_files(Path::new(FIXTURES))
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read fixture"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    let args = [&NGINX_FLAGS[..], &["-o", "json"]].concat();
    let from_stdin = run(&[&args[..], &["-"]].concat(), Some(&stream));
    let from_folder = run(&[&args[..], &[FIXTURES]].concat(), None);
    assert_eq!(from_stdin.status.code(), Some(1), "{}", stderr(&from_stdin));
    assert_eq!(json_of(&from_stdin), json_of(&from_folder));
}

#[test]
fn a_clean_folder_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/enable-access-log: 'false'}
spec:
  ingressClassName: strait
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 80}]
";
    std::fs::write(dir.path().join("web.yaml"), manifest).expect("write");
    let output = run(&[dir.path().to_str().expect("UTF-8 path")], None);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    assert!(text.contains("Ingress default/web: ok"), "{text}");
    assert!(text.contains("exit status 0"), "{text}");
}

#[test]
fn a_check_that_cannot_run_exits_2_with_one_error_line() {
    let output = run(&["/nonexistent/strait-check-input"], None);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.starts_with("strait: cannot read /nonexistent/strait-check-input"),
        "{error}"
    );
    assert_eq!(stdout(&output), "", "no report");

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.yaml"), "kind: [\n").expect("write");
    let output = run(&[dir.path().to_str().expect("UTF-8 path")], None);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.contains("bad.yaml"), "{error}");

    let bad_flag = run(&["--output", "xml", "-"], None);
    assert_eq!(bad_flag.status.code(), Some(2), "{}", stderr(&bad_flag));
    let no_input = run(&[], None);
    assert_eq!(no_input.status.code(), Some(2), "{}", stderr(&no_input));
}
