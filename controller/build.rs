//! Sets `STRAIT_COMMIT` for `strait_build_info{commit}`: the short hash of the checkout being
//! built (`git rev-parse --short HEAD`), or `unknown` without git or outside a repository
//! (a source tarball, a container build without `.git`). A `STRAIT_COMMIT` set in the build
//! environment wins, so image builds can pass the hash in.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=STRAIT_COMMIT");
    let commit = std::env::var("STRAIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=STRAIT_COMMIT={}", commit.trim());
}

fn git_commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    // Rebuild when HEAD moves (a checkout) or its branch does (a commit). Only paths that
    // exist: cargo reruns a build script on every build while a watched path is missing.
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]);
    for name in ["HEAD"].into_iter().map(str::to_owned).chain(branch) {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let hash = String::from_utf8(output.stdout).ok()?;
    let hash = hash.trim();
    (!hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash.to_owned())
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}
