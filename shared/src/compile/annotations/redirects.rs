//! `permanent-redirect`, `temporal-redirect` (with their `-code` keys),
//! `preserve-trailing-slash` and `use-port-in-redirects`, parsed by [`crate::table::redirect`].
//! None restricts access, so a value that does not parse is reported and the key has no
//! effect (ingress-nginx also drops a redirect whose URL fails its validator).

use std::sync::Arc;

use super::Reader;
use crate::table::redirect::{
    DEFAULT_PERMANENT_CODE, DEFAULT_TEMPORAL_CODE, HttpsRedirectStyle, Redirect,
    parse_redirect_target, parse_redirect_url, redirect_code,
};

impl Reader<'_, '_> {
    /// The redirect answering every route of the Ingress: `temporal-redirect` when it is set
    /// (ingress-nginx reads it first), else `permanent-redirect`.
    pub(super) fn redirect(&mut self) -> Option<Arc<Redirect>> {
        self.one_redirect("temporal-redirect", 300..=307, DEFAULT_TEMPORAL_CODE)
            .or_else(|| self.one_redirect("permanent-redirect", 300..=308, DEFAULT_PERMANENT_CODE))
    }

    fn one_redirect(
        &mut self,
        name: &'static str,
        codes: std::ops::RangeInclusive<u16>,
        default: u16,
    ) -> Option<Arc<Redirect>> {
        let (key, value) = self.keys.nginx(name)?;
        if value.trim().is_empty() {
            return None;
        }
        let parse = if name == "temporal-redirect" {
            parse_redirect_url
        } else {
            parse_redirect_target
        };
        let location = match parse(value) {
            Ok(location) => location,
            Err(e) => {
                self.invalid(&key, value, &e.to_string());
                return None;
            }
        };
        let code_name = if name == "temporal-redirect" {
            "temporal-redirect-code"
        } else {
            "permanent-redirect-code"
        };
        let code_value = self.keys.nginx(code_name);
        let code = match redirect_code(code_value.as_ref().map(|(_, v)| *v), codes, default) {
            Ok(code) => code,
            Err(default) => {
                if let Some((code_key, v)) = &code_value {
                    let why = format!("is not an integer; {default} applies");
                    self.invalid(code_key, v, &why);
                }
                default
            }
        };
        let relative = self.boolean_nginx("relative-redirects") == Some(true);
        Some(Arc::new(Redirect::new(location, code, relative)))
    }

    /// How the Ingress's HTTPS redirects write `Location`.
    pub(super) fn https_redirect_style(&mut self) -> HttpsRedirectStyle {
        HttpsRedirectStyle {
            preserve_trailing_slash: self.boolean_nginx("preserve-trailing-slash") == Some(true),
            port_in_redirect: self.boolean_nginx("use-port-in-redirects") == Some(true),
        }
    }
}
