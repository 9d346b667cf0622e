//! Data portability: a member takes her words with her, at any time.
//!
//! - [`Companion::export_text`]: a readable file of her own messages in a group (with the
//!   moderators' corrections under them). Other members' words are theirs, so a group export
//!   holds only hers; a two-person conversation holds both sides, since she is one of its two
//!   people.
//! - [`Companion::export_automerge`]: the group's whole history as she can see it (what her
//!   timeline shows: hidden messages only if they are hers), as one Automerge document that any
//!   Automerge implementation opens. Its shape is documented on the function and in
//!   `docs/cli.md`.
//!
//! Both read the timeline, not the chapters, so they show exactly what she sees.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};

use crate::companion::{Companion, TimelineItem};
use crate::error::{Error, Result};
use crate::group::GroupId;

/// The `format` field of an Automerge export; bumped if its shape changes.
pub const AUTOMERGE_EXPORT_FORMAT: &str = "hearth-export/1";

fn doc_err(e: automerge::AutomergeError) -> Error {
    Error::Document(e.to_string())
}

use crate::moderation::actions::utc;

impl Companion {
    /// Every message of the group as her timeline shows it, oldest first.
    fn all_items(&self, group: &GroupId) -> Result<Vec<TimelineItem>> {
        let mut pages = Vec::new();
        let mut before = None;
        loop {
            let page = self.timeline(group, before, 500)?;
            pages.push(page.items);
            match page.older {
                Some(k) => before = Some(k),
                None => break,
            }
        }
        Ok(pages.into_iter().rev().flatten().collect())
    }

    /// A readable text file of her own messages in `group` (both sides of a two-person
    /// conversation), oldest first, with times in UTC.
    pub fn export_text(&self, group: &GroupId) -> Result<String> {
        let info = self.find_group(&group.to_hex())?;
        let conversation = info.conversation;
        let me = self.profile.keys.device_id();
        let now = self.clock.now_ms();
        let mut out = String::new();
        out.push_str(&format!("Hearth: {}\n", info.name));
        out.push_str(&format!(
            "Exported by {} on {}.\n",
            self.profile.name.as_str(),
            utc(now)
        ));
        out.push_str(if conversation {
            "This is your whole conversation, both sides.\n"
        } else {
            "These are your own messages in this group; other members' words are theirs to keep.\n"
        });
        out.push('\n');
        let mut count = 0;
        for i in self.all_items(group)? {
            if !(conversation || i.author == me) || i.deleted {
                continue;
            }
            count += 1;
            let who = if conversation {
                format!(" {}:", i.author_name)
            } else {
                String::new()
            };
            out.push_str(&format!("[{}]{who} ", utc(i.sent_at)));
            if let Some(w) = &i.warning {
                out.push_str(&format!("(content warning: {w}) "));
            }
            out.push_str(&i.text);
            if i.edited {
                out.push_str(" (edited)");
            }
            if i.hidden {
                out.push_str(" (removed by a moderator");
                if let Some(n) = &i.moderation_note {
                    out.push_str(&format!(": {n}"));
                }
                out.push(')');
            }
            out.push('\n');
            if let (Some(c), Some(by)) = (&i.correction, &i.correction_by) {
                out.push_str(&format!("    moderator's note from {by}: {c}\n"));
            }
        }
        if count == 0 {
            out.push_str("(no messages)\n");
        }
        Ok(out)
    }

    /// The group's history as she can see it, as one Automerge document:
    ///
    /// ```text
    /// { format: "hearth-export/1", group: {id, name}, exported_at (ms), exported_by,
    ///   messages: [ { id, author, author_device, text (text object), sent_at (ms),
    ///                 edited, hidden, correction|null, warning|null,
    ///                 reactions: { hug: 2, … } } ] }
    /// ```
    ///
    /// Deleted messages are left out; hidden ones carry their text only if she wrote them.
    pub fn export_automerge(&self, group: &GroupId) -> Result<Vec<u8>> {
        let info = self.find_group(&group.to_hex())?;
        let items = self.all_items(group)?;
        let mut doc = AutoCommit::new();
        doc.put(&ROOT, "format", AUTOMERGE_EXPORT_FORMAT)
            .map_err(doc_err)?;
        let g = doc
            .put_object(&ROOT, "group", ObjType::Map)
            .map_err(doc_err)?;
        doc.put(&g, "id", info.id.to_hex()).map_err(doc_err)?;
        doc.put(&g, "name", info.name.as_str()).map_err(doc_err)?;
        doc.put(&ROOT, "exported_at", self.clock.now_ms())
            .map_err(doc_err)?;
        doc.put(&ROOT, "exported_by", self.profile.name.as_str())
            .map_err(doc_err)?;
        let list = doc
            .put_object(&ROOT, "messages", ObjType::List)
            .map_err(doc_err)?;
        for (n, i) in items.iter().filter(|i| !i.deleted).enumerate() {
            let m = doc.insert_object(&list, n, ObjType::Map).map_err(doc_err)?;
            doc.put(&m, "id", i.id.to_hex()).map_err(doc_err)?;
            doc.put(&m, "author", i.author_name.as_str())
                .map_err(doc_err)?;
            doc.put(&m, "author_device", i.author.to_hex())
                .map_err(doc_err)?;
            let text = doc.put_object(&m, "text", ObjType::Text).map_err(doc_err)?;
            doc.splice_text(&text, 0, 0, &i.text).map_err(doc_err)?;
            doc.put(&m, "sent_at", i.sent_at).map_err(doc_err)?;
            doc.put(&m, "edited", i.edited).map_err(doc_err)?;
            doc.put(&m, "hidden", i.hidden).map_err(doc_err)?;
            match &i.correction {
                Some(c) => doc.put(&m, "correction", c.as_str()),
                None => doc.put(&m, "correction", automerge::ScalarValue::Null),
            }
            .map_err(doc_err)?;
            match &i.warning {
                Some(w) => doc.put(&m, "warning", w.as_str()),
                None => doc.put(&m, "warning", automerge::ScalarValue::Null),
            }
            .map_err(doc_err)?;
            let r = doc
                .put_object(&m, "reactions", ObjType::Map)
                .map_err(doc_err)?;
            for rc in &i.reactions {
                doc.put(&r, rc.reaction.key(), rc.count as u64)
                    .map_err(doc_err)?;
            }
        }
        Ok(doc.save())
    }
}
