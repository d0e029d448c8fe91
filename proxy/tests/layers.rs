//! The proxy crate reads in one direction: each top-level module names (through `crate::`)
//! only modules below it in [`LAYERS`], the order a request travels, which the crate doc
//! (`src/lib.rs`, "Layers") draws. So the crate's module graph has no cycle
//! (docs/architecture.md, "The proxy crate's layers").
//!
//! Checked on the source text of the code that is built without `cfg(test)`: the files
//! reachable from `src/lib.rs` through `mod` declarations, with comments, string and
//! character literals and `#[cfg(test)]` items left out. Inline `mod name { … }` blocks other
//! than test modules are not followed for `super::` paths (the crate has none).

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// The layers, top first; within a layer too, each module names only modules after it.
/// A new module goes where the request meets it (the test fails until it is listed).
const LAYERS: &[(&str, &[&str])] = &[
    ("accept", &["workers", "listener"]),
    ("front door", &["front"]),
    ("connection", &["connection"]),
    (
        "route",
        &["service", "error_pages", "redirect", "grpc", "validate"],
    ),
    ("policies", &["policy"]),
    ("upstream", &["upstream"]),
    ("relay", &["upgrade", "body"]),
    ("record", &["exchange"]),
    (
        "shared state",
        &[
            "proxy",
            "stats",
            "balancer",
            "pool",
            "upload",
            "zones",
            "metrics",
            "access_log",
        ],
    ),
    (
        "bottom",
        &[
            "tls",
            "table",
            "proxy_protocol",
            "forwarding",
            "request_id",
            "headers",
            "activity",
            "drain",
            "stall",
            "error",
            "config",
            "random",
        ],
    ),
];

/// Edges allowed to go up, each in one file only: none now. (The last, the pool ↔ body knot,
/// went when the request body moved to `upload`, below the pool.) An entry that allows
/// nothing fails the test.
const ALLOWED_UP: &[(&str, &str)] = &[];

#[test]
fn each_module_names_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = crate_files(&src);
    assert!(files.len() > 50, "found only {} files", files.len());
    let problems = check(&files, &order(), ALLOWED_UP);
    assert!(
        problems.is_empty(),
        "the proxy crate's layers are broken (see tests/layers.rs):\n{}",
        lines(&problems)
    );
}

#[test]
fn the_crate_doc_draws_the_layers() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    let problems = doc_problems(&lib);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_sees_a_module_that_names_one_above_it() {
    let order = ["a", "b", "c"];
    let files = [
        file("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        file("a.rs", "use crate::b::X;\nuse crate::{c, b::{Y, Z}};\n"),
        file(
            "b.rs",
            "// crate::a in a comment\nfn f() { let _ = \"crate::a\"; }\n",
        ),
        file("c.rs", "fn g() -> crate::a::X { todo!() }\n"),
    ];
    let problems = check(&files, &order, &[]);
    assert_eq!(
        lines(&problems),
        "src/c.rs:1: `c` names `crate::a`, which is above it\n"
    );
    // Allowed, it passes; allowed and not there, it fails.
    assert!(check(&files, &order, &[("c.rs", "a")]).is_empty());
    let stale = check(&files, &order, &[("c.rs", "a"), ("b.rs", "a")]);
    assert_eq!(stale.len(), 1, "{}", lines(&stale));
    assert!(
        stale[0].to_string().contains("allows nothing"),
        "{}",
        lines(&stale)
    );
}

#[test]
fn the_check_reads_paths_as_rustc_does() {
    let order = ["a", "b", "c"];
    let files = [
        file("lib.rs", "mod a;\nmod b;\nmod c;\n#[cfg(test)]\nmod d;\n"),
        file("a.rs", "mod inner;\n"),
        // Two `super::` from `a/inner.rs` reach the crate root.
        file(
            "a/inner.rs",
            "fn f() { super::super::c::go(); super::x(); }\n",
        ),
        file(
            "b.rs",
            "#[cfg(test)]\n#[path = \"t.rs\"]\nmod tests {\n    use crate::a::Y;\n}\n\
             const C: char = '{';\nfn h<'a>(x: &'a str) -> &'a str { r#\"crate::a\"# ; x }\n",
        ),
        file("c.rs", "/* crate::a /* nested */ crate::b */\n"),
        // Not built outside tests: never read.
        file("d.rs", "use crate::a;\n"),
    ];
    assert!(check(&files, &order, &[]).is_empty());
    let files = [
        file("lib.rs", "pub mod a;\nmod b;\n"),
        file("a/mod.rs", "pub(crate) mod deep;\n"),
        file("a/deep.rs", "use super::super::{b, a};\n"),
        file("b.rs", "use crate::Reexported;\n"),
    ];
    let problems = check(&files, &["a", "b", "c"], &[]);
    assert_eq!(
        lines(&problems),
        "src/b.rs:1: `b` names `crate::Reexported`, which is no module of the layers \
         (name the module, not a re-export at the root)\n\
         src/lib.rs: module `c` is in the layers but not declared\n"
    );
}

#[test]
fn the_doc_check_sees_a_layer_out_of_order() {
    let mut doc = String::from("//! Layers\n");
    for (n, (name, modules)) in LAYERS.iter().enumerate() {
        let listed: Vec<String> = modules.iter().map(|m| format!("`{m}`")).collect();
        doc.push_str(&format!(
            "//! {}. **{name}**: {}.\n",
            n + 1,
            listed.join(", ")
        ));
    }
    assert!(doc_problems(&doc).is_empty(), "{:?}", doc_problems(&doc));
    let swapped = doc.replace("`service`, `error_pages`", "`error_pages`, `service`");
    assert_eq!(doc_problems(&swapped).len(), 1, "{swapped}");
}

/// Every module of [`LAYERS`], top first.
fn order() -> Vec<&'static str> {
    LAYERS.iter().flat_map(|(_, m)| m.iter().copied()).collect()
}

/// A source file, its path relative to `src/`.
struct File {
    path: String,
    source: String,
}

fn file(path: &str, source: &str) -> File {
    File {
        path: path.to_owned(),
        source: source.to_owned(),
    }
}

/// Every `.rs` file under `src`.
fn crate_files(src: &Path) -> Vec<File> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).expect("under src");
                files.push(File {
                    path: relative.to_string_lossy().replace('\\', "/"),
                    source: std::fs::read_to_string(&path).expect("a source file"),
                });
            }
        }
    }
    files
}

/// One broken rule.
enum Problem {
    Up {
        path: String,
        line: usize,
        from: String,
        to: String,
    },
    NotAModule {
        path: String,
        line: usize,
        from: String,
        to: String,
    },
    Unlisted(String),
    Undeclared(String),
    Stale(&'static str, &'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Up {
                path,
                line,
                from,
                to,
            } => write!(
                f,
                "src/{path}:{line}: `{from}` names `crate::{to}`, which is above it"
            ),
            Self::NotAModule {
                path,
                line,
                from,
                to,
            } => write!(
                f,
                "src/{path}:{line}: `{from}` names `crate::{to}`, which is no module of the \
                 layers (name the module, not a re-export at the root)"
            ),
            Self::Unlisted(module) => write!(
                f,
                "src/lib.rs: module `{module}` is in no layer: list it in LAYERS and the crate doc"
            ),
            Self::Undeclared(module) => {
                write!(
                    f,
                    "src/lib.rs: module `{module}` is in the layers but not declared"
                )
            }
            Self::Stale(path, to) => write!(
                f,
                "ALLOWED_UP (\"{path}\", \"{to}\") allows nothing any more: delete it"
            ),
        }
    }
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("{p}\n")).collect()
}

/// The rules broken by `files` (paths relative to `src/`, `lib.rs` among them) for `order`
/// (top first), with the upward edges `allowed` lets through.
fn check(files: &[File], order: &[&str], allowed: &[(&'static str, &'static str)]) -> Vec<Problem> {
    let find = |path: &str| files.iter().find(|f| f.path == path);
    let lib = find("lib.rs").expect("src/lib.rs");
    let lib_code = without_tests(&code(&lib.source));
    let top: Vec<String> = declared_modules(&lib_code);
    let mut problems = Vec::new();
    for module in &top {
        if !order.contains(&module.as_str()) {
            problems.push(Problem::Unlisted(module.clone()));
        }
    }
    // Files built outside tests, with their module depth (`a.rs` 1, `a/b.rs` 2).
    let mut pending: Vec<(String, usize)> = top.iter().map(|m| (m.clone(), 1)).collect();
    let mut used = BTreeSet::new();
    while let Some((module_path, depth)) = pending.pop() {
        let (file, dir) = match (
            find(&format!("{module_path}.rs")),
            find(&format!("{module_path}/mod.rs")),
        ) {
            (Some(file), _) | (None, Some(file)) => (file, module_path.clone()),
            (None, None) => continue,
        };
        let code = without_tests(&code(&file.source));
        for child in declared_modules(&code) {
            pending.push((format!("{dir}/{child}"), depth + 1));
        }
        let from = module_path.split('/').next().unwrap_or_default();
        for (line, to) in named_top_modules(&code, depth) {
            if to == from {
                continue;
            }
            let (Some(at), Some(target)) = (
                order.iter().position(|m| *m == from),
                order.iter().position(|m| *m == to),
            ) else {
                if !order.contains(&to.as_str()) {
                    problems.push(Problem::NotAModule {
                        path: file.path.clone(),
                        line,
                        from: from.to_owned(),
                        to,
                    });
                }
                continue;
            };
            if target > at {
                continue;
            }
            match allowed.iter().find(|(p, t)| *p == file.path && *t == to) {
                Some(entry) => {
                    used.insert(*entry);
                }
                None => problems.push(Problem::Up {
                    path: file.path.clone(),
                    line,
                    from: from.to_owned(),
                    to,
                }),
            }
        }
    }
    for module in order {
        if !top.iter().any(|m| m == module) {
            problems.push(Problem::Undeclared((*module).to_owned()));
        }
    }
    for entry in allowed {
        if !used.contains(entry) {
            problems.push(Problem::Stale(entry.0, entry.1));
        }
    }
    problems
}

/// `source` with comments and string and character literals blanked (newlines kept, so
/// offsets and line numbers stay), leaving only code.
fn code(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let starts = |s: &str| rest.iter().take(s.len()).copied().eq(s.chars());
        if starts("//") {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if starts("/*") {
            let mut depth = 0;
            while i < chars.len() {
                let rest = &chars[i..];
                if rest.starts_with(&['/', '*']) {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if rest.starts_with(&['*', '/']) {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(rest)
            .filter(|_| i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
        {
            // r"…", r#"…"#, br"…": no escapes; ends at a quote and as many hashes.
            let open = rest.iter().position(|c| *c == '"').unwrap_or(0) + 1;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let mut j = i + open;
            while j < chars.len() && !chars[j..].starts_with(&close) {
                j += 1;
            }
            let end = (j + close.len()).min(chars.len());
            out.extend(chars[i..end].iter().map(|c| blank(*c)));
            i = end;
        } else if chars[i] == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for c in chars.iter().skip(i).take(step) {
                    out.push(blank(*c));
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if chars[i] == '\'' && char_literal_len(rest).is_some() {
            let len = char_literal_len(rest).unwrap_or(1);
            out.extend(std::iter::repeat_n(' ', len));
            i += len;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The hashes of a raw string literal starting here (`r"`, `r#"`, `br"`), if one does.
fn raw_string_start(rest: &[char]) -> Option<usize> {
    let after_prefix = match rest {
        ['b', 'r', ..] => &rest[2..],
        ['r', ..] => &rest[1..],
        _ => return None,
    };
    let hashes = after_prefix.iter().take_while(|c| **c == '#').count();
    (after_prefix.get(hashes) == Some(&'"')).then_some(hashes)
}

/// The length of a character literal starting here (`'x'`, `'\n'`, `'\u{7f}'`), or `None`
/// for a lifetime or label.
fn char_literal_len(rest: &[char]) -> Option<usize> {
    match rest {
        ['\'', '\\', ..] => rest
            .iter()
            .skip(3)
            .position(|c| *c == '\'')
            .map(|end| end + 4),
        ['\'', _, '\'', ..] => Some(3),
        _ => None,
    }
}

/// `code` with every `#[cfg(test)]` item blanked: the attribute, any attributes after it, and
/// the item up to its `;` or its closing brace.
fn without_tests(code: &str) -> String {
    let mut out: Vec<char> = code.chars().collect();
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= out.len() {
        if !out[i..].starts_with(&marker) {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i;
        let mut depth = 0usize;
        let mut in_attribute = 0usize;
        while j < out.len() {
            match out[j] {
                '[' => in_attribute += 1,
                ']' => in_attribute = in_attribute.saturating_sub(1),
                '{' if in_attribute == 0 => depth += 1,
                '}' if in_attribute == 0 => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                ';' if in_attribute == 0 && depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        let end = (j + 1).min(out.len());
        for c in &mut out[start..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end;
    }
    out.into_iter().collect()
}

/// The file modules `code` declares: `mod name;`, with any visibility.
fn declared_modules(code: &str) -> Vec<String> {
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ';'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|pair| pair[0] == "mod" && pair[1].ends_with(';'))
        .map(|pair| pair[1].trim_end_matches(';').to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The top-level modules `code` (a file `depth` modules below the root) names, with their
/// lines: `crate::x`, `crate::{x, y::z}`, and `super::…::x` with as many `super`s as `depth`.
fn named_top_modules(code: &str, depth: usize) -> Vec<(usize, String)> {
    let root = "super::".repeat(depth);
    let mut found = Vec::new();
    for prefix in ["crate::", root.as_str()] {
        for (at, _) in code.match_indices(prefix) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            let rest = code[at + prefix.len()..].trim_start();
            for name in path_heads(rest) {
                found.push((line, name));
            }
        }
    }
    found
}

/// The first segment of the path `rest` starts with, or of each path of a `{…}` group.
fn path_heads(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(ident(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(ident(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    heads.retain(|h| !h.is_empty() && h != "self");
    heads
}

/// Where the crate doc's list of layers disagrees with [`LAYERS`]: it must have, for layer
/// `n`, a line `//! n. **name**` whose item names the layer's modules (`` `module` ``) in
/// order.
fn doc_problems(lib: &str) -> Vec<String> {
    let doc: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let mut problems = Vec::new();
    for (n, (name, modules)) in LAYERS.iter().enumerate() {
        let head = format!("{}. **{name}**", n + 1);
        let Some(at) = doc.iter().position(|l| l.starts_with(&head)) else {
            problems.push(format!("the crate doc has no item `{head}`"));
            continue;
        };
        let item: String = doc[at..]
            .iter()
            .take_while(|l| !l.is_empty())
            .enumerate()
            .take_while(|(i, l)| *i == 0 || !l.starts_with(|c: char| c.is_ascii_digit()))
            .map(|(_, l)| format!("{l} "))
            .collect();
        let mut from = 0;
        for module in modules.iter() {
            match item[from..].find(&format!("`{module}`")) {
                Some(found) => from += found + module.len() + 2,
                None => problems.push(format!(
                    "the crate doc's layer {head} does not name `{module}` (after the modules \
                     before it)"
                )),
            }
        }
    }
    problems
}
