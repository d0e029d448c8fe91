//! Half-written files: when a new version of a file is not applied yet.
//!
//! An editor or a generator that writes in place (truncate, then write) leaves moments when
//! the file is empty or holds only its first documents. Read at such a moment, the file would
//! take its objects out of the table (404s, empty backends) until the next read. So a version
//! that *removes* objects is held back, the file keeping its last applied objects, and re-read
//! once it has settled:
//!
//! - a version that removes some objects is applied once the file has not been modified for
//!   the settle window (`--debounce`);
//! - a version with no objects at all (truncated to zero, or cut before its first object) is
//!   applied only when a later read finds the same contents again, the file untouched for
//!   [`EMPTY_QUIET`] (a shell's `generate > file` truncates the file long before the
//!   generator writes).
//!
//! Without a settle window (a one-off scan) every version applies at once.
//!
//! A version that only adds or changes objects is applied at once, and one that does not
//! parse keeps the last good objects anyway.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use strait_shared::{Object, ObjectRef};

/// How long an emptied file must stay empty and untouched before its objects go.
pub(super) const EMPTY_QUIET: Duration = Duration::from_secs(1);

/// Whether a file's new version (`new`, fingerprint `fingerprint`) must wait before replacing
/// its applied objects (`old`). `held` is the fingerprint of the version held at the previous
/// read, if any; `age` how long ago the file was last modified (`None` when unknown: holding
/// a file back never depends on a time we do not have).
pub(super) fn must_wait(
    old: &[Object],
    new: &[Object],
    fingerprint: u64,
    held: Option<u64>,
    age: Option<Duration>,
    settle: Duration,
) -> bool {
    if settle.is_zero() || !removes_objects(old, new) {
        return false;
    }
    let quiet_for = |window: Duration| age.is_none_or(|age| age >= window);
    if new.is_empty() {
        return held != Some(fingerprint) || !quiet_for(settle.max(EMPTY_QUIET));
    }
    !quiet_for(settle)
}

/// How long ago `path` was modified; `None` when unknown (no mtime, or one in the future).
pub(super) fn age(path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    SystemTime::now().duration_since(modified).ok()
}

fn removes_objects(old: &[Object], new: &[Object]) -> bool {
    let id = |object: &Object| ObjectRef::new(object.kind(), object.key());
    let kept: HashSet<ObjectRef> = new.iter().map(id).collect();
    old.iter().any(|object| !kept.contains(&id(object)))
}

#[cfg(test)]
mod tests;
