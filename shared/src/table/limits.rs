//! Rate and connection limits of one Ingress (`limit-rps`, `limit-rpm`,
//! `limit-burst-multiplier`, `limit-connections`, `limit-allowlist` / `limit-whitelist`):
//! what the table carries; the proxy keeps the per-client state (docs/architecture.md, "Rate
//! and connection limits").
//!
//! Semantics are ingress-nginx's (annotations.md, "Rate Limiting";
//! internal/ingress/annotations/ratelimit/main.go; the template's `buildRateLimit`):
//!
//! - `limit-rps: N` is nginx's `limit_req zone=… burst=N×multiplier nodelay` over a zone of
//!   rate `N r/s` keyed by the client address: a leaky bucket whose excess up to the burst
//!   passes at once and beyond it is rejected. `limit-rpm` is the same per minute; with both,
//!   both apply. The multiplier is `limit-burst-multiplier`, default 5.
//! - `limit-connections: N` is `limit_conn … N`: at most N requests of one client address in
//!   flight at once (nginx counts a connection while it has a request being processed; over
//!   HTTP/2 each concurrent request counts).
//! - `0` is no limit, as in nginx; with no limit at all the routes carry nothing.
//! - `limit-allowlist` (older name `limit-whitelist`): CIDRs or addresses exempt from every
//!   limit of the Ingress (ingress-nginx maps them to an empty zone key, which nginx does not
//!   count).
//!
//! Values are whole numbers as Go's `strconv.Atoi` reads them (`"10"`, `"+10"`; no spaces, no
//! units). A value that does not parse, or a negative one, is an error: the compile refuses the
//! Ingress's routes (fail closed; ingress-nginx rejects an Ingress whose value is not an integer
//! and serves a negative one without the limit).

use std::time::Duration;

use ipnet::IpNet;

/// ingress-nginx's default `limit-burst-multiplier` (`defBurst`).
pub const DEFAULT_BURST_MULTIPLIER: u32 = 5;

/// The limits of one Ingress, shared by all its routes (ingress-nginx names its zones after
/// the Ingress, so every path and host of it counts against the same per-client budget).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// `limit-rps`: requests per second per client address.
    pub rps: Option<RateLimit>,
    /// `limit-rpm`: requests per minute per client address.
    pub rpm: Option<RateLimit>,
    /// `limit-connections`: requests in flight at once per client address.
    pub connections: Option<u32>,
    /// `limit-allowlist`: clients no limit applies to.
    pub allow: Box<[IpNet]>,
}

impl Limits {
    /// Whether `client` (canonical: IPv4-mapped IPv6 as IPv4) is exempt from every limit.
    pub fn exempts(&self, client: std::net::IpAddr) -> bool {
        self.allow.iter().any(|net| net.contains(&client))
    }

    /// Whether any limit is set (an allowlist alone limits nothing).
    pub fn limits_anything(&self) -> bool {
        self.rps.is_some() || self.rpm.is_some() || self.connections.is_some()
    }
}

/// One request-rate limit: nginx's `rate=N r/s` (or `r/m`) with `burst=B nodelay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Requests per [`per`](Self::per); at least 1.
    pub requests: u32,
    /// One second (`limit-rps`) or one minute (`limit-rpm`).
    pub per: Duration,
    /// Requests over the rate that still pass at once (nginx's `burst`): `requests ×
    /// limit-burst-multiplier`.
    pub burst: u64,
}

impl RateLimit {
    /// The rate `requests` per `per` with burst `requests × multiplier`.
    pub fn new(requests: u32, per: Duration, multiplier: u32) -> Self {
        Self {
            requests: requests.max(1),
            per,
            burst: u64::from(requests) * u64::from(multiplier),
        }
    }

    /// The time one request is worth, in nanoseconds (GCRA's emission interval): `per /
    /// requests`, never 0.
    pub fn interval_nanos(&self) -> u64 {
        let per = u64::try_from(self.per.as_nanos()).unwrap_or(u64::MAX);
        (per / u64::from(self.requests.max(1))).max(1)
    }

    /// How far ahead of now a client's schedule may run before it is refused, in nanoseconds
    /// (GCRA's tolerance): `burst × interval`.
    pub fn tolerance_nanos(&self) -> u64 {
        self.burst.saturating_mul(self.interval_nanos())
    }
}

/// Why a limit value does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitValueError {
    #[error("is not a whole number")]
    NotANumber,
    #[error("is negative")]
    Negative,
    #[error("is too large (at most {max})", max = u32::MAX)]
    TooLarge,
}

/// A limit value as ingress-nginx reads it (Go's `strconv.Atoi`): an optional `+`, then
/// decimal digits, nothing else. `-N` is refused rather than read as "no limit".
pub fn parse_limit(value: &str) -> Result<u32, LimitValueError> {
    let (negative, digits) = match value.as_bytes().first() {
        Some(b'+') => (false, &value[1..]),
        Some(b'-') => (true, &value[1..]),
        _ => (false, value),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LimitValueError::NotANumber);
    }
    let significant = digits.trim_start_matches('0');
    if negative && !significant.is_empty() {
        return Err(LimitValueError::Negative);
    }
    match significant {
        "" => Ok(0),
        rest => rest.parse().map_err(|_| LimitValueError::TooLarge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ingress-nginx validates each key with `parser.ValidateInt` (strconv.Atoi): a sign,
    /// digits, nothing else (internal/ingress/annotations/ratelimit/main.go).
    #[test]
    fn values_are_whole_numbers_as_atoi_reads_them() {
        for (text, want) in [("10", 10), ("+10", 10), ("0", 0), ("007", 7), ("-0", 0)] {
            assert_eq!(parse_limit(text), Ok(want), "{text:?}");
        }
        assert_eq!(parse_limit("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_limit("4294967296"), Err(LimitValueError::TooLarge));
        assert_eq!(parse_limit("-1"), Err(LimitValueError::Negative));
        for bad in ["", " 1", "1 ", "1.5", "10r/s", "ten", "+", "-", "0x10", "١"] {
            assert_eq!(
                parse_limit(bad),
                Err(LimitValueError::NotANumber),
                "{bad:?}"
            );
        }
    }

    /// annotations.md "Rate Limiting": "The burst limit is set to this limit multiplied by
    /// the burst multiplier, the default multiplier is 5"; nginx's `rate=1r/m` is one request
    /// per 60 s.
    #[test]
    fn a_rate_is_an_interval_and_a_burst_its_tolerance() {
        let rps = RateLimit::new(10, Duration::from_secs(1), DEFAULT_BURST_MULTIPLIER);
        assert_eq!(rps.burst, 50);
        assert_eq!(rps.interval_nanos(), 100_000_000);
        assert_eq!(rps.tolerance_nanos(), 5_000_000_000);
        let rpm = RateLimit::new(1, Duration::from_secs(60), 0);
        assert_eq!(rpm.interval_nanos(), 60_000_000_000);
        assert_eq!(rpm.tolerance_nanos(), 0);
        let fast = RateLimit::new(u32::MAX, Duration::from_secs(1), u32::MAX);
        assert_eq!(fast.interval_nanos(), 1, "never a zero interval");
        assert_eq!(
            fast.tolerance_nanos(),
            u64::from(u32::MAX) * u64::from(u32::MAX)
        );
    }

    /// Any input: no panic; a value that parses is its own decimal (after an optional `+` and
    /// leading zeros), and printing it parses back to it. Runs like `crate::fuzz`'s targets.
    #[test]
    fn fuzz_limit_values() {
        let hold = |text: &str| {
            if let Ok(n) = parse_limit(text) {
                let digits = text.trim_start_matches(['+', '-']);
                assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
                assert_eq!(
                    digits.trim_start_matches('0').parse::<u32>().unwrap_or(0),
                    n
                );
                assert_eq!(parse_limit(&n.to_string()), Ok(n), "{text:?}");
                if text.starts_with('-') {
                    assert_eq!(n, 0, "{text:?}: only -0 is not negative");
                }
            }
        };
        for seed in ["10", "+1", "-1", "", "99999999999", "1e3"] {
            hold(seed);
        }
        bolero::check!()
            .with_test_time(crate::fuzz::budget())
            .for_each(|input: &[u8]| hold(&String::from_utf8_lossy(input)));
    }
}
