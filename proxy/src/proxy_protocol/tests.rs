use super::*;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

/// Long enough for any header read that does not wait on the peer; a read that does wait
/// never finishes, as the writer stays open.
const PROMPTLY: Duration = Duration::from_secs(2);

const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

/// The start of a TLS 1.2/1.3 ClientHello: handshake record, version 3.1, length, then the
/// handshake header (type 1, ClientHello).
const CLIENT_HELLO_START: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03];

/// A v2 header built by hand (not with `ppp`'s builder, so the parser is checked against the
/// spec rather than against itself): signature, version 2 + `command`, `family_protocol`,
/// big-endian length, `body`.
fn v2_header(command: u8, family_protocol: u8, body: &[u8]) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.push(0x20 | command);
    header.push(family_protocol);
    let len = u16::try_from(body.len()).expect("test body fits a v2 length");
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(body);
    header
}

const V2_LOCAL: u8 = 0x0;
const V2_PROXY: u8 = 0x1;
const V2_TCP4: u8 = 0x11;
const V2_TCP6: u8 = 0x21;
const V2_UNIX_STREAM: u8 = 0x31;
const V2_UNSPEC: u8 = 0x00;

/// Two TLVs as load balancers send them: ALPN `h2` and an AWS-style VPC endpoint id (0xEA).
fn tlvs() -> Vec<u8> {
    let mut tlvs = vec![0x01, 0x00, 0x02];
    tlvs.extend_from_slice(b"h2");
    tlvs.extend_from_slice(&[0xEA, 0x00, 0x09, 0x01]);
    tlvs.extend_from_slice(b"vpce-abc");
    tlvs
}

fn v4_body(src: [u8; 4], dst: [u8; 4], src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&src);
    body.extend_from_slice(&dst);
    body.extend_from_slice(&src_port.to_be_bytes());
    body.extend_from_slice(&dst_port.to_be_bytes());
    body
}

fn v6_body(src: Ipv6Addr, dst: Ipv6Addr, src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&src.octets());
    body.extend_from_slice(&dst.octets());
    body.extend_from_slice(&src_port.to_be_bytes());
    body.extend_from_slice(&dst_port.to_be_bytes());
    body
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

async fn read_to_end<T: AsyncRead + Unpin>(mut io: Rewind<T>) -> Vec<u8> {
    let mut out = Vec::new();
    io.read_to_end(&mut out).await.expect("read the rest");
    out
}

/// Reads a header from `input` all at once, expecting success; returns the source and what
/// the stream yields after the header.
async fn parse_all(input: &[u8]) -> (Option<SocketAddr>, Vec<u8>) {
    let (source, io) = read_header(input).await.expect("a valid header");
    (source, read_to_end(io).await)
}

/// Writes `bytes` to a duplex whose writer is kept open, and reads a header from the other
/// end within [`PROMPTLY`]: the result must not depend on bytes that never come.
async fn read_header_open(bytes: &[u8]) -> Result<Option<SocketAddr>, HeaderError> {
    let (mut client, server) = duplex(MAX_HEADER_BYTES * 2);
    client.write_all(bytes).await.expect("write to duplex");
    let result = tokio::time::timeout(PROMPTLY, read_header(server))
        .await
        .expect("read_header returned without waiting for more bytes");
    drop(client);
    result.map(|(source, _)| source)
}

#[tokio::test]
async fn v1_tcp4_keeps_the_request_sent_with_it() {
    let input = concat(&[
        b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n",
        HTTP_REQUEST,
    ]);
    let (source, rest) = parse_all(&input).await;
    assert_eq!(
        source,
        Some(SocketAddr::from((Ipv4Addr::new(203, 0, 113, 7), 51234)))
    );
    assert_eq!(rest, HTTP_REQUEST);
}

#[tokio::test]
async fn v1_tcp6() {
    let input = concat(&[
        b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n",
        HTTP_REQUEST,
    ]);
    let (source, rest) = parse_all(&input).await;
    let ip: Ipv6Addr = "2001:db8::1".parse().expect("test address");
    assert_eq!(source, Some(SocketAddr::from((ip, 4000))));
    assert_eq!(rest, HTTP_REQUEST);
}

#[tokio::test]
async fn v1_unknown_has_no_source() {
    let input = concat(&[b"PROXY UNKNOWN\r\n", HTTP_REQUEST]);
    assert_eq!(parse_all(&input).await, (None, HTTP_REQUEST.to_vec()));

    // UNKNOWN may carry addresses, which must be ignored.
    let input = concat(&[b"PROXY UNKNOWN 192.0.2.1 192.0.2.2 1 2\r\n", HTTP_REQUEST]);
    assert_eq!(parse_all(&input).await, (None, HTTP_REQUEST.to_vec()));

    // The longest v1 header the spec allows, exactly 107 bytes.
    let longest = concat(&[
        b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ",
        b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    ]);
    assert_eq!(longest.len(), 107);
    let input = concat(&[&longest, HTTP_REQUEST]);
    assert_eq!(parse_all(&input).await, (None, HTTP_REQUEST.to_vec()));
}

#[tokio::test]
async fn v1_header_alone_leaves_nothing_to_replay() {
    let (source, io) = read_header(&b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n"[..])
        .await
        .expect("a valid header");
    assert_eq!(source, Some(SocketAddr::from(([192, 0, 2, 1], 1000))));
    assert!(io.prefix.is_empty());
}

#[tokio::test]
async fn v2_proxy_ipv4_with_tlvs() {
    let body = concat(&[
        &v4_body([198, 51, 100, 9], [10, 1, 2, 3], 40000, 443),
        &tlvs(),
    ]);
    let input = concat(&[&v2_header(V2_PROXY, V2_TCP4, &body), CLIENT_HELLO_START]);
    let (source, rest) = parse_all(&input).await;
    assert_eq!(source, Some(SocketAddr::from(([198, 51, 100, 9], 40000))));
    assert_eq!(rest, CLIENT_HELLO_START);
}

#[tokio::test]
async fn v2_proxy_ipv6_with_tlvs() {
    let src: Ipv6Addr = "2001:db8:1::42".parse().expect("test address");
    let dst: Ipv6Addr = "fd00::1".parse().expect("test address");
    let body = concat(&[&v6_body(src, dst, 12345, 443), &tlvs()]);
    let input = concat(&[&v2_header(V2_PROXY, V2_TCP6, &body), CLIENT_HELLO_START]);
    let (source, rest) = parse_all(&input).await;
    assert_eq!(source, Some(SocketAddr::from((src, 12345))));
    assert_eq!(rest, CLIENT_HELLO_START);
}

#[tokio::test]
async fn v2_local_has_no_source() {
    // A health check: LOCAL, usually with no addresses at all...
    let input = concat(&[&v2_header(V2_LOCAL, V2_UNSPEC, &[]), HTTP_REQUEST]);
    assert_eq!(parse_all(&input).await, (None, HTTP_REQUEST.to_vec()));

    // ...but addresses with LOCAL are the balancer's own and must be ignored too.
    let body = v4_body([198, 51, 100, 9], [10, 1, 2, 3], 40000, 443);
    let input = concat(&[&v2_header(V2_LOCAL, V2_TCP4, &body), HTTP_REQUEST]);
    assert_eq!(parse_all(&input).await, (None, HTTP_REQUEST.to_vec()));
}

#[tokio::test]
async fn v2_unix_and_unspecified_have_no_source() {
    let input = concat(&[
        &v2_header(V2_PROXY, V2_UNIX_STREAM, &[0; 216]),
        HTTP_REQUEST,
    ]);
    assert_eq!(parse_all(&input).await, (None, HTTP_REQUEST.to_vec()));

    let input = concat(&[&v2_header(V2_PROXY, V2_UNSPEC, &tlvs()), HTTP_REQUEST]);
    assert_eq!(parse_all(&input).await, (None, HTTP_REQUEST.to_vec()));
}

/// Writes `bytes` one at a time, yielding between writes so that the reader sees each one on
/// its own, then closes.
async fn trickle(mut client: DuplexStream, bytes: Vec<u8>) {
    for byte in bytes {
        client.write_all(&[byte]).await.expect("write to duplex");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn v1_header_split_into_single_bytes() {
    let (client, server) = duplex(64);
    let input = concat(&[
        b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n",
        HTTP_REQUEST,
    ]);
    let writer = tokio::spawn(trickle(client, input));
    let (source, io) = read_header(server).await.expect("a valid header");
    assert_eq!(source, Some(SocketAddr::from(([203, 0, 113, 7], 51234))));
    assert_eq!(read_to_end(io).await, HTTP_REQUEST);
    writer.await.expect("writer task");
}

#[tokio::test]
async fn v2_header_split_into_single_bytes() {
    let (client, server) = duplex(64);
    let body = concat(&[
        &v4_body([198, 51, 100, 9], [10, 1, 2, 3], 40000, 443),
        &tlvs(),
    ]);
    let input = concat(&[&v2_header(V2_PROXY, V2_TCP4, &body), CLIENT_HELLO_START]);
    let writer = tokio::spawn(trickle(client, input));
    let (source, io) = read_header(server).await.expect("a valid header");
    assert_eq!(source, Some(SocketAddr::from(([198, 51, 100, 9], 40000))));
    assert_eq!(read_to_end(io).await, CLIENT_HELLO_START);
    writer.await.expect("writer task");
}

/// The same, without I/O: every proper beginning of a valid header asks for more, never for a
/// verdict (a premature `Invalid` here would break headers split across segments).
#[test]
fn every_beginning_of_a_header_is_incomplete() {
    let body = concat(&[
        &v4_body([198, 51, 100, 9], [10, 1, 2, 3], 40000, 443),
        &tlvs(),
    ]);
    let src: Ipv6Addr = "2001:db8:1::42".parse().expect("test address");
    let headers = [
        b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2_header(V2_PROXY, V2_TCP4, &body),
        v2_header(V2_PROXY, V2_TCP6, &v6_body(src, src, 1, 2)),
        v2_header(V2_LOCAL, V2_UNSPEC, &[]),
    ];
    for header in headers {
        for end in 1..header.len() {
            assert_eq!(
                parse(&header[..end]).expect("a beginning of a valid header"),
                Parsed::Incomplete,
                "{:?}",
                String::from_utf8_lossy(&header[..end]),
            );
        }
        assert!(
            matches!(parse(&header), Ok(Parsed::Complete { len, .. }) if len == header.len()),
            "{:?}",
            String::from_utf8_lossy(&header),
        );
    }
}

#[tokio::test]
async fn plain_http_is_missing_at_once() {
    let result = read_header_open(HTTP_REQUEST).await;
    assert!(matches!(result, Err(HeaderError::Missing)), "{result:?}");

    // One byte is enough to tell.
    let result = read_header_open(b"G").await;
    assert!(matches!(result, Err(HeaderError::Missing)), "{result:?}");
}

#[tokio::test]
async fn tls_client_hello_is_missing_at_once() {
    let result = read_header_open(CLIENT_HELLO_START).await;
    assert!(matches!(result, Err(HeaderError::Missing)), "{result:?}");
}

#[tokio::test]
async fn proxy_without_the_space_is_missing() {
    let result = read_header_open(b"PROXYTCP4 192.0.2.1 192.0.2.2 1 2\r\n").await;
    assert!(matches!(result, Err(HeaderError::Missing)), "{result:?}");
}

/// The opposite of failing fast: a beginning that could still become a header waits for the
/// rest (time is paused, so the handshake timeout elapses without a real wait).
#[tokio::test(start_paused = true)]
async fn beginning_of_a_header_waits_for_more() {
    for start in [
        &b"PROX"[..],
        b"PROXY TCP4 192.0.2.1",
        // Cut right after a separator: `ppp` alone would call the empty port invalid.
        b"PROXY TCP4 192.0.2.1 10.0.0.1 51234 ",
        b"PROXY TCP4 192.0.2.1 10.0.0.1 51234 443\r",
        b"\r\n\r\n\0\r\nQU",
        b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\x01",
    ] {
        let (mut client, server) = duplex(64);
        client.write_all(start).await.expect("write to duplex");
        let result = tokio::time::timeout(Duration::from_secs(10), read_header(server)).await;
        assert!(result.is_err(), "{start:?} did not wait: {result:?}");
    }
}

#[tokio::test]
async fn v1_garbage_address_is_invalid() {
    let result = read_header_open(b"PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\nGET /").await;
    assert!(matches!(result, Err(HeaderError::Invalid(_))), "{result:?}");

    let result = read_header_open(b"PROXY TCP4 192.0.2.1 10.0.0.1 99999 2\r\n").await;
    assert!(matches!(result, Err(HeaderError::Invalid(_))), "{result:?}");

    let result = read_header_open(b"PROXY UDP4 192.0.2.1 10.0.0.1 1 2\r\n").await;
    assert!(matches!(result, Err(HeaderError::Invalid(_))), "{result:?}");
}

/// A line that ends before its addresses: `ppp` calls that "missing", but no later byte can
/// supply them, so it must be refused rather than waited on.
#[tokio::test]
async fn v1_line_ended_early_is_invalid() {
    for line in [
        &b"PROXY TCP4\r\n"[..],
        b"PROXY TCP4 192.0.2.1\r\n",
        b"PROXY \r\n",
    ] {
        let result = read_header_open(line).await;
        assert!(
            matches!(result, Err(HeaderError::Invalid(_))),
            "{line:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn v1_without_line_end_is_too_long() {
    let mut input = b"PROXY UNKNOWN ".to_vec();
    input.resize(200, b'a');
    let result = read_header_open(&input).await;
    assert!(matches!(result, Err(HeaderError::TooLong)), "{result:?}");
}

#[tokio::test]
async fn v2_declared_length_over_max_is_too_long_at_once() {
    let len = u16::try_from(MAX_HEADER_BYTES - V2_FIXED_BYTES + 1).expect("fits u16");
    let mut input = v2_header(V2_PROXY, V2_TCP4, &[]);
    input[14..16].copy_from_slice(&len.to_be_bytes());
    // Only the fixed part is sent: the verdict must come from the declared length alone.
    let result = read_header_open(&input).await;
    assert!(matches!(result, Err(HeaderError::TooLong)), "{result:?}");
}

#[tokio::test]
async fn v2_at_max_is_accepted() {
    let mut body = v4_body([198, 51, 100, 9], [10, 1, 2, 3], 40000, 443);
    // Pad with one NOOP TLV up to exactly MAX_HEADER_BYTES.
    let pad = MAX_HEADER_BYTES - V2_FIXED_BYTES - body.len() - 3;
    body.push(0x04);
    body.extend_from_slice(&u16::try_from(pad).expect("fits u16").to_be_bytes());
    body.resize(body.len() + pad, 0);
    let header = v2_header(V2_PROXY, V2_TCP4, &body);
    assert_eq!(header.len(), MAX_HEADER_BYTES);
    let input = concat(&[&header, HTTP_REQUEST]);
    let (source, rest) = parse_all(&input).await;
    assert_eq!(source, Some(SocketAddr::from(([198, 51, 100, 9], 40000))));
    assert_eq!(rest, HTTP_REQUEST);
}

#[tokio::test]
async fn v2_malformed_is_invalid() {
    // Version 1 in the version nibble.
    let mut input = v2_header(
        V2_PROXY,
        V2_TCP4,
        &v4_body([1, 1, 1, 1], [2, 2, 2, 2], 1, 2),
    );
    input[12] = 0x11;
    let result = read_header_open(&input).await;
    assert!(
        matches!(&result, Err(HeaderError::Invalid(msg)) if msg.starts_with("v2")),
        "{result:?}"
    );

    // IPv4 family with fewer bytes than its addresses need.
    let input = v2_header(V2_PROXY, V2_TCP4, &[1, 2, 3, 4]);
    let result = read_header_open(&input).await;
    assert!(matches!(result, Err(HeaderError::Invalid(_))), "{result:?}");
}

#[tokio::test]
async fn eof_inside_the_header() {
    let result = read_header(&b"PROXY TCP4 192.0.2.1 10.0.0.1 1"[..]).await;
    assert!(
        matches!(result, Err(HeaderError::Eof)),
        "{:?}",
        result.map(|r| r.0)
    );

    let body = v4_body([198, 51, 100, 9], [10, 1, 2, 3], 40000, 443);
    let input = v2_header(V2_PROXY, V2_TCP4, &body);
    let result = read_header(&input[..20]).await;
    assert!(
        matches!(result, Err(HeaderError::Eof)),
        "{:?}",
        result.map(|r| r.0)
    );

    let result = read_header(&b""[..]).await;
    assert!(
        matches!(result, Err(HeaderError::Eof)),
        "{:?}",
        result.map(|r| r.0)
    );
}

#[tokio::test]
async fn rewind_replays_the_prefix_in_pieces_then_reads_inner() {
    let mut io = Rewind::with_prefix(&b"world"[..], Bytes::from_static(b"hello, "));
    let mut reads = Vec::new();
    let mut buf = [0; 3];
    loop {
        let n = io.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        reads.push(buf[..n].to_vec());
    }
    // The prefix's last byte comes on its own: a read never mixes prefix and inner.
    let expected: [&[u8]; 5] = [b"hel", b"lo,", b" ", b"wor", b"ld"];
    assert_eq!(reads, expected);
    assert!(io.prefix.is_empty());
}

#[tokio::test]
async fn rewind_writes_go_to_inner() {
    let (client, mut server) = duplex(64);
    let mut io = Rewind::with_prefix(client, Bytes::from_static(b"replayed"));
    io.write_all(b"response").await.expect("write");
    io.flush().await.expect("flush");
    let mut got = [0; 8];
    server.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"response");
}

/// No input panics the parser: arbitrary bytes after either version's start, at every length.
#[test]
fn arbitrary_input_does_not_panic() {
    // xorshift64: deterministic, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..2000 {
        let mut input = if case % 2 == 0 {
            V1_PREFIX.to_vec()
        } else {
            V2_SIGNATURE.to_vec()
        };
        let extra = usize::try_from(next() % 300).expect("small");
        for _ in 0..extra {
            // Bias towards the bytes the parsers care about.
            let byte = match next() % 8 {
                0 => b'\r',
                1 => b'\n',
                2 => b' ',
                3 => b"0123456789.:"[usize::try_from(next() % 12).expect("small")],
                _ => next().to_le_bytes()[0],
            };
            input.push(byte);
        }
        for end in 1..=input.len() {
            let _ = parse(&input[..end]);
        }
    }
}
