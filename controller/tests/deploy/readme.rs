//! The README's "Install in a cluster" section names only what exists: every `deploy/` path,
//! every overlay (and all of them), and every `--flag` and `STRAIT_*` variable of
//! `strait controller` it mentions in inline code.

use super::*;

const HEADING: &str = "## Install in a cluster";

/// The section, from its heading to the next `## ` heading.
fn section() -> String {
    let readme = read("README.md");
    let start = readme.find(HEADING);
    let start = start.unwrap_or_else(|| panic!("README.md: no `{HEADING}` section"));
    let rest = &readme[start + HEADING.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// Inline code spans outside fenced blocks.
fn inline_code(text: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            let parts = line.split('`').skip(1).step_by(2);
            spans.extend(parts.map(str::to_owned));
        }
    }
    spans
}

/// Every word that starts with `deploy/`, trailing punctuation removed.
fn deploy_paths(text: &str) -> BTreeSet<String> {
    let words = text.split(|c: char| c.is_whitespace() || "`()[]'\",".contains(c));
    let paths = words.filter(|word| word.starts_with("deploy/"));
    let trim = |word: &str| word.trim_end_matches(['.', ':', ';', '/']).to_owned();
    paths.map(trim).collect()
}

#[test]
fn install_section_names_existing_overlays_files_and_flags() {
    let text = section();
    let file = "README.md (Install in a cluster)";
    let paths = deploy_paths(&text);
    for path in &paths {
        // `deploy/strait-<overlay>.yaml` stands for each overlay's file.
        let expanded: Vec<String> = match path.contains("<overlay>") {
            true => OVERLAYS
                .iter()
                .map(|o| path.replace("<overlay>", o))
                .collect(),
            false => vec![path.clone()],
        };
        for path in expanded {
            check(
                file,
                root().join(&path).exists(),
                &format!("{path} does not exist"),
            );
        }
    }
    for overlay in OVERLAYS {
        let dir = format!("deploy/overlays/{overlay}");
        check(file, paths.contains(&dir), &format!("does not name {dir}"));
    }
    let cli = Cli::command();
    let controller = cli.find_subcommand("controller").expect("subcommand");
    let args: Vec<_> = controller.get_arguments().collect();
    for span in inline_code(&text) {
        let word = span.split_whitespace().next().unwrap_or_default();
        if let Some(flag) = word.strip_prefix("--") {
            let name = flag.split('=').next().unwrap_or(flag);
            let known = args.iter().any(|a| a.get_long() == Some(name));
            check(
                file,
                known,
                &format!("`--{name}` is not a flag of strait controller"),
            );
        } else if word.starts_with("STRAIT_") {
            let name = word.split('=').next().unwrap_or(word);
            let known = args.iter().any(|a| a.get_env() == Some(OsStr::new(name)));
            check(
                file,
                known,
                &format!("`{name}` is not read by strait controller"),
            );
        }
    }
}
