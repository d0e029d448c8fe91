//! The README's support table, generated from the registry (a test keeps the README equal to
//! it).

use std::fmt::Write as _;

use super::{KeySpec, Namespace, STRAIT_PREFIX, Status, keys};

/// Marks around the generated table in the README.
pub const BEGIN: &str =
    "<!-- annotation-support:begin (generated from shared/src/annotations/keys.rs) -->";
pub const END: &str = "<!-- annotation-support:end -->";

/// Keys per status, in [`Status::ALL`] order.
pub fn counts() -> [(Status, usize); 5] {
    Status::ALL.map(|status| (status, keys().iter().filter(|k| k.status == status).count()))
}

/// The table in Markdown: a count line, then one row per key (ingress-nginx keys in group
/// order, then Strait's).
pub fn markdown() -> String {
    let mut out = String::new();
    let total = keys().len();
    let counts: Vec<String> = counts()
        .iter()
        .map(|(status, n)| format!("{n} `{status}`"))
        .collect();
    let security = keys().iter().filter(|k| k.security).count();
    let _ = writeln!(
        out,
        "{total} keys: {}. {security} are security-relevant: while `not-yet`, they refuse their routes (503).",
        counts.join(", ")
    );
    out.push('\n');
    out.push_str("| key | group | status | security | difference, reason or plan | since |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for key in keys() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            display_name(key),
            key.group.as_str(),
            key.status,
            if key.security { "yes" } else { "" },
            note(key),
            key.since
        );
    }
    out
}

fn display_name(key: &KeySpec) -> String {
    match key.namespace {
        Namespace::Nginx => key.name.to_owned(),
        Namespace::Strait => format!("{STRAIT_PREFIX}/{}", key.name),
    }
}

fn note(key: &KeySpec) -> String {
    let note = key.note.replace('|', "\\|");
    match key.alias_of {
        Some(of) => format!("older name of `{of}`; {note}"),
        None => note,
    }
}

/// `readme` with the text between [`BEGIN`] and [`END`] replaced by [`markdown`]; `None` when
/// the marks are missing.
pub fn splice(readme: &str) -> Option<String> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = readme[start..].find(END)? + start;
    Some(format!(
        "{}\n{}{}",
        &readme[..start],
        markdown(),
        &readme[end..]
    ))
}
