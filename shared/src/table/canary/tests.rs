//! The decision of `balancer.lua`'s `route_to_alternative_balancer`, case by case
//! (test/e2e/annotations/canary.go).

use super::*;

fn canary() -> Canary {
    Canary {
        ingress: ObjectKey::new("default", "canary"),
        backend: BackendId(1),
        header: None,
        header_match: HeaderMatch::AlwaysNever,
        cookie: None,
        weight: 0,
        weight_total: 100,
        sticky: true,
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(*k, HeaderValue::from_static(v));
    }
    map
}

/// Never rolls: a decision that reaches the weight with weight 0 must not roll either.
fn no_roll(_: u32) -> u32 {
    panic!("rolled")
}

#[test]
fn header_always_and_never_decide_and_other_values_fall_through() {
    let c = Canary {
        header: header_name("CanaryByHeader"),
        cookie: Some("CanaryByCookie".into()),
        ..canary()
    };
    let decide = |pairs| c.chooses_canary(&headers(pairs), no_roll);
    assert!(decide(&[("canarybyheader", "always")]));
    assert!(!decide(&[("canarybyheader", "never")]));
    // canary.go "should route requests to the correct upstream if the header is set to
    // 'never'" even with the cookie set to always: the header decides first.
    assert!(!decide(&[
        ("canarybyheader", "never"),
        ("cookie", "CanaryByCookie=always")
    ]));
    // Another value falls through to the cookie, then to the weight (0 here).
    assert!(decide(&[
        ("canarybyheader", "badval"),
        ("cookie", "CanaryByCookie=always")
    ]));
    assert!(!decide(&[("canarybyheader", "badval")]));
    assert!(!decide(&[]));
}

#[test]
fn header_value_and_pattern_replace_always_and_never() {
    let by_value = Canary {
        header: header_name("CanaryByHeader"),
        header_match: HeaderMatch::Value(HeaderValue::from_static("DoCanary")),
        ..canary()
    };
    let decide = |c: &Canary, v| c.chooses_canary(&headers(&[("canarybyheader", v)]), no_roll);
    assert!(decide(&by_value, "DoCanary"));
    assert!(!decide(&by_value, "docanary"), "exact value, case included");
    assert!(
        !decide(&by_value, "always"),
        "always is an ordinary value once a value is set"
    );
    let by_pattern = Canary {
        header: header_name("CanaryByHeader"),
        header_match: HeaderMatch::Pattern(compile_pattern("^Do.*$|foo").unwrap()),
        ..canary()
    };
    assert!(decide(&by_pattern, "DoCanary"));
    assert!(
        decide(&by_pattern, "xxfooxx"),
        "ngx.re.match finds a match anywhere"
    );
    assert!(!decide(&by_pattern, "never-do"));
    assert!(!decide(&by_pattern, "always"));
}

#[test]
fn the_header_name_reads_underscores_as_dashes_and_ignores_case() {
    assert_eq!(header_name("X_Canary_Flag").unwrap(), "x-canary-flag");
    assert_eq!(header_name("X-Canary").unwrap(), "x-canary");
    assert_eq!(header_name("bad header"), None);
}

#[test]
fn the_cookie_is_found_among_others_case_ignored_first_wins() {
    let c = Canary {
        cookie: Some("Canary".into()),
        ..canary()
    };
    let decide = |v| c.chooses_canary(&headers(&[("cookie", v)]), no_roll);
    assert!(decide("a=1; canary=always; b=2"));
    assert!(!decide("canary=never; canary=always"));
    assert!(!decide("notcanary=always"));
    assert!(!decide("canary"));
    let two_headers = headers(&[("cookie", "a=1"), ("cookie", "Canary=always")]);
    assert!(c.chooses_canary(&two_headers, no_roll));
}

/// canary.go "should route requests to the correct upstream if mainline ingress is created
/// before the canary ingress" with weights 0, 50, 100; annotations.md: a total of 100 or
/// less counts as 100.
#[test]
fn weight_is_a_draw_out_of_the_total() {
    let c = Canary {
        weight: 30,
        weight_total: 100,
        ..canary()
    };
    assert!(c.chooses_canary(&HeaderMap::new(), |n| {
        assert_eq!(n, 100);
        30
    }));
    assert!(!c.chooses_canary(&HeaderMap::new(), |_| 31));
    let all = Canary {
        weight: 100,
        ..canary()
    };
    assert!(all.chooses_canary(&HeaderMap::new(), |_| 100));
    assert_eq!(Canary::effective_total(50), 100);
    assert_eq!(Canary::effective_total(-5), 100);
    assert_eq!(Canary::effective_total(1000), 1000);
}

#[test]
fn pattern_size_is_bounded() {
    assert!(
        compile_pattern("(a+)+$").is_ok(),
        "linear time, no catastrophe"
    );
    assert!(compile_pattern("((a{1000}){1000}){1000}").is_err());
    assert!(
        compile_pattern("(?<=x)y").is_err(),
        "lookaround is not supported"
    );
}
