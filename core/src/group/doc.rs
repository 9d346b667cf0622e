//! The typed face of a group's Automerge document. No other module touches Automerge paths.
//!
//! Layout (schema 1):
//! ```text
//! ROOT { v: 1, id: bytes, name, capacity, capacity_reason?, created_by: bytes, created_at,
//!        members:  { <device hex>: { name, role, joined_at } },
//!        messages: { <message id hex>: { author: bytes, text, sent_at, stamp,
//!                                         edited_at?, deleted?, "r/<reaction>/<device hex>": true } } }
//! ```
//! Choices that keep concurrent edits safe: every map that two devices could write at once is
//! created once, by the group's creator, in the first change (two devices creating "the same"
//! map would make two maps and one would vanish). Per-message and per-member maps are created
//! only by their owner under a unique key. Reactions are flat keys per (kind, device), so two
//! people reacting at once never conflict.
//!
//! Every change this device makes uses its [`DeviceId`] as the Automerge actor id, so a change
//! can be checked against the device that signed it when it arrives from elsewhere.
//!
//! Reading validates types: a document from another device is untrusted input, and a value of
//! the wrong shape is a [`Error::Document`], never a panic.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

use crate::error::{Error, Result};
use crate::group::{Capacity, GroupId, GroupMeta, Member};
use crate::identity::{parse_hex, DeviceId, Role};
use crate::message::{MessageId, MessageRecord, Reaction};

const SCHEMA: i64 = 1;
const REACTION_PREFIX: &str = "r/";

/// One change this device made: its sequence number and its bytes as they are stored and
/// (later) sent.
#[derive(Debug, Clone)]
pub struct LocalChange {
    /// This device's sequence number for the change (1, 2, 3, … per author and group). The
    /// actor id is the device key, so (device, seq) names a change everywhere, and a gap in a
    /// peer's sequence is visible to the sync engine.
    pub seq: u64,
    pub bytes: Vec<u8>,
}

pub struct GroupDoc {
    doc: AutoCommit,
}

fn doc_err(what: impl std::fmt::Display) -> Error {
    Error::Document(what.to_string())
}

impl GroupDoc {
    /// Creates a group's document: metadata, the shared maps and the creator's member entry,
    /// all in the first change.
    pub fn create(meta: &GroupMeta, creator: &Member) -> Result<(GroupDoc, LocalChange)> {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(meta.created_by.0.to_vec()));
        doc.put(&ROOT, "v", SCHEMA).map_err(doc_err)?;
        doc.put(&ROOT, "id", ScalarValue::Bytes(meta.id.0.to_vec()))
            .map_err(doc_err)?;
        doc.put(&ROOT, "name", meta.name.as_str())
            .map_err(doc_err)?;
        doc.put(&ROOT, "capacity", meta.capacity.limit as i64)
            .map_err(doc_err)?;
        if let Some(reason) = &meta.capacity.reason {
            doc.put(&ROOT, "capacity_reason", reason.as_str())
                .map_err(doc_err)?;
        }
        doc.put(
            &ROOT,
            "created_by",
            ScalarValue::Bytes(meta.created_by.0.to_vec()),
        )
        .map_err(doc_err)?;
        doc.put(&ROOT, "created_at", meta.created_at)
            .map_err(doc_err)?;
        doc.put_object(&ROOT, "members", ObjType::Map)
            .map_err(doc_err)?;
        doc.put_object(&ROOT, "messages", ObjType::Map)
            .map_err(doc_err)?;
        let mut group = GroupDoc { doc };
        group.write_member(creator)?;
        let change = group.commit()?;
        Ok((group, change))
    }

    /// Loads a document from its stored chunks (a snapshot, then changes), acting as `me`.
    pub fn load<'a>(me: DeviceId, mut chunks: impl Iterator<Item = &'a [u8]>) -> Result<GroupDoc> {
        let first = chunks.next().ok_or_else(|| doc_err("no stored document"))?;
        let mut doc = AutoCommit::load(first).map_err(doc_err)?;
        for chunk in chunks {
            doc.load_incremental(chunk).map_err(doc_err)?;
        }
        doc.set_actor(ActorId::from(me.0.to_vec()));
        let group = GroupDoc { doc };
        if group.int(&ROOT, "v")? != SCHEMA {
            return Err(doc_err("unsupported document schema"));
        }
        Ok(group)
    }

    /// The whole document, compacted; what a snapshot stores.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    pub fn meta(&self) -> Result<GroupMeta> {
        let reason = self.opt_str(&ROOT, "capacity_reason")?;
        Ok(GroupMeta {
            id: GroupId(self.bytes_n(&ROOT, "id")?),
            name: self.str(&ROOT, "name")?,
            capacity: Capacity {
                limit: u32::try_from(self.int(&ROOT, "capacity")?).map_err(doc_err)?,
                reason,
            },
            created_by: DeviceId(self.bytes_n(&ROOT, "created_by")?),
            created_at: self.int(&ROOT, "created_at")?,
        })
    }

    pub fn members(&self) -> Result<Vec<Member>> {
        let members = self.map(&ROOT, "members")?;
        let mut out = Vec::new();
        for key in self.doc.keys(&members) {
            let device = parse_hex(&key)
                .map(DeviceId)
                .ok_or_else(|| doc_err(format!("member key {key:?}")))?;
            let obj = self.map(&members, key.as_str())?;
            let role = match self.str(&obj, "role")?.as_str() {
                "mother" => Role::Mother,
                "volunteer" => Role::Volunteer,
                "moderator" => Role::Moderator,
                other => return Err(doc_err(format!("unknown role {other:?}"))),
            };
            out.push(Member {
                device,
                name: self.str(&obj, "name")?,
                role,
                joined_at: self.int(&obj, "joined_at")?,
            });
        }
        Ok(out)
    }

    pub fn message(&self, id: &MessageId) -> Result<Option<MessageRecord>> {
        let messages = self.map(&ROOT, "messages")?;
        let obj = match self.doc.get(&messages, id.to_hex()).map_err(doc_err)? {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            Some(_) => return Err(doc_err(format!("message {id} is not a map"))),
            None => return Ok(None),
        };
        let mut reactions: BTreeMap<Reaction, BTreeSet<DeviceId>> = BTreeMap::new();
        for key in self.doc.keys(&obj) {
            let Some(rest) = key.strip_prefix(REACTION_PREFIX) else {
                continue;
            };
            // Unknown reaction kinds (from a newer Hearth) are skipped, not fatal.
            let Some((kind, device)) = rest.split_once('/') else {
                continue;
            };
            let (Ok(kind), Some(device)) = (Reaction::parse(kind), parse_hex(device)) else {
                continue;
            };
            reactions.entry(kind).or_default().insert(DeviceId(device));
        }
        Ok(Some(MessageRecord {
            id: *id,
            author: DeviceId(self.bytes_n(&obj, "author")?),
            text: self.str(&obj, "text")?,
            sent_at: self.int(&obj, "sent_at")?,
            stamp: self.int(&obj, "stamp")?,
            edited_at: self.opt_int(&obj, "edited_at")?,
            deleted: self.opt_bool(&obj, "deleted")?.unwrap_or(false),
            reactions,
        }))
    }

    /// Ids of every message in the document (for rebuilding the timeline from scratch).
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

    /// Adds a new message written by this device.
    pub fn add_message(&mut self, message: &MessageRecord) -> Result<LocalChange> {
        self.check_author(&message.author, "send")?;
        let messages = self.map(&ROOT, "messages")?;
        if self
            .doc
            .get(&messages, message.id.to_hex())
            .map_err(doc_err)?
            .is_some()
        {
            return Err(doc_err(format!("message {} already exists", message.id)));
        }
        self.in_change(|d| {
            let obj = d.put_object(&messages, message.id.to_hex(), ObjType::Map)?;
            d.put(
                &obj,
                "author",
                ScalarValue::Bytes(message.author.0.to_vec()),
            )?;
            d.put(&obj, "text", message.text.as_str())?;
            d.put(&obj, "sent_at", message.sent_at)?;
            d.put(&obj, "stamp", message.stamp)?;
            Ok(())
        })
    }

    /// Replaces the text of one of this device's messages.
    pub fn edit_message(&mut self, id: &MessageId, text: &str, at: i64) -> Result<LocalChange> {
        let obj = self.own_live_message(id, "edit")?;
        self.in_change(|d| {
            d.put(&obj, "text", text)?;
            d.put(&obj, "edited_at", at)?;
            Ok(())
        })
    }

    /// Deletes one of this device's messages: the text is cleared from the current state.
    /// (Earlier versions remain in the document's history until history compaction exists.)
    pub fn delete_message(&mut self, id: &MessageId, at: i64) -> Result<LocalChange> {
        let obj = self.own_live_message(id, "delete")?;
        self.in_change(|d| {
            d.put(&obj, "text", "")?;
            d.put(&obj, "deleted", true)?;
            d.put(&obj, "edited_at", at)?;
            Ok(())
        })
    }

    /// Adds or removes this device's reaction. `None` when nothing changes.
    pub fn set_reaction(
        &mut self,
        id: &MessageId,
        reaction: Reaction,
        on: bool,
    ) -> Result<Option<LocalChange>> {
        let me = self.me();
        let obj = self.message_obj(id)?;
        if self.opt_bool(&obj, "deleted")?.unwrap_or(false) {
            return Err(Error::MessageDeleted);
        }
        let key = format!("{REACTION_PREFIX}{}/{}", reaction.key(), me.to_hex());
        let present = self.doc.get(&obj, key.as_str()).map_err(doc_err)?.is_some();
        if present == on {
            return Ok(None);
        }
        self.in_change(|d| {
            if on {
                d.put(&obj, key.as_str(), true)
            } else {
                d.delete(&obj, key.as_str())
            }
        })
        .map(Some)
    }

    fn me(&self) -> DeviceId {
        DeviceId::from_slice(self.doc.get_actor().to_bytes()).unwrap_or(DeviceId([0; 32]))
    }

    fn check_author(&self, author: &DeviceId, action: &'static str) -> Result<()> {
        if *author != self.me() {
            return Err(Error::NotYourMessage { action });
        }
        Ok(())
    }

    fn message_obj(&self, id: &MessageId) -> Result<ObjId> {
        let messages = self.map(&ROOT, "messages")?;
        match self.doc.get(&messages, id.to_hex()).map_err(doc_err)? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
            _ => Err(Error::UnknownMessage { id: id.to_hex() }),
        }
    }

    fn own_live_message(&self, id: &MessageId, action: &'static str) -> Result<ObjId> {
        let obj = self.message_obj(id)?;
        let author = DeviceId(self.bytes_n(&obj, "author")?);
        self.check_author(&author, action)?;
        if self.opt_bool(&obj, "deleted")?.unwrap_or(false) {
            return Err(Error::MessageDeleted);
        }
        Ok(obj)
    }

    fn write_member(&mut self, member: &Member) -> Result<()> {
        let members = self.map(&ROOT, "members")?;
        let obj = self
            .doc
            .put_object(&members, member.device.to_hex(), ObjType::Map)
            .map_err(doc_err)?;
        self.doc
            .put(&obj, "name", member.name.as_str())
            .map_err(doc_err)?;
        self.doc
            .put(&obj, "role", member.role.as_str())
            .map_err(doc_err)?;
        self.doc
            .put(&obj, "joined_at", member.joined_at)
            .map_err(doc_err)?;
        Ok(())
    }

    /// Runs `ops` as one change; on failure the partial operations are rolled back.
    fn in_change(
        &mut self,
        ops: impl FnOnce(&mut AutoCommit) -> std::result::Result<(), automerge::AutomergeError>,
    ) -> Result<LocalChange> {
        if let Err(e) = ops(&mut self.doc) {
            self.doc.rollback();
            return Err(doc_err(e));
        }
        self.commit()
    }

    fn commit(&mut self) -> Result<LocalChange> {
        self.doc
            .commit()
            .ok_or_else(|| doc_err("nothing to commit"))?;
        let change = self
            .doc
            .get_last_local_change()
            .ok_or_else(|| doc_err("no local change"))?;
        Ok(LocalChange {
            seq: change.seq(),
            bytes: change.raw_bytes().to_vec(),
        })
    }

    // Typed accessors. Each returns a document error naming the field when the shape is wrong.

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
        self.opt_int(obj, key)?
            .ok_or_else(|| doc_err(format!("{key} is missing")))
    }

    fn opt_int(&self, obj: &ObjId, key: &str) -> Result<Option<i64>> {
        match self.scalar(obj, key)? {
            None => Ok(None),
            Some(ScalarValue::Int(n)) => Ok(Some(n)),
            Some(ScalarValue::Uint(n)) => i64::try_from(n).map(Some).map_err(doc_err),
            Some(_) => Err(doc_err(format!("{key} should be an integer"))),
        }
    }

    fn opt_bool(&self, obj: &ObjId, key: &str) -> Result<Option<bool>> {
        match self.scalar(obj, key)? {
            None => Ok(None),
            Some(ScalarValue::Boolean(b)) => Ok(Some(b)),
            Some(_) => Err(doc_err(format!("{key} should be true or false"))),
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

    fn bytes_n<const N: usize>(&self, obj: &ObjId, key: &str) -> Result<[u8; N]> {
        match self.scalar(obj, key)? {
            Some(ScalarValue::Bytes(b)) => b
                .as_slice()
                .try_into()
                .map_err(|_| doc_err(format!("{key} should be {N} bytes, found {}", b.len()))),
            _ => Err(doc_err(format!("{key} should be {N} bytes"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(b: u8) -> DeviceId {
        DeviceId([b; 32])
    }

    fn new_group(creator: DeviceId) -> (GroupDoc, LocalChange) {
        let meta = GroupMeta {
            id: GroupId([1; 16]),
            name: "Due in March".into(),
            capacity: Capacity::new(Some(12), None).unwrap(),
            created_by: creator,
            created_at: 1_000,
        };
        let member = Member {
            device: creator,
            name: "Ruth".into(),
            role: Role::Moderator,
            joined_at: 1_000,
        };
        GroupDoc::create(&meta, &member).unwrap()
    }

    fn message(author: DeviceId, b: u8, text: &str, stamp: i64) -> MessageRecord {
        MessageRecord {
            id: MessageId([b; 16]),
            author,
            text: text.into(),
            sent_at: stamp,
            stamp,
            edited_at: None,
            deleted: false,
            reactions: BTreeMap::new(),
        }
    }

    #[test]
    fn create_then_load_round_trips_metadata_and_members() {
        let ruth = device(9);
        let (mut doc, first) = new_group(ruth);
        let saved = doc.save();
        let loaded = GroupDoc::load(ruth, [saved.as_slice()].into_iter()).unwrap();
        assert_eq!(loaded.meta().unwrap().name, "Due in March");
        assert_eq!(loaded.meta().unwrap().capacity.limit, 12);
        assert_eq!(loaded.members().unwrap()[0].name, "Ruth");
        // The first change alone is a complete document too.
        let from_change = GroupDoc::load(ruth, [first.bytes.as_slice()].into_iter()).unwrap();
        assert_eq!(from_change.meta().unwrap(), loaded.meta().unwrap());
    }

    #[test]
    fn messages_edits_deletes_and_reactions() {
        let ruth = device(9);
        let (mut doc, _) = new_group(ruth);
        let m = message(ruth, 3, "Welcome, everyone", 2_000);
        let change = doc.add_message(&m).unwrap();
        // The change is authored by the device: its actor id is the device key.
        let parsed = automerge::Change::from_bytes(change.bytes.clone()).unwrap();
        assert_eq!(parsed.actor_id().to_bytes(), &ruth.0);
        assert_eq!(doc.message(&m.id).unwrap().unwrap(), m);

        doc.edit_message(&m.id, "Welcome, all", 2_500).unwrap();
        assert!(doc
            .set_reaction(&m.id, Reaction::Hug, true)
            .unwrap()
            .is_some());
        assert!(
            doc.set_reaction(&m.id, Reaction::Hug, true)
                .unwrap()
                .is_none(),
            "second hug is a no-op"
        );
        let got = doc.message(&m.id).unwrap().unwrap();
        assert_eq!(got.text, "Welcome, all");
        assert_eq!(got.edited_at, Some(2_500));
        assert_eq!(got.reactions[&Reaction::Hug], BTreeSet::from([ruth]));
        doc.set_reaction(&m.id, Reaction::Hug, false).unwrap();
        assert!(doc.message(&m.id).unwrap().unwrap().reactions.is_empty());

        doc.delete_message(&m.id, 3_000).unwrap();
        let got = doc.message(&m.id).unwrap().unwrap();
        assert!(got.deleted);
        assert_eq!(got.text, "");
        assert!(matches!(
            doc.edit_message(&m.id, "again", 4_000),
            Err(Error::MessageDeleted)
        ));
        assert!(matches!(
            doc.set_reaction(&m.id, Reaction::Hug, true),
            Err(Error::MessageDeleted)
        ));
        assert_eq!(doc.message_ids().unwrap(), vec![m.id]);
    }

    #[test]
    fn only_the_author_edits_or_deletes() {
        let ruth = device(9);
        let amina = device(4);
        let (mut doc, _) = new_group(ruth);
        let m = message(ruth, 3, "Welcome", 2_000);
        doc.add_message(&m).unwrap();
        let saved = doc.save();
        let mut hers = GroupDoc::load(amina, [saved.as_slice()].into_iter()).unwrap();
        assert!(matches!(
            hers.edit_message(&m.id, "x", 1),
            Err(Error::NotYourMessage { .. })
        ));
        assert!(matches!(
            hers.delete_message(&m.id, 1),
            Err(Error::NotYourMessage { .. })
        ));
        // Sending as someone else is refused too.
        assert!(matches!(
            hers.add_message(&message(ruth, 5, "fake", 3)),
            Err(Error::NotYourMessage { .. })
        ));
        // But she can react.
        assert!(hers
            .set_reaction(&m.id, Reaction::SameHere, true)
            .unwrap()
            .is_some());
        assert!(matches!(
            hers.set_reaction(&MessageId([8; 16]), Reaction::Hug, true),
            Err(Error::UnknownMessage { .. })
        ));
    }

    #[test]
    fn concurrent_reactions_from_two_devices_both_survive() {
        let ruth = device(9);
        let amina = device(4);
        let (mut doc, _) = new_group(ruth);
        let m = message(ruth, 3, "Welcome", 2_000);
        doc.add_message(&m).unwrap();
        let base = doc.save();
        let mut hers = GroupDoc::load(amina, [base.as_slice()].into_iter()).unwrap();
        let a = doc
            .set_reaction(&m.id, Reaction::Hug, true)
            .unwrap()
            .unwrap();
        let b = hers
            .set_reaction(&m.id, Reaction::Hug, true)
            .unwrap()
            .unwrap();
        let merged = GroupDoc::load(
            ruth,
            [base.as_slice(), a.bytes.as_slice(), b.bytes.as_slice()].into_iter(),
        )
        .unwrap();
        assert_eq!(
            merged.message(&m.id).unwrap().unwrap().reactions[&Reaction::Hug],
            BTreeSet::from([ruth, amina])
        );
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        assert!(GroupDoc::load(device(1), [b"not automerge".as_slice()].into_iter()).is_err());
        assert!(GroupDoc::load(device(1), std::iter::empty()).is_err());
        let mut raw = AutoCommit::new();
        raw.put(&ROOT, "v", "one").unwrap();
        let bytes = raw.save();
        assert!(matches!(
            GroupDoc::load(device(1), [bytes.as_slice()].into_iter()),
            Err(Error::Document(_))
        ));
    }
}
