//! The headers `auth-proxy-set-headers` adds to the auth subrequest: the `data` of a ConfigMap,
//! each key a header name and each value its value (docs/architecture.md, "Auth subrequest
//! headers from a ConfigMap").
//!
//! ingress-nginx's `authreq` parser accepts keys of letters, digits, `-` and `_` (its
//! `ValidHeader`) and writes each pair into its template as `proxy_set_header "<key>"
//! "<value>";`, so nginx expands `$variables` in the value. Here the checks are made once,
//! when the ConfigMap is decoded, into typed values: a [`HeaderName`], and either a
//! [`HeaderValue`] or a [`Template`] of the same fixed variables `auth-url` may use. Nothing
//! is ever written as configuration text, and a value that would not be a valid header (a
//! newline, an unknown variable) makes the ConfigMap unusable instead of reaching a request.

use std::sync::Arc;

use http::{HeaderName, HeaderValue};

use super::template::{Part, Template, TemplateError};
use crate::model::ObjectKey;

/// The annotation naming the ConfigMap (without the prefix).
pub const AUTH_PROXY_SET_HEADERS: &str = "auth-proxy-set-headers";

/// Most bytes of keys and values a ConfigMap may hold to be read as headers. Auth header maps
/// are a few short lines; the cap keeps the index from holding large unrelated ConfigMaps
/// whose keys happen to be header-like (docs/architecture.md explains the memory budget).
pub const MAX_BYTES: usize = 4096;

/// Headers that describe a connection or the message framing: hyper sets them for the
/// subrequest (which has no body), and a copy from a ConfigMap would break it.
const RESERVED: [&str; 9] = [
    "connection",
    "content-length",
    "http2-settings",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The headers of one ConfigMap, in key order (nginx's order: ingress-nginx sorts the lines).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SetHeaders {
    headers: Box<[SetHeader]>,
}

/// One header of a [`SetHeaders`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SetHeader {
    pub name: HeaderName,
    pub value: SetValue,
}

/// A header's value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SetValue {
    /// Without variables: checked once, sent as is. Empty: the header is not sent (and the
    /// client's is dropped), as nginx does with an empty `proxy_set_header`.
    Fixed(HeaderValue),
    /// With variables: filled per request; its literal text is valid header text.
    Template(Template),
}

/// Why a ConfigMap's data are not a header map. Kept instead of the data, so a diagnostic can
/// say why without the index holding what it does not use; small (no copy of the data) since
/// most ConfigMaps of a cluster are not header maps.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetHeadersError {
    #[error("its data hold more than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("a key is not a header name (letters, digits, `-` and `_` only)")]
    NotHeaderName,
    #[error("a value is not a string")]
    NotText,
    #[error("{0} describes the connection or the message framing, which the proxy sets itself")]
    Reserved(HeaderName),
    #[error("the value of {0} is not valid header text (a control character?)")]
    Value(HeaderName),
    #[error("the value of {name}: {error}")]
    Variable {
        name: HeaderName,
        error: TemplateError,
    },
}

/// What a ConfigMap is, read as headers.
pub type HeaderData = Result<Arc<SetHeaders>, SetHeadersError>;

impl SetHeaders {
    /// Reads `data` (key, value) pairs, in the order given. Stops at the first problem, and
    /// before holding more than [`MAX_BYTES`] of input.
    pub fn parse<'a>(
        data: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SetHeadersError> {
        let mut total = 0usize;
        let mut headers = Vec::new();
        for (key, value) in data {
            total = total.saturating_add(key.len()).saturating_add(value.len());
            if total > MAX_BYTES {
                return Err(SetHeadersError::TooLarge);
            }
            let name = header_name(key).ok_or(SetHeadersError::NotHeaderName)?;
            if RESERVED.contains(&name.as_str()) {
                return Err(SetHeadersError::Reserved(name));
            }
            let value = set_value(&name, value)?;
            headers.push(SetHeader { name, value });
        }
        Ok(Self {
            headers: headers.into(),
        })
    }

    pub fn iter(&self) -> std::slice::Iter<'_, SetHeader> {
        self.headers.iter()
    }

    pub fn len(&self) -> usize {
        self.headers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }
}

impl<'a> IntoIterator for &'a SetHeaders {
    type Item = &'a SetHeader;
    type IntoIter = std::slice::Iter<'a, SetHeader>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// ingress-nginx's `ValidHeader` (`^[a-zA-Z\d\-_]+$`), as a lowercase [`HeaderName`].
fn header_name(key: &str) -> Option<HeaderName> {
    let valid = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return None;
    }
    HeaderName::from_bytes(key.as_bytes()).ok()
}

fn set_value(name: &HeaderName, value: &str) -> Result<SetValue, SetHeadersError> {
    let template = Template::parse(value).map_err(|error| SetHeadersError::Variable {
        name: name.clone(),
        error,
    })?;
    let invalid = || SetHeadersError::Value(name.clone());
    if let Some(text) = template.literal() {
        return HeaderValue::from_str(text)
            .map(SetValue::Fixed)
            .map_err(|_| invalid());
    }
    let text_is_valid = template.parts().iter().all(|part| match part {
        Part::Text(text) => HeaderValue::from_str(text).is_ok(),
        Part::Var(_) => true,
    });
    if !text_is_valid {
        return Err(invalid());
    }
    Ok(SetValue::Template(template))
}

/// Why an `auth-proxy-set-headers` value names no ConfigMap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("is not a ConfigMap name or namespace/name")]
    Malformed,
}

/// The ConfigMap an `auth-proxy-set-headers` value names: `namespace/name`, or `name` in the
/// Ingress's `namespace` (ingress-nginx's documentation says so, though its code then looks
/// the bare name up as a key and denies the location: kubernetes/ingress-nginx#12996).
/// Characters as ingress-nginx's `BasicCharsRegex` allows (letters, digits, `-._~:/`); the
/// namespace may differ from the Ingress's (the caller refuses that).
pub fn config_map_ref(namespace: &str, value: &str) -> Result<ObjectKey, RefError> {
    let value = value.trim();
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~:".contains(&b);
    let part = |s: &str| !s.is_empty() && s.bytes().all(allowed);
    match value.split_once('/') {
        None if part(value) => Ok(ObjectKey::new(namespace, value)),
        Some((ns, name)) if part(ns) && part(name) => Ok(ObjectKey::new(ns, name)),
        _ => Err(RefError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::table::external_auth::Variable;

    fn parse(pairs: &[(&str, &str)]) -> Result<SetHeaders, SetHeadersError> {
        SetHeaders::parse(pairs.iter().copied())
    }

    /// authreq/main.go's `ValidHeader` (`^[a-zA-Z\d\-_]+$`) decides the names; nginx.tmpl
    /// writes `proxy_set_header "<name>" "<value>"`, so a value is literal text or nginx
    /// variables; an empty one is kept (nginx then sends nothing).
    #[test]
    fn names_are_header_tokens_and_values_text_or_variables() {
        let set = parse(&[
            ("My-Custom-Header", "42"),
            ("X_Under", ""),
            ("X-Forwarded-Host", "$http_host"),
            ("X-Mixed", "v=${scheme}://$host/x"),
        ])
        .expect("valid");
        let names: Vec<&str> = set.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            ["my-custom-header", "x_under", "x-forwarded-host", "x-mixed"]
        );
        let values: Vec<&SetValue> = set.iter().map(|h| &h.value).collect();
        assert_eq!(values[0], &SetValue::Fixed(HeaderValue::from_static("42")));
        assert_eq!(values[1], &SetValue::Fixed(HeaderValue::from_static("")));
        let SetValue::Template(host) = values[2] else {
            panic!("a template: {values:?}");
        };
        assert_eq!(host.parts(), [Part::Var(Variable::HttpHost)]);
        assert!(matches!(values[3], SetValue::Template(t) if t.parts().len() == 5));
        assert_eq!(parse(&[]), Ok(SetHeaders::default()));
    }

    /// authreq/main.go denies "invalid proxy-set-headers in configmap" for a key that is not
    /// a `ValidHeader`; Strait also refuses what nginx would write into the request broken (a
    /// control character, a connection or framing header), a variable nginx would refuse
    /// (`$1` outside a regex location, a `$` without a name) and more than `MAX_BYTES`.
    #[test]
    fn what_is_not_a_header_map_says_why() {
        let name = |s: &'static str| HeaderName::from_static(s);
        for (pairs, expected) in [
            (&[("ca.crt", "x")][..], SetHeadersError::NotHeaderName),
            (&[("", "x")], SetHeadersError::NotHeaderName),
            (&[("X Y", "x")], SetHeadersError::NotHeaderName),
            (&[("Héader", "x")], SetHeadersError::NotHeaderName),
            (
                &[("Upgrade", "h2c")],
                SetHeadersError::Reserved(name("upgrade")),
            ),
            (&[("TE", "trailers")], SetHeadersError::Reserved(name("te"))),
            (
                &[("X-A", "a\r\nX-Injected: 1")],
                SetHeadersError::Value(name("x-a")),
            ),
            (
                &[("X-A", "\u{7f}$host")],
                SetHeadersError::Value(name("x-a")),
            ),
        ] {
            assert_eq!(parse(pairs), Err(expected), "{pairs:?}");
        }
        assert!(matches!(
            parse(&[("X-A", "$1")]),
            Err(SetHeadersError::Variable { .. })
        ));
        assert!(matches!(
            parse(&[("X-A", "cost: 5$")]),
            Err(SetHeadersError::Variable { .. })
        ));
        let big = "v".repeat(MAX_BYTES);
        assert_eq!(parse(&[("X-A", &big)]), Err(SetHeadersError::TooLarge));
        let just = "v".repeat(MAX_BYTES - 3);
        assert!(
            parse(&[("X-A", &just)]).is_ok(),
            "the cap counts keys and values"
        );
    }

    /// client-go's `SplitMetaNamespaceKey` forms, with ingress-nginx's `BasicCharsRegex`.
    #[test]
    fn references_are_name_or_namespace_slash_name() {
        let ok = |ns: &str, value: &str| config_map_ref(ns, value).map(|k| k.to_string());
        assert_eq!(ok("team", "h").as_deref(), Ok("team/h"));
        assert_eq!(ok("team", " other/h ").as_deref(), Ok("other/h"));
        for bad in ["", "/", "a/", "/b", "a/b/c", "a b", "a/$b", "a\tb"] {
            assert_eq!(ok("team", bad), Err(RefError::Malformed), "{bad:?}");
        }
    }

    /// Property: whatever the data, reading them never panics, and an accepted map holds only
    /// header-token names, no connection header, at most `MAX_BYTES` of input, and values that
    /// are valid header text or templates whose literal text is; references name a non-empty
    /// namespace and name without `/`.
    #[test]
    fn any_data_is_read_or_refused_safely() {
        bolero::check!()
            .with_test_time(crate::fuzz::budget().min(Duration::from_secs(2)))
            .for_each(|input: &[u8]| {
                let text = String::from_utf8_lossy(input);
                let pairs: Vec<(&str, &str)> = text
                    .split('\u{1}')
                    .map(|pair| pair.split_once('\u{2}').unwrap_or((pair, "")))
                    .collect();
                if let Ok(key) = config_map_ref("ns", &text) {
                    assert!(!key.namespace.is_empty() && !key.name.is_empty());
                    assert!(!key.namespace.contains('/') && !key.name.contains('/'));
                }
                let Ok(set) = SetHeaders::parse(pairs.iter().copied()) else {
                    return;
                };
                let total: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
                assert!(total <= MAX_BYTES);
                assert_eq!(set.len(), pairs.len());
                for header in &set {
                    let name = header.name.as_str();
                    assert!(
                        name.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    );
                    assert!(!RESERVED.contains(&name));
                    if let SetValue::Template(template) = &header.value {
                        assert!(template.literal().is_none());
                        for part in template.parts() {
                            if let Part::Text(text) = part {
                                assert!(HeaderValue::from_str(text).is_ok());
                            }
                        }
                    }
                }
            });
    }
}
