//! `strait check`: the migration report. Reads the objects an ingress-nginx user already has
//! (a manifests folder, one file, standard input, or a live cluster, read-only), compiles
//! them with the same code and settings as `strait serve` and `strait controller`, and says,
//! per Ingress, what Strait would do with it.
//!
//! ```text
//! strait check [TRANSLATION FLAGS] DIR | FILE | -
//! strait check [TRANSLATION FLAGS] --kubeconfig FILE
//! strait check [TRANSLATION FLAGS] --cluster
//!     [--nginx-configmap NAMESPACE/NAME] [--output table|json]
//! ```
//!
//! Translation flags are those of `serve`/`controller`: `--ingress-class`,
//! `--controller-name`, `--watch-ingress-without-class`, `--annotations-prefix`,
//! `--unsupported-security-annotations`, `--backend-mode`, `--default-ssl-certificate`.
//!
//! For each Ingress (by namespace, then name): whether it is ours and why (its
//! `ingressClassName`, the legacy `kubernetes.io/ingress.class` annotation, or no class), each
//! annotation under our prefixes with its status and note, whether its routes are refused
//! (and why), whether it is a canary set aside, paths that look like regular expressions
//! (matched literally while regex paths are not implemented), and every diagnostic about it:
//! the same diagnostics the controller logs and posts as Events. Ingresses that are not ours
//! are listed briefly. When the input holds ingress-nginx's ConfigMap (`--nginx-configmap`,
//! default `ingress-nginx/ingress-nginx-controller`), each of its options with the Strait flag
//! that replaces it, or the note. Then a summary.
//!
//! `--output json` prints one object with stable field names:
//!
//! - `ingresses`: one object per Ingress: `namespace`, `name`, `ours` (bool), `verdict`
//!   (`ok`, `attention`, `refused`, `canary`, `not-ours`), `class` (`source`:
//!   `ingressClassName` | `annotation` | `none`; `name`: the class or null; `reason`: why it
//!   is or is not ours), `refused` (null, or `reason`: a bounded label such as
//!   `unsupported_security_annotation`, and `message`), `canary` (bool), `annotations` (`key`,
//!   `value`, `status`: `honoured` | `honoured-with-difference` | `ignored` | `not-yet` |
//!   `refused` | `unknown`, `security` (bool), `restricts` (bool: a security key whose value
//!   restricts access), `note`, `suggestion` (the key an unknown one may have meant, or
//!   null)), `diagnostics` (`severity`: `error` | `warning`, `reason`, `message`),
//!   `regex_paths` (paths that look like regular expressions, which Strait matches literally).
//! - `configmap`: one object per option of the ConfigMap (empty when not found): `key`,
//!   `value`, `status` (`flag`: a Strait flag replaces it; `not-enforced`: it restricts
//!   access and Strait has no equivalent; `no-flag`: no flag, the note says what Strait does;
//!   `unlisted`: nginx tuning with no counterpart), `flag` (or null), `note`, `attention`
//!   (bool).
//! - `diagnostics`: diagnostics about objects other than an Ingress (same fields plus `kind`,
//!   `namespace`, `name`).
//! - `notes`: what could not be read or found (forbidden lists, no ConfigMap), as sentences.
//! - `summary`: `ingresses`, `ours`, `not_ours`, `ok`, `attention`, `refused`, `canary`,
//!   `keys` (a count per annotation status across our Ingresses), `diagnostics`,
//!   `configmap_attention`, `exit_code`.
//!
//! Exit status: **0** when every Ingress of ours compiles with no diagnostic and every
//! annotation on it is `honoured`; **1** when anything would be refused, ignored or changed
//! (an annotation `honoured-with-difference`, `ignored`, `not-yet`, `refused` or unknown; a
//! canary set aside, a regex-looking path), has a diagnostic, a ConfigMap option needs
//! attention, or the input holds Ingresses of which none is ours (check `--ingress-class`);
//! **2** when the check could not run (unreadable input or cluster, bad flags), with the
//! error once on stderr.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use clap::{ArgAction, ArgGroup, Args, ValueEnum};
use k8s_openapi::api::networking::v1::Ingress;
use strait_shared::annotations::{self, Finding, KeyStatus, Namespace, Status};
use strait_shared::{CompileConfig, Diagnostic, Index, Kind, ObjectKey, Refusal};

use crate::cli::{
    BackendModeArg, UnsupportedSecurityArg, parse_annotations_prefix, parse_name, parse_object_key,
};
use crate::cluster::ClusterConfig;

mod cluster;
mod input;
mod render;
#[cfg(test)]
mod tests;

pub use cluster::{API_USE, read_cluster};
pub use input::{Loaded, read_contents, read_path};
pub use render::{json, table};

/// The exit status when the check could not run (unreadable input, bad flags): clap's own.
pub const EXIT_UNUSABLE: u8 = 2;

/// ingress-nginx's ConfigMap as its Helm chart names it.
pub const DEFAULT_NGINX_CONFIGMAP: &str = "ingress-nginx/ingress-nginx-controller";

/// The legacy class annotation, read by the class explanation.
const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// Marks an IngressClass as the cluster default.
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Flags of `strait check`.
#[derive(Debug, Clone, Args)]
#[command(group(
    ArgGroup::new("source")
        .required(true)
        .args(["input", "kubeconfig", "cluster"])
))]
pub struct CheckArgs {
    /// A manifests folder (subfolders included), one YAML/JSON file, or `-` for standard input
    /// (e.g. `kubectl get ingressclass,ingress,svc,endpointslices,cm -A -o yaml`).
    #[arg(value_name = "DIR|FILE|-")]
    pub input: Option<PathBuf>,
    /// Read a live cluster through this kubeconfig (read-only: lists, and one ConfigMap get).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Read a live cluster through `KUBECONFIG`, else the in-cluster service account.
    #[arg(long)]
    pub cluster: bool,
    /// ingress-nginx's ConfigMap, whose options are listed with their Strait counterpart.
    #[arg(
        long,
        env = "STRAIT_NGINX_CONFIGMAP",
        value_name = "NAMESPACE/NAME",
        default_value = DEFAULT_NGINX_CONFIGMAP,
        value_parser = parse_object_key
    )]
    pub nginx_configmap: ObjectKey,
    /// `table` (aligned text for people) or `json` (one object for tools).
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub translation: TranslationArgs,
}

/// The flags of `serve` and `controller` that change the translation, with the same names,
/// defaults and environment fallbacks.
#[derive(Debug, Clone, Args)]
pub struct TranslationArgs {
    /// IngressClass names taken as ours, comma-separated (`nginx` to check ingress-nginx's
    /// Ingresses as Strait would serve them beside or instead of it).
    #[arg(
        long,
        env = "STRAIT_INGRESS_CLASS",
        value_name = "NAME,...",
        value_delimiter = ',',
        default_value = strait_shared::config::DEFAULT_INGRESS_CLASS,
        value_parser = parse_name
    )]
    pub ingress_class: Vec<String>,
    /// `spec.controller` values that mark an IngressClass as ours, comma-separated (add
    /// `k8s.io/ingress-nginx` to take ingress-nginx's IngressClasses).
    #[arg(
        long,
        env = "STRAIT_CONTROLLER_NAME",
        value_name = "NAME,...",
        value_delimiter = ',',
        default_value = strait_shared::config::DEFAULT_CONTROLLER_NAME,
        value_parser = parse_name
    )]
    pub controller_name: Vec<String>,
    /// Prefix of ingress-nginx annotations read from Ingresses.
    #[arg(
        long,
        env = "STRAIT_ANNOTATIONS_PREFIX",
        default_value = strait_shared::config::DEFAULT_ANNOTATIONS_PREFIX,
        value_parser = parse_annotations_prefix
    )]
    pub annotations_prefix: String,
    /// Routes of an Ingress with a security annotation Strait does not enforce yet: `refuse`
    /// (503, fail closed) or `serve` (without the control, warned).
    #[arg(long, env = "STRAIT_UNSUPPORTED_SECURITY_ANNOTATIONS", value_enum, default_value_t = UnsupportedSecurityArg::Refuse)]
    pub unsupported_security_annotations: UnsupportedSecurityArg,
    /// How upstreams are reached unless an Ingress overrides it.
    #[arg(long, env = "STRAIT_BACKEND_MODE", value_enum, default_value_t = BackendModeArg::Pod)]
    pub backend_mode: BackendModeArg,
    /// Also take Ingresses that name no IngressClass.
    #[arg(long, env = "STRAIT_WATCH_INGRESS_WITHOUT_CLASS", action = ArgAction::SetTrue)]
    pub watch_ingress_without_class: bool,
    /// `kubernetes.io/tls` Secret served when no `spec.tls` host matches the SNI.
    #[arg(long, env = "STRAIT_DEFAULT_SSL_CERTIFICATE", value_name = "NAMESPACE/NAME", value_parser = parse_object_key)]
    pub default_ssl_certificate: Option<ObjectKey>,
}

impl TranslationArgs {
    /// The settings the controller would compile with.
    pub fn compile_config(&self) -> CompileConfig {
        CompileConfig {
            ingress_classes: self.ingress_class.clone(),
            controller_names: self.controller_name.clone(),
            watch_ingress_without_class: self.watch_ingress_without_class,
            backend_mode: self.backend_mode.into(),
            default_ssl_certificate: self.default_ssl_certificate.clone(),
            annotations_prefix: self.annotations_prefix.clone(),
            unsupported_security: self.unsupported_security_annotations.into(),
        }
    }
}

/// `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Runs the check: reads the input, compiles, prints the report on stdout. Returns the exit
/// status (0 or 1); an error means the check could not run ([`EXIT_UNUSABLE`]).
pub async fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let config = args.translation.compile_config();
    let loaded = match (&args.input, &args.kubeconfig) {
        (Some(path), _) if path.as_os_str() == "-" => input::read_stdin(&args.nginx_configmap)?,
        (Some(path), _) => read_path(path, &args.nginx_configmap)?,
        (None, kubeconfig) => {
            let cluster = ClusterConfig {
                kubeconfig: kubeconfig.clone(),
                ..ClusterConfig::default()
            };
            let client = crate::cluster::connect(&cluster).await?;
            read_cluster(client, &args.nginx_configmap).await?
        }
    };
    let report = Report::build(&loaded, &config, &args.nginx_configmap);
    let text = match args.output {
        OutputFormat::Table => table(&report),
        OutputFormat::Json => json(&report),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // `strait check . | head`: the reader went away; the status still stands.
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("writing the report"))
        }
        _ => Ok(report.exit_code()),
    }
}

/// The whole report, built by [`Report::build`] (pure) and printed by [`table`] or [`json`].
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
    /// `canary: "true"`: set aside.
    pub canary: bool,
    /// Its routes answer 503 for this reason.
    pub refusal: Option<Refusal>,
    /// Every annotation under our prefixes, classified, in key order.
    pub annotations: Vec<AnnotationCheck>,
    /// Every diagnostic about it, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Paths that look like regular expressions, which Strait matches literally while
    /// `use-regex` is not honoured (NGINX-COMPAT.md section 2).
    pub regex_paths: Vec<String>,
}

/// How an Ingress names its class, and why that makes it ours or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassInfo {
    pub source: ClassSource,
    /// The class named, if any.
    pub name: Option<String>,
    /// Why it is (or is not) ours, as a sentence fragment.
    pub reason: String,
}

/// Where an Ingress's class comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassSource {
    Field,
    Annotation,
    None,
}

impl ClassSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Field => "ingressClassName",
            Self::Annotation => "annotation",
            Self::None => "none",
        }
    }
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
    /// A canary, set aside: its mainline keeps the traffic.
    Canary,
    /// Another controller's: nothing checked.
    NotOurs,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Attention => "attention",
            Self::Refused => "refused",
            Self::Canary => "canary",
            Self::NotOurs => "not-ours",
        }
    }
}

impl IngressCheck {
    pub fn verdict(&self) -> Verdict {
        if !self.ours {
            Verdict::NotOurs
        } else if self.canary {
            Verdict::Canary
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
                    annotations: annotation_checks(ingress, &report.findings),
                    diagnostics: by_ingress.remove(&report.key).unwrap_or_default(),
                    regex_paths: if report.ours {
                        regex_paths(ingress)
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
            summary.diagnostics += ingress.diagnostics.len();
            match ingress.verdict() {
                Verdict::Ok => summary.ok += 1,
                Verdict::Attention => summary.attention += 1,
                Verdict::Refused => summary.refused += 1,
                Verdict::Canary => summary.canary += 1,
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

fn annotation_checks(ingress: &Ingress, findings: &[Finding]) -> Vec<AnnotationCheck> {
    let values = ingress.metadata.annotations.as_ref();
    findings
        .iter()
        .map(|finding| AnnotationCheck {
            finding: finding.clone(),
            value: values
                .and_then(|v| v.get(&finding.key))
                .cloned()
                .unwrap_or_default(),
        })
        .collect()
}

/// The paths of `ingress` that look like regular expressions (`/api/(.*)`, `/v[0-9]+/`), while
/// Strait matches paths literally (the registry's `use-regex` is not honoured yet).
pub fn regex_paths(ingress: &Ingress) -> Vec<String> {
    let regex_honoured = annotations::lookup(Namespace::Nginx, "use-regex")
        .is_some_and(|spec| spec.status == Status::Honoured);
    if regex_honoured {
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

/// Why `ingress` is ours or not, from its spec and the IngressClasses in `index`: the same
/// rules as the compile's class filter (DESIGN.md, "Class"), said in words.
pub fn explain_class(
    ingress: &Ingress,
    index: &Index,
    config: &CompileConfig,
    ours: bool,
) -> ClassInfo {
    let field = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .filter(|c| !c.is_empty());
    let legacy = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION))
        .map(String::as_str)
        .filter(|c| !c.is_empty());
    let classes = config.ingress_classes.join(",");
    let controllers = config.controller_names.join(",");
    let is_class_name = |name: &str| config.ingress_classes.iter().any(|c| c == name);
    let (source, name, reason) = match (field, legacy) {
        (Some(name), _) => {
            let reason = match class_controller(index, name) {
                Some(controller) if ours => format!(
                    "ingressClassName {name}: IngressClass {name} has controller {controller}, one of --controller-name"
                ),
                Some(controller) => format!(
                    "ingressClassName {name}: IngressClass {name} has controller {controller}, not one of --controller-name {controllers}"
                ),
                None if is_class_name(name) => format!(
                    "ingressClassName {name}: no IngressClass of that name, and {name} is one of --ingress-class"
                ),
                None => format!(
                    "ingressClassName {name}: no IngressClass of that name, and {name} is not one of --ingress-class {classes}"
                ),
            };
            (ClassSource::Field, Some(name), reason)
        }
        (None, Some(name)) => {
            let reason = if is_class_name(name) {
                format!("annotation {LEGACY_CLASS_ANNOTATION}: {name}, one of --ingress-class")
            } else if ours {
                format!(
                    "annotation {LEGACY_CLASS_ANNOTATION}: {name}, an IngressClass with one of our controllers"
                )
            } else {
                format!(
                    "annotation {LEGACY_CLASS_ANNOTATION}: {name}, not one of --ingress-class {classes}"
                )
            };
            (ClassSource::Annotation, Some(name), reason)
        }
        (None, None) => {
            let reason = match (ours, default_class(index, config)) {
                (true, Some(default)) => {
                    format!("no class: the default IngressClass {default} is ours")
                }
                (true, None) => "no class: taken with --watch-ingress-without-class".to_owned(),
                (false, _) => "no class, no default IngressClass of ours, and no --watch-ingress-without-class".to_owned(),
            };
            (ClassSource::None, None, reason)
        }
    };
    ClassInfo {
        source,
        name: name.map(str::to_owned),
        reason,
    }
}

/// The `spec.controller` of the IngressClass `name`, when that IngressClass exists (an empty
/// string when it names none).
fn class_controller<'a>(index: &'a Index, name: &str) -> Option<&'a str> {
    let class = index.ingress_classes().get(&ObjectKey::cluster(name))?;
    Some(
        class
            .spec
            .as_ref()
            .and_then(|s| s.controller.as_deref())
            .unwrap_or_default(),
    )
}

/// The name of an IngressClass of ours marked as the cluster default.
fn default_class<'a>(index: &'a Index, config: &CompileConfig) -> Option<&'a str> {
    index.ingress_classes().iter().find_map(|(key, class)| {
        let is_default = class
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
            .is_some_and(|v| v == "true");
        let controller = class.spec.as_ref().and_then(|s| s.controller.as_deref());
        let ours = controller.is_some_and(|c| config.controller_names.iter().any(|n| n == c));
        (is_default && ours).then_some(key.name.as_str())
    })
}
