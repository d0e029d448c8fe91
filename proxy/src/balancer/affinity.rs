//! Keyed endpoint choice per request (docs/architecture.md, "Session affinity and consistent
//! hashing"): cookie session affinity and `upstream-hash-by`, which choose the first attempt's
//! endpoint from the request (retries go on through the balancer, to endpoints not tried yet),
//! and the affinity cookie of the response.
//!
//! Routes without either pay one `Option` check in `service.rs`. With them: a cookie scan or a
//! hash of the request value, a binary search of the backend's ring (or of its tokens), and a
//! `Set-Cookie` only when a session starts or moves.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use strait_shared::Endpoints;
use strait_shared::table::affinity::{Affinity, CookieValue, Mode, SameSite, push_hex};
use strait_shared::table::canary::{self, Canary};
use strait_shared::table::hash_by::{Hashing, KeyRequest};
use strait_shared::table::hash_ring::Keyed;

use crate::random::roll;

/// The affinity cookie a request carries, read once.
pub(crate) fn session<'h>(affinity: &Affinity, headers: &'h HeaderMap) -> Option<CookieValue<'h>> {
    canary::cookie(headers, &affinity.name).map(CookieValue::parse)
}

/// ingress-nginx's `route_to_alternative_balancer` before the canary rules: a request whose
/// cookie is tagged for the main backend stays there, one tagged for the canary's backend (a
/// sticky canary) goes there; `None`: the canary rules decide.
pub(crate) fn canary_by_cookie(
    session: Option<&CookieValue<'_>>,
    canary: &Canary,
    main: Option<&Keyed>,
    alternative: Option<&Keyed>,
) -> Option<bool> {
    let session = session?;
    if main.is_some_and(|k| session.tagged(k.tag())) {
        return Some(false);
    }
    (canary.sticky && alternative.is_some_and(|k| session.tagged(k.tag()))).then_some(true)
}

/// How the first attempt's endpoint was chosen, and what the response's cookie must say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Choice {
    /// The first attempt's endpoint; `None`: the balancer chooses.
    pub(crate) index: Option<usize>,
    /// The session is new, or its cookie named no current endpoint: the response sets one.
    pub(crate) issue: bool,
    /// A balanced session's ring position, when `index` came from it.
    position: Option<u64>,
}

impl Choice {
    /// The endpoint a hash chose (no cookie).
    pub(crate) fn hashed(index: Option<usize>) -> Self {
        Self {
            index,
            ..Self::default()
        }
    }
}

/// The session's endpoint in `keyed` (affinity mode `mode`).
pub(crate) fn choose_session(
    mode: Mode,
    keyed: &Keyed,
    session: Option<&CookieValue<'_>>,
) -> Choice {
    match mode {
        Mode::Balanced => {
            // A new session lands on a random ring position; so does a cookie that is not a
            // position (any position lands on some endpoint, so a valid cookie always keeps).
            let (position, issue) = match session.and_then(CookieValue::position) {
                Some(position) => (position, false),
                None => (random_u64(), true),
            };
            Choice {
                index: keyed.lookup(position),
                issue,
                position: Some(position),
            }
        }
        Mode::Persistent => match session
            .and_then(CookieValue::token)
            .and_then(|t| keyed.endpoint_of(&t))
        {
            Some(index) => Choice {
                index: Some(index),
                issue: false,
                position: None,
            },
            // A new session, or an endpoint that left: the balancer picks, the cookie follows.
            None => Choice {
                index: None,
                issue: true,
                position: None,
            },
        },
    }
}

/// The endpoint `hashing` sends this request to.
pub(crate) fn choose_hashed(
    hashing: &Hashing,
    keyed: &Keyed,
    endpoints: &Endpoints,
    request: &KeyRequest<'_>,
) -> Option<usize> {
    let hash = hashing.by.hash(request);
    match hashing.subset {
        None => keyed.lookup(hash),
        Some(size) => {
            let subset = keyed.lookup_subset(size, hash)?;
            let n = endpoints.len();
            let offset = roll(u32::try_from(subset.len).unwrap_or(u32::MAX)) as usize - 1;
            (n > 0).then(|| (subset.start + offset) % n)
        }
    }
}

/// The `Set-Cookie` for a response served by endpoint `served` after `choice`, when one is
/// due: the session is new or lost its endpoint, or (`change-on-failure`) an attempt failed
/// and another endpoint served.
pub(crate) fn set_cookie(
    affinity: &Affinity,
    keyed: &Keyed,
    choice: Choice,
    served: usize,
    path: &str,
    https: bool,
    user_agent: Option<&HeaderValue>,
) -> Option<HeaderValue> {
    let moved = choice.index.is_some_and(|first| first != served);
    if !(choice.issue || (moved && affinity.change_on_failure)) {
        return None;
    }
    let mut value = Vec::with_capacity(160);
    value.extend_from_slice(affinity.name.as_bytes());
    value.push(b'=');
    match affinity.mode {
        Mode::Balanced => {
            let position = match choice.position {
                Some(position) if !moved => position,
                _ => keyed.position_of(served, |n| roll(clamp(n)) as usize - 1)?,
            };
            push_hex(&mut value, &position.to_be_bytes());
        }
        Mode::Persistent => push_hex(&mut value, keyed.token(served)?),
    }
    value.push(b'|');
    push_hex(&mut value, keyed.tag());
    attributes(&mut value, affinity, path, https, user_agent);
    HeaderValue::from_bytes(&value).ok()
}

/// `lua-resty-cookie`'s attribute order: `Expires`, `Max-Age`, `Domain`, `Path`, `Secure`,
/// `HttpOnly`, `SameSite`.
fn attributes(
    out: &mut Vec<u8>,
    affinity: &Affinity,
    path: &str,
    https: bool,
    user_agent: Option<&HeaderValue>,
) {
    if let Some(seconds) = affinity.expires {
        out.extend_from_slice(b"; Expires=");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        cookie_time(out, now.saturating_add(seconds));
    }
    if let Some(max_age) = affinity.max_age {
        out.extend_from_slice(format!("; Max-Age={max_age}").as_bytes());
    }
    if let Some(domain) = &affinity.domain {
        out.extend_from_slice(b"; Domain=");
        out.extend_from_slice(domain.as_bytes());
    }
    out.extend_from_slice(b"; Path=");
    out.extend_from_slice(affinity.path.as_deref().unwrap_or(path).as_bytes());
    if affinity.secure || https {
        out.extend_from_slice(b"; Secure");
    }
    out.extend_from_slice(b"; HttpOnly");
    let same_site = affinity.same_site.filter(|s| {
        !(*s == SameSite::None
            && affinity.conditional_same_site_none
            && !same_site_none_compatible(user_agent.map(HeaderValue::as_bytes)))
    });
    if let Some(same_site) = same_site {
        out.extend_from_slice(b"; SameSite=");
        out.extend_from_slice(same_site.as_str().as_bytes());
    }
}

/// nginx's `ngx_http_cookie_time`: `Thu, 18-Nov-10 11:27:35 GMT`.
fn cookie_time(out: &mut Vec<u8>, unix: i64) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (year, month, day) = crate::access_log::civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(month as usize).saturating_sub(1) % 12];
    let text = format!(
        "{weekday}, {day:02}-{month}-{:02} {:02}:{:02}:{:02} GMT",
        year.rem_euclid(100),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out.extend_from_slice(text.as_bytes());
}

/// ingress-nginx's `same_site.lua`: the browsers that reject or mishandle `SameSite=None`
/// (Chrome 40–69, iOS 12, Safari on macOS 10.14).
fn same_site_none_compatible(user_agent: Option<&[u8]>) -> bool {
    let Some(ua) = user_agent else {
        return true;
    };
    let has = |needle: &[u8]| ua.windows(needle.len()).any(|w| w == needle);
    !(has(b"Chrome/4")
        || has(b"Chrome/5")
        || has(b"Chrome/6")
        || has(b"CPU iPhone OS 12")
        || has(b"iPad; CPU OS 12")
        || (has(b"Macintosh") && has(b"Intel Mac OS X 10_14") && has(b"Safari") && !has(b"Chrome")))
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A fresh ring position for a new balanced session (two draws of the per-thread generator).
fn random_u64() -> u64 {
    (u64::from(roll(u32::MAX)) << 32) | u64::from(roll(u32::MAX))
}

#[cfg(test)]
#[path = "affinity/tests.rs"]
mod tests;
