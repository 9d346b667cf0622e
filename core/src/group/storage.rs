//! Where a group lives in the store: its summary row and its document chunks.
//!
//! The summary caches what list and timeline screens need (name, capacity, members, the largest
//! order stamp) so they never load the document. The document is stored as its newest snapshot
//! followed by the changes made since; [`compact`] folds the changes into a new snapshot.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::group::{GroupId, GroupMeta, Member};
use crate::outbox::Outbox;
use crate::store::{open_record, Writer};

/// What the store keeps about a group outside its document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSummary {
    pub meta: GroupMeta,
    pub members: Vec<Member>,
    /// Largest order stamp of any message seen in the group.
    pub max_stamp: i64,
    /// This device's changes the relay has not acknowledged.
    pub outbox: Outbox,
}

fn summary_aad(row: i64) -> Vec<u8> {
    format!("groups/{row}").into_bytes()
}

fn chunk_aad(row: i64) -> Vec<u8> {
    format!("doc_chunks/{row}").into_bytes()
}

fn id_hash(cipher: &StoreCipher, id: &GroupId) -> [u8; 16] {
    cipher.index_hash("group", &id.0)
}

/// Inserts a new group and returns its row id.
pub fn insert(w: &Writer<'_>, summary: &GroupSummary) -> Result<i64, StoreError> {
    // The row id is part of the summary's associated data, so reserve it first.
    let row: i64 =
        w.tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM groups", [], |r| {
            r.get(0)
        })?;
    let body = w.seal(&summary_aad(row), summary)?;
    w.tx.execute(
        "INSERT INTO groups (id, group_hash, body, doc_version) VALUES (?1, ?2, ?3, 0)",
        params![row, id_hash(w.cipher, &summary.meta.id).as_slice(), body],
    )?;
    Ok(row)
}

pub fn update(
    w: &Writer<'_>,
    row: i64,
    summary: &GroupSummary,
    doc_version: i64,
) -> Result<(), StoreError> {
    let body = w.seal(&summary_aad(row), summary)?;
    w.tx.execute(
        "UPDATE groups SET body = ?2, doc_version = ?3 WHERE id = ?1",
        params![row, body, doc_version],
    )?;
    Ok(())
}

pub fn load(conn: &Connection, cipher: &StoreCipher, row: i64) -> Result<GroupSummary, StoreError> {
    let body: Vec<u8> =
        conn.query_row("SELECT body FROM groups WHERE id = ?1", [row], |r| r.get(0))?;
    open_record(cipher, &summary_aad(row), &body)
}

/// Finds a group's row by id, through the keyed hash.
pub fn find(
    conn: &Connection,
    cipher: &StoreCipher,
    id: &GroupId,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id FROM groups WHERE group_hash = ?1",
            [id_hash(cipher, id).as_slice()],
            |r| r.get(0),
        )
        .optional()?)
}

/// Every group on this device with its row id, in the order they were added.
pub fn list(
    conn: &Connection,
    cipher: &StoreCipher,
) -> Result<Vec<(i64, GroupSummary)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, body FROM groups ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, body) = row?;
        out.push((id, open_record(cipher, &summary_aad(id), &body)?));
    }
    Ok(out)
}

pub fn doc_version(conn: &Connection, row: i64) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT doc_version FROM groups WHERE id = ?1", [row], |r| {
            r.get(0)
        })?,
    )
}

/// Stores one change to the group's document.
pub fn append_change(w: &Writer<'_>, row: i64, change: &[u8]) -> Result<(), StoreError> {
    let body = w.cipher.seal(&chunk_aad(row), change)?;
    w.tx.execute(
        "INSERT INTO doc_chunks (group_id, kind, body) VALUES (?1, 'change', ?2)",
        params![row, body],
    )?;
    Ok(())
}

/// The document's chunks in load order: the newest snapshot (if any), then later changes.
pub fn load_chunks(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT body FROM doc_chunks
         WHERE group_id = ?1
           AND id >= COALESCE((SELECT MAX(id) FROM doc_chunks WHERE group_id = ?1 AND kind = 'snapshot'), 0)
         ORDER BY id",
    )?;
    let rows = stmt.query_map([row], |r| r.get::<_, Vec<u8>>(0))?;
    let aad = chunk_aad(row);
    let mut out = Vec::new();
    for body in rows {
        out.push(cipher.open(&aad, &body?)?);
    }
    Ok(out)
}

/// Replaces all of the group's chunks with one snapshot, atomically.
pub fn compact(w: &Writer<'_>, row: i64, snapshot: &[u8]) -> Result<(), StoreError> {
    let body = w.cipher.seal(&chunk_aad(row), snapshot)?;
    w.tx.execute(
        "INSERT INTO doc_chunks (group_id, kind, body) VALUES (?1, 'snapshot', ?2)",
        params![row, body],
    )?;
    let snapshot_id = w.tx.last_insert_rowid();
    w.tx.execute(
        "DELETE FROM doc_chunks WHERE group_id = ?1 AND id < ?2",
        params![row, snapshot_id],
    )?;
    Ok(())
}
