//! ingress-nginx annotations through the real proxy (docs/architecture.md, "Annotations"): never fail open,
//! never silent, never config text.
//!
//! - A security key Strait does not enforce yet refuses every route of its Ingress (and its
//!   `spec.defaultBackend`) with a plain-text 503; the request never reaches the upstream
//!   (a counting TCP front before the echo proves it) and a neighbour Ingress keeps serving.
//! - `unsupported_security = Serve` serves those routes and keeps a warning in `/metrics`.
//! - A snippet refuses the whole Ingress in either mode; an unknown key is served and counted;
//!   a canary is set aside; values that restrict nothing serve.
//!
//! The log lines of the real binary (the key, the reason, the suggestion for a typo) are
//! tested in `controller/tests/annotations_binary.rs`: only the controller crate can run it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::Value;
use strait_controller::serve::{Running, ServeConfig};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Conn, DEADLINE, Echo, Manifests, Reply, config, eventually, get};
use strait_shared::config::UnsupportedSecurity;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const NGINX: &str = "nginx.ingress.kubernetes.io";
/// The start of the 503 body of a route refused for an unenforced security key.
const UNENFORCED: &str =
    "route refused: its Ingress has a security annotation that Strait does not enforce yet";
/// The start of the 503 body of a route refused for a snippet.
const SNIPPET: &str =
    "route refused: its Ingress carries a snippet annotation, which Strait never executes";
/// The guarded Ingress's host, its neighbour's, and a host no rule names (the guarded
/// Ingress's `spec.defaultBackend` answers it).
const HOST_A: &str = "a.test";
const HOST_B: &str = "b.test";
const NO_RULE: &str = "elsewhere.test";

// ---- a backend that counts the connections it is offered ----

/// An echo backend behind a TCP front that counts accepted connections: a request refused by
/// Strait must leave the count at 0. Stopped when dropped.
struct Counted {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _echo: Echo,
    _stop: oneshot::Sender<()>,
}

impl Counted {
    /// Echo `name` on `ip` and its counting front, both on port 0.
    async fn start(name: &str, ip: [u8; 4]) -> Counted {
        let echo = Echo::start(name, ip, 0).await;
        let front = TcpListener::bind((IpAddr::from(ip), 0))
            .await
            .expect("bind front");
        let addr = front.local_addr().expect("front addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = oneshot::channel::<()>();
        let (count, upstream) = (Arc::clone(&accepted), echo.addr);
        tokio::spawn(async move {
            tokio::select! {
                _ = stopped => {}
                () = relay(front, upstream, count) => {}
            }
        });
        Counted {
            addr,
            accepted,
            _echo: echo,
            _stop: stop,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Accepts on `front`, counts, and splices each connection to `upstream`.
async fn relay(front: TcpListener, upstream: SocketAddr, count: Arc<AtomicUsize>) {
    while let Ok((mut client, _)) = front.accept().await {
        count.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            if let Ok(mut echo) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut echo).await;
            }
        });
    }
}

// ---- the scenario: a guarded Ingress on host a, a neighbour on host b ----

/// `default/guarded` (host `a.test` and `spec.defaultBackend`, Service `guarded` behind a
/// counted echo named `guarded`) carrying `annotations`, and `default/neighbour` (host
/// `b.test`, echo `neighbour`).
struct Scene {
    manifests: Manifests,
    guarded: Counted,
    _neighbour: Echo,
}

impl Scene {
    async fn new(annotations: &[(&str, &str)]) -> Scene {
        let guarded = Counted::start("guarded", [127, 0, 0, 2]).await;
        let neighbour = Echo::start("neighbour", [127, 0, 0, 3], 0).await;
        let mut ingress = IngressB::new("default", "guarded")
            .rule(HOST_A, "/", "Prefix", "guarded", 80)
            .default_backend("guarded", 80);
        for (key, value) in annotations {
            ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
        }
        let mut items = vec![our_class(), ingress.build()];
        items.push(
            IngressB::new("default", "neighbour")
                .rule(HOST_B, "/", "Prefix", "neighbour", 80)
                .build(),
        );
        items.extend(backend("default", "guarded", &[guarded.addr]));
        items.extend(backend("default", "neighbour", &[neighbour.addr]));
        let manifests = Manifests::new();
        manifests.write_list("scene.json", &items);
        Scene {
            manifests,
            guarded,
            _neighbour: neighbour,
        }
    }

    async fn start(&self, mode: UnsupportedSecurity) -> Running {
        start_with(&self.manifests, |c| c.compile.unsupported_security = mode).await
    }
}

async fn start_with(m: &Manifests, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = config(m.path());
    tweak(&mut cfg);
    strait_controller::serve::start(cfg).await.expect("start")
}

// ---- requests and assertions ----

const CLIENT: [u8; 4] = [127, 0, 0, 1];

/// GET from 127.0.0.1 on a fresh connection.
async fn get_from_client(s: &Running, host: &str, path: &str) -> Reply {
    let mut c = Conn::open_from(IpAddr::from(CLIENT), s.http_addr)
        .await
        .expect("connect to strait");
    c.get(host, path, &[]).await.expect("request")
}

/// A POST with a `len`-byte body on a raw socket from 127.0.0.1. The body is written while
/// the answer is read, so an early answer (a refusal that never reads the body) is seen.
async fn post_from_client(s: &Running, host: &str, len: usize) -> Reply {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::from(CLIENT), 0))
        .expect("bind");
    let stream = socket.connect(s.http_addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        write.write_all(&vec![b'x'; len]).await?;
        write.flush().await?;
        Ok::<_, std::io::Error>(write)
    });
    let mut raw = Vec::new();
    // A reset after the answer (unread body bytes at close) ends the read; what was read
    // stays in `raw`.
    let _ = tokio::time::timeout(DEADLINE, read.read_to_end(&mut raw))
        .await
        .expect("an answer within the deadline");
    let _ = writer.await;
    parse_reply(&raw)
}

/// An HTTP/1.1 answer with a `Content-Length` body (or a body up to the close).
fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("a whole response head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("status line: {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(rest.len());
    Reply {
        status: http::StatusCode::from_u16(status).expect("status"),
        headers,
        body: bytes::Bytes::from(rest.as_bytes()[..length.min(rest.len())].to_vec()),
    }
}

/// Strait's own plain-text 503 starting with `reason`, not anything from an echo.
fn assert_refused(r: &Reply, reason: &str, what: &str) {
    assert_eq!(r.status, 503, "{what}: {}", r.text());
    let content_type = r.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    assert!(
        content_type.is_some_and(|t| t.starts_with("text/plain")),
        "{what}: Content-Type {content_type:?}"
    );
    assert!(r.text().starts_with(reason), "{what}: {}", r.text());
    assert_eq!(r.echo_name(), None, "{what}: no echo answered");
}

fn assert_served(r: &Reply, echo: &str, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    assert_eq!(r.echo_name().as_deref(), Some(echo), "{what}");
}

/// The neighbour Ingress answers from its own echo.
async fn assert_neighbour_serves(s: &Running, what: &str) {
    let r = get_from_client(s, HOST_B, "/").await;
    assert_served(&r, "neighbour", &format!("{what}: the neighbour"));
}

/// Waits until `/metrics` exposes the sample line `series value` exactly.
async fn assert_metric(s: &Running, series: &str, value: u64) {
    let want = format!("{series} {value}");
    let what = format!("/metrics to show `{want}`");
    eventually(&what, || async {
        let text = metrics(s).await;
        text.lines().any(|line| line == want).then_some(())
    })
    .await;
}

async fn metrics(s: &Running) -> String {
    let r = get(s.admin_addr, "localhost", "/metrics").await;
    assert_eq!(r.status, 200, "/metrics: {}", r.text());
    r.text()
}

/// The `strait_rejected_objects` series with a non-zero value for `reason`.
async fn rejected_for(s: &Running, reason: &str) -> Vec<String> {
    let label = format!("strait_rejected_objects{{reason=\"{reason}\",");
    metrics(s)
        .await
        .lines()
        .filter(|line| line.starts_with(&label) && !line.ends_with(" 0"))
        .map(str::to_owned)
        .collect()
}

fn rejected(reason: &str, severity: &str) -> String {
    format!("strait_rejected_objects{{reason=\"{reason}\",severity=\"{severity}\"}}")
}

fn annotations_of(ingress: &str, status: &str) -> String {
    format!(
        "strait_ingress_annotations{{namespace=\"default\",ingress=\"{ingress}\",status=\"{status}\"}}"
    )
}

// ---- 1. unenforced security keys refuse their Ingress's routes ----

/// What a case sends to the guarded host.
#[derive(Clone, Copy, Debug)]
enum Probe {
    /// One GET from 127.0.0.1.
    Get,
    /// `n` GETs, each on a fresh connection from 127.0.0.1.
    Burst(usize),
    /// One POST with a body of this many bytes.
    Post(usize),
}

/// One security group: the ingress-nginx doc section, the annotations, what to send.
struct Case {
    doc: &'static str,
    annotations: &'static [(&'static str, &'static str)],
    probe: Probe,
}

/// One key per security group (docs/architecture.md, "Annotations").
const SECURITY_CASES: &[Case] = &[
    // External Authentication (auth-url and every sibling, auth-proxy-set-headers included)
    // and Client Certificate Authentication (auth-tls-*) are enforced:
    // access_external_auth*.rs, mtls.rs.
    Case {
        // Removed from ingress-nginx 1.12 (annotations.md no longer lists it; its 1.11 docs,
        // "Global Rate Limiting"): a global limit Strait does not enforce, so each of 20
        // quick requests is turned away rather than served unlimited. (limit-rps and
        // limit-connections are enforced: e2e/tests/limits_*.rs.)
        doc: "Global Rate Limiting (global-rate-limit)",
        annotations: &[("global-rate-limit", "100")],
        probe: Probe::Burst(20),
    },
    Case {
        // annotations.md "ModSecurity" (annotations-risk.md: ModSecurity enable-modsecurity,
        // Low).
        doc: "ModSecurity",
        annotations: &[("enable-modsecurity", "true")],
        probe: Probe::Get,
    },
];

#[tokio::test]
async fn unenforced_security_keys_refuse_their_ingress_and_never_reach_the_upstream() {
    for case in SECURITY_CASES {
        let scene = Scene::new(case.annotations).await;
        let s = scene.start(UnsupportedSecurity::Refuse).await;
        let what = case.doc;
        match case.probe {
            Probe::Get => {
                let r = get_from_client(&s, HOST_A, "/").await;
                assert_refused(&r, UNENFORCED, what);
            }
            Probe::Burst(n) => {
                for i in 0..n {
                    let r = get_from_client(&s, HOST_A, "/").await;
                    assert_refused(&r, UNENFORCED, &format!("{what}, request {i}"));
                }
            }
            Probe::Post(len) => {
                let r = post_from_client(&s, HOST_A, len).await;
                assert_refused(&r, UNENFORCED, what);
            }
        }
        // ingress-nginx annotations.md "Default Backend" / the Ingress's spec.defaultBackend:
        // the same Ingress, so refused too.
        let r = get_from_client(&s, NO_RULE, "/").await;
        assert_refused(&r, UNENFORCED, &format!("{what}: its defaultBackend"));
        assert_neighbour_serves(&s, what).await;
        assert_eq!(
            scene.guarded.accepted(),
            0,
            "{what}: the guarded upstream saw no connection"
        );
        assert_metric(&s, &rejected("UnsupportedAnnotation", "error"), 1).await;
        let keys = case.annotations.len() as u64;
        assert_metric(&s, &annotations_of("guarded", "not-yet"), keys).await;
        s.shutdown().await.unwrap();
    }
}

// ---- 2. --unsupported-security-annotations=serve ----

#[tokio::test]
async fn serve_mode_serves_an_unenforced_key_and_keeps_a_warning() {
    // annotations.md "ModSecurity" (no WAF in Strait); the operator opted out of fail-closed.
    let scene = Scene::new(&[("enable-modsecurity", "true")]).await;
    let s = scene.start(UnsupportedSecurity::Serve).await;
    let r = get_from_client(&s, HOST_A, "/").await;
    assert_served(&r, "guarded", "serve mode");
    let r = get_from_client(&s, NO_RULE, "/").await;
    assert_served(&r, "guarded", "serve mode: its defaultBackend");
    assert_neighbour_serves(&s, "serve mode").await;
    assert!(scene.guarded.accepted() >= 1, "the counting front counts");
    assert_metric(&s, &rejected("UnsupportedAnnotation", "warning"), 1).await;
    assert_eq!(
        rejected_for(&s, "UnsupportedAnnotation").await,
        [format!(
            "{} 1",
            rejected("UnsupportedAnnotation", "warning")
        )],
        "a warning, no error"
    );
    s.shutdown().await.unwrap();
}

// ---- 3. snippets ----

#[tokio::test]
async fn a_snippet_refuses_its_ingress_in_either_mode_and_never_runs() {
    // annotations.md "Configuration snippet" and "Server snippet"; annotations-risk.md rates
    // both Critical, refused at ingress-nginx's default annotations-risk-level High.
    let snippet = "return 200 'pwned';";
    for key in ["configuration-snippet", "server-snippet"] {
        for mode in [UnsupportedSecurity::Refuse, UnsupportedSecurity::Serve] {
            let what = format!("{key} ({mode:?})");
            let scene = Scene::new(&[(key, snippet)]).await;
            let s = scene.start(mode).await;
            for host in [HOST_A, NO_RULE] {
                let r = get_from_client(&s, host, "/").await;
                assert_refused(&r, SNIPPET, &format!("{what}: {host}"));
                assert!(!r.text().contains("pwned"), "{what}: {}", r.text());
            }
            assert_neighbour_serves(&s, &what).await;
            assert_eq!(scene.guarded.accepted(), 0, "{what}: upstream untouched");
            assert_metric(&s, &rejected("RefusedAnnotation", "error"), 1).await;
            assert_metric(&s, &annotations_of("guarded", "refused"), 1).await;
            s.shutdown().await.unwrap();
        }
    }
}

// ---- 4. unknown keys ----

#[tokio::test]
async fn an_unknown_key_is_served_and_counted() {
    // annotations.md lists every key; `server-snippets` is a typo seen in published
    // manifests. It has no effect in ingress-nginx either. The
    // "did you mean" suggestion is asserted on the binary's log
    // (controller/tests/annotations_binary.rs).
    let scene = Scene::new(&[("server-snippets", "x")]).await;
    let s = scene.start(UnsupportedSecurity::Refuse).await;
    let r = get_from_client(&s, HOST_A, "/").await;
    assert_served(&r, "guarded", "unknown key");
    assert_metric(&s, &annotations_of("guarded", "unknown"), 1).await;
    assert_metric(&s, &rejected("UnknownAnnotation", "warning"), 1).await;
    assert_eq!(
        rejected_for(&s, "RefusedAnnotation").await,
        Vec::<String>::new()
    );
    s.shutdown().await.unwrap();
}

// ---- 5. canary ----

#[tokio::test]
async fn an_older_canary_never_takes_its_mainlines_traffic() {
    // annotations.md "Canary": a canary joins its mainline's route and never claims it, even
    // when it is older (an ordinary older Ingress would win the conflict). With
    // canary-weight 0 and no header or cookie, the mainline keeps all traffic.
    let main = Echo::start("main", [127, 0, 0, 2], 0).await;
    let canary = Counted::start("canary", [127, 0, 0, 3]).await;
    let mut items = vec![our_class()];
    items.extend(backend("default", "main", &[main.addr]));
    items.extend(backend("default", "canary", &[canary.addr]));
    items.push(
        IngressB::new("default", "canary")
            .created("2025-01-01T00:00:00Z")
            .annotation(&format!("{NGINX}/canary"), "true")
            .annotation(&format!("{NGINX}/canary-weight"), "0")
            .rule(HOST_A, "/", "Prefix", "canary", 80)
            .build(),
    );
    items.push(
        IngressB::new("default", "main")
            .created("2026-01-01T00:00:00Z")
            .rule(HOST_A, "/", "Prefix", "main", 80)
            .build(),
    );
    let m = Manifests::new();
    m.write_list("canary.json", &items);
    let s = start_with(&m, |_| {}).await;
    for i in 0..20 {
        let r = get_from_client(&s, HOST_A, "/").await;
        assert_served(&r, "main", &format!("request {i}"));
    }
    assert_eq!(canary.accepted(), 0, "the canary's upstream saw nothing");
    assert!(rejected_for(&s, "Conflict").await.is_empty(), "no conflict");
    s.shutdown().await.unwrap();
}

// ---- 6. values that restrict nothing ----

#[tokio::test]
async fn inert_security_values_serve() {
    // annotations.md "Rate Limiting" and "Custom max body size": 0 is no limit in nginx
    // (client_max_body_size 0 disables the check); "Client Certificate Authentication":
    // verify-client off; "ModSecurity": enable-modsecurity false.
    let cases: [(&str, &str, Probe); 4] = [
        ("limit-rps", "0", Probe::Burst(3)),
        ("proxy-body-size", "0", Probe::Post(200 * 1024)),
        ("auth-tls-verify-client", "off", Probe::Get),
        ("enable-modsecurity", "false", Probe::Get),
    ];
    for (key, value, probe) in cases {
        let what = format!("{key}: {value:?}");
        let scene = Scene::new(&[(key, value)]).await;
        let s = scene.start(UnsupportedSecurity::Refuse).await;
        match probe {
            Probe::Get => assert_served(&get_from_client(&s, HOST_A, "/").await, "guarded", &what),
            Probe::Burst(n) => {
                for i in 0..n {
                    let r = get_from_client(&s, HOST_A, "/").await;
                    assert_served(&r, "guarded", &format!("{what}, request {i}"));
                }
            }
            Probe::Post(len) => {
                let r = post_from_client(&s, HOST_A, len).await;
                assert_served(&r, "guarded", &what);
                let echoed: Value = r.json();
                assert_eq!(echoed["body_bytes"], len, "{what}: the whole body arrived");
            }
        }
        // Still reported (never silent), as a key with no effect: a warning, not an error.
        let errors = rejected_for(&s, "UnsupportedAnnotation").await;
        assert!(
            errors
                .iter()
                .all(|series| series.contains("severity=\"warning\"")),
            "{what}: no error: {errors:?}"
        );
        s.shutdown().await.unwrap();
    }
}
