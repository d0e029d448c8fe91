//! Which changes the compile loop publishes at once and which wait for their burst to settle.
//!
//! Each change is debounced once, by whoever can tell when it is complete:
//!
//! - A folder scan ([`Change::Replace`]) was already settled by the folder watch (files are
//!   read once quiet for `--debounce`): it is published at once.
//! - Endpoint data (EndpointSlices, Nodes) is published at once, through the endpoint fast
//!   path (a fraction of a millisecond even with 10k Ingresses): a pod that stops being ready
//!   must leave the table now, not after the next quiet spell.
//! - Anything else (Ingresses, Services, Secrets, IngressClasses) from the Kubernetes watches
//!   waits until the stream has been quiet for `--debounce`, never more than `max_delay` after
//!   its first change, so a burst (a `kubectl apply` of many objects, a relist) is compiled
//!   once.
//!
//! Changes that jump the queue commute with the ones left waiting: endpoint kinds and the
//! other kinds are different objects, and a `Replace` takes the waiting changes with it.

use strait_shared::Kind;
use tokio::time::Instant;

use crate::store::Change;
use crate::watch::{WatchConfig, settle_deadline};

/// The changes waiting for their burst to settle.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    changes: Vec<Change>,
    /// When the first and the latest waiting change arrived.
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Pending {
    /// Sorts one change that arrived at `now`: into `ready` (publish at once), or into the
    /// waiting burst. A `Replace` takes the waiting changes with it, in order.
    pub(crate) fn sort(&mut self, change: Change, now: Instant, ready: &mut Vec<Change>) {
        match lane(&change) {
            Lane::Now => ready.push(change),
            Lane::Flush => {
                ready.append(&mut self.take());
                ready.push(change);
            }
            Lane::Settle => {
                self.first.get_or_insert(now);
                self.last = Some(now);
                self.changes.push(change);
            }
        }
    }

    /// When the waiting burst will have settled; `None` when nothing waits.
    pub(crate) fn deadline(&self, config: &WatchConfig) -> Option<Instant> {
        Some(settle_deadline(self.first?, self.last?, config))
    }

    /// The waiting changes, in arrival order, leaving nothing waiting.
    pub(crate) fn take(&mut self) -> Vec<Change> {
        self.first = None;
        self.last = None;
        std::mem::take(&mut self.changes)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    /// Endpoint data: publish at once.
    Now,
    /// Already settled by its source and covering every kind: publish at once, together with
    /// (after) whatever waits.
    Flush,
    /// Wait for the burst to settle.
    Settle,
}

fn lane(change: &Change) -> Lane {
    let kind = match change {
        Change::Replace(_) => return Lane::Flush,
        Change::Apply(object) => object.kind(),
        Change::Delete(kind, _) | Change::Relist { kind, .. } => *kind,
    };
    match kind {
        Kind::EndpointSlice | Kind::Node => Lane::Now,
        _ => Lane::Settle,
    }
}

/// Sleeps until `deadline`; forever when there is none.
pub(crate) async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
