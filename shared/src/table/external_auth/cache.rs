//! Caching of auth answers (`auth-cache-key`, `auth-cache-duration`): which statuses are kept
//! and for how long, as nginx's `proxy_cache_valid` reads ingress-nginx's durations.
//!
//! `auth-cache-duration` is a comma-separated list of entries `[code ...] time`, e.g.
//! `200 202 10m, 401 5m` (default `200 202 401 5m`): three-digit status codes (or `any`),
//! then the time as digits and a unit `ms`, `s`, `m`, `h`, `d`, `w`, `M` (30 days) or `y`
//! (365 days); several time tokens add up. An entry without codes covers 200, 301 and 302,
//! as in nginx. A status takes the first entry that names it. Anything else in an entry
//! (a code after the time, no time at all, an unknown word) is invalid: ingress-nginx denies
//! the location for most such values and nginx refuses the rest.

use std::time::Duration;

/// The statuses of one `auth-cache-duration` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CacheStatuses {
    /// `any`.
    Any,
    /// The listed codes; none listed means 200, 301 and 302.
    Codes(Box<[u16]>),
}

/// One `auth-cache-duration` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheValid {
    pub statuses: CacheStatuses,
    pub ttl: Duration,
}

/// ingress-nginx's default `auth-cache-duration`.
pub const DEFAULT_CACHE_DURATION: &str = "200 202 401 5m";

/// Why an `auth-cache-duration` does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("entry {0:?} has no time (e.g. `200 202 5m`)")]
    NoTime(String),
    #[error("entry {0:?} has a status code after its time")]
    CodeAfterTime(String),
    #[error("entry {0:?}: {1:?} is neither a status code (100-599), `any`, nor a time")]
    Token(String, String),
    #[error("entry {0:?}: the time is too long")]
    TooLong(String),
}

/// Parses `auth-cache-duration`; an empty value is the default.
pub fn parse_cache_durations(value: &str) -> Result<Box<[CacheValid]>, DurationError> {
    let mut valid = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        valid.push(parse_entry(entry)?);
    }
    if valid.is_empty() {
        return parse_cache_durations(DEFAULT_CACHE_DURATION);
    }
    Ok(valid.into())
}

fn parse_entry(entry: &str) -> Result<CacheValid, DurationError> {
    let short = || entry.chars().take(64).collect::<String>();
    let mut codes = Vec::new();
    let mut any = false;
    let mut ttl: Option<Duration> = None;
    for token in entry.split_ascii_whitespace() {
        if let Some(time) = parse_time(token) {
            let time = time.ok_or_else(|| DurationError::TooLong(short()))?;
            let sum = ttl.unwrap_or_default().checked_add(time);
            ttl = Some(sum.ok_or_else(|| DurationError::TooLong(short()))?);
            continue;
        }
        let code = (token.len() == 3 && token.bytes().all(|b| b.is_ascii_digit()))
            .then(|| token.parse::<u16>().ok())
            .flatten()
            .filter(|c| (100..=599).contains(c));
        if code.is_some() || token == "any" {
            if ttl.is_some() {
                return Err(DurationError::CodeAfterTime(short()));
            }
            match code {
                Some(code) => codes.push(code),
                None => any = true,
            }
            continue;
        }
        let token = token.chars().take(32).collect();
        return Err(DurationError::Token(short(), token));
    }
    let ttl = ttl.ok_or_else(|| DurationError::NoTime(short()))?;
    let statuses = if any {
        CacheStatuses::Any
    } else {
        CacheStatuses::Codes(codes.into())
    };
    Ok(CacheValid { statuses, ttl })
}

/// A time token (`30m`, `500ms`): `None` when it is not one, `Some(None)` when it overflows.
fn parse_time(token: &str) -> Option<Option<Duration>> {
    let digits = token.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (number, unit) = token.split_at(digits);
    let seconds: u64 = match unit {
        "ms" => return Some(number.parse().ok().map(Duration::from_millis)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "M" => 30 * 86_400,
        "y" => 365 * 86_400,
        _ => return None,
    };
    Some(
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(seconds))
            .map(Duration::from_secs),
    )
}

/// How long an answer with `status` is kept (`None`: not cached): the first entry that
/// covers the status.
pub fn ttl_for(valid: &[CacheValid], status: u16) -> Option<Duration> {
    valid.iter().find_map(|v| {
        let covered = match &v.statuses {
            CacheStatuses::Any => true,
            CacheStatuses::Codes(codes) if codes.is_empty() => matches!(status, 200 | 301 | 302),
            CacheStatuses::Codes(codes) => codes.contains(&status),
        };
        covered.then_some(v.ttl)
    })
}
