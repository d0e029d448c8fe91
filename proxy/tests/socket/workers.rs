//! Per-core workers (`strait_proxy::workers`): each worker keeps its connections and its
//! upstream pool to itself under load.

use std::num::NonZeroUsize;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::StatusCode;
use strait_proxy::{Proxy, ProxyConfig, SharedTable, workers};
use tokio::sync::watch;

use crate::support::*;

/// Client connections opened at once; each sends several requests. With the kernel spreading
/// connections over the workers' sockets by their ports, every worker gets some.
const CLIENTS: usize = 64;
const REQUESTS_PER_CLIENT: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_serves_from_its_own_pool_and_no_other() {
    let a = named("a").await;
    let table: SharedTable = Arc::new(ArcSwap::from_pointee(table(vec![rule(
        "app.test",
        &[a.addr],
    )])));
    let proxy = Proxy::new(ProxyConfig::default(), table);
    let count = NonZeroUsize::new(2).unwrap();
    let http = workers::bind("127.0.0.1:0".parse().unwrap(), count).unwrap();
    let https = workers::bind("127.0.0.1:0".parse().unwrap(), count).unwrap();
    let addr = http[0].local_addr().unwrap();
    let tls = strait_proxy::tls::server_config(
        Arc::clone(proxy.table()),
        strait_proxy::tls::self_signed_certificate().unwrap(),
    )
    .unwrap();
    let (stop, shutdown) = watch::channel(false);
    let running = workers::start(&proxy, workers::pair(http, https), &tls, &shutdown).unwrap();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = h1(addr).await;
                for _ in 0..REQUESTS_PER_CLIENT {
                    let reply = send(&mut sender, get_request("app.test", "/")).await;
                    assert_eq!(reply.status, StatusCode::OK);
                    assert!(reply.body.starts_with("a\n"), "{}", reply.body);
                }
            })
        })
        .collect();
    for client in clients {
        within("a client's requests", client).await.unwrap();
    }

    let proxies = running.proxies();
    assert_eq!(proxies.len(), 2);
    for (index, worker) in proxies.iter().enumerate() {
        assert!(
            worker.idle_upstream_connections() > 0,
            "worker {index} served none of {CLIENTS} connections"
        );
        assert_eq!(
            worker.foreign_pool_uses(),
            0,
            "worker {index}'s pool was used from another thread"
        );
    }
    stop.send_replace(true);
    within("the workers' drain", running.wait()).await.unwrap();
}
