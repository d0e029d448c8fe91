//! The compile's module graph has no cycle: each module uses only modules listed above it in
//! the module doc's order (`mod.rs`), checked on the source text.

/// The run order of `mod.rs`'s doc, bottom layer first, with each file's source.
const ORDER: [(&str, &str); 12] = [
    ("context", include_str!("context.rs")),
    ("class", include_str!("class.rs")),
    ("annotations", include_str!("annotations.rs")),
    ("tls", include_str!("tls.rs")),
    ("pod", include_str!("pod.rs")),
    ("nodeport", include_str!("nodeport.rs")),
    ("cluster_ip", include_str!("cluster_ip.rs")),
    ("backend", include_str!("backend.rs")),
    ("rules", include_str!("rules.rs")),
    ("canary", include_str!("canary.rs")),
    ("aliases", include_str!("aliases.rs")),
    ("refresh", include_str!("refresh.rs")),
];

/// The sibling modules `source` names through `super::` (`super::x`, `super::{x, y}`).
fn siblings(source: &str) -> Vec<&'static str> {
    let ident = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in source.match_indices("super::") {
        let rest = &source[at + "super::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = group.split('}').next().unwrap_or("");
                names.extend(group.split(',').map(ident));
            }
            None => names.push(ident(rest)),
        }
    }
    names
        .iter()
        .filter_map(|name| ORDER.iter().find(|(m, _)| m == name).map(|(m, _)| *m))
        .collect()
}

#[test]
fn each_compile_module_uses_only_modules_above_it() {
    for (position, (module, source)) in ORDER.iter().enumerate() {
        for used in siblings(source) {
            let above = ORDER[..position].iter().any(|(m, _)| *m == used);
            assert!(
                above,
                "compile/{module}.rs uses super::{used}, which is not above it in the order"
            );
        }
    }
}

#[test]
fn the_index_does_not_call_into_the_compile() {
    let index = include_str!("../index.rs");
    assert!(
        !index.contains("crate::compile"),
        "index.rs names crate::compile"
    );
}

#[test]
fn the_check_sees_a_use_of_a_later_module() {
    assert_eq!(siblings("use super::backend::service_ref;"), ["backend"]);
    assert_eq!(
        siblings("use super::context::{Cluster, Located};\nuse super::{cluster_ip, pod};"),
        ["context", "cluster_ip", "pod"]
    );
}
