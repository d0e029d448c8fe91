use super::*;

const TRUSTED: &str = "10.0.0.0/8";

/// The 308 redirect of a route that preserves the trailing slash (what the cases below check
/// besides the slash rule).
fn response(host: &str, port: u16, uri: &Uri) -> Response<ResponseBody> {
    let style = HttpsRedirectStyle {
        preserve_trailing_slash: true,
        port_in_redirect: false,
    };
    styled(host, port, style, uri)
}

fn styled(host: &str, port: u16, style: HttpsRedirectStyle, uri: &Uri) -> Response<ResponseBody> {
    let https = Https {
        port,
        code: StatusCode::PERMANENT_REDIRECT,
        style,
    };
    super::response(host, &https, uri)
}

/// forcesslredirect.go "should redirect to https" (`/` → `https://host`, no slash) and
/// preservetrailingslash.go "should allow preservation of trailing slashes"; lua_ingress.lua
/// drops one trailing `/` of the whole `$request_uri`, so a query keeps it.
#[test]
fn the_trailing_slash_is_dropped_unless_preserved() {
    let drop = HttpsRedirectStyle::default();
    let cases = [
        ("/", "https://host.test"),
        ("/dir/", "https://host.test/dir"),
        ("/dir", "https://host.test/dir"),
        ("/dir/?a=1", "https://host.test/dir/?a=1"),
        ("/dir//", "https://host.test/dir/"),
    ];
    for (target, expected) in cases {
        let r = styled("host.test", 443, drop, &uri(target));
        assert_eq!(location(&r), expected, "{target}");
    }
    let keep = HttpsRedirectStyle {
        preserve_trailing_slash: true,
        ..drop
    };
    let r = styled("host.test", 443, keep, &uri("/"));
    assert_eq!(location(&r), "https://host.test/");
}

/// annotations.md "use-port-in-redirects": the port is named even when it is 443.
#[test]
fn use_port_in_redirects_names_443() {
    let style = HttpsRedirectStyle {
        preserve_trailing_slash: true,
        port_in_redirect: true,
    };
    let r = styled("host.test:80", 443, style, &uri("/a"));
    assert_eq!(location(&r), "https://host.test:443/a");
}

/// redirect.go "should respond with a standard redirect code" / "custom redirect code".
#[test]
fn a_route_redirect_sends_its_code_and_location_as_given() {
    let target = Redirect::new("http://redirect.example.com".into(), 308, false);
    let r = to(&target, Scheme::Http, "host.test");
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&r), "http://redirect.example.com");
}

#[test]
fn plain_http_from_an_untrusted_peer_is_redirected() {
    assert!(needs(Scheme::Http, "192.0.2.10", &[], "/app"));
}

#[test]
fn https_requests_are_not_redirected() {
    assert!(!needs(Scheme::Https, "192.0.2.10", &[], "/app"));
}

#[test]
fn acme_challenges_stay_on_plain_http() {
    let token = "/.well-known/acme-challenge/abc123";
    assert!(!needs(Scheme::Http, "192.0.2.10", &[], token));
    let other = "/.well-known/security.txt";
    assert!(needs(Scheme::Http, "192.0.2.10", &[], other));
    let lookalike = "/app/.well-known/acme-challenge/abc123";
    assert!(needs(Scheme::Http, "192.0.2.10", &[], lookalike));
}

#[test]
fn forwarded_https_from_a_trusted_peer_is_not_redirected() {
    let https = [("x-forwarded-proto", "https")];
    assert!(!needs(Scheme::Http, "10.1.2.3", &https, "/"));
    let upper = [("x-forwarded-proto", "HTTPS")];
    assert!(!needs(Scheme::Http, "10.1.2.3", &upper, "/"));
}

#[test]
fn forwarded_https_from_an_untrusted_peer_is_redirected() {
    let https = [("x-forwarded-proto", "https")];
    assert!(needs(Scheme::Http, "192.0.2.10", &https, "/"));
}

#[test]
fn trusted_peer_without_forwarded_https_is_redirected() {
    assert!(needs(Scheme::Http, "10.1.2.3", &[], "/"));
    let http = [("x-forwarded-proto", "http")];
    assert!(needs(Scheme::Http, "10.1.2.3", &http, "/"));
}

#[test]
fn trusted_ipv4_mapped_ipv6_peer_is_believed() {
    let https = [("x-forwarded-proto", "https")];
    assert!(!needs(Scheme::Http, "::ffff:10.1.2.3", &https, "/"));
}

#[test]
fn comma_separated_forwarded_proto_takes_the_first() {
    let first_https = [("x-forwarded-proto", "https, http")];
    assert!(!needs(Scheme::Http, "10.1.2.3", &first_https, "/"));
    let first_http = [("x-forwarded-proto", "http,https")];
    assert!(needs(Scheme::Http, "10.1.2.3", &first_http, "/"));
}

#[test]
fn location_leaves_out_port_443() {
    let r = response("example.com", 443, &uri("/app"));
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&r), "https://example.com/app");
}

#[test]
fn location_keeps_any_other_port() {
    let r = response("example.com", 8443, &uri("/app"));
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&r), "https://example.com:8443/app");
}

#[test]
fn location_strips_the_request_host_port() {
    let r = response("example.com:8080", 443, &uri("/app"));
    assert_eq!(location(&r), "https://example.com/app");
    let r = response("example.com:80", 8443, &uri("/app"));
    assert_eq!(location(&r), "https://example.com:8443/app");
}

#[test]
fn location_lower_cases_the_host() {
    let r = response("Example.COM:8080", 443, &uri("/App"));
    assert_eq!(location(&r), "https://example.com/App", "path case kept");
}

#[test]
fn location_keeps_the_query() {
    let r = response("example.com", 443, &uri("/search?q=a%20b&page=2"));
    assert_eq!(location(&r), "https://example.com/search?q=a%20b&page=2");
}

#[test]
fn location_keeps_ipv6_brackets() {
    let r = response("[::1]:8080", 8443, &uri("/x"));
    assert_eq!(location(&r), "https://[::1]:8443/x");
    let r = response("[2001:db8::1]", 443, &uri("/x"));
    assert_eq!(location(&r), "https://[2001:db8::1]/x");
}

#[test]
fn location_of_an_absent_path_is_the_root() {
    let r = response("example.com", 443, &uri("http://example.com"));
    assert_eq!(location(&r), "https://example.com/");
    let r = response("example.com", 443, &uri("example.com:80"));
    assert_eq!(location(&r), "https://example.com/", "authority-form");
}

#[test]
fn location_of_an_asterisk_target_is_the_root() {
    let r = response("example.com", 443, &uri("*"));
    assert_eq!(location(&r), "https://example.com/");
}

#[test]
fn location_of_an_absolute_form_target_is_its_path() {
    let r = response("example.com", 443, &uri("http://example.com/a?b=c"));
    assert_eq!(location(&r), "https://example.com/a?b=c");
}

/// `needed` for a request on a listener of `scheme` from `peer`, with `10.0.0.0/8` trusted.
fn needs(scheme: Scheme, peer: &str, headers: &[(&'static str, &'static str)], path: &str) -> bool {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_static(value));
    }
    let trusted: [IpNet; 1] = [TRUSTED.parse().unwrap()];
    needed(&Check {
        scheme,
        peer: peer.parse().unwrap(),
        trusted: &trusted,
        headers: &map,
        path,
    })
}

fn uri(target: &'static str) -> Uri {
    Uri::from_static(target)
}

fn location(response: &Response<ResponseBody>) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}
