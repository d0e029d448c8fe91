//! The limit zones: the per-client state of the routes' rate and connection limits (the
//! policy that reads them is `policy::limits`; docs/architecture.md, "Rate and connection
//! limits"). Held by the `Proxy`, shared by every worker through one [`Registry`] and kept
//! outside the table, so publishing a table resets nothing; a request that passes a
//! connection limit holds a [`Slot`] until its response body (or its tunnel) is done, which
//! is why this state sits below the relay.

use std::net::IpAddr;
use std::sync::Arc;

use strait_shared::ObjectKey;
use strait_shared::table::Limits;

use crate::error::LimitKind;
use crate::metrics::ProxyMetrics;

mod registry;
mod zone;

use registry::{Cache, IngressZones, Registry};
use zone::{Gcra, Pending};

/// The limit state a worker reads: the process's [`Registry`] and the worker's own cache.
#[derive(Debug)]
pub(crate) struct LimitState {
    registry: Arc<Registry>,
    cache: Cache,
}

impl LimitState {
    pub(crate) fn new() -> Self {
        Self {
            registry: Arc::new(Registry::new()),
            cache: Cache::new(),
        }
    }

    /// The same registry with a cache of its own, for one worker.
    pub(crate) fn for_worker(&self) -> Self {
        Self {
            registry: Arc::clone(&self.registry),
            cache: Cache::new(),
        }
    }

    /// Counts a request of `client` against the `limits` of Ingress `ingress`: `Ok` with the
    /// connection slot it holds (when the Ingress limits connections), or the limit it is over
    /// (counted in `metrics`).
    pub(crate) fn admit(
        &self,
        ingress: &ObjectKey,
        limits: &Limits,
        client: IpAddr,
        metrics: &ProxyMetrics,
    ) -> Result<Option<Slot>, LimitKind> {
        if limits.exempts(client) {
            return Ok(None);
        }
        let now = self.registry.now();
        let mut zones = self.cache.get(&self.registry, ingress, now);
        // A second attempt follows only a retirement, and the registry does not retire an
        // entry it handed out during the last sweep interval: two attempts always decide.
        for _ in 0..2 {
            let Some(entry) = zones.as_ref() else {
                break;
            };
            match decide(entry, limits, client, now) {
                Verdict::Pass(slot) => return Ok(slot),
                Verdict::Over(kind) => {
                    entry.rejected(kind, metrics);
                    return Err(kind);
                }
                Verdict::Retired => zones = self.cache.refresh(&self.registry, ingress, now),
            }
        }
        // Not reached (see above); were it, the request is refused rather than let through.
        Err(if limits.connections.is_some() {
            LimitKind::Connections
        } else {
            LimitKind::Rps
        })
    }

    /// Ingresses with zones in the registry.
    #[cfg(test)]
    pub(crate) fn zones_held(&self) -> usize {
        self.registry.len()
    }
}

/// One request's place in its Ingress's connection limit, given back when dropped.
pub(crate) struct Slot {
    zones: Arc<IngressZones>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.zones.conn_zone().release(self.client);
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

enum Verdict {
    Pass(Option<Slot>),
    Over(LimitKind),
    /// The entry was retired by the sweep: look the Ingress up again.
    Retired,
}

/// The limits' decision for one request, on one registry entry.
fn decide(zones: &Arc<IngressZones>, limits: &Limits, client: IpAddr, now: u64) -> Verdict {
    // Both rates are decided, their shard locks held (rps before rpm, always), before either
    // is stored.
    let rps = match limits.rps {
        Some(rate) => match Pending::decide(zones.rps_zone(), client, now, Gcra::of(&rate)) {
            Some(pending) => Some(pending),
            None => return Verdict::Over(LimitKind::Rps),
        },
        None => None,
    };
    let rpm = match limits.rpm {
        Some(rate) => match Pending::decide(zones.rpm_zone(), client, now, Gcra::of(&rate)) {
            Some(pending) => Some(pending),
            None => return Verdict::Over(LimitKind::Rpm),
        },
        None => None,
    };
    if (rps.is_some() || rpm.is_some()) && zones.is_retired() {
        return Verdict::Retired;
    }
    for pending in [rps, rpm].into_iter().flatten() {
        pending.commit(now);
    }
    let Some(limit) = limits.connections else {
        return Verdict::Pass(None);
    };
    match zones
        .conn_zone()
        .acquire(client, limit, || !zones.is_retired())
    {
        Ok(true) => Verdict::Pass(Some(Slot {
            zones: Arc::clone(zones),
            client,
        })),
        Ok(false) => Verdict::Retired,
        Err(_) => Verdict::Over(LimitKind::Connections),
    }
}

#[cfg(test)]
mod tests;
