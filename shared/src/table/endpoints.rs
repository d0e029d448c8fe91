//! A backend's endpoints and their weighted round-robin schedule.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// The weighted schedule as indices into [`Endpoints::list`].
    pub fn schedule(&self) -> &[u32] {
        &self.schedule
    }

    /// Advances the shared round-robin cursor and returns its previous value. Relaxed: the
    /// cursor only spreads load; no other memory depends on it.
    pub fn next_ticket(&self) -> usize {
        self.cursor.0.fetch_add(1, Ordering::Relaxed)
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

/// Round-robin position. Not part of a table's identity: equal tables compare equal whatever
/// their cursors, and a clone starts at zero.
#[derive(Debug, Default)]
struct Cursor(AtomicUsize);

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
