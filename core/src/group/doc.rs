//! The typed face of a group chapter's Automerge document. No other module touches Automerge
//! paths.
//!
//! A group's conversation is a series of **chapters**, one per key epoch (see
//! `docs/decisions.md` #5). A member admitted in epoch 7 receives chapters 7 onwards and nothing
//! older, so she sees history from her admission on — enforced by keys, not by a screen filter.
//!
//! Layout of a chapter (schema 2):
//! ```text
//! ROOT { v: 2, group: bytes, chapter: int,              ← genesis, identical on every device
//!        name?, capacity_reason?                        ← moderators
//!        profiles: { <device hex>: pseudonym }          ← each device writes only its own key
//!        messages: { <message id hex>: { text, sent_at, stamp, cw? } } ← immutable once written;
//!                                                          the author is the actor that made it
//!        marks:    { "<id hex>/<kind>/<device hex>": value } }      ← edits, deletes, reactions,
//!                                                          moderation records (kind `m`)
//! ```
//! The genesis change is built the same way by every device (fixed actor, time 0), so no device
//! waits for anyone before writing in a new chapter and two devices never create the same map
//! twice (which would make one vanish). Everything written afterwards is a flat key owned by
//! one device: marks name their writer in the key, so concurrent edits never conflict and a
//! mark is honoured only when its writer may make it (an edit only by the message's author).
//! Marks may point at messages in earlier chapters: a device always writes in the newest one.
//!
//! Incoming changes are untrusted. [`ChapterDoc::check_change`] inspects every operation of a
//! change before it is applied: the actor must be the device that signed the envelope, and each
//! operation must be one that device may make. Reading validates types too; a value of the wrong
//! shape is an [`Error::Document`], never a panic.

use std::collections::BTreeMap;

use automerge::legacy::{Key as OpKey, ObjectId, OpId, OpType};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, Change, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use hearth_protocol::ids::{Domain, Hash};

use crate::error::{Error, Result};
use crate::group::GroupId;
use crate::identity::{parse_hex, DeviceId};
use crate::message::{MessageId, MessageText, Reaction};
use crate::moderation::{Held, ModRecord, RecordId};

/// Longest content warning an author may put on a message, in characters.
pub const MAX_WARNING_CHARS: usize = 100;

const SCHEMA: i64 = 2;
const GENESIS_MAPS: [&str; 3] = ["profiles", "messages", "marks"];

/// One change this device made: its Automerge sequence number in the chapter and its bytes.
#[derive(Debug, Clone)]
pub struct LocalChange {
    pub seq: u64,
    pub hash: [u8; 32],
    pub bytes: Vec<u8>,
}

/// A message as its chapter holds it, before edits, deletes and reactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseMessage {
    pub id: MessageId,
    pub author: DeviceId,
    pub text: String,
    pub sent_at: i64,
    pub stamp: i64,
    /// The author's content warning, if she gave one.
    pub warning: Option<String>,
}

/// What a mark says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The author replaced the text.
    Text(String),
    EditedAt(i64),
    /// The author deleted the message.
    Deleted(bool),
    Reaction(Reaction, bool),
    /// A moderation record (see [`crate::moderation`]); the mark's id is the record's.
    Record(Box<ModRecord>),
}

impl Mark {
    fn kind(&self) -> String {
        match self {
            Mark::Text(_) => "t".into(),
            Mark::EditedAt(_) => "ea".into(),
            Mark::Deleted(_) => "d".into(),
            Mark::Reaction(r, _) => format!("r/{}", r.key()),
            Mark::Record(_) => "m".into(),
        }
    }

    fn value(&self) -> ScalarValue {
        match self {
            Mark::Text(t) => ScalarValue::Str(t.as_str().into()),
            Mark::EditedAt(n) => ScalarValue::Int(*n),
            Mark::Deleted(b) | Mark::Reaction(_, b) => ScalarValue::Boolean(*b),
            Mark::Record(r) => ScalarValue::Bytes(r.encode()),
        }
    }

    fn parse(kind: &str, value: &ScalarValue) -> Option<Mark> {
        match (kind, value) {
            ("t", ScalarValue::Str(s)) if s.len() <= MessageText::MAX_BYTES => {
                Some(Mark::Text(s.to_string()))
            }
            ("ea", ScalarValue::Int(n)) => Some(Mark::EditedAt(*n)),
            ("d", ScalarValue::Boolean(b)) => Some(Mark::Deleted(*b)),
            ("m", ScalarValue::Bytes(b)) => ModRecord::decode(b).map(|r| Mark::Record(Box::new(r))),
            (k, ScalarValue::Boolean(b)) => k
                .strip_prefix("r/")
                .and_then(|r| Reaction::parse(r).ok())
                .map(|r| Mark::Reaction(r, *b)),
            _ => None,
        }
    }
}

/// What an incoming change touches, so only those timeline entries are rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub messages: Vec<MessageId>,
    /// Pseudonyms, or the group's name or capacity reason.
    pub profile_or_info: bool,
    /// Moderation records (checked: each by someone who may write it).
    pub records: Vec<Held>,
}

impl Touched {
    pub fn merge(&mut self, other: Touched) {
        self.messages.extend(other.messages);
        self.profile_or_info |= other.profile_or_info;
        self.records.extend(other.records);
    }
}

/// How a batch of received changes is stored as one chunk: this prefix (never the start of an
/// Automerge chunk, whose magic is `85 6f 4a 83`), then a CBOR list of the changes. A batch's
/// changes may depend on changes in other chunks, which a concatenation loaded on its own
/// would reject.
const BATCH_MAGIC: &[u8] = b"HCB1";

/// Encodes received changes as one stored chunk (see [`ChapterDoc::load`]).
pub fn encode_batch<'a>(changes: impl Iterator<Item = &'a Change>) -> Vec<u8> {
    let list: Vec<&serde_bytes::Bytes> = changes
        .map(|c| serde_bytes::Bytes::new(c.raw_bytes()))
        .collect();
    let mut out = BATCH_MAGIC.to_vec();
    ciborium::into_writer(&list, &mut out).expect("CBOR into memory");
    out
}

/// Why an incoming change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("change refused: {0}")]
pub struct Refused(pub String);

pub struct ChapterDoc {
    doc: AutoCommit,
    chapter: u32,
    genesis: ActorId,
    genesis_hash: automerge::ChangeHash,
    /// Nothing but the genesis has been applied (tracked, because asking Automerge is costly).
    fresh: bool,
}

fn doc_err(what: impl std::fmt::Display) -> Error {
    Error::Document(what.to_string())
}

/// The genesis actor of a chapter: derived, 16 bytes, so it can never be a device (32 bytes).
fn genesis_actor(group: &GroupId, chapter: u32) -> ActorId {
    let h = Hash::of(
        Domain::Attestation,
        &[b"chapter-genesis", &group.0, &chapter.to_be_bytes()],
    );
    ActorId::from(&h.0[..16])
}

impl ChapterDoc {
    /// The chapter's first state, identical on every device.
    pub fn genesis(group: &GroupId, chapter: u32, me: DeviceId) -> Result<ChapterDoc> {
        let genesis = genesis_actor(group, chapter);
        let mut doc = AutoCommit::new().with_actor(genesis.clone());
        doc.put(&ROOT, "v", SCHEMA).map_err(doc_err)?;
        doc.put(&ROOT, "group", ScalarValue::Bytes(group.0.to_vec()))
            .map_err(doc_err)?;
        doc.put(&ROOT, "chapter", chapter as i64).map_err(doc_err)?;
        for m in GENESIS_MAPS {
            doc.put_object(&ROOT, m, ObjType::Map).map_err(doc_err)?;
        }
        doc.commit_with(CommitOptions::default().with_time(0));
        let genesis_hash = doc.get_heads()[0];
        doc.set_actor(ActorId::from(me.0.to_vec()));
        Ok(ChapterDoc {
            doc,
            chapter,
            genesis,
            genesis_hash,
            fresh: true,
        })
    }

    /// Loads a chapter from stored chunks (a snapshot and/or changes), acting as `me`. The
    /// genesis is rebuilt, never stored.
    pub fn load<'a>(
        group: &GroupId,
        chapter: u32,
        me: DeviceId,
        chunks: impl Iterator<Item = &'a [u8]>,
    ) -> Result<ChapterDoc> {
        let mut c = ChapterDoc::genesis(group, chapter, me)?;
        for chunk in chunks {
            c.load_strict(chunk)?;
        }
        if c.int(&ROOT, "v")? != SCHEMA || c.int(&ROOT, "chapter")? != chapter as i64 {
            return Err(doc_err("stored chapter does not match its place"));
        }
        Ok(c)
    }

    pub fn chapter(&self) -> u32 {
        self.chapter
    }

    /// The whole chapter, compacted: what a snapshot stores.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Checks that `change`, signed by `signer`, makes only operations `signer` may make.
    /// `moderator` says whether the signer is a moderator of the group.
    pub fn check_change(
        &self,
        change: &Change,
        signer: &DeviceId,
        moderator: bool,
    ) -> std::result::Result<Touched, Refused> {
        self.check_change_in(change, signer, moderator, true)
    }

    /// [`Self::check_change`] for a change already inside this document (a snapshot being
    /// verified), where its own message ids are of course taken; the snapshot is checked for
    /// competing creations with [`Self::has_competing_messages`] instead.
    pub fn check_held_change(
        &self,
        change: &Change,
        signer: &DeviceId,
        moderator: bool,
    ) -> std::result::Result<Touched, Refused> {
        self.check_change_in(change, signer, moderator, false)
    }

    /// Whether two creations compete for one message id (only a forger makes that happen).
    pub fn has_competing_messages(&self) -> Result<bool> {
        let messages = self.map(&ROOT, "messages")?;
        for key in self.doc.keys(&messages) {
            if self
                .doc
                .get_all(&messages, key.as_str())
                .map_err(doc_err)?
                .len()
                > 1
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn check_change_in(
        &self,
        change: &Change,
        signer: &DeviceId,
        moderator: bool,
        new_ids: bool,
    ) -> std::result::Result<Touched, Refused> {
        if change.actor_id().to_bytes() != signer.0 {
            return Err(Refused(format!(
                "its author is {}, not the device that signed it ({})",
                short_actor(change.actor_id()),
                signer.short()
            )));
        }
        let me = change.actor_id();
        let signer_hex = signer.to_hex();
        let expanded = change.decode();
        let mut touched = Touched::default();
        for op in &expanded.operations {
            let key = match &op.key {
                OpKey::Map(k) => k.as_str(),
                OpKey::Seq(_) => return Err(Refused("it edits a list; chapters have none".into())),
            };
            let put = match &op.action {
                OpType::Put(v) => Some(v),
                _ => None,
            };
            let which = match &op.obj {
                ObjectId::Root => "root",
                ObjectId::Id(OpId(counter, actor)) if *actor == self.genesis => match *counter {
                    4 => "profiles",
                    5 => "messages",
                    6 => "marks",
                    _ => return Err(Refused("it writes into an unknown object".into())),
                },
                ObjectId::Id(OpId(_, actor)) if actor == me => "own message",
                ObjectId::Id(_) => {
                    return Err(Refused(format!(
                        "it writes into another member's message (key {key:?})"
                    )))
                }
            };
            let ok = match which {
                "root" => {
                    moderator
                        && matches!(key, "name" | "capacity_reason")
                        && matches!(put, Some(ScalarValue::Str(s)) if s.chars().count() <= 500)
                }
                "profiles" => {
                    key == signer_hex
                        && matches!(put, Some(ScalarValue::Str(s)) if crate::identity::Pseudonym::parse(s).is_ok())
                }
                "messages" => {
                    // A message id names one message forever: a second creation under an id
                    // already held would take the message over (Automerge would make it the
                    // winner of a conflict), so it is refused. Ids are random; only someone
                    // who has seen the message knows its id.
                    parse_hex::<16>(key).is_some()
                        && matches!(op.action, OpType::Make(ObjType::Map))
                        && op.pred.is_empty()
                        && (!new_ids || self.message_id_free(key))
                }
                "marks" => {
                    let parsed = key
                        .rsplit_once('/')
                        .filter(|(_, writer)| *writer == signer_hex)
                        .and_then(|(rest, _)| rest.split_once('/'))
                        .and_then(|(id, kind)| parse_hex::<16>(id).map(|id| (id, kind)));
                    match (
                        parsed,
                        put.and_then(|v| parsed.and_then(|(_, k)| Mark::parse(k, v))),
                    ) {
                        // A record is written once and never overwritten (the history is the
                        // audit log), and only by someone who may make it.
                        (Some((id, _)), Some(Mark::Record(record))) => {
                            let ok = op.pred.is_empty()
                                && (moderator || !record.action.needs_moderator());
                            if ok {
                                touched.records.push(Held {
                                    id: RecordId(id),
                                    by: *signer,
                                    chapter: self.chapter,
                                    carried: false,
                                    record: *record,
                                });
                            }
                            ok
                        }
                        (Some(_), Some(_)) => true,
                        _ => false,
                    }
                }
                _ => {
                    op.pred.is_empty()
                        && match (key, put) {
                            ("text", Some(ScalarValue::Str(s))) => MessageText::parse(s).is_ok(),
                            ("cw", Some(ScalarValue::Str(s))) => valid_warning(s),
                            ("sent_at" | "stamp", Some(ScalarValue::Int(_))) => true,
                            _ => false,
                        }
                }
            };
            if !ok {
                return Err(Refused(format!(
                    "operation on {which} key {key:?} is not allowed for this member"
                )));
            }
            match which {
                "root" | "profiles" => touched.profile_or_info = true,
                "messages" => touched.messages.extend(parse_hex::<16>(key).map(MessageId)),
                "marks" if !key.contains("/m/") => touched.messages.extend(
                    key.split_once('/')
                        .and_then(|(id, _)| parse_hex::<16>(id))
                        .map(MessageId),
                ),
                _ => {}
            }
        }
        Ok(touched)
    }

    /// The chapter's current heads.
    pub fn heads(&mut self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }

    /// Changes applied since `heads`, oldest first.
    pub fn changes_since(&mut self, heads: &[automerge::ChangeHash]) -> Vec<Change> {
        self.doc.get_changes(heads)
    }

    /// Whether changes are waiting for others they depend on (a gap in what arrived).
    pub fn has_missing_deps(&mut self) -> bool {
        !self.doc.get_missing_deps(&[]).is_empty()
    }

    /// Every change in the chapter, oldest first.
    pub fn all_changes(&mut self) -> Vec<Change> {
        self.changes_since(&[])
    }

    /// Each device's newest change in the chapter: (automerge seq, hash). The genesis actor
    /// is not a device and is left out.
    pub fn author_heads(&mut self) -> BTreeMap<DeviceId, (u64, Hash)> {
        Self::author_heads_of(&self.doc.get_changes(&[]))
    }

    /// Whether `hash` is a change this chapter already holds.
    pub fn has_change(&mut self, hash: &automerge::ChangeHash) -> bool {
        self.doc.get_change_by_hash(hash).is_some()
    }

    /// Whether the chapter holds nothing but its genesis.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Whether `change` is this chapter's genesis (the only change not made by a device).
    pub fn is_genesis(&self, change: &Change) -> bool {
        *change.actor_id() == self.genesis && change.hash() == self.genesis_hash
    }

    /// Replaces this chapter's document with `other`'s (a verified snapshot loaded into a fresh
    /// chapter), keeping this device as the actor.
    pub fn adopt(&mut self, other: ChapterDoc) {
        let me = self.doc.get_actor().clone();
        self.doc = other.doc;
        self.doc.set_actor(me);
        self.fresh = other.fresh;
    }

    /// Each device's newest change among `changes`: (automerge seq, hash).
    pub fn author_heads_of(changes: &[Change]) -> BTreeMap<DeviceId, (u64, Hash)> {
        let mut out: BTreeMap<DeviceId, (u64, Hash)> = BTreeMap::new();
        for c in changes {
            if let Some(d) = DeviceId::from_slice(c.actor_id().to_bytes()) {
                let e = out.entry(d).or_insert((0, Hash::ZERO));
                if c.seq() > e.0 {
                    *e = (c.seq(), Hash(c.hash().0));
                }
            }
        }
        out
    }

    /// Applies changes that [`Self::check_change`] accepted. Duplicates are no-ops.
    pub fn apply(&mut self, changes: Vec<Change>) -> Result<()> {
        self.fresh = false;
        self.doc.apply_changes(changes).map_err(doc_err)
    }

    /// Loads one change or one saved document. Automerge's incremental load skips what it
    /// cannot parse; here anything unparseable is an error, never a silent partial load.
    pub(crate) fn load_strict(&mut self, bytes: &[u8]) -> Result<()> {
        let fresh = std::mem::replace(&mut self.fresh, false);
        if let Some(batch) = bytes.strip_prefix(BATCH_MAGIC) {
            let changes: Vec<serde_bytes::ByteBuf> = ciborium::from_reader(batch)
                .map_err(|e| doc_err(format!("a stored batch of changes does not decode: {e}")))?;
            let changes = changes
                .into_iter()
                .map(|c| Change::from_bytes(c.into_vec()).map_err(doc_err))
                .collect::<Result<Vec<_>>>()?;
            return self.doc.apply_changes(changes).map_err(doc_err);
        }
        if let Ok(change) = Change::from_bytes(bytes.to_vec()) {
            if change.raw_bytes().len() == bytes.len() {
                return self.doc.apply_changes([change]).map_err(doc_err);
            }
        }
        let whole = AutoCommit::load(bytes).map_err(doc_err)?;
        if fresh {
            // Nothing held but the genesis: take the loaded document as it is (loading it a
            // second time into this one would double the work). Whether it grew from this
            // chapter's genesis is checked by the caller: `load` reads the chapter's fields,
            // and a snapshot's changes are checked one by one (`is_genesis`).
            self.doc = whole.with_actor(self.doc.get_actor().clone());
            return Ok(());
        }
        self.doc.load_incremental(bytes).map_err(doc_err)?;
        Ok(())
    }

    // ---- reading

    pub fn name(&self) -> Result<Option<String>> {
        self.opt_str(&ROOT, "name")
    }

    pub fn capacity_reason(&self) -> Result<Option<String>> {
        self.opt_str(&ROOT, "capacity_reason")
    }

    pub fn profiles(&self) -> Result<BTreeMap<DeviceId, String>> {
        let obj = self.map(&ROOT, "profiles")?;
        let mut out = BTreeMap::new();
        for key in self.doc.keys(&obj) {
            if let (Some(d), Some(name)) = (parse_hex(&key), self.opt_str(&obj, &key)?) {
                out.insert(DeviceId(d), name);
            }
        }
        Ok(out)
    }

    /// Whether no message is held under `key` (false also if the document is unreadable).
    fn message_id_free(&self, key: &str) -> bool {
        self.map(&ROOT, "messages")
            .ok()
            .and_then(|m| self.doc.get(&m, key).ok())
            .is_some_and(|v| v.is_none())
    }

    pub fn has_message(&self, id: &MessageId) -> Result<bool> {
        let messages = self.map(&ROOT, "messages")?;
        Ok(self
            .doc
            .get(&messages, id.to_hex())
            .map_err(doc_err)?
            .is_some())
    }

    pub fn message(&self, id: &MessageId) -> Result<Option<BaseMessage>> {
        let messages = self.map(&ROOT, "messages")?;
        let (obj, author) = match self.doc.get(&messages, id.to_hex()).map_err(doc_err)? {
            Some((Value::Object(ObjType::Map), obj)) => {
                let ObjId::Id(_, actor, _) = &obj else {
                    return Err(doc_err(format!("message {id} has no author")));
                };
                let author = DeviceId::from_slice(actor.to_bytes())
                    .ok_or_else(|| doc_err(format!("message {id} was made by a non-device")))?;
                (obj, author)
            }
            Some(_) => return Err(doc_err(format!("message {id} is not a map"))),
            None => return Ok(None),
        };
        Ok(Some(BaseMessage {
            id: *id,
            author,
            text: self.str(&obj, "text")?,
            sent_at: self.int(&obj, "sent_at")?,
            stamp: self.int(&obj, "stamp")?,
            warning: self.opt_str(&obj, "cw")?.filter(|w| valid_warning(w)),
        }))
    }

    /// Every message in the chapter, read in one pass (for large catch-ups, where looking
    /// each one up would cost several map lookups per message).
    pub fn all_messages(&self) -> Result<std::collections::HashMap<MessageId, BaseMessage>> {
        use automerge::{ScalarValueRef as S, ValueRef};
        let messages = self.map(&ROOT, "messages")?;
        let mut out = std::collections::HashMap::new();
        for item in self.doc.map_range(&messages, ..) {
            let id = parse_hex::<16>(&item.key)
                .map(MessageId)
                .ok_or_else(|| doc_err(format!("message key {:?}", item.key)))?;
            if !matches!(item.value, ValueRef::Object(ObjType::Map)) {
                return Err(doc_err(format!("message {id} is not a map")));
            }
            let obj = item.id();
            let ObjId::Id(_, actor, _) = &obj else {
                return Err(doc_err(format!("message {id} has no author")));
            };
            let author = DeviceId::from_slice(actor.to_bytes())
                .ok_or_else(|| doc_err(format!("message {id} was made by a non-device")))?;
            let (mut text, mut sent_at, mut stamp, mut warning) = (None, None, None, None);
            for f in self.doc.map_range(&obj, ..) {
                let n = match &f.value {
                    ValueRef::Scalar(S::Int(n)) => Some(*n),
                    ValueRef::Scalar(S::Uint(n)) => i64::try_from(*n).ok(),
                    _ => None,
                };
                match (&*f.key, &f.value) {
                    ("text", ValueRef::Scalar(S::Str(t))) => text = Some(t.to_string()),
                    ("cw", ValueRef::Scalar(S::Str(t))) if valid_warning(t) => {
                        warning = Some(t.to_string())
                    }
                    ("sent_at", _) => sent_at = n,
                    ("stamp", _) => stamp = n,
                    _ => {}
                }
            }
            let missing =
                |what: &str| doc_err(format!("message {id}: {what} is missing or mistyped"));
            out.insert(
                id,
                BaseMessage {
                    id,
                    author,
                    text: text.ok_or_else(|| missing("text"))?,
                    sent_at: sent_at.ok_or_else(|| missing("sent_at"))?,
                    stamp: stamp.ok_or_else(|| missing("stamp"))?,
                    warning,
                },
            );
        }
        Ok(out)
    }

    /// Every mark in the chapter, by message, read in one pass.
    pub fn all_marks(&self) -> Result<std::collections::HashMap<MessageId, Vec<(DeviceId, Mark)>>> {
        let marks = self.map(&ROOT, "marks")?;
        let mut out: std::collections::HashMap<MessageId, Vec<(DeviceId, Mark)>> =
            std::collections::HashMap::new();
        for item in self.doc.map_range(&marks, ..) {
            let automerge::ValueRef::Scalar(v) = &item.value else {
                continue;
            };
            let v: ScalarValue = v.clone().into();
            let Some((id, rest)) = item.key.split_once('/') else {
                continue;
            };
            let Some((kind, writer)) = rest.rsplit_once('/') else {
                continue;
            };
            if kind == "m" {
                continue; // a moderation record, read through the moderation table
            }
            if let (Some(id), Some(w), Some(mark)) = (
                parse_hex::<16>(id),
                parse_hex(writer),
                Mark::parse(kind, &v),
            ) {
                out.entry(MessageId(id))
                    .or_default()
                    .push((DeviceId(w), mark));
            }
        }
        Ok(out)
    }

    pub fn message_ids(&self) -> Result<Vec<MessageId>> {
        let messages = self.map(&ROOT, "messages")?;
        self.doc
            .keys(&messages)
            .map(|k| {
                parse_hex(&k)
                    .map(MessageId)
                    .ok_or_else(|| doc_err(format!("message key {k:?}")))
            })
            .collect()
    }

    /// Every mark on message `id` in this chapter: (writer, mark).
    pub fn marks(&self, id: &MessageId) -> Result<Vec<(DeviceId, Mark)>> {
        let marks = self.map(&ROOT, "marks")?;
        let prefix = format!("{}/", id.to_hex());
        let end = format!("{}0", id.to_hex()); // '0' sorts right after '/'
        let mut out = Vec::new();
        for item in self.doc.map_range(&marks, prefix.clone()..end) {
            let key = item.key.to_string();
            let Value::Scalar(v) = item.value.into_value() else {
                continue;
            };
            let Some((kind, writer)) = key.strip_prefix(&prefix).and_then(|k| k.rsplit_once('/'))
            else {
                continue;
            };
            if let (Some(w), Some(mark)) = (parse_hex(writer), Mark::parse(kind, &v)) {
                out.push((DeviceId(w), mark));
            }
        }
        Ok(out)
    }

    // ---- writing (as this device)

    fn me(&self) -> DeviceId {
        DeviceId::from_slice(self.doc.get_actor().to_bytes()).unwrap_or(DeviceId([0; 32]))
    }

    /// Adds a message written by this device.
    pub fn add_message(
        &mut self,
        id: &MessageId,
        text: &str,
        sent_at: i64,
        stamp: i64,
    ) -> Result<LocalChange> {
        self.add_message_with(id, text, sent_at, stamp, None)
    }

    /// Adds a message written by this device, with a content warning if `warning` is given.
    pub fn add_message_with(
        &mut self,
        id: &MessageId,
        text: &str,
        sent_at: i64,
        stamp: i64,
        warning: Option<&str>,
    ) -> Result<LocalChange> {
        let messages = self.map(&ROOT, "messages")?;
        if self.has_message(id)? {
            return Err(doc_err(format!("message {id} already exists")));
        }
        if warning.is_some_and(|w| !valid_warning(w)) {
            return Err(doc_err("a content warning is 1 to 100 characters"));
        }
        self.in_change(|d| {
            let obj = d.put_object(&messages, id.to_hex(), ObjType::Map)?;
            d.put(&obj, "text", text)?;
            d.put(&obj, "sent_at", sent_at)?;
            d.put(&obj, "stamp", stamp)?;
            if let Some(w) = warning {
                d.put(&obj, "cw", w)?;
            }
            Ok(())
        })
    }

    /// Writes a moderation record by this device (checked by the caller).
    pub fn add_record(&mut self, id: &RecordId, record: &ModRecord) -> Result<LocalChange> {
        let obj = self.map(&ROOT, "marks")?;
        let key = format!("{id}/m/{}", self.me().to_hex());
        self.in_change(|d| {
            d.put(&obj, key.as_str(), ScalarValue::Bytes(record.encode()))?;
            Ok(())
        })
    }

    /// Writes marks by this device on message `id` (which may live in an earlier chapter).
    pub fn set_marks(&mut self, id: &MessageId, marks: &[Mark]) -> Result<LocalChange> {
        let obj = self.map(&ROOT, "marks")?;
        let me = self.me().to_hex();
        self.in_change(|d| {
            for m in marks {
                d.put(&obj, format!("{id}/{}/{me}", m.kind()), m.value())?;
            }
            Ok(())
        })
    }

    /// Whether this device's mark of this kind currently holds `value`.
    pub fn my_mark(&self, id: &MessageId, mark: &Mark) -> Result<bool> {
        let me = self.me();
        Ok(self.marks(id)?.iter().any(|(w, m)| *w == me && m == mark))
    }

    /// Writes this device's pseudonym into the chapter and, for a moderator, the group's name
    /// and capacity reason — in one change. `None` if everything is already there.
    pub fn introduce(
        &mut self,
        profile: &str,
        group_info: Option<(&str, Option<&str>)>,
    ) -> Result<Option<LocalChange>> {
        let profiles = self.map(&ROOT, "profiles")?;
        let key = self.me().to_hex();
        let profile_set = self.opt_str(&profiles, &key)?.as_deref() == Some(profile);
        let info_set = match group_info {
            None => true,
            Some((name, reason)) => {
                self.name()?.as_deref() == Some(name)
                    && (reason.is_none() || self.capacity_reason()?.as_deref() == reason)
            }
        };
        if profile_set && info_set {
            return Ok(None);
        }
        self.in_change(|d| {
            if !profile_set {
                d.put(&profiles, key.as_str(), profile)?;
            }
            if let (false, Some((name, reason))) = (info_set, group_info) {
                d.put(&ROOT, "name", name)?;
                if let Some(r) = reason {
                    d.put(&ROOT, "capacity_reason", r)?;
                }
            }
            Ok(())
        })
        .map(Some)
    }

    fn in_change(
        &mut self,
        ops: impl FnOnce(&mut AutoCommit) -> std::result::Result<(), automerge::AutomergeError>,
    ) -> Result<LocalChange> {
        if let Err(e) = ops(&mut self.doc) {
            self.doc.rollback();
            return Err(doc_err(e));
        }
        self.fresh = false;
        self.doc
            .commit()
            .ok_or_else(|| doc_err("nothing to commit"))?;
        let change = self
            .doc
            .get_last_local_change()
            .ok_or_else(|| doc_err("no local change"))?;
        Ok(LocalChange {
            seq: change.seq(),
            hash: change.hash().0,
            bytes: change.raw_bytes().to_vec(),
        })
    }

    // ---- typed accessors; each names the field when the shape is wrong

    fn scalar(&self, obj: &ObjId, key: &str) -> Result<Option<ScalarValue>> {
        match self.doc.get(obj, key).map_err(doc_err)? {
            None => Ok(None),
            Some((Value::Scalar(s), _)) => Ok(Some(s.into_owned())),
            Some((Value::Object(_), _)) => {
                Err(doc_err(format!("{key} should be a value, found an object")))
            }
        }
    }

    fn map(&self, obj: &ObjId, key: &str) -> Result<ObjId> {
        match self.doc.get(obj, key).map_err(doc_err)? {
            Some((Value::Object(ObjType::Map), id)) => Ok(id),
            _ => Err(doc_err(format!("{key} should be a map"))),
        }
    }

    fn int(&self, obj: &ObjId, key: &str) -> Result<i64> {
        match self.scalar(obj, key)? {
            Some(ScalarValue::Int(n)) => Ok(n),
            Some(ScalarValue::Uint(n)) => i64::try_from(n).map_err(doc_err),
            Some(_) => Err(doc_err(format!("{key} should be an integer"))),
            None => Err(doc_err(format!("{key} is missing"))),
        }
    }

    fn str(&self, obj: &ObjId, key: &str) -> Result<String> {
        self.opt_str(obj, key)?
            .ok_or_else(|| doc_err(format!("{key} is missing")))
    }

    fn opt_str(&self, obj: &ObjId, key: &str) -> Result<Option<String>> {
        match self.scalar(obj, key)? {
            None => Ok(None),
            Some(ScalarValue::Str(s)) => Ok(Some(s.to_string())),
            Some(_) => Err(doc_err(format!("{key} should be text"))),
        }
    }
}

/// Whether `w` is an acceptable content warning: 1 to [`MAX_WARNING_CHARS`] characters.
pub fn valid_warning(w: &str) -> bool {
    !w.trim().is_empty() && w.chars().count() <= MAX_WARNING_CHARS
}

fn short_actor(a: &ActorId) -> String {
    crate::identity::hex_lower(&a.to_bytes()[..4.min(a.to_bytes().len())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::assemble;

    const G: GroupId = GroupId([1; 16]);

    fn device(b: u8) -> DeviceId {
        DeviceId([b; 32])
    }

    fn last_change(c: &mut ChapterDoc) -> Change {
        c.doc.get_last_local_change().unwrap()
    }

    /// Receives `change` from `signer` into `into`, the way the sync engine will.
    fn receive(
        into: &mut ChapterDoc,
        change: Change,
        signer: DeviceId,
        moderator: bool,
    ) -> std::result::Result<Touched, Refused> {
        let touched = into.check_change(&change, &signer, moderator)?;
        into.apply(vec![change]).unwrap();
        Ok(touched)
    }

    #[test]
    fn genesis_is_identical_everywhere_and_at_known_positions() {
        let mut a = ChapterDoc::genesis(&G, 3, device(1)).unwrap();
        let mut b = ChapterDoc::genesis(&G, 3, device(2)).unwrap();
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
        assert_ne!(
            a.doc.get_heads(),
            ChapterDoc::genesis(&G, 4, device(1))
                .unwrap()
                .doc
                .get_heads()
        );
        // check_change relies on the genesis maps being operations 4, 5 and 6.
        for (name, counter) in [("profiles", 4), ("messages", 5), ("marks", 6)] {
            let (_, id) = a.doc.get(&ROOT, name).unwrap().unwrap();
            assert!(matches!(id, ObjId::Id(c, _, _) if c == counter), "{name}");
        }
    }

    #[test]
    fn messages_and_marks_from_two_devices_merge() {
        let (ruth, amina) = (device(9), device(4));
        let mut r = ChapterDoc::genesis(&G, 1, ruth).unwrap();
        let mut a = ChapterDoc::genesis(&G, 1, amina).unwrap();
        let id = MessageId([3; 16]);
        r.add_message(&id, "Welcome, everyone", 2_000, 2_000)
            .unwrap();
        receive(&mut a, last_change(&mut r), ruth, true).unwrap();
        a.introduce("Amina", None).unwrap();
        receive(&mut r, last_change(&mut a), amina, false).unwrap();
        a.set_marks(&id, &[Mark::Reaction(Reaction::Hug, true)])
            .unwrap();
        receive(&mut r, last_change(&mut a), amina, false).unwrap();
        r.set_marks(
            &id,
            &[Mark::Text("Welcome, all".into()), Mark::EditedAt(2_500)],
        )
        .unwrap();
        let chapters = BTreeMap::from([(1, r)]);
        let got = assemble(&chapters, &id).unwrap().unwrap();
        assert_eq!(
            (got.author, got.text.as_str(), got.edited_at),
            (ruth, "Welcome, all", Some(2_500))
        );
        assert_eq!(
            got.reactions[&Reaction::Hug]
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![amina]
        );
        assert_eq!(chapters[&1].profiles().unwrap()[&amina], "Amina");
    }

    #[test]
    fn marks_in_a_later_chapter_apply_to_earlier_messages_and_only_the_author_edits() {
        let (ruth, amina) = (device(9), device(4));
        let id = MessageId([3; 16]);
        let mut one = ChapterDoc::genesis(&G, 1, ruth).unwrap();
        one.add_message(&id, "Hello", 1, 1).unwrap();
        let mut two = ChapterDoc::genesis(&G, 2, amina).unwrap();
        // Amina's "edit" of Ruth's message is a mark anyone can write, but it does not count.
        two.set_marks(
            &id,
            &[
                Mark::Text("forged".into()),
                Mark::Deleted(true),
                Mark::Reaction(Reaction::SameHere, true),
            ],
        )
        .unwrap();
        let chapters = BTreeMap::from([(1, one), (2, two)]);
        let got = assemble(&chapters, &id).unwrap().unwrap();
        assert_eq!(got.text, "Hello");
        assert!(!got.deleted);
        assert!(got.reactions[&Reaction::SameHere].contains(&amina));
        // A member admitted in chapter 2 holds no chapter 1: the message simply is not there.
        let mut later = chapters;
        later.remove(&1);
        assert_eq!(assemble(&later, &id).unwrap(), None);
    }

    #[test]
    fn forged_changes_are_refused() {
        let (ruth, amina, eve) = (device(9), device(4), device(66));
        let id = MessageId([3; 16]);
        let mut r = ChapterDoc::genesis(&G, 1, ruth).unwrap();
        r.add_message(&id, "Hello", 1, 1).unwrap();
        let hello = last_change(&mut r);
        let mut victim = ChapterDoc::genesis(&G, 1, amina).unwrap();
        receive(&mut victim, hello.clone(), ruth, true).unwrap();

        // Eve relays Ruth's change under her own signature: the actor is not the signer.
        let e = victim.check_change(&hello, &eve, false).unwrap_err();
        assert!(e.0.contains("not the device that signed it"), "{e}");

        // Eve (honestly signed as herself) overwrites the text inside Ruth's message map.
        let mut evil = ChapterDoc::genesis(&G, 1, eve).unwrap();
        evil.apply(vec![hello.clone()]).unwrap();
        let messages = evil.map(&ROOT, "messages").unwrap();
        let (_, obj) = evil.doc.get(&messages, id.to_hex()).unwrap().unwrap();
        evil.doc.put(&obj, "text", "forged").unwrap();
        evil.doc.commit();
        let e = victim
            .check_change(&last_change(&mut evil), &eve, false)
            .unwrap_err();
        assert!(e.0.contains("another member's message"), "{e}");

        // Eve creates her own message under the id of Ruth's (as if concurrently), which would
        // win Automerge's conflict and make Ruth's vanish: refused while Ruth's is held, and a
        // snapshot holding both is detected.
        let mut evil = ChapterDoc::genesis(&G, 1, eve).unwrap();
        let takeover = evil.add_message(&id, "mine now", 2, 2).unwrap();
        let takeover = Change::from_bytes(takeover.bytes).unwrap();
        let e = victim.check_change(&takeover, &eve, false).unwrap_err();
        assert!(e.0.contains("messages key"), "{e}");
        let mut both = ChapterDoc::genesis(&G, 1, amina).unwrap();
        both.apply(vec![hello.clone(), takeover.clone()]).unwrap();
        assert!(both.has_competing_messages().unwrap());
        assert!(!victim.has_competing_messages().unwrap());

        // Eve writes a mark in Ruth's name (the key names Ruth's device).
        let mut evil = ChapterDoc::genesis(&G, 1, eve).unwrap();
        let marks = evil.map(&ROOT, "marks").unwrap();
        evil.doc
            .put(&marks, format!("{id}/t/{}", ruth.to_hex()), "forged")
            .unwrap();
        evil.doc.commit();
        assert!(victim
            .check_change(&last_change(&mut evil), &eve, false)
            .is_err());

        // Eve sets her pseudonym under Amina's key, renames the group, or replaces a message.
        for attempt in 0..3 {
            let mut evil = ChapterDoc::genesis(&G, 1, eve).unwrap();
            evil.apply(vec![hello.clone()]).unwrap();
            match attempt {
                0 => {
                    let p = evil.map(&ROOT, "profiles").unwrap();
                    evil.doc.put(&p, amina.to_hex(), "Amina").unwrap();
                }
                1 => {
                    evil.doc.put(&ROOT, "name", "Renamed").unwrap();
                }
                _ => {
                    let m = evil.map(&ROOT, "messages").unwrap();
                    evil.doc.put_object(&m, id.to_hex(), ObjType::Map).unwrap();
                }
            }
            evil.doc.commit();
            assert!(
                victim
                    .check_change(&last_change(&mut evil), &eve, false)
                    .is_err(),
                "attempt {attempt}"
            );
        }
        // A moderator may rename the group; the same change from a member is refused.
        let mut ok = ChapterDoc::genesis(&G, 1, ruth).unwrap();
        ok.introduce("Ruth", Some(("Due in April", None))).unwrap();
        let rename = last_change(&mut ok);
        assert!(victim.check_change(&rename, &ruth, true).is_ok());
        assert!(victim.check_change(&rename, &ruth, false).is_err());
        // Victim's document is untouched by all of it.
        let chapters = BTreeMap::from([(1, victim)]);
        assert_eq!(assemble(&chapters, &id).unwrap().unwrap().text, "Hello");
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        assert!(
            ChapterDoc::load(&G, 1, device(1), [b"not automerge".as_slice()].into_iter()).is_err()
        );
        let mut other = ChapterDoc::genesis(&G, 2, device(1)).unwrap();
        let bytes = other.save();
        assert!(
            ChapterDoc::load(&G, 1, device(1), [bytes.as_slice()].into_iter()).is_err(),
            "a chapter in the wrong place"
        );
    }
}
