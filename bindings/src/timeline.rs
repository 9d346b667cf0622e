//! [`GroupTimeline`]: one group's screen — its messages, members and invites, the moderator's
//! actions on it, reports, and the safety check of a draft. Every command refreshes the
//! listeners of the whole profile (a hide changes the group's timeline and the audit, a
//! report the reporter's list), after its lock is released.

use std::sync::Arc;

use hearth_core::GroupId;

use crate::companion::Shared;
use crate::error::{HearthError, Result};
use crate::listeners::{ListenerHandle, ModerationListener, Sink, TimelineListener, Watch};
use crate::types::{
    parse_cursor, parse_message, AlertSeverity, DraftCheck, GroupInfo, InviteInfo, Member,
    MembersView, ModerationView, MyReport, Reaction, ReportReason, Role, TimelinePage,
};

/// Longest page a listener or a page request may ask for.
const MAX_PAGE: u32 = 1_000;

#[derive(uniffi::Object)]
pub struct GroupTimeline {
    shared: Arc<Shared>,
    group: GroupId,
}

impl GroupTimeline {
    pub(crate) fn new(shared: Arc<Shared>, group: GroupId) -> GroupTimeline {
        GroupTimeline { shared, group }
    }

    /// A read of this group on the UI handle.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&hearth_core::Companion, &GroupId) -> hearth_core::Result<T>,
    ) -> Result<T> {
        self.shared.read(|c| f(c, &self.group))
    }

    /// A command on this group; every listener is refreshed after it.
    pub(crate) fn change<T>(
        &self,
        f: impl FnOnce(&mut hearth_core::Companion, &GroupId) -> hearth_core::Result<T>,
    ) -> Result<T> {
        self.shared.change(|c| f(c, &self.group))
    }
}

fn page_size(limit: u32) -> Result<usize> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(HearthError::input(
            "limit",
            format!("a page holds 1 to {MAX_PAGE} messages; got {limit}"),
        ));
    }
    Ok(limit as usize)
}

#[uniffi::export]
impl GroupTimeline {
    pub fn group_id(&self) -> String {
        self.group.to_hex()
    }

    pub fn info(&self) -> Result<GroupInfo> {
        let g = self.group;
        self.shared
            .read(move |c| Ok(c.find_group(&g.to_hex())?.into()))
    }

    /// The newest `limit` messages, or those before the cursor `before` (a page's `older`),
    /// oldest first.
    pub fn page(&self, before: Option<String>, limit: u32) -> Result<TimelinePage> {
        let before = before.as_deref().map(parse_cursor).transpose()?;
        let limit = page_size(limit)?;
        self.shared.read(|c| {
            let p = c.timeline(&self.group, before, limit)?;
            Ok(TimelinePage {
                items: p.items.into_iter().map(Into::into).collect(),
                older: p.older.map(|k| k.to_hex()),
            })
        })
    }

    /// Sends a message; returns its id once it is stored (it shows as pending until synced).
    pub fn send(&self, text: String) -> Result<String> {
        self.shared
            .change(|c| Ok(c.send(&self.group, &text)?.to_hex()))
    }

    /// Sends a message behind a content warning.
    pub fn send_with_warning(&self, text: String, warning: String) -> Result<String> {
        self.shared
            .change(|c| Ok(c.send_with_warning(&self.group, &text, &warning)?.to_hex()))
    }

    pub fn edit(&self, message_id: String, text: String) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.shared.change(|c| c.edit(&self.group, &id, &text))
    }

    pub fn delete(&self, message_id: String) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.shared.change(|c| c.delete(&self.group, &id))
    }

    pub fn react(&self, message_id: String, reaction: Reaction, on: bool) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.shared
            .change(|c| c.react(&self.group, &id, reaction.into(), on))
    }

    pub fn members(&self) -> Result<MembersView> {
        self.shared.read(|c| Ok(c.members(&self.group)?.into()))
    }

    /// Makes a single-use invite (moderators). It reaches the relay with the next sync.
    pub fn invite(&self, role: Role, valid_for_secs: u32) -> Result<InviteInfo> {
        let ms = i64::from(valid_for_secs) * 1_000;
        self.shared
            .change(|c| Ok(c.invite(&self.group, role.into(), ms)?.into()))
    }

    /// Removes a member (pseudonym or device id); takes effect at the next sync.
    pub fn remove(&self, member: String) -> Result<Member> {
        self.shared.change(|c| {
            let m = c.remove(&self.group, &member)?;
            Ok(Member {
                device: m.device.to_hex(),
                name: m.name,
                role: m.role.into(),
                since_epoch: m.since_epoch,
                is_me: m.is_me,
            })
        })
    }

    // ---- reports and moderation

    /// Reports a message to the group's moderators; returns the report's id.
    pub fn report(&self, message_id: String, reason: ReportReason, note: String) -> Result<String> {
        let id = parse_message(&message_id)?;
        self.shared
            .change(|c| Ok(c.report(&self.group, &id, reason.into(), &note)?.to_hex()))
    }

    /// Her reports in this group, newest first, with where each stands.
    pub fn my_reports(&self) -> Result<Vec<MyReport>> {
        self.shared.read(|c| {
            Ok(c.my_reports(&self.group)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Hides a message from members (moderators); its author sees `reason`.
    pub fn hide(&self, message_id: String, reason: String) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.shared
            .change(|c| c.hide(&self.group, &id, &reason).map(|_| ()))
    }

    pub fn restore(&self, message_id: String, reason: String) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.shared
            .change(|c| c.restore(&self.group, &id, &reason).map(|_| ()))
    }

    /// A moderator's correction shown under a message; empty text withdraws it.
    pub fn correct(&self, message_id: String, text: String) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.shared
            .change(|c| c.correct(&self.group, &id, &text).map(|_| ()))
    }

    pub fn moderation(&self) -> Result<ModerationView> {
        self.shared.read(|c| Ok(c.moderation(&self.group)?.into()))
    }

    pub fn set_rules(&self, text: String) -> Result<()> {
        self.shared
            .change(|c| c.set_rules(&self.group, &text).map(|_| ()))
    }

    pub fn accept_rules(&self) -> Result<()> {
        self.shared
            .change(|c| c.accept_rules(&self.group).map(|_| ()))
    }

    pub fn set_duty(&self, on: bool) -> Result<()> {
        self.shared
            .change(|c| c.set_duty(&self.group, on).map(|_| ()))
    }

    /// Plans the group's ending (moderators): read-only from `ends_at_ms`, after a farewell
    /// period of `farewell_days`; `next` says what comes after.
    pub fn plan_ending(&self, ends_at_ms: i64, farewell_days: u32, next: String) -> Result<()> {
        self.shared.change(|c| {
            c.plan_ending(&self.group, ends_at_ms, farewell_days, &next)
                .map(|_| ())
        })
    }

    pub fn cancel_ending(&self) -> Result<()> {
        self.shared
            .change(|c| c.cancel_ending(&self.group).map(|_| ()))
    }

    /// Her own messages in this group (both sides of a conversation) as readable text.
    pub fn export_text(&self) -> Result<String> {
        self.shared.read(|c| c.export_text(&self.group))
    }

    // ---- safety

    /// Checks a draft on this device as she types; nothing is sent or stored.
    pub fn check_draft(&self, text: String) -> Result<DraftCheck> {
        self.shared
            .read(|c| Ok(c.check_draft(&self.group, &text)?.into()))
    }

    /// Alerts the group's moderators that she needs help — only when she chooses to.
    pub fn raise_alert(
        &self,
        severity: AlertSeverity,
        categories: Vec<String>,
        shared_text: String,
    ) -> Result<String> {
        self.shared.change(|c| {
            Ok(
                c.raise_alert(&self.group, severity.into(), &categories, &shared_text)?
                    .to_hex(),
            )
        })
    }

    // ---- listeners

    /// Watches the newest `limit` messages: a `Reset` first, then diffs after every change.
    pub fn add_listener(
        &self,
        limit: u32,
        listener: Arc<dyn TimelineListener>,
    ) -> Result<Arc<ListenerHandle>> {
        let limit = page_size(limit)?;
        self.shared.subscribe(
            Watch::Timeline {
                group: self.group,
                limit,
            },
            Sink::Timeline(listener),
        )
    }

    /// Watches the group's rules, pins, duty and her own standing.
    pub fn add_moderation_listener(
        &self,
        listener: Arc<dyn ModerationListener>,
    ) -> Result<Arc<ListenerHandle>> {
        self.shared.subscribe(
            Watch::Moderation { group: self.group },
            Sink::Moderation(listener),
        )
    }
}
