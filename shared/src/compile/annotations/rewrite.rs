//! The path annotations of one Ingress, as ingress-nginx's `rewrite` and `xforwardedprefix`
//! parsers read them (internal/ingress/annotations/rewrite/main.go):
//!
//! - `use-regex`: a boolean; one that does not parse is reported and `false` applies.
//! - `rewrite-target`: checked by ingress-nginx's validator (`RegexPathWithCapture`: letters,
//!   digits, `- . _ ~ / : $`); a value it refuses is reported and ignored, as ingress-nginx
//!   ignores it ("defaulting to empty"). A value it accepts but Strait cannot apply (an nginx
//!   variable, an absolute URL) is an error: the paths it would rewrite are not served.
//! - `x-forwarded-prefix`: the same check with spaces allowed; an nginx variable in it is
//!   reported and the header is not sent. It only has an effect with a rewrite.
//! - `app-root`: the same check, and a path (ingress-nginx's `url.ParseRequestURI` without a
//!   scheme); otherwise reported and ignored, as ingress-nginx does.
//!
//! None of these restricts access, so none refuses the Ingress's routes.

use std::sync::Arc;

use super::Reader;
use crate::annotations::parse_bool;
use crate::model::{Diagnostic, Reason};
use crate::table::rewrite::{Template, TemplateError};

/// What an Ingress's annotations say about its paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::compile) struct PathAnnotations {
    /// `use-regex: "true"`.
    pub(in crate::compile) use_regex: bool,
    pub(in crate::compile) target: Target,
    /// `x-forwarded-prefix`, sent with rewritten requests.
    pub(in crate::compile) forwarded_prefix: Option<Template>,
    /// `app-root`: `/` of the Ingress's hosts answers 302 to it.
    pub(in crate::compile) app_root: Option<Arc<str>>,
}

/// `rewrite-target`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::compile) enum Target {
    /// None, empty, or refused by ingress-nginx's validator.
    #[default]
    None,
    Rewrite(Template),
    /// A value Strait cannot apply (reported): the paths it would rewrite are not served.
    Unsupported(Box<str>),
}

impl PathAnnotations {
    /// ingress-nginx's `needsRewrite`: the path is rewritten when the target differs from it.
    pub(in crate::compile) fn rewrites(&self, path: &str) -> bool {
        match &self.target {
            Target::None => false,
            Target::Rewrite(t) => t.as_str() != path,
            Target::Unsupported(raw) => &**raw != path,
        }
    }

    /// The path is written as a regex location, which makes its whole host match by regex
    /// (ingress-nginx's `enforceRegexModifier`).
    pub(in crate::compile) fn regex(&self, path: &str) -> bool {
        self.use_regex || self.rewrites(path)
    }
}

impl Reader<'_, '_> {
    /// The path annotations of the Ingress (see the module doc).
    pub(in crate::compile) fn paths(&mut self) -> PathAnnotations {
        PathAnnotations {
            use_regex: self.use_regex(),
            target: self.rewrite_target(),
            forwarded_prefix: self.forwarded_prefix(),
            app_root: self.app_root(),
        }
    }

    fn use_regex(&mut self) -> bool {
        let Some((key, value)) = self.keys.nginx("use-regex") else {
            return false;
        };
        parse_bool(value).unwrap_or_else(|| {
            self.invalid(&key, value, "is not true or false (false applies)");
            false
        })
    }

    fn rewrite_target(&mut self) -> Target {
        let Some((key, value)) = self.keys.nginx("rewrite-target") else {
            return Target::None;
        };
        if value.is_empty() {
            return Target::None;
        }
        let parsed = Template::parse(value, false).and_then(|t| {
            if value.starts_with("http://") || value.starts_with("https://") {
                Err(TemplateError::AbsoluteUrl)
            } else {
                Ok(t)
            }
        });
        match parsed {
            Ok(template) => Target::Rewrite(template),
            Err(e @ TemplateError::Characters) => {
                self.invalid(
                    &key,
                    value,
                    &format!("{e} (no rewrite, as in ingress-nginx)"),
                );
                Target::None
            }
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    self.object.clone(),
                    Reason::InvalidAnnotation,
                    format!("{key}: {value:?} {e}; the paths it would rewrite are not served"),
                ));
                Target::Unsupported(value.into())
            }
        }
    }

    fn forwarded_prefix(&mut self) -> Option<Template> {
        let (key, value) = self.keys.nginx("x-forwarded-prefix")?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match Template::parse(value, true) {
            Ok(template) => Some(template),
            Err(e) => {
                self.invalid(&key, value, &format!("{e} (no X-Forwarded-Prefix)"));
                None
            }
        }
    }

    fn app_root(&mut self) -> Option<Arc<str>> {
        let (key, value) = self.keys.nginx("app-root")?;
        if value.is_empty() {
            return None;
        }
        let why = match Template::parse(value, false) {
            Err(e) => e.to_string(),
            // Letters, digits and `- . _ ~ / :` only: Go's `url.ParseRequestURI` takes such a
            // value without a scheme exactly when it starts with `/`.
            Ok(_) if value.starts_with('/') => return Some(value.into()),
            Ok(_) => "is not a path starting with /".to_owned(),
        };
        self.invalid(&key, value, &format!("{why} (no app-root redirect)"));
        None
    }
}

#[cfg(test)]
mod tests;
