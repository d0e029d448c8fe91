//! The `Dockerfile`: stages, the binary it builds and runs, its ports and user.

use super::*;

/// One `FROM` stage: its name and its instructions (keyword upper-cased, rest of the line).
pub(crate) struct Stage {
    pub(crate) name: Option<String>,
    pub(crate) instructions: Vec<(String, String)>,
}

impl Stage {
    pub(crate) fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let matching = self.instructions.iter().filter(move |(k, _)| k == keyword);
        matching.map(|(_, rest)| rest.as_str())
    }

    pub(crate) fn last<'a>(&'a self, keyword: &'a str) -> &'a str {
        let last = self.all(keyword).last();
        last.unwrap_or_else(|| panic!("Dockerfile: no {keyword} in the last stage"))
    }

    /// The instruction that counts (the last), in exec form: a JSON array of strings.
    /// (Shell form runs `/bin/sh -c`: distroless has no shell, and SIGTERM would stop at sh.)
    pub(crate) fn exec_form(&self, keyword: &str) -> Vec<String> {
        let form = serde_json::from_str(self.last(keyword));
        form.unwrap_or_else(|_| panic!("Dockerfile: {keyword} must be a JSON array"))
    }
}

pub(crate) fn dockerfile() -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut logical = String::new();
    for line in read("Dockerfile").lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && logical.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            logical.push_str(part);
            continue;
        }
        logical.push_str(line);
        let line = std::mem::take(&mut logical);
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (keyword, rest) = (keyword.to_ascii_uppercase(), rest.trim().to_owned());
        if keyword == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words[..] {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_owned()),
                _ => None,
            };
            let instructions = Vec::new();
            stages.push(Stage { name, instructions });
        } else {
            let stage = stages.last_mut().expect("Dockerfile: FROM first");
            stage.instructions.push((keyword, rest));
        }
    }
    stages
}

/// `--flag value` or `--flag=value`, for any of `names`.
pub(crate) fn flag<'a>(words: &[&'a str], names: &[&str]) -> Option<&'a str> {
    words.iter().enumerate().find_map(|(i, word)| {
        names.iter().find_map(|name| match word.strip_prefix(name) {
            Some("") => words.get(i + 1).copied(),
            Some(value) => value.strip_prefix('='),
            None => None,
        })
    })
}

/// The value of `key` in the first `table` of a Cargo.toml.
pub(crate) fn toml_value(text: &str, table: &str, key: &str) -> String {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == table;
        } else if let Some((k, v)) = line.split_once('=')
            && inside
            && k.trim() == key
        {
            return v.trim().trim_matches('"').to_owned();
        }
    }
    panic!("controller/Cargo.toml: no {key} in {table}");
}

/// What the image runs: where the binary is, ENTRYPOINT, CMD, USER and EXPOSEd ports.
#[derive(Clone)]
pub(crate) struct Image {
    pub(crate) binary: String,
    pub(crate) entrypoint: Vec<String>,
    pub(crate) cmd: Vec<String>,
    pub(crate) user: String,
    pub(crate) exposed: BTreeSet<u16>,
}

/// The last stage; checks that it runs the `[[bin]]` of controller/Cargo.toml, copied from a
/// stage that builds it.
pub(crate) fn image() -> Image {
    let cargo = read("controller/Cargo.toml");
    let bin = toml_value(&cargo, "[[bin]]", "name");
    let package = toml_value(&cargo, "[package]", "name");
    let stages = dockerfile();
    let last = stages.last().expect("Dockerfile: no FROM");
    let built = format!("/target/release/{bin}");
    let copy = last.all("COPY").find_map(|rest| {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let from = flag(&words, &["--from"])?;
        let [.., source, dest] = words[..] else {
            return None;
        };
        let file = dest.strip_suffix('/').map(|dir| format!("{dir}/{bin}"));
        let dest = file.unwrap_or_else(|| dest.to_owned());
        source.ends_with(&built).then(|| (from.to_owned(), dest))
    });
    let copy = copy.unwrap_or_else(|| panic!("Dockerfile: no COPY --from=... ...{built}"));
    let (from, binary) = copy;
    let build = stages.iter().find(|s| s.name.as_ref() == Some(&from));
    let build = build.unwrap_or_else(|| panic!("Dockerfile: no stage named {from}"));
    let builds = build.all("RUN").any(|run| {
        let words: Vec<&str> = run.split_whitespace().collect();
        words.windows(2).any(|w| w == ["cargo", "build"])
            && ["--release", "--locked"].iter().all(|w| words.contains(w))
            && flag(&words, &["--bin"]) == Some(bin.as_str())
            && flag(&words, &["-p", "--package"]) == Some(package.as_str())
    });
    let command = format!("cargo build --release --locked -p {package} --bin {bin}");
    let what = format!("stage {from} must run `{command}`");
    check("Dockerfile", builds, &what);
    let entrypoint = last.exec_form("ENTRYPOINT");
    let program = entrypoint.first();
    same("Dockerfile", "ENTRYPOINT", program, Some(&binary));
    let port = |p: &str| p.trim_end_matches("/tcp").parse().expect("EXPOSE port");
    let exposed = last.all("EXPOSE").flat_map(str::split_whitespace);
    let exposed = exposed.map(port).collect();
    // CMD is optional: the entrypoint may carry the subcommand itself.
    let cmd = if last.all("CMD").next().is_some() {
        last.exec_form("CMD")
    } else {
        Vec::new()
    };
    let user = last.last("USER").to_owned();
    Image {
        binary,
        entrypoint,
        cmd,
        user,
        exposed,
    }
}

#[test]
pub(crate) fn dockerfile_builds_copies_and_runs_the_strait_binary() {
    let image = image();
    let absolute = image.binary.starts_with('/');
    check("Dockerfile", absolute, "COPY to an absolute path");
}
