//! A backend's endpoints and their weighted round-robin schedule.
//!
//! The list, its schedule and what the proxy learns of each endpoint ([`EndpointStates`]:
//! latency, in-flight requests, ejection) form one immutable set behind an `Arc`, so that
//! backends resolving to the same addresses share one set: every nodeport backend of a
//! nodePort in `Cluster` policy, and a refreshed backend whose endpoints did not change. A
//! Node change then builds each distinct set once, not once per backend (docs/architecture.md,
//! "Nodeport endpoint sets"). Only the round-robin cursor belongs to each [`Endpoints`] value,
//! so a backend keeps its own rotation over a shared set. A new table carries the learned
//! state over (`endpoint_state`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::endpoint_state::EndpointStates;

/// One upstream address with its balancing weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// Relative share of requests; 1 unless the mode weights endpoints (nodeport + Local).
    pub weight: u32,
}

/// The addresses of a backend plus a precomputed, interleaved weighted schedule: round-robin
/// over `schedule` gives each endpoint its weight's share without any lock.
///
/// A clone shares the set (list, schedule, learned state) and gets a round-robin cursor of
/// its own. Equality compares the list only: the schedule is a function of it, and neither
/// cursors nor learned state are part of a table's identity.
#[derive(Debug, Default, Clone)]
pub struct Endpoints {
    pub(super) set: Arc<Set>,
    cursor: Cursor,
}

/// What [`Endpoints`] values share.
#[derive(Debug, Default)]
pub(super) struct Set {
    pub(super) list: Box<[Endpoint]>,
    /// Indices into `list`; each endpoint appears `weight` times, smoothly interleaved.
    /// `None`: `0, 1, …, len - 1` (equal weights), read from [`IDENTITY`].
    pub(super) schedule: Option<Box<[u32]>>,
    /// Per-endpoint learned state, by index in `list`.
    pub(super) states: EndpointStates,
}

impl PartialEq for Endpoints {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.set, &other.set) || self.set.list == other.set.list
    }
}

impl Endpoints {
    /// Builds the set; endpoints are sorted and deduplicated (weights of duplicates add up) so
    /// equal inputs give equal tables.
    pub fn new(list: Vec<Endpoint>) -> Self {
        Self::new_after(list, None)
    }

    /// Builds the set that replaces `previous` (the backend's endpoints in the table being
    /// refreshed): when the endpoints are the same, `previous`'s set itself, shared, so the
    /// backend is kept as it was; otherwise a new set that keeps the learned state of every
    /// address `previous` also holds. Either way no state is allocated for an address that
    /// already had one.
    pub(crate) fn new_after(mut list: Vec<Endpoint>, previous: Option<&Endpoints>) -> Self {
        normalise(&mut list);
        if let Some(previous) = previous
            && *previous.set.list == *list
        {
            return previous.clone();
        }
        let schedule = smooth_weighted_schedule(&list);
        let states = EndpointStates::carried(&list, previous.map(|p| &*p.set));
        Self::from_set(Set {
            list: list.into_boxed_slice(),
            schedule,
            states,
        })
    }

    fn from_set(set: Set) -> Self {
        Self::from_shared(Arc::new(set))
    }

    /// A value over an existing set, with a cursor of its own.
    pub(super) fn from_shared(set: Arc<Set>) -> Self {
        Self {
            set,
            cursor: Cursor::default(),
        }
    }

    pub fn list(&self) -> &[Endpoint] {
        &self.set.list
    }

    pub fn is_empty(&self) -> bool {
        self.set.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.set.list.len()
    }

    /// What the proxy has learned of each endpoint, by index in [`Endpoints::list`].
    pub fn states(&self) -> &EndpointStates {
        &self.set.states
    }

    /// The weighted schedule as indices into [`Endpoints::list`].
    pub fn schedule(&self) -> &[u32] {
        match &self.set.schedule {
            Some(schedule) => schedule,
            // `smooth_weighted_schedule` leaves out only lists that fit.
            None => &IDENTITY[..self.set.list.len()],
        }
    }

    /// Whether both values share one set (the same allocation, not merely equal content):
    /// backends resolved from one shared resolution, such as every `Cluster`-policy nodeport
    /// backend of one nodePort.
    pub fn shares_set(&self, other: &Endpoints) -> bool {
        Arc::ptr_eq(&self.set, &other.set)
    }

    /// Advances the calling thread's round-robin cursor over this set and returns its
    /// previous value. Each thread (each proxy worker) walks the schedule on its own, as each
    /// nginx worker does: nothing is written that another core reads, and every worker still
    /// spreads its requests by the weights. A thread's first ticket for a set starts at an
    /// offset of its own, so workers do not all begin with the same endpoint after a table
    /// change.
    pub fn next_ticket(&self) -> usize {
        CURSORS.with_borrow_mut(|cursors| cursors.next(self.cursor.0))
    }
}

/// Sorts and deduplicates in place (weights of one address add up; zero weights go): one
/// vector, whatever the mode built.
fn normalise(list: &mut Vec<Endpoint>) {
    list.retain(|ep| ep.weight != 0);
    list.sort_unstable();
    list.dedup_by(|later, kept| {
        let same = later.addr == kept.addr;
        if same {
            kept.weight = kept.weight.saturating_add(later.weight);
        }
        same
    });
}

/// `0, 1, …, n - 1`: the schedule of every set of equal weights up to this size, which is most
/// sets (pod and service modes, nodeport in `Cluster` policy). Read from here, it costs such a
/// set no vector of its own.
static IDENTITY: [u32; IDENTITY_LEN] = identity();
const IDENTITY_LEN: usize = 4096;

const fn identity() -> [u32; IDENTITY_LEN] {
    let mut schedule = [0; IDENTITY_LEN];
    let mut i = 0;
    while i < IDENTITY_LEN {
        schedule[i] = i as u32;
        i += 1;
    }
    schedule
}

/// Smooth weighted round-robin (as in nginx) unrolled once over the total weight, so the
/// schedule interleaves (A B B A B B …) instead of bunching (A A B B B B). Weights are first
/// divided by their greatest common divisor, so the schedule is as short as it can be. Equal
/// weights give `0, 1, …, n-1` without the quadratic loop: `None` (read from [`IDENTITY`])
/// when it fits there.
fn smooth_weighted_schedule(list: &[Endpoint]) -> Option<Box<[u32]>> {
    // `list` comes from EndpointSlices or Nodes, far below u32::MAX entries.
    let index = |i: usize| u32::try_from(i).expect("endpoint index fits u32");
    let first = list.first()?;
    if list.iter().all(|e| e.weight == first.weight) {
        return (list.len() > IDENTITY_LEN).then(|| (0..list.len()).map(index).collect());
    }
    let divisor = list.iter().map(|e| e.weight).fold(0, gcd);
    let weights: Vec<i64> = list.iter().map(|e| i64::from(e.weight / divisor)).collect();
    let total: i64 = weights.iter().sum();
    let mut current = vec![0i64; list.len()];
    let mut schedule = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best = 0;
        for (i, weight) in weights.iter().enumerate() {
            current[i] += weight;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        schedule.push(index(best));
    }
    Some(schedule.into_boxed_slice())
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The identity of an [`Endpoints`] value's round-robin cursors: unique per value (a clone
/// gets a new one, so backends sharing a set still rotate on their own), the key of each
/// thread's cursor. Not part of a table's identity: equal tables compare equal whatever their
/// cursors.
#[derive(Debug)]
struct Cursor(u64);

static CURSOR_IDS: AtomicU64 = AtomicU64::new(0);

impl Default for Cursor {
    fn default() -> Self {
        Self(CURSOR_IDS.fetch_add(1, Ordering::Relaxed))
    }
}

impl Clone for Cursor {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Cursor {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Most cursors a thread keeps; past it the map is emptied (sets of tables long gone), and the
/// live sets restart at a fresh offset: a restart only moves where round-robin resumes.
const MAX_CURSORS: usize = 1 << 16;

/// One thread's cursors, by set id.
struct Cursors {
    next: HashMap<u64, usize, foldhash::fast::FixedState>,
    /// Spreads this thread's starting offsets away from other threads'.
    salt: u64,
}

impl Cursors {
    fn next(&mut self, id: u64) -> usize {
        if self.next.len() >= MAX_CURSORS && !self.next.contains_key(&id) {
            self.next.clear();
        }
        let salt = self.salt;
        let cursor = self.next.entry(id).or_insert_with(|| {
            // Truncation is fine: only the spread of the start matters.
            (id ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize
        });
        let ticket = *cursor;
        *cursor = ticket.wrapping_add(1);
        ticket
    }
}

static THREAD_SALTS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CURSORS: RefCell<Cursors> = RefCell::new(Cursors {
        next: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0)),
        salt: THREAD_SALTS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0xD1B5_4A32_D192_ED03),
    });
}
