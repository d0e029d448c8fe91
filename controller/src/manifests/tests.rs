use std::path::Path;

use strait_shared::{Kind, Object, ObjectKey};

use super::*;

fn service(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\n\
         spec:\n  ports:\n  - port: {port}\n"
    )
}

fn ids(objects: &[Object]) -> Vec<(Kind, ObjectKey)> {
    objects.iter().map(|o| (o.kind(), o.key())).collect()
}

fn svc(name: &str) -> (Kind, ObjectKey) {
    (Kind::Service, ObjectKey::new("default", name))
}

fn port_of(object: &Object) -> Option<i32> {
    let Object::Service(service) = object else {
        return None;
    };
    Some(service.spec.as_ref()?.ports.as_ref()?.first()?.port)
}

fn write(dir: &Path, name: &str, contents: &str) {
    std::fs::write(dir.join(name), contents).expect("write manifest");
}

#[test]
fn multi_document_yaml_yields_every_object_and_skips_empty_documents() {
    let yaml = format!(
        "---\n{}---\n# nothing here\n---\n{}",
        service("a", 80),
        service("b", 81)
    );
    let objects = parse_file(Path::new("x.yaml"), &yaml).expect("parses");
    assert_eq!(ids(&objects), [svc("a"), svc("b")]);
}

#[test]
fn yaml_1_1_boolean_spellings_stay_strings() {
    let yaml = "apiVersion: v1\nkind: Service\nmetadata:\n  name: y\n  namespace: on\n\
                \x20 labels: {a: yes, b: n}\n";
    let objects = parse_file(Path::new("x.yaml"), yaml).expect("parses");
    assert_eq!(ids(&objects), [(Kind::Service, ObjectKey::new("on", "y"))]);
}

#[test]
fn list_kinds_are_unpacked() {
    let yaml = "apiVersion: v1\nkind: List\nitems:\n\
                - {apiVersion: v1, kind: Service, metadata: {name: a, namespace: default}}\n\
                - {apiVersion: v1, kind: Service, metadata: {name: b, namespace: default}}\n\
                ---\napiVersion: v1\nkind: ServiceList\nitems:\n\
                - {apiVersion: v1, kind: Service, metadata: {name: c, namespace: default}}\n\
                ---\napiVersion: v1\nkind: List\nitems: []\n";
    let objects = parse_file(Path::new("x.yml"), yaml).expect("parses");
    assert_eq!(ids(&objects), [svc("a"), svc("b"), svc("c")]);
}

#[test]
fn json_single_value_and_stream() {
    let one =
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","namespace":"default"}}"#;
    let objects = parse_file(Path::new("x.json"), one).expect("parses");
    assert_eq!(ids(&objects), [svc("a")]);

    let list = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Service","metadata":{"name":"b","namespace":"default"}}]}"#;
    let stream = format!("{one}\n{list}\n");
    let objects = parse_file(Path::new("x.JSON"), &stream).expect("parses");
    assert_eq!(ids(&objects), [svc("a"), svc("b")]);
}

#[test]
fn other_kinds_are_skipped() {
    let yaml = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d, namespace: default}}\nspec: {{replicas: 1}}\n\
         ---\n{}",
        service("a", 80)
    );
    let objects = parse_file(Path::new("x.yaml"), &yaml).expect("parses");
    assert_eq!(ids(&objects), [svc("a")]);
}

/// ConfigMaps are read (for `auth-proxy-set-headers`), reduced to their header data when
/// decoded; one whose data are not strings (the API server would refuse it, but a hand-written
/// ingress-nginx ConfigMap may say `true` unquoted) does not fail the file: it is simply not a
/// header map.
#[test]
fn config_maps_are_read_as_header_maps_without_failing_the_file() {
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: h}}\ndata: {{X-Tenant: a, X-Host: $host}}\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: default}}\ndata: {{use-forwarded-headers: true}}\n\
         ---\n{}",
        service("a", 80)
    );
    let objects = parse_file(Path::new("x.yaml"), &yaml).expect("parses");
    let cm = |name: &str| (Kind::ConfigMap, ObjectKey::new("default", name));
    assert_eq!(ids(&objects), [cm("h"), cm("c"), svc("a")]);
    let Object::ConfigMap(headers) = &objects[0] else {
        panic!("a ConfigMap");
    };
    let names: Vec<&str> = headers
        .headers
        .as_ref()
        .expect("a header map")
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(names, ["x-host", "x-tenant"]);
    let Object::ConfigMap(options) = &objects[1] else {
        panic!("a ConfigMap");
    };
    assert_eq!(
        options.headers,
        Err(strait_shared::table::external_auth::SetHeadersError::NotText)
    );
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let yaml = format!("{}---\nkind: Service\nmetadata: [a, b\n", service("a", 80));
    let err = parse_file(Path::new("/m/bad.yaml"), &yaml).expect_err("syntax error");
    assert_eq!(err.path(), Path::new("/m/bad.yaml"));
    let line = err.line().expect("the parser gives a line");
    assert!((11..=12).contains(&line), "line {line} in {err}");
    assert!(
        err.to_string()
            .starts_with(&format!("/m/bad.yaml:{line}: ")),
        "{err}"
    );
}

#[test]
fn json_syntax_error_names_file_and_line() {
    let err = parse_file(
        Path::new("m.json"),
        "{\n  \"kind\": \"Service\",\n  oops\n}",
    )
    .expect_err("syntax error");
    assert_eq!(err.line(), Some(3));
    assert!(err.to_string().starts_with("m.json:3: "), "{err}");
    assert!(!err.to_string().contains("column"), "{err}");
}

#[test]
fn an_object_that_does_not_decode_fails_the_file_at_its_line() {
    let yaml = format!(
        "{}---\napiVersion: v1\nkind: Service\nmetadata: {{name: b, namespace: default}}\n\
         spec: {{ports: not-a-list}}\n",
        service("a", 80)
    );
    let err = parse_file(Path::new("bad.yaml"), &yaml).expect_err("decode error");
    assert_eq!(err.line(), Some(10), "{err}");
}

#[test]
fn unchanged_files_are_not_reparsed_and_rescans_report_no_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "a.yaml", &service("a", 80));
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    assert!(dir.rescan().changed);
    assert_eq!(dir.rescan(), ScanReport::default());
    // Same objects written differently: reparsed, but the object set did not change.
    write(
        tmp.path(),
        "a.yaml",
        &format!("# comment\n{}", service("a", 80)),
    );
    assert!(!dir.rescan().changed);
    write(tmp.path(), "a.yaml", &service("a", 81));
    assert!(dir.rescan().changed);
    assert_eq!(dir.index().len(), 1);
}

#[test]
fn hidden_temp_and_foreign_files_are_ignored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in [".a.yaml", "b.yaml~", "#c.yaml#", "d.yaml.swp", "e.txt"] {
        write(tmp.path(), name, &service("x", 80));
    }
    std::fs::create_dir(tmp.path().join("sub.yaml")).expect("mkdir");
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    let report = dir.rescan();
    assert!(!report.changed && report.errors.is_empty(), "{report:?}");
    assert_eq!(dir.object_count(), 0);
}

#[test]
fn a_bad_edit_keeps_the_last_good_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "a.yaml", &service("a", 80));
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    dir.rescan();
    write(tmp.path(), "a.yaml", "kind: Service\nmetadata: [\n");
    let report = dir.rescan();
    assert!(!report.changed);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].path(), tmp.path().join("a.yaml"));
    let ports: Vec<_> = dir.objects().into_iter().map(port_of).collect();
    assert_eq!(ports, [Some(80)]);
    // Fixed again: the error clears and the new version is used.
    write(tmp.path(), "a.yaml", &service("a", 82));
    let report = dir.rescan();
    assert!(report.changed && report.errors.is_empty(), "{report:?}");
    let ports: Vec<_> = dir.objects().into_iter().map(port_of).collect();
    assert_eq!(ports, [Some(82)]);
}

#[test]
fn a_new_file_that_does_not_parse_contributes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "a.yaml", &service("a", 80));
    write(tmp.path(), "b.yaml", "a: [\n");
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    let report = dir.rescan();
    assert!(report.changed);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(dir.errors(), report.errors);
    assert_eq!(dir.object_count(), 1);
}

#[test]
fn a_deleted_file_drops_its_objects() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "a.yaml", &service("a", 80));
    write(tmp.path(), "b.yaml", &service("b", 80));
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    dir.rescan();
    assert_eq!(dir.object_count(), 2);
    std::fs::remove_file(tmp.path().join("b.yaml")).expect("rm");
    assert!(dir.rescan().changed);
    let left: Vec<_> = dir.objects().into_iter().map(|o| o.key().name).collect();
    assert_eq!(left, ["a"]);
}

#[test]
fn a_duplicate_object_is_taken_from_the_first_file_in_lexical_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "b.yaml", &service("web", 81));
    write(tmp.path(), "a.yaml", &service("web", 80));
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    dir.rescan();
    assert_eq!(dir.object_count(), 2);
    let ports: Vec<_> = dir.objects().into_iter().map(port_of).collect();
    assert_eq!(ports, [Some(80)]);
    assert_eq!(dir.index().len(), 1);
}

#[test]
fn a_missing_folder_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = ManifestDir::open(tmp.path().join("nope")).expect_err("missing");
    assert!(matches!(err, ManifestError::Dir { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn a_folder_that_disappears_keeps_its_objects() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("m");
    std::fs::create_dir(&root).expect("mkdir");
    write(&root, "a.yaml", &service("a", 80));
    let mut dir = ManifestDir::open(&root).expect("open");
    dir.rescan();
    std::fs::remove_dir_all(&root).expect("rm");
    let report = dir.rescan();
    assert!(!report.changed);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(dir.object_count(), 1);
}

#[test]
fn subfolders_are_read_and_hidden_folders_and_leftovers_are_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    for dir in [
        "team-a/apps",
        "team-b",
        ".git",
        "..2024_01_01",
        "old.bak",
        "#x#",
    ] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    write(root, "top.yaml", &service("top", 80));
    write(&root.join("team-a/apps"), "a.yaml", &service("a", 80));
    write(&root.join("team-b"), "b.yml", &service("b", 80));
    for (dir, name) in [
        ("team-b", ".#b.yaml"),
        ("team-b", "#b.yaml#"),
        ("team-b", "b.yaml~"),
        ("team-b", ".b.yaml.swp"),
        ("team-b", "b.yaml.swx"),
        ("team-b", "b.yaml.bak"),
        ("team-b", "b.yaml.orig"),
        (".git", "x.yaml"),
        ("..2024_01_01", "x.yaml"),
        ("old.bak", "x.yaml"),
        ("#x#", "x.yaml"),
    ] {
        write(&root.join(dir), name, &service("x", 80));
    }
    let mut dir = ManifestDir::open(root).expect("open");
    let report = dir.rescan();
    assert!(report.changed && report.errors.is_empty(), "{report:?}");
    let mut names: Vec<_> = dir.objects().into_iter().map(|o| o.key().name).collect();
    names.sort();
    assert_eq!(names, ["a", "b", "top"]);

    // A change deep down is seen; a removed subfolder drops its objects.
    write(&root.join("team-a/apps"), "a.yaml", &service("a", 81));
    assert!(dir.rescan().changed);
    std::fs::remove_dir_all(root.join("team-a")).expect("rm");
    assert!(dir.rescan().changed);
    assert_eq!(dir.object_count(), 2);
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_read_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(tmp.path().join("sub")).expect("mkdir");
    write(&tmp.path().join("sub"), "a.yaml", &service("a", 80));
    std::os::unix::fs::symlink("..", tmp.path().join("sub/up")).expect("symlink");
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    assert!(dir.rescan().errors.is_empty());
    assert_eq!(dir.object_count(), 1);
}

/// Runs `f` with every log line at warn and above captured; returns the captured text.
fn warnings_of(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = captured.0.lock().expect("lock").clone();
    String::from_utf8(bytes).expect("UTF-8 logs")
}

#[test]
fn a_folder_without_objects_is_warned_about_once_each_time_it_empties() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let mut dir = ManifestDir::open(root).expect("open");
    let count = |logs: &str| logs.matches("no objects in the manifests folder").count();

    let logs = warnings_of(|| {
        dir.rescan();
        dir.rescan();
        dir.rescan();
    });
    assert_eq!(count(&logs), 1, "{logs}");
    assert!(
        logs.contains(&root.display().to_string()),
        "names the folder: {logs}"
    );

    let logs = warnings_of(|| {
        write(root, "a.yaml", &service("a", 80));
        dir.rescan();
        dir.rescan();
    });
    assert_eq!(count(&logs), 0, "{logs}");

    let logs = warnings_of(|| {
        std::fs::remove_file(root.join("a.yaml")).expect("rm");
        dir.rescan();
        dir.rescan();
    });
    assert_eq!(count(&logs), 1, "warned again once it emptied: {logs}");
}
