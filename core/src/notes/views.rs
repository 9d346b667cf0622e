//! Reports, the moderators' review queue, and nudges on the [`Companion`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use hearth_safety::escalation::{Ack, Alert, Ladder, Severity, Status, Tier};

use crate::companion::Companion;
use crate::error::{Error, InputError, Result};
use crate::group::storage::{self, GroupSummary, Standing};
use crate::group::GroupId;
use crate::identity::DeviceId;
use crate::message::MessageId;
use crate::moderation::actions::{moderators, name_of, names};
use crate::sync::{log_and_membership, resolve_member};

use super::detections::{self, Detection};
use super::{store, ContextLine, Note, NoteBody, NoteId, ReportReason, ReportState};

/// One item of the moderators' review queue: a report or a safety alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueItem {
    /// The note id; `acknowledge` and `resolve` take it (or its first characters).
    pub id: String,
    pub group: String,
    pub group_name: String,
    /// "report", "alert", "self_check", "detected" (a received message this device's
    /// detector flagged), "supervision" (a volunteer's note to her supervisors) or
    /// "volunteer_change" (a mother asks for a different volunteer).
    pub kind: &'static str,
    pub message_id: Option<String>,
    /// The report's reason, or the alert's categories.
    pub reason: String,
    pub state: &'static str,
    /// Higher is more urgent: urgent alerts 5, concern alerts and risk reports 4, …, spam 0.
    pub severity: u8,
    pub raised_at: i64,
    pub raised_by: String,
    /// The reporter's note, or the draft a member chose to share.
    pub note: String,
    pub outcome: String,
    /// The reported message and the lines around it.
    pub context: Vec<ContextView>,
    /// For alerts: who must act now and by when.
    pub escalation: Option<EscalationView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextView {
    pub author: String,
    pub message_id: String,
    pub text: String,
    pub sent_at: i64,
    pub reported: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationView {
    /// "volunteer", "moderator" or "referral": the tier that must act now.
    pub tier: Tier,
    pub acknowledged_by_tier: Option<Tier>,
    /// When it moves to the next tier if nobody acknowledges it.
    pub due_at: Option<i64>,
    pub overdue_ms: i64,
    /// What the tier should do, in words.
    pub action: String,
}

/// A report as its reporter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MyReport {
    pub id: String,
    pub group: String,
    pub message_id: String,
    pub reason: ReportReason,
    pub state: &'static str,
    pub outcome: String,
    pub sent_at: i64,
    /// Moderators the relay could not deliver it to (left the group meanwhile).
    pub undelivered: usize,
    /// Still waiting to reach the relay.
    pub pending: bool,
}

/// A private message between a moderator and a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NudgeView {
    pub id: String,
    pub from: String,
    pub to: String,
    pub text: String,
    pub at: i64,
    pub mine: bool,
}

/// An editable nudge template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub text: String,
}

const TEMPLATES_KEY: &str = "nudge_templates";

/// Templates a moderator starts with; she can edit or remove them.
pub fn default_templates() -> Vec<Template> {
    [
        (
            "checking-in",
            "Hi {name}, it's been a little while since we heard from you in the group. No \
             pressure at all — just wanted you to know we're thinking of you. How are you doing?",
        ),
        (
            "welcome",
            "Hi {name}, welcome to the group! When you're ready, you could say hello and when \
             your baby is due. Everyone here is at a similar stage.",
        ),
        (
            "after-a-hard-post",
            "Hi {name}, I saw your message and wanted to check in privately. Would it help to \
             talk, or to hear about support near you?",
        ),
    ]
    .into_iter()
    .map(|(n, t)| Template {
        name: n.into(),
        text: t.into(),
    })
    .collect()
}

/// A queue item found by its id: its group, the member it is about (reporter, alerting
/// member, or the mother who shared a self-check), whether it is an alert, and whether it was
/// shared with this moderator alone.
struct Item {
    id: NoteId,
    group: GroupId,
    subject: DeviceId,
    alert: bool,
    private: bool,
}

/// Where each report and alert stands, folded from the notes a device holds.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// report id → (report, updates sorted by time)
    pub reports: BTreeMap<NoteId, (Note, Vec<Note>)>,
    pub alerts: BTreeMap<NoteId, (Note, Vec<Note>)>,
    /// Progress on items that are not notes (flagged messages), by item id.
    pub others: BTreeMap<NoteId, Vec<Note>>,
}

pub(crate) fn fold(notes: Vec<Note>) -> Folded {
    let mut f = Folded::default();
    let mut updates = Vec::new();
    for n in notes {
        match &n.body {
            // A shared self-check is reviewed like a report (acknowledged, then resolved).
            // So are a volunteer's supervision note and a mother's request for another
            // volunteer: a coordinator takes them in hand and the sender sees it.
            NoteBody::Report { .. }
            | NoteBody::Epds { .. }
            | NoteBody::Supervision { .. }
            | NoteBody::VolunteerChange { .. } => {
                f.reports.insert(n.id, (n, Vec::new()));
            }
            NoteBody::Alert { .. } => {
                f.alerts.insert(n.id, (n, Vec::new()));
            }
            NoteBody::ReportUpdate { .. } | NoteBody::AlertUpdate { .. } => updates.push(n),
            _ => {}
        }
    }
    updates.sort_by_key(|u| (u.at, u.id));
    for u in updates {
        match &u.body {
            NoteBody::ReportUpdate { report, .. } => match f.reports.get_mut(report) {
                Some((_, list)) => list.push(u),
                None => f.others.entry(*report).or_default().push(u),
            },
            NoteBody::AlertUpdate { alert, .. } => {
                if let Some((_, list)) = f.alerts.get_mut(alert) {
                    list.push(u);
                }
            }
            _ => {}
        }
    }
    f
}

/// A report's state and outcome: its newest update, never moving backwards.
fn report_state(updates: &[Note]) -> (ReportState, String) {
    let mut state = (ReportState::Open, String::new());
    for u in updates {
        if let NoteBody::ReportUpdate {
            state: s, outcome, ..
        } = &u.body
        {
            if *s >= state.0 {
                state = (*s, outcome.clone());
            }
        }
    }
    state
}

/// An alert for the escalation ladder.
pub(crate) fn ladder_alert(alert: &Note, updates: &[Note]) -> Option<Alert> {
    let NoteBody::Alert {
        severity,
        has_volunteer,
        ..
    } = &alert.body
    else {
        return None;
    };
    let mut acks = Vec::new();
    let mut resolved_at = None;
    for u in updates {
        if let NoteBody::AlertUpdate { ack, resolved, .. } = &u.body {
            if let Some(tier) = ack {
                acks.push(Ack {
                    at: u.at,
                    tier: *tier,
                });
            }
            if *resolved && resolved_at.is_none() {
                resolved_at = Some(u.at);
            }
        }
    }
    Some(Alert {
        raised_at: alert.at,
        severity: *severity,
        has_volunteer: *has_volunteer,
        acks,
        resolved_at,
    })
}

/// An alert's state ("open", "acknowledged", "resolved") on the ladder's verdict, and the
/// outcome of its newest resolution.
pub(crate) fn alert_progress(status: &Status, updates: &[Note]) -> (&'static str, String) {
    let state = if status.resolved {
        "resolved"
    } else if status.acknowledged.is_some() {
        "acknowledged"
    } else {
        "open"
    };
    let outcome = updates
        .iter()
        .rev()
        .find_map(|u| match &u.body {
            NoteBody::AlertUpdate {
                resolved: true,
                outcome,
                ..
            } => Some(outcome.clone()),
            _ => None,
        })
        .unwrap_or_default();
    (state, outcome)
}

fn tier_action(tier: Tier) -> &'static str {
    match tier {
        Tier::Volunteer => "her volunteer checks in with her now",
        Tier::Moderator => "a moderator contacts her now and acknowledges this alert",
        Tier::Referral => {
            "urgent referral: call the programme's safeguarding lead, or emergency services if \
             she may be in danger"
        }
    }
}

impl Companion {
    /// Seals `body` to each of `to` and stores it to go out with the next sync, with this
    /// device's own copy, in one transaction.
    pub(crate) fn send_note(
        &mut self,
        group: &GroupId,
        to: &[DeviceId],
        body: NoteBody,
    ) -> Result<NoteId> {
        body.validate()?;
        if to.is_empty() {
            return Err(InputError::new("to", "nobody to send it to").into());
        }
        let row = self.group_row(group)?;
        let keys = self.profile.keys.clone();
        let me = keys.device_id();
        let at = self.clock.now_ms();
        let id = NoteId::random()?;
        self.change_group(row, |g| {
            if g.summary.standing != Standing::Member {
                return Err(Error::NotAMember);
            }
            let (_, m) = log_and_membership(g)?;
            for d in to {
                let direct = super::seal_note(&keys, &g.summary.id, &m, d, &id, at, &body)?;
                store::put_outgoing(
                    g.w,
                    g.row,
                    &store::Outgoing {
                        note: id,
                        to: *d,
                        direct,
                    },
                )?;
            }
            store::put_note(
                g.w,
                g.row,
                &Note {
                    id,
                    from: me,
                    to: to.to_vec(),
                    at,
                    body,
                    undelivered: Vec::new(),
                },
                false,
            )?;
            Ok(id)
        })
    }

    /// Sends any note to anyone in the group, unchecked: what a tampered client would do, for
    /// tests that check the recipient's device refuses it.
    #[cfg(feature = "forge")]
    #[doc(hidden)]
    pub fn forge_note(
        &mut self,
        group: &GroupId,
        to: &[DeviceId],
        body: NoteBody,
    ) -> Result<NoteId> {
        self.send_note(group, to, body)
    }

    /// The group's moderators other than this device; `none` is the error if there are none.
    pub(crate) fn other_moderators(&self, group: &GroupId, none: &str) -> Result<Vec<DeviceId>> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let me = self.profile.keys.device_id();
        let to: Vec<DeviceId> = moderators(&summary.members)
            .into_iter()
            .filter(|d| *d != me)
            .collect();
        if to.is_empty() {
            return Err(InputError::new("group", none).into());
        }
        Ok(to)
    }

    /// Reports a message to the group's moderators, with the lines around it as this device
    /// shows them. Only the moderators can read it; the reporter sees its state.
    pub fn report(
        &mut self,
        group: &GroupId,
        message: &MessageId,
        reason: ReportReason,
        note: &str,
    ) -> Result<NoteId> {
        let to = self.other_moderators(group, "this group has no other moderator to report to")?;
        let context = self.context_around(group, message)?;
        self.send_note(
            group,
            &to,
            NoteBody::Report {
                message: *message,
                reason,
                note: note.trim().to_string(),
                context,
            },
        )
    }

    /// The reported message and up to two lines before and after it, as shown here.
    fn context_around(&self, group: &GroupId, message: &MessageId) -> Result<Vec<ContextLine>> {
        let mut before = None;
        let mut window: Vec<crate::TimelineItem> = Vec::new();
        loop {
            let page = self.timeline(group, before, 200)?;
            let mut items = page.items;
            items.append(&mut window);
            if let Some(i) = items.iter().position(|it| it.id == *message) {
                let from = i.saturating_sub(2);
                let to = (i + 3).min(items.len());
                return Ok(items[from..to]
                    .iter()
                    .filter(|it| !(it.deleted || it.hidden && it.text.is_empty()))
                    .map(|it| ContextLine {
                        author: it.author_name.clone(),
                        message: it.id,
                        text: it.text.clone(),
                        sent_at: it.sent_at,
                    })
                    .collect());
            }
            match page.older {
                // Keep the first few of this page: the message may be just before them.
                Some(k) => {
                    before = Some(k);
                    window = items.into_iter().take(2).collect();
                }
                None => {
                    return Err(Error::UnknownMessage {
                        id: message.to_hex(),
                    })
                }
            }
        }
    }

    /// This member's reports in a group, newest first, with where each stands.
    pub fn my_reports(&self, group: &GroupId) -> Result<Vec<MyReport>> {
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        let notes = store::notes(self.store.conn(), self.store.cipher(), row)?;
        let pending = store::waiting_notes(self.store.conn(), self.store.cipher(), row)?;
        let folded = fold(notes);
        let mut out: Vec<MyReport> = folded
            .reports
            .values()
            .filter(|(r, _)| r.from == me)
            .filter_map(|(r, updates)| {
                let NoteBody::Report {
                    message, reason, ..
                } = &r.body
                else {
                    return None;
                };
                let (state, outcome) = report_state(updates);
                Some(MyReport {
                    id: r.id.to_hex(),
                    group: group.to_hex(),
                    message_id: message.to_hex(),
                    reason: *reason,
                    state: state.as_str(),
                    outcome,
                    sent_at: r.at,
                    undelivered: r.undelivered.len(),
                    pending: pending.contains(&r.id),
                })
            })
            .collect();
        out.sort_by_key(|a| std::cmp::Reverse(a.sent_at));
        Ok(out)
    }

    /// The review queue across every group this profile moderates: open reports and safety
    /// alerts, most severe first, then oldest first. `all` includes resolved ones.
    pub fn queue(&self, all: bool) -> Result<Vec<QueueItem>> {
        let me = self.profile.keys.device_id();
        let now = self.clock.now_ms();
        let ladder = Ladder::default();
        let mut out = Vec::new();
        for (row, summary) in storage::list(self.store.conn(), self.store.cipher())? {
            if !moderators(&summary.members).contains(&me) {
                continue;
            }
            let names = names(&summary.members);
            let notes = store::notes(self.store.conn(), self.store.cipher(), row)?;
            let folded = fold(notes);
            for (report, updates) in folded.reports.values() {
                if let Some(item) = report_item(&summary, &names, report, updates) {
                    out.push(item);
                }
            }
            for (alert, updates) in folded.alerts.values() {
                if let Some(item) = alert_item(&summary, &names, alert, updates, &ladder, now) {
                    out.push(item);
                }
            }
            for d in detections::list(self.store.conn(), self.store.cipher(), row)? {
                let updates = folded
                    .others
                    .get(&d.id(&summary.id))
                    .map_or(&[][..], Vec::as_slice);
                out.push(detection_item(&summary, &names, &d, updates));
            }
        }
        if !all {
            out.retain(|i| i.state != "resolved");
        }
        out.sort_by(|a, b| {
            (a.state == "resolved")
                .cmp(&(b.state == "resolved"))
                .then(b.severity.cmp(&a.severity))
                .then(a.raised_at.cmp(&b.raised_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// A moderator takes a report or alert in hand; the other moderators and the reporter (or
    /// the member) see it acknowledged.
    pub fn acknowledge(&mut self, item: &str) -> Result<()> {
        self.move_item(item, ReportState::Acknowledged, "")
    }

    /// A moderator closes a report or alert with an outcome the reporter sees.
    pub fn resolve(&mut self, item: &str, outcome: &str) -> Result<()> {
        if outcome.trim().is_empty() {
            return Err(
                InputError::new("outcome", "say what was done (the reporter sees it)").into(),
            );
        }
        self.move_item(item, ReportState::Resolved, outcome.trim())
    }

    fn move_item(&mut self, item: &str, state: ReportState, outcome: &str) -> Result<()> {
        let me = self.profile.keys.device_id();
        let Item {
            id,
            group,
            subject,
            alert: is_alert,
            private,
        } = self.find_item(item)?;
        let row = self.group_row(&group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        // A shared self-check was for this moderator alone: only the mother hears back.
        let mut to: Vec<DeviceId> = if private {
            Vec::new()
        } else {
            moderators(&summary.members)
                .into_iter()
                .filter(|d| *d != me)
                .collect()
        };
        let still_member = summary.members.iter().any(|m| m.device == subject);
        if still_member && subject != me && !to.contains(&subject) {
            to.push(subject);
        }
        let outcome = outcome.to_string();
        let body = if is_alert {
            NoteBody::AlertUpdate {
                alert: id,
                member: subject,
                ack: (state == ReportState::Acknowledged).then_some(Tier::Moderator),
                resolved: state == ReportState::Resolved,
                outcome,
            }
        } else {
            NoteBody::ReportUpdate {
                report: id,
                reporter: subject,
                state,
                outcome,
            }
        };
        if to.is_empty() {
            // The only moderator, and the reporter has left: keep the update here.
            return self.keep_note(&group, body);
        }
        self.send_note(&group, &to, body).map(|_| ())
    }

    /// Stores a note this device made but sends to nobody.
    fn keep_note(&mut self, group: &GroupId, body: NoteBody) -> Result<()> {
        let row = self.group_row(group)?;
        let note = Note {
            id: NoteId::random()?,
            from: self.profile.keys.device_id(),
            to: Vec::new(),
            at: self.clock.now_ms(),
            body,
            undelivered: Vec::new(),
        };
        self.store
            .write(|w| store::put_note(w, row, &note, false))?;
        Ok(())
    }

    /// The queue item an id (or its first characters, at least 4) names, in one pass over the
    /// groups this profile moderates.
    fn find_item(&self, item: &str) -> Result<Item> {
        let wanted = item.trim().to_ascii_lowercase();
        let me = self.profile.keys.device_id();
        let mut found = Vec::new();
        if wanted.len() >= 4 {
            for (row, summary) in storage::list(self.store.conn(), self.store.cipher())? {
                if !moderators(&summary.members).contains(&me) {
                    continue;
                }
                let folded = fold(store::notes(self.store.conn(), self.store.cipher(), row)?);
                let reports = folded.reports.values().map(|(n, _)| (n, false));
                let alerts = folded.alerts.values().map(|(n, _)| (n, true));
                for (n, alert) in reports.chain(alerts) {
                    if n.id.to_hex().starts_with(&wanted) {
                        found.push(Item {
                            id: n.id,
                            group: summary.id,
                            subject: n.from,
                            alert,
                            private: matches!(n.body, NoteBody::Epds { .. }),
                        });
                    }
                }
                // A flagged message is about its author, who is never told: progress goes
                // to the other moderators only.
                for d in detections::list(self.store.conn(), self.store.cipher(), row)? {
                    let id = d.id(&summary.id);
                    if id.to_hex().starts_with(&wanted) {
                        found.push(Item {
                            id,
                            group: summary.id,
                            subject: me,
                            alert: false,
                            private: false,
                        });
                    }
                }
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(InputError::new(
                "item",
                format!(
                    "no report or alert in your queue has the id {item:?} (see `hearth queue`)"
                ),
            )
            .into()),
            _ => Err(InputError::new(
                "item",
                format!("{item:?} matches several items; give more of the id"),
            )
            .into()),
        }
    }

    /// A moderator's private message to one member, sealed to her.
    pub fn nudge(&mut self, group: &GroupId, member: &str, text: &str) -> Result<NoteId> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let me = self.profile.keys.device_id();
        if !moderators(&summary.members).contains(&me) {
            return Err(Error::NotAllowed {
                action: "send nudges",
                allowed: "the group's moderators",
                role: self.profile.role,
            });
        }
        let target = resolve_member(&summary.members, member)?;
        if target.device == me {
            return Err(InputError::new("member", "a nudge goes to someone else").into());
        }
        let text = text.replace("{name}", &target.name);
        self.send_note(
            group,
            &[target.device],
            NoteBody::Nudge {
                text: text.trim().to_string(),
            },
        )
    }

    /// Nudges this device sent or received in a group, oldest first.
    pub fn nudges(&self, group: &GroupId) -> Result<Vec<NudgeView>> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let names = names(&summary.members);
        let me = self.profile.keys.device_id();
        let mut out: Vec<NudgeView> = store::notes(self.store.conn(), self.store.cipher(), row)?
            .into_iter()
            .filter_map(|n| match &n.body {
                NoteBody::Nudge { text } => Some(NudgeView {
                    id: n.id.to_hex(),
                    from: name_of(&names, &n.from),
                    to: n.to.first().map(|d| name_of(&names, d)).unwrap_or_default(),
                    text: text.clone(),
                    at: n.at,
                    mine: n.from == me,
                }),
                _ => None,
            })
            .collect();
        out.sort_by_key(|n| n.at);
        Ok(out)
    }

    /// This moderator's nudge templates (the defaults until she edits them).
    pub fn nudge_templates(&self) -> Result<Vec<Template>> {
        Ok(
            store::setting(self.store.conn(), self.store.cipher(), TEMPLATES_KEY)?
                .unwrap_or_else(default_templates),
        )
    }

    /// Adds or replaces a template (`{name}` becomes the member's pseudonym), or removes it
    /// when `text` is empty.
    pub fn set_nudge_template(&mut self, name: &str, text: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(InputError::new("name", "a template name is 1 to 40 characters").into());
        }
        let mut list = self.nudge_templates()?;
        let text = text.trim();
        if text.chars().count() > super::MAX_NOTE_TEXT {
            return Err(InputError::new("text", "too long for a nudge").into());
        }
        let existed = list.iter().any(|t| t.name == name);
        list.retain(|t| t.name != name);
        if text.is_empty() {
            if !existed {
                return Err(InputError::new("name", format!("no template called {name:?}")).into());
            }
        } else {
            list.push(Template {
                name: name.into(),
                text: text.into(),
            });
        }
        self.store
            .write(|w| store::put_setting(w, TEMPLATES_KEY, &list))?;
        Ok(())
    }
}

fn detection_item(
    summary: &GroupSummary,
    names: &BTreeMap<DeviceId, String>,
    d: &Detection,
    updates: &[Note],
) -> QueueItem {
    let (state, outcome) = report_state(updates);
    QueueItem {
        id: d.id(&summary.id).to_hex(),
        group: summary.id.to_hex(),
        group_name: summary.name.clone(),
        kind: "detected",
        message_id: Some(d.message.to_hex()),
        reason: d.categories.join(", "),
        state: state.as_str(),
        severity: d.severity(),
        raised_at: d.found_at,
        raised_by: "the on-device detector".into(),
        note: format!(
            "flagged as {} on this device; nothing was hidden and its author was not told",
            d.level.as_str()
        ),
        outcome,
        context: vec![ContextView {
            author: name_of(names, &d.author),
            message_id: d.message.to_hex(),
            text: d.text.clone(),
            sent_at: d.sent_at,
            reported: true,
        }],
        escalation: None,
    }
}

fn report_item(
    summary: &GroupSummary,
    names: &BTreeMap<DeviceId, String>,
    report: &Note,
    updates: &[Note],
) -> Option<QueueItem> {
    let (state, outcome) = report_state(updates);
    if let NoteBody::Epds {
        total,
        item10_positive,
        flags,
        ..
    } = &report.body
    {
        return Some(QueueItem {
            id: report.id.to_hex(),
            group: summary.id.to_hex(),
            group_name: summary.name.clone(),
            kind: "self_check",
            message_id: None,
            reason: if flags.is_empty() {
                "self-check shared".into()
            } else {
                flags.join(", ")
            },
            state: state.as_str(),
            severity: if *item10_positive {
                5
            } else if flags.is_empty() {
                1
            } else {
                3
            },
            raised_at: report.at,
            raised_by: name_of(names, &report.from),
            note: format!("EPDS total {total} of 30"),
            outcome,
            context: Vec::new(),
            escalation: None,
        });
    }
    let (kind, reason, severity, note) = match &report.body {
        NoteBody::Supervision { text } => (
            "supervision",
            "supervision note".to_string(),
            1,
            text.clone(),
        ),
        NoteBody::VolunteerChange { current } => (
            "volunteer_change",
            "asks for a different volunteer".to_string(),
            2,
            if current.is_empty() {
                "No reason is asked for.".to_string()
            } else {
                format!(
                    "Her volunteer now: {}. No reason is asked for.",
                    current.join(", ")
                )
            },
        ),
        _ => ("", String::new(), 0, String::new()),
    };
    if !kind.is_empty() {
        return Some(QueueItem {
            id: report.id.to_hex(),
            group: summary.id.to_hex(),
            group_name: summary.name.clone(),
            kind,
            message_id: None,
            reason,
            state: state.as_str(),
            severity,
            raised_at: report.at,
            raised_by: name_of(names, &report.from),
            note,
            outcome,
            context: Vec::new(),
            escalation: None,
        });
    }
    let NoteBody::Report {
        message,
        reason,
        note,
        context,
    } = &report.body
    else {
        return None;
    };
    Some(QueueItem {
        id: report.id.to_hex(),
        group: summary.id.to_hex(),
        group_name: summary.name.clone(),
        kind: "report",
        message_id: Some(message.to_hex()),
        reason: reason.as_str().to_string(),
        state: state.as_str(),
        severity: reason.severity(),
        raised_at: report.at,
        raised_by: name_of(names, &report.from),
        note: note.clone(),
        outcome,
        context: context
            .iter()
            .map(|c| ContextView {
                author: c.author.clone(),
                message_id: c.message.to_hex(),
                text: c.text.clone(),
                sent_at: c.sent_at,
                reported: c.message == *message,
            })
            .collect(),
        escalation: None,
    })
}

fn alert_item(
    summary: &GroupSummary,
    names: &BTreeMap<DeviceId, String>,
    alert: &Note,
    updates: &[Note],
    ladder: &Ladder,
    now: i64,
) -> Option<QueueItem> {
    let NoteBody::Alert {
        severity,
        categories,
        shared_text,
        ..
    } = &alert.body
    else {
        return None;
    };
    let a = ladder_alert(alert, updates)?;
    let status = ladder.status(&a, now);
    let (state, outcome) = alert_progress(&status, updates);
    Some(QueueItem {
        id: alert.id.to_hex(),
        group: summary.id.to_hex(),
        group_name: summary.name.clone(),
        kind: "alert",
        message_id: None,
        reason: categories.join(", "),
        state,
        severity: match severity {
            Severity::Urgent => 5,
            Severity::Concern => 4,
        },
        raised_at: alert.at,
        raised_by: name_of(names, &alert.from),
        note: shared_text.clone(),
        outcome,
        context: Vec::new(),
        escalation: Some(EscalationView {
            tier: status.tier,
            acknowledged_by_tier: status.acknowledged.as_ref().map(|a| a.tier),
            due_at: status.due_at,
            overdue_ms: status.overdue_ms,
            action: tier_action(status.tier).to_string(),
        }),
    })
}
