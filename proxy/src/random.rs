//! The data path's dice: a canary's weight (docs/architecture.md, "Canary"), the EWMA
//! balancer's two candidates, a session's random endpoint. A per-thread xorshift generator,
//! seeded once per thread from the standard library's random hasher keys, so a draw takes no
//! lock, no atomic and no system call. Not for secrets: it only splits traffic.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // Never 0: xorshift stays at 0 from there.
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// A number in `1..=n` (`n` at least 1).
pub(crate) fn roll(n: u32) -> u32 {
    let x = STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    });
    // Multiply-shift maps the 64-bit draw onto `0..n` without a division.
    let n = u64::from(n.max(1));
    u32::try_from(((x >> 32) * n) >> 32).unwrap_or(0) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_stay_in_range_and_spread_over_it() {
        let mut seen = [0u32; 10];
        for _ in 0..100_000 {
            let r = roll(10);
            assert!((1..=10).contains(&r), "{r}");
            seen[(r - 1) as usize] += 1;
        }
        // Each face near 10,000: far from 0 and from all.
        assert!(
            seen.iter().all(|&n| (8_500..11_500).contains(&n)),
            "{seen:?}"
        );
        assert_eq!(roll(1), 1);
        assert_eq!(roll(0), 1);
    }
}
