//! `strait check`'s output: the JSON fields it documents and the aligned table.

use super::*;
use crate::check::render::columns;

#[test]
fn the_json_has_its_documented_fields() {
    let key = nginx("auth-type");
    let mut loaded = with_service([ingress(
        "default",
        "web",
        Some("strait"),
        &[(&key, "basic")],
    )]);
    loaded.notes.push("a note".to_owned());
    loaded.configmap = Some(BTreeMap::from([("hsts".to_owned(), "true".to_owned())]));
    let value = parsed_json(&report(&loaded));
    let fields = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        fields(&value),
        ["configmap", "diagnostics", "ingresses", "notes", "summary"]
    );
    let web = &value["ingresses"][0];
    assert_eq!(
        fields(web),
        [
            "annotations",
            "canary",
            "class",
            "diagnostics",
            "name",
            "namespace",
            "ours",
            "refused",
            "regex_paths",
            "verdict"
        ]
    );
    assert_eq!(fields(&web["class"]), ["name", "reason", "source"]);
    assert_eq!(fields(&web["refused"]), ["message", "reason"]);
    assert_eq!(
        fields(&web["annotations"][0]),
        [
            "key",
            "note",
            "restricts",
            "security",
            "status",
            "suggestion",
            "value"
        ]
    );
    assert_eq!(web["annotations"][0]["value"], "basic");
    assert_eq!(
        fields(&web["diagnostics"][0]),
        ["message", "reason", "severity"]
    );
    assert_eq!(
        fields(&value["configmap"][0]),
        ["attention", "flag", "key", "note", "status", "value"]
    );
    assert_eq!(
        fields(&value["summary"]),
        [
            "attention",
            "canary",
            "configmap_attention",
            "diagnostics",
            "exit_code",
            "ingresses",
            "keys",
            "not_ours",
            "ok",
            "ours",
            "refused"
        ]
    );
    assert_eq!(
        fields(&value["summary"]["keys"]),
        [
            "honoured",
            "honoured-with-difference",
            "ignored",
            "not-yet",
            "refused",
            "unknown"
        ]
    );
    assert_eq!(value["notes"], json!(["a note"]));
    assert_eq!(value["summary"]["exit_code"], 1);
}

#[test]
fn columns_are_aligned_without_trailing_spaces() {
    let rows = vec![
        vec!["a".to_owned(), "".to_owned(), "x".to_owned()],
        vec!["long key".to_owned(), "".to_owned(), "y".to_owned()],
        vec!["b".to_owned(), "v".to_owned(), "".to_owned()],
    ];
    assert_eq!(
        columns(&rows, 2),
        "  a            x\n  long key     y\n  b         v\n"
    );
}
