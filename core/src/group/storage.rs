//! Where a group lives in the store: its summary row, its membership log, its chapter
//! documents and the envelopes waiting for the relay.
//!
//! The summary caches what list and timeline screens need (name, capacity, members, the largest
//! order stamp) so they never load a document, and carries the group's sync state and epoch
//! keys. Each chapter is stored as its newest snapshot followed by the changes made since;
//! [`compact`] folds the changes into a new snapshot but keeps this device's own unacknowledged
//! changes as rows, because the sync engine sends them from there.

use std::collections::BTreeMap;

use hearth_protocol::ids::{Hash, Signed};
use hearth_protocol::membership::SignedJoin;
use hearth_protocol::{DeviceId, Role};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::group::{Capacity, GroupId, Member};
use crate::membership::EpochKey;
use crate::outbox::Outbox;
use crate::store::{open_record, Writer};

/// Where this device stands in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Standing {
    /// A member with the keys of every epoch since her admission.
    Member,
    /// Registered with an invite; waiting for a moderator's device to admit her.
    Waiting { role: Role },
    /// Removed by a moderator: history she had stays readable, nothing new arrives.
    Removed,
}

/// This device's sync position in a group, and the work it still owes the relay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The newest direct note to this device the relay numbered and this device stored.
    #[serde(default)]
    pub direct_cursor: u64,
    /// The last relay cursor received.
    pub cursor: u64,
    /// Membership operations stored (every one was accepted by the relay first).
    pub log_confirmed: u64,
    /// Sequence number of the last envelope this device built, and its id.
    pub last_seq: u64,
    pub last_id: Option<Hash>,
    /// The newest envelope of this device the relay holds, and its id.
    #[serde(default)]
    pub acked_seq: u64,
    #[serde(default)]
    pub acked_id: Option<Hash>,
    /// Local changes up to this number are inside built envelopes.
    #[serde(default)]
    pub enveloped: u64,
    /// The relay asked this device for a snapshot of the current chapter.
    #[serde(default)]
    pub snapshot_wanted: bool,
    /// Registrations waiting for a moderator (kept on moderators' devices).
    #[serde(default)]
    pub joins: Vec<SignedJoin>,
    /// Members this moderator removed whose removal is not in the log yet.
    #[serde(default)]
    pub removals: Vec<DeviceId>,
    /// Every author's newest envelope number at the relay, as last asked for.
    #[serde(default)]
    pub seqs: Option<BTreeMap<DeviceId, u64>>,
    /// Each author's newest signed attestation in the current chapter (for snapshots).
    #[serde(default)]
    pub attestations: BTreeMap<DeviceId, Signed>,
    /// The relay's snapshot of the current chapter did not verify: catch up from envelopes.
    #[serde(default)]
    pub no_snapshot: bool,
    /// A refetch from cursor 0 was tried for the changes still waiting on missing ones.
    #[serde(default)]
    pub refetched: bool,
    /// Things the person should know about this group's sync (a full group, a refusal).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// An invite this device made, kept so it can open the joiner's introduction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeInvite {
    #[serde(with = "serde_bytes")]
    pub code: [u8; 10],
    pub role: Role,
    pub expires_at: i64,
    /// Its `invite` operation is in the log (accepted by the relay).
    #[serde(default)]
    pub published: bool,
}

/// What the store keeps about a group outside its documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: GroupId,
    pub name: String,
    pub capacity: Capacity,
    pub members: Vec<Member>,
    pub standing: Standing,
    /// Largest order stamp of any message seen in the group.
    pub max_stamp: i64,
    /// This device's changes the relay has not acknowledged (numbered per group).
    pub outbox: Outbox,
    /// The chapter this device writes in, and the first one it holds.
    pub chapter: u32,
    pub first_chapter: u32,
    /// Keys of every epoch this device holds.
    pub keys: BTreeMap<u32, EpochKey>,
    pub sync: SyncState,
    pub invites: Vec<MadeInvite>,
    /// When this device last posted here (its clock), for slow mode.
    #[serde(default)]
    pub last_post_at: i64,
}

fn summary_aad(row: i64) -> Vec<u8> {
    format!("groups/{row}").into_bytes()
}

fn chunk_aad(row: i64, chapter: u32) -> Vec<u8> {
    format!("chunks/{row}/{chapter}").into_bytes()
}

fn op_aad(row: i64, idx: u64) -> Vec<u8> {
    format!("log_ops/{row}/{idx}").into_bytes()
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
        params![row, id_hash(w.cipher, &summary.id).as_slice(), body],
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

/// Stores one change to a chapter. `local_seq` numbers this device's own changes.
pub fn append_change(
    w: &Writer<'_>,
    row: i64,
    chapter: u32,
    local_seq: Option<u64>,
    change: &[u8],
) -> Result<(), StoreError> {
    let body = w.cipher.seal(&chunk_aad(row, chapter), change)?;
    w.tx.execute(
        "INSERT INTO chunks (group_id, chapter, kind, local_seq, body) VALUES (?1, ?2, 'change', ?3, ?4)",
        params![row, chapter, local_seq.map(|s| s as i64), body],
    )?;
    Ok(())
}

/// A chapter's chunks in load order: the newest snapshot (if any), then later changes.
pub fn load_chunks(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
    chapter: u32,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT body FROM chunks
         WHERE group_id = ?1 AND chapter = ?2
           AND id >= COALESCE((SELECT MAX(id) FROM chunks
                               WHERE group_id = ?1 AND chapter = ?2 AND kind = 'snapshot'), 0)
         ORDER BY id",
    )?;
    let rows = stmt.query_map(params![row, chapter], |r| r.get::<_, Vec<u8>>(0))?;
    let aad = chunk_aad(row, chapter);
    let mut out = Vec::new();
    for body in rows {
        out.push(cipher.open(&aad, &body?)?);
    }
    Ok(out)
}

/// The chapters stored for a group, ascending.
pub fn chapters(conn: &Connection, row: i64) -> Result<Vec<u32>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT chapter FROM chunks WHERE group_id = ?1 ORDER BY chapter",
    )?;
    let rows = stmt.query_map([row], |r| r.get::<_, u32>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// This device's changes numbered above `after`, oldest first: (local seq, chapter, bytes).
pub fn local_changes_after(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
    after: u64,
) -> Result<Vec<(u64, u32, Vec<u8>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT local_seq, chapter, body FROM chunks
         WHERE group_id = ?1 AND local_seq > ?2 ORDER BY local_seq",
    )?;
    let rows = stmt.query_map(params![row, after as i64], |r| {
        Ok((
            r.get::<_, i64>(0)? as u64,
            r.get::<_, u32>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (seq, chapter, body) = r?;
        out.push((seq, chapter, cipher.open(&chunk_aad(row, chapter), &body)?));
    }
    Ok(out)
}

/// Replaces a chapter's chunks with one snapshot, atomically — except this device's changes
/// the relay has not acknowledged (`local_seq > acked`), which the sync engine still sends.
pub fn compact(
    w: &Writer<'_>,
    row: i64,
    chapter: u32,
    snapshot: &[u8],
    acked: u64,
) -> Result<(), StoreError> {
    let body = w.cipher.seal(&chunk_aad(row, chapter), snapshot)?;
    w.tx.execute(
        "INSERT INTO chunks (group_id, chapter, kind, local_seq, body) VALUES (?1, ?2, 'snapshot', NULL, ?3)",
        params![row, chapter, body],
    )?;
    let snapshot_id = w.tx.last_insert_rowid();
    w.tx.execute(
        "DELETE FROM chunks WHERE group_id = ?1 AND chapter = ?2 AND id < ?3
           AND (local_seq IS NULL OR local_seq <= ?4)",
        params![row, chapter, snapshot_id, acked as i64],
    )?;
    Ok(())
}

/// Appends a verified membership operation at position `idx`.
pub fn append_op(w: &Writer<'_>, row: i64, idx: u64, op: &Signed) -> Result<(), StoreError> {
    let body = w.seal(&op_aad(row, idx), op)?;
    w.tx.execute(
        "INSERT INTO log_ops (group_id, idx, body) VALUES (?1, ?2, ?3)",
        params![row, idx as i64, body],
    )?;
    Ok(())
}

/// Every membership operation stored for a group, in log order.
pub fn load_log(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
) -> Result<Vec<Signed>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT idx, body FROM log_ops WHERE group_id = ?1 ORDER BY idx")?;
    let rows = stmt.query_map([row], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (idx, body) = r?;
        out.push(open_record(cipher, &op_aad(row, idx), &body)?);
    }
    Ok(out)
}

fn outgoing_aad(row: i64, seq: u64) -> Vec<u8> {
    format!("outgoing/{row}/{seq}").into_bytes()
}

/// An envelope this device built and signed, kept until the relay acknowledges it, with the
/// range of this device's local changes it carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outgoing {
    pub envelope: hearth_protocol::envelope::Envelope,
    pub seq: u64,
    pub id: Hash,
    /// Local change numbers `first..=last` travel in it.
    pub first: u64,
    pub last: u64,
}

pub fn put_outgoing(w: &Writer<'_>, row: i64, out: &Outgoing) -> Result<(), StoreError> {
    let body = w.seal(&outgoing_aad(row, out.seq), out)?;
    w.tx.execute(
        "INSERT INTO outgoing (group_id, seq, body) VALUES (?1, ?2, ?3)",
        params![row, out.seq as i64, body],
    )?;
    Ok(())
}

/// This device's envelopes waiting for the relay, in sequence order.
pub fn list_outgoing(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
) -> Result<Vec<Outgoing>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, body FROM outgoing WHERE group_id = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([row], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (seq, body) = r?;
        out.push(open_record(cipher, &outgoing_aad(row, seq), &body)?);
    }
    Ok(out)
}

/// Drops outgoing envelopes numbered `from` and above (acknowledged ones are dropped with
/// [`drop_outgoing_upto`]; these are ones that must be rebuilt).
pub fn drop_outgoing_from(w: &Writer<'_>, row: i64, from: u64) -> Result<(), StoreError> {
    w.tx.execute(
        "DELETE FROM outgoing WHERE group_id = ?1 AND seq >= ?2",
        params![row, from as i64],
    )?;
    Ok(())
}

pub fn drop_outgoing_upto(w: &Writer<'_>, row: i64, upto: u64) -> Result<(), StoreError> {
    w.tx.execute(
        "DELETE FROM outgoing WHERE group_id = ?1 AND seq <= ?2",
        params![row, upto as i64],
    )?;
    Ok(())
}

fn forwarding_aad(row: i64, author: &[u8; 16], seq: u64) -> Vec<u8> {
    let mut aad = format!("forwarding/{row}/{seq}/").into_bytes();
    aad.extend_from_slice(author);
    aad
}

/// Keeps an envelope another member handed over directly, to pass on to the relay.
pub fn put_forwarding(
    w: &Writer<'_>,
    row: i64,
    author: &hearth_protocol::DeviceId,
    seq: u64,
    envelope: &hearth_protocol::envelope::Envelope,
) -> Result<(), StoreError> {
    let author_hash = w.cipher.index_hash("device", &author.0);
    let body = w.seal(&forwarding_aad(row, &author_hash, seq), envelope)?;
    w.tx.execute(
        "INSERT OR IGNORE INTO forwarding (group_id, author, seq, body) VALUES (?1, ?2, ?3, ?4)",
        params![row, author_hash.as_slice(), seq as i64, body],
    )?;
    Ok(())
}

/// Envelopes waiting to be passed on, oldest first per author.
pub fn list_forwarding(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
) -> Result<Vec<hearth_protocol::envelope::Envelope>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT author, seq, body FROM forwarding WHERE group_id = ?1 ORDER BY author, seq",
    )?;
    let rows = stmt.query_map([row], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)? as u64,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (author, seq, body) = r?;
        let author: [u8; 16] = author
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Decode {
                what: "forwarding".into(),
                detail: "author hash is not 16 bytes".into(),
            })?;
        out.push(open_record(
            cipher,
            &forwarding_aad(row, &author, seq),
            &body,
        )?);
    }
    Ok(out)
}

pub fn clear_forwarding(w: &Writer<'_>, row: i64) -> Result<(), StoreError> {
    w.tx.execute("DELETE FROM forwarding WHERE group_id = ?1", [row])?;
    Ok(())
}
