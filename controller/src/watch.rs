//! Watching the manifests folder: inotify events (through `notify`), debounced, trigger a
//! rescan and a publish. A slow periodic rescan backs it up in case events are lost; without
//! a watcher the folder is polled.
//!
//! A write that is known to be complete — a manifest file closed after writing, or moved into
//! place (the atomic rename editors, generators and `kubectl cp` use), a file removed, a
//! ConfigMap mount's `..data` swapped — is scanned at once when no scan ran within the
//! debounce: an isolated change (an endpoint moved, a route added) is live in milliseconds.
//! Anything else (a write still in progress, or the rest of a burst) waits until the events
//! have been quiet for `--debounce`. A half-written file is safe either way: its removals are
//! held back until it settles (`manifests/settle.rs`).
//!
//! The watch is recursive, like the scan: a change in a subfolder (or a new subfolder) is seen
//! too. Any event in the tree triggers a rescan, whatever its file name: in a Kubernetes
//! ConfigMap mount the only event is the `..data` symlink being swapped. Rescans are cheap
//! when nothing changed (files are fingerprinted), so spurious events cost little.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::burst::until;
use crate::manifests::{Format, ManifestDir};
use crate::metrics::{ControllerMetrics, Trigger};
use crate::store::Change;

/// Timing of the watch loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchConfig {
    /// Quiet time after the last event before reloading (`--debounce`, 50 ms by default).
    pub debounce: Duration,
    /// Longest a change waits under a steady stream of events, leaving room for the reload
    /// itself within the 1 s promise.
    pub max_delay: Duration,
    /// Period of the safety-net full rescan, in case the kernel dropped events.
    pub resync: Duration,
    /// Rescan period when no watcher could be created.
    pub poll: Duration,
}

impl WatchConfig {
    /// The defaults around a given debounce.
    pub fn new(debounce: Duration) -> Self {
        Self {
            debounce,
            max_delay: Duration::from_millis(500),
            resync: Duration::from_secs(10),
            poll: Duration::from_secs(1),
        }
    }
}

/// The manifests folder as a source of [`Change`]s for the compile loop.
#[derive(Debug)]
pub struct ManifestSource {
    dir: ManifestDir,
    metrics: ControllerMetrics,
    /// The last scan held back a file that may be half-written: rescan once it settles.
    settling: bool,
}

impl ManifestSource {
    pub fn new(dir: ManifestDir, metrics: ControllerMetrics) -> Self {
        Self {
            dir,
            metrics,
            settling: false,
        }
    }

    pub fn dir(&self) -> &ManifestDir {
        &self.dir
    }

    /// Rescans the folder; the folder's whole object set when it changed (or when `force`d,
    /// for the first load). Blocking: file I/O and parsing.
    pub fn scan(&mut self, force: bool) -> Option<Change> {
        let report = self.dir.rescan();
        self.settling = report.settling;
        self.metrics.set_manifest_errors(report.errors.len());
        (report.changed || force)
            .then(|| Change::Replace(self.dir.objects().into_iter().cloned().collect()))
    }

    /// [`scan`](Self::scan) on the blocking pool, so file reads never hold an async worker.
    pub async fn scan_blocking(mut self, force: bool) -> anyhow::Result<(Self, Option<Change>)> {
        tokio::task::spawn_blocking(move || {
            let change = self.scan(force);
            (self, change)
        })
        .await
        .context("rescanning the manifests folder panicked")
    }
}

/// Watches `source`'s folder and sends its object set to the compile loop on change, until
/// `shutdown` resolves or the loop is gone.
///
/// Errors only if a rescan panics (a bug): the table being served stays in place.
pub async fn watch(
    mut source: ManifestSource,
    changes: mpsc::Sender<Change>,
    config: WatchConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (tx, mut events) = mpsc::channel(64);
    let watcher = start_watcher(source.dir().root(), tx.clone());
    let period = if watcher.is_some() {
        config.resync
    } else {
        config.poll
    };
    // The first scan ran before the watcher existed: a change written in between raised no
    // event, so look once more now that events are being delivered.
    let mut trigger = Trigger::Resync;
    let mut resync = tokio::time::interval_at(Instant::now() + period, period);
    // When a complete write last jumped the debounce: at most one such scan per debounce, so
    // a burst of renames still settles into few scans. (Rechecks and resyncs do not count.)
    let mut leading: Option<Instant> = None;
    resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // A file whose new version removes objects and was written within the debounce may be
    // half-written: it is re-read once quiet that long before its removals apply.
    source.dir.settle_window(config.debounce);
    tokio::pin!(shutdown);
    loop {
        tracing::trace!(?trigger, "rescanning the manifests folder");
        source.metrics.reloaded(trigger);
        let change;
        (source, change) = source.scan_blocking(false).await?;
        if let Some(change) = change
            && changes.send(change).await.is_err()
        {
            break;
        }
        let recheck = source.settling.then(|| Instant::now() + config.debounce);
        trigger = tokio::select! {
            () = &mut shutdown => break,
            _ = resync.tick() => Trigger::Resync,
            () = until(recheck) => Trigger::Watch,
            Some(wake) = events.recv() => {
                let may_lead = |leading: Option<Instant>| {
                    leading.is_none_or(|at| at.elapsed() >= config.debounce)
                };
                if wake == Wake::Complete && may_lead(leading) {
                    leading = Some(Instant::now());
                    Trigger::Watch
                } else {
                    tokio::select! {
                        () = &mut shutdown => break,
                        led = settle(&mut events, &config, may_lead(leading)) => {
                            if led {
                                leading = Some(Instant::now());
                            }
                            Trigger::Watch
                        }
                    }
                }
            }
        };
    }
    drop((watcher, tx));
    tracing::debug!("manifests watch stopped");
    Ok(())
}

/// Waits until events have been quiet for `debounce`, or `max_delay` after the first one. With
/// `may_lead`, a complete write ends the wait at once (a temporary file's events come before
/// the rename that completes it); returns whether that happened.
async fn settle(events: &mut mpsc::Receiver<Wake>, config: &WatchConfig, may_lead: bool) -> bool {
    let first = Instant::now();
    loop {
        let deadline = settle_deadline(first, Instant::now(), config);
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Wake::Complete)) if may_lead => return true,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return false,
        }
    }
}

/// When to stop waiting, given the first and the latest event of a burst.
pub(crate) fn settle_deadline(first: Instant, last: Instant, config: &WatchConfig) -> Instant {
    (last + config.debounce).min(first + config.max_delay)
}

/// Starts a recursive watcher on `root` (the scan reads subfolders, so their changes count)
/// that wakes the loop through `tx`; `None` (after a warning) when the platform refuses, in
/// which case the loop polls. Folders created later are added to the watch by `notify`.
fn start_watcher(root: &Path, tx: mpsc::Sender<Wake>) -> Option<RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        let wake = match event {
            Ok(event) => wake_of(&event),
            Err(err) => {
                // E.g. the kernel queue overflowed: events were lost, so rescan.
                tracing::warn!(%err, "manifests folder watcher error; rescanning");
                Some(Wake::Partial)
            }
        };
        // A full channel already holds a wake-up; a closed one means the loop is gone.
        if let Some(wake) = wake {
            let _ = tx.try_send(wake);
        }
    };
    let started = notify::recommended_watcher(handler).and_then(|mut watcher| {
        watcher
            .watch(root, RecursiveMode::Recursive)
            .map(|()| watcher)
    });
    match started {
        Ok(watcher) => Some(watcher),
        Err(err) => {
            tracing::warn!(%err, folder = %root.display(), "cannot watch the manifests folder; polling it every second instead");
            None
        }
    }
}

/// What an event asks of the watch loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    /// Contents may be changing still: rescan once the events are quiet.
    Partial,
    /// A write finished (see the module doc): rescan now unless a scan just ran.
    Complete,
}

/// The wake-up an event calls for, if any.
fn wake_of(event: &notify::Event) -> Option<Wake> {
    if !is_change(&event.kind) {
        return None;
    }
    let finished = matches!(
        event.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
            | EventKind::Remove(_)
    );
    // A ConfigMap mount swaps its `..data` symlink; a temporary file (`x.json.tmp`) closing is
    // not the manifest being complete: only the rename that follows is.
    let manifest = event.paths.iter().any(|path| {
        Format::of(path).is_some() || path.file_name().is_some_and(|name| name == "..data")
    });
    Some(if finished && manifest {
        Wake::Complete
    } else {
        Wake::Partial
    })
}

/// Whether an event may mean changed contents. Opening and reading are not (our own rescans
/// open every file); closing after a write is.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests;
