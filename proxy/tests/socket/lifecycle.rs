//! Connection lifecycle: idle keep-alive timeout and graceful shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use strait_proxy::ProxyConfig;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::support::*;

const IDLE: Duration = Duration::from_millis(200);

fn idle_config() -> ProxyConfig {
    ProxyConfig {
        idle_timeout: IDLE,
        ..ProxyConfig::default()
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let a = named("a").await;
    let proxy = Harness::start(idle_config(), table(vec![rule("app.test", &[a.addr])])).await;
    let (mut sender, conn) = h1_with_conn(proxy.addr).await;
    let reply = send(&mut sender, get_request("app.test", "/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let idle_since = Instant::now();
    within("the proxy to close the idle connection", conn)
        .await
        .unwrap();
    assert!(
        idle_since.elapsed() >= IDLE / 2,
        "closed after {:?}",
        idle_since.elapsed()
    );
}

#[tokio::test]
async fn an_idle_h2c_connection_is_closed() {
    let a = named("a").await;
    let proxy = Harness::start(idle_config(), table(vec![rule("app.test", &[a.addr])])).await;
    let (mut sender, conn) = h2(proxy.addr).await;
    let req = Request::get("http://app.test/")
        .version(Version::HTTP_2)
        .body(empty())
        .unwrap();
    let reply = collect(within("response", sender.send_request(req)).await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    within("the proxy to close the idle h2c connection", conn)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_request_in_flight_is_not_idle_time() {
    let slow = upstream(|req: Request<Incoming>| async move {
        if req.uri().path() == "/slow" {
            // Pacing: the upstream answers after several idle timeouts.
            tokio::time::sleep(IDLE * 3).await;
        }
        Response::new(full("done"))
    })
    .await;
    let proxy = Harness::start(idle_config(), table(vec![rule("app.test", &[slow.addr])])).await;
    let (mut sender, _conn) = h1_with_conn(proxy.addr).await;
    let reply = send(&mut sender, get_request("app.test", "/slow")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "done");
    // The connection was not marked for closing while the request was in flight.
    let reply = send(&mut sender, get_request("app.test", "/")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

/// An upstream that signals when a request arrives and answers when released.
struct Gate {
    arrived: Arc<Notify>,
    release: Arc<Notify>,
}

async fn gated() -> (Upstream, Gate) {
    let arrived = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let gate = Gate {
        arrived: Arc::clone(&arrived),
        release: Arc::clone(&release),
    };
    let up = upstream(move |_req: Request<Incoming>| {
        let arrived = Arc::clone(&arrived);
        let release = Arc::clone(&release);
        async move {
            arrived.notify_one();
            release.notified().await;
            Response::new(full("finished"))
        }
    })
    .await;
    (up, gate)
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let (up, gate) = gated().await;
    let mut proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[up.addr])]),
    )
    .await;
    let addr = proxy.addr;
    let request = tokio::spawn(async move { get(addr, "app.test", "/").await });
    within("the request to reach the upstream", gate.arrived.notified()).await;

    let server = proxy.shutdown();
    within("the listener to stop accepting", async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        !server.is_finished(),
        "serve_http waits for the in-flight request"
    );

    gate.release.notify_one();
    let reply = within("the in-flight response", request).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "finished");
    within("serve_http to return", server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn the_drain_timeout_caps_the_wait_for_stuck_requests() {
    let (up, gate) = gated().await;
    let config = ProxyConfig {
        drain_timeout: Duration::from_millis(200),
        ..ProxyConfig::default()
    };
    let mut proxy = Harness::start(config, table(vec![rule("app.test", &[up.addr])])).await;
    let (mut sender, conn) = h1_with_conn(proxy.addr).await;
    let request =
        tokio::spawn(async move { sender.send_request(get_request("app.test", "/")).await });
    within("the request to reach the upstream", gate.arrived.notified()).await;

    within("serve_http to return", proxy.shutdown())
        .await
        .unwrap()
        .unwrap();
    within("the stuck connection to be dropped", conn)
        .await
        .unwrap();
    assert!(
        within("the request to end", request)
            .await
            .unwrap()
            .is_err()
    );
}
