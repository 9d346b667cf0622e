//! Verified membership state per group, kept in memory.
//!
//! Every sync asks "is this device a member, since which epoch, is she a moderator"; replaying
//! and re-verifying a log (one Ed25519 check per operation) for each would cost more than the
//! rest of an idle sync together. So the relay keeps each group's [`Membership`], built lazily
//! from the stored log the first time the group is touched and then advanced operation by
//! operation as operations are stored.
//!
//! The cache never runs ahead of the database: the commit thread publishes a group's new state
//! only after the transaction holding its operations has committed, and every lookup checks the
//! cached log length against the log length in the caller's own transaction, rebuilding from the
//! stored log when they differ. That check also keeps the cache correct if several relay
//! processes ever share one database (the PostgreSQL deployment).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use hearth_protocol::membership::Membership;
use hearth_protocol::GroupId;

use crate::store::{ReadTx, StoreError};

#[derive(Debug, Default)]
pub struct GroupCache {
    committed: Mutex<HashMap<GroupId, Arc<Membership>>>,
}

impl GroupCache {
    fn map(&self) -> MutexGuard<'_, HashMap<GroupId, Arc<Membership>>> {
        // Entries are replaced whole; a panic elsewhere cannot leave one half-written.
        self.committed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The group's state as `tx` sees it, or `None` if `tx` holds no such group.
    pub fn load(
        &self,
        tx: &mut dyn ReadTx,
        group: &GroupId,
    ) -> Result<Option<Arc<Membership>>, StoreError> {
        let len = tx.log_len(group)?;
        if len == 0 {
            return Ok(None);
        }
        if let Some(m) = self.map().get(group) {
            if m.len == len {
                return Ok(Some(m.clone()));
            }
        }
        let ops = tx.log_ops(group, 0)?;
        let m = Membership::from_log(&ops).map_err(|e| StoreError::Corrupt {
            what: "membership log",
            detail: format!("group {group}: {e}"),
        })?;
        let m = Arc::new(m);
        self.publish(group, m.clone());
        Ok(Some(m))
    }

    /// Records a committed state, unless a newer one is already there (a reader that rebuilt
    /// from an older snapshot must not undo a commit published meanwhile).
    pub fn publish(&self, group: &GroupId, m: Arc<Membership>) {
        let mut map = self.map();
        match map.get(group) {
            Some(existing) if existing.len > m.len => {}
            _ => {
                map.insert(*group, m);
            }
        }
    }
}
