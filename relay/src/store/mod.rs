//! The relay's storage, behind a trait so the embedded SQLite store ([`SqliteStore`]) can be
//! joined later by PostgreSQL for a relay that runs stateless behind a load balancer (see
//! `DESIGN.md`, "Scaling the relay"). Both must pass the same acceptance suite: the HTTP tests in
//! `relay/tests` exercise nothing but this trait's behaviour through the relay's rules.
//!
//! The trait is deliberately low level — rows in, rows out, no protocol rules. The rules (who
//! may write what, sequence checks, catch-up planning) live in `crate::sync` and
//! `crate::join` and run unchanged on any store.
//!
//! Invariants every implementation keeps:
//! - [`RelayStore::write`] runs its closure in **one** transaction and returns `Ok` only once
//!   that transaction is durably committed. If the closure fails, nothing it wrote remains.
//! - Savepoints ([`WriteTx::savepoint`]) nest one level inside a write, so several requests can
//!   share one commit (group commit) and still be all-or-nothing each.
//! - [`RelayStore::read`] sees one consistent committed snapshot for the whole closure.
//! - `(group, cursor)` and `(group, author, seq)` are unique; an insert that would break either
//!   is an error, never an overwrite. So is `(group, recipient, note id)` for direct notes.
//! - Direct note numbers are never reused, even after the note is deleted: a device's direct
//!   cursor may already have passed a deleted note's number.
//! - Stored protocol objects are kept as the exact CBOR bytes that were received or verified,
//!   so what a device downloads is byte-identical to what its author signed.

mod sqlite;

use std::collections::BTreeMap;

use hearth_protocol::ids::Signed;
use hearth_protocol::membership::SignedJoin;
use hearth_protocol::{DeviceId, GroupId, Hash};

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the relay database at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path} is not a Hearth relay database (application_id {found:#x})")]
    NotRelayDatabase { path: String, found: i64 },
    #[error("the relay database was written by a newer relay (schema {found}; this build knows up to {supported})")]
    TooNew { found: i64, supported: i64 },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row that no longer decodes or verifies: damage, or a bug.
    #[error("stored data is damaged ({what}): {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("the relay database is closed")]
    Closed,
}

/// An envelope about to be stored. `encoded` is the CBOR of the whole `Envelope`.
#[derive(Debug, Clone)]
pub struct NewEnvelope<'a> {
    pub author: DeviceId,
    pub seq: u64,
    pub epoch: u32,
    pub chapters: &'a [u32],
    pub id: Hash,
    pub encoded: &'a [u8],
    pub received_at: i64,
}

/// One stored envelope as a catch-up reads it.
#[derive(Debug, Clone)]
pub struct EnvelopeRow {
    pub cursor: u64,
    pub size: u64,
    pub encoded: Vec<u8>,
}

/// Which envelopes a catch-up wants: after `after`, under epochs from `min_epoch` on, leaving out
/// those a snapshot replaces (`skip`: up to and including cursor `.0`, whose chapter list is
/// exactly `[.1]`) and those written by `not_by`.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeScan {
    pub after: u64,
    pub min_epoch: u32,
    pub skip: Option<(u64, u32)>,
    pub not_by: Option<DeviceId>,
}

/// Envelope bytes in a cursor range, split by whether a snapshot of `chapter` would replace them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeSizes {
    /// Envelopes whose chapter list is exactly `[chapter]`.
    pub replaceable: u64,
    /// Everything else in the range (other or several chapters).
    pub other: u64,
}

/// A snapshot about to be stored. `encoded` is the CBOR of the whole `Snapshot`.
#[derive(Debug, Clone)]
pub struct NewSnapshot<'a> {
    pub chapter: u32,
    pub epoch: u32,
    pub covers: u64,
    pub maker: DeviceId,
    pub id: Hash,
    pub encoded: &'a [u8],
    pub received_at: i64,
}

/// What the relay knows about a stored snapshot without loading its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub chapter: u32,
    pub epoch: u32,
    pub covers: u64,
    pub maker: DeviceId,
    pub id: Hash,
    pub size: u64,
}

/// A direct note about to be stored. `encoded` is the CBOR of the whole `Direct`.
#[derive(Debug, Clone)]
pub struct NewDirect<'a> {
    pub sender: DeviceId,
    pub recipient: DeviceId,
    pub id: [u8; 16],
    pub encoded: &'a [u8],
    pub received_at: i64,
}

/// One stored direct note as delivery reads it.
#[derive(Debug, Clone)]
pub struct DirectRow {
    /// The relay's number for it (unique across the relay, never reused).
    pub seq: u64,
    pub size: u64,
    pub encoded: Vec<u8>,
}

/// A direct note already held under a recipient and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDirect {
    pub sender: DeviceId,
    pub encoded: Vec<u8>,
}

/// A registration waiting for a moderator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingJoin {
    pub invite: DeviceId,
    pub device: DeviceId,
    pub join: SignedJoin,
}

/// Reads, inside one consistent snapshot.
pub trait ReadTx {
    /// How many membership operations the group's log holds (0: no such group).
    fn log_len(&mut self, group: &GroupId) -> Result<u64, StoreError>;
    /// The group's operations from index `from` on, in order.
    fn log_ops(&mut self, group: &GroupId, from: u64) -> Result<Vec<Signed>, StoreError>;
    fn log_op(&mut self, group: &GroupId, index: u64) -> Result<Option<Signed>, StoreError>;
    /// The group whose log made invite `invite`.
    fn invite_group(&mut self, invite: &DeviceId) -> Result<Option<GroupId>, StoreError>;

    /// The group's newest envelope cursor (0: none yet).
    fn newest_cursor(&mut self, group: &GroupId) -> Result<u64, StoreError>;
    /// The author's newest stored envelope: its sequence number and id.
    fn author_head(
        &mut self,
        group: &GroupId,
        author: &DeviceId,
    ) -> Result<Option<(u64, Hash)>, StoreError>;
    /// The id of the envelope stored at `(group, author, seq)`.
    fn envelope_id(
        &mut self,
        group: &GroupId,
        author: &DeviceId,
        seq: u64,
    ) -> Result<Option<Hash>, StoreError>;
    /// Every author's newest stored sequence number.
    fn newest_seqs(&mut self, group: &GroupId) -> Result<BTreeMap<DeviceId, u64>, StoreError>;
    /// Visits matching envelopes in cursor order until `visit` returns `false`.
    fn scan_envelopes(
        &mut self,
        group: &GroupId,
        scan: &EnvelopeScan,
        visit: &mut dyn FnMut(EnvelopeRow) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;
    /// Sizes of the envelopes in `(after, until]` under epochs from `min_epoch` on.
    fn range_sizes(
        &mut self,
        group: &GroupId,
        after: u64,
        until: u64,
        chapter: u32,
        min_epoch: u32,
    ) -> Result<RangeSizes, StoreError>;
    /// How many envelopes (at most `max_rows`) and bytes touching `chapter` as their newest
    /// chapter arrived after cursor `after`.
    fn chapter_growth(
        &mut self,
        group: &GroupId,
        after: u64,
        chapter: u32,
        max_rows: u64,
    ) -> Result<(u64, u64), StoreError>;

    fn snapshot_meta(
        &mut self,
        group: &GroupId,
        chapter: u32,
    ) -> Result<Option<SnapshotMeta>, StoreError>;
    /// The snapshot with the highest `covers` above `after` among chapters from `min_chapter` on.
    fn best_snapshot(
        &mut self,
        group: &GroupId,
        min_chapter: u32,
        after: u64,
    ) -> Result<Option<SnapshotMeta>, StoreError>;
    /// The CBOR of the stored `Snapshot` of `chapter`.
    fn snapshot_bytes(
        &mut self,
        group: &GroupId,
        chapter: u32,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    fn pending_join(
        &mut self,
        group: &GroupId,
        invite: &DeviceId,
    ) -> Result<Option<PendingJoin>, StoreError>;
    fn has_pending_join(&mut self, group: &GroupId, device: &DeviceId) -> Result<bool, StoreError>;
    /// How many distinct devices other than `except` have a registration waiting in the group.
    fn pending_devices_except(
        &mut self,
        group: &GroupId,
        except: &DeviceId,
    ) -> Result<u64, StoreError>;
    /// The group's pending registrations, oldest first.
    fn pending_joins(&mut self, group: &GroupId) -> Result<Vec<SignedJoin>, StoreError>;

    /// The highest direct note number ever assigned at this relay (0: none yet), deleted notes
    /// included.
    fn newest_direct(&mut self) -> Result<u64, StoreError>;
    /// The note held for `recipient` in the group under `id`.
    fn held_direct(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        id: &[u8; 16],
    ) -> Result<Option<HeldDirect>, StoreError>;
    /// Whether any note to `recipient` in the group numbered `upto` or lower is still held.
    fn has_directs_upto(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        upto: u64,
    ) -> Result<bool, StoreError>;
    /// Visits the notes to `recipient` in the group numbered above `after`, oldest first, until
    /// `visit` returns `false`.
    fn scan_directs(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        after: u64,
        visit: &mut dyn FnMut(DirectRow) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;
}

/// Writes, inside the one transaction of [`RelayStore::write`].
pub trait WriteTx: ReadTx {
    /// Marks a point to roll back to; one level (a request inside a group commit).
    fn savepoint(&mut self) -> Result<(), StoreError>;
    /// Keeps everything since the savepoint (it still commits with the transaction).
    fn release(&mut self) -> Result<(), StoreError>;
    /// Undoes everything since the savepoint.
    fn rollback_to_savepoint(&mut self) -> Result<(), StoreError>;

    fn create_group(
        &mut self,
        group: &GroupId,
        creator: &DeviceId,
        at: i64,
    ) -> Result<(), StoreError>;
    /// Appends `op` at `index` (which must be the log's length).
    fn append_op(
        &mut self,
        group: &GroupId,
        index: u64,
        author: &DeviceId,
        op: &Signed,
        at: i64,
    ) -> Result<(), StoreError>;
    fn index_invite(&mut self, invite: &DeviceId, group: &GroupId) -> Result<(), StoreError>;
    /// Stores an envelope at the next cursor and returns that cursor.
    fn insert_envelope(
        &mut self,
        group: &GroupId,
        envelope: &NewEnvelope<'_>,
    ) -> Result<u64, StoreError>;
    /// Stores a snapshot, replacing the chapter's previous one.
    fn put_snapshot(
        &mut self,
        group: &GroupId,
        snapshot: &NewSnapshot<'_>,
    ) -> Result<(), StoreError>;
    fn put_pending_join(
        &mut self,
        group: &GroupId,
        join: &PendingJoin,
        at: i64,
    ) -> Result<(), StoreError>;
    /// Drops the registration made with `invite` (consumed or revoked).
    fn remove_pending_join(&mut self, group: &GroupId, invite: &DeviceId)
        -> Result<(), StoreError>;
    /// Drops every registration of `device` in the group (she has been admitted).
    fn remove_device_joins(&mut self, group: &GroupId, device: &DeviceId)
        -> Result<(), StoreError>;

    /// Stores a direct note under the next number and returns that number.
    fn insert_direct(&mut self, group: &GroupId, note: &NewDirect<'_>) -> Result<u64, StoreError>;
    /// Deletes the notes to `recipient` in the group numbered `upto` or lower (her device has
    /// stored them); returns how many.
    fn delete_directs_upto(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
        upto: u64,
    ) -> Result<u64, StoreError>;
    /// Deletes every note to `recipient` in the group (she left it); returns how many.
    fn delete_directs_to(
        &mut self,
        group: &GroupId,
        recipient: &DeviceId,
    ) -> Result<u64, StoreError>;
}

/// A relay's durable state.
pub trait RelayStore: Send + Sync + 'static {
    /// Runs `work` against one consistent snapshot of committed data. Blocking.
    fn read(
        &self,
        work: &mut dyn FnMut(&mut dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Runs `work` in one transaction and commits it; `Ok` means durably committed. If `work`
    /// fails, the transaction is rolled back and its error returned. Blocking.
    fn write(
        &self,
        work: &mut dyn FnMut(&mut dyn WriteTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Flushes and closes; every later call fails with [`StoreError::Closed`].
    fn close(&self) -> Result<(), StoreError>;
}
