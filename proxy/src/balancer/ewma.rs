//! `load-balance: ewma` (docs/architecture.md, "Latency-aware balancing and outlier
//! ejection"): power of two choices over each endpoint's cost, a peak-EWMA of its response
//! latency times its requests in flight plus one, divided by its weight — the design of
//! Finagle's `PeakEwma` and linkerd's balancer (tower's `p2c` over `load::PeakEwma`), over the
//! atomics of the table's [`EndpointState`] instead of a service stack.
//!
//! The estimate, as tower keeps it: a sample above the current estimate replaces it (peak);
//! one below is blended in with the weight `1 - e^(-Δt/τ)`, Δt the time since the last update;
//! and between updates the estimate decays towards zero as `e^(-Δt/τ)`, so an endpoint that
//! was slow is tried again once its estimate has decayed below the others'. The decay is
//! computed when read, not stored, so a pick writes nothing but the in-flight count of the
//! endpoint it chooses. A failed attempt's time only counts when it raises the estimate: a
//! connection refused at once must not make a broken endpoint look fast.

use std::sync::atomic::Ordering;

use strait_shared::Endpoints;
use strait_shared::table::EndpointState;

use super::eject::{self, now_ms};
use super::{Balancer, Tried};
use crate::config::BalanceConfig;

/// The EWMA balancer of one request: its settings, copied from the proxy's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Ewma {
    /// τ in milliseconds.
    decay_ms: f64,
    /// The estimate of an endpoint never compared with one that has an estimate.
    default_ns: f32,
}

impl Ewma {
    pub fn new(config: &BalanceConfig) -> Self {
        Self {
            decay_ms: (config.ewma_decay.as_secs_f64() * 1e3).max(1.0),
            default_ns: config.ewma_default_rtt.as_nanos() as f32,
        }
    }

    /// Endpoint `state`'s latency estimate in nanoseconds at `now` (decayed since its last
    /// update), `None` before its first.
    fn estimate(&self, state: &EndpointState, now: u64) -> Option<f64> {
        let (rtt, at) = unpack(state.ewma.load(Ordering::Relaxed))?;
        Some(f64::from(rtt) * self.decay(now, at))
    }

    /// `e^(-Δt/τ)` for the time from `at` to `now`.
    fn decay(&self, now: u64, at: u32) -> f64 {
        // The stamp wraps every 49 days; an endpoint idle that long has decayed to nothing
        // either way.
        let elapsed = f64::from((now as u32).wrapping_sub(at));
        (-elapsed / self.decay_ms).exp()
    }

    /// The cost of sending one more request to endpoint `index`: estimate × (in flight + 1)
    /// ÷ weight; an endpoint without an estimate takes `seed`'s (or the default) first.
    fn cost(&self, endpoints: &Endpoints, index: usize, seed: Option<f64>, now: u64) -> f64 {
        let Some(state) = endpoints.states().get(index) else {
            return f64::INFINITY;
        };
        let estimate = self.estimate(state, now).unwrap_or_else(|| {
            let start = seed.map_or(self.default_ns, |s| s as f32);
            // Stamped once, so that the start decays like any estimate; a lost race keeps the
            // winner's.
            let _ = state.ewma.compare_exchange(
                0,
                pack(start, now),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            f64::from(start)
        });
        let inflight = f64::from(state.inflight.load(Ordering::Relaxed));
        let weight = f64::from(endpoints.list()[index].weight.max(1));
        estimate * (inflight + 1.0) / weight
    }

    /// Records an attempt on `state` that took `rtt_ns` to its response headers (or to its
    /// failure when `failed`).
    pub fn observe(&self, state: &EndpointState, rtt_ns: f64, failed: bool) {
        self.observe_at(state, rtt_ns, failed, now_ms());
    }

    fn observe_at(&self, state: &EndpointState, rtt_ns: f64, failed: bool, now: u64) {
        let rtt = rtt_ns.max(1.0);
        let mut current = state.ewma.load(Ordering::Relaxed);
        loop {
            let next = match unpack(current) {
                None => rtt,
                Some((estimate, at)) => {
                    let decay = self.decay(now, at);
                    let decayed = f64::from(estimate) * decay;
                    if rtt >= decayed {
                        rtt
                    } else if failed {
                        return;
                    } else {
                        decayed + rtt * (1.0 - decay)
                    }
                }
            };
            match state.ewma.compare_exchange_weak(
                current,
                pack(next as f32, now),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }
}

impl Balancer for Ewma {
    /// Two distinct endpoints drawn at random among those not tried and not ejected; the
    /// cheaper wins. When fewer than two such endpoints are drawn, the cheapest usable one
    /// wins, and an ejected one only when nothing else is left untried.
    fn pick(&self, endpoints: &Endpoints, tried: &mut Tried) -> Option<usize> {
        self.pick_at(endpoints, tried, now_ms())
    }
}

impl Ewma {
    fn pick_at(&self, endpoints: &Endpoints, tried: &Tried, now: u64) -> Option<usize> {
        let n = endpoints.len();
        if n <= 1 {
            return (n == 1 && !tried.contains(0)).then_some(0);
        }
        let usable = |i: usize| !tried.contains(i) && !eject::skip(endpoints, i);
        let a = draw(n);
        // A second index distinct from the first, uniformly.
        let b = (a + 1 + draw(n - 1)) % n;
        if usable(a) && usable(b) {
            let seed_a = endpoints
                .states()
                .get(b)
                .and_then(|s| self.estimate(s, now));
            let cost_a = self.cost(endpoints, a, seed_a, now);
            let seed_b = endpoints
                .states()
                .get(a)
                .and_then(|s| self.estimate(s, now));
            let cost_b = self.cost(endpoints, b, seed_b, now);
            return Some(if cost_b < cost_a { b } else { a });
        }
        let cheapest = |keep: &dyn Fn(usize) -> bool| {
            (0..n)
                .filter(|&i| keep(i))
                .map(|i| (self.cost(endpoints, i, None, now), i))
                .min_by(|x, y| x.0.total_cmp(&y.0))
                .map(|(_, i)| i)
        };
        cheapest(&usable).or_else(|| cheapest(&|i| !tried.contains(i)))
    }
}

/// Counts an attempt of an `ewma` route in its endpoint's in-flight requests until dropped:
/// when the response headers arrive, the attempt fails, or the request is cancelled.
#[derive(Debug)]
pub struct InFlight<'a>(&'a EndpointState);

impl<'a> InFlight<'a> {
    pub fn new(state: &'a EndpointState) -> Self {
        state.inflight.fetch_add(1, Ordering::Relaxed);
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A number in `0..n` from the calling thread's generator (the canary's).
fn draw(n: usize) -> usize {
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    crate::random::roll(n32) as usize - 1
}

fn pack(rtt_ns: f32, now: u64) -> u64 {
    // Never 0 (that means "no estimate"): the estimate is at least 1 ns.
    (u64::from(rtt_ns.max(1.0).to_bits()) << 32) | (now & 0xFFFF_FFFF)
}

fn unpack(raw: u64) -> Option<(f32, u32)> {
    (raw != 0).then(|| (f32::from_bits((raw >> 32) as u32), raw as u32))
}

#[cfg(test)]
mod tests;
