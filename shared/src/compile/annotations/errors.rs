//! `default-backend`, `custom-http-errors` and `disable-proxy-intercept-errors`, parsed by
//! [`crate::table::error_pages`]. None restricts access, so a value that does not parse is
//! reported and the key has no effect.

use super::Reader;
use crate::table::error_pages::{ANNOTATION_CODES, StatusSet, parse_codes};

/// The error-page keys of one Ingress, before the Service is resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::compile) struct ErrorSettings {
    /// `custom-http-errors`; `None`: the global list applies.
    pub(in crate::compile) codes: Option<StatusSet>,
    /// `disable-proxy-intercept-errors: "true"` turns interception of upstream responses off.
    pub(in crate::compile) intercept: bool,
    /// `default-backend`: a Service of the Ingress's namespace.
    pub(in crate::compile) service: Option<String>,
}

impl Reader<'_, '_> {
    pub(super) fn errors(&mut self) -> ErrorSettings {
        let codes = self
            .keys
            .nginx("custom-http-errors")
            .and_then(|(key, value)| {
                parse_codes(value, ANNOTATION_CODES)
                    .map_err(|e| self.invalid(&key, value, &e.to_string()))
                    .ok()
            });
        let intercept = self.boolean_nginx("disable-proxy-intercept-errors") != Some(true);
        let service = self.keys.nginx("default-backend").and_then(|(key, value)| {
            let name = value.trim();
            if is_service_name(name) {
                Some(name.to_owned())
            } else {
                self.invalid(
                    &key,
                    value,
                    "is not a Service name of the Ingress's namespace",
                );
                None
            }
        });
        ErrorSettings {
            codes,
            intercept,
            service,
        }
    }
}

/// A DNS-1035 label, what a Service name is: lower-case letters, digits and `-`, starting
/// with a letter, ending with a letter or digit, at most 63 characters.
fn is_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::is_service_name;

    /// annotations.md "Default Backend": `<svc name>`, a Service of the Ingress's namespace.
    #[test]
    fn only_service_names_are_accepted() {
        for ok in ["errors", "custom-errors-1", "a"] {
            assert!(is_service_name(ok), "{ok}");
        }
        for bad in [
            "",
            "ns/errors",
            "Errors",
            "1errors",
            "errors-",
            "a.b",
            &"a".repeat(64),
        ] {
            assert!(!is_service_name(bad), "{bad}");
        }
    }
}
