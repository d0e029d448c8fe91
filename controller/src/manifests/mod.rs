//! The manifests folder source: a directory of YAML/JSON files (subfolders included) holding
//! the same objects a cluster would (Ingress, IngressClass, Service, EndpointSlice, Secret,
//! Node).
//!
//! - [`parse_file`] decodes one file into [`Object`](strait_shared::Object)s; a file either
//!   parses completely or fails with a [`ManifestError`] naming the file and line.
//! - [`ManifestDir`] keeps the last good objects of every file across rescans, so a bad edit
//!   never removes routes that were working, and builds an [`Index`](strait_shared::Index)
//!   from them.

use std::path::{Path, PathBuf};

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod large;
mod parse;
mod settle;
#[cfg(test)]
mod shares;
mod source;
#[cfg(test)]
mod tests;

pub use parse::{Format, documents, parse_file};
pub use source::{ManifestDir, ScanReport};

/// Why a manifest file (or the folder) could not be read. Cloneable and comparable, so a
/// repeated error can be recognised and logged once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The folder itself cannot be listed.
    #[error("manifests folder {}: {message}", path.display())]
    Dir { path: PathBuf, message: String },
    /// A file is listed but cannot be read.
    #[error("{}: cannot read: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// A file is not valid YAML/JSON, or holds an object of a kind we read that does not
    /// decode. `line` is 1-based, when the parser knows it.
    #[error("{}: {message}", Located(path, *line))]
    Parse {
        path: PathBuf,
        line: Option<u64>,
        message: String,
    },
}

impl ManifestError {
    /// The file (or folder) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Dir { path, .. } | Self::Read { path, .. } | Self::Parse { path, .. } => path,
        }
    }

    /// The 1-based line of a parse error, when known.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::Parse { line, .. } => *line,
            Self::Dir { .. } | Self::Read { .. } => None,
        }
    }
}

/// Renders `path:line` (or just `path` when the line is unknown).
struct Located<'a>(&'a Path, Option<u64>);

impl std::fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(line) => write!(f, "{}:{line}", self.0.display()),
            None => write!(f, "{}", self.0.display()),
        }
    }
}
