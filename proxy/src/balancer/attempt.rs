//! One upstream attempt's bookkeeping on its endpoint's state: the in-flight count and the
//! latency of `ewma` routes, and the outcome that passive ejection counts on every route.

use strait_shared::Endpoints;
use tokio::time::Instant;

use super::eject::{self, Outcome};
use super::ewma::{Ewma, InFlight};
use crate::config::OutlierConfig;
use crate::error::ProxyError;
use crate::pool::{SendError, Sent};

/// An attempt in progress on endpoint `index` of `endpoints`. Dropping it unreported (the
/// request was cancelled) only ends its in-flight count.
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    endpoints: &'a Endpoints,
    index: usize,
    /// On `ewma` routes: the balancer and the in-flight count.
    ewma: Option<(Ewma, InFlight<'a>)>,
}

impl<'a> Attempt<'a> {
    /// Starts counting an attempt; with `ewma` (the route balances by latency) the endpoint
    /// counts it in flight until it ends.
    pub(crate) fn begin(ewma: Option<&Ewma>, endpoints: &'a Endpoints, index: usize) -> Self {
        let ewma = ewma.and_then(|ewma| {
            let state = endpoints.states().get(index)?;
            Some((*ewma, InFlight::new(state)))
        });
        Self {
            endpoints,
            index,
            ewma,
        }
    }

    /// Ends the attempt begun at `started` with `result`: its latency (ewma routes) and its
    /// outcome go to the endpoint's state. `true` when the endpoint was ejected.
    pub(crate) fn end(
        self,
        result: &Result<Sent, SendError>,
        started: Instant,
        outlier: &OutlierConfig,
    ) -> bool {
        let outcome = outcome(result);
        if let Some((ewma, _)) = &self.ewma
            && outcome != Outcome::Neither
            && let Some(state) = self.endpoints.states().get(self.index)
        {
            let elapsed = started.elapsed().as_nanos() as f64;
            ewma.observe(state, elapsed, outcome == Outcome::GatewayFailure);
        }
        eject::report(outlier, self.endpoints, self.index, outcome)
    }
}

/// How an attempt's result counts: response headers count by their status; a connect failure
/// and a fresh connection that broke or timed out before the headers (502, 504) are gateway
/// failures; a failure on a reused connection (the upstream may have closed it as the request
/// arrived) or the client's own counts as neither.
fn outcome(result: &Result<Sent, SendError>) -> Outcome {
    match result {
        Ok(sent) => Outcome::of_status(sent.response.status()),
        Err(SendError::NotSent { .. }) => Outcome::GatewayFailure,
        Err(SendError::Failed { reused: true, .. }) => Outcome::Neither,
        Err(SendError::Failed { error, .. }) => match error {
            ProxyError::Upstream { .. }
            | ProxyError::UpstreamConnect { .. }
            | ProxyError::UpstreamProtocol { .. }
            | ProxyError::UpstreamTimeout { .. } => Outcome::GatewayFailure,
            _ => Outcome::Neither,
        },
    }
}
