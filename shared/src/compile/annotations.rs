//! Per-Ingress settings and verdicts read from annotations, all through the registry
//! ([`crate::annotations`]).
//!
//! - [`settings`]: the honoured keys as typed values. An unparsable value of a key that
//!   restricts nothing is reported and its default applies; of a security-relevant key it
//!   refuses the Ingress's routes (fail closed).
//! - [`report`]: one diagnostic per Ingress and verdict: snippets (Ingress refused), security
//!   keys not enforced (routes refused, or served with a warning under
//!   `--unsupported-security-annotations=serve`), keys not implemented yet, ignored keys, and
//!   unknown keys with the nearest known one.

use crate::annotations::{Annotations, KeyStatus, Review, Status, parse_bool};
use crate::config::{CompileConfig, UnsupportedSecurity};
use crate::model::{Diagnostic, ObjectRef, Reason};
use crate::table::{BackendMode, BodyLimit, Limits, Refusal, SourcePolicy};

use std::sync::Arc;

mod access;
mod balancing;
mod errors;
mod limits;
mod proxying;
mod redirects;
mod rewrite;

pub(super) use errors::ErrorSettings;
pub(super) use rewrite::{PathAnnotations, Target};

/// How an Ingress wants plain HTTP handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Redirects {
    /// Redirect hosts listed in some `spec.tls`.
    pub(super) ssl: bool,
    /// Redirect every host of this Ingress, TLS or not.
    pub(super) force: bool,
}

/// What the rules of one Ingress take from its annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Settings {
    pub(super) mode: BackendMode,
    pub(super) redirects: Redirects,
    pub(super) access_log: bool,
    /// Every route of the Ingress answers 503 with this reason.
    pub(super) refused: Option<Refusal>,
    /// Source-address lists (see [`access`]).
    pub(super) source: Option<Arc<SourcePolicy>>,
    /// Request body limit (see [`access`]).
    pub(super) max_body_size: Option<BodyLimit>,
    /// Rate and connection limits (see [`limits`]).
    pub(super) limits: Option<Arc<Limits>>,
    /// CORS (see [`proxying`]).
    pub(super) cors: Option<Arc<crate::table::Cors>>,
    /// Upstream timeouts (see [`proxying`]).
    pub(super) timeouts: Option<Arc<crate::table::Timeouts>>,
    /// `permanent-redirect` / `temporal-redirect` (see [`redirects`]).
    pub(super) redirect: Option<Arc<crate::table::redirect::Redirect>>,
    /// How HTTPS redirects write `Location` (see [`redirects`]).
    pub(super) https_redirect_style: crate::table::redirect::HttpsRedirectStyle,
    /// `upstream-vhost` (see [`proxying`]).
    pub(super) upstream_host: Option<http::HeaderValue>,
    /// Retries (see [`proxying`]).
    pub(super) retries: Option<Arc<crate::table::Retries>>,
    /// `custom-http-errors`, `disable-proxy-intercept-errors`, `default-backend` (see
    /// [`errors`]).
    pub(super) errors: ErrorSettings,
    /// Cookie session affinity (see [`balancing`]).
    pub(super) affinity: Option<Arc<crate::table::affinity::Affinity>>,
    /// Consistent hashing (see [`balancing`]); `None` when `affinity` is set.
    pub(super) hashing: Option<Arc<crate::table::hash_by::Hashing>>,
    /// `load-balance` (see [`proxying`]).
    pub(super) load_balance: Option<crate::table::LoadBalance>,
}

/// The settings of an Ingress whose annotations were reviewed as `review`.
pub(super) fn settings(
    annotations: Annotations<'_>,
    review: &Review,
    config: &CompileConfig,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) -> Settings {
    let mut read = Reader {
        keys: annotations,
        object,
        diagnostics,
    };
    let access = access::read(&mut read, config);
    let limits = read.limits();
    let refused = if !review.snippets.is_empty() {
        Some(Refusal::SnippetAnnotation)
    } else if !review.unenforced.is_empty()
        && config.unsupported_security == UnsupportedSecurity::Refuse
    {
        Some(Refusal::UnsupportedSecurityAnnotation)
    } else if access.invalid || limits.invalid {
        Some(Refusal::InvalidSecurityAnnotation)
    } else {
        None
    };
    Settings {
        mode: read.backend_mode(config.backend_mode),
        redirects: Redirects {
            ssl: read.boolean("ssl-redirect").unwrap_or(true),
            force: read.boolean("force-ssl-redirect").unwrap_or(false),
        },
        access_log: read.boolean("enable-access-log").unwrap_or(true),
        refused,
        source: access.source,
        max_body_size: access.max_body_size,
        limits: limits.limits,
        cors: read.cors(),
        timeouts: read.timeouts(),
        redirect: read.redirect(),
        https_redirect_style: read.https_redirect_style(),
        upstream_host: read.upstream_host(),
        retries: read.retries(),
        errors: read.errors(),
        affinity: read.affinity(),
        hashing: read.hashing(),
        load_balance: read.load_balance(),
    }
}

/// The path annotations of an Ingress (`use-regex`, `rewrite-target`, `x-forwarded-prefix`,
/// `app-root`; see [`rewrite`]), read once before any Ingress claims a path: they decide which
/// hosts match by regex.
pub(super) fn paths(
    annotations: Annotations<'_>,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) -> PathAnnotations {
    Reader {
        keys: annotations,
        object,
        diagnostics,
    }
    .paths()
}

/// The annotation diagnostics of an Ingress (see the module doc).
pub(super) fn report(
    review: &Review,
    config: &CompileConfig,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut push = |error: bool, reason: Reason, message: String| {
        let d = if error {
            Diagnostic::error(object.clone(), reason, message)
        } else {
            Diagnostic::warning(object.clone(), reason, message)
        };
        diagnostics.push(d);
    };
    if !review.snippets.is_empty() {
        push(
            true,
            Reason::RefusedAnnotation,
            format!(
                "{}: snippet annotations are nginx configuration text, which Strait never executes; every route of this Ingress answers 503",
                review.snippets.join(", ")
            ),
        );
    }
    if !review.unenforced.is_empty() {
        let keys = review.unenforced.join(", ");
        match config.unsupported_security {
            UnsupportedSecurity::Refuse => push(
                true,
                Reason::UnsupportedAnnotation,
                format!(
                    "{keys}: security annotations that Strait does not enforce yet; this Ingress's routes answer 503 (fail closed; --unsupported-security-annotations=serve serves them without the control)"
                ),
            ),
            UnsupportedSecurity::Serve => push(
                false,
                Reason::UnsupportedAnnotation,
                format!(
                    "{keys}: security annotations that Strait does not enforce yet; served WITHOUT them because --unsupported-security-annotations=serve"
                ),
            ),
        }
    }
    let not_yet = review.not_yet();
    if !not_yet.is_empty() {
        push(
            false,
            Reason::UnsupportedAnnotation,
            format!("{}: not implemented yet; no effect", not_yet.join(", ")),
        );
    }
    let ignored = review.keys_with(KeyStatus::Known(Status::Ignored));
    if !ignored.is_empty() {
        push(
            false,
            Reason::IgnoredAnnotation,
            format!("{}: ignored (no effect on traffic)", ignored.join(", ")),
        );
    }
    let unknown: Vec<String> = review
        .findings
        .iter()
        .filter(|f| f.status == KeyStatus::Unknown)
        .map(|f| match &f.suggestion {
            Some(suggestion) => format!("{} (did you mean {suggestion}?)", f.key),
            None => f.key.clone(),
        })
        .collect();
    if !unknown.is_empty() {
        push(
            false,
            Reason::UnknownAnnotation,
            format!("unknown annotations, no effect: {}", unknown.join("; ")),
        );
    }
}

/// Typed reads of honoured keys, reporting values that do not parse.
struct Reader<'a, 'd> {
    keys: Annotations<'a>,
    object: &'d ObjectRef,
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl Reader<'_, '_> {
    /// `strait.dev/<name>`, else `<prefix>/<name>`, as a boolean. An unparsable value is
    /// reported and skipped, as if absent, so the next key or the default applies.
    fn boolean(&mut self, name: &'static str) -> Option<bool> {
        let candidates = [self.keys.strait(name), self.keys.nginx(name)];
        for (key, value) in candidates.into_iter().flatten() {
            match parse_bool(value) {
                Some(b) => return Some(b),
                None => self.invalid(&key, value, "is not true or false"),
            }
        }
        None
    }

    /// `strait.dev/backend-mode`, else `service-upstream: "true"` (service), else `default`.
    fn backend_mode(&mut self, default: BackendMode) -> BackendMode {
        if let Some((key, value)) = self.keys.strait("backend-mode") {
            match BackendMode::parse(value) {
                Some(mode) => return mode,
                None => self.invalid(&key, value, "is not one of pod, nodeport, service"),
            }
        }
        if let Some((key, value)) = self.keys.nginx("service-upstream") {
            match parse_bool(value) {
                Some(true) => return BackendMode::Service,
                Some(false) => {}
                None => self.invalid(&key, value, "is not true or false"),
            }
        }
        default
    }

    /// `<prefix>/<name>` through `parse`; a value that does not parse is reported with `why`.
    pub(super) fn parsed<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
        why: &str,
    ) -> Option<T> {
        let (key, value) = self.keys.nginx(name)?;
        let parsed = parse(value);
        if parsed.is_none() {
            self.invalid(&key, value, why);
        }
        parsed
    }

    fn invalid(&mut self, key: &str, value: &str, why: &str) {
        self.diagnostics.push(Diagnostic::warning(
            self.object.clone(),
            Reason::InvalidAnnotation,
            format!("{key}: {value:?} {why}; ignored"),
        ));
    }
}
