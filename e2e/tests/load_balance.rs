//! Latency-aware balancing and passive outlier ejection through the real proxy
//! (docs/architecture.md, "Latency-aware balancing and outlier ejection").
//!
//! - `load-balance` (ingress-nginx annotations.md, "Custom NGINX load balancing"; configmap.md,
//!   "load-balance": `round_robin`, the default, or `ewma`; test/e2e/loadbalance/ewma.go and
//!   round_robin.go check that each mode is applied): with one endpoint 10× slower than the
//!   others, round robin gives it exactly 1/N, EWMA a small share.
//! - Passive ejection (Envoy's outlier detection, "consecutive gateway failure"; ingress-nginx
//!   has none): a dead endpoint stops getting attempts after the threshold and is used again
//!   once it is back and its ejection time has passed.
//!
//! Each test has loopback addresses of its own (127.33.<test>.x), endpoints of one Service on
//! one port, and Strait runs one worker, so round robin is exact.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::{Conn, Manifests, config, eventually};
use strait_proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// An endpoint that answers every request `200 ok` after `delay`, counting them.
struct Delayed {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Delayed {
    async fn start(ip: [u8; 4], port: u16, delay: Duration) -> Delayed {
        let listener = TcpListener::bind((Ipv4Addr::from(ip), port))
            .await
            .expect("bind endpoint");
        Self::on(listener, delay)
    }

    fn on(listener: TcpListener, delay: Duration) -> Delayed {
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let hits = Arc::clone(&counted);
                tokio::spawn(async move {
                    while read_head(&mut stream).await {
                        hits.fetch_add(1, Ordering::SeqCst);
                        // The endpoint's latency: the behaviour under test, not a wait.
                        tokio::time::sleep(delay).await;
                        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if stream.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Delayed { addr, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Reads one bodiless request head; `false` when the peer closed.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut data = Vec::new();
    let mut buf = [0u8; 2048];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Strait with one worker serving `hosts` (host, annotations) to one Service whose endpoints
/// are `addrs`.
async fn scene(
    hosts: &[(&str, &[(&str, &str)])],
    addrs: &[SocketAddr],
    tweak: impl FnOnce(&mut ProxyConfig),
) -> (Running, Manifests) {
    let mut items = vec![our_class()];
    for (i, (host, annotations)) in hosts.iter().enumerate() {
        let mut ingress =
            IngressB::new("default", &format!("lb{i}")).rule(host, "/", "Prefix", "svc", 80);
        for (key, value) in *annotations {
            ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
        }
        items.push(ingress.build());
    }
    items.extend(backend("default", "svc", addrs));
    let manifests = Manifests::new();
    manifests.write_list("lb.json", &items);
    let mut cfg = config(manifests.path());
    cfg.workers = 1;
    tweak(&mut cfg.proxy);
    let running = strait_controller::serve::start(cfg)
        .await
        .expect("strait starts");
    (running, manifests)
}

/// `clients` keep-alive clients sending `each` requests to `host` one after another; every
/// answer must be 200.
async fn drive(s: &Running, host: &str, clients: usize, each: usize) {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, host) = (s.http_addr, host.to_owned());
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await.expect("connect to strait");
                for _ in 0..each {
                    let reply = conn.get(&host, "/", &[]).await.expect("request");
                    assert_eq!(reply.status, 200, "{}", reply.text());
                }
            })
        })
        .collect();
    for task in tasks {
        let run = tokio::time::timeout(Duration::from_secs(60), task);
        run.await.expect("the clients finish").expect("client task");
    }
}

/// Waits until the route of `host` serves (the table is published).
async fn ready(s: &Running, host: &str) {
    let addr = s.http_addr;
    eventually("the route serves", || async move {
        let mut conn = Conn::open(addr).await.ok()?;
        let reply = conn.get(host, "/", &[]).await.ok()?;
        (reply.status == 200).then_some(())
    })
    .await;
}

/// Three endpoints, one 10× slower (100 ms against 10 ms), 4 clients × 60 requests per mode.
///
/// Round robin: one worker, one ticket per request, no retry: exactly 1/3 to each, 80.
///
/// EWMA, the bound: after its first answer the slow endpoint's estimate is at least 100 ms
/// (peak), and it decays as e^(-t/10 s), so for the first 2 s it stays above 80 ms. A fast
/// endpoint's cost is its estimate (10 ms plus scheduling noise) × (requests in flight + 1),
/// and with 4 clients at most 3 others are in flight: at most 40 ms plus noise. So once the
/// slow endpoint has answered, a pair holding it picks the other one; the whole run takes
/// about 240 × 10 ms / 4 ≈ 0.6 s. Before its first answer it can win while its estimate is
/// the seed (its rival's) and its requests in flight are few: a handful of requests at the
/// start. We assert at most 10 % (24), against round robin's 33 % (80); a noise spike of a fast
/// endpoint past 100 ms (which makes that endpoint the dearer one of its pairs for a while)
/// is what the margin between a handful and 24 absorbs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ewma_sends_a_small_share_to_a_10x_slower_endpoint_round_robin_a_third() {
    let fast = Duration::from_millis(10);
    let first = Delayed::start([127, 33, 1, 1], 0, fast).await;
    let port = first.addr.port();
    let second = Delayed::start([127, 33, 1, 2], port, fast).await;
    let slow = Delayed::start([127, 33, 1, 3], port, fast * 10).await;
    let addrs = [first.addr, second.addr, slow.addr];
    let hosts: &[(&str, &[(&str, &str)])] =
        &[("rr.test", &[]), ("ewma.test", &[("load-balance", "ewma")])];
    let (s, _m) = scene(hosts, &addrs, |_| {}).await;
    ready(&s, "rr.test").await;

    let before = slow.hits();
    let total = || first.hits() + second.hits() + slow.hits();
    let start = total();
    drive(&s, "rr.test", 4, 60).await;
    assert_eq!(total() - start, 240);
    assert_eq!(slow.hits() - before, 80, "round robin: exactly a third");

    let before = slow.hits();
    let start = total();
    drive(&s, "ewma.test", 4, 60).await;
    assert_eq!(total() - start, 240);
    let share = slow.hits() - before;
    assert!(share <= 24, "ewma gave the slow endpoint {share} of 240");
}

/// A dead endpoint (a closed port) among three: with the threshold at 3, after at most 3
/// refused attempts it is ejected (`strait_upstream_ejections_total` 1), and then no request
/// tries it (`strait_upstream_errors_total{kind="refused"}` stays put) while the ejection
/// lasts (2 s; 20 quick requests take far less). Once a listener is back on its address it is
/// used again after the ejection time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_is_ejected_and_comes_back() {
    let live = Delayed::start([127, 33, 2, 1], 0, Duration::ZERO).await;
    let port = live.addr.port();
    let other = Delayed::start([127, 33, 2, 2], port, Duration::ZERO).await;
    let dead: SocketAddr = ([127, 33, 2, 3], port).into();
    let (s, _m) = scene(
        &[("eject.test", &[])],
        &[live.addr, other.addr, dead],
        |p| {
            p.balance.outlier.consecutive_failures = 3;
            p.balance.outlier.base_ejection_time = Duration::from_secs(2);
        },
    )
    .await;
    ready(&s, "eject.test").await;
    let refused = |scrape: &Scrape| {
        scrape
            .get("strait_upstream_errors_total", &[("kind", "refused")])
            .unwrap_or(0.0)
    };
    let ejections = |scrape: &Scrape| scrape.get("strait_upstream_ejections_total", &[]);

    // Every request is answered (a refused connect goes to the next endpoint) until the dead
    // one is out.
    let mut conn = Conn::open(s.http_addr).await.expect("connect");
    let mut scrape = Scrape::of(&s).await;
    for _ in 0..12 {
        if ejections(&scrape) == Some(1.0) {
            break;
        }
        let reply = conn.get("eject.test", "/", &[]).await.expect("request");
        assert_eq!(reply.status, 200);
        scrape = Scrape::of(&s).await;
    }
    assert_eq!(ejections(&scrape), Some(1.0), "ejected after the threshold");
    assert_eq!(refused(&scrape), 3.0, "three refused attempts, then none");

    let served = live.hits() + other.hits();
    for _ in 0..20 {
        let reply = conn.get("eject.test", "/", &[]).await.expect("request");
        assert_eq!(reply.status, 200);
    }
    let after = Scrape::of(&s).await;
    assert_eq!(refused(&after), 3.0, "no attempt on the ejected endpoint");
    assert_eq!(live.hits() + other.hits() - served, 20);

    // Back on its address: used again once the ejection time is up.
    let back = Delayed::on(
        TcpListener::bind(dead).await.expect("rebind"),
        Duration::ZERO,
    );
    let addr = s.http_addr;
    eventually("the endpoint is used again", || {
        let back = &back;
        async move {
            let mut conn = Conn::open(addr).await.ok()?;
            conn.get("eject.test", "/", &[]).await.ok()?;
            (back.hits() > 0).then_some(())
        }
    })
    .await;
    assert_eq!(ejections(&Scrape::of(&s).await), Some(1.0));
}
