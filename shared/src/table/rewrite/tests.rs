use super::*;

fn rewrite(path: &str, target: &str, prefix: Option<&str>) -> Rewrite {
    let target = Template::parse(target, false).expect("test target parses");
    let prefix = prefix.map(|p| Template::parse(p, true).expect("test prefix parses"));
    Rewrite::new(path, target, prefix).expect("test path compiles")
}

fn path(r: &Rewrite, request: &str) -> String {
    r.apply(request).path
}

/// docs/examples/rewrite/README.md, "Rewrite Target": path `/something(/|$)(.*)`, target
/// `/$2`.
#[test]
fn the_docs_rewrite_example() {
    let r = rewrite("/something(/|$)(.*)", "/$2", None);
    assert_eq!(path(&r, "/something"), "/");
    assert_eq!(path(&r, "/something/"), "/");
    assert_eq!(path(&r, "/something/new"), "/new");
    assert_eq!(path(&r, "/SomeThing/New/Deeper"), "/New/Deeper");
}

/// test/e2e/annotations/rewrite.go, "should allow for custom rewrite parameters": path
/// `/foo/bar/(.+)`, target `/new/backend/$1`; and a plain target replaces the whole path
/// ("should write rewrite logs": `/something` with target `/` goes upstream as `/`).
#[test]
fn captures_and_plain_targets() {
    let r = rewrite("/foo/bar/(.+)", "/new/backend/$1", None);
    assert_eq!(path(&r, "/foo/bar/bar"), "/new/backend/bar");
    let plain = rewrite("/something", "/", None);
    assert_eq!(path(&plain, "/something"), "/");
    assert_eq!(path(&plain, "/something/else"), "/");
}

/// nginx's script reads one digit after `$` (`$1`…`$9`); a group that did not take part or
/// does not exist is empty; a result without a leading slash gets one.
#[test]
fn groups_as_nginx_reads_them() {
    let r = rewrite("/(a)(b)?(c)", "/$1$2$3$4$10", None);
    assert_eq!(path(&r, "/ac"), "/aca0");
    let bare = rewrite("/(.*)", "$1", None);
    assert_eq!(path(&bare, "/x/y"), "/x/y");
    assert_eq!(path(&bare, "/"), "/");
}

/// nginx's rewrite regex is unanchored (`rewrite "(?i)<path>"`): it searches the path, and the
/// whole path is replaced. Percent-encoding is carried as received.
#[test]
fn the_rewrite_regex_searches_and_keeps_encoding() {
    let r = rewrite("/api/(.*)", "/$1", None);
    assert_eq!(path(&r, "/v1/api/items"), "/items");
    assert_eq!(path(&r, "/api/a%20b"), "/a%20b");
    // No match (a path routed another way): the path stays.
    assert_eq!(path(&r, "/other"), "/other");
}

/// test/e2e/annotations/xforwardedprefix.go: the header takes the annotation's value, with the
/// rewrite's captures.
#[test]
fn the_forwarded_prefix_takes_the_captures() {
    let r = rewrite("/(app)/(.*)", "/$2", Some("/$1"));
    let out = r.apply("/app/page");
    assert_eq!(out.path, "/page");
    assert_eq!(out.forwarded_prefix.as_deref(), Some("/app"));
    let fixed = rewrite("/", "/foo", Some("/test/value"));
    assert_eq!(
        fixed.apply("/").forwarded_prefix.as_deref(),
        Some("/test/value")
    );
    assert_eq!(rewrite("/", "/foo", None).apply("/").forwarded_prefix, None);
}

/// ingress-nginx's `RegexPathWithCapture` validator (letters, digits, `- . _ ~ / : $`) decides
/// what is ignored; nginx variables are what Strait will not substitute.
#[test]
fn template_values_as_ingress_nginx_validates_them() {
    for ok in [
        "/",
        "/$1",
        "/new/backend/$1",
        "/a-b.c_d~e:f",
        "$1",
        "/api/v1",
    ] {
        assert_eq!(
            Template::parse(ok, false).map(|t| t.to_string()).as_deref(),
            Ok(ok)
        );
    }
    for bad in ["/a?b=c", "/a b", " /a", "/a\n", "/${1}", "/é"] {
        assert_eq!(
            Template::parse(bad, false),
            Err(TemplateError::Characters),
            "{bad:?}"
        );
    }
    assert!(
        Template::parse("/a b", true).is_ok(),
        "x-forwarded-prefix drops spaces"
    );
    for variable in ["/$host", "/$0", "/a$", "$request_uri", "/$_"] {
        assert_eq!(
            Template::parse(variable, false),
            Err(TemplateError::Variable),
            "{variable:?}"
        );
    }
}

/// Request paths and templates from anywhere: applying never panics, and a request path keeps
/// its leading slash.
#[test]
fn rewrites_of_arbitrary_input_hold() {
    let hold = |pattern: &str, target: &str, request: &str| {
        let Ok(target) = Template::parse(target, false) else {
            return;
        };
        let Ok(r) = Rewrite::new(pattern, target, None) else {
            return;
        };
        let out = r.apply(request);
        if request.starts_with('/') {
            assert!(out.path.starts_with('/'), "{pattern:?} {request:?}");
        }
    };
    for (p, t, q) in [
        ("/something(/|$)(.*)", "/$2", "/something/new"),
        ("/(.*)", "$1", "/é/ü"),
        ("/(.)", "/$1", "/\u{e9}"),
        ("(?s).", "$1$9", ""),
    ] {
        hold(p, t, q);
    }
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .for_each(|input: &[u8]| {
            let text = String::from_utf8_lossy(input);
            let mut parts = text.splitn(3, '\n');
            let (p, t, q) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("/"),
                parts.next().unwrap_or("/"),
            );
            hold(p, t, q);
        });
}
