//! The regex paths of one host: ingress-nginx's rules for a host where some Ingress sets
//! `use-regex` or `rewrite-target` (docs/architecture.md, "Regex paths and rewrites").
//!
//! ingress-nginx writes every location of such a host as `location ~* "^<path>"`: a
//! case-insensitive regular expression anchored at the start only, tried in the order of the
//! locations, longest path string first (then the greater string, then the order the paths
//! came in), the first match winning. Here the paths are compiled by the `regex` crate's
//! engine (`regex-automata`: finite automata, linear in the path's length whatever the
//! pattern, so no pattern can make a request slow) when the table is built:
//!
//! - each path on its own, as [`RegexPath::parse`], which reports a pattern the engine does
//!   not accept (PCRE's lookaround, backreferences, possessive groups…) or one whose compiled
//!   form exceeds [`PATH_LIMIT`], so that the caller can quarantine that path alone;
//! - then all of a host's paths as one multi-pattern regex with leftmost-first semantics, in
//!   the match order: an anchored search then reports the first path, in that order, that
//!   matches at the start of the request path — nginx's "first match wins" — in one pass
//!   over the path, without trying the paths one by one. A host's paths together may not
//!   exceed [`HOST_LIMIT`]; a path over it is quarantined.
//!
//! Matching is ASCII case-insensitive on the bytes of the path as received (PCRE without UTF
//! mode, as nginx builds it, folds ASCII only).
//!
//! A pattern with a top-level alternative that does not start with `^` (`^/a|/b` is
//! `(^/a)|(/b)`) can match after the start, where nginx still tries it in its turn. Such
//! paths (rare) keep a regex of their own, tried after the combined search for the ones
//! ordered before the path it found.

use std::collections::HashMap;
use std::fmt;

use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::PathKind;

mod pcre;
pub(crate) use pcre::literal_braces;

/// Largest compiled form (Thompson NFA) of one path. Generous for any path expression: a
/// counted repetition of a class (`[a-z0-9]{1,64}`) takes a few KiB; nested counted
/// repetitions (`((a{100}){100}){100}`) do not fit.
pub const PATH_LIMIT: usize = 256 * 1024;

/// Largest compiled form of all the regex paths of one host together. A typical path takes
/// about 1.5 KiB, so a host fits thousands.
pub const HOST_LIMIT: usize = 16 * 1024 * 1024;

/// Why a path cannot be matched as a regular expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    /// The engine does not accept the pattern (the message says where and why).
    #[error("is not a regular expression Strait can compile ({0})")]
    Syntax(String),
    /// Compiled, the path alone exceeds [`PATH_LIMIT`].
    #[error("compiles to more than {} KiB", PATH_LIMIT / 1024)]
    TooLarge,
    /// Compiled, the host's paths together would exceed [`HOST_LIMIT`].
    #[error("would take the host's regex paths over {} MiB compiled", HOST_LIMIT / (1024 * 1024))]
    HostTooLarge,
    /// Building the host's combined matcher failed (not expected once every path compiled).
    #[error("could not be compiled together with the host's other regex paths ({0})")]
    Combined(String),
}

/// ingress-nginx's location modifier `~*` as the engine's settings: case-insensitive, ASCII
/// only (PCRE without UTF mode), on bytes (a path is matched as received, undecoded).
pub(crate) fn syntax_config() -> syntax::Config {
    syntax::Config::new()
        .case_insensitive(true)
        .unicode(false)
        .utf8(false)
}

/// A path that compiles as a location regex, `^<path>`, within [`PATH_LIMIT`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegexPath {
    path: Box<str>,
    /// Bytes of its compiled form, counted against [`HOST_LIMIT`].
    size: usize,
    /// Every match starts at the start of the request path.
    anchored: bool,
}

impl RegexPath {
    /// Checks `path` as a location regex.
    pub fn parse(path: &str) -> Result<Self, RegexError> {
        let pattern = location_pattern(path);
        let hir = syntax::parse_with(&pattern, &syntax_config())
            .map_err(|e| RegexError::Syntax(one_line(&e.to_string())))?;
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .nfa_size_limit(Some(PATH_LIMIT))
                    .which_captures(thompson::WhichCaptures::Implicit),
            )
            .build_from_hir(&hir)
            .map_err(|e| match e.size_limit() {
                Some(_) => RegexError::TooLarge,
                None => RegexError::Syntax(one_line(&e.to_string())),
            })?;
        Ok(Self {
            path: path.into(),
            size: nfa.memory_usage(),
            anchored: nfa.is_always_start_anchored(),
        })
    }

    /// The path as written (the label of metrics and logs).
    pub fn as_str(&self) -> &str {
        &self.path
    }
}

/// `^<path>`, as ingress-nginx's `buildLocation` writes it, with the braces PCRE reads as
/// literals escaped for the engine ([`literal_braces`]).
fn location_pattern(path: &str) -> String {
    format!("^{}", literal_braces(path))
}

/// The last line of a (multi-line) parser message: the reason, without the caret drawing.
pub(crate) fn one_line(message: &str) -> String {
    let line = message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message);
    line.trim().trim_start_matches("error: ").to_owned()
}

/// One location: a regex path and the claim it routes to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Location {
    path: RegexPath,
    kind: PathKind,
    /// Index into [`RegexPaths::values`].
    value: usize,
}

/// The regex paths of one host and the values (routes) they lead to.
#[derive(Clone)]
pub(super) struct RegexPaths<T> {
    /// Claims by pathType and path as written: on a regex host `/foo` and `/foo/` are two
    /// locations, as in ingress-nginx, not one normalised Prefix.
    claims: HashMap<(PathKind, Box<str>), usize>,
    values: Vec<T>,
    /// In claim order until sealed, then in match order.
    locations: Vec<Location>,
    size: usize,
    matcher: Option<Matcher>,
}

/// The compiled form of a host's locations, in match order.
#[derive(Clone)]
struct Matcher {
    /// Pattern `i` is `^<path>` of location `i`; `None` when building it failed (nothing
    /// matches; the failure was reported by [`RegexPaths::seal`]).
    all: Option<Regex>,
    /// Every location is anchored: the combined search is anchored at the start.
    anchored: bool,
    /// The locations that can match after the start, each with its own regex.
    floating: Box<[(usize, Regex)]>,
}

impl<T> Default for RegexPaths<T> {
    fn default() -> Self {
        Self {
            claims: HashMap::new(),
            values: Vec::new(),
            locations: Vec::new(),
            size: 0,
            matcher: None,
        }
    }
}

impl<T: PartialEq> PartialEq for RegexPaths<T> {
    /// Content only: the matcher is a function of the locations.
    fn eq(&self, other: &Self) -> bool {
        self.claims == other.claims
            && self.values == other.values
            && self.locations == other.locations
    }
}

impl<T: fmt::Debug> fmt::Debug for RegexPaths<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegexPaths")
            .field("values", &self.values)
            .field("locations", &self.locations)
            .field("sealed", &self.matcher.is_some())
            .finish()
    }
}

/// Why a regex claim was not inserted.
#[derive(Debug, PartialEq, Eq)]
pub enum RegexRejected<'a, T> {
    /// An earlier claim holds the same pathType and path.
    Taken(&'a T),
    /// The host's regex paths would exceed [`HOST_LIMIT`].
    HostTooLarge,
}

impl<T> RegexPaths<T> {
    pub(super) fn get(&self, kind: PathKind, path: &str) -> Option<&T> {
        let index = self.claims.get(&(kind, Box::from(path)))?;
        self.values.get(*index)
    }

    pub(super) fn get_mut(&mut self, kind: PathKind, path: &str) -> Option<&mut T> {
        let index = *self.claims.get(&(kind, Box::from(path)))?;
        self.values.get_mut(index)
    }

    /// Adds a claim on `kind` + `path` matched by `locations` (one or two regex paths).
    pub(super) fn insert(
        &mut self,
        kind: PathKind,
        path: &str,
        locations: Vec<RegexPath>,
        value: T,
    ) -> Result<(), RegexRejected<'_, T>> {
        if let Some(&index) = self.claims.get(&(kind, Box::from(path))) {
            return Err(RegexRejected::Taken(&self.values[index]));
        }
        let size: usize = locations.iter().map(|l| l.size).sum();
        if self.size + size > HOST_LIMIT {
            return Err(RegexRejected::HostTooLarge);
        }
        self.size += size;
        let index = self.values.len();
        self.values.push(value);
        self.claims.insert((kind, path.into()), index);
        self.locations
            .extend(locations.into_iter().map(|path| Location {
                path,
                kind,
                value: index,
            }));
        self.matcher = None;
        Ok(())
    }

    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.values.iter()
    }

    /// Puts the locations in match order and compiles them. Until then nothing matches.
    pub(super) fn seal(&mut self) -> Result<(), RegexError> {
        if self.matcher.is_some() {
            return Ok(());
        }
        // ingress-nginx sorts by path string, descending, then (stably) by length, descending;
        // equal paths keep the order they came in. A stable sort on both keys is the same.
        self.locations.sort_by(|a, b| {
            let (a, b) = (a.path.as_str(), b.path.as_str());
            b.len().cmp(&a.len()).then_with(|| b.cmp(a))
        });
        let patterns: Vec<String> = self
            .locations
            .iter()
            .map(|l| location_pattern(l.path.as_str()))
            .collect();
        let all = build(&patterns, Some(2 * HOST_LIMIT));
        let mut floating = Vec::new();
        for (i, location) in self.locations.iter().enumerate() {
            if !location.path.anchored {
                // Compiled alone above, within PATH_LIMIT: building it again succeeds.
                if let Ok(regex) = build(&patterns[i..=i], Some(PATH_LIMIT)) {
                    floating.push((i, regex));
                }
            }
        }
        let (all, result) = match all {
            Ok(regex) => (Some(regex), Ok(())),
            Err(e) => (None, Err(RegexError::Combined(e))),
        };
        self.matcher = Some(Matcher {
            all,
            anchored: self.locations.iter().all(|l| l.path.anchored),
            floating: floating.into(),
        });
        result
    }

    /// The first location, in match order, whose regex matches `path`: its value and the
    /// location itself.
    pub(super) fn lookup(&self, path: &str) -> Option<(&T, PathKind, &str)> {
        let matcher = self.matcher.as_ref()?;
        let all = matcher.all.as_ref()?;
        let anchored = if matcher.anchored {
            Anchored::Yes
        } else {
            Anchored::No
        };
        let input = Input::new(path.as_bytes()).anchored(anchored);
        let mut first = all.search_half(&input)?.pattern().as_usize();
        // A floating location ordered before the one found may match after the start, where
        // the combined (leftmost) search did not look for it.
        if let Some((i, _)) = matcher
            .floating
            .iter()
            .take_while(|(i, _)| *i < first)
            .find(|(_, regex)| regex.is_match(path.as_bytes()))
        {
            first = *i;
        }
        let location = self.locations.get(first)?;
        let value = self.values.get(location.value)?;
        Some((value, location.kind, location.path.as_str()))
    }
}

/// One regex, leftmost-first, over `patterns` in priority order.
fn build(patterns: &[String], limit: Option<usize>) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(
            meta::Config::new()
                .utf8_empty(false)
                .nfa_size_limit(limit)
                .which_captures(thompson::WhichCaptures::Implicit)
                // No full DFA (the lazy one serves): determinizing a host's paths would cost
                // more at every table build than it saves per request.
                .dfa(false),
        )
        .build_many(patterns)
        .map_err(|e| match e.syntax_error() {
            Some(syntax) => one_line(&syntax.to_string()),
            None => e.to_string(),
        })
}

#[cfg(test)]
mod tests;
