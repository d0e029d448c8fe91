//! A backend's endpoints and their weighted round-robin schedule.
//!
//! Beside the list sits what the proxy learns of each endpoint ([`EndpointStates`]: latency,
//! in-flight requests, ejection), which a new table carries over (`endpoint_state`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
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
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Endpoints {
    list: Vec<Endpoint>,
    /// Indices into `list`; each endpoint appears `weight` times, smoothly interleaved.
    schedule: Vec<u32>,
    cursor: Cursor,
    /// Per-endpoint learned state, by index in `list`.
    pub(super) states: EndpointStates,
}

impl Endpoints {
    /// Builds the set; endpoints are sorted and deduplicated (weights of duplicates add up) so
    /// equal inputs give equal tables.
    pub fn new(mut list: Vec<Endpoint>) -> Self {
        list.sort();
        let mut merged: Vec<Endpoint> = Vec::with_capacity(list.len());
        for ep in list {
            if ep.weight == 0 {
                continue;
            }
            match merged.last_mut() {
                Some(last) if last.addr == ep.addr => {
                    last.weight = last.weight.saturating_add(ep.weight)
                }
                _ => merged.push(ep),
            }
        }
        let schedule = smooth_weighted_schedule(&merged);
        Self {
            states: EndpointStates::fresh(merged.len()),
            list: merged,
            schedule,
            cursor: Cursor::default(),
        }
    }

    pub fn list(&self) -> &[Endpoint] {
        &self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// What the proxy has learned of each endpoint, by index in [`Endpoints::list`].
    pub fn states(&self) -> &EndpointStates {
        &self.states
    }

    /// The weighted schedule as indices into [`Endpoints::list`].
    pub fn schedule(&self) -> &[u32] {
        &self.schedule
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

/// Smooth weighted round-robin (as in nginx) unrolled once over the total weight, so the
/// schedule interleaves (A B B A B B …) instead of bunching (A A B B B B). Weights are first
/// divided by their greatest common divisor, so the schedule is as short as it can be; equal
/// weights (the pod and service modes) give `0, 1, …, n-1` without the quadratic loop.
fn smooth_weighted_schedule(list: &[Endpoint]) -> Vec<u32> {
    let divisor = list.iter().map(|e| e.weight).fold(0, gcd);
    if divisor == 0 {
        return Vec::new();
    }
    let weights: Vec<i64> = list.iter().map(|e| i64::from(e.weight / divisor)).collect();
    // `list` comes from EndpointSlices or Nodes, far below u32::MAX entries.
    let index = |i: usize| u32::try_from(i).expect("endpoint index fits u32");
    if weights.iter().all(|&w| w == 1) {
        return (0..list.len()).map(index).collect();
    }
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
    schedule
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The identity of an endpoint set's round-robin cursors: unique per set (a clone gets a new
/// one), the key of each thread's cursor. Not part of a table's identity: equal tables compare
/// equal whatever their cursors.
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
