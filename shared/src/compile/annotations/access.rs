//! The access policies of one Ingress: source-address lists and the request body limit,
//! each from its annotation, else from the global flag.
//!
//! - `allowlist-source-range` (or its older name `whitelist-source-range`) replaces
//!   `--allowlist-source-range`, and `denylist-source-range` replaces
//!   `--denylist-source-range`, each on its own (ingress-nginx's `ipallowlist` and
//!   `ipdenylist` parsers fall back to the ConfigMap's list only when their annotation is
//!   missing). With no list at all the routes carry no policy.
//! - `proxy-body-size` replaces `--max-body-size`; `0` is unlimited.
//! - A value that does not parse is an Error diagnostic and refuses the Ingress's routes
//!   (fail closed: ingress-nginx denies the location on a bad list).

use std::sync::Arc;

use ipnet::IpNet;

use super::Reader;
use crate::config::CompileConfig;
use crate::model::{Diagnostic, Reason};
use crate::table::{BodyLimit, SourcePolicy, parse_body_size, parse_source_ranges};

/// What an Ingress's routes carry, and whether a value did not parse.
pub(super) struct Access {
    pub(super) source: Option<Arc<SourcePolicy>>,
    pub(super) max_body_size: Option<BodyLimit>,
    /// A security value did not parse: the routes are refused.
    pub(super) invalid: bool,
}

pub(super) fn read(read: &mut Reader<'_, '_>, config: &CompileConfig) -> Access {
    let mut invalid = false;
    let global = &config.source_ranges;
    let deny = ranges(read, "denylist-source-range", &global.deny, &mut invalid);
    let allow = ranges(read, "allowlist-source-range", &global.allow, &mut invalid);
    let policy = SourcePolicy { deny, allow };
    let max_body_size = match read.keys.nginx("proxy-body-size") {
        None => config.max_body_size,
        Some((key, value)) => match parse_body_size(value) {
            Ok(limit) => limit,
            Err(e) => {
                refuse(read, &key, value, &e.to_string());
                invalid = true;
                config.max_body_size
            }
        },
    };
    Access {
        source: (!policy.is_open()).then(|| Arc::new(policy)),
        max_body_size,
        invalid,
    }
}

/// The list of key `name` (or its alias), else the global one.
fn ranges(
    read: &mut Reader<'_, '_>,
    name: &'static str,
    global: &[IpNet],
    invalid: &mut bool,
) -> Box<[IpNet]> {
    let Some((key, value)) = read.keys.nginx(name) else {
        return global.into();
    };
    match parse_source_ranges(value) {
        Ok(nets) => nets.into(),
        Err(e) => {
            refuse(read, &key, value, &e.to_string());
            *invalid = true;
            global.into()
        }
    }
}

fn refuse(read: &mut Reader<'_, '_>, key: &str, value: &str, why: &str) {
    read.diagnostics.push(Diagnostic::error(
        read.object.clone(),
        Reason::InvalidAnnotation,
        format!("{key}: {value:?}: {why}; this Ingress's routes answer 503 (fail closed)"),
    ));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::CompileConfig;
    use crate::table::{BodyLimit, Refusal, RouteOptions, parse_source_ranges};
    use crate::{Index, Object};

    const P: &str = crate::config::DEFAULT_ANNOTATIONS_PREFIX;

    /// The options of `example.com/` for an Ingress with `annotations`, compiled with `config`.
    fn options(annotations: &[(&str, &str)], config: &CompileConfig) -> RouteOptions {
        let annotations: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, v)| (format!("{P}/{k}"), json!(v)))
            .collect();
        let ingress = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "namespace": "default", "annotations": annotations},
            "spec": {"ingressClassName": "strait", "rules": [{"host": "example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}]}
        });
        let mut index = Index::new();
        index.apply(Object::from_value(ingress).unwrap().unwrap());
        let compiled = index.compile(config);
        let route = compiled.table.lookup("example.com", "/").expect("route");
        route.route.options.clone()
    }

    fn global(deny: &str, allow: &str) -> CompileConfig {
        let list = |s: &str| parse_source_ranges(s).unwrap().into();
        let mut config = CompileConfig::default();
        config.source_ranges.deny = list(deny);
        config.source_ranges.allow = list(allow);
        config
    }

    /// ingress-nginx annotations.md, "Whitelist source range" and "Denylist source range":
    /// "Adding an annotation to an Ingress rule overrides any global restriction" — each list
    /// on its own (ipallowlist/ipdenylist `Parse` fall back to the ConfigMap's list only when
    /// their own annotation is missing).
    #[test]
    fn an_annotation_replaces_only_the_global_list_of_its_kind() {
        let config = global("10.9.0.0/16", "10.0.0.0/8");
        let inherited = options(&[], &config);
        let policy = inherited.source.expect("global lists apply");
        assert_eq!(policy.deny.len(), 1);
        assert_eq!(policy.allow[0].to_string(), "10.0.0.0/8");
        let own = options(&[("whitelist-source-range", "192.0.2.0/24")], &config);
        let policy = own.source.expect("lists");
        assert_eq!(policy.allow[0].to_string(), "192.0.2.0/24");
        assert_eq!(
            policy.deny[0].to_string(),
            "10.9.0.0/16",
            "global deny kept"
        );
        assert_eq!(options(&[], &CompileConfig::default()).source, None);
    }

    /// ingress-nginx ipallowlist `Parse`: a list that does not parse denies the location; here
    /// the routes are refused (503) rather than served open.
    #[test]
    fn an_invalid_list_or_size_refuses_the_routes() {
        let config = CompileConfig::default();
        for (key, value) in [
            ("allowlist-source-range", "10.0.0.0/8, nope"),
            ("denylist-source-range", ""),
            ("proxy-body-size", "1.5m"),
        ] {
            let o = options(&[(key, value)], &config);
            assert_eq!(o.refused, Some(Refusal::InvalidSecurityAnnotation), "{key}");
        }
        let ok = options(&[("allowlist-source-range", "10.0.0.0/8")], &config);
        assert_eq!(ok.refused, None);
    }

    /// ingress-nginx annotations.md "Custom max body size" and its ConfigMap default
    /// (`proxy-body-size: 1m`); `0` is unlimited.
    #[test]
    fn body_size_comes_from_the_annotation_else_the_flag() {
        let config = CompileConfig::default();
        assert_eq!(
            options(&[], &config).max_body_size,
            Some(BodyLimit(1 << 20))
        );
        let own = options(&[("proxy-body-size", "8m")], &config);
        assert_eq!(own.max_body_size, Some(BodyLimit(8 << 20)));
        assert_eq!(
            options(&[("proxy-body-size", "0")], &config).max_body_size,
            None
        );
        let unlimited = CompileConfig {
            max_body_size: None,
            ..CompileConfig::default()
        };
        assert_eq!(options(&[], &unlimited).max_body_size, None);
    }
}
