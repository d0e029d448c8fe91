//! PCRE's literal braces, written so that the `regex` engine reads them as PCRE does.
//!
//! nginx compiles a location regex with PCRE; ingress-nginx's image links Alpine's `pcre`
//! (PCRE 8.x, `images/nginx/rootfs/Dockerfile`). There a `{` opens a counted repetition only
//! when what follows has the form of one — `{n}`, `{n,}` or `{n,m}`, digits only, no spaces;
//! any other `{` (`/users/{id}`, `{}`, `{,3}`, a `{` never closed) is a literal character, and
//! a `}` on its own is always one (pcrepattern(3), "Repetition"). The `regex` crate's parser
//! reads every `{` as a repetition and refuses the others, which used to quarantine such paths.
//! [`literal_braces`] escapes exactly those braces PCRE reads as literals, and leaves the rest
//! of the pattern byte for byte as written.
//!
//! Decided where PCRE versions differ: PCRE2 10.43 and later read `{,3}` as `{0,3}` and allow
//! spaces inside the braces; PCRE 8.x, what ingress-nginx's nginx runs, does neither, so `{,3}`
//! and `{ 3 }` stay literals here. A `{n}` with nothing before it to repeat (`(|{2})`) is a
//! repetition for both PCRE 8.x ("nothing to repeat") and the engine, which refuse it alike.
//!
//! Where a `{` does not start a repetition, whatever the form after it:
//! - inside a character class (`[{]`): PCRE's class syntax decides where a class ends — a `]`
//!   right after `[` or `[^` is a member, `\` escapes the next character, and `[:alpha:]`
//!   (also `[.x.]`, `[=x=]`) is a POSIX class when closed by `:]` before any other `]`;
//! - after a backslash: `\{` is already a literal, and the braces of `\x{41}`, `\o{17}`,
//!   `\p{L}`, `\P{L}`, `\g{1}` and `\k{name}` belong to their escape (the engine refuses the
//!   last three anyway).
//!
//! PCRE's `\Q…\E` quoting and `(?#…)` comments are not recognised: the engine refuses both,
//! so a path with them is quarantined whatever their braces.

use std::borrow::Cow;

/// `pattern` with a backslash before every `{` PCRE 8.x reads as a literal character; the
/// pattern itself (no allocation) when there is none.
pub(crate) fn literal_braces(pattern: &str) -> Cow<'_, str> {
    let bytes = pattern.as_bytes();
    if !bytes.contains(&b'{') {
        return Cow::Borrowed(pattern);
    }
    let mut out: Option<String> = None;
    // `pattern[..copied]` is in `out` already.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = match bytes[i] {
            b'\\' => after_escape(bytes, i),
            b'[' => after_class(bytes, i),
            b'{' if !counted_repetition(&bytes[i + 1..]) => {
                // Every delimiter is ASCII, so `i` is a char boundary.
                let out = out.get_or_insert_with(|| String::with_capacity(pattern.len() + 8));
                out.push_str(&pattern[copied..i]);
                out.push('\\');
                copied = i;
                i + 1
            }
            _ => i + 1,
        };
    }
    match out {
        None => Cow::Borrowed(pattern),
        Some(mut out) => {
            out.push_str(&pattern[copied..]);
            Cow::Owned(out)
        }
    }
}

/// PCRE 8.x's test for a counted repetition, on what follows a `{`: digits, then `}`, `,}` or
/// `,` digits `}`.
fn counted_repetition(after: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(after);
    if n == 0 {
        return false;
    }
    match &after[n..] {
        [b'}', ..] | [b',', b'}', ..] => true,
        [b',', rest @ ..] => {
            let m = digits(rest);
            m > 0 && rest.get(m) == Some(&b'}')
        }
        _ => false,
    }
}

/// The index after the escape that starts at `bytes[i]` (a backslash), braced argument
/// included.
fn after_escape(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i + 1..i + 3) {
        Some([b'x' | b'o' | b'p' | b'P' | b'g' | b'k', b'{']) => bytes[i + 3..]
            .iter()
            .position(|&b| b == b'}')
            .map_or(bytes.len(), |end| i + 3 + end + 1),
        // The escaped character (a multi-byte one is stepped through as its other bytes are not
        // delimiters).
        _ => (i + 2).min(bytes.len()),
    }
}

/// The index after the character class that starts at `bytes[i]` (a `[`), as PCRE ends it;
/// the end of the pattern when it is not closed (the engine then reports it).
fn after_class(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    if bytes.get(j) == Some(&b'^') {
        j += 1;
    }
    if bytes.get(j) == Some(&b']') {
        j += 1;
    }
    while j < bytes.len() {
        j = match bytes[j] {
            b']' => return j + 1,
            b'\\' => j + 2,
            b'[' => posix_class_end(bytes, j).unwrap_or(j + 1),
            _ => j + 1,
        };
    }
    bytes.len()
}

/// When `bytes[j..]` is a POSIX class `[:name:]` (or `[.x.]`, `[=x=]`) as PCRE recognises one
/// inside a class, the index after it.
fn posix_class_end(bytes: &[u8], j: usize) -> Option<usize> {
    let terminator = *bytes.get(j + 1)?;
    if !matches!(terminator, b':' | b'.' | b'=') {
        return None;
    }
    let mut k = j + 2;
    while k < bytes.len() {
        match (bytes[k], bytes.get(k + 1).copied()) {
            (b'\\', Some(b']' | b'\\')) => k += 2,
            (b'[', Some(t)) if t == terminator => return None,
            (b']', _) => return None,
            (t, Some(b']')) if t == terminator => return Some(k + 2),
            _ => k += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests;
