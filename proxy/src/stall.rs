//! The timer between two successive operations that move data: reads of the upstream's
//! response body (nginx's `proxy_read_timeout`) and of the client's request body
//! (`client_body_timeout`), and writes to an upstream connection (`proxy_send_timeout`, see
//! `crate::pool`). One timer per body or connection, allocated at the first operation that has
//! to wait and reset, not reallocated, at each later one; disarmed while data flows.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Why the proxy cut a response body.
#[derive(Debug, thiserror::Error)]
pub enum ResponseBodyError {
    /// The upstream connection failed or broke the body's framing.
    #[error(transparent)]
    Upstream(#[from] crate::error::UpstreamError),
    /// The upstream sent nothing for the read timeout.
    #[error("no response body data from the upstream for {0:?}")]
    ReadTimeout(Duration),
}

#[derive(Debug)]
pub(crate) struct StallTimer {
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The timer runs for the current wait.
    armed: bool,
}

impl StallTimer {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            sleep: None,
            armed: false,
        }
    }

    /// An operation is pending: arms the timer if it is not running yet; `true` when it has
    /// expired.
    pub(crate) fn waiting(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = || Instant::now() + self.timeout;
        if !self.armed {
            self.armed = true;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline()),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline()))),
            }
        }
        self.sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }

    /// An operation completed: the next wait starts a fresh timeout.
    pub(crate) fn progressed(&mut self) {
        self.armed = false;
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The timeout of the waits armed from now on.
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }
}
