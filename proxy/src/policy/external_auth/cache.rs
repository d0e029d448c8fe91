//! The auth answer cache (`auth-cache-key`, `auth-cache-duration`): per worker, bounded,
//! like basic auth's verification cache.
//!
//! - The key is a 128-bit hash (two SipHash runs with per-process random keys) of the route's
//!   keyspace — the Ingress, the rule's path, the request's host — the auth URL and the
//!   evaluated `auth-cache-key`. ingress-nginx keys by server, location and the evaluated key
//!   ("each server and location has its own keyspace").
//! - An answer is kept for its status's `auth-cache-duration`, as nginx's `proxy_cache_valid`;
//!   not at all when it sets a cookie or says `Cache-Control: no-store`, `no-cache` or
//!   `private` (nginx's cache does not store those either).
//! - What is kept: the status, and the headers a later request needs from it (the listed
//!   `auth-response-headers` and `WWW-Authenticate`).
//! - At most [`ENTRIES`] answers per worker; when full, expired ones go, then it starts over.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

use http::StatusCode;
use http::header::{CACHE_CONTROL, HeaderMap, SET_COOKIE, WWW_AUTHENTICATE};
use strait_shared::table::external_auth::{AuthCache, ExternalAuth, ttl_for};
use tokio::time::Instant;

/// Answers kept per worker.
pub(crate) const ENTRIES: usize = 4096;

/// A kept answer.
#[derive(Clone, Debug)]
pub(super) struct Kept {
    pub status: StatusCode,
    pub headers: HeaderMap,
    until: Instant,
}

thread_local! {
    static ANSWERS: RefCell<HashMap<u128, Kept>> = RefCell::new(HashMap::new());
}

/// The cache key of one request: the route's keyspace (`scope`: its parts, hashed in order),
/// the auth URL and the evaluated key.
pub(super) fn key(scope: &[&[u8]], url: &str, evaluated: &[u8]) -> u128 {
    static KEYS: OnceLock<[RandomState; 2]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| [RandomState::new(), RandomState::new()]);
    let half = |state: &RandomState| {
        let mut h = state.build_hasher();
        for part in scope.iter().copied().chain([url.as_bytes(), evaluated]) {
            h.write_usize(part.len());
            h.write(part);
        }
        h.finish()
    };
    (u128::from(half(&keys[0])) << 64) | u128::from(half(&keys[1]))
}

/// The answer kept under `key`, if it is still valid.
pub(super) fn get(key: u128) -> Option<Kept> {
    let now = Instant::now();
    ANSWERS.with_borrow(|answers| answers.get(&key).filter(|k| k.until > now).cloned())
}

/// Keeps an answer of `auth` with `status` and `headers` under `key`, when its status is
/// cached and it may be stored.
pub(super) fn put(
    key: u128,
    auth: &ExternalAuth,
    cache: &AuthCache,
    status: StatusCode,
    headers: &HeaderMap,
) {
    let Some(ttl) = ttl_for(&cache.valid, status.as_u16()).filter(|t| !t.is_zero()) else {
        return;
    };
    if !storable(headers) {
        return;
    }
    let mut kept = HeaderMap::new();
    for (name, value) in headers {
        let listed = auth.response_headers.iter().any(|n| **n == *name.as_str());
        if listed || name == WWW_AUTHENTICATE {
            kept.append(name.clone(), value.clone());
        }
    }
    let now = Instant::now();
    let entry = Kept {
        status,
        headers: kept,
        until: now + ttl,
    };
    ANSWERS.with_borrow_mut(|answers| {
        if answers.len() >= ENTRIES && !answers.contains_key(&key) {
            answers.retain(|_, k| k.until > now);
            if answers.len() >= ENTRIES {
                answers.clear();
            }
        }
        answers.insert(key, entry);
    });
}

/// Whether nginx's cache would store an answer with these headers.
fn storable(headers: &HeaderMap) -> bool {
    if headers.contains_key(SET_COOKIE) {
        return false;
    }
    !headers.get_all(CACHE_CONTROL).iter().any(|value| {
        value
            .to_str()
            .unwrap_or("")
            .split(',')
            .map(|d| d.trim().split('=').next().unwrap_or(""))
            .any(|d| {
                ["no-store", "no-cache", "private"]
                    .iter()
                    .any(|x| d.eq_ignore_ascii_case(x))
            })
    })
}

/// Entries kept by this worker (tests).
#[cfg(test)]
pub(super) fn len() -> usize {
    ANSWERS.with_borrow(HashMap::len)
}
