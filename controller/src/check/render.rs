//! The report as aligned plain text for people ([`table`]) or one JSON object for tools
//! ([`json`]; field names documented in the module doc of [`crate::check`]).

use std::fmt::Write as _;

use serde_json::{Value, json};
use strait_shared::{Diagnostic, Severity};

use super::{AnnotationCheck, IngressCheck, OptionCheck, Report, Verdict};

/// Longest annotation or option value shown in the table (the JSON has them whole).
const VALUE_WIDTH: usize = 32;

/// The report as text: one section per Ingress of ours, a line per Ingress that is not, the
/// ConfigMap's options, other diagnostics, notes, and the summary.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    for ingress in report.ingresses.iter().filter(|i| i.ours) {
        ingress_section(&mut out, ingress);
    }
    let not_ours: Vec<Vec<String>> = report
        .ingresses
        .iter()
        .filter(|i| !i.ours)
        .map(|i| vec![i.key.to_string(), i.class.reason.clone()])
        .collect();
    if !not_ours.is_empty() {
        out.push_str("Not ours (another controller's; nothing checked):\n");
        out.push_str(&columns(&not_ours, 2));
        out.push('\n');
    }
    if !report.configmap.is_empty() {
        let _ = writeln!(out, "ingress-nginx ConfigMap {}:", report.configmap_key);
        let mut rows = vec![cells(["OPTION", "VALUE", "STATUS", "IN STRAIT"])];
        rows.extend(report.configmap.iter().map(option_row));
        out.push_str(&columns(&rows, 2));
        out.push('\n');
    }
    if !report.other_diagnostics.is_empty() {
        out.push_str("Other diagnostics:\n");
        let rows: Vec<_> = report
            .other_diagnostics
            .iter()
            .map(|d| {
                let mut row = diagnostic_row(d);
                row.insert(0, d.object.to_string());
                row
            })
            .collect();
        out.push_str(&columns(&rows, 2));
        out.push('\n');
    }
    if !report.notes.is_empty() {
        out.push_str("Notes:\n");
        for note in &report.notes {
            let _ = writeln!(out, "  - {note}");
        }
        out.push('\n');
    }
    summary(&mut out, report);
    out
}

fn ingress_section(out: &mut String, ingress: &IngressCheck) {
    let verdict = match ingress.verdict() {
        Verdict::Ok => "ok",
        Verdict::Attention => "needs attention",
        Verdict::Refused => "REFUSED",
        Verdict::NotOurs => "not ours",
    };
    let _ = writeln!(out, "Ingress {}: {verdict}", ingress.key);
    let _ = writeln!(out, "  class: ours, {}", ingress.class.reason);
    if let Some(refusal) = ingress.refusal {
        let _ = writeln!(out, "  {}", refusal.reason());
    }
    if ingress.canary {
        out.push_str(
            "  canary: joins the routes of its main Ingress for the same host and path (header, cookie, then weight)\n",
        );
    }
    if !ingress.regex_paths.is_empty() {
        let _ = writeln!(
            out,
            "  regex-looking paths, matched literally (neither use-regex nor rewrite-target here): {}",
            ingress.regex_paths.join(", ")
        );
    }
    if ingress.annotations.is_empty() {
        out.push_str("  annotations: none under our prefixes\n");
    } else {
        out.push_str("  annotations:\n");
        let rows: Vec<_> = ingress.annotations.iter().map(annotation_row).collect();
        out.push_str(&columns(&rows, 4));
    }
    if !ingress.diagnostics.is_empty() {
        out.push_str("  diagnostics:\n");
        let rows: Vec<_> = ingress.diagnostics.iter().map(diagnostic_row).collect();
        out.push_str(&columns(&rows, 4));
    }
    out.push('\n');
}

fn annotation_row(annotation: &AnnotationCheck) -> Vec<String> {
    let finding = &annotation.finding;
    let security = if finding.restricts { "security" } else { "" };
    vec![
        finding.key.clone(),
        one_line(&annotation.value),
        finding.status.as_str().to_owned(),
        security.to_owned(),
        finding.note(),
    ]
}

fn option_row(option: &OptionCheck) -> Vec<String> {
    let strait = match option.flag {
        Some(flag) => format!("{flag}: {}", option.note),
        None => option.note.clone(),
    };
    vec![
        option.key.clone(),
        one_line(&option.value),
        option.status.as_str().to_owned(),
        strait,
    ]
}

fn diagnostic_row(d: &Diagnostic) -> Vec<String> {
    vec![
        severity(d.severity).to_owned(),
        d.reason.as_str().to_owned(),
        d.message.clone(),
    ]
}

fn summary(out: &mut String, report: &Report) {
    let s = report.summary();
    out.push_str("Summary:\n");
    let _ = writeln!(
        out,
        "  Ingresses: {} ({} ours, {} not ours); of ours: {} ok, {} need attention, {} refused; {} canary",
        s.ingresses,
        s.ours,
        s.not_ours(),
        s.ok,
        s.attention,
        s.refused,
        s.canary
    );
    let keys: Vec<String> = s.keys.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        out,
        "  annotation keys on our Ingresses: {}",
        keys.join(", ")
    );
    let _ = writeln!(out, "  diagnostics: {}", s.diagnostics);
    if !report.configmap.is_empty() {
        let _ = writeln!(
            out,
            "  ConfigMap options needing attention: {} of {}",
            s.configmap_attention,
            report.configmap.len()
        );
    }
    let _ = match report.exit_code() {
        0 => writeln!(out, "  exit status 0: nothing to change before moving"),
        code => writeln!(out, "  exit status {code}: look at the above before moving"),
    };
}

/// The report as one pretty-printed JSON object, newline-terminated.
pub fn json(report: &Report) -> String {
    let s = report.summary();
    let value = json!({
        "ingresses": report.ingresses.iter().map(ingress_json).collect::<Vec<_>>(),
        "configmap": report.configmap.iter().map(|o| json!({
            "key": o.key,
            "value": o.value,
            "status": o.status.as_str(),
            "flag": o.flag,
            "note": o.note,
            "attention": o.attention(),
        })).collect::<Vec<_>>(),
        "diagnostics": report.other_diagnostics.iter().map(|d| {
            let mut value = diagnostic_json(d);
            value["kind"] = json!(d.object.kind.as_str());
            value["namespace"] = json!(d.object.key.namespace);
            value["name"] = json!(d.object.key.name);
            value
        }).collect::<Vec<_>>(),
        "notes": report.notes,
        "summary": {
            "ingresses": s.ingresses,
            "ours": s.ours,
            "not_ours": s.not_ours(),
            "ok": s.ok,
            "attention": s.attention,
            "refused": s.refused,
            "canary": s.canary,
            "keys": s.keys,
            "diagnostics": s.diagnostics,
            "configmap_attention": s.configmap_attention,
            "exit_code": report.exit_code(),
        },
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

fn ingress_json(ingress: &IngressCheck) -> Value {
    json!({
        "namespace": ingress.key.namespace,
        "name": ingress.key.name,
        "ours": ingress.ours,
        "verdict": ingress.verdict().as_str(),
        "class": {
            "source": ingress.class.source.as_str(),
            "name": ingress.class.name,
            "reason": ingress.class.reason,
        },
        "refused": ingress.refusal.map(|r| json!({"reason": r.as_str(), "message": r.reason()})),
        "canary": ingress.canary,
        "annotations": ingress.annotations.iter().map(|a| json!({
            "key": a.finding.key,
            "value": a.value,
            "status": a.finding.status.as_str(),
            "security": a.security(),
            "restricts": a.finding.restricts,
            "note": a.finding.note(),
            "suggestion": a.finding.suggestion,
        })).collect::<Vec<_>>(),
        "diagnostics": ingress.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
        "regex_paths": ingress.regex_paths,
    })
}

fn diagnostic_json(d: &Diagnostic) -> Value {
    json!({
        "severity": severity(d.severity),
        "reason": d.reason.as_str(),
        "message": d.message,
    })
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn cells<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// A value on one line, shortened to [`VALUE_WIDTH`] characters.
fn one_line(value: &str) -> String {
    let flat = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= VALUE_WIDTH {
        return flat;
    }
    let mut short: String = flat.chars().take(VALUE_WIDTH - 1).collect();
    short.push('…');
    short
}

/// Rows as aligned columns (two spaces apart), each line indented by `indent`; the last
/// column is not padded, and trailing empty cells leave no trailing spaces.
pub(super) fn columns(rows: &[Vec<String>], indent: usize) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = " ".repeat(indent);
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() && widths[i] > 0 {
                let pad = widths[i] - cell.chars().count() + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
