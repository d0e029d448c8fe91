//! The per-request cost of keyed endpoint choice (docs/architecture.md, "Session affinity and
//! consistent hashing"): hashing `$request_uri` and looking it up on a backend's ring, a
//! balanced session's ring lookup, a persistent session's token lookup, and building the ring
//! (once per endpoint change), for 3, 30 and 300 endpoints.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strait_shared::Endpoint;
use strait_shared::table::affinity::CookieValue;
use strait_shared::table::hash_by::{HashBy, KeyRequest};
use strait_shared::table::hash_ring::Keyed;

fn endpoints(n: usize) -> Vec<Endpoint> {
    (0..n)
        .map(|i| Endpoint {
            addr: SocketAddr::from(([10, 1, (i / 250) as u8, (i % 250) as u8 + 1], 8080)),
            weight: 1,
        })
        .collect()
}

fn pick(c: &mut Criterion) {
    let mut group = c.benchmark_group("affinity_pick");
    let by = HashBy::parse("$request_uri").expect("valid");
    let uri: http::Uri = "/api/v1/items/12345?view=full".parse().expect("uri");
    let headers = http::HeaderMap::new();
    let request = KeyRequest {
        uri: &uri,
        headers: &headers,
        host: "shop.example",
        client: std::net::IpAddr::from([192, 0, 2, 1]),
        https: false,
    };
    for n in [3, 30, 300] {
        let list = endpoints(n);
        let keyed = Keyed::build(Arc::from(&b"uid"[..]), &list, &[]);
        group.bench_with_input(BenchmarkId::new("hash_request_uri", n), &keyed, |b, k| {
            b.iter(|| k.lookup(by.hash(black_box(&request))))
        });
        let balanced = b"0123456789abcdef|0011223344556677";
        group.bench_with_input(BenchmarkId::new("balanced_session", n), &keyed, |b, k| {
            b.iter(|| {
                let session = CookieValue::parse(black_box(balanced));
                session.position().and_then(|p| k.lookup(p))
            })
        });
        let mut token = Vec::new();
        strait_shared::table::affinity::push_hex(&mut token, keyed.token(n / 2).expect("token"));
        group.bench_with_input(BenchmarkId::new("persistent_session", n), &keyed, |b, k| {
            b.iter(|| {
                let session = CookieValue::parse(black_box(&token));
                session.token().and_then(|t| k.endpoint_of(&t))
            })
        });
        group.bench_with_input(BenchmarkId::new("build_ring", n), &list, |b, list| {
            b.iter(|| Keyed::build(Arc::from(&b"uid"[..]), black_box(list), &[]))
        });
    }
    group.finish();
}

criterion_group!(benches, pick);
criterion_main!(benches);
