use http::{HeaderMap, HeaderValue, Request};

use super::*;

/// Header lines of a test request.
type Lines = &'static [(&'static str, &'static [u8])];

/// A request head: method, target, then header lines.
fn head(method: &str, target: &str, headers: &[(&str, &[u8])]) -> Parts {
    let mut builder = Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    builder.body(()).unwrap().into_parts().0
}

#[test]
fn valid_requests_pass() {
    let cases: &[(&str, &str, Lines)] = &[
        ("GET", "/", &[("host", b"a.test")]),
        ("GET", "/a?b=c", &[("host", b"a.test:8080")]),
        ("GET", "/", &[("host", b"127.0.0.1")]),
        ("GET", "/", &[("host", b"[::1]:80")]),
        ("GET", "/", &[("host", b"A.Test.")]),
        ("GET", "/", &[("host", b"under_score.test")]),
        ("GET", "/", &[]),
        ("GET", "http://a.test/x", &[]),
        ("GET", "http://a.test/x", &[("host", b"A.TEST")]),
        ("GET", "http://a.test/x", &[("host", b"a.test:80")]),
        ("GET", "https://a.test:443/x", &[("host", b"a.test")]),
        ("OPTIONS", "*", &[("host", b"a.test")]),
        (
            "POST",
            "/",
            &[("host", b"a.test"), ("content-length", b"5")],
        ),
        (
            "POST",
            "/",
            &[("host", b"a.test"), ("content-length", b"5, 5")],
        ),
        (
            "POST",
            "/",
            &[("host", b"a.test"), ("content-length", b"005")],
        ),
    ];
    for (method, target, headers) in cases {
        let parts = head(method, target, headers);
        assert_eq!(
            check_request(&parts),
            Ok(()),
            "{method} {target} {headers:?}"
        );
    }
}

#[test]
fn invalid_requests_get_their_reason() {
    let cases: &[(&str, &str, Lines, &str)] = &[
        (
            "GET",
            "abc",
            &[("host", b"a.test")],
            "request-target is not origin-form",
        ),
        (
            "GET",
            "a.test:80",
            &[("host", b"a.test")],
            "request-target is not origin-form",
        ),
        (
            "GET",
            "*",
            &[("host", b"a.test")],
            "request-target is not origin-form",
        ),
        (
            "GET",
            "/",
            &[("host", b"a.test, b.test")],
            "invalid Host header",
        ),
        (
            "GET",
            "/",
            &[("host", b"user@a.test")],
            "invalid Host header",
        ),
        ("GET", "/", &[("host", b"a.test b")], "invalid Host header"),
        ("GET", "/", &[("host", b"a..test")], "invalid Host header"),
        ("GET", "/", &[("host", b".a.test")], "invalid Host header"),
        ("GET", "/", &[("host", b"a.test..")], "invalid Host header"),
        ("GET", "/", &[("host", b"")], "invalid Host header"),
        ("GET", "/", &[("host", b"a.test:")], "invalid Host header"),
        (
            "GET",
            "/",
            &[("host", b"a.test:99999")],
            "invalid Host header",
        ),
        ("GET", "/", &[("host", b"a.test:8o")], "invalid Host header"),
        ("GET", "/", &[("host", b"[::1")], "invalid Host header"),
        ("GET", "/", &[("host", b"[zz]")], "invalid Host header"),
        ("GET", "/", &[("host", b"a/b")], "invalid Host header"),
        ("GET", "/", &[("host", b"\xff.test")], "invalid Host header"),
        (
            "GET",
            "/",
            &[("host", b"a.test"), ("host", b"a.test")],
            "more than one Host header",
        ),
        (
            "GET",
            "http://a.test/",
            &[("host", b"b.test")],
            "Host does not match the request-target's authority",
        ),
        (
            "GET",
            "http://a.test/",
            &[("host", b"a.test:8080")],
            "Host does not match the request-target's authority",
        ),
        (
            "GET",
            "http://user@a.test/",
            &[],
            "invalid authority in request-target",
        ),
        (
            "GET",
            "ftp://a.test/",
            &[],
            "request-target scheme is not http or https",
        ),
        (
            "POST",
            "/",
            &[("host", b"a.test"), ("content-length", b"5, 6")],
            "invalid Content-Length",
        ),
        (
            "POST",
            "/",
            &[
                ("host", b"a.test"),
                ("content-length", b"5"),
                ("content-length", b"6"),
            ],
            "invalid Content-Length",
        ),
        (
            "POST",
            "/",
            &[("host", b"a.test"), ("content-length", b"+5")],
            "invalid Content-Length",
        ),
        (
            "POST",
            "/",
            &[("host", b"a.test"), ("content-length", b"")],
            "invalid Content-Length",
        ),
        (
            "POST",
            "/",
            &[
                ("host", b"a.test"),
                ("content-length", b"99999999999999999999999"),
            ],
            "invalid Content-Length",
        ),
    ];
    for (method, target, headers, reason) in cases {
        let parts = head(method, target, headers);
        assert_eq!(
            check_request(&parts),
            Err(*reason),
            "{method} {target} {headers:?}"
        );
    }
}

#[test]
fn content_length_is_normalised_to_one_canonical_value() {
    let cases: &[(&[&[u8]], Option<&str>)] = &[
        (&[b"007"], Some("7")),
        (&[b"5, 5"], Some("5")),
        (&[b"5", b"05"], Some("5")),
        (&[b"0"], Some("0")),
        (&[], None),
    ];
    for (values, expected) in cases {
        let mut headers = HeaderMap::new();
        for value in *values {
            headers.append(CONTENT_LENGTH, HeaderValue::from_bytes(value).unwrap());
        }
        normalise_content_length(&mut headers).unwrap();
        let got: Vec<_> = headers.get_all(CONTENT_LENGTH).iter().collect();
        match expected {
            Some(v) => assert_eq!(got, [*v], "{values:?}"),
            None => assert!(got.is_empty()),
        }
    }
}
