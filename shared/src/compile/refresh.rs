//! The endpoint fast path: when only EndpointSlices or Nodes changed, recompute the endpoint
//! sets of the backends they touch and keep every router, certificate and other backend of
//! the table as it is.

use crate::config::CompileConfig;
use crate::index::{EndpointChanges, Index};
use crate::table::RouteTable;

/// PLACEHOLDER (a full compile); the fast implementation replaces it.
pub(crate) fn refresh_endpoints(
    index: &Index,
    _table: &RouteTable,
    _changes: &EndpointChanges,
    config: &CompileConfig,
) -> RouteTable {
    super::compile(index, config).table
}
