//! Where the limit zones live: outside the table, so a new table (published on every
//! endpoint change) does not reset them, and shared by every worker of the process.
//!
//! - [`Registry`]: one per process. Maps an Ingress to its [`IngressZones`] (one rate zone per
//!   rate, one connection zone), made on first use. The settings are not part of the key: a
//!   changed `limit-rps` applies to the state the clients already have, as nginx keeps a
//!   zone's state across reloads.
//! - [`Cache`]: one per worker, direct-mapped like the metric handles' cache, so a request
//!   does not take the registry's lock: a slot is a lock-free read.
//! - **Idle entries are dropped**: at most once per [`SWEEP_INTERVAL`], on a registry lookup, an
//!   entry that holds no state (no request in flight, every arrival time passed) and was not
//!   looked up during the last interval is *retired*: marked while every shard of its zones is
//!   locked, then removed. A worker that still has it cached sees the mark under the shard
//!   lock before it counts anything, and looks the Ingress up again, so two workers never
//!   count one client in two different zones. The registry thus holds the Ingresses whose
//!   clients have state, plus those looked up recently; the caches are bounded by their slots.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwapOption, Guard};
use strait_shared::ObjectKey;

use super::zone::{self, ConnZone, RateZone};
use crate::error::LimitKind;
use crate::metrics::{Counter, ProxyMetrics};

/// How often idle entries are looked for, and how long a looked-up entry is kept at least.
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Slots of a worker's cache; a power of two.
const SLOTS: usize = 256;

/// The zones of one Ingress, each made when a request first needs it.
pub(crate) struct IngressZones {
    ingress: ObjectKey,
    rps: OnceLock<RateZone>,
    rpm: OnceLock<RateZone>,
    connections: OnceLock<ConnZone>,
    rejections: [OnceLock<Counter>; LimitKind::ALL.len()],
    /// Set by the sweep, with every shard locked, when the entry left the registry.
    retired: AtomicBool,
    /// When the registry last handed this entry out (nanoseconds since its epoch).
    resolved: AtomicU64,
}

impl IngressZones {
    fn new(ingress: ObjectKey, now: u64) -> Self {
        Self {
            ingress,
            rps: OnceLock::new(),
            rpm: OnceLock::new(),
            connections: OnceLock::new(),
            rejections: std::array::from_fn(|_| OnceLock::new()),
            retired: AtomicBool::new(false),
            resolved: AtomicU64::new(now),
        }
    }

    pub(crate) fn rps_zone(&self) -> &RateZone {
        self.rps.get_or_init(RateZone::new)
    }

    pub(crate) fn rpm_zone(&self) -> &RateZone {
        self.rpm.get_or_init(RateZone::new)
    }

    pub(crate) fn conn_zone(&self) -> &ConnZone {
        self.connections.get_or_init(ConnZone::new)
    }

    /// Whether the sweep took this entry out of the registry. Read under a shard lock of one
    /// of its zones, it is exact (the sweep marks it holding every shard lock): the mutex
    /// orders the two, so a relaxed load is enough.
    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    /// Counts a request turned away by `kind`.
    pub(crate) fn rejected(&self, kind: LimitKind, metrics: &ProxyMetrics) {
        self.rejections[kind as usize]
            .get_or_init(|| metrics.limit_rejections(&self.ingress, kind))
            .inc();
    }

    /// Retires the entry if it holds no state and was not handed out since `fresh_after`;
    /// otherwise forgets what expired and keeps it.
    fn try_retire(&self, now: u64, fresh_after: u64) -> bool {
        let mut rates: Vec<_> = [self.rps.get(), self.rpm.get()]
            .into_iter()
            .flatten()
            .flat_map(|zone| zone.0.lock_all())
            .collect();
        let mut conns = self
            .connections
            .get()
            .map(|zone| zone.0.lock_all())
            .unwrap_or_default();
        let empty = zone::prune_rates(&mut rates, now) & zone::idle_connections(&mut conns);
        let idle = empty && self.resolved.load(Ordering::Relaxed) <= fresh_after;
        if idle {
            self.retired.store(true, Ordering::Relaxed);
        }
        idle
    }

    fn is(&self, ingress: &ObjectKey) -> bool {
        self.ingress == *ingress
    }
}

impl fmt::Debug for IngressZones {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngressZones")
            .field("ingress", &self.ingress)
            .field("retired", &self.is_retired())
            .finish_non_exhaustive()
    }
}

/// The process's zones, by Ingress.
#[derive(Debug)]
pub(crate) struct Registry {
    epoch: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    zones: HashMap<ObjectKey, Arc<IngressZones>>,
    last_sweep: u64,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            state: Mutex::default(),
        }
    }

    /// Now, in nanoseconds since the registry was made: the clock of every zone.
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The zones of `ingress`, made if needed; first sweeps idle entries when the last sweep
    /// is [`SWEEP_INTERVAL`] old. The entry returned is not retired, and will not be for at
    /// least one interval.
    pub(crate) fn resolve(&self, ingress: &ObjectKey, now: u64) -> Arc<IngressZones> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let interval = u64::try_from(SWEEP_INTERVAL.as_nanos()).unwrap_or(u64::MAX);
        if now.saturating_sub(state.last_sweep) >= interval {
            state.last_sweep = now;
            let fresh_after = now - interval;
            state
                .zones
                .retain(|_, zones| !zones.try_retire(now, fresh_after));
        }
        let zones = match state.zones.get(ingress) {
            Some(zones) => Arc::clone(zones),
            None => {
                let zones = Arc::new(IngressZones::new(ingress.clone(), now));
                state.zones.insert(ingress.clone(), Arc::clone(&zones));
                zones
            }
        };
        zones.resolved.store(now, Ordering::Relaxed);
        zones
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.zones.len()
    }
}

/// A worker's cache of [`IngressZones`] by Ingress.
pub(crate) struct Cache {
    slots: Box<[ArcSwapOption<IngressZones>]>,
}

impl Cache {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| ArcSwapOption::empty()).collect(),
        }
    }

    /// The zones of `ingress`: the cached entry unless it was retired, else the registry's
    /// (then cached). The guard reads the slot without touching the entry's reference count,
    /// which every worker would share.
    pub(crate) fn get(
        &self,
        registry: &Registry,
        ingress: &ObjectKey,
        now: u64,
    ) -> Guard<Option<Arc<IngressZones>>> {
        let slot = &self.slots[slot_of(ingress)];
        let cached = slot.load();
        if cached
            .as_ref()
            .is_some_and(|zones| zones.is(ingress) && !zones.is_retired())
        {
            return cached;
        }
        self.refresh(registry, ingress, now)
    }

    /// Looks `ingress` up in the registry and caches it (after a miss, or when the cached
    /// entry turned out to be retired).
    pub(crate) fn refresh(
        &self,
        registry: &Registry,
        ingress: &ObjectKey,
        now: u64,
    ) -> Guard<Option<Arc<IngressZones>>> {
        let zones = registry.resolve(ingress, now);
        self.slots[slot_of(ingress)].store(Some(Arc::clone(&zones)));
        Guard::from_inner(Some(zones))
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

fn slot_of(ingress: &ObjectKey) -> usize {
    // Names come from the cluster's objects, never from a request, and a collision only costs
    // a registry lookup: a fast unkeyed hash will do.
    let hash = foldhash::fast::FixedState::with_seed(0)
        .hash_one((ingress.namespace.as_str(), ingress.name.as_str()));
    // Truncation is the point: only the low bits pick the slot.
    (hash as usize) & (SLOTS - 1)
}
