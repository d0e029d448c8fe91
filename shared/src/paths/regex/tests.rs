use super::*;
use crate::paths::PathRouter;

/// A sealed host of regex paths: each entry one claim, its locations given explicitly, its
/// value the first location.
fn host(claims: &[(PathKind, &[&str])]) -> RegexPaths<String> {
    let mut paths = RegexPaths::default();
    for (kind, locations) in claims {
        let parsed = locations
            .iter()
            .map(|l| RegexPath::parse(l).expect("test pattern compiles"))
            .collect();
        paths
            .insert(*kind, locations[0], parsed, (*locations[0]).to_owned())
            .expect("distinct test claims");
    }
    paths.seal().expect("seals");
    paths
}

fn hit(paths: &RegexPaths<String>, path: &str) -> Option<String> {
    paths.lookup(path).map(|(v, _, _)| v.clone())
}

/// ingress-path-matching.md, "Path Priority": the locations are tried longest first, so
/// `/foo/bar/1` reaches the capture-group path, `/foo/bar/` and `/foo/bar` their own.
#[test]
fn locations_are_tried_longest_first() {
    let paths = host(&[
        (PathKind::Prefix, &["/foo/bar"]),
        (PathKind::Prefix, &["/foo/bar/"]),
        (PathKind::ImplementationSpecific, &["/foo/bar/(.+)"]),
    ]);
    assert_eq!(hit(&paths, "/foo/bar/1").as_deref(), Some("/foo/bar/(.+)"));
    assert_eq!(hit(&paths, "/foo/bar/").as_deref(), Some("/foo/bar/"));
    assert_eq!(hit(&paths, "/foo/bar").as_deref(), Some("/foo/bar"));
    assert_eq!(hit(&paths, "/foo/ba"), None);
}

/// ingress-path-matching.md, "Warning": the first match wins, not the longest literal one:
/// `/foo/bar/bar` goes to `^/foo/bar/[A-Z0-9]{3}`, which is tried first (longer string).
#[test]
fn the_first_match_wins_not_the_best_one() {
    let paths = host(&[
        (PathKind::Prefix, &["/foo/bar/bar"]),
        (PathKind::ImplementationSpecific, &["/foo/bar/[A-Z0-9]{3}"]),
    ]);
    assert_eq!(
        hit(&paths, "/foo/bar/bar").as_deref(),
        Some("/foo/bar/[A-Z0-9]{3}")
    );
    assert_eq!(hit(&paths, "/foo/bar/ba").as_deref(), None);
}

/// ingress-path-matching.md: `location ~* "^<path>"` — case-insensitive, anchored at the start
/// only (a regex path is still a prefix match), `$` anchors the end.
#[test]
fn case_insensitive_and_anchored_at_the_start_only() {
    let paths = host(&[
        (PathKind::ImplementationSpecific, &["/foo/.*"]),
        (PathKind::Exact, &["/exact$"]),
    ]);
    assert_eq!(hit(&paths, "/FOO/x").as_deref(), Some("/foo/.*"));
    assert_eq!(hit(&paths, "/foo/").as_deref(), Some("/foo/.*"));
    assert_eq!(hit(&paths, "/x/foo/"), None);
    assert_eq!(hit(&paths, "/EXACT").as_deref(), Some("/exact$"));
    assert_eq!(hit(&paths, "/exact/more"), None);
}

/// nginx's location order for equal lengths: the greater string first (ingress-nginx sorts by
/// path, descending, then stably by length), then the order the paths came in.
#[test]
fn equal_lengths_order_by_string_then_arrival() {
    let paths = host(&[
        (PathKind::ImplementationSpecific, &["/foo."]),
        (PathKind::Prefix, &["/foo/"]),
    ]);
    assert_eq!(hit(&paths, "/foo/x").as_deref(), Some("/foo/"));
    let mut two = RegexPaths::default();
    for (kind, value) in [(PathKind::Prefix, "first"), (PathKind::Exact, "second")] {
        let location = vec![RegexPath::parse("/same").expect("compiles")];
        two.insert(kind, "/same", location, value.to_owned())
            .expect("distinct kinds");
    }
    two.seal().expect("seals");
    assert_eq!(hit(&two, "/same/x").as_deref(), Some("first"));
}

/// A top-level alternative without `^` can match after the start (`^/x|/b` is `(^/x)|(/b)`),
/// where nginx still tries it in its turn, before shorter locations that match at the start.
#[test]
fn a_floating_alternative_keeps_its_turn() {
    let paths = host(&[
        (PathKind::Prefix, &["/"]),
        (PathKind::ImplementationSpecific, &["/x|/b"]),
    ]);
    assert_eq!(hit(&paths, "/q/b").as_deref(), Some("/x|/b"));
    assert_eq!(hit(&paths, "/x").as_deref(), Some("/x|/b"));
    assert_eq!(hit(&paths, "/q").as_deref(), Some("/"));
}

/// Patterns PCRE accepts and the `regex` engine does not (and an out-of-order repetition,
/// which neither accepts), and oversized ones, are refused with the reason, so the caller can
/// quarantine the path alone; a brace PCRE reads as a literal is no longer one of them.
#[test]
fn unsupported_or_oversized_patterns_are_refused() {
    for (pattern, why) in [
        ("/foo(?=bar)", "look-around"),
        ("/(a)\\1", "backreferences"),
        ("/x{3,1}", "repetition"),
        ("/(?>atomic)", ""),
        ("/x\\Z", ""),
        ("/unclosed(", "unclosed"),
    ] {
        match RegexPath::parse(pattern) {
            Err(RegexError::Syntax(message)) => {
                assert!(!message.contains('\n'), "{pattern}: one line: {message}");
                assert!(message.contains(why), "{pattern}: {message}");
            }
            other => panic!("{pattern}: {other:?}"),
        }
    }
    assert_eq!(
        RegexPath::parse("/((a{100}){100}){100}"),
        Err(RegexError::TooLarge)
    );
    for fine in [
        "/",
        "/users/{id}",
        "/a\\/b",
        "/c++/",
        "/x{2,}",
        "/(?<name>x)",
        "/\\d+",
        "/é",
    ] {
        assert!(RegexPath::parse(fine).is_ok(), "{fine}");
    }
}

/// A host's regex paths together stay under HOST_LIMIT; the claim that would cross it is
/// refused, the others stay.
#[test]
fn a_host_has_a_size_budget() {
    let mut paths = RegexPaths::default();
    let big = |path: &str| RegexPath {
        path: path.into(),
        size: HOST_LIMIT / 2,
        anchored: true,
    };
    for (path, fits) in [("/a", true), ("/b", true), ("/c", false)] {
        let inserted = paths.insert(PathKind::Prefix, path, vec![big(path)], path.to_owned());
        assert_eq!(inserted.is_ok(), fits, "{path}");
        if !fits {
            assert_eq!(inserted, Err(RegexRejected::HostTooLarge));
        }
    }
    assert_eq!(paths.len(), 2);
}

/// Claims are by pathType and path as written: `/foo` and `/foo/` are two locations, one
/// `Prefix` `/foo` twice is a conflict, and nothing matches before the host is sealed.
#[test]
fn claims_are_literal_and_matching_waits_for_the_seal() {
    let mut paths = RegexPaths::default();
    let location = |p: &str| vec![RegexPath::parse(p).expect("compiles")];
    assert!(
        paths
            .insert(PathKind::Prefix, "/foo", location("/foo"), 1)
            .is_ok()
    );
    assert!(
        paths
            .insert(PathKind::Prefix, "/foo/", location("/foo/"), 2)
            .is_ok()
    );
    assert_eq!(
        paths.insert(PathKind::Prefix, "/foo", location("/foo"), 3),
        Err(RegexRejected::Taken(&1))
    );
    assert_eq!(paths.get(PathKind::Prefix, "/foo/"), Some(&2));
    assert_eq!(paths.get(PathKind::Exact, "/foo"), None);
    assert!(paths.lookup("/foo").is_none(), "not sealed yet");
    paths.seal().expect("seals");
    assert_eq!(paths.lookup("/foo/x").map(|(v, _, _)| *v), Some(2));
}

/// A pattern that makes a backtracking engine take exponential time is linear here.
#[test]
fn catastrophic_backtracking_patterns_are_linear() {
    let paths = host(&[(PathKind::ImplementationSpecific, &["/(a+)+$"])]);
    let long = format!("/{}b", "a".repeat(20_000));
    assert_eq!(hit(&paths, &long), None);
    assert!(hit(&paths, "/aaaa").is_some());
}

/// The router: on a regex host every path is a regex location, `Exact` kept exact (when
/// asked) wins before any of them, and the match names the location that matched.
#[test]
fn the_router_in_regex_mode() {
    for keep_exact in [false, true] {
        let mut r: PathRouter<&str> = PathRouter::default();
        r.use_regex(keep_exact);
        let regex = |p: &str| vec![RegexPath::parse(p).expect("compiles")];
        r.insert_regex(
            PathKind::ImplementationSpecific,
            "/api/.*",
            regex("/api/.*"),
            "api",
        )
        .expect("free");
        if keep_exact {
            r.insert(PathKind::Exact, "/api/x", "exact").expect("free");
        } else {
            r.insert_regex(PathKind::Exact, "/api/x", regex("/api/x"), "exact")
                .expect("free");
        }
        r.seal().expect("seals");
        assert_eq!(r.len(), 2);
        let found = r.lookup("/api/x").expect("matches");
        if keep_exact {
            assert_eq!(*found.value, "exact");
            assert_eq!(found.pattern, None);
            assert_eq!(r.lookup("/API/X").map(|m| *m.value), Some("api"));
        } else {
            assert_eq!(*found.value, "api", "^/api/.* is longer, tried first");
            assert_eq!(found.pattern, Some("/api/.*"));
        }
        assert_eq!(r.get(PathKind::Exact, "/api/x"), Some(&"exact"));
    }
}

/// Any path as a pattern, any request path: parsing never panics; a pattern that parses seals
/// beside a catch-all; a request path that starts with `/` always matches one of the two; and
/// when the pattern's location is the match, its regex `^<path>` matches the request path.
#[test]
fn arbitrary_patterns_and_request_paths_hold() {
    let hold = |pattern: &str, request: &str| {
        let Ok(parsed) = RegexPath::parse(pattern) else {
            return;
        };
        let mut paths = RegexPaths::default();
        let root = RegexPath::parse("/").expect("compiles");
        paths
            .insert(PathKind::Prefix, "/", vec![root], "root")
            .expect("first claim");
        paths
            .insert(
                PathKind::ImplementationSpecific,
                pattern,
                vec![parsed],
                "pattern",
            )
            .expect("another pathType");
        paths
            .seal()
            .expect("paths that compile alone compile together");
        let found = paths.lookup(request).map(|(v, _, _)| *v);
        if request.starts_with('/') {
            assert!(found.is_some(), "{pattern:?} {request:?}");
        }
        if found == Some("pattern") {
            let alone = build(&[location_pattern(pattern)], None).expect("compiles");
            assert!(
                alone.is_match(request.as_bytes()),
                "{pattern:?} {request:?}"
            );
        }
    };
    for (pattern, request) in [
        ("/foo/bar/(.+)", "/foo/bar/1"),
        ("/x|/b", "/q/b"),
        ("/(a+)+$", "/aaaa"),
        ("/é", "/É"),
        ("(?u)/\\w+", "/é"),
        ("/[", "/["),
        ("", ""),
    ] {
        hold(pattern, request);
    }
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input: &[u8]| {
            let text = String::from_utf8_lossy(input);
            let (pattern, request) = text.split_once('\n').unwrap_or((&text, "/"));
            hold(pattern, request);
        });
}
