//! The published routing table as the data path holds it: the [`SharedTable`] handle the
//! publisher stores into, and each worker's own view of it ([`LocalTable`]), so a request
//! clones a count only its worker writes.

use std::sync::Arc;

use arc_swap::ArcSwap;
use strait_shared::RouteTable;

/// The table handle shared by the publisher (writes) and every connection (reads).
pub type SharedTable = Arc<ArcSwap<RouteTable>>;

/// A worker's view of the shared table. Requests hold the table they started on through an
/// `Arc` this worker alone clones: the shared table's own reference count is touched once per
/// published table and worker, not once per request.
#[derive(Debug)]
pub(crate) struct LocalTable {
    shared: SharedTable,
    current: ArcSwap<WorkerTable>,
}

/// One worker's hold on one published table: requests clone the `Arc` around it (a count only
/// this worker writes), not the table's own.
#[derive(Debug)]
pub(crate) struct WorkerTable(Arc<RouteTable>);

impl std::ops::Deref for WorkerTable {
    type Target = RouteTable;

    fn deref(&self) -> &RouteTable {
        &self.0
    }
}

impl LocalTable {
    pub(crate) fn new(shared: SharedTable) -> Self {
        let current = ArcSwap::from_pointee(WorkerTable(shared.load_full()));
        Self { shared, current }
    }

    pub(crate) fn for_worker(&self) -> Self {
        Self::new(Arc::clone(&self.shared))
    }

    pub(crate) fn shared(&self) -> &SharedTable {
        &self.shared
    }

    /// The table published last: this worker's handle on it, refreshed when a newer one was
    /// published since the last call.
    pub(crate) fn current(&self) -> Arc<WorkerTable> {
        let latest = self.shared.load();
        let mine = self.current.load_full();
        if Arc::ptr_eq(&latest, &mine.0) {
            return mine;
        }
        let fresh = Arc::new(WorkerTable(arc_swap::Guard::into_inner(latest)));
        self.current.store(Arc::clone(&fresh));
        fresh
    }
}
