//! `X-Request-ID` values: 32 lowercase hex characters laid out as a UUID v4 in simple form.
//!
//! Ids come from a process-wide counter run through SipHash under a random per-process key
//! (std's `RandomState`): unique, unguessable without the key, and free of a system call per
//! request (a `getrandom`-backed UUID v4 would make one).

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;

static KEY: OnceLock<RandomState> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh request id.
pub(crate) fn generate() -> HeaderValue {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let key = KEY.get_or_init(RandomState::new);
    let bits = (u128::from(key.hash_one((n, 0u8))) << 64) | u128::from(key.hash_one((n, 1u8)));
    // UUID v4 layout: version nibble 4, variant bits 10.
    let bits = (bits & !(0xf << 76)) | (0x4 << 76);
    let bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let mut hex = [0u8; 32];
    for (i, digit) in hex.iter_mut().enumerate() {
        let nibble = (bits >> (124 - 4 * i)) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    // Hex digits are valid header bytes.
    HeaderValue::from_bytes(&hex).expect("hex digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_32_lowercase_hex_uuid_v4_and_unique() {
        let ids: HashSet<String> = (0..1000)
            .map(|_| generate().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
            assert_eq!(&id[12..13], "4", "version nibble: {id}");
            assert!(
                matches!(&id[16..17], "8" | "9" | "a" | "b"),
                "variant: {id}"
            );
        }
    }
}
