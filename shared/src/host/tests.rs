use super::*;

#[test]
fn normalise_drops_port() {
    assert_eq!(normalise_request_host("example.com:8080"), "example.com");
    assert_eq!(normalise_request_host("example.com"), "example.com");
    assert!(matches!(
        normalise_request_host("example.com"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn normalise_keeps_non_numeric_suffix() {
    assert_eq!(
        normalise_request_host("example.com:http"),
        "example.com:http"
    );
}

#[test]
fn normalise_bracketed_ipv6_drops_port_keeps_brackets() {
    assert_eq!(normalise_request_host("[::1]:8443"), "[::1]");
    assert_eq!(normalise_request_host("[::1]"), "[::1]");
    assert_eq!(normalise_request_host("[FE80::1]:80"), "[fe80::1]");
}

#[test]
fn normalise_unbracketed_ipv6_is_left_whole() {
    assert_eq!(normalise_request_host("::1"), "::1");
    assert_eq!(normalise_request_host("fe80::1"), "fe80::1");
}

#[test]
fn normalise_drops_one_trailing_dot() {
    assert_eq!(normalise_request_host("example.com."), "example.com");
    assert_eq!(normalise_request_host("example.com.:443"), "example.com");
}

#[test]
fn normalise_lowercases() {
    let host = normalise_request_host("WWW.Example.COM:80");
    assert_eq!(host, "www.example.com");
    assert!(matches!(host, Cow::Owned(_)));
}

#[test]
fn parse_exact_wildcard_and_empty() {
    assert_eq!(HostPattern::parse(""), Ok(HostPattern::Any));
    assert_eq!(
        HostPattern::parse("Foo.Example.com"),
        Ok(HostPattern::Exact("foo.example.com".into()))
    );
    assert_eq!(
        HostPattern::parse("*.example.com"),
        Ok(HostPattern::Wildcard("example.com".into()))
    );
}

#[test]
fn parse_rejects_bad_hosts() {
    assert!(matches!(
        HostPattern::parse("a.*.com"),
        Err(HostError::BadWildcard(_))
    ));
    assert!(matches!(
        HostPattern::parse("*"),
        Err(HostError::BadWildcard(_))
    ));
    assert!(matches!(
        HostPattern::parse("10.0.0.1"),
        Err(HostError::IpAddress(_))
    ));
    assert!(matches!(
        HostPattern::parse("-a.com"),
        Err(HostError::Invalid(_))
    ));
    assert!(matches!(
        HostPattern::parse("a..com"),
        Err(HostError::Invalid(_))
    ));
    assert!(matches!(
        HostPattern::parse("a_b.com"),
        Err(HostError::Invalid(_))
    ));
    assert!(matches!(
        HostPattern::parse(&"a".repeat(64)),
        Err(HostError::Invalid(_))
    ));
}

#[test]
fn wildcard_pattern_matches_one_label() {
    let pattern = HostPattern::Wildcard("example.com".into());
    assert!(pattern.matches("a.example.com"));
    assert!(!pattern.matches("example.com"));
    assert!(!pattern.matches("a.b.example.com"));
}

#[test]
fn wildcard_suffix_of_single_label_is_none() {
    assert_eq!(wildcard_suffix("localhost"), None);
    assert_eq!(wildcard_suffix("a."), None);
    assert_eq!(wildcard_suffix("a.b.c"), Some("b.c"));
}
