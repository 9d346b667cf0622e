//! The `moderation` table: every record a device holds, one row per record id, sealed.

use rusqlite::{params, Connection};

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::store::{open_record, Writer};

use super::Held;

fn aad(row: i64, id: &[u8; 16]) -> Vec<u8> {
    let mut aad = format!("moderation/{row}/").into_bytes();
    aad.extend_from_slice(id);
    aad
}

/// Stores records (each checked before it gets here). A record already held stays as it is,
/// unless it was held only as a carried copy and this is the original.
pub fn put(w: &Writer<'_>, row: i64, records: &[Held]) -> Result<(), StoreError> {
    let mut stmt = w.tx.prepare_cached(
        "INSERT INTO moderation (group_id, id, carried, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (group_id, id) DO UPDATE SET carried = excluded.carried, body = excluded.body
         WHERE moderation.carried = 1 AND excluded.carried = 0",
    )?;
    for h in records {
        let body = w.seal(&aad(row, &h.id.0), h)?;
        stmt.execute(params![row, h.id.0.as_slice(), h.carried as i64, body])?;
    }
    Ok(())
}

/// Every record held for the group, in no particular order.
pub fn list(conn: &Connection, cipher: &StoreCipher, row: i64) -> Result<Vec<Held>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, body FROM moderation WHERE group_id = ?1")?;
    let rows = stmt.query_map([row], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (id, body) = r?;
        let id: [u8; 16] = id.try_into().map_err(|_| StoreError::Decode {
            what: format!("moderation/{row}"),
            detail: "a record id is not 16 bytes".into(),
        })?;
        out.push(open_record(cipher, &aad(row, &id), &body)?);
    }
    Ok(out)
}
