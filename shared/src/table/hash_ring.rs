//! What keyed endpoint choice needs of a backend, built with its endpoint set
//! (docs/architecture.md, "Session affinity and consistent hashing"): a consistent-hash ring
//! (`upstream-hash-by`, `affinity-mode: balanced`), rings over endpoint subsets
//! (`upstream-hash-by-subset`) and the cookie tokens of `affinity-mode: persistent`.
//!
//! The ring is Karger's (nginx's `resty.chash` is one too): 160 points per endpoint (times its
//! relative weight, at most 16), placed by XXH3. A key goes to the endpoint of the first point
//! at or after its hash, so an endpoint that joins takes only the keys that now land on its own
//! points, and one that leaves gives only its own keys away, about 1/N each. A ring and not
//! Maglev: Maglev's table lookup is O(1) but a change also moves a few keys between endpoints
//! that stay, and a session (or a cache shard) moved for no reason is what this exists to
//! avoid; the ring's binary search over `160 × N` points is a few dozen nanoseconds.
//!
//! Everything is derived from the backend's secret (the Service's UID, known to every replica
//! and stable across table rebuilds, never sent to clients): two replicas place a key and read
//! a cookie the same way, and a cookie's token cannot be turned back into a pod address
//! without the secret (HMAC-SHA1, where ingress-nginx uses an MD5 salted with the public
//! backend name).

use std::net::SocketAddr;
use std::sync::Arc;

use sha1::{Digest as _, Sha1};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::Endpoint;

/// Ring points per endpoint of weight 1, as nginx's `resty.chash`.
const POINTS: u32 = 160;
/// The largest relative weight a ring honours (weights come from nodeport + Local mode).
const MAX_WEIGHT: u32 = 16;

/// A persistent-affinity cookie token: 16 bytes of the endpoint's keyed hash.
pub type Token = [u8; 16];

/// The keyed structures of one backend's endpoint set. Equality compares the inputs (secret
/// and endpoints) only, as everything else follows from them.
#[derive(Clone, Debug)]
pub struct Keyed {
    secret: Arc<[u8]>,
    endpoints: Vec<SocketAddr>,
    ring: Ring,
    /// `(token, index)` sorted by token, for reading cookies.
    tokens: Vec<(Token, u32)>,
    /// Token by endpoint index, for writing cookies.
    token_of: Vec<Token>,
    /// Names the backend in a cookie (ingress-nginx's `backend_key`), for canary stickiness.
    tag: [u8; 8],
    /// Rings over subsets, by subset size.
    subsets: Vec<(u32, Ring)>,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
            && self.endpoints == other.endpoints
            && self.subsets.len() == other.subsets.len()
            && self
                .subsets
                .iter()
                .zip(&other.subsets)
                .all(|(a, b)| a.0 == b.0)
    }
}

impl Keyed {
    /// The structures for `list` (an [`super::Endpoints`] list: sorted, one entry per
    /// address) under `secret`, with a subset ring for each of `subset_sizes`.
    pub fn build(secret: Arc<[u8]>, list: &[Endpoint], subset_sizes: &[u32]) -> Self {
        let seed = u64::from_le_bytes(first::<8>(&hmac_sha1(&secret, &[b"ring"])));
        let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        let divisor = list.iter().map(|e| e.weight).fold(0, gcd).max(1);
        let mut points = Vec::with_capacity(list.len() * POINTS as usize);
        for (i, ep) in list.iter().enumerate() {
            let name = ep.addr.to_string();
            let count = POINTS * (ep.weight / divisor).clamp(1, MAX_WEIGHT);
            push_points(&mut points, seed, name.as_bytes(), count, index(i));
        }
        let token_of: Vec<Token> = list
            .iter()
            .map(|ep| {
                first::<16>(&hmac_sha1(
                    &secret,
                    &[b"endpoint ", ep.addr.to_string().as_bytes()],
                ))
            })
            .collect();
        let mut tokens: Vec<(Token, u32)> = token_of
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, index(i)))
            .collect();
        tokens.sort_unstable();
        let mut sizes: Vec<u32> = subset_sizes.iter().copied().filter(|s| *s > 0).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let subsets = sizes
            .into_iter()
            .map(|size| (size, subset_ring(seed, list.len(), size)))
            .collect();
        Self {
            tag: first::<8>(&hmac_sha1(&secret, &[b"backend"])),
            secret,
            endpoints: list.iter().map(|e| e.addr).collect(),
            ring: Ring::new(points),
            tokens,
            token_of,
            subsets,
        }
    }

    /// The same secret and subset sizes over a new endpoint list (the endpoint fast path).
    pub fn rebuild(&self, list: &[Endpoint]) -> Self {
        let sizes: Vec<u32> = self.subsets.iter().map(|(size, _)| *size).collect();
        Self::build(Arc::clone(&self.secret), list, &sizes)
    }

    /// The secret, to build the structures again.
    pub fn secret(&self) -> &Arc<[u8]> {
        &self.secret
    }

    /// The subset sizes with a ring.
    pub fn subset_sizes(&self) -> impl Iterator<Item = u32> + '_ {
        self.subsets.iter().map(|(size, _)| *size)
    }

    /// The endpoint index a 64-bit key hash lands on; `None` without endpoints.
    pub fn lookup(&self, hash: u64) -> Option<usize> {
        self.ring.lookup(hash).map(|i| i as usize)
    }

    /// The subset (its first index and length in the endpoint list, wrapping) a key hash
    /// lands on in the ring of subsets of `size`; `None` when there is no such ring.
    pub fn lookup_subset(&self, size: u32, hash: u64) -> Option<Subset> {
        let (_, ring) = self.subsets.iter().find(|(s, _)| *s == size)?;
        let set = ring.lookup(hash)?;
        Some(Subset {
            start: set as usize * size as usize,
            len: size as usize,
        })
    }

    /// A ring position that lands on endpoint `index` (one of its points), for a
    /// balanced-affinity cookie that must name that endpoint; `pick` chooses among its points
    /// (`pick(n)` in `0..n`).
    pub fn position_of(&self, index: usize, pick: impl FnOnce(usize) -> usize) -> Option<u64> {
        let mut owned = self.ring.owned_by(index);
        let n = owned.clone().count();
        if n == 0 {
            return None;
        }
        owned.nth(pick(n) % n)
    }

    /// The endpoint index of a persistent-affinity token, if it names a current endpoint.
    pub fn endpoint_of(&self, token: &Token) -> Option<usize> {
        self.tokens
            .binary_search_by(|(t, _)| t.cmp(token))
            .ok()
            .map(|at| self.tokens[at].1 as usize)
    }

    /// The persistent-affinity token of endpoint `index`.
    pub fn token(&self, index: usize) -> Option<&Token> {
        self.token_of.get(index)
    }

    /// This backend's tag in cookies.
    pub fn tag(&self) -> &[u8; 8] {
        &self.tag
    }
}

/// A run of endpoints: `start..start + len`, indices taken modulo the endpoint count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subset {
    pub start: usize,
    pub len: usize,
}

/// Sorted ring points: `(position, owner)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ring {
    points: Vec<(u64, u32)>,
}

impl Ring {
    fn new(mut points: Vec<(u64, u32)>) -> Self {
        // Ties (vanishingly rare) broken by owner, so every replica sorts alike.
        points.sort_unstable();
        Self { points }
    }

    fn lookup(&self, hash: u64) -> Option<u32> {
        let at = self.points.partition_point(|(p, _)| *p < hash);
        self.points
            .get(at)
            .or_else(|| self.points.first())
            .map(|(_, owner)| *owner)
    }

    /// The positions of `owner`'s points.
    fn owned_by(&self, owner: usize) -> impl Iterator<Item = u64> + Clone + '_ {
        self.points
            .iter()
            .filter(move |(_, o)| *o as usize == owner)
            .map(|(p, _)| *p)
    }
}

fn push_points(points: &mut Vec<(u64, u32)>, seed: u64, name: &[u8], count: u32, owner: u32) {
    let mut buf = Vec::with_capacity(name.len() + 5);
    for n in 0..count {
        buf.clear();
        buf.extend_from_slice(name);
        buf.push(b'#');
        buf.extend_from_slice(&n.to_le_bytes());
        points.push((xxh3_64_with_seed(&buf, seed), owner));
    }
}

/// ingress-nginx's `chashsubset`: the endpoint list cut into `ceil(n / size)` subsets of
/// `size` (the last one filled up from the start of the list), one ring point set per subset.
fn subset_ring(seed: u64, endpoints: usize, size: u32) -> Ring {
    let sets = endpoints.div_ceil(size as usize);
    let mut points = Vec::with_capacity(sets * POINTS as usize);
    for set in 0..sets {
        let name = format!("set{}", set + 1);
        let owner = u32::try_from(set).unwrap_or(u32::MAX);
        push_points(&mut points, seed, name.as_bytes(), POINTS, owner);
    }
    Ring::new(points)
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn first<const N: usize>(digest: &[u8; 20]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&digest[..N]);
    out
}

/// HMAC-SHA1 (RFC 2104) of the concatenated `parts`.
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let mut inner = Sha1::new();
    inner.update(pad(0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha1::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    let mut out = [0; 20];
    out.copy_from_slice(&outer.finalize());
    out
}

#[cfg(test)]
#[path = "hash_ring/tests.rs"]
mod tests;
