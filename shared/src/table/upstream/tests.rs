//! The `backend-protocol` and `proxy-ssl-*` value parsers (ingress-nginx's
//! `internal/ingress/annotations/backendprotocol` and `proxyssl` parsers, annotations.md
//! "Backend Protocol" and "Backend Certificate Authentication").

use super::*;

#[test]
fn backend_protocols_are_case_insensitive_and_fcgi_is_refused() {
    assert_eq!(Protocol::parse("HTTPS"), Ok(Protocol::Https));
    assert_eq!(Protocol::parse("grpcs"), Ok(Protocol::Grpcs));
    assert_eq!(Protocol::parse(" GRPC "), Ok(Protocol::Grpc));
    assert_eq!(Protocol::parse("Auto_Http"), Ok(Protocol::AutoHttp));
    assert_eq!(Protocol::parse("h2c"), Ok(Protocol::H2c));
    assert_eq!(Protocol::parse("http"), Ok(Protocol::Http));
    assert_eq!(Protocol::parse("FCGI"), Err(ProtocolError::Fcgi));
    assert_eq!(Protocol::parse("AJP"), Err(ProtocolError::Unknown));
    assert_eq!(Protocol::parse(""), Err(ProtocolError::Unknown));
}

#[test]
fn tls_follows_the_protocol_and_auto_http_the_listener() {
    assert!(Protocol::Https.is_tls(false));
    assert!(Protocol::Grpcs.is_tls(false));
    assert!(!Protocol::Grpc.is_tls(true));
    assert!(Protocol::AutoHttp.is_tls(true));
    assert!(!Protocol::AutoHttp.is_tls(false));
    assert!(Protocol::Grpc.is_grpc() && Protocol::Grpcs.is_grpc() && !Protocol::H2c.is_grpc());
}

#[test]
fn app_protocols_gateway_api_and_contour_read() {
    assert_eq!(
        Protocol::of_app_protocol("kubernetes.io/h2c"),
        Some(Protocol::H2c)
    );
    assert_eq!(
        Protocol::of_app_protocol("kubernetes.io/ws"),
        Some(Protocol::Http)
    );
    assert_eq!(Protocol::of_app_protocol("https"), Some(Protocol::Https));
    assert_eq!(Protocol::of_app_protocol("HTTPS"), Some(Protocol::Https));
    assert_eq!(Protocol::of_app_protocol("example.com/custom"), None);
}

#[test]
fn ssl_protocols_take_only_tls12_and_tls13() {
    assert_eq!(
        TlsVersions::parse("TLSv1.2 TLSv1.3"),
        Some(TlsVersions::ALL)
    );
    assert_eq!(
        TlsVersions::parse("TLSv1.3"),
        Some(TlsVersions {
            tls12: false,
            tls13: true
        })
    );
    assert_eq!(
        TlsVersions::parse(" TLSv1.2 "),
        Some(TlsVersions::DEFAULT_WITH_SECRET)
    );
    assert_eq!(TlsVersions::parse("TLSv1.1 TLSv1.2"), None);
    assert_eq!(TlsVersions::parse(""), None);
    assert_eq!(TlsVersions::parse("tlsv1.2"), None);
}

#[test]
fn on_off_depth_and_name() {
    assert_eq!(parse_on_off("on"), Some(true));
    assert_eq!(parse_on_off("off"), Some(false));
    assert_eq!(parse_on_off("true"), None);
    assert_eq!(parse_verify_depth("2"), Some(2));
    assert_eq!(parse_verify_depth("0"), None);
    assert_eq!(parse_verify_depth("-1"), None);
    assert_eq!(
        parse_server_name("backend.internal").as_deref(),
        Some("backend.internal")
    );
    assert_eq!(parse_server_name("10.0.0.1").as_deref(), Some("10.0.0.1"));
    assert_eq!(parse_server_name("$host"), None);
    assert_eq!(parse_server_name("a b"), None);
    assert_eq!(parse_server_name(""), None);
}

/// Property: no input makes a parser panic, and what parses is consistent (a parsed name is
/// a valid server name; parsed versions offer at least one version).
#[test]
fn parsers_hold_on_any_input() {
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input: &[u8]| {
            let text = String::from_utf8_lossy(input);
            let _ = Protocol::parse(&text);
            let _ = Protocol::of_app_protocol(&text);
            let _ = parse_on_off(&text);
            let _ = parse_verify_depth(&text);
            if let Some(versions) = TlsVersions::parse(&text) {
                assert!(versions.tls12 || versions.tls13);
            }
            if let Some(name) = parse_server_name(&text) {
                assert!(rustls::pki_types::ServerName::try_from(&*name).is_ok());
            }
        });
}
