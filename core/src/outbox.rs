//! The outbox: this device's changes to a group that the relay has not acknowledged yet.
//!
//! The Automerge actor of every change is the device key, and Automerge numbers one actor's
//! changes 1, 2, 3, … per document. So the outbox is a range, not a queue: the changes
//! `acked_seq + 1 ..= local_seq`. Both counters live in the group's sealed summary and move in
//! the same transaction as the change itself, so a message the screen shows as pending is
//! always on its way — a crash or a kill cannot separate the two — and an outbox entry costs no
//! bytes beyond the change, which the document stores anyway.
//!
//! A message is pending while the change that created it is in the range. The sync engine
//! sends the range's changes in signed envelopes and, when the relay acknowledges them, moves
//! `acked_seq` forward: every message up to it turns from pending to sent at once, without
//! rewriting a timeline block. (device, seq) names a change everywhere, which is what makes
//! resending after an interrupted sync idempotent.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    /// Sequence number of this device's newest change to the group (0: none yet).
    pub local_seq: u64,
    /// Every change up to and including this one has been acknowledged by the relay.
    pub acked_seq: u64,
}

impl Outbox {
    /// The sequence numbers waiting for the relay, oldest first.
    pub fn pending(&self) -> std::ops::RangeInclusive<u64> {
        self.acked_seq + 1..=self.local_seq
    }

    pub fn len(&self) -> usize {
        (self.local_seq - self.acked_seq) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the local change `seq` is still waiting (0 means "not a local change").
    pub fn is_pending(&self, seq: u64) -> bool {
        seq > self.acked_seq
    }

    /// Records a new local change. Sequence numbers must follow on without gaps; anything else
    /// means the document and the summary disagree, and nothing is written.
    pub fn record(&mut self, seq: u64) -> Result<()> {
        if seq != self.local_seq + 1 {
            return Err(Error::Document(format!(
                "local change {seq} does not follow change {} of this device",
                self.local_seq
            )));
        }
        self.local_seq = seq;
        Ok(())
    }

    /// The relay has acknowledged every change up to `seq`. Repeated or older acknowledgements
    /// change nothing (the network may deliver them twice or late); acknowledging a change
    /// this device never made is an error.
    pub fn acknowledge(&mut self, seq: u64) -> Result<()> {
        if seq > self.local_seq {
            return Err(Error::Document(format!(
                "acknowledgement of change {seq}, but this device has made only {}",
                self.local_seq
            )));
        }
        self.acked_seq = self.acked_seq.max(seq);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_is_the_unacknowledged_range() {
        let mut o = Outbox::default();
        assert!(o.is_empty());
        for seq in 1..=5 {
            o.record(seq).unwrap();
        }
        assert_eq!(o.pending(), 1..=5);
        assert!(o.record(7).is_err(), "a gap is refused");
        assert!(o.record(5).is_err(), "a repeat is refused");
        o.acknowledge(3).unwrap();
        o.acknowledge(2).unwrap(); // late duplicate: no effect
        assert_eq!((o.pending(), o.len()), (4..=5, 2));
        assert!(!o.is_pending(3) && o.is_pending(4) && !o.is_pending(0));
        assert!(o.acknowledge(6).is_err());
        o.acknowledge(5).unwrap();
        assert!(o.is_empty() && o.pending().is_empty());
    }
}
