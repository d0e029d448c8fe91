use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Version;
use serde_json::Value;

use super::line::Rfc3339;
use super::*;

/// ingress-nginx's default `log-format-upstream` (`upstreaminfo`), from its
/// docs/user-guide/nginx-configuration/log-format.md, turned into a regex field by field:
/// `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
/// "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
/// [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
/// $upstream_response_time $upstream_status $req_id`.
pub(crate) const UPSTREAMINFO: &str = concat!(
    r#"^(?P<remote_addr>\S+) - (?P<remote_user>\S+) \[(?P<time_local>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "#,
    r#""(?P<request>[^"]*)" (?P<status>\d{3}) (?P<body_bytes_sent>\d+) "#,
    r#""(?P<http_referer>[^"]*)" "(?P<http_user_agent>[^"]*)" "#,
    r#"(?P<request_length>\d+) (?P<request_time>\d+\.\d{3}) "#,
    r#"\[(?P<proxy_upstream_name>[^\]]*)\] \[(?P<proxy_alternative_upstream_name>[^\]]*)\] "#,
    r#"(?P<upstream_addr>\S+) (?P<upstream_response_length>\S+) (?P<upstream_response_time>\S+) "#,
    r#"(?P<upstream_status>\S+) (?P<req_id>\S+)$"#,
);

fn at(secs: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
}

/// A request that went all the way: routed, forwarded, answered, over TLS.
fn full() -> Entry<'static> {
    Entry {
        time: at(1_709_294_400, 7),
        client: IpAddr::from([198, 51, 100, 7]),
        method: "GET",
        host: Some(b"shop.example.com"),
        path: "/cart",
        query: Some("id=1"),
        protocol: Version::HTTP_2,
        status: 200,
        bytes_in: 12,
        bytes_out: 3456,
        request_length: 120,
        bytes_sent: 3556,
        duration: Duration::from_micros(12_345),
        upstream: Some(SocketAddr::from(([10, 0, 0, 7], 8080))),
        upstream_status: Some(200),
        upstream_connect: Some(Duration::from_micros(250)),
        upstream_duration: Some(Duration::from_micros(10_500)),
        passed_on: &[],
        route: Some(("shop", "web", "frontend")),
        service_port: Some("80"),
        request_id: Some(b"0123456789abcdef0123456789abcdef"),
        user_agent: Some(b"curl/8.5.0"),
        referer: Some(b"https://shop.example.com/"),
        tls_version: Some("TLSv1.3"),
        sni: Some("shop.example.com"),
    }
}

/// Field names in the order they appear in `line`.
fn keys_in_order(line: &str, value: &Value) -> Vec<&'static str> {
    let mut found: Vec<(usize, &'static str)> = FIELDS
        .iter()
        .filter(|f| value.get(**f).is_some())
        .map(|f| (line.find(&format!("\"{f}\":")).expect("key in line"), *f))
        .collect();
    found.sort_unstable();
    found.into_iter().map(|(_, f)| f).collect()
}

#[test]
fn line_is_one_json_object_with_every_field_in_order() {
    let line = full().render(Format::Json);
    assert!(!line.contains('\n'));
    let value: Value = serde_json::from_str(&line).expect("valid JSON");
    assert_eq!(value.as_object().unwrap().len(), FIELDS.len(), "{line}");
    assert_eq!(keys_in_order(&line, &value), FIELDS);
    assert_eq!(value["time"], "2024-03-01T12:00:00.007Z");
    assert_eq!(value["client"], "198.51.100.7");
    assert_eq!(value["host"], "shop.example.com");
    assert_eq!(value["path"], "/cart");
    assert_eq!(value["query"], "id=1");
    assert_eq!(value["protocol"], "HTTP/2");
    assert_eq!(value["status"], 200);
    assert_eq!(value["bytes_in"], 12);
    assert_eq!(value["bytes_out"], 3456);
    assert_eq!(value["request_length"], 120);
    assert_eq!(value["bytes_sent"], 3556);
    assert_eq!(value["duration_ms"], 12.345);
    assert_eq!(value["upstream"], "10.0.0.7:8080");
    assert_eq!(value["upstream_status"], 200);
    assert_eq!(value["upstream_connect_ms"], 0.25);
    assert_eq!(value["user_agent"], "curl/8.5.0");
    assert_eq!(value["referer"], "https://shop.example.com/");
    assert_eq!(value["upstream_duration_ms"], 10.5);
    assert_eq!(value["namespace"], "shop");
    assert_eq!(value["ingress"], "web");
    assert_eq!(value["service"], "frontend");
    assert_eq!(value["request_id"], "0123456789abcdef0123456789abcdef");
    assert_eq!(value["tls_version"], "TLSv1.3");
    assert_eq!(value["sni"], "shop.example.com");
}

#[test]
fn unrouted_plain_request_has_nulls_where_it_did_not_get() {
    let entry = Entry {
        host: None,
        protocol: Version::HTTP_11,
        status: 404,
        query: None,
        upstream: None,
        upstream_status: None,
        upstream_connect: None,
        upstream_duration: None,
        route: None,
        service_port: None,
        request_id: None,
        user_agent: None,
        referer: None,
        tls_version: None,
        sni: None,
        ..full()
    };
    let line = entry.render(Format::Json);
    let value: Value = serde_json::from_str(&line).expect("valid JSON");
    assert_eq!(value.as_object().unwrap().len(), FIELDS.len(), "{line}");
    for field in [
        "host",
        "query",
        "upstream",
        "upstream_status",
        "upstream_connect_ms",
        "upstream_duration_ms",
        "namespace",
        "ingress",
        "service",
        "request_id",
        "user_agent",
        "referer",
        "tls_version",
        "sni",
    ] {
        assert!(value[field].is_null(), "{field} in {line}");
    }
    assert_eq!(value["protocol"], "HTTP/1.1");
    assert_eq!(value["status"], 404);
}

#[test]
fn hostile_bytes_are_escaped_and_stay_valid_json() {
    let entry = Entry {
        host: Some(b"a\"b\\c\x01\xff"),
        path: "/\"quoted\"\\\t",
        ..full()
    };
    let line = entry.render(Format::Json);
    let value: Value = serde_json::from_str(&line).expect("valid JSON");
    assert_eq!(value["host"], "a\"b\\c\u{1}\u{fffd}");
    assert_eq!(value["path"], "/\"quoted\"\\\t");
}

#[test]
fn nginx_format_parses_with_ingress_nginx_upstreaminfo_regex() {
    let re = regex::Regex::new(UPSTREAMINFO).expect("regex");
    let line = full().render(Format::Nginx);
    let caps = re
        .captures(&line)
        .unwrap_or_else(|| panic!("no match: {line}"));
    let expected = [
        ("remote_addr", "198.51.100.7"),
        ("remote_user", "-"),
        ("time_local", "01/Mar/2024:12:00:00 +0000"),
        ("request", "GET /cart?id=1 HTTP/2.0"),
        ("status", "200"),
        ("body_bytes_sent", "3456"),
        ("http_referer", "https://shop.example.com/"),
        ("http_user_agent", "curl/8.5.0"),
        ("request_length", "120"),
        ("request_time", "0.012"),
        ("proxy_upstream_name", "shop-frontend-80"),
        ("proxy_alternative_upstream_name", ""),
        ("upstream_addr", "10.0.0.7:8080"),
        ("upstream_response_length", "3456"),
        ("upstream_response_time", "0.011"),
        ("upstream_status", "200"),
        ("req_id", "0123456789abcdef0123456789abcdef"),
    ];
    for (name, value) in expected {
        assert_eq!(&caps[name], value, "{name} in {line}");
    }
}

#[test]
fn nginx_format_writes_dashes_for_what_did_not_happen_and_escapes_quotes() {
    let re = regex::Regex::new(UPSTREAMINFO).expect("regex");
    let entry = Entry {
        path: "/a\"b c",
        query: None,
        protocol: Version::HTTP_11,
        status: 404,
        upstream: None,
        upstream_status: None,
        upstream_connect: None,
        upstream_duration: None,
        route: None,
        service_port: None,
        request_id: None,
        user_agent: Some(b"evil\" \"agent\n"),
        referer: None,
        ..full()
    };
    let line = entry.render(Format::Nginx);
    let caps = re
        .captures(&line)
        .unwrap_or_else(|| panic!("no match: {line}"));
    assert_eq!(&caps["request"], "GET /a\\x22b c HTTP/1.1");
    assert_eq!(&caps["http_user_agent"], "evil\\x22 \\x22agent\\x0A");
    assert_eq!(&caps["http_referer"], "-");
    assert_eq!(&caps["proxy_upstream_name"], "-");
    for name in [
        "upstream_addr",
        "upstream_response_length",
        "upstream_response_time",
        "upstream_status",
        "req_id",
    ] {
        assert_eq!(&caps[name], "-", "{name} in {line}");
    }
}

/// nginx's `$upstream_addr`, `$upstream_response_length`, `$upstream_response_time` and
/// `$upstream_status` list every attempt of a request passed to the next upstream, joined
/// with `, ` (ngx_http_upstream_module, "Embedded Variables").
#[test]
fn nginx_format_lists_every_attempt_of_a_request_passed_on() {
    let passed_on = [
        PassedOn {
            addr: SocketAddr::from(([10, 0, 0, 5], 8080)),
            status: 502,
            took: Duration::from_millis(2),
        },
        PassedOn {
            addr: SocketAddr::from(([10, 0, 0, 6], 8080)),
            status: 504,
            took: Duration::from_millis(3),
        },
    ];
    let entry = Entry {
        passed_on: &passed_on,
        upstream_duration: Some(Duration::from_millis(9)),
        ..full()
    };
    let line = entry.render(Format::Nginx);
    let upstream = "10.0.0.5:8080, 10.0.0.6:8080, 10.0.0.7:8080 0, 0, 3456 \
                    0.002, 0.003, 0.004 502, 504, 200 ";
    assert!(line.contains(upstream), "{line}");
    let json: Value = serde_json::from_str(&entry.render(Format::Json)).unwrap();
    assert_eq!(
        json["upstream"], "10.0.0.7:8080",
        "JSON keeps the last attempt"
    );
}

#[test]
fn json_stays_the_default_format() {
    let (log, _lines) = AccessLog::channel(1);
    assert_eq!(log.format(), Format::Json);
    assert_eq!(log.with_format(Format::Nginx).format(), Format::Nginx);
}

#[test]
fn times_are_rfc3339_utc_with_milliseconds() {
    let cases = [
        (at(0, 0), "1970-01-01T00:00:00.000Z"),
        (at(951_782_400, 999), "2000-02-29T00:00:00.999Z"),
        (at(1_709_164_799, 1), "2024-02-28T23:59:59.001Z"),
        (at(1_709_164_800, 0), "2024-02-29T00:00:00.000Z"),
        (at(4_102_444_800, 0), "2100-01-01T00:00:00.000Z"),
        (
            UNIX_EPOCH - Duration::from_secs(5),
            "1970-01-01T00:00:00.000Z",
        ),
    ];
    for (time, expected) in cases {
        assert_eq!(Rfc3339(time).to_string(), expected);
    }
}

#[tokio::test]
async fn a_full_channel_drops_lines_and_counts_them() {
    let (log, mut lines) = AccessLog::channel(2);
    assert!(log.send("one".to_owned()));
    assert!(log.send("two".to_owned()));
    assert!(!log.send("three".to_owned()), "the channel is full");
    assert!(!log.clone().send("four".to_owned()), "clones share it");
    assert_eq!(log.dropped(), 2);
    assert_eq!(lines.recv().await.as_deref(), Some("one"));
    assert!(log.send("five".to_owned()), "room again");
    drop(lines);
    assert!(!log.send("six".to_owned()), "nobody reads");
    assert_eq!(log.dropped(), 3);
}

#[test]
fn off_takes_nothing_and_drops_nothing() {
    let log = AccessLog::off();
    assert!(!log.is_on());
    assert!(log.send("ignored".to_owned()));
    assert_eq!(log.dropped(), 0);
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_writer_thread_writes_newline_terminated_lines() {
    let out = Shared::default();
    let log = AccessLog::to_writer(out.clone());
    for i in 0..3 {
        assert!(log.send(format!("{{\"n\":{i}}}")));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        if written == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "got {written:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
