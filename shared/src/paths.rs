//! Path matching for one host: Exact, element-wise Prefix, and ImplementationSpecific (a plain
//! string prefix, as ingress-nginx treats it without regex).
//!
//! Every kind lives in a hash map keyed by its (normalised) path; lookups probe only the
//! distinct key lengths present, longest first, so a lookup costs a handful of hash probes
//! whatever the number of routes. Precedence is the [`MatchRank`] type: the longest match wins
//! (measured with a trailing slash removed) and on a tie `Exact` beats `Prefix`, which beats
//! `ImplementationSpecific`.
//!
//! A host where some Ingress uses regex (`use-regex`, `rewrite-target`) matches by
//! ingress-nginx's regex rules instead ([`regex`]); the maps serve only its `Exact` paths
//! kept exact. A plain host pays one branch for that.

use std::collections::HashMap;

pub mod regex;

use regex::{RegexError, RegexPath, RegexPaths, RegexRejected};

/// Ingress `pathType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathKind {
    /// ingress-nginx's plain string prefix (a regex on a regex host).
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

/// What a path lookup found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathMatch<'a, T> {
    pub value: &'a T,
    pub rank: MatchRank,
    /// On a regex host, the path of the regex location that matched.
    pub pattern: Option<&'a str>,
}

/// Paths of one host, mapping to values of type `T` (a route).
#[derive(Clone, Debug, PartialEq)]
pub struct PathRouter<T> {
    exact: HashMap<Box<str>, T>,
    prefix: LengthIndexed<T>,
    string_prefix: LengthIndexed<T>,
    /// Set on a regex host: every path lives here, but `Exact` ones kept exact.
    regex: Option<Box<RegexMode<T>>>,
}

/// A regex host's paths.
#[derive(Clone, Debug, PartialEq)]
struct RegexMode<T> {
    /// `Exact` paths stay exact (in `PathRouter::exact`), tried before the regexes
    /// (`--regex-keep-exact-paths`).
    keep_exact: bool,
    paths: RegexPaths<T>,
}

impl<T> Default for PathRouter<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            prefix: LengthIndexed::default(),
            string_prefix: LengthIndexed::default(),
            regex: None,
        }
    }
}

impl<T> PathRouter<T> {
    /// Inserts `value` for `kind` + `path`. When that (normalised) key is already taken the
    /// existing value is kept and returned: the caller inserts in precedence order, so the first
    /// insert is the winner of a conflict.
    pub fn insert(&mut self, kind: PathKind, path: &str, value: T) -> Result<(), &T> {
        debug_assert!(
            self.regex_for(kind).is_none(),
            "a regex host's paths go in with insert_regex"
        );
        let Self {
            exact,
            prefix,
            string_prefix,
            ..
        } = self;
        insert_plain(exact, prefix, string_prefix, kind, path, value)
    }

    /// The value stored under exactly `kind` + `path`, if any (on a regex host, the path as
    /// written: `/foo` and `/foo/` are two paths there).
    pub fn get(&self, kind: PathKind, path: &str) -> Option<&T> {
        if let Some(regex) = self.regex_for(kind) {
            return regex.paths.get(kind, path);
        }
        let key = normalise(kind, path);
        match kind {
            PathKind::Exact => self.exact.get(key),
            PathKind::Prefix => self.prefix.map.get(key),
            PathKind::ImplementationSpecific => self.string_prefix.map.get(key),
        }
    }

    /// The value stored under exactly `kind` + `path`, if any, to change it.
    pub fn get_mut(&mut self, kind: PathKind, path: &str) -> Option<&mut T> {
        if let Some(regex) = self
            .regex
            .as_deref_mut()
            .filter(|r| !(r.keep_exact && kind == PathKind::Exact))
        {
            return regex.paths.get_mut(kind, path);
        }
        let key = normalise(kind, path);
        match kind {
            PathKind::Exact => self.exact.get_mut(key),
            PathKind::Prefix => self.prefix.map.get_mut(key),
            PathKind::ImplementationSpecific => self.string_prefix.map.get_mut(key),
        }
    }

    pub fn len(&self) -> usize {
        let regex = self.regex.as_ref().map_or(0, |r| r.paths.len());
        self.exact.len() + self.prefix.map.len() + self.string_prefix.map.len() + regex
    }

    /// Makes this (empty) router a regex host's: every path is then inserted with
    /// [`insert_regex`](Self::insert_regex), but `Exact` ones when `keep_exact`.
    pub fn use_regex(&mut self, keep_exact: bool) {
        self.regex.get_or_insert_with(|| {
            Box::new(RegexMode {
                keep_exact,
                paths: RegexPaths::default(),
            })
        });
    }

    /// Whether this is a regex host's router.
    pub fn is_regex(&self) -> bool {
        self.regex.is_some()
    }

    /// The regex paths that hold `kind`, on a regex host (not an `Exact` kept exact).
    fn regex_for(&self, kind: PathKind) -> Option<&RegexMode<T>> {
        self.regex
            .as_deref()
            .filter(|r| !(r.keep_exact && kind == PathKind::Exact))
    }

    /// Inserts `value` for `kind` + `path` on a regex host, matched by `locations` (its
    /// regex paths; two for a `Prefix` that ingress-nginx splits). Refused when that path is
    /// taken (the caller inserts in precedence order) or the host's regexes would grow too
    /// large. Not a regex router: the value goes in as by [`insert`](Self::insert).
    pub fn insert_regex(
        &mut self,
        kind: PathKind,
        path: &str,
        locations: Vec<RegexPath>,
        value: T,
    ) -> Result<(), RegexRejected<'_, T>> {
        let Self {
            exact,
            prefix,
            string_prefix,
            regex,
        } = self;
        match regex.as_deref_mut() {
            Some(regex) if !(regex.keep_exact && kind == PathKind::Exact) => {
                regex.paths.insert(kind, path, locations, value)
            }
            _ => insert_plain(exact, prefix, string_prefix, kind, path, value)
                .map_err(RegexRejected::Taken),
        }
    }

    /// Compiles a regex host's paths (nothing to do on a plain host); until then none of them
    /// matches. `Err`: they could not be compiled together, and none matches.
    pub fn seal(&mut self) -> Result<(), RegexError> {
        match self.regex.as_deref_mut() {
            Some(regex) => regex.paths.seal(),
            None => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Best match for a request path (the path part of the request target, undecoded).
    pub fn lookup(&self, path: &str) -> Option<PathMatch<'_, T>> {
        if let Some(regex) = &self.regex {
            return self.lookup_regex(regex, path);
        }
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
            .map(|(value, rank)| PathMatch {
                value,
                rank,
                pattern: None,
            })
    }

    /// A regex host: an `Exact` kept exact first (nginx's `location =`), then the first regex
    /// location that matches.
    fn lookup_regex<'a>(&'a self, regex: &'a RegexMode<T>, path: &str) -> Option<PathMatch<'a, T>> {
        if regex.keep_exact
            && let Some(value) = self.exact.get(path)
        {
            let rank = MatchRank {
                len: trim_slash(path).len(),
                kind: PathKind::Exact,
            };
            return Some(PathMatch {
                value,
                rank,
                pattern: None,
            });
        }
        let (value, kind, pattern) = regex.paths.lookup(path)?;
        Some(PathMatch {
            value,
            rank: MatchRank {
                len: pattern.len(),
                kind,
            },
            pattern: Some(pattern),
        })
    }

    /// Every stored value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        let regex = self.regex.iter().flat_map(|r| r.paths.values());
        self.exact
            .values()
            .chain(self.prefix.map.values())
            .chain(self.string_prefix.map.values())
            .chain(regex)
    }
}

/// [`PathRouter::insert`] on the plain maps.
fn insert_plain<'a, T>(
    exact: &'a mut HashMap<Box<str>, T>,
    prefix: &'a mut LengthIndexed<T>,
    string_prefix: &'a mut LengthIndexed<T>,
    kind: PathKind,
    path: &str,
    value: T,
) -> Result<(), &'a T> {
    let key = normalise(kind, path);
    match kind {
        PathKind::Exact => match exact.entry(key.into()) {
            std::collections::hash_map::Entry::Occupied(e) => Err(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(value);
                Ok(())
            }
        },
        PathKind::Prefix => prefix.insert(key, value),
        PathKind::ImplementationSpecific => string_prefix.insert(key, value),
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
