//! Per-client state of one limit of one Ingress: a bounded, sharded map from client address
//! to state, shared by every worker of the process (one Strait process is one replica, and
//! ingress-nginx's zones are per replica too).
//!
//! - **Rate zones** keep GCRA's theoretical arrival time per client ([`admit`]), which is
//!   nginx's leaky bucket with `nodelay` stated another way (see [`admit`]'s proof sketch).
//! - **Connection zones** keep the number of requests in flight per client; an entry goes
//!   away when its count returns to 0.
//!
//! **Bounded memory.** A zone holds at most [`ZONE_CAPACITY`] clients ([`SHARDS`] shards of
//! [`SHARD_CAPACITY`]), about what nginx's 5 MB zone (ingress-nginx's `defSharedSize`)
//! holds. A rate shard that is full first forgets expired entries (a client whose arrival
//! time has passed is in the same state as one never seen), then the eighth of its entries
//! closest to expiry: forgetting a client gives it back at most what it would regain by
//! waiting that long, and the clients that send the most keep their state. This is nginx's
//! own answer to a full zone (it frees the least recently used states). A full connection
//! shard refuses new clients, as nginx's `limit_conn` does when its zone is full: counts of
//! requests in flight cannot be forgotten without letting more in. So an attacker rotating
//! addresses (IPv6, or `X-Forwarded-For` behind a trusted proxy) cannot grow a zone past its
//! bound; the shard of an address is chosen by a keyed hash (SipHash with per-process random
//! keys), so it cannot aim at one shard either.
//!
//! **Locks.** Each shard is a `Mutex` on its own cache line; a request takes one shard lock
//! per limit, held for a hash-map probe. Only routes with limits pay for it. A lock is never
//! held across an await.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use strait_shared::table::RateLimit;

/// Clients one zone keeps at most.
pub(crate) const ZONE_CAPACITY: usize = 65_536;
/// Shards per zone; a power of two, more than one.
pub(crate) const SHARDS: usize = 32;
const _: () = assert!(SHARDS.is_power_of_two() && SHARDS > 1);
/// Clients one shard keeps at most.
pub(crate) const SHARD_CAPACITY: usize = ZONE_CAPACITY / SHARDS;

type Map<V> = HashMap<IpAddr, V, RandomState>;

/// One shard, alone on its cache line(s) so that two workers locking two shards do not
/// contend.
#[derive(Debug)]
#[repr(align(64))]
struct Shard<V>(Mutex<Map<V>>);

/// The sharded map of one zone.
#[derive(Debug)]
pub(crate) struct Table<V> {
    shards: Box<[Shard<V>]>,
    /// Picks the shard of an address; keyed per zone, so the spread cannot be predicted.
    pick: RandomState,
}

impl<V> Table<V> {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Shard(Mutex::new(Map::default())))
                .collect(),
            pick: RandomState::new(),
        }
    }

    /// The locked shard of `client`.
    pub(crate) fn shard(&self, client: IpAddr) -> MutexGuard<'_, Map<V>> {
        // The top bits pick the shard; the map inside hashes with keys of its own.
        let index = (self.pick.hash_one(client) >> (64 - SHARDS.trailing_zeros())) as usize;
        lock(&self.shards[index].0)
    }

    /// Every shard, locked in index order (the sweep's order; a request holds one shard of a
    /// zone at a time, so the two cannot deadlock).
    pub(crate) fn lock_all(&self) -> Vec<MutexGuard<'_, Map<V>>> {
        self.shards.iter().map(|s| lock(&s.0)).collect()
    }
}

/// A shard's lock. A panic while it was held (a bug) leaves the map itself consistent (no
/// operation here panics between two writes), so the state is used rather than lost.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Frees memory a map no longer needs once it is mostly empty (after a burst of clients went
/// quiet), with slack so that it does not shrink and grow again at every step.
fn shrink<V>(map: &mut Map<V>) {
    if map.capacity() > 64 && map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

// ---- rate zones ----

/// The GCRA parameters of one rate, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// What one request costs: `per / requests`.
    pub interval: u64,
    /// How far ahead of now a client's schedule may run: `burst × interval`.
    pub tolerance: u64,
}

impl Gcra {
    pub(crate) fn of(rate: &RateLimit) -> Self {
        Self {
            interval: rate.interval_nanos(),
            tolerance: rate.tolerance_nanos(),
        }
    }
}

/// One GCRA step: a client whose theoretical arrival time is `tat` (`None`: never seen)
/// asks at `now`; returns its next arrival time if the request passes, `None` if it is over
/// the limit (and then its state does not change, as nginx keeps its excess on a rejection).
///
/// Equivalence with nginx's `limit_req` (`ngx_http_limit_req_lookup`, `nodelay`): nginx keeps
/// an excess `e` (in requests) and on each request computes `e' = max(e − rate·Δt + 1, 0)`,
/// refusing when `e' > burst`; a new client starts at `e = 0`. With `e = (tat − t)/T − 1` at
/// the time `t` of the last accepted request (`T` = interval), GCRA's refusal test,
/// `max(tat − now, 0) > burst·T`, is exactly `e' > burst`, and a new client (`tat = now + T`
/// after it) is `e = 0`. So `burst + 1` requests pass at once, then one per interval (nginx
/// counts in whole milliseconds; this counts in nanoseconds).
pub(crate) fn admit(tat: Option<u64>, now: u64, gcra: Gcra) -> Option<u64> {
    let tat = tat.map_or(now, |t| t.max(now));
    (tat - now <= gcra.tolerance).then(|| tat.saturating_add(gcra.interval))
}

/// The per-client arrival times of one rate limit.
#[derive(Debug)]
pub(crate) struct RateZone(pub(crate) Table<u64>);

impl RateZone {
    pub(crate) fn new() -> Self {
        Self(Table::new())
    }
}

/// A rate step decided under its shard's lock and not yet stored: with two rates (rps and
/// rpm) both are decided before either is stored, so a request refused by one does not use
/// up the other (nginx accounts its `limit_req` zones only once every zone passed).
pub(crate) struct Pending<'a> {
    map: MutexGuard<'a, Map<u64>>,
    client: IpAddr,
    next: u64,
}

impl<'a> Pending<'a> {
    /// Decides `client`'s request at `now`; `None`: over the limit.
    pub(crate) fn decide(zone: &'a RateZone, client: IpAddr, now: u64, gcra: Gcra) -> Option<Self> {
        let map = zone.0.shard(client);
        let next = admit(map.get(&client).copied(), now, gcra)?;
        Some(Self { map, client, next })
    }

    /// Stores the decision. A new client in a full shard first makes room.
    pub(crate) fn commit(mut self, now: u64) {
        if self.map.len() >= SHARD_CAPACITY && !self.map.contains_key(&self.client) {
            make_room(&mut self.map, now);
        }
        self.map.insert(self.client, self.next);
    }
}

/// Forgets the expired entries of a full rate shard, then, if it is still full, the eighth
/// of its entries closest to expiry (see the module doc). The selection copies the arrival
/// times once per eighth of a shard inserted, not once per request.
pub(crate) fn make_room(map: &mut Map<u64>, now: u64) {
    map.retain(|_, tat| *tat > now);
    if map.len() < SHARD_CAPACITY {
        return;
    }
    let evict = SHARD_CAPACITY / 8;
    let mut tats: Vec<u64> = map.values().copied().collect();
    let (_, cut, _) = tats.select_nth_unstable(evict);
    let cut = *cut;
    // Everything before the cut goes, then as many at the cut as make up the eighth (clients
    // often share an arrival time: one request each at the same instant).
    let before = map.len();
    map.retain(|_, tat| *tat >= cut);
    let mut more = evict.saturating_sub(before - map.len());
    map.retain(|_, tat| {
        let drop = more > 0 && *tat == cut;
        more -= usize::from(drop);
        !drop
    });
}

/// Forgets expired entries of every shard and gives memory back; `true` when nothing is left
/// (the zone is then as good as new). Called by the sweep with every shard locked.
pub(crate) fn prune_rates(shards: &mut [MutexGuard<'_, Map<u64>>], now: u64) -> bool {
    let mut empty = true;
    for map in shards {
        map.retain(|_, tat| *tat > now);
        shrink(map);
        empty &= map.is_empty();
    }
    empty
}

// ---- connection zones ----

/// Why a connection slot was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The client has `limit` requests in flight already.
    Client,
    /// The shard holds [`SHARD_CAPACITY`] clients with requests in flight.
    Zone,
}

/// The requests in flight per client of one connection limit.
#[derive(Debug)]
pub(crate) struct ConnZone(pub(crate) Table<u32>);

impl ConnZone {
    pub(crate) fn new() -> Self {
        Self(Table::new())
    }

    /// Counts one more request of `client` if it has fewer than `limit` in flight. `ok` is
    /// asked under the shard's lock before anything is counted (the zone's retirement check);
    /// when it says no, nothing is counted and `Ok(false)` is returned.
    pub(crate) fn acquire(
        &self,
        client: IpAddr,
        limit: u32,
        ok: impl FnOnce() -> bool,
    ) -> Result<bool, Full> {
        let mut map = self.0.shard(client);
        if !ok() {
            return Ok(false);
        }
        let full = map.len() >= SHARD_CAPACITY;
        match map.get_mut(&client) {
            Some(count) if *count >= limit => Err(Full::Client),
            Some(count) => {
                *count += 1;
                Ok(true)
            }
            None if full => Err(Full::Zone),
            None if limit == 0 => Err(Full::Client),
            None => {
                map.insert(client, 1);
                Ok(true)
            }
        }
    }

    /// Counts one request of `client` as done; the entry goes away at 0.
    pub(crate) fn release(&self, client: IpAddr) {
        let mut map = self.0.shard(client);
        if let Some(count) = map.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&client);
                shrink(&mut map);
            }
        }
    }
}

/// Whether every shard is empty (no request in flight); gives memory back. Called by the
/// sweep with every shard locked.
pub(crate) fn idle_connections(shards: &mut [MutexGuard<'_, Map<u32>>]) -> bool {
    let mut empty = true;
    for map in shards {
        shrink(map);
        empty &= map.is_empty();
    }
    empty
}
