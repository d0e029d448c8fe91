//! Fuzz targets (bolero) of the data path: the PROXY header reader
//! (`proxy_protocol::fuzz`) and request validation (here).
//!
//! Each `check!()` is an ordinary `#[test]`: on stable it replays the committed corpus
//! (`__fuzz__/<target>/corpus` beside the file) and then random inputs for
//! `STRAIT_FUZZ_SECONDS` (default 5 s); `cargo bolero test -p strait-proxy <target>` runs it
//! under libFuzzer (nightly).

use std::time::Duration;

/// How long each target's random phase runs: `STRAIT_FUZZ_SECONDS` (fractions allowed), else
/// 5 s, so the default `cargo test` stays short. `BOLERO_RANDOM_TEST_TIME_MS` overrides both.
pub(crate) fn budget() -> Duration {
    std::env::var("STRAIT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(5))
}

use bolero::check;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use strait_shared::host::normalise_request_host;

use crate::validate;

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::OPTIONS,
    Method::CONNECT,
    Method::HEAD,
    Method::PUT,
];

/// A request head from bytes: `input[0]` picks the method, then lines: the request-target,
/// then one header per line whose first byte picks `Host` (`h`), `Content-Length` (`c`) or a
/// `name:value` field (anything else). Values http's types refuse are left out, as hyper
/// would never hand them over.
fn request_head(input: &[u8]) -> Option<(Method, Uri, HeaderMap)> {
    let (&method, rest) = input.split_first()?;
    let method = METHODS[usize::from(method) % METHODS.len()].clone();
    let mut lines = rest.split(|&b| b == b'\n');
    let uri = Uri::try_from(lines.next()?).ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((&pick, field)) = line.split_first() else {
            continue;
        };
        let (name, value) = match pick {
            b'h' => (HOST, field),
            b'c' => (CONTENT_LENGTH, field),
            _ => {
                let at = field.iter().position(|&b| b == b':')?;
                let name = HeaderName::from_bytes(&field[..at]).ok()?;
                (name, &field[at + 1..])
            }
        };
        headers.append(name, HeaderValue::from_bytes(value).ok()?);
    }
    Some((method, uri, headers))
}

/// What an accepted request guarantees to routing and forwarding.
fn accepted_request_holds(method: &Method, uri: &Uri, headers: &mut HeaderMap) {
    let hosts: Vec<_> = headers.get_all(HOST).iter().collect();
    assert!(hosts.len() <= 1, "several Host fields accepted");
    let host = hosts
        .first()
        .map(|h| h.to_str().expect("an accepted Host is text"));
    if let Some(host) = host {
        let bad = |c: char| c == ',' || c == '@' || c.is_whitespace();
        assert!(!host.is_empty() && !host.contains(bad), "Host {host:?}");
    }
    match (uri.scheme(), uri.authority()) {
        (None, None) => {
            assert!(uri.path().starts_with('/') || (uri.path() == "*" && method == Method::OPTIONS))
        }
        (Some(_), Some(authority)) => {
            // Routing by the authority and by Host must pick the same host.
            if let Some(host) = host {
                assert_eq!(
                    normalise_request_host(authority.as_str()),
                    normalise_request_host(host),
                    "authority and Host disagree"
                );
            }
        }
        _ => panic!("accepted a request-target that is neither origin- nor absolute-form"),
    }
    validate::normalise_content_length(headers).expect("an accepted Content-Length normalises");
    let lengths: Vec<_> = headers.get_all(CONTENT_LENGTH).iter().cloned().collect();
    assert!(lengths.len() <= 1, "one Content-Length after normalising");
    if let Some(length) = lengths.first() {
        let text = length.to_str().expect("digits");
        let n: u64 = text.parse().expect("a number");
        assert_eq!(n.to_string(), text, "canonical Content-Length");
    }
    assert_eq!(
        validate::check(method, uri, headers),
        Ok(()),
        "still valid once normalised"
    );
}

/// Whether the request was accepted (its properties then checked).
fn request_holds(input: &[u8]) -> bool {
    let Some((method, uri, mut headers)) = request_head(input) else {
        return false;
    };
    let accepted = validate::check(&method, &uri, &headers).is_ok();
    if accepted {
        accepted_request_holds(&method, &uri, &mut headers);
    }
    accepted
}

/// The forms of item 2's tests: origin-, absolute-, authority-form, `*`, and Host values that
/// are lists, userinfo, whitespace, doubled; Content-Length with zeros and repeats.
const REQUEST_SEEDS: &[&[u8]] = &[
    b"\x00/\nhexample.com",
    b"\x00/a?b=c\nhexample.com:8080\nc0005\nc5, 5",
    b"\x00abc\nhexample.com",
    b"\x00http://example.com/x\nhEXAMPLE.com:80",
    b"\x00https://example.com:443/\nhexample.com",
    b"\x00http://other.com/\nhexample.com",
    b"\x02*\nhexample.com",
    b"\x00*\nhexample.com",
    b"\x03example.com:443\nhexample.com:443",
    b"\x00/\nha.com, b.com",
    b"\x00/\nhuser@example.com",
    b"\x00/\nhexample .com",
    b"\x00/\nha.com\nhb.com",
    b"\x00/\nh[::1]:8080\nc1\nc2",
    b"\x00/\nh\nxupgrade:h2c\nxconnection:Upgrade, HTTP2-Settings",
];

#[test]
fn request_validation() {
    // Both verdicts are seeded: the accepted ones reach the property checks.
    let accepted = REQUEST_SEEDS.iter().filter(|s| request_holds(s)).count();
    assert!(
        (4..REQUEST_SEEDS.len()).contains(&accepted),
        "{accepted} accepted"
    );
    check!().with_test_time(budget()).for_each(|input: &[u8]| {
        request_holds(input);
    });
}
