use super::*;
use http::HeaderMap;

fn vars(value: &str) -> Vec<Part> {
    HashBy::parse(value).unwrap().parts.into_vec()
}

/// annotations.md, "Custom NGINX upstream hashing", and the upstreamhashby parser's
/// documentation: `$request_uri`, `$request_uri$host`, `${request_uri}-text-value`.
#[test]
fn documented_values_parse() {
    assert_eq!(vars("$request_uri"), [Part::Var(Var::RequestUri)]);
    assert_eq!(
        vars("$request_uri$host"),
        [Part::Var(Var::RequestUri), Part::Var(Var::Host)]
    );
    assert_eq!(
        vars("${request_uri}-text-value"),
        [
            Part::Var(Var::RequestUri),
            Part::Literal("-text-value".into())
        ]
    );
}

/// ingress-nginx's e2e `upstreamhashby.go` hashes by `$request_uri`; the values seen in
/// practice add client addresses, headers, cookies and query arguments.
#[test]
fn variables_seen_in_practice_parse() {
    assert_eq!(vars("$remote_addr"), [Part::Var(Var::RemoteAddr)]);
    assert_eq!(
        vars("$binary_remote_addr"),
        [Part::Var(Var::BinaryRemoteAddr)]
    );
    assert_eq!(
        vars("$http_x_user_ID"),
        [Part::Var(Var::Header(http::HeaderName::from_static(
            "x-user-id"
        )))]
    );
    assert_eq!(
        vars("$cookie_session"),
        [Part::Var(Var::Cookie("session".into()))]
    );
    assert_eq!(vars("$arg_user"), [Part::Var(Var::Arg("user".into()))]);
    assert_eq!(
        vars("user-$arg_id-x"),
        [
            Part::Literal("user-".into()),
            Part::Var(Var::Arg("id".into())),
            Part::Literal("-x".into())
        ]
    );
}

#[test]
fn invalid_values_are_refused() {
    assert_eq!(HashBy::parse(""), Err(HashByError::Empty));
    assert_eq!(HashBy::parse("$uri.x"), Err(HashByError::Character('.')));
    assert_eq!(HashBy::parse("${host"), Err(HashByError::Syntax));
    assert_eq!(HashBy::parse("a$"), Err(HashByError::Syntax));
    assert_eq!(HashBy::parse("${}"), Err(HashByError::Syntax));
    assert_eq!(
        HashBy::parse("$server_addr"),
        Err(HashByError::Unknown("server_addr".into()))
    );
    assert_eq!(
        HashBy::parse("$http_"),
        Err(HashByError::Unknown("http_".into()))
    );
    assert!(
        HashBy::parse("$server_addr")
            .unwrap_err()
            .to_string()
            .contains("server_addr")
    );
}

#[test]
fn subset_sizes_are_positive() {
    assert_eq!(parse_subset_size(" 3 "), Some(3));
    assert_eq!(parse_subset_size("0"), None);
    assert_eq!(parse_subset_size("-2"), None);
    assert_eq!(parse_subset_size("x"), None);
}

#[test]
fn any_value_parses_without_panic() {
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input: &[u8]| {
            if let Ok(by) = HashBy::parse(&String::from_utf8_lossy(input)) {
                assert!(!by.parts.is_empty());
            }
        });
}

fn request<'r>(uri: &'r Uri, headers: &'r HeaderMap, host: &'r str) -> KeyRequest<'r> {
    KeyRequest {
        uri,
        headers,
        host,
        client: IpAddr::from([192, 0, 2, 7]),
        https: false,
    }
}

fn hash_of(value: &str, uri: &str, headers: &[(&'static str, &'static str)], host: &str) -> u64 {
    let uri: Uri = uri.parse().unwrap();
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(*k, http::HeaderValue::from_static(v));
    }
    HashBy::parse(value)
        .unwrap()
        .hash(&request(&uri, &map, host))
}

/// The value hashed is the concatenation of the evaluated pieces, as nginx's complex value.
#[test]
fn the_hash_is_of_the_evaluated_concatenation() {
    let plain = xxhash_rust::xxh3::xxh3_64;
    assert_eq!(
        hash_of("$request_uri", "/a?b=1", &[], "h"),
        plain(b"/a?b=1")
    );
    assert_eq!(hash_of("$uri", "/a?b=1", &[], "h"), plain(b"/a"));
    assert_eq!(
        hash_of("${host}-x", "/", &[], "Shop.Example:8080"),
        plain(b"shop.example-x")
    );
    assert_eq!(hash_of("$remote_addr", "/", &[], "h"), plain(b"192.0.2.7"));
    assert_eq!(
        hash_of("$binary_remote_addr", "/", &[], "h"),
        plain(&[192, 0, 2, 7])
    );
    assert_eq!(hash_of("$scheme", "/", &[], "h"), plain(b"http"));
    let headers = [("x-user", "ann"), ("cookie", "a=1; sid=s42")];
    assert_eq!(hash_of("$http_x_user", "/", &headers, "h"), plain(b"ann"));
    assert_eq!(hash_of("$cookie_sid", "/", &headers, "h"), plain(b"s42"));
    assert_eq!(hash_of("$arg_ID", "/p?x=1&id=9", &[], "h"), plain(b"9"));
    // A missing value adds nothing.
    assert_eq!(hash_of("a$http_nope", "/", &[], "h"), plain(b"a"));
    assert_ne!(
        hash_of("$request_uri", "/a", &[], "h"),
        hash_of("$request_uri", "/b", &[], "h")
    );
}
