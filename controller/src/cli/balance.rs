//! The balancing flags (`--load-balance`, ingress-nginx's ConfigMap `load-balance`; the
//! `--ewma-*` and `--outlier-*` settings of latency-aware balancing and passive outlier
//! ejection, docs/architecture.md "Latency-aware balancing and outlier ejection").

use std::time::Duration;

use clap::Args;
use strait_proxy::{BalanceConfig, OutlierConfig};
use strait_shared::table::LoadBalance;

use super::parse_duration;

#[derive(Debug, Clone, Args)]
pub struct BalanceArgs {
    /// How routes whose Ingress sets no `load-balance` choose an endpoint: `round_robin` or
    /// `ewma` (power of two choices over a peak-EWMA of response latency × requests in flight).
    #[arg(long, env = "STRAIT_LOAD_BALANCE", default_value = "round_robin", value_name = "MODE", value_parser = load_balance)]
    pub load_balance: LoadBalance,
    /// Time constant of `ewma`'s latency estimate: how fast a slow endpoint's past is forgotten.
    #[arg(long, env = "STRAIT_EWMA_DECAY_TIME", default_value = "10s", value_parser = positive_duration)]
    pub ewma_decay_time: Duration,
    /// Gateway failures in a row (connect failure, 502, 503, 504) after which an endpoint is
    /// skipped for a while, in every balancing mode; 0 turns passive ejection off.
    #[arg(
        long,
        env = "STRAIT_OUTLIER_CONSECUTIVE_FAILURES",
        default_value_t = 5,
        value_name = "COUNT"
    )]
    pub outlier_consecutive_failures: u32,
    /// First ejection's length; each further ejection of the same endpoint lasts one more.
    #[arg(long, env = "STRAIT_OUTLIER_BASE_EJECTION_TIME", default_value = "30s", value_parser = positive_duration)]
    pub outlier_base_ejection_time: Duration,
    /// Longest ejection; an endpoint that stays in this long starts over at the base time.
    #[arg(long, env = "STRAIT_OUTLIER_MAX_EJECTION_TIME", default_value = "300s", value_parser = positive_duration)]
    pub outlier_max_ejection_time: Duration,
    /// Most of a backend's endpoints ejected at once, in percent; one may always be (never
    /// the last).
    #[arg(long, env = "STRAIT_OUTLIER_MAX_EJECTION_PERCENT", default_value_t = 10, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub outlier_max_ejection_percent: u8,
}

impl BalanceArgs {
    pub fn config(&self) -> BalanceConfig {
        BalanceConfig {
            load_balance: self.load_balance,
            ewma_decay: self.ewma_decay_time,
            outlier: OutlierConfig {
                consecutive_failures: self.outlier_consecutive_failures,
                base_ejection_time: self.outlier_base_ejection_time,
                max_ejection_time: self.outlier_max_ejection_time,
                max_ejection_percent: self.outlier_max_ejection_percent,
            },
            ..BalanceConfig::default()
        }
    }
}

fn load_balance(s: &str) -> Result<LoadBalance, String> {
    LoadBalance::parse(s).ok_or_else(|| format!("{s:?}: expected round_robin or ewma"))
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        Duration::ZERO => Err(format!("{s:?}: must be more than zero")),
        d => Ok(d),
    }
}
