//! Whether a failed attempt goes to the next endpoint, and where: nginx's rules
//! (`ngx_http_upstream_next`, `ngx_http_upstream_test_next`; docs/architecture.md, "Retries").
//!
//! - The failure's condition (`error`, `timeout`, `invalid_header`, `http_xxx`) must be in
//!   the route's `proxy-next-upstream`; `off` passes nothing on.
//! - A non-idempotent request (POST, LOCK, PATCH) that may have been sent goes on only with
//!   `non_idempotent` (or `--retry-non-idempotent`); one that never left is always free to.
//! - A request that may have been sent goes on only if it can be sent again: its head was
//!   copied, and its body, if any, was kept whole (at most 64 KiB) — nginx's "not when the
//!   body was not buffered".
//! - `tries` counts every attempt, the first included (0: no limit); after `timeout` since the
//!   first attempt began, nothing more goes on.
//! - The next try goes to an endpoint not tried yet; when every one was tried, the last
//!   failure is the answer (a backend in service mode tries its one ClusterIP again).
//! - An `error` on a pooled connection after the request went out (the upstream closed it as
//!   the request arrived) is retried once on a fresh connection to the same endpoint without
//!   using a try, as nginx gives back the try of a failed cached connection.
//!
//! When nothing goes on, the client gets what nginx gives: the upstream's own response for an
//! `http_xxx` failure, else 502 (`error`, `invalid_header`) or 504 (`timeout`).

use std::io;
use std::sync::Arc;

use http::{Method, Request, StatusCode, Uri, Version};
use hyper::body::Body;
use strait_shared::Endpoints;
use strait_shared::table::{NextUpstream, Retries};
use tokio::time::Instant;

use crate::balancer::{Balancer, Tried};
use crate::config::RetryDefaults;
use crate::error::{ProxyError, UpstreamErrorKind};
use crate::pool::Sent;
use crate::upload::{Kept, RequestBody};
use packed::PackedHeaders;

mod packed;

/// The retry settings in force for one request.
#[derive(Clone, Copy, Debug)]
pub(super) struct Policy {
    on: NextUpstream,
    /// Attempts in all; 0: no limit.
    tries: u32,
    /// No attempt is passed on from this instant; `None`: no limit.
    deadline: Option<Instant>,
    /// The request's method is POST, LOCK or PATCH.
    non_idempotent: bool,
}

impl Policy {
    /// The route's settings over the global ones, for a request with `method` whose upstream
    /// exchange began at `started`.
    pub(super) fn of(
        defaults: &RetryDefaults,
        route: Option<&Retries>,
        method: &Method,
        started: Instant,
    ) -> Self {
        let mut on = route
            .and_then(|r| r.next_upstream)
            .unwrap_or(defaults.next_upstream);
        // ingress-nginx appends `non_idempotent` to every location's list (nginx then ignores
        // it next to `off`).
        if defaults.non_idempotent && !on.is_off() {
            on = on.with(NextUpstream::NON_IDEMPOTENT);
        }
        let tries = route.and_then(|r| r.tries).unwrap_or(defaults.tries);
        let timeout = route.and_then(|r| r.timeout).unwrap_or(defaults.timeout);
        Self {
            on,
            tries,
            deadline: (!timeout.is_zero()).then(|| started + timeout),
            non_idempotent: matches!(*method, Method::POST | Method::PATCH)
                || method.as_str() == "LOCK",
        }
    }

    /// Whether a request that has been sent may be sent again at all: some condition that
    /// can happen after sending is on, and the method allows it.
    fn may_resend(&self) -> bool {
        !self.on.is_off()
            && self.on != NextUpstream::NON_IDEMPOTENT
            && (!self.non_idempotent || self.on.contains(NextUpstream::NON_IDEMPOTENT))
    }
}

/// How one attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Failure {
    condition: NextUpstream,
    /// The request may have reached the upstream.
    sent: bool,
    /// It went on a pooled connection.
    reused: bool,
    /// The status nginx records for the attempt (`$upstream_status`).
    status: u16,
}

impl Failure {
    /// A response whose status has an `http_xxx` condition.
    pub(super) fn of_status(status: StatusCode) -> Option<Self> {
        NextUpstream::of_status(status.as_u16()).map(|condition| Self {
            condition,
            sent: true,
            reused: false,
            status: status.as_u16(),
        })
    }

    /// A connect (or a fresh connection) that failed before any byte of the request left.
    pub(super) fn not_sent(error: &io::Error) -> Self {
        let timeout = error.kind() == io::ErrorKind::TimedOut;
        Self {
            condition: if timeout {
                NextUpstream::TIMEOUT
            } else {
                NextUpstream::ERROR
            },
            sent: false,
            reused: false,
            status: if timeout { 504 } else { 502 },
        }
    }

    /// An exchange that failed once the request may have been sent (`reused`: on a pooled
    /// connection); `None` when the failure is the client's (its body), never passed on.
    pub(super) fn of_error(error: &ProxyError, reused: bool) -> Option<Self> {
        let condition = match error {
            ProxyError::UpstreamTimeout { .. } | ProxyError::UpstreamSendTimeout { .. } => {
                NextUpstream::TIMEOUT
            }
            ProxyError::Upstream { source, .. } if source.is_invalid_header() => {
                NextUpstream::INVALID_HEADER
            }
            ProxyError::Upstream { .. }
            | ProxyError::UpstreamConnect { .. }
            | ProxyError::UpstreamProtocol { .. } => NextUpstream::ERROR,
            _ => return None,
        };
        Some(Self {
            condition,
            sent: true,
            reused,
            status: error.status().as_u16(),
        })
    }

    pub(super) fn status(&self) -> u16 {
        self.status
    }
}

/// What a failed attempt left: the answer the client gets if nothing goes on.
pub(super) enum Back {
    /// A response with an `http_xxx` status (boxed: the rare path pays).
    Response(Box<Sent>),
    /// The request may have been sent and is gone.
    Failed(ProxyError),
    /// The request never left: the caller holds it whole.
    Unsent(ProxyError),
}

impl Back {
    fn answer(self) -> Result<Sent, ProxyError> {
        match self {
            Self::Response(sent) => Ok(*sent),
            Self::Failed(error) | Self::Unsent(error) => Err(error),
        }
    }
}

/// What follows a failed attempt.
// The answer is returned as it is: boxing it would allocate on every failed request's way out.
#[allow(clippy::large_enum_variant)]
pub(super) enum Step {
    /// Another attempt.
    Next(Next),
    /// Nothing goes on: the client's answer.
    Answer(Result<Sent, ProxyError>),
}

/// The next attempt.
pub(super) struct Next {
    pub(super) index: usize,
    /// On a fresh connection (the pooled one just failed).
    pub(super) fresh: bool,
    /// The failure to count in `upstream_errors_total` (none for a status).
    pub(super) error: Option<UpstreamErrorKind>,
}

/// What sends the request again once it was sent: nothing at all when its head stays in the
/// caller's hands (an HTTP/1.1 attempt only reads it, see `crate::pool::Pool::send`) and it
/// has no body; otherwise a copy of the head, and of the body when there is one. The copied
/// headers are packed into one buffer ([`packed`]): the copy is made for every request that
/// could be resent and used almost never.
#[derive(Debug)]
pub(super) enum Replay {
    /// The head is still in the request the caller holds; no body.
    InPlace,
    Copy {
        method: Method,
        uri: Uri,
        headers: PackedHeaders,
        /// `None`: no body.
        body: Option<Arc<Kept>>,
    },
}

impl Replay {
    /// What resends the request, when `policy` may send `request` again after sending it
    /// (`others`: the backend has another endpoint to try, or may try its one again) and its
    /// body can be kept; otherwise nothing is copied. `in_place`: the attempts leave the head
    /// in `request` (HTTP/1.1).
    pub(super) fn prepare(
        request: &mut Request<RequestBody>,
        policy: &Policy,
        others: bool,
        in_place: bool,
    ) -> Option<Self> {
        let tries_left = policy.tries != 1 && others;
        if !policy.may_resend() || !(tries_left || policy.on.contains(NextUpstream::ERROR)) {
            return None;
        }
        let body = if request.body().is_end_stream() {
            if in_place {
                return Some(Self::InPlace);
            }
            None
        } else {
            Some(request.body_mut().keep()?)
        };
        Some(Self::Copy {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: PackedHeaders::pack(request.headers()),
            body,
        })
    }

    /// Whether the whole request is here to send again.
    fn ready(&self) -> bool {
        match self {
            Self::InPlace => true,
            Self::Copy { body, .. } => body.as_ref().is_none_or(|kept| kept.is_complete()),
        }
    }

    /// Makes `held` the request to send again (in place: it already is, its body empty as it
    /// was); `false` when the copy is not complete.
    fn restore(&self, held: &mut Request<RequestBody>) -> bool {
        let Self::Copy {
            method,
            uri,
            headers,
            body,
        } = self
        else {
            return true;
        };
        let Some(body) = RequestBody::replay(body.clone()) else {
            return false;
        };
        let mut request = Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri.clone();
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = headers.unpack();
        *held = request;
        true
    }
}

/// The retry state of one request.
#[derive(Debug)]
pub(super) struct Retry {
    policy: Policy,
    replay: Option<Replay>,
    /// Endpoints may be tried again (service mode).
    reuse: bool,
    tried: Tried,
    /// Attempts that count against `tries`, the current one included.
    attempts: u32,
    /// The one free retry of a pooled connection was used.
    fresh_used: bool,
}

impl Retry {
    pub(super) fn new(policy: Policy, replay: Option<Replay>, reuse: bool) -> Self {
        Self {
            policy,
            replay,
            reuse,
            tried: Tried::new(),
            attempts: 1,
            fresh_used: false,
        }
    }

    /// The attempt on endpoint `index` failed with `failure`, leaving `back`: the next
    /// attempt (with `held`, the caller's request, made ready for it), or the answer when
    /// nothing goes on.
    pub(super) fn next(
        &mut self,
        balancer: &dyn Balancer,
        endpoints: &Endpoints,
        failure: Failure,
        index: usize,
        back: Back,
        held: &mut Request<RequestBody>,
    ) -> Step {
        if !self.reuse {
            self.tried.insert(index);
        }
        let Some((index, fresh)) = self.target(balancer, endpoints, failure, index) else {
            return Step::Answer(back.answer());
        };
        let error = match back {
            Back::Unsent(error) => Some(error),
            back if self.replay.as_ref().is_some_and(|r| r.restore(held)) => match back {
                Back::Failed(error) => Some(error),
                // The failed response is never relayed: its connection closes with it.
                _ => None,
            },
            back => return Step::Answer(back.answer()),
        };
        if let Some(error) = &error {
            tracing::debug!(%error, fresh, "upstream attempt failed; passing the request on");
        }
        if !fresh {
            self.attempts = self.attempts.saturating_add(1);
        }
        Step::Next(Next {
            index,
            fresh,
            error: error.as_ref().and_then(ProxyError::upstream_error),
        })
    }

    /// Where the attempt after the one on endpoint `index` goes, and whether on a fresh
    /// connection, if nginx's rules let `failure` go on.
    fn target(
        &mut self,
        balancer: &dyn Balancer,
        endpoints: &Endpoints,
        failure: Failure,
        index: usize,
    ) -> Option<(usize, bool)> {
        let policy = &self.policy;
        if !policy.on.contains(failure.condition) {
            return None;
        }
        if failure.sent {
            let replayable = self.replay.as_ref().is_some_and(Replay::ready);
            if !policy.may_resend() || !replayable {
                return None;
            }
        }
        if policy.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        if failure.reused && failure.condition == NextUpstream::ERROR && !self.fresh_used {
            self.fresh_used = true;
            return Some((index, true));
        }
        if policy.tries != 0 && self.attempts >= policy.tries {
            return None;
        }
        // In service mode nothing is marked: the one ClusterIP may be picked again.
        balancer
            .pick(endpoints, &mut self.tried)
            .map(|index| (index, false))
    }

    /// The endpoint of the first attempt.
    pub(super) fn first(
        &mut self,
        balancer: &dyn Balancer,
        endpoints: &Endpoints,
    ) -> Option<usize> {
        balancer.pick(endpoints, &mut self.tried)
    }
}

#[cfg(test)]
mod tests;
