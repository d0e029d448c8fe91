//! `--strict-validate-path-type`: the character set ingress-nginx allows in `Exact` and
//! `Prefix` paths (docs/architecture.md, "Paths").
//!
//! ingress-nginx's rule is the Go regexp `validPathType = (?i)^/[[:alnum:]._\-/]*$`
//! (`internal/ingress/inspector/rules.go`), which `ValidatePathType`
//! (`internal/ingress/inspector/inspector.go`) applies, when the ConfigMap's
//! `strict-validate-path-type` is on, to every non-empty path whose pathType is not
//! `ImplementationSpecific`. Read exactly:
//!
//! - `[[:alnum:]]` is ASCII letters and digits, but Go folds a POSIX class under `(?i)`, adding
//!   the two non-ASCII characters whose simple case folding reaches an ASCII letter: `ſ`
//!   (U+017F, folds to `s`) and `K` (U+212A KELVIN SIGN, folds to `k`). They pass there, so
//!   they pass here.
//! - `$` without the `m` flag is the end of the text in Go: a trailing newline is refused.
//! - The empty path is skipped before the regexp (the caller skips it too).

/// Whether `path` passes ingress-nginx's `validPathType`.
pub(super) fn strictly_valid(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '\u{17F}' | '\u{212A}')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::strictly_valid;

    /// ingress-nginx's `validPathType` (internal/ingress/inspector/rules.go) and its
    /// admission e2e test "should return an error if there is an invalid path and wrong
    /// pathType is set" (test/e2e/admission/admission.go): `/foo/bar/[a-z]{3}` is refused
    /// for `Exact` and `Prefix`, `/bloblo` accepted.
    #[test]
    fn the_rule_is_ingress_nginx_valid_path_type() {
        for (path, valid) in [
            ("/", true),
            ("/bloblo", true),
            ("/foo/bar", true),
            ("/FOO/Bar-baz_qux.v2/", true),
            ("/a//b", true),
            ("/..", true),
            ("/0123456789", true),
            ("/\u{17F}", true),
            ("/\u{212A}elvin", true),
            ("/foo/bar/[a-z]{3}", false),
            ("/foo.*", false),
            ("/api(/|$)(.*)", false),
            ("/users/{id}", false),
            ("/a b", false),
            ("/a%20b", false),
            ("/a~b", false),
            ("/a:b", false),
            ("/a+b", false),
            ("/a?b", false),
            ("/a\\b", false),
            ("/foo\n", false),
            ("/é", false),
            ("/\u{130}", false),
            ("foo", false),
            ("", false),
        ] {
            assert_eq!(strictly_valid(path), valid, "{path:?}");
        }
    }
}
