//! `rewrite-target` and `x-forwarded-prefix` of one route (docs/architecture.md, "Regex paths
//! and rewrites"), parsed when the table is built and applied by the proxy to each request.
//!
//! ingress-nginx writes `rewrite "(?i)<path>" <target> break;` into the location, and, when
//! `x-forwarded-prefix` is set, `proxy_set_header X-Forwarded-Prefix "<value>";` after it:
//!
//! - The rule's path is searched (unanchored, ASCII case-insensitive) in the request path;
//!   when it matches, the whole path becomes the target with `$1`…`$9` replaced by the
//!   match's capture groups (empty when a group did not take part or does not exist). nginx
//!   reads one digit after `$`, so `$10` is group 1 then `0`. The query string is kept.
//! - The header value takes the same captures.
//!
//! Values are checked the way ingress-nginx's validator checks them (letters, digits and
//! `- . _ ~ / : $`); a value it refuses is ignored there, and here. Beyond that, nginx would
//! substitute its own variables (`$host`, …, and fail its configuration on `$0`) and answer
//! an absolute-URL target with a redirect: Strait generates no configuration and reproduces
//! neither, so such a value is reported as unsupported ([`TemplateError`]).
//!
//! The path is matched as received, percent-encoding included (as routing matches it), so a
//! capture carries the client's own encoding upstream; nginx decodes the path first and
//! re-encodes what needs it, which differs only for encoded characters that need no encoding
//! (`%41`, `%2F`).

use std::fmt;

use regex_automata::meta::{self, Regex};
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Anchored, Input};

use crate::paths::regex::{PATH_LIMIT, RegexError, literal_braces, one_line, syntax_config};

/// Groups a template can name: `$1` … `$9` (nginx reads one digit).
const GROUPS: usize = 9;

/// Why a template value is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A character outside ingress-nginx's `RegexPathWithCapture` set: ingress-nginx ignores
    /// the annotation.
    #[error(
        "has a character other than letters, digits and - . _ ~ / : $, which ingress-nginx refuses"
    )]
    Characters,
    /// `$` not followed by a digit 1–9: an nginx variable, which Strait does not substitute.
    #[error(
        "uses an nginx variable ($ not followed by a digit 1-9), which Strait does not substitute"
    )]
    Variable,
    /// An absolute URL as a rewrite target: nginx answers it with a redirect.
    #[error("is an absolute URL, which nginx answers with a redirect instead of rewriting")]
    AbsoluteUrl,
}

/// Literal text and capture references (`$1`…`$9`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    raw: Box<str>,
    parts: Box<[Part]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Part {
    Literal(Box<str>),
    Group(usize),
}

impl Template {
    /// Parses a value already trimmed. `spaces`: spaces are accepted, as ingress-nginx's
    /// validator removes them before checking `x-forwarded-prefix` (not `rewrite-target`).
    pub fn parse(value: &str, spaces: bool) -> Result<Self, TemplateError> {
        let allowed = |b: u8| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b':' | b'$')
                || (spaces && b == b' ')
        };
        if !value.bytes().all(allowed) {
            return Err(TemplateError::Characters);
        }
        let mut parts = Vec::new();
        let mut rest = value;
        while let Some(at) = rest.find('$') {
            if at > 0 {
                parts.push(Part::Literal(rest[..at].into()));
            }
            let digit = rest.as_bytes().get(at + 1).copied();
            match digit {
                Some(d @ b'1'..=b'9') => parts.push(Part::Group(usize::from(d - b'0'))),
                _ => return Err(TemplateError::Variable),
            }
            rest = &rest[at + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.into()));
        }
        Ok(Self {
            raw: value.into(),
            parts: parts.into(),
        })
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Appends the value to `out`, each `$n` replaced by `group(n)`.
    fn expand<'h>(&self, out: &mut String, group: impl Fn(usize) -> &'h str) {
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Group(n) => out.push_str(group(*n)),
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// The rewrite of one route: its path's regex, the target, and the `X-Forwarded-Prefix`.
#[derive(Clone)]
pub struct Rewrite {
    /// `(?i)<path>`, searched anywhere in the request path, with its capture groups.
    regex: Regex,
    path: Box<str>,
    target: Template,
    forwarded_prefix: Option<Template>,
}

impl PartialEq for Rewrite {
    /// Content only: the regex is a function of the path.
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
            && self.target == other.target
            && self.forwarded_prefix == other.forwarded_prefix
    }
}

impl Eq for Rewrite {}

impl std::hash::Hash for Rewrite {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.path.hash(state);
        self.target.hash(state);
        self.forwarded_prefix.hash(state);
    }
}

impl fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rewrite")
            .field("path", &self.path)
            .field("target", &self.target.as_str())
            .field(
                "forwarded_prefix",
                &self.forwarded_prefix.as_ref().map(Template::as_str),
            )
            .finish()
    }
}

/// What a rewrite makes of one request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    /// The upstream path (the query string is the proxy's to append).
    pub path: String,
    /// The `X-Forwarded-Prefix` value, when the route sets one.
    pub forwarded_prefix: Option<String>,
}

impl Rewrite {
    /// The rewrite of the rule whose path is `path`.
    pub fn new(
        path: &str,
        target: Template,
        forwarded_prefix: Option<Template>,
    ) -> Result<Self, RegexError> {
        let regex = Regex::builder()
            .syntax(syntax_config())
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .nfa_size_limit(Some(PATH_LIMIT))
                    // Literal prefilters and full DFAs speed up searches of long texts; a path
                    // is short and almost always matches at its start, and building them
                    // (case-insensitive literals, determinization) is most of a build's time.
                    .auto_prefilter(false)
                    .dfa(false),
            )
            .build(&literal_braces(path))
            .map_err(|e| match (e.size_limit(), e.syntax_error()) {
                (Some(_), _) => RegexError::TooLarge,
                (None, Some(syntax)) => RegexError::Syntax(one_line(&syntax.to_string())),
                (None, None) => RegexError::Syntax(e.to_string()),
            })?;
        Ok(Self {
            regex,
            path: path.into(),
            target,
            forwarded_prefix,
        })
    }

    /// The target as written.
    pub fn target(&self) -> &Template {
        &self.target
    }

    /// The upstream path for `path` (the request's path, without the query) and the
    /// `X-Forwarded-Prefix`. When the rule's regex does not match (only possible for a path
    /// matched otherwise, such as an `Exact` kept exact), the path stays and the header's
    /// groups are empty, as nginx leaves the URI alone and has no captures.
    pub fn apply(&self, path: &str) -> Rewritten {
        let mut slots = [None::<NonMaxUsize>; 2 * (GROUPS + 1)];
        // The path was routed here by `^<path>`, so the match usually starts at the start: an
        // anchored search finds the same leftmost-first match (cheaper, with captures), and the
        // unanchored one is needed only when there is none there.
        let matched = [Anchored::Yes, Anchored::No].into_iter().any(|anchored| {
            slots.fill(None);
            let input = Input::new(path.as_bytes()).anchored(anchored);
            self.regex.search_slots(&input, &mut slots).is_some()
        });
        let group = |n: usize| -> &str {
            let (Some(start), Some(end)) = (slots[2 * n], slots[2 * n + 1]) else {
                return "";
            };
            // Offsets of a match in `path`, on byte boundaries of the engine's; a split inside
            // a UTF-8 sequence (a non-ASCII path) reads as an empty group rather than a panic.
            path.get(start.get()..end.get()).unwrap_or("")
        };
        let rewritten = if matched {
            let mut out = String::with_capacity(self.target.raw.len() + path.len() + 1);
            self.target.expand(&mut out, group);
            if !out.starts_with('/') {
                // nginx would send a request target without its leading slash (or an empty
                // one), which no upstream accepts.
                out.insert(0, '/');
            }
            out
        } else {
            path.to_owned()
        };
        let forwarded_prefix = self.forwarded_prefix.as_ref().map(|t| {
            let mut out = String::with_capacity(t.raw.len());
            t.expand(&mut out, group);
            out
        });
        Rewritten {
            path: rewritten,
            forwarded_prefix,
        }
    }
}

#[cfg(test)]
mod tests;
