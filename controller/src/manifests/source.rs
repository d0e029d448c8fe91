//! [`ManifestDir`]: the folder's files, each with its last good objects.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use strait_shared::{Index, Object, ObjectRef};

use super::settle::{age, must_wait};
use super::{Format, ManifestError, parse_file};

/// The state of a manifests folder across rescans.
///
/// Each file keeps its last good objects: a file that stops parsing keeps contributing what it
/// held before (its error is reported, and logged once per distinct error); a deleted file
/// drops its objects. Unchanged files (same content fingerprint) are not reparsed.
#[derive(Debug)]
pub struct ManifestDir {
    root: PathBuf,
    /// By full path; a `BTreeMap` so iteration is in lexical file order.
    files: BTreeMap<PathBuf, FileState>,
    /// The folder could not be listed at the last rescan.
    dir_error: Option<ManifestError>,
    /// Subfolders that could not be listed at the last rescan: their files keep their objects.
    subdir_errors: Vec<ManifestError>,
    /// The last rescan found no objects at all (warned about once, on the way in).
    empty: bool,
    /// Objects found in more than one place: (object, the ignored file). Kept to log each once.
    duplicates: BTreeSet<(ObjectRef, PathBuf)>,
    /// A file modified less than this long ago may still be being written (see
    /// `settle.rs`); zero until [`settle_window`](Self::settle_window) sets it.
    settle: std::time::Duration,
}

/// What one [`ManifestDir::rescan`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// The set of objects differs from the previous scan: rebuild the index.
    pub changed: bool,
    /// Every error current after this scan (files that do not parse, or the folder itself).
    pub errors: Vec<ManifestError>,
    /// Some file's new version removes objects and may be half-written: it was not applied;
    /// rescan once the settle window has passed.
    pub settling: bool,
}

#[derive(Debug, Default)]
struct FileState {
    /// Fingerprint of the contents last read (good or bad); `None` when reading failed.
    fingerprint: Option<u64>,
    /// The objects of the last version that parsed.
    objects: Vec<Object>,
    /// Why the current version does not parse (or cannot be read).
    error: Option<ManifestError>,
    /// The fingerprint of a version read but held back (it removes objects and may be
    /// half-written); the file keeps `objects` until a later read applies it.
    held: Option<u64>,
}

impl ManifestDir {
    /// Opens a folder, checking that it can be listed. Nothing is read until
    /// [`rescan`](Self::rescan).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ManifestError> {
        let root = root.into();
        list_files(&root).map_err(|err| dir_error(&root, &err))?;
        Ok(Self {
            root,
            files: BTreeMap::new(),
            dir_error: None,
            subdir_errors: Vec::new(),
            empty: false,
            duplicates: BTreeSet::new(),
            settle: std::time::Duration::ZERO,
        })
    }

    /// Sets the settle window: a file modified less than `window` ago whose new version removes
    /// objects is not applied until it has been quiet that long (the folder watch's
    /// `--debounce`).
    pub fn settle_window(&mut self, window: std::time::Duration) {
        self.settle = window;
    }

    /// The folder being read.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lists the folder (subfolders included) again and rereads every new or modified file.
    pub fn rescan(&mut self) -> ScanReport {
        let listed = match list_files(&self.root) {
            Ok(listed) => listed,
            Err(err) => {
                // Keep every file's objects: a folder that vanishes for a moment (or a
                // permission glitch) must not empty the routing table.
                let err = dir_error(&self.root, &err);
                if self.dir_error.as_ref() != Some(&err) {
                    tracing::warn!(%err, "keeping the objects read before");
                }
                self.dir_error = Some(err);
                return self.report(false);
            }
        };
        if let Some(err) = self.dir_error.take() {
            tracing::info!(folder = %self.root.display(), "manifests folder readable again (was: {err})");
        }
        self.note_unreadable(listed.unreadable);
        let mut changed = self.drop_missing(&listed.files);
        for path in listed.files {
            changed |= self.refresh_file(path);
        }
        if changed {
            self.note_duplicates();
        }
        self.note_empty();
        self.report(changed)
    }

    /// The files read at the last rescan, in lexical order (`strait check` rereads them for
    /// kinds the index does not hold).
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// Every error current after the last rescan.
    pub fn errors(&self) -> Vec<ManifestError> {
        let files = self.files.values().filter_map(|f| f.error.clone());
        let folders = self.dir_error.iter().chain(&self.subdir_errors).cloned();
        folders.chain(files).collect()
    }

    /// Number of objects currently held (duplicates included).
    pub fn object_count(&self) -> usize {
        self.files.values().map(|f| f.objects.len()).sum()
    }

    /// Builds an index from every file's last good objects. When the same object (kind,
    /// namespace, name) appears more than once, the first in lexical file order wins.
    pub fn index(&self) -> Index {
        let mut index = Index::new();
        for object in self.objects() {
            index.apply(object.clone());
        }
        index
    }

    /// The objects [`index`](Self::index) is built from: every file's last good objects in
    /// lexical file order, later copies of an object already seen left out.
    pub fn objects(&self) -> Vec<&Object> {
        let mut seen = HashSet::new();
        self.files
            .values()
            .flat_map(|f| &f.objects)
            .filter(|object| seen.insert(ObjectRef::new(object.kind(), object.key())))
            .collect()
    }

    fn report(&self, changed: bool) -> ScanReport {
        ScanReport {
            changed,
            errors: self.errors(),
            settling: self.files.values().any(|f| f.held.is_some()),
        }
    }

    /// Remembers the subfolders that cannot be listed, logging each new one.
    fn note_unreadable(&mut self, unreadable: Vec<ManifestError>) {
        for err in unreadable
            .iter()
            .filter(|e| !self.subdir_errors.contains(e))
        {
            tracing::warn!(%err, "keeping the objects read before from this folder");
        }
        self.subdir_errors = unreadable;
    }

    /// Warns when the folder holds no objects at all, once each time it becomes empty (not at
    /// every rescan): a wrong `--manifests` path or an empty ConfigMap serves only 404s.
    fn note_empty(&mut self) {
        let empty = self.object_count() == 0;
        if empty && !self.empty {
            tracing::warn!(
                folder = %self.root.display(),
                "no objects in the manifests folder (its *.yaml, *.yml and *.json files, \
                 subfolders included); every request gets 404 until some are added"
            );
        }
        self.empty = empty;
    }

    /// Forgets files that are gone (files under a subfolder that cannot be listed are not
    /// gone); `true` when any of them held objects.
    fn drop_missing(&mut self, listed: &[PathBuf]) -> bool {
        let listed: HashSet<&PathBuf> = listed.iter().collect();
        let unreadable: Vec<&Path> = self.subdir_errors.iter().map(ManifestError::path).collect();
        let mut changed = false;
        self.files.retain(|path, state| {
            let keep = listed.contains(path) || unreadable.iter().any(|dir| path.starts_with(dir));
            if !keep {
                tracing::info!(file = %path.display(), objects = state.objects.len(), "manifest file removed");
                changed |= !state.objects.is_empty();
            }
            keep
        });
        changed
    }

    /// Rereads one file if its contents changed; `true` when its objects changed.
    fn refresh_file(&mut self, path: PathBuf) -> bool {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // Deleted between listing and reading: the next rescan drops it.
            Err(err) if err.kind() == io::ErrorKind::NotFound => return false,
            Err(err) => {
                let message = err.to_string();
                let state = self.files.entry(path.clone()).or_default();
                state.fingerprint = None;
                set_error(state, ManifestError::Read { path, message });
                return false;
            }
        };
        let fingerprint = fingerprint(&bytes);
        let settle = self.settle;
        let state = self.files.entry(path.clone()).or_default();
        if state.fingerprint == Some(fingerprint) {
            state.held = None;
            return false;
        }
        let parsed = match std::str::from_utf8(&bytes) {
            Ok(contents) => parse_file(&path, contents),
            Err(err) => Err(ManifestError::Parse {
                path: path.clone(),
                line: None,
                message: format!("not valid UTF-8: {err}"),
            }),
        };
        if let Ok(objects) = &parsed
            && must_wait(
                &state.objects,
                objects,
                fingerprint,
                state.held,
                age(&path),
                settle,
            )
        {
            tracing::debug!(file = %path.display(), objects = objects.len(), kept = state.objects.len(),
                "manifest file removes objects and may be half-written; re-reading it once settled");
            state.held = Some(fingerprint);
            return false;
        }
        state.held = None;
        state.fingerprint = Some(fingerprint);
        match parsed {
            Ok(objects) => {
                if let Some(err) = state.error.take() {
                    tracing::info!(file = %path.display(), "manifest file parses again (was: {err})");
                }
                tracing::debug!(file = %path.display(), objects = objects.len(), "manifest file read");
                let changed = state.objects != objects;
                state.objects = objects;
                changed
            }
            Err(err) => {
                set_error(state, err);
                false
            }
        }
    }

    /// Logs each object found in more than one place, once.
    fn note_duplicates(&mut self) {
        let mut first: HashMap<ObjectRef, &Path> = HashMap::new();
        let mut found = BTreeSet::new();
        for (path, state) in &self.files {
            for object in &state.objects {
                let id = ObjectRef::new(object.kind(), object.key());
                match first.get(&id) {
                    None => {
                        first.insert(id, path);
                    }
                    Some(winner) => {
                        if !self.duplicates.contains(&(id.clone(), path.clone())) {
                            tracing::warn!(
                                object = %id,
                                used = %winner.display(),
                                ignored = %path.display(),
                                "object defined more than once; the first file in lexical order wins"
                            );
                        }
                        found.insert((id, path.clone()));
                    }
                }
            }
        }
        self.duplicates = found;
    }
}

/// Records a file's current error, logging it only when it differs from the previous one.
fn set_error(state: &mut FileState, err: ManifestError) {
    if state.error.as_ref() != Some(&err) {
        tracing::warn!(%err, objects_kept = state.objects.len(), "manifest file rejected; keeping its last good version");
    }
    state.error = Some(err);
}

fn dir_error(root: &Path, err: &io::Error) -> ManifestError {
    ManifestError::Dir {
        path: root.to_owned(),
        message: err.to_string(),
    }
}

/// A content fingerprint: equal contents give equal values within one process.
fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(bytes);
    hasher.finish()
}

/// What one listing of the folder found.
#[derive(Debug, Default)]
struct Listing {
    /// Manifest files, folder by folder in lexical order.
    files: Vec<PathBuf>,
    /// Subfolders that could not be listed, with why.
    unreadable: Vec<ManifestError>,
}

/// The manifest files under a folder, subfolders included, sorted (component by component, so
/// a folder's files sort together): regular files (symlinks followed, as in a ConfigMap
/// mount) with a known extension. Hidden files and folders (a ConfigMap mount's `..data` and
/// `..<timestamp>` among them) and editor leftovers are skipped; see [`is_skipped`].
///
/// Errs only when `root` itself cannot be listed; a subfolder that cannot is reported in
/// [`Listing::unreadable`].
fn list_files(root: &Path) -> io::Result<Listing> {
    let mut listing = Listing::default();
    let mut visited = HashSet::new();
    list_into(root, &mut listing, &mut visited)?;
    listing.files.sort();
    Ok(listing)
}

/// Adds the manifest files of `dir` and of its subfolders to `listing`.
fn list_into(dir: &Path, listing: &mut Listing, visited: &mut HashSet<PathBuf>) -> io::Result<()> {
    // A symlink to a folder above would loop forever: each real folder is read once.
    if let Ok(real) = std::fs::canonicalize(dir)
        && !visited.insert(real)
    {
        tracing::debug!(folder = %dir.display(), "skipping a folder already read (symlink loop?)");
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            tracing::debug!(file = %path.display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        if is_skipped(name) {
            continue;
        }
        // `metadata` follows symlinks; a dangling one is skipped like any non-file.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if let Err(err) = list_into(&path, listing, visited) {
                listing.unreadable.push(dir_error(&path, &err));
            }
        } else if metadata.is_file() && Format::of(&path).is_some() {
            listing.files.push(path);
        }
    }
    Ok(())
}

/// Names the folder scan skips, files and folders alike: hidden ones (`.*`, which covers
/// Emacs's `.#*` locks and Vim's `.*.swp`) and editor or merge leftovers (`#*#`, `*~`,
/// `*.swp`, `*.swx`, `*.bak`, `*.orig`).
fn is_skipped(name: &str) -> bool {
    const LEFTOVER_SUFFIXES: [&str; 5] = ["~", ".swp", ".swx", ".bak", ".orig"];
    name.starts_with('.')
        || name.starts_with('#')
        || LEFTOVER_SUFFIXES
            .iter()
            .any(|suffix| name.ends_with(suffix))
}
