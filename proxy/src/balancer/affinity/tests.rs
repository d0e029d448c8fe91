use std::net::SocketAddr;
use std::sync::Arc;

use strait_shared::Endpoint;

use super::*;

fn endpoints(n: u8) -> Endpoints {
    Endpoints::new(
        (0..n)
            .map(|i| Endpoint {
                addr: SocketAddr::from(([10, 0, 0, i + 1], 80)),
                weight: 1,
            })
            .collect(),
    )
}

fn keyed(eps: &Endpoints) -> Keyed {
    Keyed::build(Arc::from(&b"uid"[..]), eps.list(), &[2])
}

fn text(value: &HeaderValue) -> &str {
    value.to_str().unwrap()
}

/// nginx's `cookie_time`, as ingress-nginx's e2e `affinity.go` "should set cookie with
/// expires" reads it (`Mon, 02-Jan-06 15:04`).
#[test]
fn expires_is_written_as_nginx_does() {
    let mut out = Vec::new();
    cookie_time(&mut out, 1_290_079_655);
    assert_eq!(out, b"Thu, 18-Nov-10 11:27:35 GMT");
    out.clear();
    cookie_time(&mut out, 0);
    assert_eq!(out, b"Thu, 01-Jan-70 00:00:00 GMT");
}

/// `same_site.lua`'s list.
#[test]
fn browsers_that_mishandle_same_site_none_are_known() {
    let chrome_60 = b"Mozilla/5.0 (X11) AppleWebKit/537.36 Chrome/60.0.3112 Safari/537.36";
    let chrome_120 = b"Mozilla/5.0 (X11) AppleWebKit/537.36 Chrome/120.0.0 Safari/537.36";
    let ios_12 = b"Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) Safari";
    let mojave = b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) Version/12.0 Safari/605";
    assert!(!same_site_none_compatible(Some(chrome_60)));
    assert!(same_site_none_compatible(Some(chrome_120)));
    assert!(!same_site_none_compatible(Some(ios_12)));
    assert!(!same_site_none_compatible(Some(mojave)));
    assert!(same_site_none_compatible(None));
}

/// `sticky.lua`'s `set_cookie`: value `<upstream>|<backend key>`, the attributes in
/// `lua-resty-cookie`'s order, `HttpOnly` always, `Secure` on HTTPS or when asked.
#[test]
fn a_new_session_gets_a_cookie_with_every_attribute() {
    let eps = endpoints(3);
    let keyed = keyed(&eps);
    let affinity = Affinity {
        name: "SERVERID".into(),
        domain: Some("foo.bar".into()),
        expires: Some(172_800),
        max_age: Some(259_200),
        same_site: Some(SameSite::None),
        conditional_same_site_none: true,
        ..Affinity::default()
    };
    let choice = choose_session(Mode::Balanced, &keyed, None);
    assert!(choice.issue);
    let served = choice.index.unwrap();
    let ua = HeaderValue::from_static("Chrome/120.0");
    let cookie = set_cookie(&affinity, &keyed, choice, served, "/app", true, Some(&ua)).unwrap();
    let cookie = text(&cookie);
    let (value, attrs) = cookie.split_once("; ").unwrap();
    assert!(value.starts_with("SERVERID="), "{cookie}");
    let parsed = CookieValue::parse(&value.as_bytes()["SERVERID=".len()..]);
    assert!(parsed.tagged(keyed.tag()));
    assert_eq!(keyed.lookup(parsed.position().unwrap()), Some(served));
    assert!(attrs.starts_with("Expires="), "{cookie}");
    assert!(
        attrs.ends_with(
            " GMT; Max-Age=259200; Domain=foo.bar; Path=/app; Secure; HttpOnly; SameSite=None"
        ),
        "{cookie}"
    );
    // An old browser gets no SameSite=None; plain HTTP no Secure.
    let old = HeaderValue::from_static("Chrome/51.0");
    let cookie = set_cookie(&affinity, &keyed, choice, served, "/app", false, Some(&old)).unwrap();
    assert!(
        text(&cookie).ends_with("; Path=/app; HttpOnly"),
        "{cookie:?}"
    );
}

#[test]
fn a_kept_session_sets_no_cookie_unless_it_moved_with_change_on_failure() {
    let eps = endpoints(3);
    let keyed = keyed(&eps);
    let mut affinity = Affinity {
        mode: Mode::Persistent,
        ..Affinity::default()
    };
    let token = keyed.token(1).unwrap();
    let mut raw = Vec::new();
    push_hex(&mut raw, token);
    let session = CookieValue::parse(&raw);
    let choice = choose_session(Mode::Persistent, &keyed, Some(&session));
    assert_eq!((choice.index, choice.issue), (Some(1), false));
    assert_eq!(
        set_cookie(&affinity, &keyed, choice, 1, "/", false, None),
        None
    );
    assert_eq!(
        set_cookie(&affinity, &keyed, choice, 2, "/", false, None),
        None
    );
    affinity.change_on_failure = true;
    let moved = set_cookie(&affinity, &keyed, choice, 2, "/", false, None).unwrap();
    let mut expected = b"INGRESSCOOKIE=".to_vec();
    push_hex(&mut expected, keyed.token(2).unwrap());
    assert!(text(&moved).as_bytes().starts_with(&expected), "{moved:?}");
}

/// An endpoint that left: its token names nothing, so the balancer picks and the cookie is
/// issued again.
#[test]
fn an_unknown_token_starts_a_new_session() {
    let eps = endpoints(2);
    let keyed = keyed(&eps);
    let session = CookieValue::parse(b"00112233445566778899aabbccddeeff|0011223344556677");
    let choice = choose_session(Mode::Persistent, &keyed, Some(&session));
    assert_eq!((choice.index, choice.issue), (None, true));
    let balanced = choose_session(Mode::Balanced, &keyed, Some(&CookieValue::parse(b"junk")));
    assert!(balanced.issue && balanced.index.is_some());
}

#[test]
fn a_canary_session_stays_with_its_backend() {
    let main = keyed(&endpoints(2));
    let alternative = Keyed::build(Arc::from(&b"other"[..]), endpoints(2).list(), &[]);
    let mut canary = Canary {
        ingress: strait_shared::ObjectKey::new("default", "canary"),
        backend: strait_shared::table::BackendId(1),
        header: None,
        header_match: strait_shared::table::canary::HeaderMatch::AlwaysNever,
        cookie: None,
        weight: 0,
        weight_total: 100,
        sticky: true,
    };
    let tagged = |k: &Keyed| {
        let mut raw = b"0000000000000000|".to_vec();
        push_hex(&mut raw, k.tag());
        raw
    };
    let (to_main, to_alt) = (tagged(&main), tagged(&alternative));
    let decide = |raw: &[u8], canary: &Canary| {
        canary_by_cookie(
            Some(&CookieValue::parse(raw)),
            canary,
            Some(&main),
            Some(&alternative),
        )
    };
    assert_eq!(decide(&to_main, &canary), Some(false));
    assert_eq!(decide(&to_alt, &canary), Some(true));
    assert_eq!(decide(b"0000000000000000", &canary), None);
    canary.sticky = false;
    assert_eq!(
        decide(&to_alt, &canary),
        None,
        "legacy: the canary rules decide"
    );
    assert_eq!(decide(&to_main, &canary), Some(false));
}

#[test]
fn a_subset_key_picks_within_its_subset() {
    use strait_shared::table::hash_by::{HashBy, Hashing};
    let eps = endpoints(5);
    let keyed = keyed(&eps);
    let hashing = Hashing {
        by: HashBy::parse("$request_uri").unwrap(),
        subset: Some(2),
    };
    let uri: http::Uri = "/x".parse().unwrap();
    let headers = HeaderMap::new();
    let request = KeyRequest {
        uri: &uri,
        headers: &headers,
        host: "h",
        client: std::net::IpAddr::from([127, 0, 0, 1]),
        https: false,
    };
    let subset = keyed.lookup_subset(2, hashing.by.hash(&request)).unwrap();
    let allowed = [subset.start % 5, (subset.start + 1) % 5];
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let picked = choose_hashed(&hashing, &keyed, &eps, &request).unwrap();
        assert!(allowed.contains(&picked), "{picked} not in {allowed:?}");
        seen.insert(picked);
    }
    assert_eq!(seen.len(), 2, "both members of the subset serve");
}
