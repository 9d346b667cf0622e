//! The encrypted local store: one SQLite file per profile.
//!
//! Invariants:
//! - Nothing is touched before the secret has been checked: opening verifies the key slot
//!   through a lock-free read of the main file before any connection that could write exists,
//!   so a wrong key, a foreign file or a damaged file leaves every byte on disk as it was.
//! - A new store is built under a temporary name and renamed into place only when complete, so
//!   a crash during `init` never leaves a half-made store behind.
//! - Every write is one `BEGIN IMMEDIATE` transaction with `synchronous=FULL` in WAL mode: when
//!   a write returns, it survives the process being killed and the phone losing power.
//! - Migrations are numbered, run in order inside a transaction, and never edited once landed.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::crypto::{
    random_bytes, KdfParams, KeySlot, SecretKey, SlotKind, StoreCipher, StoreSecret,
};
use crate::error::StoreError;

/// `PRAGMA application_id` of every Hearth store ("HRTH"), to tell it from other SQLite files.
pub const APPLICATION_ID: i32 = 0x4852_5448;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_sync.sql"),
    include_str!("migrations/0003_forwarding.sql"),
    include_str!("migrations/0004_moderation.sql"),
    include_str!("migrations/0005_notes.sql"),
    include_str!("migrations/0006_detections.sql"),
];

/// The newest schema this build understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct Store {
    conn: Connection,
    cipher: StoreCipher,
    path: PathBuf,
}

/// What a write closure gets: the open transaction and the cipher to seal values with.
pub struct Writer<'a> {
    pub tx: Transaction<'a>,
    pub cipher: &'a StoreCipher,
}

impl Store {
    /// Creates a new store at `path`, protected by `secret`, and runs `init` in the same
    /// transaction as the schema. The file appears at `path` only once all of it is written.
    pub fn create<E>(
        path: &Path,
        secret: &StoreSecret,
        init: impl FnOnce(&Writer<'_>) -> Result<(), E>,
    ) -> Result<Store, E>
    where
        E: From<StoreError>,
    {
        if path.exists() {
            return Err(StoreError::AlreadyExists {
                path: path.to_path_buf(),
            }
            .into());
        }
        let suffix: [u8; 6] = random_bytes().map_err(StoreError::from)?;
        let tmp = path.with_extension(format!("creating-{}", crate::identity::hex_lower(&suffix)));
        let result = (|| {
            let data_key = SecretKey::random().map_err(StoreError::from)?;
            let slot = KeySlot::wrap(secret, &data_key).map_err(StoreError::from)?;
            let mut conn = connect(
                &tmp,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            )?;
            // Must come before anything writes the file. Lets `reclaim_free_pages` shrink
            // the file after a compaction instead of keeping the old snapshot's pages forever.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(StoreError::from)?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(StoreError::from)?;
            configure(&conn)?;
            migrate(&mut conn, &tmp)?;
            let cipher = StoreCipher::new(&data_key);
            {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(StoreError::from)?;
                insert_slot(&tx, &slot)?;
                let writer = Writer {
                    tx,
                    cipher: &cipher,
                };
                init(&writer)?;
                writer.tx.commit().map_err(StoreError::from)?;
            }
            // Closing checkpoints the WAL into the file, so the rename moves a complete store.
            conn.close().map_err(|(_, e)| StoreError::from(e))?;
            fs::rename(&tmp, path).map_err(StoreError::from)?;
            sync_dir(path);
            Ok::<_, E>(())
        })();
        if let Err(e) = result {
            for suffix in ["", "-wal", "-shm"] {
                let _ = fs::remove_file(format!("{}{}", tmp.display(), suffix));
            }
            return Err(e);
        }
        Store::open(path, secret).map_err(E::from)
    }

    /// Opens an existing store. Fails without writing anything if `secret` is wrong or the
    /// file is not a (healthy) Hearth store.
    pub fn open(path: &Path, secret: &StoreSecret) -> Result<Store, StoreError> {
        // A WAL with content means a writer died (or is running) and the main file may be in
        // the middle of a checkpoint: its header can describe pages not yet written. SQLite
        // recovers that from the WAL, so the main file alone is not judged then.
        let wal_in_use = fs::metadata(wal_path(path)).is_ok_and(|m| m.len() > 0);
        check_file(path, !wal_in_use)?;
        let writable =
            || connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(|e| with_path(e, path));
        let (data_key, mut conn) = match unlock(path, secret) {
            Ok(key) => (key, writable()?),
            Err(StoreError::Corrupt { .. }) if wal_in_use => {
                // The main file was caught mid-checkpoint; check the secret with the WAL's
                // help. Nothing is folded in on failure (SQLite's `-shm` index may be rebuilt).
                let conn = writable()?;
                conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
                let key = unlock_with(&conn, secret).map_err(|e| with_path(e, path))?;
                conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
                (key, conn)
            }
            Err(e) => return Err(e),
        };
        configure(&conn).map_err(|e| with_path(e, path))?;
        migrate(&mut conn, path)?;
        Ok(Store {
            conn,
            cipher: StoreCipher::new(&data_key),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn cipher(&self) -> &StoreCipher {
        &self.cipher
    }

    /// A read-only view for queries outside a write transaction.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction; commits only if it returns `Ok`.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| with_path(e.into(), &self.path))?;
        let writer = Writer {
            tx,
            cipher: &self.cipher,
        };
        let value = f(&writer)?;
        writer
            .tx
            .commit()
            .map_err(|e| with_path(e.into(), &self.path))?;
        Ok(value)
    }

    /// Adds (or replaces) a way of opening this store, e.g. a passphrase beside the raw key.
    pub fn set_key_slot(
        &mut self,
        secret: &StoreSecret,
        data_key_check: &StoreSecret,
    ) -> Result<(), StoreError> {
        let slots = read_slots(&self.conn)?;
        let existing = slots
            .iter()
            .find(|s| s.kind == data_key_check.kind())
            .ok_or(StoreError::WrongSecret {
                kind: data_key_check.kind(),
            })?;
        let data_key = existing
            .unwrap(data_key_check)
            .map_err(|_| StoreError::WrongSecret {
                kind: data_key_check.kind(),
            })?;
        let slot = KeySlot::wrap(secret, &data_key)?;
        self.write(|w| insert_slot(&w.tx, &slot))?;
        // `unlock` reads slots from the main file only, so fold the change in now. If this
        // cannot finish (a reader holds the WAL, or the device dies first), the slots already
        // in the main file still open the store, and the next checkpoint completes it.
        let _busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(())
    }

    /// Returns free pages to the file system (the store uses incremental auto-vacuum).
    pub fn reclaim_free_pages(&mut self) -> Result<(), StoreError> {
        // Stepped to the end: a single step may free only part of the list.
        let run = || -> rusqlite::Result<()> {
            let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            Ok(())
        };
        run().map_err(|e| with_path(e.into(), &self.path))
    }

    /// Closes the connection, checkpointing the WAL back into the main file.
    pub fn close(self) -> Result<(), StoreError> {
        self.conn.close().map_err(|(_, e)| e.into())
    }
}

impl Writer<'_> {
    /// Serialises `value` (CBOR) and seals it under `aad`.
    pub fn seal<T: Serialize>(&self, aad: &[u8], value: &T) -> Result<Vec<u8>, StoreError> {
        seal_record(self.cipher, aad, value)
    }
}

pub fn seal_record<T: Serialize>(
    cipher: &StoreCipher,
    aad: &[u8],
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let mut plain = Vec::new();
    ciborium::into_writer(value, &mut plain).map_err(|e| StoreError::Decode {
        what: String::from_utf8_lossy(aad).into_owned(),
        detail: e.to_string(),
    })?;
    Ok(cipher.seal(aad, &plain)?)
}

pub fn open_record<T: DeserializeOwned>(
    cipher: &StoreCipher,
    aad: &[u8],
    sealed: &[u8],
) -> Result<T, StoreError> {
    let plain = cipher.open(aad, sealed)?;
    ciborium::from_reader(plain.as_slice()).map_err(|e| StoreError::Decode {
        what: String::from_utf8_lossy(aad).into_owned(),
        detail: e.to_string(),
    })
}

fn with_path(e: StoreError, path: &Path) -> StoreError {
    match e {
        StoreError::Corrupt { detail, .. } => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        },
        other => other,
    }
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Checks `secret` against the store's key slots and returns the data key, without changing a
/// byte on disk. The slots are read from the main database file through an `immutable`
/// connection: it takes no locks and neither reads nor creates the WAL or its shared-memory
/// index, so even a store left mid-write by a crash is untouched by a wrong secret. This is
/// sound because slots reach the main file as soon as they change (see `set_key_slot`) and
/// the data key they wrap never changes.
fn unlock(path: &Path, secret: &StoreSecret) -> Result<SecretKey, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(immutable_uri(path), flags)
        .map_err(|e| with_path(e.into(), path))?;
    unlock_with(&conn, secret).map_err(|e| with_path(e, path))
}

/// Reads the key slots on `conn` and unwraps the data key with `secret`.
fn unlock_with(conn: &Connection, secret: &StoreSecret) -> Result<SecretKey, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let slots = read_slots(conn)?;
    let slot = slots
        .iter()
        .find(|s| s.kind == secret.kind())
        .ok_or_else(|| StoreError::NoSuchSlot {
            given: secret.kind(),
            available: slots.iter().map(|s| s.kind).collect(),
        })?;
    slot.unwrap(secret).map_err(|_| StoreError::WrongSecret {
        kind: secret.kind(),
    })
}

fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// `file:` URI for `path` with `immutable=1`, percent-encoding everything but unreserved bytes.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(rusqlite::Error::InvalidParameterName(
            format!("journal_mode stayed {mode}"),
        )));
    }
    // FULL: a commit is on stable storage when it returns (a phone's battery can die any time).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if index == 1 {
            // Schema-1 groups had no membership log or keys; refuse rather than drop them.
            let groups: i64 = tx.query_row("SELECT COUNT(*) FROM groups", [], |r| r.get(0))?;
            if groups > 0 {
                return Err(StoreError::PreSyncGroups {
                    path: path.to_path_buf(),
                    groups,
                });
            }
        }
        tx.execute_batch(sql)
            .map_err(|e| with_path(e.into(), path))?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Cheap checks before SQLite touches the file: it exists, it is SQLite, it is Hearth's, and
/// (with `check_length`, i.e. when no WAL holds newer pages) it is as long as its header says,
/// so a truncated copy is caught here, not on some later read.
fn check_file(path: &Path, check_length: bool) -> Result<(), StoreError> {
    let not_hearth = |reason: &str| StoreError::NotAHearthStore {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata()?.len();
    let mut header = [0u8; 100];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..])? {
            0 => break,
            n => read += n,
        }
    }
    if read < header.len() {
        return if len == 0 {
            Err(not_hearth("the file is empty"))
        } else if header[..read].starts_with(&b"SQLite format 3\0"[..read.min(16)]) {
            Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("file is truncated to {len} bytes"),
            })
        } else {
            Err(not_hearth("it is not an SQLite database"))
        };
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Err(not_hearth("it is not an SQLite database"));
    }
    let app_id = i32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if app_id != APPLICATION_ID {
        return Err(not_hearth(
            "it is an SQLite database of another application",
        ));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65536u64,
        n => n as u64,
    };
    let change_counter = u32::from_be_bytes([header[24], header[25], header[26], header[27]]);
    let page_count = u32::from_be_bytes([header[28], header[29], header[30], header[31]]) as u64;
    let valid_for = u32::from_be_bytes([header[92], header[93], header[94], header[95]]);
    if check_length && valid_for == change_counter && page_count > 0 && len < page_count * page_size
    {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "file is {len} bytes but its header describes {} bytes; it was truncated",
                page_count * page_size
            ),
        });
    }
    Ok(())
}

fn read_slots(conn: &Connection) -> Result<Vec<KeySlot>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT kind, kdf_algorithm, kdf_memory_kib, kdf_iterations, kdf_parallelism, kdf_salt, wrapped_key
         FROM key_slots ORDER BY kind",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Vec<u8>>(5)?,
            r.get::<_, Vec<u8>>(6)?,
        ))
    })?;
    let mut slots = Vec::new();
    for row in rows {
        let (kind, algorithm, memory, iterations, parallelism, salt, wrapped) = row?;
        let kind = SlotKind::parse(&kind).ok_or_else(|| StoreError::Decode {
            what: "key slot".into(),
            detail: format!("unknown slot kind {kind:?}"),
        })?;
        let kdf = match kind {
            SlotKind::RawKey => None,
            SlotKind::Passphrase => Some(KdfParams {
                algorithm,
                memory_kib: u32::try_from(memory).unwrap_or(0),
                iterations: u32::try_from(iterations).unwrap_or(0),
                parallelism: u32::try_from(parallelism).unwrap_or(0),
                salt,
            }),
        };
        slots.push(KeySlot { kind, kdf, wrapped });
    }
    Ok(slots)
}

fn insert_slot(tx: &Transaction<'_>, slot: &KeySlot) -> Result<(), StoreError> {
    let (alg, mem, it, par, salt) = match &slot.kdf {
        Some(k) => (
            k.algorithm.as_str(),
            k.memory_kib as i64,
            k.iterations as i64,
            k.parallelism as i64,
            k.salt.clone(),
        ),
        None => ("", 0, 0, 0, Vec::new()),
    };
    tx.execute(
        "INSERT OR REPLACE INTO key_slots
             (kind, kdf_algorithm, kdf_memory_kib, kdf_iterations, kdf_parallelism, kdf_salt, wrapped_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![slot.kind.as_str(), alg, mem, it, par, salt, slot.wrapped],
    )?;
    Ok(())
}

/// Makes a rename durable (best effort: not every platform can fsync a directory).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Reads one optional sealed record from a single-row query.
pub fn query_sealed<T: DeserializeOwned>(
    conn: &Connection,
    cipher: &StoreCipher,
    aad: &[u8],
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>, StoreError> {
    let body: Option<Vec<u8>> = conn.query_row(sql, params, |r| r.get(0)).optional()?;
    body.map(|b| open_record(cipher, aad, &b)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> StoreSecret {
        StoreSecret::RawKey(SecretKey::from_bytes([b; 32]))
    }

    /// Every file in `dir` with its length and a digest of its bytes.
    fn snapshot(dir: &Path) -> Vec<(String, usize, String)> {
        let mut out: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let bytes = fs::read(e.path()).unwrap();
                let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
                (
                    e.file_name().to_string_lossy().into_owned(),
                    bytes.len(),
                    crate::identity::hex_lower(digest.as_ref()),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn new_store(dir: &Path) -> PathBuf {
        let path = dir.join("hearth.db");
        Store::create::<StoreError>(&path, &key(1), |_| Ok(()))
            .unwrap()
            .close()
            .unwrap();
        path
    }

    #[test]
    fn creates_then_reopens_with_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_store(dir.path());
        let store = Store::open(&path, &key(1)).unwrap();
        let v: i64 = store
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = store
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let vacuum: i64 = store
            .conn()
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(vacuum, 2, "incremental auto-vacuum");
        store.close().unwrap();
        // Nothing but the store itself is left behind.
        let names: Vec<_> = snapshot(dir.path())
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(names, vec!["hearth.db".to_string()]);
    }

    #[test]
    fn refuses_to_create_over_an_existing_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_store(dir.path());
        let err = Store::create::<StoreError>(&path, &key(1), |_| Ok(()))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::AlreadyExists { .. }));
    }

    #[test]
    fn failed_init_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        let err = Store::create::<StoreError>(&path, &key(1), |_| Err(StoreError::Busy))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::Busy));
        assert!(snapshot(dir.path()).is_empty());
    }

    #[test]
    fn wrong_key_is_clear_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_store(dir.path());
        let before = snapshot(dir.path());
        let err = Store::open(&path, &key(2)).err().unwrap();
        assert!(
            matches!(
                err,
                StoreError::WrongSecret {
                    kind: SlotKind::RawKey
                }
            ),
            "{err}"
        );
        assert_eq!(err.to_string(), "wrong key: it does not open this store");
        let err = Store::open(&path, &StoreSecret::Passphrase("a passphrase".into()))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::NoSuchSlot { .. }), "{err}");
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn foreign_and_damaged_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_store(dir.path());
        let bytes = fs::read(&path).unwrap();

        type Check = fn(&StoreError) -> bool;
        let cases: Vec<(&str, Vec<u8>, Check)> = vec![
            ("empty", vec![], |e| {
                matches!(e, StoreError::NotAHearthStore { .. })
            }),
            (
                "text",
                b"hello, this is not a database at all".repeat(10),
                |e| matches!(e, StoreError::NotAHearthStore { .. }),
            ),
            ("half", bytes[..bytes.len() / 2].to_vec(), |e| {
                matches!(e, StoreError::Corrupt { .. })
            }),
            ("header", bytes[..50].to_vec(), |e| {
                matches!(e, StoreError::Corrupt { .. })
            }),
        ];
        for (name, content, expected) in cases {
            let p = dir.path().join(format!("{name}.db"));
            fs::write(&p, &content).unwrap();
            let err = Store::open(&p, &key(1)).err().unwrap();
            assert!(expected(&err), "{name}: {err}");
            assert_eq!(fs::read(&p).unwrap(), content, "{name} was modified");
        }

        // Another application's SQLite database.
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let content = fs::read(&other).unwrap();
        let err = Store::open(&other, &key(1)).err().unwrap();
        assert!(matches!(err, StoreError::NotAHearthStore { .. }), "{err}");
        assert_eq!(fs::read(&other).unwrap(), content);

        let err = Store::open(&dir.path().join("missing.db"), &key(1))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::NotFound { .. }));
    }

    #[test]
    fn a_second_slot_opens_the_same_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_store(dir.path());
        let mut store = Store::open(&path, &key(1)).unwrap();
        let pass = StoreSecret::Passphrase("long enough passphrase".into());
        store.set_key_slot(&pass, &key(1)).unwrap();
        store.close().unwrap();
        Store::open(&path, &pass).unwrap().close().unwrap();
        Store::open(&path, &key(1)).unwrap().close().unwrap();
    }

    #[test]
    fn a_new_slot_opens_at_once_even_from_an_awkward_path_while_another_handle_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let awkward = dir.path().join("a b?c#d%e&f=g");
        fs::create_dir(&awkward).unwrap();
        let path = awkward.join("hearth.db");
        let mut store = Store::create::<StoreError>(&path, &key(1), |_| Ok(())).unwrap();
        let passphrase = StoreSecret::Passphrase("a long passphrase".into());
        store.set_key_slot(&passphrase, &key(1)).unwrap();
        // `store` is still open; the new slot is already in the main file.
        let second = Store::open(&path, &passphrase).unwrap();
        assert_eq!(
            second.cipher().index_hash("t", b"x"),
            store.cipher().index_hash("t", b"x")
        );
        assert!(matches!(
            Store::open(&path, &StoreSecret::Passphrase("another passphrase".into())),
            Err(StoreError::WrongSecret { .. })
        ));
        assert!(matches!(
            store.set_key_slot(&key(3), &key(2)),
            Err(StoreError::WrongSecret { .. })
        ));
    }
}
