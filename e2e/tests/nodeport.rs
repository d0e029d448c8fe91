//! nodeport backends ("two hops"): Node InternalIP × nodePort, `externalTrafficPolicy`-aware.
//! Nodes are played by 127.0.0.x addresses, each with an echo backend on the same port.

use std::collections::HashMap;

use serde_json::json;
use strait_e2e::manifests::{Ep, IngressB, endpoint_slice, node, our_class};
use strait_e2e::{Echo, Manifests, get, start};
use tokio::net::TcpListener;

/// Echo backends named after nodes, all on one port (the nodePort).
async fn nodes(ips: &[[u8; 4]]) -> (u16, Vec<Echo>) {
    'retry: for _ in 0..20 {
        let first = TcpListener::bind((std::net::Ipv4Addr::from(ips[0]), 0))
            .await
            .unwrap();
        let port = first.local_addr().unwrap().port();
        let mut listeners = vec![first];
        for ip in &ips[1..] {
            match TcpListener::bind((std::net::Ipv4Addr::from(*ip), port)).await {
                Ok(l) => listeners.push(l),
                Err(_) => continue 'retry,
            }
        }
        let echoes = listeners
            .into_iter()
            .enumerate()
            .map(|(i, l)| Echo::on(l, &format!("node-{i}")))
            .collect();
        return (port, echoes);
    }
    panic!("could not bind one port on every node address");
}

fn nodeport_service(node_port: u16, policy: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.20",
            "externalTrafficPolicy": policy,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": node_port}]
        }
    })
}

async fn spread(addr: std::net::SocketAddr, n: usize) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for _ in 0..n {
        let r = get(addr, "np.test", "/").await;
        assert_eq!(r.status, 200, "{}", r.text());
        *seen.entry(r.echo_name().unwrap()).or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn local_policy_weights_nodes_by_ready_endpoint_count() {
    let (port, _echoes) = nodes(&[[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]]).await;
    let m = Manifests::new();
    let pod = |ip: &str, n: &str| Ep::ready(format!("{ip}:8080").parse().unwrap()).on_node(n);
    let eps = [
        pod("127.0.1.1", "node-a"),
        pod("127.0.1.2", "node-b"),
        pod("127.0.1.3", "node-b"),
        pod("127.0.1.4", "node-b"),
        pod("127.0.1.5", "node-c").not_ready(),
    ];
    m.write_list(
        "all.json",
        &[
            our_class(),
            node("node-a", "127.0.0.2"),
            node("node-b", "127.0.0.3"),
            node("node-c", "127.0.0.4"),
            nodeport_service(port, "Local"),
            endpoint_slice("default", "web-1", "web", "http", 8080, &eps),
            IngressB::new("default", "np")
                .annotation("strait.dev/backend-mode", "nodeport")
                .rule("np.test", "/", "Prefix", "web", 80)
                .build(),
        ],
    );
    let s = start(m.path()).await;
    let seen = spread(s.http_addr, 400).await;
    let a = seen.get("node-0").copied().unwrap_or(0);
    let b = seen.get("node-1").copied().unwrap_or(0);
    let c = seen.get("node-2").copied().unwrap_or(0);
    assert_eq!(
        c, 0,
        "node-c hosts no ready endpoint and must get nothing: {seen:?}"
    );
    assert!((80..=120).contains(&a), "node-a should get ~25%: {seen:?}");
    assert!((280..=320).contains(&b), "node-b should get ~75%: {seen:?}");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn cluster_policy_spreads_over_every_ready_node() {
    let (port, _echoes) = nodes(&[[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]]).await;
    let m = Manifests::new();
    let eps = [Ep::ready("127.0.1.1:8080".parse().unwrap()).on_node("node-a")];
    let mut cfg = strait_e2e::config(m.path());
    cfg.compile.backend_mode = strait_shared::BackendMode::NodePort;
    m.write_list(
        "all.json",
        &[
            our_class(),
            node("node-a", "127.0.0.2"),
            node("node-b", "127.0.0.3"),
            node("node-c", "127.0.0.4"),
            nodeport_service(port, "Cluster"),
            endpoint_slice("default", "web-1", "web", "http", 8080, &eps),
            IngressB::new("default", "np")
                .rule("np.test", "/", "Prefix", "web", 80)
                .build(),
        ],
    );
    let s = strait_controller::serve::start(cfg).await.unwrap();
    let seen = spread(s.http_addr, 90).await;
    for name in ["node-0", "node-1", "node-2"] {
        let n = seen.get(name).copied().unwrap_or(0);
        assert!((20..=40).contains(&n), "{name} should get ~1/3: {seen:?}");
    }
    s.shutdown().await.unwrap();
}
