use super::*;

fn router(entries: &[(PathKind, &str)]) -> PathRouter<String> {
    let mut r = PathRouter::default();
    for (kind, path) in entries {
        r.insert(*kind, path, format!("{}:{path}", kind.as_str()))
            .expect("test paths are distinct");
    }
    r
}

fn hit(r: &PathRouter<String>, path: &str) -> Option<String> {
    r.lookup(path).map(|m| m.value.clone())
}

#[test]
fn exact_is_exact_and_case_sensitive() {
    let r = router(&[(PathKind::Exact, "/foo")]);
    assert_eq!(hit(&r, "/foo").as_deref(), Some("Exact:/foo"));
    assert_eq!(hit(&r, "/Foo"), None);
    assert_eq!(hit(&r, "/foo/"), None);
    assert_eq!(hit(&r, "/foo/bar"), None);
}

#[test]
fn prefix_is_segment_wise() {
    let r = router(&[(PathKind::Prefix, "/foo")]);
    for path in ["/foo", "/foo/", "/foo/bar", "/foo//x"] {
        assert_eq!(hit(&r, path).as_deref(), Some("Prefix:/foo"), "{path}");
    }
    assert_eq!(hit(&r, "/foobar"), None);
    assert_eq!(hit(&r, "/fo"), None);
    assert_eq!(hit(&r, "/"), None);
}

#[test]
fn prefix_trailing_slash_is_ignored_in_the_rule() {
    let r = router(&[(PathKind::Prefix, "/foo/")]);
    assert_eq!(hit(&r, "/foo").as_deref(), Some("Prefix:/foo/"));
    assert_eq!(hit(&r, "/foo/bar").as_deref(), Some("Prefix:/foo/"));
    assert_eq!(hit(&r, "/foobar"), None);
}

#[test]
fn prefix_root_matches_everything() {
    let r = router(&[(PathKind::Prefix, "/")]);
    for path in ["/", "/a", "/a/b/c", ""] {
        assert_eq!(hit(&r, path).as_deref(), Some("Prefix:/"), "{path:?}");
    }
}

#[test]
fn implementation_specific_is_a_string_prefix() {
    let r = router(&[(PathKind::ImplementationSpecific, "/foo")]);
    assert_eq!(
        hit(&r, "/foobar").as_deref(),
        Some("ImplementationSpecific:/foo")
    );
    assert_eq!(
        hit(&r, "/foo").as_deref(),
        Some("ImplementationSpecific:/foo")
    );
    assert_eq!(hit(&r, "/fo"), None);
}

#[test]
fn implementation_specific_respects_char_boundaries() {
    let r = router(&[(PathKind::ImplementationSpecific, "/é")]);
    assert_eq!(hit(&r, "/éa").as_deref(), Some("ImplementationSpecific:/é"));
    assert_eq!(hit(&r, "/e"), None);
}

#[test]
fn longest_match_wins_across_kinds() {
    let r = router(&[
        (PathKind::Prefix, "/"),
        (PathKind::Prefix, "/a"),
        (PathKind::Prefix, "/a/b"),
        (PathKind::ImplementationSpecific, "/a/bc"),
    ]);
    assert_eq!(hit(&r, "/a/b/c").as_deref(), Some("Prefix:/a/b"));
    assert_eq!(
        hit(&r, "/a/bcd").as_deref(),
        Some("ImplementationSpecific:/a/bc")
    );
    assert_eq!(hit(&r, "/a/x").as_deref(), Some("Prefix:/a"));
    assert_eq!(hit(&r, "/z").as_deref(), Some("Prefix:/"));
}

#[test]
fn tie_goes_exact_then_prefix_then_implementation_specific() {
    let all = router(&[
        (PathKind::Exact, "/foo"),
        (PathKind::Prefix, "/foo"),
        (PathKind::ImplementationSpecific, "/foo"),
    ]);
    assert_eq!(hit(&all, "/foo").as_deref(), Some("Exact:/foo"));
    let no_exact = router(&[
        (PathKind::Prefix, "/foo"),
        (PathKind::ImplementationSpecific, "/foo"),
    ]);
    assert_eq!(hit(&no_exact, "/foo").as_deref(), Some("Prefix:/foo"));
}

#[test]
fn rank_orders_by_length_then_kind() {
    let short_exact = MatchRank {
        len: 3,
        kind: PathKind::Exact,
    };
    let long_prefix = MatchRank {
        len: 4,
        kind: PathKind::Prefix,
    };
    let tie_prefix = MatchRank {
        len: 3,
        kind: PathKind::Prefix,
    };
    assert!(long_prefix > short_exact);
    assert!(short_exact > tie_prefix);
}

#[test]
fn insert_keeps_first_and_returns_it() {
    let mut r = PathRouter::default();
    assert_eq!(r.insert(PathKind::Prefix, "/foo", 1), Ok(()));
    assert_eq!(r.insert(PathKind::Prefix, "/foo/", 2), Err(&1));
    assert_eq!(r.insert(PathKind::Exact, "/foo", 3), Ok(()));
    assert_eq!(r.len(), 2);
    assert_eq!(r.get(PathKind::Prefix, "/foo/"), Some(&1));
}

#[test]
fn path_kind_parses_only_known_names() {
    assert_eq!(PathKind::parse("Exact"), Some(PathKind::Exact));
    assert_eq!(PathKind::parse("Prefix"), Some(PathKind::Prefix));
    assert_eq!(PathKind::parse("exact"), None);
    assert_eq!(PathKind::parse(""), None);
}
