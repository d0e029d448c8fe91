//! Error pages (docs/architecture.md, "Error pages"): `default-backend`, `custom-http-errors`
//! and `disable-proxy-intercept-errors`, and their global forms `--default-backend-service`
//! and `--custom-http-errors`.
//!
//! ingress-nginx writes `error_page <code> = @custom_<backend>_<code>` for each listed code and
//! `proxy_intercept_errors on` unless interception is disabled (nginx.tmpl, the `CUSTOM_ERRORS`
//! template and the location block). The `=` hands the client the error backend's own status,
//! so a route's [`ErrorPages`] names the statuses ([`StatusSet`]), whether the upstream's own
//! responses with those statuses are replaced (`intercept`) or only the proxy's, and which
//! backend answers. The set is a bitset read with one shift on the hot path.

use http::HeaderValue;

use super::BackendId;

/// Lowest status a set holds (ingress-nginx's ConfigMap filter keeps 300–599).
const LOWEST: u16 = 300;
/// One past the highest status a set holds.
const END: u16 = 600;
const WORDS: usize = ((END - LOWEST) as usize).div_ceil(64);

/// A set of HTTP statuses between 300 and 599.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StatusSet([u64; WORDS]);

impl StatusSet {
    /// Whether `status` is in the set.
    #[inline]
    pub fn contains(&self, status: u16) -> bool {
        if !(LOWEST..END).contains(&status) {
            return false;
        }
        let bit = usize::from(status - LOWEST);
        self.0[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Adds `status`; `false` (and nothing added) outside 300–599.
    pub fn insert(&mut self, status: u16) -> bool {
        if !(LOWEST..END).contains(&status) {
            return false;
        }
        let bit = usize::from(status - LOWEST);
        self.0[bit / 64] |= 1 << (bit % 64);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The statuses, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (LOWEST..END).filter(|s| self.contains(*s))
    }
}

/// Why a list of codes was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodesError {
    /// An entry that is not a number.
    NotANumber(String),
    /// A number outside the range the list allows.
    OutOfRange(u16, u16, u16),
}

impl std::fmt::Display for CodesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotANumber(entry) => write!(f, "has {entry:?}, which is not a status code"),
            Self::OutOfRange(code, low, high) => {
                write!(f, "has {code}, outside {low}–{high}")
            }
        }
    }
}

/// The annotation's range: ingress-nginx's validator `^(?:[4,5]\d{2},?)*$` ("anything between
/// 400 and 599").
pub const ANNOTATION_CODES: std::ops::RangeInclusive<u16> = 400..=599;
/// The ConfigMap's range (configmap.go `filterErrors`: above 299, below 600).
pub const GLOBAL_CODES: std::ops::RangeInclusive<u16> = 300..=599;

/// A comma-separated list of status codes in `range` (spaces around entries and empty entries
/// allowed, as ingress-nginx's parser trims them: its e2e test uses `"404, 503"`).
pub fn parse_codes(
    value: &str,
    range: std::ops::RangeInclusive<u16>,
) -> Result<StatusSet, CodesError> {
    let mut set = StatusSet::default();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let code = entry
            .parse::<u16>()
            .ok()
            .filter(|_| entry.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| CodesError::NotANumber(entry.chars().take(16).collect()))?;
        if !range.contains(&code) {
            return Err(CodesError::OutOfRange(code, *range.start(), *range.end()));
        }
        set.insert(code);
    }
    Ok(set)
}

/// What answers for a route's errors, and which errors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorPages {
    /// The statuses answered by the error backend (`custom-http-errors`, else
    /// `--custom-http-errors`). Empty: only `unavailable` applies.
    pub codes: StatusSet,
    /// The upstream's own responses with one of `codes` are replaced (nginx
    /// `proxy_intercept_errors on`); `false` under `disable-proxy-intercept-errors`, where only
    /// the proxy's own errors (502, 503, 504…) go to the error backend.
    pub intercept: bool,
    /// The Ingress's `default-backend` Service (its first port), tried first.
    pub own: Option<BackendId>,
    /// `--default-backend-service`, used when there is no `own` or it has no endpoint (as
    /// ingress-nginx falls back to `upstream-default-backend`).
    pub global: Option<BackendId>,
    /// The route's own backend, when it has no endpoint, is replaced by `own` (ingress-nginx's
    /// `custom-default-backend-` upstream, sent `X-Code: 503`).
    pub unavailable: bool,
    /// `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`, `X-Service-Port` of the route.
    pub about: RouteHeaders,
}

/// The values of the headers that name a route to its error backend, made when the table is
/// built (names of Kubernetes objects: always valid header text).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteHeaders {
    pub namespace: HeaderValue,
    pub ingress: HeaderValue,
    pub service: HeaderValue,
    pub port: HeaderValue,
}

impl RouteHeaders {
    /// The values for a route of `ingress` to `service` port `port`; text that is not valid
    /// header text (not possible for Kubernetes names) becomes empty.
    pub fn new(namespace: &str, ingress: &str, service: &str, port: &str) -> Self {
        let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
        Self {
            namespace: value(namespace),
            ingress: value(ingress),
            service: value(service),
            port: value(port),
        }
    }
}

impl ErrorPages {
    /// Whether the upstream's response with `status` is replaced.
    #[inline]
    pub fn intercepts(&self, status: u16) -> bool {
        self.intercept && self.codes.contains(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// customhttperrors.go: `"404,500"`, and `"404, 503"` ("ignoring duplicate values").
    #[test]
    fn codes_parse_as_ingress_nginx_reads_them() {
        let set = parse_codes("404,500", ANNOTATION_CODES).unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), [404, 500]);
        let set = parse_codes("404, 503,503,", ANNOTATION_CODES).unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), [404, 503]);
        assert!(parse_codes("", ANNOTATION_CODES).unwrap().is_empty());
    }

    /// annotations.md "Custom HTTP Errors": anything between 400 and 599; configmap.go
    /// `filterErrors` keeps 300–599 for the ConfigMap's list.
    #[test]
    fn codes_outside_the_range_or_not_numbers_are_refused() {
        assert_eq!(
            parse_codes("404,399", ANNOTATION_CODES),
            Err(CodesError::OutOfRange(399, 400, 599))
        );
        assert!(parse_codes("600", ANNOTATION_CODES).is_err());
        assert!(parse_codes("4O4", ANNOTATION_CODES).is_err());
        assert!(parse_codes("+404", ANNOTATION_CODES).is_err());
        assert!(parse_codes("404;500", ANNOTATION_CODES).is_err());
        assert!(parse_codes("301", GLOBAL_CODES).unwrap().contains(301));
    }

    #[test]
    fn the_set_holds_exactly_what_was_inserted() {
        let mut set = StatusSet::default();
        for code in [300, 363, 364, 404, 599] {
            assert!(set.insert(code));
        }
        assert!(!set.insert(299) && !set.insert(600));
        for code in 0..700 {
            assert_eq!(
                set.contains(code),
                [300, 363, 364, 404, 599].contains(&code),
                "{code}"
            );
        }
    }

    #[test]
    fn parse_never_panics_and_keeps_only_codes_in_range() {
        bolero::check!().with_type::<String>().for_each(|s| {
            if let Ok(set) = parse_codes(s, ANNOTATION_CODES) {
                assert!(set.iter().all(|c| ANNOTATION_CODES.contains(&c)));
            }
        });
    }
}
