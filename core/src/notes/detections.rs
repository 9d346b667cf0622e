//! Received messages the on-device risk detector flags, in the moderators' review queue.
//!
//! Only a moderator's device scans what it receives (members' devices scan only for their own
//! content filters). A flagged message becomes a queue item on that device; it is never sent
//! anywhere, the author is never told, and nothing is hidden — a moderator reads it and
//! decides. Every moderator's device flags the same messages (the detector is deterministic),
//! and the item's id is derived from the group and message, so when one moderator
//! acknowledges or resolves it, the progress note she sends the others lands on their copy.

use ring::digest;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use hearth_safety::detect::Level;

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::group::GroupId;
use crate::identity::DeviceId;
use crate::message::{MessageId, MessageRecord};
use crate::store::{open_record, Writer};

use super::NoteId;

/// A received message the detector flagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    pub message: MessageId,
    pub author: DeviceId,
    pub level: Level,
    pub categories: Vec<String>,
    /// The message as it read when flagged (a later edit does not erase what was seen).
    pub text: String,
    pub sent_at: i64,
    /// When this device flagged it.
    pub found_at: i64,
}

impl Detection {
    /// The queue item's id: the same on every moderator's device.
    pub fn id(&self, group: &GroupId) -> NoteId {
        detection_id(group, &self.message)
    }

    /// Queue severity: urgent like a risk report, concern like a misinformation report.
    pub fn severity(&self) -> u8 {
        match self.level {
            Level::Urgent => 4,
            _ => 2,
        }
    }
}

pub(crate) fn detection_id(group: &GroupId, message: &MessageId) -> NoteId {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"hearth/v1/detected");
    ctx.update(&group.0);
    ctx.update(&message.0);
    let mut id = [0u8; 16];
    id.copy_from_slice(&ctx.finish().as_ref()[..16]);
    NoteId(id)
}

fn aad(row: i64, key: &[u8; 16]) -> Vec<u8> {
    let mut aad = format!("detections/{row}/").into_bytes();
    aad.extend_from_slice(key);
    aad
}

/// Scans messages that just arrived from others and keeps those the detector flags. A
/// message flagged before keeps its row unless an edit made it more serious.
pub(crate) fn scan_received<'a>(
    w: &Writer<'_>,
    row: i64,
    me: &DeviceId,
    records: impl Iterator<Item = &'a MessageRecord>,
    now: i64,
) -> Result<usize, StoreError> {
    let mut flagged = 0;
    for r in records {
        if r.author == *me || r.deleted || r.text.trim().is_empty() {
            continue;
        }
        let assessment = crate::filters::assess(&r.text, r.warning.as_deref());
        if assessment.level == Level::None {
            continue;
        }
        let key = w.cipher.index_hash("message", &r.id.0);
        let existing: Option<Detection> = {
            let body: Option<Vec<u8>> =
                w.tx.query_row(
                    "SELECT body FROM detections WHERE group_id = ?1 AND message = ?2",
                    params![row, key.as_slice()],
                    |x| x.get(0),
                )
                .optional()?;
            body.map(|b| open_record(w.cipher, &aad(row, &key), &b))
                .transpose()?
        };
        if existing
            .as_ref()
            .is_some_and(|d| d.level >= assessment.level)
        {
            continue;
        }
        let detection = Detection {
            message: r.id,
            author: r.author,
            level: assessment.level,
            categories: crate::filters::category_names(&assessment),
            text: r.text.clone(),
            sent_at: r.sent_at,
            found_at: existing.map_or(now, |d| d.found_at),
        };
        let body = w.seal(&aad(row, &key), &detection)?;
        w.tx.execute(
            "INSERT OR REPLACE INTO detections (group_id, message, body) VALUES (?1, ?2, ?3)",
            params![row, key.as_slice(), body],
        )?;
        flagged += 1;
    }
    Ok(flagged)
}

/// Every flagged message held for the group.
pub fn list(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
) -> Result<Vec<Detection>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT message, body FROM detections WHERE group_id = ?1")?;
    let rows = stmt.query_map([row], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (key, body) = r?;
        let key: [u8; 16] = key.try_into().map_err(|_| StoreError::Decode {
            what: format!("detections/{row}"),
            detail: "a key is not 16 bytes".into(),
        })?;
        out.push(open_record(cipher, &aad(row, &key), &body)?);
    }
    Ok(out)
}
