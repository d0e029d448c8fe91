//! `X-Request-ID` values: 32 lowercase hex characters laid out as a UUID v4 in simple form.
//!
//! Ids come from a counter run through SipHash under a random per-process key (std's
//! `RandomState`): unique, unguessable without the key, and free of a system call per request
//! (a `getrandom`-backed UUID v4 would make one). Each thread counts through a block of 2^40
//! numbers of its own, taken once from a process-wide counter, so no two cores write one
//! counter per request.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;

static KEY: OnceLock<RandomState> = OnceLock::new();
/// The next unclaimed block of counter values.
static BLOCKS: AtomicU64 = AtomicU64::new(0);
/// Counter values per block: a thread serving a million requests a second needs 12 days to
/// use one up, and then takes another.
const BLOCK: u64 = 1 << 40;

thread_local! {
    /// This thread's next counter value and the end of its block (0, 0: none claimed yet).
    static NEXT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn next() -> u64 {
    NEXT.with(|next| {
        let (mut n, mut end) = next.get();
        if n == end {
            n = BLOCKS.fetch_add(1, Ordering::Relaxed).wrapping_mul(BLOCK);
            end = n.wrapping_add(BLOCK);
        }
        next.set((n + 1, end));
        n
    })
}

/// A fresh request id.
pub(crate) fn generate() -> HeaderValue {
    let n = next();
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
    fn threads_count_through_blocks_of_their_own() {
        let here: Vec<u64> = (0..3).map(|_| next()).collect();
        let there: Vec<u64> = std::thread::spawn(|| (0..3).map(|_| next()).collect())
            .join()
            .unwrap();
        assert_eq!(here[1], here[0] + 1);
        assert_eq!(there[1], there[0] + 1);
        assert_ne!(here[0] / BLOCK, there[0] / BLOCK, "{here:?} {there:?}");
    }

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
