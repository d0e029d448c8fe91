//! gRPC through the real proxy with a real gRPC stack on both ends (issue 16): tonic's client
//! and server (`grpc_tonic/service.rs`), prost messages, unary, server-, client- and
//! bidirectional-streaming calls. The client reaches Strait over h2c (the HTTP listener, prior
//! knowledge) and over TLS (the HTTPS listener, ALPN `h2`); Strait reaches the server with
//! `backend-protocol: GRPC` (h2c) or `GRPCS` (TLS).
//!
//! ingress-nginx: annotations.md "Backend Protocol" (`GRPC`, `GRPCS`), docs/examples/grpc
//! (a gRPC service behind TLS termination) and test/e2e/annotations/grpc.go ("should return
//! OK for service with backend protocol GRPC/GRPCS", "should return OK when request metadata
//! is passed", "should return OK with backend TLS"). Where Strait differs (the proxy's own
//! errors as gRPC statuses, `grpc-timeout`), docs/architecture.md "Upstream protocols".

#[path = "grpc_tonic/service.rs"]
mod service;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use service::{Client, FAIL, Msg, Via, channel_stream, msg, serve_h2c, serve_tls};
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::{cert_for, tls_secret};
use strait_e2e::{Manifests, dead_addr, start};
use tokio::time::{Instant, timeout};
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Status, Streaming};

const NGINX: &str = "nginx.ingress.kubernetes.io";
/// GRPC to the h2c server.
const OK: &str = "ok.grpc.test";
/// GRPC to the h2c server, `proxy-read-timeout: 1`.
const SLOW: &str = "slow.grpc.test";
/// GRPCS to the TLS server.
const GRPCS: &str = "tls.grpc.test";
/// GRPC to a Service without endpoints.
const EMPTY: &str = "empty.grpc.test";
/// GRPC to an endpoint that refuses connections.
const REFUSED: &str = "refused.grpc.test";
/// A bound on every wait of a call, so a test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(10);
const BOTH: [Via; 2] = [Via::H2c, Via::Tls];

/// A route of the scene: host, `backend-protocol`, endpoints, more annotations.
type Route<'a> = (&'a str, &'a str, &'a [SocketAddr], &'a [(&'a str, &'a str)]);

struct Scene {
    running: Running,
    _manifests: Manifests,
}

impl Scene {
    async fn start() -> Scene {
        let h2c = serve_h2c().await;
        let tls = serve_tls(&cert_for(&["backend.internal"])).await;
        let refused = dead_addr([127, 0, 0, 4]).await;
        let hosts = [OK, SLOW, GRPCS, EMPTY, REFUSED];
        let mut items: Vec<Value> = vec![
            our_class(),
            tls_secret("default", "grpc-tls", &cert_for(&hosts)),
        ];
        let routes: [Route; 5] = [
            (OK, "GRPC", &[h2c], &[]),
            (SLOW, "GRPC", &[h2c], &[("proxy-read-timeout", "1")]),
            (GRPCS, "GRPCS", &[tls], &[]),
            (EMPTY, "GRPC", &[], &[]),
            (REFUSED, "GRPC", &[refused], &[]),
        ];
        for (i, (host, protocol, addrs, extra)) in routes.into_iter().enumerate() {
            let name = format!("grpc-{i}");
            let mut ingress = IngressB::new("default", &name)
                .rule(host, "/", "Prefix", &name, 80)
                .tls(&[host], Some("grpc-tls"))
                .annotation(&format!("{NGINX}/backend-protocol"), protocol)
                .annotation(&format!("{NGINX}/ssl-redirect"), "false");
            for (key, value) in extra {
                ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
            }
            items.push(ingress.build());
            items.extend(backend("default", &name, addrs));
        }
        let manifests = Manifests::new();
        manifests.write_list("grpc.json", &items);
        let running = start(manifests.path()).await;
        Scene {
            running,
            _manifests: manifests,
        }
    }

    async fn client(&self, via: Via, host: &str) -> Client {
        let addr = match via {
            Via::H2c => self.running.http_addr,
            Via::Tls => self.running.https_addr,
        };
        Client::connect(addr, via, host).await
    }
}

/// Every message of a response stream, then how it ended.
async fn drain(stream: &mut Streaming<Msg>) -> (Vec<String>, Result<(), Status>) {
    let mut texts = Vec::new();
    loop {
        match timeout(WAIT, stream.message())
            .await
            .expect("a message in time")
        {
            Ok(Some(m)) => texts.push(m.text),
            Ok(None) => return (texts, Ok(())),
            Err(status) => return (texts, Err(status)),
        }
    }
}

/// "should return OK for service with backend protocol GRPC" and "… when request metadata is
/// passed" (grpc.go): a unary call answers, request metadata reaches the server and response
/// metadata the client; a server's error before any message (a Trailers-Only response) keeps
/// its code, message and custom and binary metadata. Over h2c and TLS to Strait.
#[tokio::test]
async fn unary_calls_and_metadata() {
    let scene = Scene::start().await;
    for via in BOTH {
        let mut client = scene.client(via, OK).await;
        let mut request = Request::new(msg("hello", 0, 0));
        request
            .metadata_mut()
            .insert("x-probe", MetadataValue::from_static("p-1"));
        let response = timeout(WAIT, client.unary(request))
            .await
            .expect("in time")
            .unwrap_or_else(|s| panic!("{via:?}: {s:?}"));
        assert_eq!(response.metadata().get("x-probe-seen").unwrap(), "p-1");
        assert_eq!(response.into_inner().text, "hello", "{via:?}");

        let status = timeout(WAIT, client.unary(Request::new(msg(FAIL, 0, 0))))
            .await
            .expect("in time")
            .expect_err("the server refuses");
        assert_refusal(&status, via);
    }
}

fn assert_refusal(status: &Status, via: Via) {
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "{via:?}: {status:?}"
    );
    assert_eq!(status.message(), "refused by the server");
    assert_eq!(status.metadata().get("x-why").unwrap(), "asked-to-fail");
    let detail = status
        .metadata()
        .get_bin("x-detail-bin")
        .expect("binary metadata");
    assert_eq!(detail.to_bytes().unwrap().as_ref(), &[0, 1, 2, 255]);
}

/// Server streaming: every message in order, then the status in real trailers after the
/// messages — OK, or the server's error with its metadata.
#[tokio::test]
async fn server_streaming_and_trailers() {
    let scene = Scene::start().await;
    for via in BOTH {
        let mut client = scene.client(via, OK).await;
        let mut stream = client
            .server_stream(Request::new(msg("tick", 5, 10)))
            .await
            .unwrap_or_else(|s| panic!("{via:?}: {s:?}"))
            .into_inner();
        let (texts, end) = drain(&mut stream).await;
        assert_eq!(texts, ["tick-0", "tick-1", "tick-2", "tick-3", "tick-4"]);
        assert!(end.is_ok(), "{via:?}: {end:?}");

        let mut stream = client
            .server_stream(Request::new(msg(FAIL, 2, 0)))
            .await
            .expect("headers")
            .into_inner();
        let (texts, end) = drain(&mut stream).await;
        assert_eq!(texts, ["fail-0", "fail-1"], "{via:?}");
        assert_refusal(&end.expect_err("ends with the server's error"), via);
    }
}

/// Client streaming: the server answers once the request stream ends.
#[tokio::test]
async fn client_streaming() {
    let scene = Scene::start().await;
    for via in BOTH {
        let mut client = scene.client(via, OK).await;
        let messages = futures_util::stream::iter(["a", "b", "c", "d"].map(|t| msg(t, 0, 0)));
        let answer = timeout(WAIT, client.client_stream(Request::new(messages)))
            .await
            .expect("in time")
            .unwrap_or_else(|s| panic!("{via:?}: {s:?}"))
            .into_inner();
        assert_eq!((answer.text.as_str(), answer.n), ("a,b,c,d", 4), "{via:?}");
    }
}

/// Sends `texts` one at a time on a bidi call to `host`, each answer awaited before the next
/// message goes (so the proxy relays both directions at once, not the request first), with
/// `pause` between them; then ends the request and expects OK.
async fn bidi_round_trips(client: &mut Client, texts: &[String], pause: Duration) {
    let (tx, messages) = channel_stream();
    let mut answers = timeout(WAIT, client.bidi(Request::new(messages)))
        .await
        .expect("in time")
        .expect("bidi call")
        .into_inner();
    for text in texts {
        tx.send(msg(text, 0, 0)).await.expect("send");
        let answer = timeout(WAIT, answers.message())
            .await
            .expect("an answer in time");
        assert_eq!(answer.expect("status").expect("a message").text, *text);
        tokio::time::sleep(pause).await;
    }
    drop(tx);
    let (rest, end) = drain(&mut answers).await;
    assert!(rest.is_empty() && end.is_ok(), "{rest:?} {end:?}");
}

/// Bidirectional streaming, over h2c and TLS to Strait.
#[tokio::test]
async fn bidi_streaming() {
    let scene = Scene::start().await;
    let texts: Vec<String> = ["one", "two", "three"].map(String::from).into();
    for via in BOTH {
        let mut client = scene.client(via, OK).await;
        bidi_round_trips(&mut client, &texts, Duration::ZERO).await;
    }
}

/// "should return OK for service with backend protocol GRPCS" / "… with backend TLS"
/// (grpc.go): the four kinds of call to a tonic server behind TLS (ALPN `h2`, not verified by
/// default as nginx's `proxy_ssl_verify off`), from clients over h2c and TLS.
#[tokio::test]
async fn grpcs_backend() {
    let scene = Scene::start().await;
    for via in BOTH {
        let mut client = scene.client(via, GRPCS).await;
        let reply = timeout(WAIT, client.unary(Request::new(msg("secure", 0, 0))))
            .await
            .expect("in time")
            .unwrap_or_else(|s| panic!("{via:?}: {s:?}"));
        assert_eq!(reply.into_inner().text, "secure");
        let mut stream = client
            .server_stream(Request::new(msg(FAIL, 1, 0)))
            .await
            .expect("headers")
            .into_inner();
        let (texts, end) = drain(&mut stream).await;
        assert_eq!(texts, ["fail-0"]);
        assert_refusal(&end.expect_err("trailers"), via);
        let messages = futures_util::stream::iter(["x", "y"].map(|t| msg(t, 0, 0)));
        let answer = client
            .client_stream(Request::new(messages))
            .await
            .expect("call");
        assert_eq!(answer.into_inner().text, "x,y");
        bidi_round_trips(&mut client, &["p".into(), "q".into()], Duration::ZERO).await;
    }
}

/// A unary call whose failure is the proxy's own; its status and how long it took.
async fn failed_call(client: &mut Client, request: Request<Msg>) -> (Status, Duration) {
    let started = Instant::now();
    let status = timeout(WAIT, client.unary(request))
        .await
        .expect("in time")
        .expect_err("the proxy fails the call");
    (status, started.elapsed())
}

/// The proxy's own errors as the `tonic::Code` a gRPC client acts on (docs/architecture.md
/// "Upstream protocols"; ingress-nginx answers HTML error pages, which a gRPC client turns into
/// UNIMPLEMENTED for 404 and UNAVAILABLE for 502–504): no route → Unimplemented, a Service
/// without endpoints or a refused connection → Unavailable, `proxy-read-timeout` passed or the
/// client's `grpc-timeout` passed → DeadlineExceeded, at that time and not the server's.
#[tokio::test]
async fn proxy_errors_are_grpc_codes() {
    let scene = Scene::start().await;
    for via in BOTH {
        let request = || Request::new(msg("x", 0, 0));
        let (status, _) =
            failed_call(&mut scene.client(via, "nowhere.test").await, request()).await;
        assert_eq!(status.code(), Code::Unimplemented, "{via:?}: {status:?}");
        for host in [EMPTY, REFUSED] {
            let (status, _) = failed_call(&mut scene.client(via, host).await, request()).await;
            assert_eq!(
                status.code(),
                Code::Unavailable,
                "{via:?} {host}: {status:?}"
            );
        }

        // The server waits 3 s; the route's read timeout is 1 s.
        let mut slow = scene.client(via, SLOW).await;
        let (status, took) = failed_call(&mut slow, Request::new(msg("late", 3000, 0))).await;
        assert_eq!(status.code(), Code::DeadlineExceeded, "{via:?}: {status:?}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2800),
            "{took:?}"
        );

        // The route's timeout is the default 60 s; the client's deadline is 300 ms.
        let mut request = Request::new(msg("late", 3000, 0));
        request.set_timeout(Duration::from_millis(300));
        let (status, took) = failed_call(&mut scene.client(via, OK).await, request).await;
        assert_eq!(status.code(), Code::DeadlineExceeded, "{via:?}: {status:?}");
        assert!(
            took < Duration::from_millis(2000),
            "cut at the client's deadline: {took:?}"
        );
    }
}

/// Long streams on a route with `proxy-read-timeout: 1`: nginx's `proxy_read_timeout` (and
/// `grpc_read_timeout`) is "between two successive read operations, not for the transmission
/// of the whole response" (annotations.md "Custom timeouts"), so a bidi stream and a server
/// stream that keep a message flowing every 300 ms for about 3 s are not cut; a server stream
/// silent for 2 s is (the timeout is in force on this route).
#[tokio::test]
async fn long_streams_outlive_the_read_timeout() {
    let scene = Scene::start().await;
    for via in BOTH {
        let mut client = scene.client(via, SLOW).await;
        let started = Instant::now();
        let texts: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
        bidi_round_trips(&mut client, &texts, Duration::from_millis(300)).await;
        assert!(
            started.elapsed() > Duration::from_millis(2500),
            "longer than the timeout"
        );

        let mut stream = client
            .server_stream(Request::new(msg("s", 10, 300)))
            .await
            .expect("headers")
            .into_inner();
        let (texts, end) = drain(&mut stream).await;
        assert_eq!(texts.len(), 10, "{via:?}: {end:?}");
        assert!(end.is_ok(), "{via:?}: {end:?}");

        let mut stream = client
            .server_stream(Request::new(msg("s", 2, 2000)))
            .await
            .expect("headers")
            .into_inner();
        let (texts, end) = drain(&mut stream).await;
        assert_eq!(texts, ["s-0"], "{via:?}: cut after the first message");
        assert!(end.is_err(), "{via:?}: a cut stream is an error, not OK");
    }
}
