//! The balancing settings of every route (`--load-balance`, `--ewma-decay-time`, the
//! `--outlier-*` flags): parsed once, read per attempt.

use std::time::Duration;

use strait_shared::table::LoadBalance;

/// How endpoints are chosen and when one is set aside (docs/architecture.md, "Latency-aware
/// balancing and outlier ejection").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BalanceConfig {
    /// The mode of every route whose Ingress sets no `load-balance` (`--load-balance`,
    /// ingress-nginx's ConfigMap `load-balance`; default round robin).
    pub load_balance: LoadBalance,
    /// Time constant of the latency estimate's decay (`--ewma-decay-time`, 10 s as
    /// ingress-nginx's `ewma.lua` and linkerd).
    pub ewma_decay: Duration,
    /// The estimate of an endpoint that has answered nothing yet when the endpoint it is first
    /// compared with has none either (30 ms, decaying like any other). Otherwise a new
    /// endpoint starts at that other endpoint's estimate, as ingress-nginx's slow start starts
    /// new endpoints at the backend's average: tried soon, without taking a burst.
    pub ewma_default_rtt: Duration,
    /// Passive outlier ejection.
    pub outlier: OutlierConfig,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        Self {
            load_balance: LoadBalance::RoundRobin,
            ewma_decay: Duration::from_secs(10),
            ewma_default_rtt: Duration::from_millis(30),
            outlier: OutlierConfig::default(),
        }
    }
}

/// Envoy's "consecutive gateway failure" outlier detection, passive only: an endpoint that
/// fails `consecutive_failures` attempts in a row (connect failure, 502, 503, 504) is skipped
/// for `base_ejection_time` × the number of its recent ejections, at most
/// `max_ejection_time`; at most `max_ejection_percent` of a backend's endpoints (at least one,
/// never the last) are out at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutlierConfig {
    /// Failures in a row that eject (`--outlier-consecutive-failures`, default 5, Envoy's
    /// `consecutive_gateway_failure`); 0 turns ejection off.
    pub consecutive_failures: u32,
    /// The first ejection's length (`--outlier-base-ejection-time`, default 30 s as Envoy).
    pub base_ejection_time: Duration,
    /// The longest ejection, and how long an endpoint must stay in before its ejection count
    /// is forgotten (`--outlier-max-ejection-time`, default 300 s as Envoy).
    pub max_ejection_time: Duration,
    /// Most of a backend's endpoints out at once, in percent (`--outlier-max-ejection-percent`,
    /// default 10 as Envoy); one may always be out when there are two or more.
    pub max_ejection_percent: u8,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
        }
    }
}

impl OutlierConfig {
    /// How many of `n` endpoints may be out at once: the percentage rounded down, at least one,
    /// never all (so a single endpoint is never ejected).
    pub fn max_ejected(&self, n: usize) -> usize {
        let share = n.saturating_mul(usize::from(self.max_ejection_percent.min(100))) / 100;
        share.max(1).min(n.saturating_sub(1))
    }
}
