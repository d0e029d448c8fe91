//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and never cross the
//! proxy, in either direction — except the `Upgrade` handshake, which the proxy relays.

use http::Version;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::Authority;

/// Headers that are always connection-specific (besides `Connection`, `TE` and `Upgrade`,
/// which need care).
/// Names, not strings: a `&str` key is parsed and classified on every lookup.
const HOP_BY_HOP: [header::HeaderName; 5] = [
    // Only meaningful with `Upgrade: h2c`, which is never relayed (h2c smuggling).
    header::HeaderName::from_static("http2-settings"),
    header::HeaderName::from_static("keep-alive"),
    header::HeaderName::from_static("proxy-connection"),
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// The host of a request's authority (HTTP/2 `:authority`, absolute-form target): userinfo
/// (credentials) dropped, so it never routes, goes upstream or reaches the log.
pub(crate) fn authority_host(authority: &Authority) -> &str {
    authority.as_str().rsplit('@').next().unwrap_or_default()
}

/// Whether a request asks to switch protocols (HTTP/1.1 `Connection: upgrade` + `Upgrade`).
/// `Upgrade` counts only when `Connection` lists it too, and never when it offers `h2c`: an
/// h2c upgrade relayed to the upstream would open an HTTP/2 connection past the proxy's routing
/// (h2c smuggling). Such a request is served as plain HTTP/1.1, as RFC 9110 §7.8 allows.
pub(crate) fn is_upgrade_request(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && headers.contains_key(header::UPGRADE)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
        && !headers
            .get_all(header::UPGRADE)
            .iter()
            .flat_map(tokens)
            .any(|t| {
                t.split('/')
                    .next()
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("h2c"))
            })
}

/// Removes hop-by-hop headers: `Connection` and every header it names, `Keep-Alive`,
/// `Proxy-Connection`, `TE` (but `TE: trailers` is kept), `Trailer`, `Transfer-Encoding` and
/// `Upgrade`. With `upgrade`, `Upgrade` is kept and `Connection: upgrade` set, so the
/// handshake reaches the other side.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // Most messages carry none: one pass over the names (no hashing) settles it, where the
    // removals below cost a lookup each.
    if !upgrade && !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if let Some(listed) = take_all(headers, header::CONNECTION) {
        for value in &listed {
            for token in tokens(value) {
                if !(upgrade && token.eq_ignore_ascii_case("upgrade")) {
                    headers.remove(token);
                }
            }
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
    if let Some(te) = take_all(headers, header::TE)
        && te.iter().flat_map(tokens).any(is_trailers)
    {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Removes every value of `name`, returning them (`None` when absent). The values are moved
/// out first: the map cannot change while they are borrowed.
fn take_all(headers: &mut HeaderMap, name: header::HeaderName) -> Option<Vec<HeaderValue>> {
    match headers.entry(name) {
        header::Entry::Occupied(entry) => Some(entry.remove_entry_mult().1.collect()),
        header::Entry::Vacant(_) => None,
    }
}

/// Whether `name` is one [`strip_hop_by_hop`] always looks at (the names `Connection` lists
/// come with `Connection`).
fn is_hop_by_hop(name: &header::HeaderName) -> bool {
    [header::CONNECTION, header::TE, header::UPGRADE].contains(name) || HOP_BY_HOP.contains(name)
}

/// A `TE` token naming `trailers` (parameters ignored).
fn is_trailers(token: &str) -> bool {
    let name = token.split(';').next().unwrap_or(token);
    name.trim().eq_ignore_ascii_case("trailers")
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers.get_all(header::CONNECTION).iter().flat_map(tokens)
}

/// The comma-separated, trimmed, non-empty tokens of a header value (invalid UTF-8: none).
fn tokens(value: &HeaderValue) -> impl Iterator<Item = &str> {
    value
        .to_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The content length of a message (a client's request, an upstream's response) when it has
/// one: every `Content-Length` field, each a comma list, must name the same decimal number.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, &'static str> {
    const INVALID: &str = "invalid Content-Length";
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let value = value.to_str().map_err(|_| INVALID)?;
        for item in value.split(',') {
            let item = item.trim_matches([' ', '\t']);
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(INVALID);
            }
            let n: u64 = item.parse().map_err(|_| INVALID)?;
            if length.is_some_and(|l| l != n) {
                return Err(INVALID);
            }
            length = Some(n);
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn names(headers: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names
    }

    /// The early return for messages without hop-by-hop headers must not miss a lone one.
    #[test]
    fn each_hop_by_hop_header_alone_is_removed() {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "http2-settings",
        ] {
            let mut headers = map(&[(name, "x"), ("host", "a.test")]);
            strip_hop_by_hop(&mut headers, false);
            assert_eq!(names(&headers), ["host"], "{name}");
        }
    }

    #[test]
    fn fixed_hop_by_hop_headers_are_removed_and_end_to_end_ones_kept() {
        let mut headers = map(&[
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "gzip"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("host", "a.test"),
            ("content-length", "3"),
            ("date", "Tue, 15 Nov 1994 08:12:31 GMT"),
            ("server", "upstream"),
        ]);
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(
            names(&headers),
            ["content-length", "date", "host", "server"]
        );
    }

    #[test]
    fn headers_named_by_connection_are_removed_whatever_their_case() {
        let mut headers = map(&[
            ("connection", "close, X-Secret"),
            ("connection", " x-other ,,not a header name"),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("x-kept", "3"),
        ]);
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(names(&headers), ["x-kept"]);
    }

    #[test]
    fn te_trailers_is_kept_and_other_codings_dropped() {
        let mut headers = map(&[("te", "gzip"), ("te", "trailers;q=1, deflate")]);
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(
            headers.get_all("te").iter().collect::<Vec<_>>(),
            ["trailers"]
        );

        let mut headers = map(&[("te", "gzip, deflate")]);
        strip_hop_by_hop(&mut headers, false);
        assert!(!headers.contains_key("te"));
    }

    #[test]
    fn an_upgrade_keeps_upgrade_and_connection_upgrade_only() {
        let mut headers = map(&[
            ("connection", "Upgrade, x-hop"),
            ("upgrade", "websocket"),
            ("x-hop", "1"),
            ("sec-websocket-key", "abc"),
        ]);
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(
            headers.get_all("connection").iter().collect::<Vec<_>>(),
            ["upgrade"]
        );
        assert!(!headers.contains_key("x-hop"));
        assert_eq!(headers["sec-websocket-key"], "abc");
    }

    #[test]
    fn an_h2c_upgrade_is_never_relayed() {
        let mut headers = map(&[
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAARAAAAAAAIAAAAA"),
        ]);
        assert!(!is_upgrade_request(Version::HTTP_11, &headers));
        let mut offered = map(&[("connection", "upgrade"), ("upgrade", "websocket, H2C")]);
        assert!(!is_upgrade_request(Version::HTTP_11, &offered));
        strip_hop_by_hop(&mut headers, false);
        strip_hop_by_hop(&mut offered, false);
        assert!(headers.is_empty(), "{headers:?}");
        assert!(offered.is_empty(), "{offered:?}");

        let mut unlisted = map(&[("http2-settings", "AAMA"), ("upgrade", "h2c")]);
        strip_hop_by_hop(&mut unlisted, false);
        assert!(unlisted.is_empty(), "{unlisted:?}");
    }

    #[test]
    fn upgrade_requests_need_http11_connection_upgrade_and_an_upgrade_header() {
        let both = map(&[("connection", "keep-alive, Upgrade"), ("upgrade", "echo")]);
        assert!(is_upgrade_request(Version::HTTP_11, &both));
        assert!(!is_upgrade_request(Version::HTTP_10, &both));
        assert!(!is_upgrade_request(Version::HTTP_2, &both));
        let no_token = map(&[("connection", "keep-alive"), ("upgrade", "echo")]);
        assert!(!is_upgrade_request(Version::HTTP_11, &no_token));
        let no_upgrade = map(&[("connection", "upgrade")]);
        assert!(!is_upgrade_request(Version::HTTP_11, &no_upgrade));
    }
}
