//! The rest of a group's screen: the moderators' toolkit (pins, mutes, holding posts for
//! review, slow mode, the audit log, nudges), a member's own alerts, sharing a self-check,
//! and the full export. A second `#[uniffi::export]` block on [`GroupTimeline`], so the
//! object stays one coarse handle per group.

use hearth_core::moderation::actions as moderation;
use hearth_core::notes::safety as core_safety;
use hearth_core::notes::views as notes;

use crate::error::{HearthError, Result};
use crate::timeline::GroupTimeline;
use crate::types::{parse_message, AlertSeverity};

/// Longest mute a moderator can set from the app: 30 days.
const MAX_MUTE_SECS: u32 = 30 * 24 * 3600;

/// One moderation action, as the audit log shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditEntry {
    pub id: String,
    /// What was done: "hide", "restore", "pin", "mute", "rules", "end", ….
    pub action: String,
    pub by: String,
    pub by_device: String,
    pub at_ms: i64,
    /// The moderator's reason, as she gave it (may be empty).
    pub why: String,
    /// What it acted on, in words ("message 3f2a…", "Amina", "rules").
    pub target: String,
    pub detail: String,
    /// It reached this device carried into a newer chapter of the group.
    pub carried: bool,
}

impl From<moderation::AuditItem> for AuditEntry {
    fn from(a: moderation::AuditItem) -> Self {
        AuditEntry {
            id: a.id,
            action: a.action.to_string(),
            by: a.by,
            by_device: a.by_device,
            at_ms: a.at,
            why: a.why,
            target: a.target,
            detail: a.detail,
            carried: a.carried,
        }
    }
}

/// A private nudge between a moderator and a member.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Nudge {
    pub id: String,
    pub from: String,
    pub to: String,
    pub text: String,
    pub at_ms: i64,
    pub mine: bool,
}

impl From<notes::NudgeView> for Nudge {
    fn from(n: notes::NudgeView) -> Self {
        Nudge {
            id: n.id,
            from: n.from,
            to: n.to,
            text: n.text,
            at_ms: n.at,
            mine: n.mine,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

/// An alert she raised, and where it stands with her moderators.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MyAlert {
    pub id: String,
    pub severity: AlertSeverity,
    pub categories: Vec<String>,
    pub raised_at_ms: i64,
    pub state: AlertState,
    /// The moderator's outcome once resolved (may be empty).
    pub outcome: String,
    /// Not yet delivered to the relay.
    pub pending: bool,
}

impl From<core_safety::MyAlert> for MyAlert {
    fn from(a: core_safety::MyAlert) -> Self {
        MyAlert {
            id: a.id,
            severity: a.severity.into(),
            categories: a.categories,
            raised_at_ms: a.raised_at,
            state: match a.state {
                "resolved" => AlertState::Resolved,
                "acknowledged" => AlertState::Acknowledged,
                _ => AlertState::Open,
            },
            outcome: a.outcome,
            pending: a.pending,
        }
    }
}

#[uniffi::export]
impl GroupTimeline {
    // ---- the moderators' toolkit

    /// Pins a resource (a curated answer with its source) above the chat.
    pub fn pin(&self, title: String, body: String, source: String) -> Result<String> {
        self.change(|c, g| Ok(c.pin(g, &title, &body, &source)?.to_hex()))
    }

    /// Removes a pin (its id, or its title).
    pub fn unpin(&self, pin: String) -> Result<()> {
        self.change(|c, g| c.unpin(g, &pin).map(|_| ()))
    }

    /// Pauses a member's posting (pseudonym or device id) for `for_secs` (at most 30 days);
    /// she sees `reason`.
    pub fn mute(&self, member: String, for_secs: u32, reason: String) -> Result<()> {
        if for_secs == 0 || for_secs > MAX_MUTE_SECS {
            return Err(HearthError::input(
                "for_secs",
                format!("a mute lasts 1 second to 30 days ({MAX_MUTE_SECS} s); got {for_secs}"),
            ));
        }
        let ms = i64::from(for_secs) * 1_000;
        self.change(|c, g| c.mute(g, &member, ms, &reason).map(|_| ()))
    }

    pub fn unmute(&self, member: String) -> Result<()> {
        self.change(|c, g| c.unmute(g, &member).map(|_| ()))
    }

    /// Holds posts for a moderator's review: every post (`all`), and/or posts by members in
    /// their first `new_member_days` days (0: none).
    pub fn set_hold(&self, all: bool, new_member_days: u32) -> Result<()> {
        self.change(|c, g| c.set_hold(g, all, new_member_days).map(|_| ()))
    }

    /// Lets a held post through to the group.
    pub fn approve(&self, message_id: String) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.change(|c, g| c.approve(g, &id).map(|_| ()))
    }

    /// Keeps a held post from the group; its author sees `reason`.
    pub fn reject(&self, message_id: String, reason: String) -> Result<()> {
        let id = parse_message(&message_id)?;
        self.change(|c, g| c.reject(g, &id, &reason).map(|_| ()))
    }

    /// Slow mode: members post at most once per `secs` (0: off), or once per `off_duty_secs`
    /// while no moderator is on duty, if that is longer.
    pub fn set_slow_mode(&self, secs: u32, off_duty_secs: u32) -> Result<()> {
        self.change(|c, g| c.set_slow_mode(g, secs, off_duty_secs).map(|_| ()))
    }

    /// Every moderation action in the group, oldest first (moderators).
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        self.read(|c, g| Ok(c.audit_log(g)?.into_iter().map(Into::into).collect()))
    }

    /// Sends a private nudge to one member (moderators); returns its id.
    pub fn nudge(&self, member: String, text: String) -> Result<String> {
        self.change(|c, g| Ok(c.nudge(g, &member, &text)?.to_hex()))
    }

    /// Nudges this device sent or received in the group, newest first.
    pub fn nudges(&self) -> Result<Vec<Nudge>> {
        self.read(|c, g| Ok(c.nudges(g)?.into_iter().map(Into::into).collect()))
    }

    // ---- her own safety

    /// The alerts she raised in this group and where each stands.
    pub fn my_alerts(&self) -> Result<Vec<MyAlert>> {
        self.read(|c, g| Ok(c.my_alerts(g)?.into_iter().map(Into::into).collect()))
    }

    /// Shares one self-check result (its total and flags, never the answers) with one named
    /// moderator of this group. Calling it is her consent, for this result and this moderator.
    pub fn share_self_check(&self, check_id: i64, moderator: String) -> Result<String> {
        self.change(|c, g| Ok(c.share_epds(check_id, g, &moderator)?.to_hex()))
    }

    // ---- export

    /// The group's whole history as she can see it, as an Automerge document
    /// (format "hearth-export/1"; see docs/cli.md), for her to keep or move.
    pub fn export_automerge(&self) -> Result<Vec<u8>> {
        self.read(|c, g| c.export_automerge(g))
    }
}
