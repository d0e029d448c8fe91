//! Passive outlier ejection, in every balancing mode (docs/architecture.md, "Latency-aware
//! balancing and outlier ejection"): Envoy's consecutive gateway failures. Each attempt's
//! outcome is reported to its endpoint's [`EndpointState`]; an endpoint that fails
//! `consecutive_failures` attempts in a row is skipped by every pick until its ejection time
//! has passed, then gets traffic again (and is ejected for longer if it fails again).
//!
//! Costs on the request path: a pick reads one relaxed atomic per endpoint it considers (the
//! clock only when that endpoint is marked ejected); a success reads one more, the failure
//! count, and writes it only when it was not zero. Nothing else is written on success, so
//! round robin keeps each endpoint's cache line unshared. Failures take the slow path: a
//! counter increment, and at the threshold one thread at a time (per endpoint set) counts the
//! set's ejected endpoints against the bound and ejects.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Instant;

use strait_shared::Endpoints;
use strait_shared::table::EndpointState;

use crate::config::OutlierConfig;

/// Milliseconds on the proxy's monotonic clock, never 0 (0 means "never" in the states).
pub fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// How an attempt went, as ejection counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Response headers with a status other than 502, 503, 504.
    Success,
    /// The endpoint could not be reached, or answered 502, 503 or 504 (a gateway failure).
    GatewayFailure,
    /// Neither (the client went away, or the exchange broke after a reused connection
    /// failed): nothing is counted.
    Neither,
}

impl Outcome {
    /// A response with `status`.
    pub fn of_status(status: http::StatusCode) -> Self {
        match status.as_u16() {
            502..=504 => Self::GatewayFailure,
            _ => Self::Success,
        }
    }
}

/// Whether a pick should pass over endpoint `index`: it is ejected, and its time is not up.
/// The one relaxed load of [`EndpointState::maybe_ejected`] unless it is marked.
#[inline]
pub fn skip(endpoints: &Endpoints, index: usize) -> bool {
    endpoints
        .states()
        .get(index)
        .is_some_and(|state| state.maybe_ejected() && still_ejected(state, now_ms()))
}

/// Whether `state` is ejected at `now`; an ejection whose time is up is ended here (by the
/// first pick to see it), with a clean failure count.
fn still_ejected(state: &EndpointState, now: u64) -> bool {
    let until = state.ejected_until.load(Ordering::Relaxed);
    if until == 0 {
        return false;
    }
    if now < until {
        return true;
    }
    if state
        .ejected_until
        .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        state.failures.store(0, Ordering::Relaxed);
    }
    false
}

/// Records `outcome` of an attempt on endpoint `index` of `endpoints`; `true` when it ejected
/// the endpoint (for the metric).
pub fn report(
    config: &OutlierConfig,
    endpoints: &Endpoints,
    index: usize,
    outcome: Outcome,
) -> bool {
    let Some(state) = endpoints.states().get(index) else {
        return false;
    };
    match outcome {
        Outcome::Success => {
            if state.failures.load(Ordering::Relaxed) != 0 {
                state.failures.store(0, Ordering::Relaxed);
            }
            false
        }
        Outcome::Neither => false,
        Outcome::GatewayFailure => failed(config, endpoints, state, now_ms),
    }
}

fn failed(
    config: &OutlierConfig,
    endpoints: &Endpoints,
    state: &EndpointState,
    clock: impl Fn() -> u64,
) -> bool {
    if config.consecutive_failures == 0 || endpoints.len() < 2 {
        return false;
    }
    let failures = state
        .failures
        .fetch_add(1, Ordering::Relaxed)
        .saturating_add(1);
    if failures < config.consecutive_failures {
        return false;
    }
    let now = clock();
    let states = endpoints.states();
    if still_ejected(state, now) || !states.try_begin_ejection() {
        return false;
    }
    let out = states.iter().filter(|s| still_ejected(s, now)).count();
    let ejected = out < config.max_ejected(endpoints.len()) && eject(config, state, now);
    states.end_ejection();
    ejected
}

/// Ejects `state` from `now` for the base time × its recent ejections (capped); `false` when
/// it is already out.
fn eject(config: &OutlierConfig, state: &EndpointState, now: u64) -> bool {
    if still_ejected(state, now) {
        return false;
    }
    let max = millis(config.max_ejection_time.max(config.base_ejection_time));
    let last_end = state.last_ejection_end.load(Ordering::Relaxed);
    // An endpoint that stayed in for the longest ejection time starts over.
    let recent = if last_end != 0 && now.saturating_sub(last_end) < max {
        state.ejections.load(Ordering::Relaxed)
    } else {
        0
    };
    let count = recent.saturating_add(1);
    let length = millis(config.base_ejection_time)
        .saturating_mul(u64::from(count))
        .min(max)
        .max(1);
    let until = now.saturating_add(length);
    state.ejections.store(count, Ordering::Relaxed);
    state.last_ejection_end.store(until, Ordering::Relaxed);
    state.failures.store(0, Ordering::Relaxed);
    state.ejected_until.store(until, Ordering::Relaxed);
    true
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
