//! The outbox: local changes the relay has not acknowledged yet, oldest first.
//!
//! A change enters the outbox in the same transaction that stores it, so a message the screen
//! shows as pending is always on its way: a crash or a kill cannot separate the two. The sync
//! engine batches outbox changes into signed envelopes and removes them once acknowledged; the
//! messages they carry then turn from pending to sent.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::group::doc::LocalChange;
use crate::message::SortKey;
use crate::store::{open_record, Writer};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Hash of the Automerge change (its bytes stay in the document).
    #[serde(with = "serde_bytes")]
    pub change_hash: [u8; 32],
    /// The change's per-author sequence number in this group.
    pub seq: u64,
    /// Messages this change created, whose state follows the change's delivery.
    pub messages: Vec<SortKey>,
}

fn aad(group_row: i64) -> Vec<u8> {
    format!("outbox/{group_row}").into_bytes()
}

pub fn push(
    w: &Writer<'_>,
    group_row: i64,
    change: &LocalChange,
    messages: Vec<SortKey>,
) -> Result<(), StoreError> {
    let body = w.seal(
        &aad(group_row),
        &OutboxItem {
            change_hash: change.hash,
            seq: change.seq,
            messages,
        },
    )?;
    w.tx.execute(
        "INSERT INTO outbox (group_id, body) VALUES (?1, ?2)",
        params![group_row, body],
    )?;
    Ok(())
}

/// The group's unacknowledged changes, oldest first.
pub fn pending(
    conn: &Connection,
    cipher: &StoreCipher,
    group_row: i64,
) -> Result<Vec<OutboxItem>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT body FROM outbox WHERE group_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([group_row], |r| r.get::<_, Vec<u8>>(0))?;
    let aad = aad(group_row);
    rows.map(|body| open_record(cipher, &aad, &body?)).collect()
}
