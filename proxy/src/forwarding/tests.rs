use super::*;
use crate::config::Scheme;

const LISTENER: ListenerInfo = ListenerInfo {
    scheme: Scheme::Http,
    port: 8080,
};

fn nets(cidrs: &[&str]) -> Vec<IpNet> {
    cidrs.iter().map(|c| c.parse().unwrap()).collect()
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

/// Runs `apply` for `peer` with `trusted` nets; returns the client and the rewritten headers.
/// Every case also checks that [`client`] (headers untouched) finds the same client.
fn run(
    peer: &str,
    trusted: &[&str],
    incoming: &[(&'static str, &'static str)],
) -> (IpAddr, HeaderMap) {
    let mut map = headers(incoming);
    let trusted = nets(trusted);
    let host = HeaderValue::from_static("app.test:8080");
    let fwd = Forwarding {
        peer: peer.parse().unwrap(),
        trusted: &trusted,
        listener: LISTENER,
        host: &host,
        values: None,
    };
    let read_only = client(&map, fwd.peer, &trusted);
    // The connection's prebuilt values give the same headers as values made per request.
    let mut with_values = map.clone();
    let values = ConnValues::new(fwd.peer, LISTENER);
    let prebuilt = Forwarding {
        values: Some(&values),
        ..fwd
    };
    let client = apply(&mut map, &fwd, || HeaderValue::from_static("generated"));
    assert_eq!(read_only, client, "client() and apply() agree");
    apply(&mut with_values, &prebuilt, || {
        HeaderValue::from_static("generated")
    });
    assert_eq!(
        with_values, map,
        "prebuilt connection values change nothing"
    );
    (client, map)
}

fn all(map: &HeaderMap, name: &str) -> Vec<String> {
    map.get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn untrusted_peer_without_xff_is_the_client() {
    let (client, map) = run("192.0.2.10", &[], &[]);
    assert_eq!(client.to_string(), "192.0.2.10");
    assert_eq!(all(&map, "x-forwarded-for"), ["192.0.2.10"]);
    assert_eq!(all(&map, "x-forwarded-proto"), ["http"]);
    assert_eq!(all(&map, "x-forwarded-host"), ["app.test:8080"]);
    assert_eq!(all(&map, "x-forwarded-port"), ["8080"]);
    assert_eq!(all(&map, "x-real-ip"), ["192.0.2.10"]);
    assert_eq!(all(&map, "x-request-id"), ["generated"]);
}

#[test]
fn untrusted_peer_cannot_spoof_any_forwarding_header() {
    let (client, map) = run(
        "192.0.2.10",
        &["10.0.0.0/8"],
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.test"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-prefix", "/admin"),
            ("x-real-ip", "203.0.113.7"),
            ("forwarded", "for=203.0.113.7"),
            ("x-forwarded-scheme", "https"),
            ("x-scheme", "https"),
            ("x-original-forwarded-for", "203.0.113.8"),
            ("x-original-forwarded-host", "evil.test"),
        ],
    );
    assert_eq!(client.to_string(), "192.0.2.10");
    assert_eq!(all(&map, "x-forwarded-for"), ["192.0.2.10"]);
    assert_eq!(all(&map, "x-forwarded-proto"), ["http"]);
    assert_eq!(all(&map, "x-forwarded-scheme"), ["http"]);
    assert_eq!(all(&map, "x-scheme"), ["http"]);
    assert_eq!(all(&map, "x-forwarded-host"), ["app.test:8080"]);
    assert_eq!(all(&map, "x-forwarded-port"), ["8080"]);
    assert!(all(&map, "x-forwarded-prefix").is_empty());
    assert!(all(&map, "x-original-forwarded-for").is_empty());
    assert!(all(&map, "x-original-forwarded-host").is_empty());
    assert!(all(&map, "forwarded").is_empty());
    assert_eq!(all(&map, "x-real-ip"), ["192.0.2.10"]);
}

/// The template's `map $http_x_request_id $req_id`: a client's own request id goes upstream
/// whoever the peer is (its first one when it sent several); an empty one is replaced.
#[test]
fn a_clients_request_id_passes_through() {
    for trusted in [&[][..], &["192.0.2.0/24"][..]] {
        let (_, map) = run("192.0.2.10", trusted, &[("x-request-id", "client-id")]);
        assert_eq!(all(&map, "x-request-id"), ["client-id"]);
        let several = [("x-request-id", "first"), ("x-request-id", "second")];
        let (_, map) = run("192.0.2.10", trusted, &several);
        assert_eq!(all(&map, "x-request-id"), ["first"]);
        let (_, map) = run("192.0.2.10", trusted, &[("x-request-id", " ")]);
        assert_eq!(all(&map, "x-request-id"), ["generated"]);
    }
}

/// The template: `Proxy ""` (httpoxy) and `X-Forwarded-Scheme`/`X-Scheme` set to
/// `$pass_access_scheme` — the forwarded proto a trusted peer sent, else the listener's.
#[test]
fn proxy_header_is_dropped_and_scheme_headers_follow_the_proto() {
    let (_, map) = run("192.0.2.10", &[], &[("proxy", "http://evil.test:3128")]);
    assert!(all(&map, "proxy").is_empty());
    let (_, map) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[
            ("x-forwarded-proto", "https"),
            ("proxy", "http://evil.test:3128"),
        ],
    );
    assert!(all(&map, "proxy").is_empty(), "a trusted peer's too");
    assert_eq!(all(&map, "x-forwarded-scheme"), ["https"]);
    assert_eq!(all(&map, "x-scheme"), ["https"]);
}

#[test]
fn trusted_peer_without_xff_is_the_client_and_gets_defaults() {
    let (client, map) = run("10.0.0.1", &["10.0.0.0/8"], &[]);
    assert_eq!(client.to_string(), "10.0.0.1");
    assert_eq!(all(&map, "x-forwarded-for"), ["10.0.0.1"]);
    assert_eq!(all(&map, "x-forwarded-proto"), ["http"]);
    assert_eq!(all(&map, "x-forwarded-host"), ["app.test:8080"]);
    assert_eq!(all(&map, "x-forwarded-port"), ["8080"]);
    assert_eq!(all(&map, "x-real-ip"), ["10.0.0.1"]);
    assert_eq!(all(&map, "x-request-id"), ["generated"]);
}

#[test]
fn trusted_peer_keeps_its_chain_and_headers_and_appends_itself() {
    let (client, map) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "public.test"),
            ("x-forwarded-port", "443"),
            ("x-real-ip", "198.51.100.99"),
            ("x-request-id", "abc123"),
        ],
    );
    assert_eq!(client.to_string(), "203.0.113.7");
    assert_eq!(all(&map, "x-forwarded-for"), ["203.0.113.7, 10.0.0.1"]);
    assert_eq!(all(&map, "x-forwarded-proto"), ["https"]);
    assert_eq!(all(&map, "x-forwarded-host"), ["public.test"]);
    assert_eq!(all(&map, "x-forwarded-port"), ["443"]);
    assert_eq!(all(&map, "x-real-ip"), ["203.0.113.7"]);
    assert_eq!(all(&map, "x-request-id"), ["abc123"]);
    // The template's `X-Original-Forwarded-For`/`-Host`: what the trusted peer sent.
    assert_eq!(all(&map, "x-original-forwarded-for"), ["203.0.113.7"]);
    assert_eq!(all(&map, "x-original-forwarded-host"), ["public.test"]);
}

#[test]
fn several_trusted_hops_are_skipped_to_the_rightmost_untrusted_address() {
    let (client, map) = run(
        "10.0.0.1",
        &["10.0.0.0/8", "172.16.0.0/12"],
        &[
            ("x-forwarded-for", "198.51.100.1, 203.0.113.7"),
            ("x-forwarded-for", "172.16.5.5,10.0.0.2"),
        ],
    );
    assert_eq!(
        client.to_string(),
        "203.0.113.7",
        "198.51.100.1 was set by the client"
    );
    assert_eq!(
        all(&map, "x-forwarded-for"),
        ["198.51.100.1, 203.0.113.7, 172.16.5.5,10.0.0.2, 10.0.0.1"]
    );
}

#[test]
fn a_chain_of_only_trusted_hops_yields_the_leftmost() {
    let (client, _) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[("x-forwarded-for", "10.0.0.3, 10.0.0.2")],
    );
    assert_eq!(client.to_string(), "10.0.0.3");
}

#[test]
fn garbage_entries_stop_the_walk_at_the_last_trusted_hop() {
    let (client, map) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[("x-forwarded-for", "203.0.113.7, unknown, 10.0.0.2")],
    );
    assert_eq!(client.to_string(), "10.0.0.2");
    assert_eq!(
        all(&map, "x-forwarded-for"),
        ["203.0.113.7, unknown, 10.0.0.2, 10.0.0.1"],
        "the chain is kept as received"
    );

    let (client, _) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[("x-forwarded-for", "203.0.113.7, <script>")],
    );
    assert_eq!(client.to_string(), "10.0.0.1");
}

#[test]
fn empty_entries_are_ignored() {
    let (client, map) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[
            ("x-forwarded-for", ""),
            ("x-forwarded-for", "203.0.113.7, ,"),
        ],
    );
    assert_eq!(client.to_string(), "203.0.113.7");
    assert_eq!(all(&map, "x-forwarded-for"), ["203.0.113.7, ,, 10.0.0.1"]);
}

#[test]
fn entries_with_ports_and_brackets_parse() {
    let (client, _) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[("x-forwarded-for", "[2001:db8::1]:4711")],
    );
    assert_eq!(client.to_string(), "2001:db8::1");
    let (client, _) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[("x-forwarded-for", "[2001:db8::2]")],
    );
    assert_eq!(client.to_string(), "2001:db8::2");
    let (client, _) = run(
        "10.0.0.1",
        &["10.0.0.0/8"],
        &[("x-forwarded-for", "192.0.2.1:80")],
    );
    assert_eq!(client.to_string(), "192.0.2.1");
}

#[test]
fn ipv4_mapped_peers_match_ipv4_trusted_ranges() {
    let (client, map) = run(
        "::ffff:10.0.0.1",
        &["10.0.0.0/8"],
        &[("x-forwarded-for", "203.0.113.7")],
    );
    assert_eq!(client.to_string(), "203.0.113.7");
    assert_eq!(all(&map, "x-forwarded-for"), ["203.0.113.7, 10.0.0.1"]);
}

#[test]
fn ipv6_peers_are_written_plainly() {
    let (client, map) = run("2001:db8::5", &[], &[]);
    assert_eq!(client.to_string(), "2001:db8::5");
    assert_eq!(all(&map, "x-real-ip"), ["2001:db8::5"]);
    assert_eq!(
        ip_value(
            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
                .parse()
                .unwrap()
        ),
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
}

#[test]
fn a_request_without_host_gets_no_forwarded_host() {
    let mut map = HeaderMap::new();
    let host = HeaderValue::from_static("");
    let fwd = Forwarding {
        peer: "192.0.2.10".parse().unwrap(),
        trusted: &[],
        listener: LISTENER,
        host: &host,
        values: None,
    };
    apply(&mut map, &fwd, || HeaderValue::from_static("id"));
    assert!(!map.contains_key("x-forwarded-host"));
}

/// The hand-written IPv4 formatter agrees with `Display` on every octet value, in every place.
#[test]
fn ipv4_values_match_the_standard_text() {
    for octet in 0..=255u8 {
        for ip in [
            [octet, 0, 0, 0],
            [1, octet, 10, 100],
            [255, 99, octet, 9],
            [0, 0, 0, octet],
        ] {
            let ip = IpAddr::from(ip);
            assert_eq!(ip_value(ip), ip.to_string().as_str(), "{ip}");
        }
    }
}
