//! The SNI parser against real ClientHellos written by rustls, whole, cut short and
//! re-fragmented into several records (RFC 8446 §5.1), and against non-TLS input.

use std::sync::Arc;

use super::*;

/// The first flight of a rustls client naming `name` (a DNS name sends SNI; an IP address
/// does not, RFC 6066 §3).
pub(super) fn client_hello(name: &str) -> Vec<u8> {
    let config = rustls::ClientConfig::builder_with_provider(crate::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("write");
    }
    out
}

/// The same handshake message cut into records of at most `size` payload bytes.
pub(super) fn refragment(hello: &[u8], size: usize) -> Vec<u8> {
    let payload = &hello[RECORD_HEADER..];
    let mut out = Vec::new();
    for piece in payload.chunks(size.max(1)) {
        out.extend_from_slice(&[CONTENT_HANDSHAKE, 3, 1]);
        out.extend_from_slice(&u16::try_from(piece.len()).unwrap().to_be_bytes());
        out.extend_from_slice(piece);
    }
    out
}

fn name_of(peek: Peek<'_>) -> Option<String> {
    match peek {
        Peek::Hello { server_name } => server_name.map(Cow::into_owned),
        other => panic!("not a hello: {other:?}"),
    }
}

#[test]
fn the_server_name_of_a_whole_hello() {
    let hello = client_hello("pass.example.com");
    assert_eq!(name_of(peek(&hello)).as_deref(), Some("pass.example.com"));
    // Bytes after the hello (a client that does not wait) change nothing.
    let more = [&hello[..], b"\x17\x03\x03\x00\x01x"].concat();
    assert_eq!(name_of(peek(&more)).as_deref(), Some("pass.example.com"));
}

#[test]
fn a_hello_without_sni_has_no_name() {
    assert_eq!(name_of(peek(&client_hello("192.0.2.1"))), None);
}

#[test]
fn every_prefix_of_a_hello_is_incomplete() {
    let hello = client_hello("pass.example.com");
    for n in 0..hello.len() {
        assert_eq!(peek(&hello[..n]), Peek::Incomplete, "{n} bytes");
    }
}

/// RFC 8446 §5.1: "Handshake messages MAY be ... fragmented across several records".
#[test]
fn a_hello_across_records_is_joined() {
    let hello = client_hello("pass.example.com");
    for size in [4, 5, 17, 100, 300] {
        let split = refragment(&hello, size);
        assert_eq!(
            name_of(peek(&split)).as_deref(),
            Some("pass.example.com"),
            "{size}"
        );
        for n in 0..split.len() {
            assert_eq!(peek(&split[..n]), Peek::Incomplete, "{size}: {n} bytes");
        }
    }
}

#[test]
fn what_is_not_a_hello_goes_to_rustls() {
    assert_eq!(peek(b"GET / HTTP/1.1\r\n"), Peek::NotHello);
    assert_eq!(peek(b"\x16\x02"), Peek::NotHello, "not version 3");
    // A ServerHello (type 2), and a hello cut inside its handshake header.
    assert_eq!(
        peek(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"),
        Peek::NotHello
    );
    assert_eq!(peek(b"\x16\x03\x01\x00\x02\x01\x00"), Peek::NotHello);
    // A complete but malformed body.
    assert_eq!(
        peek(b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03"),
        Peek::NotHello
    );
    // An alert record in the middle of a fragmented hello.
    let hello = client_hello("pass.example.com");
    let split = refragment(&hello, 100);
    let mut broken = split[..105].to_vec();
    broken.extend_from_slice(b"\x15\x03\x03\x00\x02\x02\x28");
    assert_eq!(peek(&broken), Peek::NotHello);
}

#[test]
fn oversized_records_and_hellos_are_refused() {
    // A record longer than 2^14 bytes: refused from its header alone.
    assert_eq!(peek(b"\x16\x03\x01\x40\x01"), Peek::TooLarge);
    // A hello announcing more than MAX_HELLO_BYTES: refused from the first fragment.
    assert_eq!(
        peek(b"\x16\x03\x01\x40\x00\x01\x00\x40\x00"),
        Peek::TooLarge
    );
    // Just fits: still waiting.
    let fits = u32::try_from(MAX_HELLO_BYTES - RECORD_HEADER - HANDSHAKE_HEADER).unwrap();
    let len = fits.to_be_bytes();
    assert_eq!(
        peek(&[22, 3, 1, 0x40, 0, 1, len[1], len[2], len[3]]),
        Peek::Incomplete
    );
}
