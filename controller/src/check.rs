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
//! (and why), whether it is a canary, paths that look like regular expressions
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
//! a regex-looking path), has a diagnostic, a ConfigMap option needs
//! attention, or the input holds Ingresses of which none is ours (check `--ingress-class`);
//! **2** when the check could not run (unreadable input or cluster, bad flags), with the
//! error once on stderr.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{ArgAction, ArgGroup, Args, ValueEnum};
use strait_shared::ObjectKey;

use crate::cli::{TranslationArgs, parse_object_key};
use crate::cluster::ClusterConfig;

mod class;
mod cluster;
mod input;
mod render;
mod report;
#[cfg(test)]
mod tests;

pub use class::{ClassInfo, ClassSource, explain_class};
pub use cluster::{API_USE, read_cluster};
pub use input::{Loaded, read_contents, read_path};
pub use render::{json, table};
pub use report::{
    AnnotationCheck, IngressCheck, OptionCheck, OptionStatus, Report, Summary, Verdict, regex_paths,
};

/// The exit status when the check could not run (unreadable input, bad flags): clap's own.
pub const EXIT_UNUSABLE: u8 = 2;

/// ingress-nginx's ConfigMap as its Helm chart names it.
pub const DEFAULT_NGINX_CONFIGMAP: &str = "ingress-nginx/ingress-nginx-controller";

/// Flags of `strait check`. Its own flags fall back to `STRAIT_CHECK_<FLAG>`; the translation
/// flags share `serve`'s variables (`STRAIT_INGRESS_CLASS`...), so a check run beside the
/// controller reads its settings.
#[derive(Debug, Clone, Args)]
#[command(group(
    ArgGroup::new("source")
        .required(true)
        .args(["input", "kubeconfig", "cluster"])
))]
pub struct CheckArgs {
    /// A manifests folder (subfolders included), one YAML/JSON file, or `-` for standard input
    /// (e.g. `kubectl get ingressclass,ingress,svc,endpointslices,cm -A -o yaml`).
    #[arg(env = "STRAIT_CHECK_INPUT", value_name = "DIR|FILE|-")]
    pub input: Option<PathBuf>,
    /// Read a live cluster through this kubeconfig (read-only: lists, and one ConfigMap get).
    #[arg(long, env = "STRAIT_CHECK_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Read a live cluster through `KUBECONFIG`, else the in-cluster service account.
    #[arg(long, env = "STRAIT_CHECK_CLUSTER", action = ArgAction::SetTrue)]
    pub cluster: bool,
    /// ingress-nginx's ConfigMap, whose options are listed with their Strait counterpart.
    #[arg(
        long,
        env = "STRAIT_CHECK_NGINX_CONFIGMAP",
        value_name = "NAMESPACE/NAME",
        default_value = DEFAULT_NGINX_CONFIGMAP,
        value_parser = parse_object_key
    )]
    pub nginx_configmap: ObjectKey,
    /// `table` (aligned text for people) or `json` (one object for tools).
    #[arg(long, short = 'o', env = "STRAIT_CHECK_OUTPUT", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub translation: TranslationArgs,
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
