//! Groups: small closed circles of mothers. A group is a membership log (who is in it, under
//! which key epoch; `hearth_protocol::membership`) and a series of chapter documents ([`doc`]),
//! one per epoch.
//!
//! The research behind Hearth found that small groups work (7–30 members) and large ones breed
//! lurking and overload, so capacity is part of a group from the start: 30 by default, and more
//! only with a stated reason that the group records.

pub mod doc;
pub mod storage;

use serde::{Deserialize, Serialize};

use crate::crypto::{random_bytes, CryptoError};
use std::collections::BTreeMap;

use crate::error::{Error, InputError};
use crate::identity::{DeviceId, Role};
use crate::message::{MessageId, MessageRecord, Reaction};
use doc::Mark;

pub use doc::ChapterDoc;

pub use hearth_protocol::GroupId;

/// A new random group id.
pub fn new_group_id() -> Result<GroupId, CryptoError> {
    Ok(GroupId(random_bytes()?))
}

/// A group's display name: 1–80 characters, one line.
pub fn parse_group_name(raw: &str) -> Result<String, InputError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(InputError::new("name", "a group name cannot be empty"));
    }
    if name.chars().count() > 80 {
        return Err(InputError::new(
            "name",
            "a group name can be at most 80 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(InputError::new(
            "name",
            "a group name must be one line without control characters",
        ));
    }
    Ok(name.to_string())
}

/// How many members a group may have, and why if it is more than the research supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub limit: u32,
    pub reason: Option<String>,
}

impl Capacity {
    pub const DEFAULT: u32 = 30;
    /// Above this a reason is required.
    pub const RESEARCH_MAX: u32 = 30;
    /// Never more than this, whatever the reason: past it a group is an audience, not a circle.
    pub const HARD_MAX: u32 = 100;
    pub const MIN: u32 = 2;

    pub fn new(limit: Option<u32>, reason: Option<&str>) -> Result<Self, InputError> {
        let limit = limit.unwrap_or(Self::DEFAULT);
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        if limit < Self::MIN {
            return Err(InputError::new(
                "capacity",
                format!(
                    "a group needs room for at least {} members; got {limit}",
                    Self::MIN
                ),
            ));
        }
        if limit > Self::HARD_MAX {
            return Err(InputError::new(
                "capacity",
                format!(
                    "a group can have at most {} members; got {limit}",
                    Self::HARD_MAX
                ),
            ));
        }
        if limit > Self::RESEARCH_MAX && reason.is_none() {
            return Err(InputError::new(
                "capacity",
                format!(
                    "{limit} is more than {}: small groups work better (members lurk and get overloaded in big ones); give a reason to go above it",
                    Self::RESEARCH_MAX
                ),
            ));
        }
        if let Some(r) = &reason {
            if r.chars().count() > 500 {
                return Err(InputError::new(
                    "capacity reason",
                    "a reason can be at most 500 characters",
                ));
            }
        }
        Ok(Capacity { limit, reason })
    }
}

/// A member as peers see her: her device, pseudonym and role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub device: DeviceId,
    /// Her pseudonym, once a chapter this device holds has told it; empty until then.
    pub name: String,
    pub role: Role,
    /// The key epoch that began with her admission.
    pub since_epoch: u32,
    /// When she was admitted (the admitting moderator's clock); 0 if not known.
    #[serde(default)]
    pub admitted_at: i64,
}

/// A message as the timeline shows it: its chapter's base plus every mark on it, in chapter
/// order. Only the author's edits and deletes count; anyone's reactions count.
pub fn assemble(
    chapters: &BTreeMap<u32, ChapterDoc>,
    id: &MessageId,
) -> Result<Option<MessageRecord>, Error> {
    let mut base = None;
    for (n, c) in chapters.iter().rev() {
        if let Some(b) = c.message(id)? {
            base = Some((*n, b));
            break;
        }
    }
    let Some((from, b)) = base else {
        return Ok(None);
    };
    let mut marks = Vec::new();
    for (_, c) in chapters.range(from..) {
        marks.extend(c.marks(id)?);
    }
    Ok(Some(compose(b, marks)))
}

/// [`assemble`] for many messages at once: past a few hundred, every chapter is read in one
/// pass instead of several lookups per message (a catch-up of thousands).
pub fn assemble_many(
    chapters: &BTreeMap<u32, ChapterDoc>,
    ids: &std::collections::BTreeSet<MessageId>,
) -> Result<Vec<MessageRecord>, Error> {
    if ids.len() < 256 {
        return ids
            .iter()
            .filter_map(|id| assemble(chapters, id).transpose())
            .collect();
    }
    type Bulk = (
        std::collections::HashMap<MessageId, doc::BaseMessage>,
        std::collections::HashMap<MessageId, Vec<(DeviceId, Mark)>>,
    );
    let bulk: Vec<Bulk> = chapters
        .values()
        .map(|c| Ok((c.all_messages()?, c.all_marks()?)))
        .collect::<Result<_, Error>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(from) = bulk.iter().rposition(|(m, _)| m.contains_key(id)) else {
            continue;
        };
        let base = bulk[from].0[id].clone();
        let marks = bulk[from..]
            .iter()
            .flat_map(|(_, mk)| mk.get(id).into_iter().flatten().cloned())
            .collect();
        out.push(compose(base, marks));
    }
    Ok(out)
}

fn compose(b: doc::BaseMessage, marks: Vec<(DeviceId, Mark)>) -> MessageRecord {
    let mut record = MessageRecord {
        id: b.id,
        author: b.author,
        text: b.text,
        sent_at: b.sent_at,
        stamp: b.stamp,
        edited_at: None,
        deleted: false,
        reactions: BTreeMap::new(),
        warning: b.warning,
    };
    let mut reactions: BTreeMap<(Reaction, DeviceId), bool> = BTreeMap::new();
    for (writer, mark) in marks {
        let by_author = writer == record.author;
        match mark {
            Mark::Text(t) if by_author => record.text = t,
            Mark::EditedAt(at) if by_author => record.edited_at = Some(at),
            Mark::Deleted(d) if by_author => record.deleted = d,
            Mark::Reaction(r, on) => {
                reactions.insert((r, writer), on);
            }
            _ => {}
        }
    }
    if record.deleted {
        record.text.clear();
    }
    for ((r, writer), on) in reactions {
        if on {
            record.reactions.entry(r).or_default().insert(writer);
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_defaults_and_limits() {
        assert_eq!(Capacity::new(None, None).unwrap().limit, 30);
        assert_eq!(Capacity::new(Some(12), None).unwrap().limit, 12);
        let e = Capacity::new(Some(31), None).unwrap_err();
        assert_eq!(e.field, "capacity");
        assert!(e.reason.contains("give a reason"), "{e}");
        assert!(Capacity::new(Some(31), Some("   ")).is_err());
        let c = Capacity::new(Some(40), Some("pilot with two facilitators")).unwrap();
        assert_eq!(c.reason.as_deref(), Some("pilot with two facilitators"));
        assert!(Capacity::new(Some(101), Some("why not")).is_err());
        assert!(Capacity::new(Some(1), None).is_err());
        assert!(Capacity::new(Some(0), None).is_err());
    }

    #[test]
    fn group_names() {
        assert_eq!(parse_group_name("  Due in March ").unwrap(), "Due in March");
        assert!(parse_group_name("").is_err());
        assert!(parse_group_name("two\nlines").is_err());
        assert!(parse_group_name(&"x".repeat(81)).is_err());
    }

    #[test]
    fn assembling_many_at_once_equals_one_by_one() {
        let g = GroupId([9; 16]);
        let (a, b) = (DeviceId([1; 32]), DeviceId([2; 32]));
        let mut one = ChapterDoc::genesis(&g, 1, a).unwrap();
        let ids: Vec<MessageId> = (0..300u16)
            .map(|i| {
                let mut id = [0u8; 16];
                id[..2].copy_from_slice(&i.to_be_bytes());
                MessageId(id)
            })
            .collect();
        for (i, id) in ids.iter().enumerate() {
            one.add_message(id, &format!("message {i}"), i as i64, i as i64)
                .unwrap();
        }
        // In the next chapter: Amina edits and deletes some of hers, Bea reacts (and tries to
        // edit Amina's, which does not count), and Bea writes new ones.
        let mut two = ChapterDoc::genesis(&g, 2, a).unwrap();
        for id in ids.iter().step_by(7) {
            two.set_marks(id, &[Mark::Text("edited".into()), Mark::EditedAt(5)])
                .unwrap();
        }
        for id in ids.iter().step_by(11) {
            two.set_marks(id, &[Mark::Deleted(true)]).unwrap();
        }
        let mut bea = ChapterDoc::genesis(&g, 2, b).unwrap();
        for id in ids.iter().step_by(5) {
            bea.set_marks(
                id,
                &[
                    Mark::Reaction(Reaction::ALL[0], true),
                    Mark::Text("x".into()),
                ],
            )
            .unwrap();
        }
        let mut more = Vec::new();
        for i in 0..20u8 {
            let id = MessageId([i + 1; 16]);
            bea.add_message(&id, "new", 1, 1).unwrap();
            more.push(id);
        }
        two.apply(bea.all_changes()).unwrap();
        let chapters = BTreeMap::from([(1, one), (2, two)]);
        let all: std::collections::BTreeSet<MessageId> = ids.iter().chain(&more).copied().collect();
        let bulk = assemble_many(&chapters, &all).unwrap();
        let single: Vec<MessageRecord> = all
            .iter()
            .map(|id| assemble(&chapters, id).unwrap().unwrap())
            .collect();
        assert_eq!(bulk.len(), 320);
        assert_eq!(bulk, single);
        assert!(bulk.iter().any(|r| r.deleted) && bulk.iter().any(|r| r.text == "edited"));
        assert!(
            bulk.iter().all(|r| r.text != "x"),
            "Bea cannot edit Amina's messages"
        );
    }

    #[test]
    fn group_ids() {
        let id = GroupId([7; 16]);
        assert_eq!(GroupId::parse_hex(&id.to_hex()), Some(id));
        assert_eq!(GroupId::parse_hex("Due in March"), None);
    }
}
