//! Rate and connection limits of an Ingress, read through the registry and parsed by
//! [`crate::table::limits`] (ingress-nginx's `internal/ingress/annotations/ratelimit`):
//!
//! - `limit-rps`, `limit-rpm`, `limit-connections`: each a whole number, `0` (or absent) no
//!   limit. With none of them set the routes carry no limits, whatever the other keys say.
//! - `limit-burst-multiplier`: default 5; the burst of each rate is rate × multiplier.
//! - `limit-allowlist` (or `limit-whitelist`): clients exempt from every limit; empty means
//!   none is.
//! - Limits restrict access, so a value that does not parse (or is negative) is an Error
//!   diagnostic and refuses the Ingress's routes, as an invalid source list does (ingress-nginx
//!   rejects an Ingress with a non-integer value).

use std::sync::Arc;
use std::time::Duration;

use super::Reader;
use crate::model::{Diagnostic, Reason};
use crate::table::limits::{DEFAULT_BURST_MULTIPLIER, Limits, RateLimit, parse_limit};
use crate::table::parse_source_ranges;

/// What an Ingress's routes carry, and whether a value did not parse.
pub(super) struct LimitSettings {
    pub(super) limits: Option<Arc<Limits>>,
    /// A limit value did not parse: the routes are refused.
    pub(super) invalid: bool,
}

impl Reader<'_, '_> {
    /// The limit keys of the Ingress (see the module doc).
    pub(super) fn limits(&mut self) -> LimitSettings {
        let mut invalid = false;
        let rps = self.count("limit-rps", &mut invalid);
        let rpm = self.count("limit-rpm", &mut invalid);
        let connections = self.count("limit-connections", &mut invalid);
        let multiplier = self
            .count("limit-burst-multiplier", &mut invalid)
            .unwrap_or(DEFAULT_BURST_MULTIPLIER);
        let allow = match self.keys.nginx("limit-allowlist") {
            Some((_, value)) if value.trim().is_empty() => Box::default(),
            None => Box::default(),
            Some((key, value)) => match parse_source_ranges(value) {
                Ok(nets) => nets.into(),
                Err(e) => {
                    self.refuse_limit(&key, value, &e.to_string());
                    invalid = true;
                    Box::default()
                }
            },
        };
        let rate = |requests: Option<u32>, per| {
            requests
                .filter(|n| *n > 0)
                .map(|n| RateLimit::new(n, per, multiplier))
        };
        let limits = Limits {
            rps: rate(rps, Duration::from_secs(1)),
            rpm: rate(rpm, Duration::from_secs(60)),
            connections: connections.filter(|n| *n > 0),
            allow,
        };
        LimitSettings {
            limits: limits.limits_anything().then(|| Arc::new(limits)),
            invalid,
        }
    }

    /// The whole-number value of `name`; `None` when absent or invalid (then reported and
    /// `invalid` set).
    fn count(&mut self, name: &'static str, invalid: &mut bool) -> Option<u32> {
        let (key, value) = self.keys.nginx(name)?;
        match parse_limit(value) {
            Ok(n) => Some(n),
            Err(e) => {
                self.refuse_limit(&key, value, &e.to_string());
                *invalid = true;
                None
            }
        }
    }

    fn refuse_limit(&mut self, key: &str, value: &str, why: &str) {
        let message =
            format!("{key}: {value:?} {why}; this Ingress's routes answer 503 (fail closed)");
        self.diagnostics.push(Diagnostic::error(
            self.object.clone(),
            Reason::InvalidAnnotation,
            message,
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::config::CompileConfig;
    use crate::table::{Limits, RateLimit, Refusal, RouteOptions};
    use crate::{Index, Object, Reason};

    const P: &str = crate::config::DEFAULT_ANNOTATIONS_PREFIX;

    /// The options of `a.test/` and `b.test/` of one Ingress with `annotations`, and the
    /// messages of its InvalidAnnotation diagnostics.
    fn compile(annotations: &[(&str, &str)]) -> (RouteOptions, RouteOptions, Vec<String>) {
        let annotations: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, v)| (format!("{P}/{k}"), json!(v)))
            .collect();
        let path = |host: &str| {
            json!({"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}})
        };
        let ingress = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "namespace": "default", "annotations": annotations},
            "spec": {"ingressClassName": "strait", "rules": [path("a.test"), path("b.test")]}
        });
        let mut index = Index::new();
        index.apply(Object::from_value(ingress).unwrap().unwrap());
        let compiled = index.compile(&CompileConfig::default());
        let options = |host| {
            let route = compiled.table.lookup(host, "/").expect("route");
            route.route.options.clone()
        };
        let invalid = compiled
            .diagnostics
            .iter()
            .filter(|d| d.reason == Reason::InvalidAnnotation)
            .map(|d| d.message.clone())
            .collect();
        (options("a.test"), options("b.test"), invalid)
    }

    fn limits(annotations: &[(&str, &str)]) -> Option<Limits> {
        let (a, _, invalid) = compile(annotations);
        assert_eq!(invalid, Vec::<String>::new());
        assert_eq!(a.refused, None);
        a.limits.map(|l| (*l).clone())
    }

    /// ingress-nginx ratelimit `Parse`: burst = limit × `limit-burst-multiplier` (default 5)
    /// for rps and rpm alike; both may be set (two zones, the template writes a `limit_req`
    /// for each).
    #[test]
    fn rates_take_the_burst_multiplier() {
        let l = limits(&[("limit-rps", "10"), ("limit-rpm", "300")]).expect("limits");
        assert_eq!(l.rps, Some(RateLimit::new(10, Duration::from_secs(1), 5)));
        assert_eq!(l.rps.unwrap().burst, 50);
        assert_eq!(l.rpm.unwrap().burst, 1500);
        assert_eq!(l.rpm.unwrap().per, Duration::from_secs(60));
        assert_eq!(l.connections, None);
        let l = limits(&[("limit-rps", "2"), ("limit-burst-multiplier", "0")]).expect("limits");
        assert_eq!(l.rps.unwrap().burst, 0);
    }

    /// ingress-nginx ratelimit `Parse`: `rpm == 0 && rps == 0 && conn == 0` → no zone; the
    /// allowlist and the multiplier alone limit nothing.
    #[test]
    fn zero_or_absent_limits_carry_nothing() {
        assert_eq!(limits(&[]), None);
        assert_eq!(
            limits(&[("limit-rps", "0"), ("limit-connections", "0")]),
            None
        );
        assert_eq!(
            limits(&[
                ("limit-allowlist", "10.0.0.0/8"),
                ("limit-burst-multiplier", "3")
            ]),
            None
        );
        let conn = limits(&[("limit-connections", "8"), ("limit-rps", "0")]).expect("limits");
        assert_eq!((conn.connections, conn.rps), (Some(8), None));
    }

    /// annotations.md "Rate Limiting": `limit-whitelist` is the older name of
    /// `limit-allowlist`; CIDRs or addresses, comma-separated.
    #[test]
    fn the_allowlist_under_either_name() {
        for key in ["limit-allowlist", "limit-whitelist"] {
            let l = limits(&[("limit-rps", "1"), (key, "10.0.0.0/8, 192.0.2.7")]).expect(key);
            assert!(l.exempts("10.1.2.3".parse().unwrap()), "{key}");
            assert!(l.exempts("192.0.2.7".parse().unwrap()), "{key}");
            assert!(!l.exempts("192.0.2.8".parse().unwrap()), "{key}");
        }
        let l = limits(&[("limit-rps", "1"), ("limit-allowlist", "")]).expect("limits");
        assert!(l.allow.is_empty(), "empty: nobody is exempt");
    }

    /// Every route of the Ingress shares one `Limits` (ingress-nginx's zones are named after
    /// the Ingress, so its paths and hosts count against one budget per client).
    #[test]
    fn every_route_of_the_ingress_shares_the_limits() {
        let (a, b, _) = compile(&[("limit-connections", "3")]);
        let (a, b) = (a.limits.expect("a"), b.limits.expect("b"));
        assert!(std::sync::Arc::ptr_eq(&a, &b));
    }

    /// ingress-nginx rejects an Ingress whose limit is not an integer (`ValidateInt`); Strait
    /// refuses its routes (503) with an Error naming the key. A negative value, which nginx
    /// would serve unlimited, is refused too.
    #[test]
    fn an_invalid_value_refuses_the_routes() {
        for (key, value) in [
            ("limit-rps", "ten"),
            ("limit-rpm", "-5"),
            ("limit-connections", "1.5"),
            ("limit-burst-multiplier", "x"),
            ("limit-whitelist", "10.0.0.0/33"),
        ] {
            let (a, b, invalid) = compile(&[("limit-rps", "5"), (key, value)]);
            for o in [a, b] {
                assert_eq!(
                    o.refused,
                    Some(Refusal::InvalidSecurityAnnotation),
                    "{key}: {value}"
                );
            }
            assert_eq!(invalid.len(), 1, "{key}: {invalid:?}");
            assert!(invalid[0].contains(&format!("{P}/{key}")), "{invalid:?}");
            assert!(invalid[0].contains("503"), "{invalid:?}");
        }
    }
}
