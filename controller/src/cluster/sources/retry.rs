//! How the watches retry, and how an API-server outage is told to the operator.
//!
//! - [`Backoff`]: doubling from [`FIRST_DELAY`] up to [`MAX_DELAY`] (5 s), reset by any
//!   answer from the API server. kube-runtime's default grows to 30 s and only resets after
//!   120 s without an error, so after a 50 s outage every watch slept up to 30 s before it
//!   even saw that the API was back, and as long again after the 410 Gone it then got.
//! - A 410 Gone (the watch's resourceVersion is too old, as after any outage longer than the
//!   watch cache's window) is the API answering: the watch starts over with a fresh list at
//!   once. Only a second 410 in a row, without a successful answer between, waits.
//! - [`ApiHealth`] is shared by every watch of the process: the outage is logged once when
//!   the first watch loses the API server and once when the last one reaches it again, not
//!   once per watch and retry.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::watcher;
use tokio::time::Instant;

/// The first pause after an error.
pub const FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest pause between two attempts: the longest a watch can take to notice that the
/// API server is back.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// What a watch error says about the API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 410 Gone: the API answered that our resourceVersion is too old; list again now.
    Gone,
    /// No answer, or an answer saying the server cannot serve now (5xx, 429): an outage.
    Unavailable,
    /// Any other answer (403 Forbidden, 404, a body that does not decode): the API server is
    /// there but refuses or confuses this watch.
    Refused,
}

impl Failure {
    /// Classifies a watcher error.
    pub fn of(error: &watcher::Error) -> Self {
        match error {
            watcher::Error::WatchError(status) => Self::of_code(status.code),
            watcher::Error::InitialListFailed(error)
            | watcher::Error::WatchStartFailed(error)
            | watcher::Error::WatchFailed(error) => match error {
                kube::Error::Api(status) => Self::of_code(status.code),
                kube::Error::HyperError(_) | kube::Error::Service(_) => Self::Unavailable,
                _ => Self::Refused,
            },
            watcher::Error::NoResourceVersion => Self::Refused,
        }
    }

    fn of_code(code: u16) -> Self {
        match code {
            410 => Self::Gone,
            429 | 500..=599 => Self::Unavailable,
            _ => Self::Refused,
        }
    }
}

/// Exponential back-off between [`FIRST_DELAY`] and [`MAX_DELAY`], reset by any answer.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    /// A 410 was answered since the last successful event: another one waits.
    gone: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: FIRST_DELAY,
            gone: false,
        }
    }
}

impl Backoff {
    /// The API server answered: the next error starts again from the first delay.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The pause before retrying after `failure`: none for the first 410 since the last
    /// success (relist at once), else the next step of the back-off.
    pub fn delay(&mut self, failure: Failure) -> Duration {
        if failure == Failure::Gone && !std::mem::replace(&mut self.gone, true) {
            return Duration::ZERO;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        delay
    }
}

/// Whether the API server answers, as every watch of the process sees it together.
#[derive(Debug, Default)]
pub struct ApiHealth {
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    /// Watches whose last attempt found the API server unavailable.
    unavailable: BTreeSet<String>,
    /// Since when it is unavailable (the first watch to lose it).
    down_since: Option<Instant>,
    /// Outages begun and ended, for tests and `/readyz`-style reports.
    outages: u64,
    recoveries: u64,
}

impl ApiHealth {
    /// `watch` could not reach the API server. Logs the outage when it is the first.
    pub fn unavailable(&self, watch: &str, error: &watcher::Error) {
        let mut state = self.lock();
        state.unavailable.insert(watch.to_owned());
        if state.down_since.is_none() {
            state.down_since = Some(Instant::now());
            state.outages += 1;
            tracing::warn!(
                %error,
                first = watch,
                "lost contact with the API server; serving the last table, watches retry at least every {}s",
                MAX_DELAY.as_secs()
            );
        }
    }

    /// `watch` got an answer from the API server (an event, a list, or an error answer).
    /// Logs the end of the outage when no watch is left without one.
    pub fn answered(&self, watch: &str) {
        let mut state = self.lock();
        if !state.unavailable.remove(watch) || !state.unavailable.is_empty() {
            return;
        }
        if let Some(since) = state.down_since.take() {
            state.recoveries += 1;
            let outage = since.elapsed();
            tracing::info!(
                outage_secs = outage.as_secs(),
                "the API server answers again; every watch relists what changed meanwhile"
            );
        }
    }

    /// Outages that began, and outages that ended.
    pub fn transitions(&self) -> (u64, u64) {
        let state = self.lock();
        (state.outages, state.recoveries)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // A panic while holding this lock leaves only counters and a set behind: still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_five_seconds_and_resets_on_an_answer() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..7)
            .map(|_| backoff.delay(Failure::Unavailable).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.delay(Failure::Unavailable), FIRST_DELAY);
    }

    #[test]
    fn the_first_gone_relists_at_once_and_a_second_one_waits() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.delay(Failure::Unavailable);
        }
        assert_eq!(backoff.delay(Failure::Gone), Duration::ZERO);
        assert_eq!(backoff.delay(Failure::Gone), MAX_DELAY);
        backoff.reset();
        assert_eq!(backoff.delay(Failure::Gone), Duration::ZERO);
    }

    #[test]
    fn an_outage_is_one_transition_each_way_however_many_watches_fail() {
        let health = ApiHealth::default();
        let error = watcher::Error::NoResourceVersion;
        for _ in 0..3 {
            health.unavailable("a", &error);
            health.unavailable("b", &error);
        }
        assert_eq!(health.transitions(), (1, 0));
        health.answered("a");
        assert_eq!(health.transitions(), (1, 0), "b is still without an answer");
        health.answered("b");
        health.answered("b");
        assert_eq!(health.transitions(), (1, 1));
    }
}
