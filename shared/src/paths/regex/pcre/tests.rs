use super::*;
use crate::paths::regex::{RegexError, RegexPath, build, location_pattern};

/// pcrepattern(3), "Repetition" (PCRE 8.x, what ingress-nginx's nginx links): "An opening
/// curly bracket that appears in a position where a quantifier is not allowed, or one that
/// does not match the syntax of a quantifier, is taken as a literal character"; `{,6}` is
/// one, and a closing brace on its own is not special. Real repetitions, escapes and classes
/// are left as written.
#[test]
fn braces_pcre_reads_as_literals_are_escaped() {
    for (pattern, expected) in [
        // Literals.
        ("/users/{id}", r"/users/\{id}"),
        ("{}", r"\{}"),
        ("{a}", r"\{a}"),
        ("a{", r"a\{"),
        ("{1", r"\{1"),
        ("a{1,", r"a\{1,"),
        ("a{1,2", r"a\{1,2"),
        ("a{,3}", r"a\{,3}"),
        ("a{ 2 }", r"a\{ 2 }"),
        ("a{2 }", r"a\{2 }"),
        ("a{-1}", r"a\{-1}"),
        ("a{1,b}", r"a\{1,b}"),
        ("/{{2}}", r"/\{{2}}"),
        ("/x/{id}/{name}.json", r"/x/\{id}/\{name}.json"),
        ("/é{x}", r"/é\{x}"),
        // Repetitions, unchanged.
        ("a{2}", "a{2}"),
        ("a{2,}", "a{2,}"),
        ("a{2,3}", "a{2,3}"),
        ("a{2,3}?", "a{2,3}?"),
        ("/[A-Z0-9]{3}", "/[A-Z0-9]{3}"),
        ("/(ab){0012}", "/(ab){0012}"),
        // Escapes, unchanged.
        (r"\{", r"\{"),
        (r"\{id}", r"\{id}"),
        (r"\\{x}", r"\\\{x}"),
        (r"/\x{41}", r"/\x{41}"),
        (r"/\p{L}{2}", r"/\p{L}{2}"),
        (r"/\d{3}", r"/\d{3}"),
        // Classes, unchanged inside; outside, as anywhere.
        ("[{]", "[{]"),
        ("[{}]{x}", r"[{}]\{x}"),
        ("[]{]", "[]{]"),
        ("[^]{]{y}", r"[^]{]\{y}"),
        (r"[\]{]", r"[\]{]"),
        ("[[:alpha:]{]{z}", r"[[:alpha:]{]\{z}"),
        ("[[:alpha{]{z}", r"[[:alpha{]\{z}"),
        ("[{", "[{"),
        // Nothing to change.
        ("", ""),
        ("/plain", "/plain"),
        ("}", "}"),
    ] {
        assert_eq!(literal_braces(pattern), expected, "{pattern:?}");
    }
    // No brace, no copy.
    assert!(matches!(literal_braces("/a/b"), Cow::Borrowed(_)));
    assert!(matches!(literal_braces("/a{2}"), Cow::Borrowed(_)));
}

/// ingress-path-matching.md (a regex path is `location ~* "^<path>"`) with PCRE's literal
/// braces: `/users/{id}` compiles and matches the text `/users/{id}`, not `/users/42`, while a
/// real repetition still repeats.
#[test]
fn literal_braces_match_themselves() {
    let matches = |pattern: &str, request: &str| {
        RegexPath::parse(pattern).expect("compiles");
        build(&[location_pattern(pattern)], None)
            .expect("compiles")
            .is_match(request.as_bytes())
    };
    assert!(matches("/users/{id}", "/users/{id}"));
    assert!(matches("/users/{id}", "/USERS/{ID}/x"));
    assert!(!matches("/users/{id}", "/users/42"));
    assert!(matches("/a{,2}$", "/a{,2}"));
    assert!(!matches("/a{,2}$", "/aa"));
    assert!(matches("/a{2}$", "/aa"));
    assert!(!matches("/a{2}$", "/a{2}"));
    assert!(matches("/[{]x", "/{x"));
    // Still refused: a repetition of nothing, or out of order, as PCRE refuses them.
    assert!(matches!(
        RegexPath::parse("/(|{2})"),
        Err(RegexError::Syntax(_))
    ));
    assert!(matches!(
        RegexPath::parse("/a{3,1}"),
        Err(RegexError::Syntax(_))
    ));
}

/// The translation never panics and is stable (an escaped brace stays escaped, a repetition
/// a repetition); a pattern made of literal characters and braces, with every brace a literal
/// to PCRE, compiles and matches its own text.
#[test]
fn literal_braces_hold() {
    const ALPHABET: &[u8] = b"ab01,{}/-_";
    let hold = |raw: &str| {
        let once = literal_braces(raw);
        assert_eq!(literal_braces(&once), once, "{raw:?}");
        let literal: String = raw
            .bytes()
            .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
            .collect();
        let escaped = literal_braces(&literal);
        let all_literal = escaped.matches(r"\{").count() == literal.matches('{').count();
        if all_literal {
            let path = RegexPath::parse(&literal)
                .unwrap_or_else(|e| panic!("{literal:?} -> {escaped:?}: {e}"));
            let regex = build(&[location_pattern(path.as_str())], None).expect("compiles");
            assert!(regex.is_match(literal.as_bytes()), "{literal:?}");
        }
    };
    for raw in ["", "{", "a{1,", "[[:a:]{", r"\x{", r"\", "[", "[^]"] {
        hold(raw);
    }
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input: &[u8]| hold(&String::from_utf8_lossy(input)));
}
