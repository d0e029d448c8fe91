//! CORS values as ingress-nginx parses them (internal/ingress/annotations/cors/main.go and its
//! main_test.go; docs/user-guide/nginx-configuration/annotations.md, "Enable CORS").

use super::*;

fn list(value: &str) -> Cors {
    Cors::parse(CorsValues {
        allow_origin: Some(value),
        ..CorsValues::default()
    })
    .0
}

fn allows(cors: &Cors, origin: &str) -> bool {
    cors.origins.allows(origin.as_bytes())
}

/// annotations.md, "Enable CORS": the defaults of `enable-cors: "true"` alone.
#[test]
fn defaults_are_ingress_nginx_defaults() {
    let (cors, fallbacks) = Cors::parse(CorsValues::default());
    assert!(fallbacks.is_empty());
    assert_eq!(cors.origins, AllowOrigin::Any);
    assert_eq!(cors.allow_methods, "GET, PUT, POST, DELETE, PATCH, OPTIONS");
    assert_eq!(
        cors.allow_headers,
        "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
    );
    assert_eq!(cors.expose_headers, None);
    assert!(cors.allow_credentials);
    assert_eq!(cors.max_age, "1728000");
}

/// e2e cors.go "should allow - single origin for multiple cors values" and "should not allow -
/// single origin with port and origin without port": exact scheme, host and port.
#[test]
fn origin_list_matches_scheme_host_and_port_exactly() {
    let cors = list("https://origin.cors.com:8080, https://origin2.cors.com");
    assert!(allows(&cors, "https://origin.cors.com:8080"));
    assert!(allows(&cors, "https://origin2.cors.com"));
    assert!(
        allows(&cors, "HTTPS://Origin2.Cors.com"),
        "nginx matches with ~*"
    );
    assert!(!allows(&cors, "https://origin.cors.com"));
    assert!(!allows(&cors, "http://origin2.cors.com"));
    assert!(!allows(&cors, "https://origin2.cors.com:443"));
    assert!(!allows(&cors, "https://evil.origin2.cors.com"));
    assert!(!allows(&cors, "xhttps://origin2.cors.com"));
    assert!(!allows(&cors, ""));
}

/// e2e cors.go "matching origin with wildcard origin (2 subdomains)" and "unmatching origin
/// with wildcard origin": `*` is exactly one label.
#[test]
fn wildcard_is_one_label() {
    let cors = list("http://*.origin.cors.com, http://*.origin.com:8080");
    assert!(allows(&cors, "http://foo.origin.cors.com"));
    assert!(allows(&cors, "http://a-1.origin.com:8080"));
    assert!(!allows(&cors, "http://origin.cors.com"));
    assert!(!allows(&cors, "http://.origin.cors.com"));
    assert!(!allows(&cors, "http://foo.bar.origin.cors.com"));
    assert!(!allows(&cors, "http://foo.origin.com"), "port required");
    assert!(!allows(&cors, "https://foo.origin.cors.com"));
}

/// e2e cors.go "should allow correct origins": an entry without scheme is skipped, the others
/// still apply; "should not break functionality with extra domain": `*` wins.
#[test]
fn bad_entries_are_skipped_and_star_wins() {
    let (cors, fallbacks) = Cors::parse(CorsValues {
        allow_origin: Some("origin.cors.com:8080, https://origin2.cors.com, https://origin.com"),
        ..CorsValues::default()
    });
    assert_eq!(fallbacks.len(), 1);
    assert!(allows(&cors, "https://origin.com"));
    assert!(!allows(&cors, "origin.cors.com:8080"));
    assert_eq!(list("*, foo.bar.com").origins, AllowOrigin::Any);
    assert_eq!(list("https://a.com, *").origins, AllowOrigin::Any);
    assert!(allows(&list("null"), "null"));
    assert_eq!(list("foo.bar.com").origins, AllowOrigin::List(Vec::new()));
}

/// main.go: a value that fails `corsOriginRegexValidator` falls back to `*` (with a warning).
#[test]
fn invalid_origin_value_falls_back_to_star() {
    for bad in [
        "HTTPS://a.com",
        "https://a.com/path",
        "https://a_b.com",
        "https://a.com:",
        "$http_origin",
        "https://*a.com",
    ] {
        let (cors, fallbacks) = Cors::parse(CorsValues {
            allow_origin: Some(bad),
            ..CorsValues::default()
        });
        assert_eq!(cors.origins, AllowOrigin::Any, "{bad:?}");
        assert_eq!(fallbacks.len(), 1, "{bad:?}");
    }
}

/// main.go and main_test.go: methods, headers and expose headers must match their regexes,
/// else the default; credentials and max-age fall back to true and 1728000.
#[test]
fn invalid_values_fall_back_to_defaults() {
    let (cors, fallbacks) = Cors::parse(CorsValues {
        allow_origin: None,
        allow_methods: Some("GET, $request_method"),
        allow_headers: Some("X-A;\r\nX-B"),
        expose_headers: Some("X-A,,X-B"),
        allow_credentials: Some("maybe"),
        max_age: Some("1d"),
    });
    assert_eq!(fallbacks.len(), 5);
    assert_eq!(cors, Cors::default());

    let (cors, fallbacks) = Cors::parse(CorsValues {
        allow_origin: None,
        allow_methods: Some("POST, GET"),
        allow_headers: Some("X-CustomHeader, X_Other"),
        expose_headers: Some("X-A, *"),
        allow_credentials: Some("false"),
        max_age: Some("200"),
    });
    assert!(fallbacks.is_empty(), "{fallbacks:?}");
    assert_eq!(cors.allow_methods, "POST, GET");
    assert_eq!(cors.allow_headers, "X-CustomHeader, X_Other");
    assert_eq!(cors.expose_headers.as_ref().unwrap(), "X-A, *");
    assert!(!cors.allow_credentials);
    assert_eq!(cors.max_age, "200");
}

#[test]
fn list_regex_shape() {
    let word = |b: u8| b.is_ascii_alphabetic();
    for ok in ["GET", "GET,POST", "GET, POST", "GET POST", "GET, ", "get"] {
        assert!(is_list(ok, word, false), "{ok:?}");
    }
    for bad in ["", ",GET", "GET,,POST", "GET,  POST", "GET\n", "G3T"] {
        assert!(!is_list(bad, word, false), "{bad:?}");
    }
}

/// Property: whatever the input, parsing does not panic, and every kept value is header-safe
/// text (no control characters), so the proxy can always send it.
#[test]
fn any_input_parses_to_header_safe_values() {
    bolero::check!()
        .with_test_time(crate::fuzz::budget().min(std::time::Duration::from_secs(2)))
        .for_each(|input: &[u8]| {
            let text = String::from_utf8_lossy(input);
            let mut parts = text.splitn(6, '\u{1}');
            let mut next = || parts.next();
            let values = CorsValues {
                allow_origin: next(),
                allow_methods: next(),
                allow_headers: next(),
                expose_headers: next(),
                allow_credentials: next(),
                max_age: next(),
            };
            let (cors, _) = Cors::parse(values);
            let safe = |v: &http::HeaderValue| {
                v.as_bytes()
                    .iter()
                    .all(|&b| b == b'\t' || (b' '..0x7f).contains(&b))
            };
            assert!(safe(&cors.allow_methods) && safe(&cors.allow_headers));
            assert!(cors.expose_headers.as_ref().is_none_or(safe));
            if let AllowOrigin::List(patterns) = &cors.origins {
                for p in patterns {
                    assert!(
                        p.matches(format!("{}x{}", p.prefix, p.suffix).as_bytes()) || !p.wildcard
                    );
                }
            }
        });
}
