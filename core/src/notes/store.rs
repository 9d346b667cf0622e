//! The `notes`, `direct_out`, `self_checks` and `settings` tables.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use hearth_protocol::envelope::Direct;

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::identity::DeviceId;
use crate::store::{open_record, Writer};

use super::{Note, NoteId};

fn note_aad(row: i64, sender: &[u8; 16], id: &NoteId) -> Vec<u8> {
    let mut aad = format!("notes/{row}/").into_bytes();
    aad.extend_from_slice(sender);
    aad.extend_from_slice(&id.0);
    aad
}

fn out_aad(row: i64, id: &NoteId, recipient: &[u8; 16]) -> Vec<u8> {
    let mut aad = format!("direct_out/{row}/").into_bytes();
    aad.extend_from_slice(&id.0);
    aad.extend_from_slice(recipient);
    aad
}

/// A 16-byte key column, or a decode error naming the table.
fn key16(table: &str, row: i64, bytes: Vec<u8>) -> Result<[u8; 16], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Decode {
        what: format!("{table}/{row}"),
        detail: "a key is not 16 bytes".into(),
    })
}

fn device_hash(cipher: &StoreCipher, d: &DeviceId) -> [u8; 16] {
    cipher.index_hash("device", &d.0)
}

/// Stores a note; one already held (same sender and id) is replaced only if `replace`.
pub fn put_note(w: &Writer<'_>, row: i64, note: &Note, replace: bool) -> Result<bool, StoreError> {
    let sender = device_hash(w.cipher, &note.from);
    let body = w.seal(&note_aad(row, &sender, &note.id), note)?;
    let sql = if replace {
        "INSERT OR REPLACE INTO notes (group_id, sender, note_id, body) VALUES (?1, ?2, ?3, ?4)"
    } else {
        "INSERT OR IGNORE INTO notes (group_id, sender, note_id, body) VALUES (?1, ?2, ?3, ?4)"
    };
    let n = w.tx.execute(
        sql,
        params![row, sender.as_slice(), note.id.0.as_slice(), body],
    )?;
    Ok(n > 0)
}

/// Every note held for the group.
pub fn notes(conn: &Connection, cipher: &StoreCipher, row: i64) -> Result<Vec<Note>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT sender, note_id, body FROM notes WHERE group_id = ?1")?;
    let rows = stmt.query_map([row], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (sender, id, body) = r?;
        let sender = key16("notes", row, sender)?;
        let id = NoteId(key16("notes", row, id)?);
        out.push(open_record(cipher, &note_aad(row, &sender, &id), &body)?);
    }
    Ok(out)
}

/// A sealed note waiting for the relay: to whom, and the bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outgoing {
    pub note: NoteId,
    pub to: DeviceId,
    pub direct: Direct,
}

pub fn put_outgoing(w: &Writer<'_>, row: i64, out: &Outgoing) -> Result<(), StoreError> {
    let recipient = device_hash(w.cipher, &out.to);
    let body = w.seal(&out_aad(row, &out.note, &recipient), out)?;
    w.tx.execute(
        "INSERT OR IGNORE INTO direct_out (group_id, note_id, recipient, body) VALUES (?1, ?2, ?3, ?4)",
        params![row, out.note.0.as_slice(), recipient.as_slice(), body],
    )?;
    Ok(())
}

/// Up to `limit` notes waiting for the relay.
pub fn outgoing(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
    limit: usize,
) -> Result<Vec<Outgoing>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT note_id, recipient, body FROM direct_out WHERE group_id = ?1 LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![row, limit as i64], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (id, recipient, body) = r?;
        let id = NoteId(key16("direct_out", row, id)?);
        let recipient = key16("direct_out", row, recipient)?;
        out.push(open_record(cipher, &out_aad(row, &id, &recipient), &body)?);
    }
    Ok(out)
}

/// The notes with a copy still waiting for the relay.
pub fn waiting_notes(
    conn: &Connection,
    cipher: &StoreCipher,
    row: i64,
) -> Result<std::collections::BTreeSet<NoteId>, StoreError> {
    Ok(outgoing(conn, cipher, row, usize::MAX >> 1)?
        .into_iter()
        .map(|o| o.note)
        .collect())
}

/// The relay answered for this note to `to`: it no longer waits.
pub fn drop_outgoing(
    w: &Writer<'_>,
    row: i64,
    note: &NoteId,
    to: &DeviceId,
) -> Result<(), StoreError> {
    let recipient = device_hash(w.cipher, to);
    w.tx.execute(
        "DELETE FROM direct_out WHERE group_id = ?1 AND note_id = ?2 AND recipient = ?3",
        params![row, note.0.as_slice(), recipient.as_slice()],
    )?;
    Ok(())
}

// ---- self-checks and settings (device-private)

pub fn add_self_check<T: Serialize>(w: &Writer<'_>, value: &T) -> Result<i64, StoreError> {
    let id: i64 = w.tx.query_row(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM self_checks",
        [],
        |r| r.get(0),
    )?;
    put_self_check(w, id, value)?;
    Ok(id)
}

/// Writes self-check `id` (new, or replacing what it held).
pub fn put_self_check<T: Serialize>(w: &Writer<'_>, id: i64, value: &T) -> Result<(), StoreError> {
    let body = w.seal(format!("self_checks/{id}").as_bytes(), value)?;
    w.tx.execute(
        "INSERT OR REPLACE INTO self_checks (id, body) VALUES (?1, ?2)",
        params![id, body],
    )?;
    Ok(())
}

pub fn self_checks<T: DeserializeOwned>(
    conn: &Connection,
    cipher: &StoreCipher,
) -> Result<Vec<(i64, T)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, body FROM self_checks ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut out = Vec::new();
    for r in rows {
        let (id, body) = r?;
        out.push((
            id,
            open_record(cipher, format!("self_checks/{id}").as_bytes(), &body)?,
        ));
    }
    Ok(out)
}

pub fn put_setting<T: Serialize>(w: &Writer<'_>, key: &str, value: &T) -> Result<(), StoreError> {
    let body = w.seal(format!("settings/{key}").as_bytes(), value)?;
    w.tx.execute(
        "INSERT OR REPLACE INTO settings (key, body) VALUES (?1, ?2)",
        params![key, body],
    )?;
    Ok(())
}

pub fn setting<T: DeserializeOwned>(
    conn: &Connection,
    cipher: &StoreCipher,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let body: Option<Vec<u8>> = conn
        .query_row("SELECT body FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    body.map(|b| open_record(cipher, format!("settings/{key}").as_bytes(), &b))
        .transpose()
}
