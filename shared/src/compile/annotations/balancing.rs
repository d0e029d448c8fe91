//! Session affinity and consistent hashing of an Ingress (`affinity`, `session-cookie-*`,
//! `upstream-hash-by*`; docs/architecture.md, "Session affinity and consistent hashing"),
//! parsed by [`crate::table::affinity`] and [`crate::table::hash_by`]. Neither restricts
//! access: a value that does not parse is reported and ingress-nginx's default applies (an
//! invalid `upstream-hash-by` leaves the routes balanced as usual).

use std::sync::Arc;

use super::Reader;
use crate::model::{Diagnostic, Reason};
use crate::table::affinity::{
    self, Affinity, Mode, SameSite, parse_attribute, parse_cookie_name, parse_seconds,
};
use crate::table::hash_by::{DEFAULT_SUBSET_SIZE, HashBy, Hashing, parse_subset_size};

impl Reader<'_, '_> {
    /// `affinity: cookie` and its keys; `None` without it.
    pub(super) fn affinity(&mut self) -> Option<Arc<Affinity>> {
        let (key, value) = self.keys.nginx("affinity")?;
        if value.trim() != "cookie" {
            self.invalid(&key, value, "is not cookie, the only affinity type");
            return None;
        }
        let mode = match self.keys.nginx("affinity-mode") {
            None => Mode::Balanced,
            Some((_, v)) if v.trim() == "balanced" => Mode::Balanced,
            Some((_, v)) if v.trim() == "persistent" => Mode::Persistent,
            Some((key, v)) => {
                self.invalid(&key, v, "is not balanced or persistent (balanced applies)");
                Mode::Balanced
            }
        };
        let name = self
            .parsed(
                "session-cookie-name",
                parse_cookie_name,
                "is not a cookie name (INGRESSCOOKIE applies)",
            )
            .unwrap_or_else(|| affinity::DEFAULT_COOKIE_NAME.into());
        let path = self.parsed(
            "session-cookie-path",
            |v| parse_attribute(v, true),
            "is not a cookie path (the rule's path applies)",
        );
        let domain = self.parsed(
            "session-cookie-domain",
            |v| parse_attribute(v, false),
            "is not a cookie domain (none is set)",
        );
        let seconds = "is not a whole number of seconds (not set)";
        let expires = self.parsed("session-cookie-expires", parse_seconds, seconds);
        let max_age = self.parsed("session-cookie-max-age", parse_seconds, seconds);
        let same_site = self.parsed(
            "session-cookie-samesite",
            SameSite::parse,
            "is not None, Lax or Strict (not set)",
        );
        Some(Arc::new(Affinity {
            mode,
            name,
            path,
            domain,
            expires,
            max_age,
            same_site,
            secure: self.boolean_nginx("session-cookie-secure") == Some(true),
            conditional_same_site_none: self
                .boolean_nginx("session-cookie-conditional-samesite-none")
                == Some(true),
            change_on_failure: self.boolean_nginx("session-cookie-change-on-failure") == Some(true),
        }))
    }

    /// `upstream-hash-by` with `-subset` and `-subset-size`; `None` without it, when it does
    /// not parse, or when the Ingress has cookie affinity (which wins in ingress-nginx's
    /// balancer).
    pub(super) fn hashing(&mut self) -> Option<Arc<Hashing>> {
        let (key, value) = self.keys.nginx("upstream-hash-by")?;
        if self
            .keys
            .nginx("affinity")
            .is_some_and(|(_, v)| v.trim() == "cookie")
        {
            self.diagnostics.push(Diagnostic::warning(
                self.object.clone(),
                Reason::IgnoredAnnotation,
                format!("{key}: ignored: the Ingress's cookie affinity chooses the endpoint, as in ingress-nginx"),
            ));
            return None;
        }
        let by = match HashBy::parse(value) {
            Ok(by) => by,
            Err(e) => {
                self.invalid(
                    &key,
                    value,
                    &format!("{e} (requests are balanced as usual)"),
                );
                return None;
            }
        };
        let subset = (self.boolean_nginx("upstream-hash-by-subset") == Some(true)).then(|| {
            self.parsed(
                "upstream-hash-by-subset-size",
                parse_subset_size,
                "is not a whole number above 0 (3 applies)",
            )
            .unwrap_or(DEFAULT_SUBSET_SIZE)
        });
        Some(Arc::new(Hashing { by, subset }))
    }
}
