//! The limits without sockets: GCRA against a model of nginx's `limit_req`, the bounds of the
//! zones, the registry's sharing, sweeping and retirement. The same behaviour through the real
//! proxy is in `e2e/tests/limits.rs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use strait_shared::ObjectKey;
use strait_shared::table::{Limits, RateLimit};

use super::registry::{IngressZones, Registry, SWEEP_INTERVAL};
use super::zone::{self, ConnZone, Full, Gcra, Pending, RateZone, SHARD_CAPACITY, ZONE_CAPACITY};
use super::{LimitState, Verdict, decide};
use crate::error::LimitKind;
use crate::metrics::ProxyMetrics;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn v6(n: u64) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(u128::from(n) | (0x2001_0db8_u128 << 96)))
}

fn rps(n: u32, multiplier: u32) -> Option<RateLimit> {
    Some(RateLimit::new(n, Duration::from_secs(1), multiplier))
}

fn limits(rps: Option<RateLimit>, rpm: Option<RateLimit>, connections: Option<u32>) -> Limits {
    Limits {
        rps,
        rpm,
        connections,
        allow: Box::default(),
    }
}

fn ingress(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

// ---- GCRA is nginx's limit_req with nodelay ----

/// nginx's `ngx_http_limit_req_lookup` for one key, `nodelay`: excess in thousandths of a
/// request, time in milliseconds, `rate` in requests per second (nginx stores `rate × 1000`).
struct NginxBucket {
    state: Option<(i64, u64)>,
    rate: i64,
    burst: i64,
}

impl NginxBucket {
    fn request(&mut self, now_ms: u64) -> bool {
        let Some((excess, last)) = self.state else {
            self.state = Some((0, now_ms));
            return true;
        };
        let ms = (now_ms - last) as i64;
        let excess = (excess - self.rate * 1000 * ms / 1000 + 1000).max(0);
        if excess > self.burst * 1000 {
            return false;
        }
        self.state = Some((excess, if ms != 0 { now_ms } else { last }));
        true
    }
}

/// GCRA decides every request as nginx does, for rates whose interval is a whole number of
/// nanoseconds: `burst + 1` at once, then one per interval, rejections not counted
/// (annotations.md "Rate Limiting": burst = limit × multiplier; nginx's limit_req module doc,
/// `nodelay`).
#[test]
fn gcra_decides_as_nginx_limit_req_nodelay() {
    let hold = |(rate_pick, multiplier, gaps): (u8, u8, Vec<u16>)| {
        let rates = [1u32, 2, 4, 5, 8, 10, 20, 25, 50, 100, 1000];
        let rate = rates[usize::from(rate_pick) % rates.len()];
        let multiplier = u32::from(multiplier % 7);
        let gcra = Gcra::of(&RateLimit::new(rate, Duration::from_secs(1), multiplier));
        let mut nginx = NginxBucket {
            state: None,
            rate: i64::from(rate),
            burst: i64::from(rate * multiplier),
        };
        let (mut tat, mut now_ms) = (None, 5_000u64);
        for gap in gaps {
            now_ms += u64::from(gap % 1500);
            let ours = zone::admit(tat, now_ms * MS, gcra);
            if let Some(next) = ours {
                tat = Some(next);
            }
            assert_eq!(
                ours.is_some(),
                nginx.request(now_ms),
                "rate {rate}/s, burst ×{multiplier}, at {now_ms} ms"
            );
        }
    };
    hold((0, 5, vec![0; 20]));
    hold((5, 0, vec![0, 50, 100, 99, 1, 0, 100]));
    hold((9, 1, vec![3; 200]));
    bolero::check!()
        .with_type::<(u8, u8, Vec<u16>)>()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input| hold(input.clone()));
}

/// annotations.md "Rate Limiting": `limit-rps: 1` with the default multiplier passes 6 at
/// once (the request, plus a burst of 5), then one a second.
#[test]
fn a_fresh_client_gets_its_burst_then_the_rate() {
    let gcra = Gcra::of(&RateLimit::new(1, Duration::from_secs(1), 5));
    let mut tat = None;
    let mut passed = 0;
    for _ in 0..10 {
        if let Some(next) = zone::admit(tat, 10 * S, gcra) {
            tat = Some(next);
            passed += 1;
        }
    }
    assert_eq!(passed, 6);
    assert_eq!(zone::admit(tat, 10 * S + 999 * MS, gcra), None);
    assert!(zone::admit(tat, 11 * S, gcra).is_some());
}

// ---- zones stay bounded ----

/// An attacker rotating addresses cannot grow a rate zone past its bound, and a client that
/// used its burst keeps its state while the one-request addresses are forgotten first.
#[test]
fn a_rate_zone_is_bounded_and_forgets_the_cheapest_clients_first() {
    let zone = RateZone::new();
    let gcra = Gcra::of(&RateLimit::new(1, Duration::from_secs(60), 5));
    let now = 100 * S;
    let heavy = v6(u64::MAX);
    while let Some(pending) = Pending::decide(&zone, heavy, now, gcra) {
        pending.commit(now);
    }
    for n in 0..(2 * ZONE_CAPACITY as u64) {
        let pending = Pending::decide(&zone, v6(n), now, gcra).expect("a new client passes");
        pending.commit(now);
    }
    let held: usize = zone.0.lock_all().iter().map(|m| m.len()).sum();
    assert!(held <= ZONE_CAPACITY, "{held} entries");
    assert!(held >= ZONE_CAPACITY / 2, "{held}: eviction keeps most");
    assert!(
        Pending::decide(&zone, heavy, now, gcra).is_none(),
        "the client that used its burst is still over it"
    );
}

/// A full shard first forgets clients whose arrival time has passed: they are as good as new.
#[test]
fn make_room_drops_expired_entries_first() {
    let mut map = std::collections::HashMap::with_hasher(std::hash::RandomState::new());
    for n in 0..SHARD_CAPACITY as u64 {
        // Half expired at 50 s, half in the future.
        let tat = if n % 2 == 0 { 10 * S } else { 90 * S };
        map.insert(v6(n), tat);
    }
    zone::make_room(&mut map, 50 * S);
    assert_eq!(map.len(), SHARD_CAPACITY / 2);
    assert!(map.values().all(|tat| *tat == 90 * S));
}

/// nginx's `limit_conn`: at most the limit in flight per client, freed as requests end; a
/// full zone refuses new clients (its counts cannot be forgotten).
#[test]
fn a_connection_zone_counts_requests_in_flight_and_refuses_when_full() {
    let zone = ConnZone::new();
    let client = ip(7);
    assert_eq!(zone.acquire(client, 2, || true), Ok(true));
    assert_eq!(zone.acquire(client, 2, || true), Ok(true));
    assert_eq!(zone.acquire(client, 2, || true), Err(Full::Client));
    assert_eq!(zone.acquire(ip(8), 2, || true), Ok(true), "another client");
    zone.release(client);
    assert_eq!(zone.acquire(client, 2, || true), Ok(true));
    zone.release(client);
    zone.release(client);
    zone.release(ip(8));
    let held: usize = zone.0.lock_all().iter().map(|m| m.len()).sum();
    assert_eq!(held, 0, "entries go away at 0");
    assert_eq!(
        zone.acquire(client, 2, || false),
        Ok(false),
        "retired: nothing counted"
    );

    let mut refused = 0;
    for n in 0..(ZONE_CAPACITY as u64 + 1000) {
        match zone.acquire(v6(n), 1, || true) {
            Ok(_) => {}
            Err(Full::Zone) => refused += 1,
            Err(Full::Client) => panic!("one request each"),
        }
    }
    let held: usize = zone.0.lock_all().iter().map(|m| m.len()).sum();
    assert!(
        held <= ZONE_CAPACITY && refused >= 1000,
        "{held} held, {refused} refused"
    );
}

// ---- decisions on one registry entry ----

fn entry() -> Arc<IngressZones> {
    Registry::new().resolve(&ingress("i"), 0)
}

/// ingress-nginx writes one `limit_req` per zone (template `buildRateLimit`); nginx accounts
/// its zones only once all passed, so a request refused by `limit-rpm` costs no `limit-rps`.
#[test]
fn both_rates_apply_and_a_refusal_costs_neither() {
    let zones = entry();
    // 10 r/s with burst 10; 2 r/min with burst 0.
    let l = limits(
        rps(10, 1),
        Some(RateLimit::new(2, Duration::from_secs(60), 0)),
        None,
    );
    let now = 5 * S;
    let kinds: Vec<Option<LimitKind>> = (0..4)
        .map(|_| match decide(&zones, &l, ip(1), now) {
            Verdict::Pass(_) => None,
            Verdict::Over(kind) => Some(kind),
            Verdict::Retired => panic!("retired"),
        })
        .collect();
    // rpm 2 with burst 0: one passes, then one every 30 s.
    assert_eq!(
        kinds,
        [
            None,
            Some(LimitKind::Rpm),
            Some(LimitKind::Rpm),
            Some(LimitKind::Rpm)
        ]
    );
    // The rps zone counted one request only: ten more pass it (burst 10 + 1 - 1) at once.
    let rps_only = limits(rps(10, 1), None, None);
    let passed = (0..20)
        .filter(|_| matches!(decide(&zones, &rps_only, ip(1), now), Verdict::Pass(_)))
        .count();
    assert_eq!(passed, 10);
}

/// annotations.md "Rate Limiting", `limit-whitelist`: listed clients are not limited (the
/// template's `geo` maps them to an empty key, which nginx does not count).
#[test]
fn allowlisted_clients_are_not_counted() {
    let state = LimitState::new();
    let mut l = limits(rps(1, 0), None, Some(1));
    l.allow = vec!["127.0.0.0/30".parse().unwrap()].into();
    let metrics = ProxyMetrics::default();
    for _ in 0..5 {
        let slot = state.admit(&ingress("i"), &l, ip(2), &metrics);
        assert!(matches!(slot, Ok(None)), "exempt: no slot either");
    }
    assert_eq!(state.zones_held(), 0, "nothing was counted");
    assert!(state.admit(&ingress("i"), &l, ip(9), &metrics).is_ok());
    assert_eq!(
        state.admit(&ingress("i"), &l, ip(9), &metrics).err(),
        Some(LimitKind::Rps)
    );
}

/// One replica, many workers: every worker's sibling counts into the same zones, and the
/// slot a request holds frees its place when dropped.
#[test]
fn workers_share_the_zones_and_slots_free_their_place() {
    let first = LimitState::new();
    let second = first.for_worker();
    let metrics = ProxyMetrics::default();
    let l = limits(None, None, Some(2));
    let a = first.admit(&ingress("i"), &l, ip(3), &metrics).unwrap();
    let b = second.admit(&ingress("i"), &l, ip(3), &metrics).unwrap();
    assert!(a.is_some() && b.is_some());
    assert_eq!(
        first.admit(&ingress("i"), &l, ip(3), &metrics).err(),
        Some(LimitKind::Connections)
    );
    assert!(
        second.admit(&ingress("other"), &l, ip(3), &metrics).is_ok(),
        "another Ingress has its own zone"
    );
    drop(a);
    assert!(second.admit(&ingress("i"), &l, ip(3), &metrics).is_ok());
}

// ---- idle entries are dropped, never split ----

/// The sweep retires an entry that holds no state and was not looked up for an interval; a
/// worker that still caches it looks the Ingress up again instead of counting into it.
#[test]
fn idle_entries_are_retired_and_stale_caches_look_again() {
    let registry = Registry::new();
    let interval = u64::try_from(SWEEP_INTERVAL.as_nanos()).unwrap();
    let l = limits(rps(1, 0), None, Some(1));
    let busy = registry.resolve(&ingress("busy"), 0);
    let idle = registry.resolve(&ingress("idle"), 0);
    let slot = match decide(&busy, &l, ip(1), 1) {
        Verdict::Pass(slot) => slot.expect("a slot"),
        _ => panic!("first request passes"),
    };
    assert!(matches!(decide(&idle, &l, ip(1), 1), Verdict::Pass(_)));
    // Another Ingress's lookup, an interval later, sweeps: `idle`'s slot was freed and its
    // arrival time (1 s) has passed; `busy` still has a request in flight.
    let later = interval + 2 * S;
    let _ = registry.resolve(&ingress("third"), later);
    assert!(idle.is_retired(), "no state, not looked up: retired");
    assert!(!busy.is_retired(), "a request in flight keeps it");
    assert!(matches!(decide(&idle, &l, ip(1), later), Verdict::Retired));
    let again = registry.resolve(&ingress("idle"), later + S);
    assert!(!Arc::ptr_eq(&again, &idle) && !again.is_retired());
    // Once the slot is back and the next interval passed, `busy` goes too; an entry just
    // handed out stays however empty it is.
    drop(slot);
    let _ = registry.resolve(&ingress("fourth"), later + interval);
    assert!(busy.is_retired());
    assert!(
        !again.is_retired(),
        "looked up less than an interval ago: kept"
    );
    assert_eq!(registry.len(), 2, "fourth and idle again (third was idle)");
}

/// An entry whose clients still have rate state is kept: dropping it would hand them a fresh
/// burst.
#[test]
fn rate_state_keeps_its_entry() {
    let registry = Registry::new();
    let interval = u64::try_from(SWEEP_INTERVAL.as_nanos()).unwrap();
    let zones = registry.resolve(&ingress("i"), 0);
    // 1 r/min, burst 5: six requests push the arrival time six minutes ahead.
    let l = limits(
        None,
        Some(RateLimit::new(1, Duration::from_secs(60), 5)),
        None,
    );
    for _ in 0..6 {
        assert!(matches!(decide(&zones, &l, ip(1), S), Verdict::Pass(None)));
    }
    assert!(matches!(
        decide(&zones, &l, ip(1), S),
        Verdict::Over(LimitKind::Rpm)
    ));
    let later = interval + S;
    let _ = registry.resolve(&ingress("other"), later);
    assert!(!zones.is_retired());
    // A minute later one more passes, then the client is over again: a fresh zone would
    // have passed six.
    assert!(matches!(
        decide(&zones, &l, ip(1), later),
        Verdict::Pass(None)
    ));
    assert!(matches!(
        decide(&zones, &l, ip(1), later),
        Verdict::Over(LimitKind::Rpm)
    ));
}
