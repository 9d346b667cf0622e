//! The timeline: what a group's chat screen shows, read without loading the group's document.
//!
//! The Automerge document is the truth, but loading one with 20,000 messages takes hundreds of
//! milliseconds on a cheap phone. So every change to a message is also written here, in the same
//! transaction, as a *timeline entry*. Entries live in blocks of up to [`BLOCK_MAX`] consecutive
//! messages (by sort key), each block compressed and then sealed as one value. The first screen
//! reads the newest two or three blocks; older pages read further back on request. Blocks keep
//! the store small too: text compresses across neighbouring messages and one nonce and tag
//! cover a whole block, instead of one per message.
//!
//! Invariant: the blocks of a group partition its messages by sort key; a block's `first_key`
//! is the sort key of its first entry, and entries inside a block are sorted. A message's sort
//! key never changes, so an edit or reaction rewrites exactly the block that holds it.

use std::io::{Read, Write};

use flate2::{read::DeflateDecoder, write::DeflateEncoder, Compression};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::identity::DeviceId;
use crate::message::{MessageId, MessageRecord, Reaction, SortKey};
use crate::store::Writer;

/// Messages per block before it splits. 64 keeps a rewrite small (a few KiB) and a page of 50
/// within two or three blocks.
pub const BLOCK_MAX: usize = 64;

/// Whether a message has reached the relay. This device's messages are pending until the relay
/// acknowledges the change that created them (see [`crate::outbox`]); messages that arrived
/// from others are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sent,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
        }
    }
}

/// One message as the timeline stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EntryWire", into = "EntryWire")]
pub struct Entry {
    id: [u8; 16],
    stamp: i64,
    author: [u8; 32],
    sent_at: i64,
    text: String,
    edited_at: Option<i64>,
    deleted: bool,
    /// Per reaction, the reacting devices' keys concatenated.
    reactions: Vec<(Reaction, serde_bytes::ByteBuf)>,
    /// For this device's messages, the sequence number of the change that created it; 0 for
    /// messages from others.
    local_seq: u64,
    warning: Option<String>,
}

/// How an entry is encoded: a CBOR array rather than a map, so field names are not repeated
/// in every entry of every block.
#[derive(Serialize, Deserialize)]
struct EntryWire(
    serde_bytes::ByteArray<16>,
    i64,
    serde_bytes::ByteArray<32>,
    i64,
    String,
    Option<i64>,
    bool,
    Vec<(Reaction, serde_bytes::ByteBuf)>,
    u64,
    // Added with content warnings; entries written before have none.
    #[serde(default)] Option<String>,
);

impl From<Entry> for EntryWire {
    fn from(e: Entry) -> Self {
        EntryWire(
            e.id.into(),
            e.stamp,
            e.author.into(),
            e.sent_at,
            e.text,
            e.edited_at,
            e.deleted,
            e.reactions,
            e.local_seq,
            e.warning,
        )
    }
}

impl From<EntryWire> for Entry {
    fn from(w: EntryWire) -> Self {
        Entry {
            id: w.0.into_array(),
            stamp: w.1,
            author: w.2.into_array(),
            sent_at: w.3,
            text: w.4,
            edited_at: w.5,
            deleted: w.6,
            reactions: w.7,
            local_seq: w.8,
            warning: w.9,
        }
    }
}

impl Entry {
    fn new(record: &MessageRecord, local_seq: u64) -> Self {
        Entry {
            id: record.id.0,
            stamp: record.stamp,
            author: record.author.0,
            sent_at: record.sent_at,
            text: record.text.clone(),
            edited_at: record.edited_at,
            deleted: record.deleted,
            reactions: record
                .reactions
                .iter()
                .map(|(r, devices)| {
                    (
                        *r,
                        serde_bytes::ByteBuf::from(
                            devices.iter().flat_map(|d| d.0).collect::<Vec<u8>>(),
                        ),
                    )
                })
                .collect(),
            local_seq,
            warning: record.warning.clone(),
        }
    }

    pub fn sort_key(&self) -> SortKey {
        SortKey {
            stamp: self.stamp,
            id: MessageId(self.id),
        }
    }
    pub fn id(&self) -> MessageId {
        MessageId(self.id)
    }
    pub fn author(&self) -> DeviceId {
        DeviceId(self.author)
    }
    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn sent_at(&self) -> i64 {
        self.sent_at
    }
    pub fn edited_at(&self) -> Option<i64> {
        self.edited_at
    }
    pub fn deleted(&self) -> bool {
        self.deleted
    }
    /// The author's content warning, if any.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }
    /// The sequence number of the local change that created this message (0: not local).
    pub fn local_seq(&self) -> u64 {
        self.local_seq
    }
    /// Delivery state given the group's outbox.
    pub fn state(&self, outbox: &crate::outbox::Outbox) -> DeliveryState {
        if self.local_seq != 0 && outbox.is_pending(self.local_seq) {
            DeliveryState::Pending
        } else {
            DeliveryState::Sent
        }
    }
    /// Each reaction with the devices that gave it.
    pub fn reactions(&self) -> impl Iterator<Item = (Reaction, Vec<DeviceId>)> + '_ {
        self.reactions.iter().map(|(r, keys)| {
            (
                *r,
                keys.chunks_exact(32)
                    .filter_map(DeviceId::from_slice)
                    .collect(),
            )
        })
    }
}

/// A change to write into the timeline: the message as it now is, and for a message this
/// device just created, the sequence number of its change (`None` keeps what is stored).
pub struct Update {
    pub record: MessageRecord,
    pub local_seq: Option<u64>,
}

fn block_aad(group_row: i64, first_key: &[u8]) -> Vec<u8> {
    let mut aad = format!("timeline_blocks/{group_row}/").into_bytes();
    aad.extend_from_slice(first_key);
    aad
}

fn encode_block(
    cipher: &StoreCipher,
    group_row: i64,
    first_key: &[u8],
    entries: &[Entry],
) -> Result<Vec<u8>, StoreError> {
    let mut cbor = Vec::new();
    ciborium::into_writer(entries, &mut cbor).map_err(|e| decode_err(e.to_string()))?;
    let mut z = DeflateEncoder::new(Vec::with_capacity(cbor.len() / 2), Compression::default());
    z.write_all(&cbor)?;
    Ok(cipher.seal(&block_aad(group_row, first_key), &z.finish()?)?)
}

fn decode_block(
    cipher: &StoreCipher,
    group_row: i64,
    first_key: &[u8],
    sealed: &[u8],
) -> Result<Vec<Entry>, StoreError> {
    let compressed = cipher.open(&block_aad(group_row, first_key), sealed)?;
    let mut cbor = Vec::new();
    DeflateDecoder::new(compressed.as_slice())
        .read_to_end(&mut cbor)
        .map_err(|e| decode_err(e.to_string()))?;
    ciborium::from_reader(cbor.as_slice()).map_err(|e| decode_err(e.to_string()))
}

fn decode_err(detail: String) -> StoreError {
    StoreError::Decode {
        what: "timeline block".into(),
        detail,
    }
}

/// A block read for modification, remembering where it came from.
struct OpenBlock {
    /// The row's key as stored; `None` for a block that does not exist yet.
    stored_key: Option<Vec<u8>>,
    /// First key of the next block: entries at or after it belong elsewhere.
    upper: Option<Vec<u8>>,
    /// Whether this is the group's first block (which also takes keys before its first entry).
    first: bool,
    entries: Vec<Entry>,
}

impl OpenBlock {
    fn covers(&self, key: &[u8]) -> bool {
        let below_upper = self.upper.as_deref().is_none_or(|u| key < u);
        let above_lower = self.first || self.stored_key.as_deref().is_none_or(|l| key >= l);
        below_upper && above_lower
    }
}

/// Writes updates into the group's blocks. Runs inside the caller's transaction.
pub fn apply(w: &Writer<'_>, group_row: i64, updates: Vec<Update>) -> Result<(), StoreError> {
    let mut updates = updates;
    updates.sort_by_key(|u| u.record.sort_key());
    let mut open: Option<OpenBlock> = None;
    for update in updates {
        let key = update.record.sort_key().to_bytes();
        if !open.as_ref().is_some_and(|b| b.covers(&key)) {
            if let Some(done) = open.take() {
                flush(w, group_row, done)?;
            }
            open = Some(load_for(w, group_row, &key)?);
        }
        let block = open.as_mut().expect("a block was opened above");
        let pos = block
            .entries
            .binary_search_by(|e| e.sort_key().to_bytes().cmp(&key));
        match pos {
            Ok(i) => {
                let seq = update.local_seq.unwrap_or(block.entries[i].local_seq);
                block.entries[i] = Entry::new(&update.record, seq);
            }
            Err(i) => {
                let seq = update.local_seq.unwrap_or(0);
                block.entries.insert(i, Entry::new(&update.record, seq));
            }
        }
    }
    if let Some(done) = open {
        flush(w, group_row, done)?;
    }
    Ok(())
}

fn load_for(w: &Writer<'_>, group_row: i64, key: &[u8]) -> Result<OpenBlock, StoreError> {
    let found: Option<(Vec<u8>, Vec<u8>)> =
        w.tx.query_row(
            "SELECT first_key, body FROM timeline_blocks
             WHERE group_id = ?1 AND first_key <= ?2 ORDER BY first_key DESC LIMIT 1",
            params![group_row, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let found = match found {
        Some(f) => Some(f),
        None => w
            .tx
            .query_row(
                "SELECT first_key, body FROM timeline_blocks WHERE group_id = ?1 ORDER BY first_key ASC LIMIT 1",
                params![group_row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
    };
    let Some((stored_key, body)) = found else {
        return Ok(OpenBlock {
            stored_key: None,
            upper: None,
            first: true,
            entries: Vec::new(),
        });
    };
    let entries = decode_block(w.cipher, group_row, &stored_key, &body)?;
    let upper: Option<Vec<u8>> = w
        .tx
        .query_row(
            "SELECT first_key FROM timeline_blocks WHERE group_id = ?1 AND first_key > ?2 ORDER BY first_key ASC LIMIT 1",
            params![group_row, stored_key],
            |r| r.get(0),
        )
        .optional()?;
    let first: bool = w.tx.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM timeline_blocks WHERE group_id = ?1 AND first_key < ?2)",
        params![group_row, stored_key],
        |r| r.get(0),
    )?;
    Ok(OpenBlock {
        stored_key: Some(stored_key),
        upper,
        first,
        entries,
    })
}

fn flush(w: &Writer<'_>, group_row: i64, block: OpenBlock) -> Result<(), StoreError> {
    if let Some(old) = &block.stored_key {
        w.tx.execute(
            "DELETE FROM timeline_blocks WHERE group_id = ?1 AND first_key = ?2",
            params![group_row, old],
        )?;
    }
    for chunk in block.entries.chunks(BLOCK_MAX) {
        let first_key = chunk[0].sort_key().to_bytes();
        let body = encode_block(w.cipher, group_row, &first_key, chunk)?;
        w.tx.execute(
            "INSERT INTO timeline_blocks (group_id, first_key, body) VALUES (?1, ?2, ?3)",
            params![group_row, first_key.as_slice(), body],
        )?;
    }
    Ok(())
}

/// Reads up to `limit` entries older than `before` (or the newest, if `None`), oldest first,
/// and whether there are more before them. Touches only the blocks it returns entries from.
pub fn page(
    conn: &Connection,
    cipher: &StoreCipher,
    group_row: i64,
    before: Option<SortKey>,
    limit: usize,
) -> Result<(Vec<Entry>, bool), StoreError> {
    let upper = before
        .map(|k| k.to_bytes().to_vec())
        .unwrap_or_else(|| vec![0xff; 25]);
    let mut stmt = conn.prepare_cached(
        "SELECT first_key, body FROM timeline_blocks
         WHERE group_id = ?1 AND first_key <= ?2 ORDER BY first_key DESC",
    )?;
    let mut rows = stmt.query(params![group_row, upper])?;
    let mut newest_first = Vec::with_capacity(limit.saturating_add(1).min(256));
    while newest_first.len() <= limit {
        let Some(row) = rows.next()? else { break };
        let key: Vec<u8> = row.get(0)?;
        let body: Vec<u8> = row.get(1)?;
        let entries = decode_block(cipher, group_row, &key, &body)?;
        newest_first.extend(
            entries
                .into_iter()
                .rev()
                .filter(|e| before.is_none_or(|b| e.sort_key() < b))
                .take(limit.saturating_add(1) - newest_first.len()),
        );
    }
    let more = newest_first.len() > limit;
    newest_first.truncate(limit);
    newest_first.reverse();
    Ok((newest_first, more))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crypto::{SecretKey, StoreSecret};
    use crate::store::Store;

    fn store(dir: &std::path::Path) -> Store {
        Store::create::<StoreError>(
            &dir.join("t.db"),
            &StoreSecret::RawKey(SecretKey::from_bytes([1; 32])),
            |w| {
                w.tx.execute(
                    "INSERT INTO groups (id, group_hash, body) VALUES (1, x'01', x'')",
                    [],
                )?;
                Ok(())
            },
        )
        .unwrap()
    }

    fn record(stamp: i64, b: u8, text: &str) -> MessageRecord {
        let mut id = [0u8; 16];
        id[0] = b;
        id[1] = (stamp % 251) as u8;
        MessageRecord {
            id: MessageId(id),
            author: DeviceId([b; 32]),
            text: text.into(),
            sent_at: stamp,
            stamp,
            edited_at: None,
            deleted: false,
            reactions: BTreeMap::new(),
            warning: None,
        }
    }

    #[test]
    fn entries_written_before_content_warnings_still_read() {
        let mut e = Entry::new(&record(5, 1, "hello"), 0);
        e.warning = Some("loss".into());
        let mut new = Vec::new();
        ciborium::into_writer(&e, &mut new).unwrap();
        assert_eq!(
            ciborium::from_reader::<Entry, _>(new.as_slice()).unwrap(),
            e
        );
        // The same entry as schema 3 wrote it: nine fields, no warning.
        let w: EntryWire = e.clone().into();
        let old = (w.0, w.1, w.2, w.3, w.4, w.5, w.6, w.7, w.8);
        let mut bytes = Vec::new();
        ciborium::into_writer(&old, &mut bytes).unwrap();
        let read: Entry = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(read.warning, None);
        assert_eq!(read.text, "hello");
    }

    fn all(s: &Store) -> Vec<Entry> {
        page(s.conn(), s.cipher(), 1, None, usize::MAX - 1)
            .unwrap()
            .0
    }

    fn block_sizes(s: &Store) -> Vec<usize> {
        let mut stmt = s
            .conn()
            .prepare(
                "SELECT first_key, body FROM timeline_blocks WHERE group_id = 1 ORDER BY first_key",
            )
            .unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.iter()
            .map(|(k, b)| {
                let entries = decode_block(s.cipher(), 1, k, b).unwrap();
                assert_eq!(
                    &entries[0].sort_key().to_bytes()[..],
                    &k[..],
                    "first_key matches first entry"
                );
                entries.len()
            })
            .collect()
    }

    fn write(s: &mut Store, updates: Vec<Update>) {
        s.write::<_, StoreError>(|w| apply(w, 1, updates)).unwrap();
    }

    #[test]
    fn appends_fill_blocks_and_pages_walk_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        for i in 0..200 {
            write(
                &mut s,
                vec![Update {
                    record: record(1000 + i, 1, &format!("message {i}")),
                    local_seq: Some(1),
                }],
            );
        }
        assert_eq!(block_sizes(&s), vec![64, 64, 64, 8]);
        let (newest, more) = page(s.conn(), s.cipher(), 1, None, 50).unwrap();
        assert!(more);
        assert_eq!(newest.len(), 50);
        assert_eq!(newest[0].text(), "message 150");
        assert_eq!(newest[49].text(), "message 199");
        let mut seen = newest.len();
        let mut cursor = newest[0].sort_key();
        loop {
            let (older, more) = page(s.conn(), s.cipher(), 1, Some(cursor), 50).unwrap();
            assert!(older.windows(2).all(|w| w[0].sort_key() < w[1].sort_key()));
            assert!(older.last().unwrap().sort_key() < cursor);
            seen += older.len();
            cursor = older[0].sort_key();
            if !more {
                break;
            }
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn out_of_order_arrivals_land_in_order_and_updates_keep_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        // Deterministic shuffle of 300 stamps, written in batches of varying size.
        let mut stamps: Vec<i64> = (0..300).map(|i| (i * 7919) % 300).collect();
        stamps.dedup();
        let mut it = stamps.chunks(13);
        for batch in it.by_ref() {
            write(
                &mut s,
                batch
                    .iter()
                    .map(|&t| Update {
                        record: record(t, 2, &format!("m{t}")),
                        local_seq: None,
                    })
                    .collect(),
            );
        }
        let got = all(&s);
        assert_eq!(got.len(), 300);
        assert!(got.windows(2).all(|w| w[0].sort_key() < w[1].sort_key()));
        assert!(block_sizes(&s)
            .iter()
            .all(|&n| (1..=BLOCK_MAX).contains(&n)));

        // An edit keeps the stored state; a state change flips it.
        let mut r = record(42, 2, "m42 edited");
        r.edited_at = Some(99);
        write(
            &mut s,
            vec![Update {
                record: r.clone(),
                local_seq: None,
            }],
        );
        let e = all(&s).into_iter().find(|e| e.id() == r.id).unwrap();
        assert_eq!((e.text(), e.local_seq()), ("m42 edited", 0));
        let mut outbox = crate::outbox::Outbox::default();
        assert_eq!(
            e.state(&outbox),
            DeliveryState::Sent,
            "others' messages are sent"
        );
        // A local message keeps its sequence through an edit and is pending until acknowledged.
        write(
            &mut s,
            vec![Update {
                record: r.clone(),
                local_seq: Some(7),
            }],
        );
        r.text = "m42 edited twice".into();
        write(
            &mut s,
            vec![Update {
                record: r.clone(),
                local_seq: None,
            }],
        );
        let e = all(&s).into_iter().find(|e| e.id() == r.id).unwrap();
        assert_eq!((e.text(), e.local_seq()), ("m42 edited twice", 7));
        for seq in 1..=7 {
            outbox.record(seq).unwrap();
        }
        assert_eq!(e.state(&outbox), DeliveryState::Pending);
        outbox.acknowledge(7).unwrap();
        assert_eq!(e.state(&outbox), DeliveryState::Sent);
        assert_eq!(all(&s).len(), 300);
    }

    #[test]
    fn an_older_message_than_all_others_becomes_the_first_block() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        write(
            &mut s,
            (100..110)
                .map(|t| Update {
                    record: record(t, 1, "later"),
                    local_seq: None,
                })
                .collect(),
        );
        write(
            &mut s,
            vec![Update {
                record: record(5, 1, "earliest"),
                local_seq: None,
            }],
        );
        let got = all(&s);
        assert_eq!(got[0].text(), "earliest");
        assert_eq!(block_sizes(&s), vec![11]);
    }

    #[test]
    fn blocks_hide_text_and_are_bound_to_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        write(
            &mut s,
            vec![Update {
                record: record(1, 1, "distinctive words"),
                local_seq: None,
            }],
        );
        let (key, body): (Vec<u8>, Vec<u8>) = s
            .conn()
            .query_row("SELECT first_key, body FROM timeline_blocks", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(!body.windows(11).any(|w| w == b"distinctive"));
        assert!(
            decode_block(s.cipher(), 2, &key, &body).is_err(),
            "another group's block does not decrypt"
        );
    }
}
