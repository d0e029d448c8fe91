use super::*;

/// annotations.md, "Session Affinity": `session-cookie-name` (default `INGRESSCOOKIE`);
/// ingress-nginx's e2e `affinity.go` "should set sticky cookie SERVERID".
#[test]
fn cookie_names_are_tokens() {
    assert_eq!(parse_cookie_name(" SERVERID ").as_deref(), Some("SERVERID"));
    assert_eq!(
        parse_cookie_name("route_1.a-b").as_deref(),
        Some("route_1.a-b")
    );
    for bad in ["", "a b", "a;b", "a=b", "ä", "a,b"] {
        assert_eq!(parse_cookie_name(bad), None, "{bad:?}");
    }
    assert_eq!(Affinity::default().name.as_ref(), DEFAULT_COOKIE_NAME);
}

/// The sessionaffinity parser's `affinityCookieExpiresRegex` (`^0|-?[1-9]\d*$`).
#[test]
fn seconds_are_canonical_integers() {
    assert_eq!(parse_seconds("172800"), Some(172_800));
    assert_eq!(parse_seconds("0"), Some(0));
    assert_eq!(parse_seconds("-1"), Some(-1));
    for bad in ["", "01", "1.5", "1h", "-", "-0", "99999999999999999999"] {
        assert_eq!(parse_seconds(bad), None, "{bad:?}");
    }
}

#[test]
fn attributes_cannot_end_the_header_or_the_attribute() {
    assert_eq!(
        parse_attribute("/foo/bar", true).as_deref(),
        Some("/foo/bar")
    );
    assert_eq!(
        parse_attribute("foo.bar", false).as_deref(),
        Some("foo.bar")
    );
    assert_eq!(parse_attribute("foo", true), None, "a path starts with /");
    for bad in ["/a;b", "/a b", "/a,b", "", "/a\r\nb"] {
        assert_eq!(parse_attribute(bad, true), None, "{bad:?}");
    }
}

#[test]
fn same_site_values_ignore_case() {
    assert_eq!(SameSite::parse("none"), Some(SameSite::None));
    assert_eq!(SameSite::parse("Lax").map(SameSite::as_str), Some("Lax"));
    assert_eq!(SameSite::parse("STRICT"), Some(SameSite::Strict));
    assert_eq!(SameSite::parse("sometimes"), None);
}

/// `sticky.lua`'s `get_cookie_parsed`: `<upstream>|<backend key>`.
#[test]
fn cookie_values_split_into_upstream_and_tag() {
    let mut value = Vec::new();
    push_hex(&mut value, &0x0123_4567_89ab_cdef_u64.to_be_bytes());
    value.push(b'|');
    push_hex(&mut value, &[1, 2, 3, 4, 5, 6, 7, 8]);
    let parsed = CookieValue::parse(&value);
    assert_eq!(parsed.position(), Some(0x0123_4567_89ab_cdef));
    assert_eq!(parsed.token(), None);
    assert!(parsed.tagged(&[1, 2, 3, 4, 5, 6, 7, 8]));
    assert!(!parsed.tagged(&[0; 8]));
    let bare = CookieValue::parse(b"00112233445566778899aabbccddeeff");
    assert_eq!(bare.tag, None);
    assert_eq!(bare.token().map(|t| t[15]), Some(0xff));
    assert!(!bare.tagged(&[0; 8]));
    assert_eq!(CookieValue::parse(b"zz").position(), None);
    assert_eq!(CookieValue::parse(b"").upstream, b"");
}

/// Any cookie a client sends is read without a panic, and a value this module wrote reads
/// back as written.
#[test]
fn any_cookie_value_parses_without_panic() {
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input: &[u8]| {
            let parsed = CookieValue::parse(input);
            let _ = (parsed.position(), parsed.token(), parsed.tagged(&[0; 8]));
            if input.len() >= 8 {
                let mut hex = Vec::new();
                push_hex(&mut hex, &input[..8]);
                let position = CookieValue::parse(&hex).position().unwrap();
                assert_eq!(position.to_be_bytes(), input[..8]);
            }
        });
}

#[test]
fn any_annotation_value_parses_without_panic() {
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input: &[u8]| {
            let text = String::from_utf8_lossy(input);
            if let Some(name) = parse_cookie_name(&text) {
                assert!(!name.contains([';', '=', ' ']));
            }
            if let Some(path) = parse_attribute(&text, true) {
                assert!(path.starts_with('/') && !path.contains(';'));
            }
            let _ = (parse_seconds(&text), SameSite::parse(&text));
        });
}
