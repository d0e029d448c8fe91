//! The report as data: [`Report::build`] compiles the index with the controller's own code
//! and settings and turns its per-Ingress reports and diagnostics into verdicts; pure, so the
//! tests call it on hand-built indexes.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::Ingress;
use strait_shared::annotations::{self, Finding, KeyStatus, Namespace, Status};
use strait_shared::{CompileConfig, Diagnostic, Kind, ObjectKey, Refusal};

use super::class::{ClassInfo, explain_class};
use super::input::Loaded;

/// The whole report, built by [`Report::build`] (pure) and printed by
/// [`table`](super::table) or [`json`](super::json).
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Every Ingress, by namespace then name.
    pub ingresses: Vec<IngressCheck>,
    /// The ingress-nginx ConfigMap looked for.
    pub configmap_key: ObjectKey,
    /// Its options, by key (empty when it was not found).
    pub configmap: Vec<OptionCheck>,
    /// Diagnostics about objects other than an Ingress.
    pub other_diagnostics: Vec<Diagnostic>,
    /// What could not be read or found.
    pub notes: Vec<String>,
}

/// What Strait would make of one Ingress.
#[derive(Clone, Debug, PartialEq)]
pub struct IngressCheck {
    pub key: ObjectKey,
    /// Selected by our class rules (from the compile's report).
    pub ours: bool,
    pub class: ClassInfo,
    /// `canary: "true"`: joins the routes of its main Ingress.
    pub canary: bool,
    /// Its routes answer 503 for this reason.
    pub refusal: Option<Refusal>,
    /// Every annotation under our prefixes, classified, in key order.
    pub annotations: Vec<AnnotationCheck>,
    /// Every diagnostic about it, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Paths that look like regular expressions on an Ingress that sets neither `use-regex` nor
    /// `rewrite-target`: matched literally, as by ingress-nginx, unless another Ingress of the
    /// host turns regex on (NGINX-COMPAT.md section 2).
    pub regex_paths: Vec<String>,
}

/// One annotation and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnotationCheck {
    pub finding: Finding,
    pub value: String,
}

impl AnnotationCheck {
    pub fn security(&self) -> bool {
        self.finding.spec.is_some_and(|s| s.security)
    }
}

/// The overall verdict on one Ingress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Served as ingress-nginx serves it.
    Ok,
    /// Served, with something to look at (a difference, an ignored key, a diagnostic).
    Attention,
    /// Its routes answer 503.
    Refused,
    /// Another controller's: nothing checked.
    NotOurs,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Attention => "attention",
            Self::Refused => "refused",
            Self::NotOurs => "not-ours",
        }
    }
}

impl IngressCheck {
    pub fn verdict(&self) -> Verdict {
        if !self.ours {
            Verdict::NotOurs
        } else if self.refusal.is_some() {
            Verdict::Refused
        } else if !self.diagnostics.is_empty()
            || !self.regex_paths.is_empty()
            || self
                .annotations
                .iter()
                .any(|a| a.finding.status != KeyStatus::Known(Status::Honoured))
        {
            Verdict::Attention
        } else {
            Verdict::Ok
        }
    }
}

/// One ingress-nginx ConfigMap option and what replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionCheck {
    pub key: String,
    pub value: String,
    pub status: OptionStatus,
    pub flag: Option<&'static str>,
    pub note: String,
}

/// How a ConfigMap option carries over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OptionStatus {
    /// A Strait flag takes its role: set it to the same effect.
    Flag,
    /// It restricts access and Strait does not enforce it: traffic it stopped would pass.
    NotEnforced,
    /// No flag; the note says what Strait does instead (or that nothing does yet).
    NoFlag,
    /// Not in Strait's table: nginx tuning with no counterpart.
    Unlisted,
}

impl OptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::NotEnforced => "not-enforced",
            Self::NoFlag => "no-flag",
            Self::Unlisted => "unlisted",
        }
    }
}

impl OptionCheck {
    /// Checks one option against Strait's ConfigMap table.
    pub fn new(key: &str, value: &str) -> Self {
        let (status, flag, note) = match annotations::configmap::lookup(key) {
            None => (
                OptionStatus::Unlisted,
                None,
                annotations::configmap::UNLISTED.to_owned(),
            ),
            Some(option) if option.security && !value.trim().is_empty() => (
                OptionStatus::NotEnforced,
                option.flag,
                format!("NOT ENFORCED: {}", option.note),
            ),
            Some(option) => {
                let status = match option.flag {
                    Some(_) => OptionStatus::Flag,
                    None => OptionStatus::NoFlag,
                };
                (status, option.flag, option.note.to_owned())
            }
        };
        Self {
            key: key.to_owned(),
            value: value.to_owned(),
            status,
            flag,
            note,
        }
    }

    /// Needs a look before moving: not enforced, or no flag replaces it.
    pub fn attention(&self) -> bool {
        self.status != OptionStatus::Flag
    }
}

/// Counts for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub ingresses: usize,
    pub ours: usize,
    pub ok: usize,
    pub attention: usize,
    pub refused: usize,
    pub canary: usize,
    /// Annotation keys across our Ingresses, per status label ([`KeyStatus::LABELS`]).
    pub keys: BTreeMap<&'static str, usize>,
    /// Every diagnostic, about Ingresses or not.
    pub diagnostics: usize,
    pub configmap_attention: usize,
}

impl Summary {
    pub fn not_ours(&self) -> usize {
        self.ingresses - self.ours
    }
}

impl Report {
    /// Compiles `loaded.index` with `config` — the controller's own compile — and reports on
    /// every Ingress and on the ConfigMap named `configmap_key`.
    pub fn build(loaded: &Loaded, config: &CompileConfig, configmap_key: &ObjectKey) -> Self {
        let index = &loaded.index;
        let compiled = index.compile(config);
        let mut by_ingress: BTreeMap<&ObjectKey, Vec<Diagnostic>> = BTreeMap::new();
        let mut other_diagnostics = Vec::new();
        for d in &compiled.diagnostics {
            match index.ingresses().get_key_value(&d.object.key) {
                Some((key, _)) if d.object.kind == Kind::Ingress => {
                    by_ingress.entry(key).or_default().push(d.clone());
                }
                _ => other_diagnostics.push(d.clone()),
            }
        }
        let ingresses = compiled
            .ingresses
            .iter()
            .filter_map(|report| {
                let ingress = index.ingresses().get(&report.key)?;
                Some(IngressCheck {
                    key: report.key.clone(),
                    ours: report.ours,
                    class: explain_class(ingress, index, config, report.ours),
                    canary: report.canary,
                    refusal: report.refusal,
                    annotations: annotation_checks(&report.findings),
                    diagnostics: by_ingress.remove(&report.key).unwrap_or_default(),
                    regex_paths: if report.ours {
                        regex_paths(ingress, &report.findings)
                    } else {
                        Vec::new()
                    },
                })
            })
            .collect();
        let configmap = loaded
            .configmap
            .iter()
            .flatten()
            .map(|(key, value)| OptionCheck::new(key, value))
            .collect();
        let mut report = Self {
            ingresses,
            configmap_key: configmap_key.clone(),
            configmap,
            other_diagnostics,
            notes: loaded.notes.clone(),
        };
        if report.ingresses.is_empty() {
            report.notes.push("the input holds no Ingress".to_owned());
        } else if report.ingresses.iter().all(|i| !i.ours) {
            report.notes.push(format!(
                "no Ingress is ours: Strait would serve none of them (--ingress-class is {}, --controller-name is {})",
                config.ingress_classes.join(","),
                config.controller_names.join(",")
            ));
        }
        report
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            ingresses: self.ingresses.len(),
            keys: KeyStatus::LABELS.iter().map(|l| (*l, 0)).collect(),
            diagnostics: self.other_diagnostics.len(),
            configmap_attention: self.configmap.iter().filter(|o| o.attention()).count(),
            ..Summary::default()
        };
        for ingress in self.ingresses.iter().filter(|i| i.ours) {
            summary.ours += 1;
            summary.canary += usize::from(ingress.canary);
            summary.diagnostics += ingress.diagnostics.len();
            match ingress.verdict() {
                Verdict::Ok => summary.ok += 1,
                Verdict::Attention => summary.attention += 1,
                Verdict::Refused => summary.refused += 1,
                Verdict::NotOurs => {}
            }
            for annotation in &ingress.annotations {
                *summary
                    .keys
                    .entry(annotation.finding.status.as_str())
                    .or_default() += 1;
            }
        }
        summary
    }

    /// 0 when nothing needs a look, else 1 (see the module doc).
    pub fn exit_code(&self) -> u8 {
        let summary = self.summary();
        let none_ours = summary.ingresses > 0 && summary.ours == 0;
        let clean = summary.ok == summary.ours
            && self.other_diagnostics.is_empty()
            && summary.configmap_attention == 0
            && !none_ours;
        if clean { 0 } else { 1 }
    }
}

fn annotation_checks(findings: &[Finding]) -> Vec<AnnotationCheck> {
    findings
        .iter()
        .map(|finding| AnnotationCheck {
            finding: finding.clone(),
            value: finding.value.clone(),
        })
        .collect()
}

/// The paths of `ingress` that look like regular expressions (`/api/(.*)`, `/v[0-9]+/`) when its
/// annotations (`findings`) turn regex on neither by `use-regex` nor by `rewrite-target`
/// (docs/architecture.md, "Regex paths and rewrites"): such paths are matched literally, as
/// ingress-nginx matches them, unless another Ingress of the host turns regex on.
pub fn regex_paths(ingress: &Ingress, findings: &[Finding]) -> Vec<String> {
    let turns_regex_on = findings.iter().any(|f| match f.spec {
        Some(spec) if spec.namespace == Namespace::Nginx => match spec.name {
            "use-regex" => annotations::parse_bool(&f.value) == Some(true),
            "rewrite-target" => !f.value.is_empty(),
            _ => false,
        },
        _ => false,
    });
    if turns_regex_on {
        return Vec::new();
    }
    let is_regex = |path: &str| {
        path.contains([
            '^', '$', '(', ')', '[', ']', '{', '}', '*', '+', '?', '|', '\\',
        ])
    };
    let rules = ingress.spec.iter().flat_map(|s| s.rules.iter().flatten());
    let mut paths: Vec<String> = rules
        .flat_map(|rule| rule.http.iter().flat_map(|http| &http.paths))
        .filter_map(|path| path.path.as_deref())
        .filter(|path| is_regex(path))
        .map(str::to_owned)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}
