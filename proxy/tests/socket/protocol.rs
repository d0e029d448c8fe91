//! Client protocols and client-side protocol errors.

use http::{Request, StatusCode, Version};
use strait_proxy::ProxyConfig;

use crate::support::*;

#[tokio::test]
async fn h2c_prior_knowledge_is_served_and_authority_routes() {
    let a = named("a").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[a.addr])]),
    )
    .await;
    let (mut sender, _conn) = h2(proxy.addr).await;
    for _ in 0..2 {
        let req = Request::get("http://app.test/over/h2?x=1")
            .version(Version::HTTP_2)
            .body(empty())
            .unwrap();
        let response = within("h2 response", sender.send_request(req))
            .await
            .unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        let reply = collect(response).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(
            reply.body.starts_with("a\nGET /over/h2?x=1\n"),
            "{}",
            reply.body
        );
        assert_eq!(reply.header_line("host"), Some("app.test"));
        assert_eq!(reply.header_line("x-forwarded-host"), Some("app.test"));
    }
}

#[tokio::test]
async fn invalid_header_bytes_get_400() {
    let a = named("a").await;
    let proxy = Harness::start(ProxyConfig::default(), table(vec![rule("", &[a.addr])])).await;
    let response = raw(
        proxy.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&response), 400, "{response}");
    let response = raw(
        proxy.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01b\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&response), 400, "{response}");
    assert_eq!(a.accepts(), 0);
}

#[tokio::test]
async fn a_header_block_over_max_header_bytes_gets_431() {
    let a = named("a").await;
    let config = ProxyConfig {
        max_header_bytes: 16 * 1024,
        ..ProxyConfig::default()
    };
    let proxy = Harness::start(config, table(vec![rule("", &[a.addr])])).await;
    let big = "x".repeat(20 * 1024);
    let request = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n");
    let response = raw(proxy.addr, request.as_bytes()).await;
    assert_eq!(
        raw_status(&response),
        431,
        "{}",
        &response[..response.len().min(200)]
    );

    let fits = "x".repeat(8 * 1024);
    let request =
        format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Big: {fits}\r\n\r\n");
    let response = raw(proxy.addr, request.as_bytes()).await;
    assert_eq!(raw_status(&response), 200);
}

#[tokio::test]
async fn more_than_max_headers_gets_431() {
    let a = named("a").await;
    let config = ProxyConfig {
        max_headers: 10,
        ..ProxyConfig::default()
    };
    let proxy = Harness::start(config, table(vec![rule("", &[a.addr])])).await;
    let mut request = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..20 {
        request.push_str(&format!("X-H{i}: v\r\n"));
    }
    request.push_str("\r\n");
    let response = raw(proxy.addr, request.as_bytes()).await;
    assert_eq!(raw_status(&response), 431, "{response}");
}

#[tokio::test]
async fn conflicting_content_lengths_get_400() {
    let a = named("a").await;
    let proxy = Harness::start(ProxyConfig::default(), table(vec![rule("", &[a.addr])])).await;
    let response = raw(
        proxy.addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    )
    .await;
    assert_eq!(raw_status(&response), 400, "{response}");
    assert_eq!(a.accepts(), 0);
}

#[tokio::test]
async fn several_host_headers_get_400() {
    let a = named("a").await;
    let proxy = Harness::start(ProxyConfig::default(), table(vec![rule("", &[a.addr])])).await;
    let response = raw(
        proxy.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&response), 400, "{response}");
}

#[tokio::test]
async fn an_h2_header_list_over_max_header_bytes_gets_431() {
    let a = named("a").await;
    let config = ProxyConfig {
        max_header_bytes: 16 * 1024,
        ..ProxyConfig::default()
    };
    let proxy = Harness::start(config, table(vec![rule("", &[a.addr])])).await;
    let (mut sender, _conn) = h2(proxy.addr).await;
    let req = Request::get("http://app.test/")
        .version(Version::HTTP_2)
        .header("x-big", "x".repeat(20 * 1024))
        .body(empty())
        .unwrap();
    let result = within("h2 response", sender.send_request(req)).await;
    match result {
        Ok(response) => assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        ),
        Err(error) => panic!("h2 error: {error:?}"),
    }
    assert_eq!(a.accepts(), 0);
}

#[tokio::test]
async fn expect_100_continue_reaches_the_upstream_without_deadlock() {
    let a = named("a").await;
    let proxy = Harness::start(ProxyConfig::default(), table(vec![rule("", &[a.addr])])).await;
    let mut stream = within("connect", tokio::net::TcpStream::connect(proxy.addr))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 25];
    within("100 Continue", stream.read_exact(&mut buf))
        .await
        .unwrap();
    assert!(
        buf.starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    stream.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    within("response", stream.read_to_end(&mut rest))
        .await
        .unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert_eq!(raw_status(&rest), 200, "{rest}");
}
