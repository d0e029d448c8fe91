//! A request body kept while it streams, so that a request already sent can go to the next
//! endpoint (docs/architecture.md, "Retries"). nginx buffers every request body and can always
//! send it again; Strait streams bodies, so it keeps a copy of small ones only: the frames
//! themselves (`Bytes` handles on the buffers they arrived in, nothing copied), at most
//! [`KEEP_LIMIT`] bytes, and only for requests that may be sent again.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

/// Largest request body kept for a second attempt; a larger one is streamed without a copy
/// and a request carrying it is not sent again once sent.
pub(crate) const KEEP_LIMIT: u64 = 64 * 1024;

/// The kept copy of one request body: set once, when the first attempt has read the client's
/// body to its end within the limit; empty otherwise.
#[derive(Debug, Default)]
pub(crate) struct Kept(OnceLock<Box<[Bytes]>>);

impl Kept {
    /// A complete copy made of `frames`.
    #[cfg(test)]
    pub(crate) fn of(frames: Vec<Bytes>) -> Self {
        Self(OnceLock::from(frames.into_boxed_slice()))
    }

    /// Whether the whole body is here.
    pub(crate) fn is_complete(&self) -> bool {
        self.0.get().is_some()
    }
}

/// Collects the frames of a body as they are relayed.
#[derive(Debug)]
pub(super) struct Keeper {
    into: Arc<Kept>,
    frames: Vec<Bytes>,
    len: u64,
}

impl Keeper {
    pub(super) fn new(into: Arc<Kept>) -> Self {
        Self {
            into,
            frames: Vec::new(),
            len: 0,
        }
    }

    /// Keeps `data`; `false` once the body has grown past the limit (the keeper is then
    /// dropped, and the copy with it).
    pub(super) fn data(&mut self, data: &Bytes) -> bool {
        self.len = self.len.saturating_add(data.len() as u64);
        if self.len > KEEP_LIMIT {
            return false;
        }
        if !data.is_empty() {
            self.frames.push(data.clone());
        }
        true
    }

    /// The body ended: the copy is complete.
    pub(super) fn end(self) {
        // Only this keeper ever sets it; a second `set` cannot happen.
        let _ = self.into.0.set(self.frames.into_boxed_slice());
    }
}

/// A kept body sent again: its frames in order.
#[derive(Debug)]
pub(super) struct Replayed {
    /// `None`: the request had no body.
    kept: Option<Arc<Kept>>,
    next: usize,
    remaining: u64,
}

impl Replayed {
    /// The body `kept` holds (`None`: an empty body); `None` when the copy is not complete.
    pub(super) fn of(kept: Option<Arc<Kept>>) -> Option<Self> {
        let remaining = match &kept {
            Some(kept) => kept.0.get()?.iter().map(|b| b.len() as u64).sum(),
            None => 0,
        };
        Some(Self {
            kept,
            next: 0,
            remaining,
        })
    }

    pub(super) fn next_frame(&mut self) -> Option<Bytes> {
        let frame = self.kept.as_ref()?.0.get()?.get(self.next)?.clone();
        self.next += 1;
        self.remaining -= frame.len() as u64;
        Some(frame)
    }

    pub(super) fn remaining(&self) -> u64 {
        self.remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_within_the_limit_is_kept_whole_and_replayed_in_order() {
        let kept = Arc::new(Kept::default());
        let mut keeper = Keeper::new(Arc::clone(&kept));
        assert!(keeper.data(&Bytes::from_static(b"hello ")));
        assert!(keeper.data(&Bytes::new()));
        assert!(keeper.data(&Bytes::from_static(b"world")));
        assert!(
            Replayed::of(Some(Arc::clone(&kept))).is_none(),
            "not complete yet"
        );
        keeper.end();
        for _ in 0..2 {
            let mut replay = Replayed::of(Some(Arc::clone(&kept))).expect("complete");
            assert_eq!(replay.remaining(), 11);
            assert_eq!(replay.next_frame().unwrap(), "hello ");
            assert_eq!(replay.next_frame().unwrap(), "world");
            assert_eq!(replay.remaining(), 0);
            assert!(replay.next_frame().is_none());
        }
    }

    #[test]
    fn a_body_past_the_limit_is_not_kept() {
        let kept = Arc::new(Kept::default());
        let mut keeper = Keeper::new(Arc::clone(&kept));
        let half = Bytes::from(vec![0u8; (KEEP_LIMIT / 2) as usize]);
        assert!(keeper.data(&half));
        assert!(keeper.data(&half), "exactly the limit is kept");
        assert!(!keeper.data(&Bytes::from_static(b"x")));
        drop(keeper);
        assert!(!kept.is_complete());
        assert!(Replayed::of(Some(kept)).is_none());
    }

    #[test]
    fn no_body_replays_as_an_empty_one() {
        let mut replay = Replayed::of(None).expect("nothing to wait for");
        assert_eq!(replay.remaining(), 0);
        assert!(replay.next_frame().is_none());
    }
}
