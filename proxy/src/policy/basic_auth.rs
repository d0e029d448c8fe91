//! HTTP basic auth (docs/architecture.md, "Basic auth"): the route's users come parsed from
//! the table ([`BasicAuth`]); a request without a matching `Authorization: Basic` gets 401
//! with the route's `WWW-Authenticate` challenge.
//!
//! bcrypt is slow by design (tens of milliseconds at the usual costs), and the worker that
//! serves a request is a single-threaded runtime: verifying on it would stall every
//! connection of that worker. So:
//!
//! - successful verifications are cached per worker for [`CACHE_TTL`] (at most
//!   [`CACHE_ENTRIES`] entries), keyed by a 128-bit hash, with per-process random keys, of
//!   the stored hash, the user and the password: the password itself is never kept;
//! - a cache miss on a bcrypt hash runs on the runtime's blocking pool, at most
//!   [`MAX_SLOW_VERIFICATIONS`] at a time per worker, so a flood of wrong passwords costs
//!   those threads and a queue, never the I/O thread; cheaper formats verify inline;
//! - failures are not cached: a wrong password is verified every time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderValue};
use strait_shared::table::basic_auth::{BasicAuth, PasswordHash};
use tokio::sync::Semaphore;

use crate::error::ProxyError;

/// How long a successful verification is trusted without verifying again.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(30);
/// Entries per worker; when full, expired ones go, then the cache starts over.
pub(crate) const CACHE_ENTRIES: usize = 4096;
/// bcrypt verifications running at once per worker (on its blocking pool).
pub(crate) const MAX_SLOW_VERIFICATIONS: usize = 2;

thread_local! {
    static CACHE: RefCell<HashMap<u128, Instant>> = RefCell::new(HashMap::new());
    static SLOW: Arc<Semaphore> = Arc::new(Semaphore::new(MAX_SLOW_VERIFICATIONS));
}

/// `Ok` when the request carries a user and password of `auth`, else 401.
pub(crate) async fn check(auth: &BasicAuth, headers: &HeaderMap) -> Result<(), ProxyError> {
    let Some(credentials) = credentials(headers) else {
        return Err(unauthorized(auth));
    };
    let (user, password) = credentials.parts();
    let Some(hash) = auth.users.get(user) else {
        return Err(unauthorized(auth));
    };
    let key = cache_key(hash, user, password);
    let now = Instant::now();
    if CACHE.with_borrow(|c| c.get(&key).is_some_and(|until| *until > now)) {
        return Ok(());
    }
    if !verify(hash, password.to_vec()).await {
        return Err(unauthorized(auth));
    }
    CACHE.with_borrow_mut(|c| remember(c, key, Instant::now()));
    Ok(())
}

async fn verify(hash: &PasswordHash, password: Vec<u8>) -> bool {
    if !hash.is_slow() {
        return hash.verify(&password);
    }
    let slow = SLOW.with(Arc::clone);
    let Ok(_permit) = slow.acquire_owned().await else {
        return false;
    };
    let hash = hash.clone();
    // A panic or a cancelled task is a failed verification (fail closed).
    tokio::task::spawn_blocking(move || hash.verify(&password))
        .await
        .unwrap_or(false)
}

fn remember(cache: &mut HashMap<u128, Instant>, key: u128, now: Instant) {
    if cache.len() >= CACHE_ENTRIES {
        cache.retain(|_, until| *until > now);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
    }
    cache.insert(key, now + CACHE_TTL);
}

/// Two independently keyed SipHash runs (std's `RandomState`, random per process).
fn cache_key(hash: &PasswordHash, user: &str, password: &[u8]) -> u128 {
    static KEYS: OnceLock<[RandomState; 2]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| [RandomState::new(), RandomState::new()]);
    let half = |state: &RandomState| {
        let mut h = state.build_hasher();
        for part in [hash.fingerprint(), user.as_bytes(), password] {
            h.write_usize(part.len());
            h.write(part);
        }
        h.finish()
    };
    (u128::from(half(&keys[0])) << 64) | u128::from(half(&keys[1]))
}

/// The user of an `Authorization: Basic` header (nginx's `$remote_user`).
pub(crate) fn user(headers: &HeaderMap) -> Option<String> {
    credentials(headers).map(|c| c.parts().0.to_owned())
}

/// The decoded `user:password` of a `Basic` token: on the stack when it fits (nearly always),
/// so a cache hit allocates nothing.
#[derive(Debug)]
struct Credentials {
    decoded: Decoded,
    colon: usize,
}

// The large variant is the point: it lives on the stack of one check, never in a collection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Decoded {
    Stack([u8; STACK_TOKEN], usize),
    Heap(Vec<u8>),
}

/// Decoded credentials up to this many bytes stay on the stack.
const STACK_TOKEN: usize = 256;

impl Credentials {
    fn bytes(&self) -> &[u8] {
        match &self.decoded {
            Decoded::Stack(buf, len) => &buf[..*len],
            Decoded::Heap(bytes) => bytes,
        }
    }

    /// The user (checked to be UTF-8 when parsed) and the password.
    fn parts(&self) -> (&str, &[u8]) {
        let (user, rest) = self.bytes().split_at(self.colon);
        (std::str::from_utf8(user).unwrap_or_default(), &rest[1..])
    }
}

/// The user and password of an `Authorization: Basic <base64(user:password)>` header.
fn credentials(headers: &HeaderMap) -> Option<Credentials> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at(value.iter().position(|b| *b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let token = token.trim_ascii();
    let mut buf = [0u8; STACK_TOKEN];
    let decoded = match STANDARD.decode_slice(token, &mut buf) {
        Ok(len) => Decoded::Stack(buf, len),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            Decoded::Heap(STANDARD.decode(token).ok()?)
        }
        Err(_) => return None,
    };
    let mut credentials = Credentials { decoded, colon: 0 };
    let colon = credentials.bytes().iter().position(|b| *b == b':')?;
    std::str::from_utf8(&credentials.bytes()[..colon]).ok()?;
    credentials.colon = colon;
    Some(credentials)
}

fn unauthorized(auth: &BasicAuth) -> ProxyError {
    let challenge = HeaderValue::from_str(&auth.challenge)
        .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"\""));
    ProxyError::Unauthorized { challenge }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn credentials_parse_like_nginx() {
        // "alice:pa:ss" — the password may hold colons.
        let h = headers("Basic YWxpY2U6cGE6c3M=");
        let parts = |h: &HeaderMap| {
            credentials(h).map(|c| {
                let (user, password) = c.parts();
                (user.to_owned(), password.to_vec())
            })
        };
        assert_eq!(parts(&h), Some(("alice".to_owned(), b"pa:ss".to_vec())));
        assert_eq!(parts(&headers("basic   YWxpY2U6")).unwrap().1, b"");
        // A token past the stack buffer decodes on the heap, the same way.
        let long = format!("{}:{}", "u".repeat(10), "p".repeat(400));
        let token = format!("Basic {}", STANDARD.encode(&long));
        assert_eq!(parts(&headers(&token)).unwrap().1.len(), 400);
        assert!(credentials(&headers("Bearer YWxpY2U6cGE=")).is_none());
        assert!(credentials(&headers("Basic !!!")).is_none());
        assert!(
            credentials(&headers("Basic YWxpY2U=")).is_none(),
            "no colon"
        );
        assert!(credentials(&HeaderMap::new()).is_none());
    }

    #[test]
    fn cache_is_bounded_and_keys_differ_by_password() {
        let hash = PasswordHash::parse("{PLAIN}x").unwrap();
        assert_ne!(cache_key(&hash, "u", b"a"), cache_key(&hash, "u", b"b"));
        assert_ne!(cache_key(&hash, "u", b"a"), cache_key(&hash, "ua", b""));
        let mut cache = HashMap::new();
        let now = Instant::now();
        for key in 0..(CACHE_ENTRIES as u128 + 10) {
            remember(&mut cache, key, now);
        }
        assert!(cache.len() <= CACHE_ENTRIES);
    }
}
