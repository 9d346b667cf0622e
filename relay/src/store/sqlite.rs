//! The embedded store: one SQLite file in WAL mode.
//!
//! One writer connection (behind a mutex; the relay's commit thread is its only user in
//! practice) and a small pool of read-only connections, which WAL lets read committed data while
//! the writer works. `synchronous=FULL`: a commit has reached stable storage when it returns,
//! so an acknowledged envelope survives the machine losing power. `secure_delete=ON`: what is
//! deleted (direct notes once delivered) is overwritten, not left in free pages. Tables are
//! `STRICT`, every `INSERT` names its columns, and migrations are numbered through
//! `user_version` and never edited once landed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use hearth_protocol::ids::Signed;
use hearth_protocol::membership::SignedJoin;
use hearth_protocol::wire;
use hearth_protocol::{DeviceId, GroupId, Hash};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{
    DirectRow, EnvelopeRow, EnvelopeScan, HeldDirect, NewDirect, NewEnvelope, NewSnapshot,
    PendingJoin, RangeSizes, ReadTx, RelayStore, SnapshotMeta, StoreError, WriteTx,
};

/// `PRAGMA application_id` of a relay database ("HRLY"), to tell it from a device store.
pub const APPLICATION_ID: i64 = 0x4852_4c59;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_directs.sql"),
];

/// The newest schema this build understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Idle read connections kept for reuse; more are opened under load and closed afterwards.
const KEPT_READERS: usize = 8;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the relay database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
        check_ownership(&conn, &shown)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(Some(conn)),
            readers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        })
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: self.path.display().to_string(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // A reader never writes; make a bug that tries fail loudly instead of racing the writer.
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }

    fn readers(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RelayStore for SqliteStore {
    fn read(
        &self,
        work: &mut dyn FnMut(&mut dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let pooled = self.readers().pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        run(&conn, "BEGIN DEFERRED")?;
        let result = work(&mut Tx { conn: &conn });
        let ended = run(&conn, if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
        if ended.is_ok() && conn.is_autocommit() && !self.closed.load(Ordering::Acquire) {
            let mut pool = self.readers();
            if pool.len() < KEPT_READERS {
                pool.push(conn);
            }
        }
        result?;
        ended?;
        Ok(())
    }

    fn write(
        &self,
        work: &mut dyn FnMut(&mut dyn WriteTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let guard = self.writer.lock().unwrap_or_else(|poisoned| {
            // A panic inside an earlier write may have left its transaction open: roll it back
            // so this one starts clean (nothing of it was acknowledged).
            let guard = poisoned.into_inner();
            if let Some(conn) = guard.as_ref() {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
            guard
        });
        let conn = guard.as_ref().ok_or(StoreError::Closed)?;
        run(conn, "BEGIN IMMEDIATE")?;
        let result = work(&mut Tx { conn }).and_then(|()| run(conn, "COMMIT"));
        if result.is_err() && !conn.is_autocommit() {
            // Nothing of a failed write may remain, and the connection must be ready for the
            // next one. The write's own error is the one to report.
            if let Err(e) = run(conn, "ROLLBACK") {
                tracing::error!(error = %e, "rolling back a failed write failed");
            }
        }
        result
    }

    fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        for conn in self.readers().drain(..) {
            let _ = conn.close();
        }
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conn) = guard.take() {
            // Fold the WAL back into the main file so the database is one self-contained file
            // while the relay is stopped (backups, copies).
            let _: (i64, i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
        }
        Ok(())
    }
}

/// Refuses a file that is some other program's SQLite database.
fn check_ownership(conn: &Connection, shown: &str) -> Result<(), StoreError> {
    let id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if id == APPLICATION_ID {
        return Ok(());
    }
    let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    if id != 0 || tables != 0 {
        return Err(StoreError::NotRelayDatabase {
            path: shown.to_string(),
            found: id,
        });
    }
    Ok(())
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt {
            what: "journal mode",
            detail: format!("WAL could not be enabled (journal_mode stayed {mode})"),
        });
    }
    // FULL: a commit is on stable storage when it returns; only then is anything acknowledged.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted rows are zeroed, not left in free pages: a direct note deleted once its recipient
    // has it (who wrote to whom, and the sealed body) must not linger in the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let Some(done) = usize::try_from(current)
        .ok()
        .filter(|n| *n <= MIGRATIONS.len())
    else {
        return Err(StoreError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    };
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Runs a statement without parameters through the statement cache: transaction control runs
/// several times per request, and parsing it each time showed in profiles.
fn run(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// SQLite integers are signed. Values above `i64::MAX` cannot be stored, so as lookup keys they
/// match nothing: clamping keeps a client's absurd cursor or sequence number from becoming an
/// error.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn corrupt(what: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

fn device(what: &'static str, blob: &[u8]) -> Result<DeviceId, StoreError> {
    DeviceId::from_slice(blob).ok_or_else(|| corrupt(what, "not a 32-byte device id"))
}

fn hash(what: &'static str, blob: &[u8]) -> Result<Hash, StoreError> {
    Hash::from_slice(blob).ok_or_else(|| corrupt(what, "not a 32-byte hash"))
}

fn signed(blob: &[u8]) -> Result<Signed, StoreError> {
    wire::decode("stored operation", blob).map_err(|e| corrupt("membership operation", e))
}

fn signed_join(blob: &[u8]) -> Result<SignedJoin, StoreError> {
    wire::decode("stored registration", blob).map_err(|e| corrupt("pending join", e))
}

fn chapter_list(chapters: &[u32]) -> String {
    chapters
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A transaction (read or write) on one connection.
struct Tx<'c> {
    conn: &'c Connection,
}

impl Tx<'_> {
    fn snapshot_meta_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawSnapshotMeta> {
        Ok(RawSnapshotMeta {
            chapter: row.get(0)?,
            epoch: row.get(1)?,
            covers: row.get(2)?,
            maker: row.get(3)?,
            id: row.get(4)?,
            size: row.get(5)?,
        })
    }
}

struct RawSnapshotMeta {
    chapter: u32,
    epoch: u32,
    covers: i64,
    maker: Vec<u8>,
    id: Vec<u8>,
    size: i64,
}

impl RawSnapshotMeta {
    fn check(self) -> Result<SnapshotMeta, StoreError> {
        Ok(SnapshotMeta {
            chapter: self.chapter,
            epoch: self.epoch,
            covers: uint(self.covers),
            maker: device("snapshot maker", &self.maker)?,
            id: hash("snapshot id", &self.id)?,
            size: uint(self.size),
        })
    }
}

const SNAPSHOT_META: &str =
    "SELECT chapter, epoch, covers, maker, snapshot_id, size FROM snapshots";

impl ReadTx for Tx<'_> {
    fn log_len(&mut self, group: &GroupId) -> Result<u64, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_ops WHERE group_id = ?1")?;
        let n: i64 = stmt.query_row(params![&group.0[..]], |r| r.get(0))?;
        Ok(uint(n))
    }

    fn log_ops(&mut self, group: &GroupId, from: u64) -> Result<Vec<Signed>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT op FROM log_ops WHERE group_id = ?1 AND idx >= ?2 ORDER BY idx",
        )?;
        let mut rows = stmt.query(params![&group.0[..], int(from)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let blob: Vec<u8> = row.get(0)?;
            out.push(signed(&blob)?);
        }
        Ok(out)
    }

    fn log_op(&mut self, group: &GroupId, index: u64) -> Result<Option<Signed>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT op FROM log_ops WHERE group_id = ?1 AND idx = ?2")?;
        let blob: Option<Vec<u8>> = stmt
            .query_row(params![&group.0[..], int(index)], |r| r.get(0))
            .optional()?;
        blob.map(|b| signed(&b)).transpose()
    }

    fn invite_group(&mut self, invite: &DeviceId) -> Result<Option<GroupId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT group_id FROM invites WHERE invite = ?1")?;
        let blob: Option<Vec<u8>> = stmt
            .query_row(params![&invite.0[..]], |r| r.get(0))
            .optional()?;
        blob.map(|b| GroupId::from_slice(&b).ok_or_else(|| corrupt("invite group", "bad id")))
            .transpose()
    }

    fn newest_cursor(&mut self, group: &GroupId) -> Result<u64, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(cursor), 0) FROM envelopes WHERE group_id = ?1")?;
        let n: i64 = stmt.query_row(params![&group.0[..]], |r| r.get(0))?;
        Ok(uint(n))
    }

    fn author_head(
        &mut self,
        group: &GroupId,
        author: &DeviceId,
    ) -> Result<Option<(u64, Hash)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, envelope_id FROM envelopes WHERE group_id = ?1 AND author = ?2 \
             ORDER BY seq DESC LIMIT 1",
        )?;
        let row: Option<(i64, Vec<u8>)> = stmt
            .query_row(params![&group.0[..], &author.0[..]], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(seq, id)| Ok((uint(seq), hash("envelope id", &id)?)))
            .transpose()
    }

    fn envelope_id(
        &mut self,
        group: &GroupId,
        author: &DeviceId,
        seq: u64,
    ) -> Result<Option<Hash>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT envelope_id FROM envelopes WHERE group_id = ?1 AND author = ?2 AND seq = ?3",
        )?;
        let id: Option<Vec<u8>> = stmt
            .query_row(params![&group.0[..], &author.0[..], int(seq)], |r| r.get(0))
            .optional()?;
        id.map(|b| hash("envelope id", &b)).transpose()
    }

    fn newest_seqs(&mut self, group: &GroupId) -> Result<BTreeMap<DeviceId, u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT author, MAX(seq) FROM envelopes WHERE group_id = ?1 GROUP BY author",
        )?;
        let mut rows = stmt.query(params![&group.0[..]])?;
        let mut out = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let author: Vec<u8> = row.get(0)?;
            let seq: i64 = row.get(1)?;
            out.insert(device("envelope author", &author)?, uint(seq));
        }
        Ok(out)
    }

    fn scan_envelopes(
        &mut self,
        group: &GroupId,
        scan: &EnvelopeScan,
        visit: &mut dyn FnMut(EnvelopeRow) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        // With no skip, `cursor <= 0` is never true, so nothing is left out.
        let (until, chapter) = scan.skip.unwrap_or((0, 0));
        let mut stmt = self.conn.prepare_cached(
            "SELECT cursor, size, envelope FROM envelopes \
             WHERE group_id = ?1 AND cursor > ?2 AND epoch >= ?3 \
               AND NOT (cursor <= ?4 AND sole_chapter = ?5) \
               AND (?6 IS NULL OR author <> ?6) \
             ORDER BY cursor",
        )?;
        let mut rows = stmt.query(params![
            &group.0[..],
            int(scan.after),
            scan.min_epoch,
            int(until),
            chapter,
            scan.not_by.as_ref().map(|d| &d.0[..])
        ])?;
        while let Some(row) = rows.next()? {
            let envelope = EnvelopeRow {
                cursor: uint(row.get(0)?),
                size: uint(row.get(1)?),
                encoded: row.get(2)?,
            };
            if !visit(envelope)? {
                break;
            }
        }
        Ok(())
    }

    fn range_sizes(
        &mut self,
        group: &GroupId,
        after: u64,
        until: u64,
        chapter: u32,
        min_epoch: u32,
    ) -> Result<RangeSizes, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(SUM(CASE WHEN sole_chapter = ?4 THEN size ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN sole_chapter = ?4 THEN 0 ELSE size END), 0) \
             FROM envelopes \
             WHERE group_id = ?1 AND cursor > ?2 AND cursor <= ?3 AND epoch >= ?5",
        )?;
        let (replaceable, other): (i64, i64) = stmt.query_row(
            params![&group.0[..], int(after), int(until), chapter, min_epoch],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(RangeSizes {
            replaceable: uint(replaceable),
            other: uint(other),
        })
    }

    fn chapter_growth(
        &mut self,
        group: &GroupId,
        after: u64,
        chapter: u32,
        max_rows: u64,
    ) -> Result<(u64, u64), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ( \
                 SELECT size FROM envelopes \
                 WHERE group_id = ?1 AND cursor > ?2 AND last_chapter = ?3 \
                 ORDER BY cursor LIMIT ?4)",
        )?;
        let (n, bytes): (i64, i64) = stmt.query_row(
            params![&group.0[..], int(after), chapter, int(max_rows)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((uint(n), uint(bytes)))
    }

    fn snapshot_meta(
        &mut self,
        group: &GroupId,
        chapter: u32,
    ) -> Result<Option<SnapshotMeta>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SNAPSHOT_META} WHERE group_id = ?1 AND chapter = ?2"
        ))?;
        let raw = stmt
            .query_row(params![&group.0[..], chapter], Tx::snapshot_meta_row)
            .optional()?;
        raw.map(RawSnapshotMeta::check).transpose()
    }

    fn best_snapshot(
        &mut self,
        group: &GroupId,
        min_chapter: u32,
        after: u64,
    ) -> Result<Option<SnapshotMeta>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SNAPSHOT_META} WHERE group_id = ?1 AND chapter >= ?2 AND covers > ?3 \
             ORDER BY covers DESC, chapter DESC LIMIT 1"
        ))?;
        let raw = stmt
            .query_row(
                params![&group.0[..], min_chapter, int(after)],
                Tx::snapshot_meta_row,
            )
            .optional()?;
        raw.map(RawSnapshotMeta::check).transpose()
    }

    fn snapshot_bytes(
        &mut self,
        group: &GroupId,
        chapter: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT snapshot FROM snapshots WHERE group_id = ?1 AND chapter = ?2",
        )?;
        Ok(stmt
            .query_row(params![&group.0[..], chapter], |r| r.get(0))
            .optional()?)
    }

    fn pending_join(
        &mut self,
        group: &GroupId,
        invite: &DeviceId,
    ) -> Result<Option<PendingJoin>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT device, signed_join FROM pending_joins WHERE group_id = ?1 AND invite = ?2",
        )?;
        let row: Option<(Vec<u8>, Vec<u8>)> = stmt
            .query_row(params![&group.0[..], &invite.0[..]], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(d, j)| {
            Ok(PendingJoin {
                invite: *invite,
                device: device("pending join device", &d)?,
                join: signed_join(&j)?,
            })
        })
        .transpose()
    }

    fn has_pending_join(&mut self, group: &GroupId, device: &DeviceId) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM pending_joins WHERE group_id = ?1 AND device = ?2)",
        )?;
        Ok(stmt.query_row(params![&group.0[..], &device.0[..]], |r| r.get(0))?)
    }

    fn pending_devices_except(
        &mut self,
        group: &GroupId,
        except: &DeviceId,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COUNT(DISTINCT device) FROM pending_joins WHERE group_id = ?1 AND device <> ?2",
        )?;
        let n: i64 = stmt.query_row(params![&group.0[..], &except.0[..]], |r| r.get(0))?;
        Ok(uint(n))
    }

    fn pending_joins(&mut self, group: &GroupId) -> Result<Vec<SignedJoin>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT signed_join FROM pending_joins WHERE group_id = ?1 \
             ORDER BY received_at, invite",
        )?;
        let mut rows = stmt.query(params![&group.0[..]])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let blob: Vec<u8> = row.get(0)?;
            out.push(signed_join(&blob)?);
        }
        Ok(out)
    }

    fn newest_direct(&mut self) -> Result<u64, StoreError> {
        // AUTOINCREMENT keeps the highest number ever assigned here, deleted rows included.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'directs'")?;
        let n: Option<i64> = stmt.query_row([], |r| r.get(0)).optional()?;
        Ok(n.map_or(0, uint))
    }

    fn held_direct(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        id: &[u8; 16],
    ) -> Result<Option<HeldDirect>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sender, direct FROM directs \
             WHERE group_id = ?1 AND recipient = ?2 AND note_id = ?3",
        )?;
        let row: Option<(Vec<u8>, Vec<u8>)> = stmt
            .query_row(params![&group.0[..], &recipient.0[..], &id[..]], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(sender, encoded)| {
            Ok(HeldDirect {
                sender: device("direct note sender", &sender)?,
                encoded,
            })
        })
        .transpose()
    }

    fn has_directs_upto(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        upto: u64,
    ) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM directs \
                            WHERE group_id = ?1 AND recipient = ?2 AND seq <= ?3)",
        )?;
        Ok(
            stmt.query_row(params![&group.0[..], &recipient.0[..], int(upto)], |r| {
                r.get(0)
            })?,
        )
    }

    fn scan_directs(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        after: u64,
        visit: &mut dyn FnMut(DirectRow) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, size, direct FROM directs \
             WHERE group_id = ?1 AND recipient = ?2 AND seq > ?3 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![&group.0[..], &recipient.0[..], int(after)])?;
        while let Some(row) = rows.next()? {
            let note = DirectRow {
                seq: uint(row.get(0)?),
                size: uint(row.get(1)?),
                encoded: row.get(2)?,
            };
            if !visit(note)? {
                break;
            }
        }
        Ok(())
    }
}

impl WriteTx for Tx<'_> {
    fn savepoint(&mut self) -> Result<(), StoreError> {
        run(self.conn, "SAVEPOINT request")
    }

    fn release(&mut self) -> Result<(), StoreError> {
        run(self.conn, "RELEASE request")
    }

    fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        run(self.conn, "ROLLBACK TO request")?;
        run(self.conn, "RELEASE request")
    }

    fn create_group(
        &mut self,
        group: &GroupId,
        creator: &DeviceId,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO groups (group_id, creator, created_at) VALUES (?1, ?2, ?3)",
        )?;
        stmt.execute(params![&group.0[..], &creator.0[..], at])?;
        Ok(())
    }

    fn append_op(
        &mut self,
        group: &GroupId,
        index: u64,
        author: &DeviceId,
        op: &Signed,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO log_ops (group_id, idx, author, op, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![
            &group.0[..],
            int(index),
            &author.0[..],
            wire::encode(op),
            at
        ])?;
        Ok(())
    }

    fn index_invite(&mut self, invite: &DeviceId, group: &GroupId) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("INSERT INTO invites (invite, group_id) VALUES (?1, ?2)")?;
        stmt.execute(params![&invite.0[..], &group.0[..]])?;
        Ok(())
    }

    fn insert_envelope(
        &mut self,
        group: &GroupId,
        envelope: &NewEnvelope<'_>,
    ) -> Result<u64, StoreError> {
        let cursor = self.newest_cursor(group)? + 1;
        let sole = match envelope.chapters {
            [only] => *only,
            _ => 0,
        };
        let last = envelope.chapters.last().copied().unwrap_or(0);
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO envelopes (group_id, cursor, author, seq, epoch, chapters, sole_chapter, \
                                    last_chapter, envelope_id, envelope, size, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        stmt.execute(params![
            &group.0[..],
            int(cursor),
            &envelope.author.0[..],
            int(envelope.seq),
            envelope.epoch,
            chapter_list(envelope.chapters),
            sole,
            last,
            &envelope.id.0[..],
            envelope.encoded,
            envelope.encoded.len() as i64,
            envelope.received_at
        ])?;
        Ok(cursor)
    }

    fn put_snapshot(
        &mut self,
        group: &GroupId,
        snapshot: &NewSnapshot<'_>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO snapshots (group_id, chapter, epoch, covers, maker, snapshot_id, \
                                    snapshot, size, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (group_id, chapter) DO UPDATE SET \
                 epoch = excluded.epoch, covers = excluded.covers, maker = excluded.maker, \
                 snapshot_id = excluded.snapshot_id, snapshot = excluded.snapshot, \
                 size = excluded.size, received_at = excluded.received_at",
        )?;
        stmt.execute(params![
            &group.0[..],
            snapshot.chapter,
            snapshot.epoch,
            int(snapshot.covers),
            &snapshot.maker.0[..],
            &snapshot.id.0[..],
            snapshot.encoded,
            snapshot.encoded.len() as i64,
            snapshot.received_at
        ])?;
        Ok(())
    }

    fn put_pending_join(
        &mut self,
        group: &GroupId,
        join: &PendingJoin,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO pending_joins (group_id, invite, device, signed_join, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![
            &group.0[..],
            &join.invite.0[..],
            &join.device.0[..],
            wire::encode(&join.join),
            at
        ])?;
        Ok(())
    }

    fn remove_pending_join(
        &mut self,
        group: &GroupId,
        invite: &DeviceId,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM pending_joins WHERE group_id = ?1 AND invite = ?2")?;
        stmt.execute(params![&group.0[..], &invite.0[..]])?;
        Ok(())
    }

    fn remove_device_joins(
        &mut self,
        group: &GroupId,
        device: &DeviceId,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM pending_joins WHERE group_id = ?1 AND device = ?2")?;
        stmt.execute(params![&group.0[..], &device.0[..]])?;
        Ok(())
    }

    fn insert_direct(&mut self, group: &GroupId, note: &NewDirect<'_>) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO directs (group_id, recipient, sender, note_id, direct, size, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![
            &group.0[..],
            &note.recipient.0[..],
            &note.sender.0[..],
            &note.id[..],
            note.encoded,
            note.encoded.len() as i64,
            note.received_at
        ])?;
        Ok(uint(self.conn.last_insert_rowid()))
    }

    fn delete_directs_upto(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        upto: u64,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM directs WHERE group_id = ?1 AND recipient = ?2 AND seq <= ?3",
        )?;
        let n = stmt.execute(params![&group.0[..], &recipient.0[..], int(upto)])?;
        Ok(n as u64)
    }

    fn delete_directs_to(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
    ) -> Result<u64, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM directs WHERE group_id = ?1 AND recipient = ?2")?;
        let n = stmt.execute(params![&group.0[..], &recipient.0[..]])?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).unwrap();
        let guard = store.writer.lock().unwrap();
        let conn = guard.as_ref().unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            rows.join("; ")
        };
        let scan = plan(
            "SELECT cursor, size, envelope FROM envelopes WHERE group_id = x'00' AND cursor > 5 \
             AND epoch >= 1 AND NOT (cursor <= 0 AND sole_chapter = 0) \
             AND (x'01' IS NULL OR author <> x'01') ORDER BY cursor",
        );
        assert!(
            scan.contains("USING INDEX") && !scan.contains("TEMP B-TREE"),
            "{scan}"
        );
        let head = plan(
            "SELECT seq, envelope_id FROM envelopes WHERE group_id = x'00' AND author = x'01' \
             ORDER BY seq DESC LIMIT 1",
        );
        assert!(
            head.contains("USING INDEX") && !head.contains("TEMP B-TREE"),
            "{head}"
        );
        let inbox = plan(
            "SELECT seq, size, direct FROM directs WHERE group_id = x'00' AND recipient = x'01' \
             AND seq > 5 ORDER BY seq",
        );
        assert!(
            inbox.contains("directs_inbox") && !inbox.contains("TEMP B-TREE"),
            "{inbox}"
        );
    }

    #[test]
    fn refuses_a_foreign_database_and_reopens_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("other.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        assert!(matches!(
            SqliteStore::open(&foreign),
            Err(StoreError::NotRelayDatabase { .. })
        ));
        let ours = dir.path().join("relay.db");
        SqliteStore::open(&ours).unwrap().close().unwrap();
        let again = SqliteStore::open(&ours).unwrap();
        let mut len = 1;
        again
            .read(&mut |tx| {
                len = tx.log_len(&GroupId([1; 16]))?;
                Ok(())
            })
            .unwrap();
        assert_eq!(len, 0);
    }
}
