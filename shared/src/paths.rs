//! Path matching for one host: Exact, element-wise Prefix, and ImplementationSpecific (a plain
//! string prefix, as ingress-nginx treats it without regex).
//!
//! Every kind lives in a hash map keyed by its (normalised) path; lookups probe only the
//! distinct key lengths present, longest first, so a lookup costs a handful of hash probes
//! whatever the number of routes. Precedence is the [`MatchRank`] type: the longest match wins
//! (measured with a trailing slash removed) and on a tie `Exact` beats `Prefix`, which beats
//! `ImplementationSpecific`.

use std::collections::HashMap;

/// Ingress `pathType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathKind {
    /// ingress-nginx's plain string prefix (no regex support yet).
    ImplementationSpecific,
    /// Element-wise prefix on `/`-separated segments, trailing slash ignored.
    Prefix,
    /// Exact, case-sensitive.
    Exact,
}

impl PathKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Exact" => Some(Self::Exact),
            "Prefix" => Some(Self::Prefix),
            "ImplementationSpecific" => Some(Self::ImplementationSpecific),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "Exact",
            Self::Prefix => "Prefix",
            Self::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// How good a path match is. Derived `Ord` encodes the precedence: longer first, then by kind
/// (`Exact` > `Prefix` > `ImplementationSpecific`, the declaration order of [`PathKind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MatchRank {
    pub len: usize,
    pub kind: PathKind,
}

/// `path` without one trailing slash; `/` becomes the empty string.
fn trim_slash(path: &str) -> &str {
    path.strip_suffix('/').unwrap_or(path)
}

/// The key a path is stored under for its kind.
pub fn normalise(kind: PathKind, path: &str) -> &str {
    match kind {
        PathKind::Prefix => trim_slash(path),
        PathKind::Exact | PathKind::ImplementationSpecific => path,
    }
}

/// Paths of one host, mapping to values of type `T` (a route).
#[derive(Clone, Debug, PartialEq)]
pub struct PathRouter<T> {
    exact: HashMap<Box<str>, T>,
    prefix: LengthIndexed<T>,
    string_prefix: LengthIndexed<T>,
}

impl<T> Default for PathRouter<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            prefix: LengthIndexed::default(),
            string_prefix: LengthIndexed::default(),
        }
    }
}

impl<T> PathRouter<T> {
    /// Inserts `value` for `kind` + `path`. When that (normalised) key is already taken the
    /// existing value is kept and returned: the caller inserts in precedence order, so the first
    /// insert is the winner of a conflict.
    pub fn insert(&mut self, kind: PathKind, path: &str, value: T) -> Result<(), &T> {
        let key = normalise(kind, path);
        match kind {
            PathKind::Exact => match self.exact.entry(key.into()) {
                std::collections::hash_map::Entry::Occupied(e) => Err(e.into_mut()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(value);
                    Ok(())
                }
            },
            PathKind::Prefix => self.prefix.insert(key, value),
            PathKind::ImplementationSpecific => self.string_prefix.insert(key, value),
        }
    }

    /// The value stored under exactly `kind` + `path`, if any.
    pub fn get(&self, kind: PathKind, path: &str) -> Option<&T> {
        let key = normalise(kind, path);
        match kind {
            PathKind::Exact => self.exact.get(key),
            PathKind::Prefix => self.prefix.map.get(key),
            PathKind::ImplementationSpecific => self.string_prefix.map.get(key),
        }
    }

    /// The value stored under exactly `kind` + `path`, if any, to change it.
    pub fn get_mut(&mut self, kind: PathKind, path: &str) -> Option<&mut T> {
        let key = normalise(kind, path);
        match kind {
            PathKind::Exact => self.exact.get_mut(key),
            PathKind::Prefix => self.prefix.map.get_mut(key),
            PathKind::ImplementationSpecific => self.string_prefix.map.get_mut(key),
        }
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.prefix.map.len() + self.string_prefix.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Best match for a request path (the path part of the request target, undecoded).
    pub fn lookup(&self, path: &str) -> Option<(&T, MatchRank)> {
        let trimmed = trim_slash(path);
        let exact = self.exact.get(path).map(|v| {
            let rank = MatchRank {
                len: trimmed.len(),
                kind: PathKind::Exact,
            };
            (v, rank)
        });
        let prefix = self.prefix.longest(trimmed, |len| {
            len == trimmed.len() || trimmed.as_bytes().get(len) == Some(&b'/')
        });
        let prefix = prefix.map(|(v, key)| {
            let rank = MatchRank {
                len: key.len(),
                kind: PathKind::Prefix,
            };
            (v, rank)
        });
        let string_prefix = self
            .string_prefix
            .longest(path, |len| path.is_char_boundary(len));
        let string_prefix = string_prefix.map(|(v, key)| {
            let rank = MatchRank {
                len: trim_slash(key).len(),
                kind: PathKind::ImplementationSpecific,
            };
            (v, rank)
        });
        [exact, prefix, string_prefix]
            .into_iter()
            .flatten()
            .max_by_key(|(_, rank)| *rank)
    }

    /// Every stored value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.exact
            .values()
            .chain(self.prefix.map.values())
            .chain(self.string_prefix.map.values())
    }
}

/// A map plus the distinct key lengths it holds, longest first.
#[derive(Clone, Debug, PartialEq)]
struct LengthIndexed<T> {
    map: HashMap<Box<str>, T>,
    lens: Vec<usize>,
}

impl<T> Default for LengthIndexed<T> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            lens: Vec::new(),
        }
    }
}

impl<T> LengthIndexed<T> {
    fn insert(&mut self, key: &str, value: T) -> Result<(), &T> {
        use std::collections::hash_map::Entry;
        match self.map.entry(key.into()) {
            Entry::Occupied(e) => Err(e.into_mut()),
            Entry::Vacant(e) => {
                e.insert(value);
                if let Err(at) = self.lens.binary_search_by(|l| key.len().cmp(l)) {
                    self.lens.insert(at, key.len());
                }
                Ok(())
            }
        }
    }

    /// The entry whose key is the longest prefix of `s` at a length that `boundary` accepts.
    fn longest<'a>(&self, s: &'a str, boundary: impl Fn(usize) -> bool) -> Option<(&T, &'a str)> {
        self.lens
            .iter()
            .copied()
            .filter(|&len| len <= s.len() && boundary(len))
            .find_map(|len| {
                let key = &s[..len];
                self.map.get(key).map(|v| (v, key))
            })
    }
}

#[cfg(test)]
mod tests;
