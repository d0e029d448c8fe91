//! Graceful drain, as on SIGTERM (docs/architecture.md, "Failure behaviour"): `/readyz` fails at
//! once, Strait keeps serving through the shutdown delay (new connections included), then stops
//! accepting, closes idle keep-alive connections, lets in-flight requests finish within the grace
//! period, and returns cleanly.
//!
//! The signal is the future `Running::run_until` waits on, exactly what the binary passes for
//! SIGTERM/SIGINT. The upstream here holds its answers until the test releases them, so
//! "in flight at SIGTERM" is a fact the test controls, not a timing guess.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Conn, DEADLINE, Manifests, eventually, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// How long Strait keeps serving after the signal before it stops accepting.
const DELAY: Duration = Duration::from_millis(1500);
/// Requests in flight when the signal comes.
const IN_FLIGHT: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_without_losing_a_request() {
    let (a, _b) = strait_e2e::echoes_ab().await;
    let held = HeldUpstream::start().await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("default", "held", &[held.addr]));
    items.push(
        IngressB::new("default", "drain")
            .rule("fast.test", "/", "Prefix", "a", 80)
            .rule("held.test", "/", "Prefix", "held", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    let mut config = strait_e2e::config(m.path());
    config.proxy.drain_timeout = DEADLINE;
    let running = strait_controller::serve::start(config).await.unwrap();
    let (http, admin) = (running.http_addr, running.admin_addr);

    // Requests in flight, each on its own connection, all received by the upstream.
    let mut held_rx = held.received;
    let mut in_flight = Vec::new();
    for _ in 0..IN_FLIGHT {
        in_flight.push(tokio::spawn(async move {
            let mut conn = Conn::open(http).await.expect("connect");
            conn.get("held.test", "/slow", &[]).await
        }));
    }
    for _ in 0..IN_FLIGHT {
        tokio::time::timeout(DEADLINE, held_rx.recv())
            .await
            .expect("the upstream received every request")
            .expect("upstream running");
    }
    // An idle keep-alive connection, open before the signal.
    let mut idle = Conn::open(http).await.unwrap();
    assert_eq!(idle.get("fast.test", "/", &[]).await.unwrap().status, 200);

    let (signal, on_signal) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(running.run_until(
        async move {
            let _ = on_signal.await;
        },
        DELAY,
    ));
    let signalled = Instant::now();
    signal.send(()).unwrap();

    // Readiness fails at once; the proxy keeps serving, new connections included.
    eventually("/readyz fails", || async {
        (get(admin, "localhost", "/readyz").await.status == 503).then_some(())
    })
    .await;
    let during = get(http, "fast.test", "/").await;
    assert_eq!(
        during.status, 200,
        "a connection opened during the delay is served"
    );
    assert!(
        signalled.elapsed() < DELAY,
        "checked within the delay (took {:?}); the machine is too slow for this test",
        signalled.elapsed()
    );

    // After the delay: no new connections, the idle keep-alive connection is closed.
    eventually("the listener stops accepting", || async {
        accepts_nothing(http).await.then_some(())
    })
    .await;
    assert!(
        signalled.elapsed() >= DELAY,
        "kept accepting through the delay"
    );
    let deadline = Instant::now() + DEADLINE;
    while !idle.is_closed() {
        assert!(
            Instant::now() < deadline,
            "the idle keep-alive connection is closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Every request in flight at the signal completes.
    held.release.send_replace(true);
    for request in in_flight {
        let reply = tokio::time::timeout(DEADLINE, request)
            .await
            .expect("in-flight request finishes")
            .unwrap()
            .expect("in-flight request answered");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "held");
    }
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("run_until returns within the grace period")
        .unwrap()
        .expect("clean shutdown");
}

/// Whether a new connection gets no HTTP answer: refused, or closed without a response.
async fn accepts_nothing(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return true;
    };
    let request = b"GET / HTTP/1.1\r\nHost: fast.test\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return true;
    }
    let mut buf = [0u8; 16];
    !matches!(
        tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// An HTTP/1.1 upstream that reports each request it receives and answers `200 held` only
/// once released.
struct HeldUpstream {
    addr: SocketAddr,
    received: mpsc::UnboundedReceiver<()>,
    release: watch::Sender<bool>,
}

impl HeldUpstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.4:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (received_tx, received) = mpsc::unbounded_channel();
        let (release, release_rx) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (received_tx, release_rx) = (received_tx.clone(), release_rx.clone());
                tokio::spawn(answer_when_released(stream, received_tx, release_rx));
            }
        });
        Self {
            addr,
            received,
            release,
        }
    }
}

async fn answer_when_released(
    mut stream: TcpStream,
    received: mpsc::UnboundedSender<()>,
    mut release: watch::Receiver<bool>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = received.send(());
    if release.wait_for(|released| *released).await.is_err() {
        return;
    }
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nheld";
    let _ = stream.write_all(response).await;
}
