//! Cookie session affinity and consistent hashing through the real proxy (docs/architecture.md,
//! "Session affinity and consistent hashing"; annotations.md "Session Affinity" and "Custom
//! NGINX upstream hashing"; test/e2e/annotations/affinity.go, affinitymode.go,
//! upstreamhashby.go).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use serde_json::{Value, json};
use strait_controller::serve::Running;
use strait_e2e::client::{Reply, get_with};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, eventually, start};

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "sticky.example";

/// `n` echo backends `e0`… on 127.0.1.x, one port (pods of one Deployment).
async fn echoes(n: u8) -> Vec<Echo> {
    let first = Echo::start("e0", [127, 0, 1, 1], 0).await;
    let port = first.addr.port();
    let mut all = vec![first];
    for i in 1..n {
        all.push(Echo::start(&format!("e{i}"), [127, 0, 1, i + 1], port).await);
    }
    all
}

/// Service `app` (with a UID, as the API server gives one) over `addrs`.
fn app(addrs: &[SocketAddr]) -> Vec<Value> {
    let mut items = backend("default", "app", addrs);
    items[0]["metadata"]["uid"] = json!("7d3c0a52-9a2e-4a57-b0a4-6f0c2b1e2d11");
    items
}

fn ingress(annotations: &[(&str, &str)], path: &str) -> Value {
    let mut ing = IngressB::new("default", "sticky").rule(HOST, path, "Prefix", "app", 80);
    for (k, v) in annotations {
        ing = ing.annotation(&format!("{NGINX}/{k}"), v);
    }
    ing.build()
}

async fn scene(annotations: &[(&str, &str)], n: u8) -> (Running, Manifests, Vec<Echo>) {
    let echoes = echoes(n).await;
    let addrs: Vec<SocketAddr> = echoes.iter().map(|e| e.addr).collect();
    let m = Manifests::new();
    m.write_list("ingress.json", &[our_class(), ingress(annotations, "/")]);
    m.write_list("app.json", &app(&addrs));
    (start(m.path()).await, m, echoes)
}

fn set_cookie(r: &Reply) -> Option<String> {
    r.headers
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// `NAME=VALUE` of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn fetch(s: &Running, path: &str, cookie: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    let r = get_with(s.http_addr, HOST, path, &headers).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// affinity.go "should set sticky cookie SERVERID", affinitymode.go "Check persistent
/// affinity mode": the first response sets the cookie; 100 requests carrying it reach the same
/// endpoint and get no new cookie; the value holds no address.
#[tokio::test]
async fn a_session_sticks_for_100_requests_in_both_modes() {
    for mode in ["balanced", "persistent"] {
        let (s, _m, echoes) = scene(
            &[
                ("affinity", "cookie"),
                ("affinity-mode", mode),
                ("session-cookie-name", "SERVERID"),
            ],
            4,
        )
        .await;
        let first = fetch(&s, "/", None).await;
        let cookie = set_cookie(&first).expect("the first response sets the cookie");
        assert!(cookie.starts_with("SERVERID="), "{cookie}");
        assert!(
            cookie.contains("; Path=/") && cookie.contains("; HttpOnly"),
            "{cookie}"
        );
        for echo in &echoes {
            assert!(!cookie.contains(&echo.addr.ip().to_string()), "{cookie}");
            assert!(!cookie.contains(&echo.addr.port().to_string()), "{cookie}");
        }
        let owner = first.echo_name().unwrap();
        let cookie = pair(&cookie);
        for i in 0..100 {
            let r = fetch(&s, "/", Some(&cookie)).await;
            assert_eq!(r.echo_name().unwrap(), owner, "{mode}: request {i}");
            assert_eq!(
                set_cookie(&r),
                None,
                "{mode}: a kept session gets no new cookie"
            );
        }
        // Without the cookie, requests spread: stickiness comes from the cookie.
        let mut seen = HashSet::new();
        for _ in 0..40 {
            seen.insert(fetch(&s, "/", None).await.echo_name().unwrap());
        }
        assert!(seen.len() > 1, "{mode}: {seen:?}");
        s.shutdown().await.unwrap();
    }
}

/// affinitymode.go "Check persistent affinity mode": endpoints that join do not move a
/// persistent session; once its endpoint leaves, the session is re-picked and re-issued.
#[tokio::test]
async fn a_persistent_session_survives_scale_up_and_is_repicked_when_its_endpoint_leaves() {
    let annotations = [("affinity", "cookie"), ("affinity-mode", "persistent")];
    let (s, m, mut echoes) = scene(&annotations, 2).await;
    let first = fetch(&s, "/", None).await;
    let owner = first.echo_name().unwrap();
    let cookie = pair(&set_cookie(&first).unwrap());
    assert!(
        cookie.starts_with("INGRESSCOOKIE="),
        "the default name: {cookie}"
    );
    // Scale up to 6.
    let port = echoes[0].addr.port();
    for i in 2..6u8 {
        echoes.push(Echo::start(&format!("e{i}"), [127, 0, 1, i + 1], port).await);
    }
    let addrs: Vec<SocketAddr> = echoes.iter().map(|e| e.addr).collect();
    m.write_list("app.json", &app(&addrs));
    eventually("the new endpoints serve", || async {
        let r = fetch(&s, "/", None).await;
        (r.echo_name().unwrap().as_str() >= "e2").then_some(())
    })
    .await;
    for _ in 0..30 {
        let r = fetch(&s, "/", Some(&cookie)).await;
        assert_eq!(r.echo_name().unwrap(), owner);
    }
    // The session's endpoint leaves.
    let rest: Vec<SocketAddr> = echoes
        .iter()
        .filter(|e| e.name != owner)
        .map(|e| e.addr)
        .collect();
    m.write_list("app.json", &app(&rest));
    let moved = eventually("the session is re-picked", || async {
        let r = fetch(&s, "/", Some(&cookie)).await;
        (r.echo_name().unwrap() != owner).then_some(r)
    })
    .await;
    let reissued = pair(&set_cookie(&moved).expect("a new cookie for the new endpoint"));
    assert_ne!(reissued, cookie);
    let new_owner = moved.echo_name().unwrap();
    for _ in 0..20 {
        let r = fetch(&s, "/", Some(&reissued)).await;
        assert_eq!(r.echo_name().unwrap(), new_owner);
        assert_eq!(set_cookie(&r), None);
    }
    s.shutdown().await.unwrap();
}

/// A balanced session whose endpoint leaves lands on another endpoint (its ring position now
/// belongs to a neighbour) and keeps landing there.
#[tokio::test]
async fn a_balanced_session_moves_only_when_its_endpoint_leaves() {
    let (s, m, echoes) = scene(&[("affinity", "cookie")], 3).await;
    let first = fetch(&s, "/", None).await;
    let owner = first.echo_name().unwrap();
    let cookie = pair(&set_cookie(&first).unwrap());
    let rest: Vec<SocketAddr> = echoes
        .iter()
        .filter(|e| e.name != owner)
        .map(|e| e.addr)
        .collect();
    m.write_list("app.json", &app(&rest));
    let moved = eventually("the session moves", || async {
        let r = fetch(&s, "/", Some(&cookie)).await;
        (r.echo_name().unwrap() != owner).then(|| r.echo_name().unwrap())
    })
    .await;
    for _ in 0..20 {
        assert_eq!(
            fetch(&s, "/", Some(&cookie)).await.echo_name().unwrap(),
            moved
        );
    }
    s.shutdown().await.unwrap();
}

/// affinity.go "should set the path to /something on the generated cookie", "should set
/// cookie with expires", "should set cookie with domain", "should not set cookie without
/// domain annotation", "should set secure in cookie with provided true annotation on http";
/// annotations.md "Session Affinity" for `session-cookie-samesite` and
/// `-conditional-samesite-none`.
#[tokio::test]
async fn cookie_attributes_follow_the_annotations() {
    let echoes = echoes(2).await;
    let addrs: Vec<SocketAddr> = echoes.iter().map(|e| e.addr).collect();
    let m = Manifests::new();
    let annotations = [
        ("affinity", "cookie"),
        ("session-cookie-name", "ExpiresCookie"),
        ("session-cookie-expires", "172800"),
        ("session-cookie-max-age", "259200"),
        ("session-cookie-domain", "foo.bar"),
        ("session-cookie-secure", "true"),
        ("session-cookie-samesite", "None"),
        ("session-cookie-conditional-samesite-none", "true"),
    ];
    m.write_list(
        "ingress.json",
        &[our_class(), ingress(&annotations, "/something")],
    );
    m.write_list("app.json", &app(&addrs));
    let s = start(m.path()).await;
    let r = get_with(
        s.http_addr,
        HOST,
        "/something/x",
        &[("user-agent", "Chrome/120")],
    )
    .await;
    let cookie = set_cookie(&r).unwrap();
    let expires = cookie.split("; Expires=").nth(1).unwrap();
    assert!(
        expires.ends_with("GMT") || expires.contains(" GMT;"),
        "{cookie}"
    );
    assert_eq!(&expires[3..5], ", ", "{cookie}");
    assert_eq!(&expires[7..8], "-", "nginx's cookie_time: {cookie}");
    for part in [
        "; Max-Age=259200",
        "; Domain=foo.bar",
        "; Path=/something",
        "; Secure",
        "; HttpOnly",
        "; SameSite=None",
    ] {
        assert!(cookie.contains(part), "{part} missing: {cookie}");
    }
    let old = get_with(
        s.http_addr,
        HOST,
        "/something",
        &[("user-agent", "Chrome/51.0")],
    )
    .await;
    assert!(
        !set_cookie(&old).unwrap().contains("SameSite"),
        "same_site.lua's list"
    );
    s.shutdown().await.unwrap();
    // Without the keys: no Domain, no Secure on plain HTTP, the rule's path.
    let (s, _m, _e) = scene(&[("affinity", "cookie")], 2).await;
    let cookie = set_cookie(&fetch(&s, "/", None).await).unwrap();
    assert!(
        !cookie.contains("; Domain") && !cookie.contains("; Secure"),
        "{cookie}"
    );
    s.shutdown().await.unwrap();
}

/// annotations.md "Session Affinity", `session-cookie-change-on-failure`: a session whose
/// endpoint fails is served by another; with the key the cookie follows it, without it the
/// cookie stays.
#[tokio::test]
async fn change_on_failure_moves_the_cookie_to_the_endpoint_that_served() {
    for change in [true, false] {
        let value = if change { "true" } else { "false" };
        let annotations = [
            ("affinity", "cookie"),
            ("affinity-mode", "persistent"),
            ("session-cookie-change-on-failure", value),
        ];
        let (s, _m, mut echoes) = scene(&annotations, 3).await;
        let first = fetch(&s, "/", None).await;
        let owner = first.echo_name().unwrap();
        let cookie = pair(&set_cookie(&first).unwrap());
        // The owner stops answering (its pod crashed); it is still listed.
        echoes.retain(|e| e.name != owner);
        let r = eventually("another endpoint serves the session", || async {
            let r = fetch(&s, "/", Some(&cookie)).await;
            (r.echo_name().unwrap() != owner).then_some(r)
        })
        .await;
        match set_cookie(&r) {
            Some(new) if change => {
                let new = pair(&new);
                assert_ne!(new, cookie);
                let served = r.echo_name().unwrap();
                let again = fetch(&s, "/", Some(&new)).await;
                assert_eq!(again.echo_name().unwrap(), served);
            }
            None if !change => {}
            other => panic!("change-on-failure {change}: Set-Cookie {other:?}"),
        }
        s.shutdown().await.unwrap();
    }
}

/// canary.go "should route traffic to canary if sticky session ..." cases (affinity with
/// `affinity-canary-behavior` unset, `sticky`, `legacy`): a session that began on either
/// backend stays there at canary-weight 50; `legacy` sets no cookie from the canary.
#[tokio::test]
async fn a_canary_session_stays_on_its_backend_unless_legacy() {
    for behavior in [None, Some("sticky"), Some("legacy")] {
        let (a, b) = strait_e2e::echoes_ab().await;
        let main = ingress(&[("affinity", "cookie")], "/");
        let mut canary = IngressB::new("default", "canary")
            .annotation(&format!("{NGINX}/canary"), "true")
            .annotation(&format!("{NGINX}/canary-weight"), "50")
            .rule(HOST, "/", "Prefix", "b", 80);
        if let Some(value) = behavior {
            canary = canary.annotation(&format!("{NGINX}/affinity-canary-behavior"), value);
        }
        let mut items = vec![our_class(), main, canary.build()];
        items.extend(app(&[a.addr]));
        items.extend(backend("default", "b", &[b.addr]));
        let m = Manifests::new();
        m.write_list("all.json", &items);
        let s = start(m.path()).await;
        let mut sessions: HashMap<String, Option<String>> = HashMap::new();
        for _ in 0..60 {
            let r = fetch(&s, "/", None).await;
            sessions
                .entry(r.echo_name().unwrap())
                .or_insert_with(|| set_cookie(&r).map(|c| pair(&c)));
            if sessions.len() == 2 {
                break;
            }
        }
        assert_eq!(
            sessions.len(),
            2,
            "{behavior:?}: both backends serve at weight 50"
        );
        assert!(sessions["a"].is_some(), "the main backend sets its cookie");
        let legacy = behavior == Some("legacy");
        assert_eq!(
            sessions["b"].is_none(),
            legacy,
            "{behavior:?}: {sessions:?}"
        );
        for (name, cookie) in &sessions {
            let Some(cookie) = cookie else { continue };
            for _ in 0..30 {
                let r = fetch(&s, "/", Some(cookie)).await;
                assert_eq!(&r.echo_name().unwrap(), name, "{behavior:?}");
            }
        }
        s.shutdown().await.unwrap();
    }
}

/// upstreamhashby.go "should connect to the same pod": `upstream-hash-by: $request_uri`
/// sends a URI to one endpoint every time, and different URIs to different endpoints.
#[tokio::test]
async fn a_request_uri_always_reaches_the_same_endpoint() {
    let (s, _m, _e) = scene(&[("upstream-hash-by", "$request_uri")], 4).await;
    let mut owners = HashSet::new();
    for uri in 0..20 {
        let path = format!("/item/{uri}");
        let owner = fetch(&s, &path, None).await.echo_name().unwrap();
        for _ in 0..5 {
            assert_eq!(fetch(&s, &path, None).await.echo_name().unwrap(), owner);
        }
        owners.insert(owner);
    }
    assert!(owners.len() >= 3, "keys spread: {owners:?}");
    s.shutdown().await.unwrap();
}

/// annotations.md "Custom NGINX upstream hashing" (consistent hashing): an endpoint that joins
/// takes at most about 1/N of the keys (N endpoints after it joined), all of them for itself.
#[tokio::test]
async fn an_added_endpoint_moves_at_most_its_share_of_keys() {
    let (s, m, mut echoes) = scene(&[("upstream-hash-by", "$request_uri")], 4).await;
    let keys = 200;
    let mut before = Vec::new();
    for k in 0..keys {
        before.push(
            fetch(&s, &format!("/k/{k}"), None)
                .await
                .echo_name()
                .unwrap(),
        );
    }
    let port = echoes[0].addr.port();
    echoes.push(Echo::start("e4", [127, 0, 1, 5], port).await);
    let addrs: Vec<SocketAddr> = echoes.iter().map(|e| e.addr).collect();
    m.write_list("app.json", &app(&addrs));
    eventually("the new endpoint takes keys", || async {
        for k in 0..keys {
            if fetch(&s, &format!("/k/{k}"), None)
                .await
                .echo_name()
                .unwrap()
                == "e4"
            {
                return Some(());
            }
        }
        None
    })
    .await;
    let mut moved = 0;
    for (k, old) in before.iter().enumerate() {
        let now = fetch(&s, &format!("/k/{k}"), None)
            .await
            .echo_name()
            .unwrap();
        if &now != old {
            assert_eq!(now, "e4", "key {k} moved between endpoints that stayed");
            moved += 1;
        }
    }
    // 1/5 of 200 is 40; the ring's variance at 160 points is about ±10 %.
    assert!((1..=48).contains(&moved), "{moved} of {keys} keys moved");
    s.shutdown().await.unwrap();
}

/// upstreamhashby.go "should connect to the same subset of pods": with
/// `upstream-hash-by-subset` (size 2 of 4), one URI is served by at most its subset.
#[tokio::test]
async fn a_subset_key_is_served_by_its_subset_only() {
    let annotations = [
        ("upstream-hash-by", "$request_uri"),
        ("upstream-hash-by-subset", "true"),
        ("upstream-hash-by-subset-size", "2"),
    ];
    let (s, _m, _e) = scene(&annotations, 4).await;
    let mut all = HashSet::new();
    for uri in 0..6 {
        let path = format!("/s/{uri}");
        let mut seen = HashSet::new();
        for _ in 0..30 {
            seen.insert(fetch(&s, &path, None).await.echo_name().unwrap());
        }
        assert_eq!(seen.len(), 2, "{path}: {seen:?}");
        all.extend(seen);
    }
    assert!(all.len() > 2, "subsets differ: {all:?}");
    s.shutdown().await.unwrap();
}

/// `upstream-hash-by: $remote_addr` (the value most used in practice): each client address
/// (distinct 127.x sources) keeps its endpoint.
#[tokio::test]
async fn each_client_address_keeps_its_endpoint() {
    let (s, _m, _e) = scene(&[("upstream-hash-by", "$remote_addr")], 4).await;
    let mut owners = HashSet::new();
    for client in 10..26u8 {
        let ip = std::net::IpAddr::from([127, 0, 2, client]);
        let mut seen = HashSet::new();
        for _ in 0..5 {
            let mut conn = strait_e2e::Conn::open_from(ip, s.http_addr).await.unwrap();
            let r = conn.get(HOST, "/", &[]).await.unwrap();
            seen.insert(r.echo_name().unwrap());
        }
        assert_eq!(seen.len(), 1, "client {ip}: {seen:?}");
        owners.extend(seen);
    }
    assert!(owners.len() >= 2, "clients spread: {owners:?}");
    s.shutdown().await.unwrap();
}
