//! One drain signal per listener (STYLE item 18): every connection and tunnel holds a
//! receiver; the listener moves the phase forward and waits for the receivers to go away.

use std::time::Duration;

use tokio::sync::watch;

/// Where a listener is in its shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Serving,
    /// Finish what is in flight, take nothing new: connections shut down gracefully.
    Draining,
    /// The grace period is over: drop whatever is still open.
    Closing,
}

pub(crate) type Signal = watch::Receiver<Phase>;

pub(crate) fn channel() -> (watch::Sender<Phase>, Signal) {
    watch::channel(Phase::Serving)
}

/// Resolves once the listener reaches `phase`, or is gone (then nothing will ever finish
/// gracefully, so every phase counts as reached).
pub(crate) async fn reached(signal: &mut Signal, phase: Phase) {
    let _ = signal.wait_for(|now| *now >= phase).await;
}

/// Asks every holder of a receiver to drain, waits up to `grace` for all of them to finish,
/// then tells the rest to close and gives them a moment to do so.
pub(crate) async fn finish(tx: watch::Sender<Phase>, grace: Duration) {
    tx.send_replace(Phase::Draining);
    if tokio::time::timeout(grace, tx.closed()).await.is_ok() {
        tracing::debug!("drained");
        return;
    }
    tracing::warn!(
        open = tx.receiver_count(),
        "drain grace period over; closing the remaining connections"
    );
    tx.send_replace(Phase::Closing);
    let _ = tokio::time::timeout(Duration::from_secs(1), tx.closed()).await;
}
