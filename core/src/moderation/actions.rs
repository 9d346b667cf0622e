//! The moderator's toolkit on the [`Companion`]: each action writes one record into the
//! group's newest chapter (it syncs like a message) and into the moderation table, in one
//! transaction. Views fold the table; none loads a document.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::companion::{Companion, GroupWrite};
use crate::error::{Error, InputError, Result};
use crate::group::storage::{self, GroupSummary, Standing};
use crate::group::{assemble, GroupId, Member};
use crate::identity::{DeviceId, Role};
use crate::message::MessageId;
use crate::sync::{log_and_membership, resolve_member};
use crate::timeline;

use super::{store, Action, Ending, Held, ModRecord, ModState, RecordId, Resource, Stage};

const DAY_MS: i64 = 24 * 3_600_000;

/// The group's rules, pins, settings and duty, as a member's screen shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModerationView {
    pub is_moderator: bool,
    pub rules: Option<RulesView>,
    /// This member must accept the rules before she can post.
    pub must_accept_rules: bool,
    pub pins: Vec<PinView>,
    /// Seconds between a member's posts now (0: no slow mode); longer while nobody is on duty
    /// if the moderators chose so.
    pub slow_mode_secs: u32,
    pub slow_mode_set_secs: u32,
    pub slow_mode_off_duty_secs: u32,
    /// Every post waits for a moderator's approval.
    pub holding_all: bool,
    /// Posts by members admitted less than this many days ago wait for approval (0: off).
    pub new_member_days: u32,
    /// Pseudonyms of the moderators on duty.
    pub on_duty: Vec<String>,
    /// No moderator is on duty: show where to get help now.
    pub nobody_on_duty: bool,
    /// While nobody is on duty, the banner's contents: where to get help now (emergency
    /// number, crisis lines, maternity triage), from the help card that ships with the app.
    pub help_now: Option<crate::notes::safety::HelpNow>,
    pub i_am_on_duty: bool,
    /// This member is muted until then.
    pub muted_until: Option<i64>,
    /// Slow mode: this member may post again at this time.
    pub next_post_at: Option<i64>,
    /// The group's planned ending, if moderators set one.
    pub ending: Option<EndingView>,
    /// "antenatal" until a moderator moves the group on, then "postnatal".
    pub stage: &'static str,
    /// Volunteers and coordinators only: a debrief group no mother is invited to.
    pub volunteers_only: bool,
}

/// A planned ending as members see it: reminders four weeks and one week before, a farewell
/// period, then read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndingView {
    pub ends_at: i64,
    pub farewell_from: i64,
    /// "planned", "four_weeks", "one_week", "farewell" or "ended".
    pub phase: &'static str,
    /// What to show members now (none while the end is more than four weeks away).
    pub reminder: Option<String>,
    /// What comes next: a follow-on group or a volunteer, in the moderator's words.
    pub next: String,
    pub set_by: String,
    /// Ended: nobody can post any more; everyone can still read and export.
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesView {
    pub id: String,
    pub text: String,
    pub set_by: String,
    pub set_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinView {
    pub id: String,
    pub title: String,
    pub body: String,
    pub source: String,
    pub pinned_by: String,
    pub pinned_at: i64,
}

/// One moderator action, as the audit log lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditItem {
    pub id: String,
    pub action: &'static str,
    pub by: String,
    pub by_device: String,
    pub at: i64,
    pub why: String,
    /// What it acted on, in words ("message 3f2a…", "Amina", "rules").
    pub target: String,
    pub detail: String,
    /// It reached this device carried into a newer chapter (its original stayed in a chapter
    /// this device does not hold).
    pub carried: bool,
}

/// A member's activity, for the moderators' inactivity view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    pub device: String,
    pub name: String,
    pub role: Role,
    pub admitted_at: i64,
    /// Her newest post this device holds.
    pub last_post_at: Option<i64>,
    pub posts_7d: u32,
    pub posts_28d: u32,
}

/// Who may post, and when: what a send must respect. Moderators are exempt.
pub(crate) struct PostingRules {
    pub must_accept: bool,
    pub muted_until: Option<i64>,
    pub slow_secs: u32,
}

impl Companion {
    // ---- moderator actions

    /// Hides a message from members (they see that a moderator removed it; its author sees
    /// `reason`). Returns the record's id.
    pub fn hide(&mut self, group: &GroupId, message: &MessageId, reason: &str) -> Result<RecordId> {
        if reason.trim().is_empty() {
            return Err(InputError::new(
                "reason",
                "say why (the author sees it, and it goes in the audit log)",
            )
            .into());
        }
        self.write_record(group, Action::Hide { message: *message }, reason)
    }

    pub fn restore(
        &mut self,
        group: &GroupId,
        message: &MessageId,
        reason: &str,
    ) -> Result<RecordId> {
        self.write_record(group, Action::Restore { message: *message }, reason)
    }

    /// Attaches a moderator's correction under a message, visible to all; empty text
    /// withdraws it.
    pub fn correct(
        &mut self,
        group: &GroupId,
        message: &MessageId,
        text: &str,
    ) -> Result<RecordId> {
        let action = Action::Correct {
            message: *message,
            text: text.trim().to_string(),
        };
        self.write_record(group, action, "")
    }

    /// Pins a resource: a curated answer with its source.
    pub fn pin(
        &mut self,
        group: &GroupId,
        title: &str,
        body: &str,
        source: &str,
    ) -> Result<RecordId> {
        let resource = Resource {
            title: title.trim().to_string(),
            body: body.trim().to_string(),
            source: source.trim().to_string(),
        };
        self.write_record(group, Action::Pin { resource }, "")
    }

    pub fn unpin(&mut self, group: &GroupId, pin: &str) -> Result<RecordId> {
        let state = self.moderation_state(group)?;
        let pin = find_pin(&state, pin)?;
        self.write_record(group, Action::Unpin { pin }, "")
    }

    /// Mutes a member (pseudonym or member id) for `for_ms`.
    pub fn mute(
        &mut self,
        group: &GroupId,
        member: &str,
        for_ms: i64,
        reason: &str,
    ) -> Result<RecordId> {
        let device = self.other_member(group, member)?;
        let until = self.clock.now_ms().saturating_add(for_ms);
        self.write_record(
            group,
            Action::Mute {
                member: device,
                until,
            },
            reason,
        )
    }

    pub fn unmute(&mut self, group: &GroupId, member: &str) -> Result<RecordId> {
        let device = self.other_member(group, member)?;
        self.write_record(group, Action::Unmute { member: device }, "")
    }

    /// Sets review: hold every post (`all`), and/or posts by members in their first
    /// `new_member_days` days.
    pub fn set_hold(
        &mut self,
        group: &GroupId,
        all: bool,
        new_member_days: u32,
    ) -> Result<RecordId> {
        self.write_record(
            group,
            Action::Hold {
                group: all,
                new_member_days,
            },
            "",
        )
    }

    pub fn approve(&mut self, group: &GroupId, message: &MessageId) -> Result<RecordId> {
        self.write_record(group, Action::Approve { message: *message }, "")
    }

    pub fn reject(
        &mut self,
        group: &GroupId,
        message: &MessageId,
        reason: &str,
    ) -> Result<RecordId> {
        self.write_record(group, Action::Reject { message: *message }, reason)
    }

    /// Slow mode: members post at most once per `seconds` (0: off), or once per `off_duty`
    /// while no moderator is on duty, if that is longer.
    pub fn set_slow_mode(
        &mut self,
        group: &GroupId,
        seconds: u32,
        off_duty: u32,
    ) -> Result<RecordId> {
        self.write_record(group, Action::SlowMode { seconds, off_duty }, "")
    }

    pub fn set_rules(&mut self, group: &GroupId, text: &str) -> Result<RecordId> {
        let text = text.trim().to_string();
        self.write_record(group, Action::Rules { text }, "")
    }

    /// Marks this moderator on or off duty in the group.
    pub fn set_duty(&mut self, group: &GroupId, on: bool) -> Result<RecordId> {
        self.write_record(group, Action::Duty { on }, "")
    }

    /// Plans the group's ending: read-only from `ends_at` (ms), with a farewell period of
    /// `farewell_days` before it (at most 28) and `next`, what is offered after it (a
    /// follow-on group, a volunteer). Members see reminders four weeks and one week before.
    pub fn plan_ending(
        &mut self,
        group: &GroupId,
        ends_at: i64,
        farewell_days: u32,
        next: &str,
    ) -> Result<RecordId> {
        if ends_at <= self.clock.now_ms() {
            return Err(InputError::new("ends", "a group's end must be in the future").into());
        }
        self.write_record(
            group,
            Action::Ending {
                ends_at,
                farewell_days,
                next: next.trim().to_string(),
            },
            "",
        )
    }

    /// Cancels a planned ending (before it has come).
    pub fn cancel_ending(&mut self, group: &GroupId) -> Result<RecordId> {
        self.write_record(
            group,
            Action::Ending {
                ends_at: 0,
                farewell_days: 0,
                next: String::new(),
            },
            "",
        )
    }

    /// Moves the group to another stage (moderators), antenatal to postnatal as the babies
    /// arrive, optionally renaming it ("Due in March" to "March babies"). Every member's
    /// device shows the new stage and name after its next sync. Rules and pins are updated
    /// with `set_rules` and `pin` as usual.
    pub fn set_stage(
        &mut self,
        group: &GroupId,
        stage: Stage,
        rename: Option<&str>,
    ) -> Result<RecordId> {
        let name = rename.map(crate::group::parse_group_name).transpose()?;
        if let Some(n) = &name {
            self.check_name_free(n, Some(group))?;
        }
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        self.require_group_moderator(&summary, "change the group's stage")?;
        if let Some(n) = name {
            self.rename_group(group, &n)?;
        }
        self.write_record(group, Action::Stage { stage }, "")
    }

    /// Makes the group volunteers and coordinators only (a debrief group), or opens it to
    /// mothers again. While it is volunteers-only no device invites or admits a mother: her
    /// invite is refused when it is made, and a mother's registration with an invite made
    /// before is never admitted. It is refused while a mother is still a member.
    pub fn set_volunteers_only(&mut self, group: &GroupId, on: bool) -> Result<RecordId> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        self.require_group_moderator(&summary, "choose who the group is for")?;
        if summary.capacity.limit == crate::group::Capacity::MIN {
            return Err(InputError::new(
                "group",
                "a one-to-one conversation is not a debrief group",
            )
            .into());
        }
        if on {
            let known = names(&summary.members);
            let mothers: Vec<String> = summary
                .members
                .iter()
                .filter(|m| m.role == Role::Mother)
                .map(|m| name_of(&known, &m.device))
                .collect();
            if !mothers.is_empty() {
                return Err(InputError::new(
                    "group",
                    format!(
                        "mothers are members of this group ({}); a volunteers-only group \
                         starts from one without them",
                        mothers.join(", ")
                    ),
                )
                .into());
            }
        }
        self.write_record(
            group,
            Action::Audience {
                volunteers_only: on,
            },
            "",
        )
    }

    /// Accepts the group's current rules (any member).
    pub fn accept_rules(&mut self, group: &GroupId) -> Result<RecordId> {
        let state = self.moderation_state(group)?;
        let rules = state
            .rules
            .as_ref()
            .ok_or_else(|| InputError::new("rules", "this group has no rules to accept yet"))?;
        self.write_record(group, Action::Accept { rules: rules.id }, "")
    }

    // ---- views

    /// Rules, pins, review and slow-mode settings, duty, and this member's own standing.
    pub fn moderation(&self, group: &GroupId) -> Result<ModerationView> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let state = self.state_of(row)?;
        let me = self.profile.keys.device_id();
        let now = self.clock.now_ms();
        let names = names(&summary.members);
        let moderators = moderators(&summary.members);
        let on_duty: Vec<DeviceId> = state.on_duty(&moderators).collect();
        let rules = posting_rules(&state, &summary, &me, now);
        let slow = state.slow_mode(!on_duty.is_empty());
        Ok(ModerationView {
            is_moderator: moderators.contains(&me),
            rules: state.rules.as_ref().map(|r| RulesView {
                id: r.id.to_hex(),
                text: r.text.clone(),
                set_by: name_of(&names, &r.by),
                set_at: r.at,
            }),
            must_accept_rules: rules.must_accept,
            pins: state
                .pins
                .values()
                .map(|p| PinView {
                    id: p.id.to_hex(),
                    title: p.resource.title.clone(),
                    body: p.resource.body.clone(),
                    source: p.resource.source.clone(),
                    pinned_by: name_of(&names, &p.by),
                    pinned_at: p.at,
                })
                .collect(),
            slow_mode_secs: slow,
            slow_mode_set_secs: state.slow_secs,
            slow_mode_off_duty_secs: state.off_duty_slow_secs,
            holding_all: state.holding_all(),
            new_member_days: state.new_member_days,
            on_duty: on_duty.iter().map(|d| name_of(&names, d)).collect(),
            nobody_on_duty: on_duty.is_empty(),
            help_now: if on_duty.is_empty() {
                Some(self.duty_banner()?)
            } else {
                None
            },
            i_am_on_duty: on_duty.contains(&me),
            muted_until: rules.muted_until,
            ending: state.ending.as_ref().map(|e| ending_view(e, &names, now)),
            stage: state.stage.map_or(Stage::Antenatal, |(s, _, _)| s).as_str(),
            volunteers_only: state.volunteers_only,
            next_post_at: (rules.slow_secs > 0 && summary.last_post_at > 0)
                .then(|| summary.last_post_at + i64::from(rules.slow_secs) * 1_000)
                .filter(|t| *t > now),
        })
    }

    /// Every moderator action this device holds, oldest first. Moderators only.
    pub fn audit_log(&self, group: &GroupId) -> Result<Vec<AuditItem>> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        self.require_group_moderator(&summary, "see the audit log")?;
        let state = self.state_of(row)?;
        let names = names(&summary.members);
        Ok(state
            .audit
            .iter()
            .map(|h| audit_item(h, &names, &state))
            .collect())
    }

    /// Per member: her newest post and her posts in the last 7 and 28 days, quietest first.
    /// Moderators only.
    pub fn activity(&self, group: &GroupId) -> Result<Vec<ActivityRow>> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        self.require_group_moderator(&summary, "see members' activity")?;
        let now = self.clock.now_ms();
        let mut last: HashMap<DeviceId, i64> = HashMap::new();
        let mut counts: HashMap<DeviceId, (u32, u32)> = HashMap::new();
        let mut before = None;
        let members: Vec<DeviceId> = summary.members.iter().map(|m| m.device).collect();
        loop {
            let (entries, more) =
                timeline::page(self.store.conn(), self.store.cipher(), row, before, 500)?;
            for e in entries.iter().rev() {
                if e.deleted() {
                    continue;
                }
                let at = e.sort_key().stamp;
                last.entry(e.author()).or_insert(at);
                let c = counts.entry(e.author()).or_default();
                if at >= now - 7 * DAY_MS {
                    c.0 += 1;
                }
                if at >= now - 28 * DAY_MS {
                    c.1 += 1;
                }
            }
            let oldest = entries.first().map(|e| e.sort_key());
            let done = !more
                || (oldest.is_some_and(|k| k.stamp < now - 28 * DAY_MS)
                    && members.iter().all(|d| last.contains_key(d)));
            if done {
                break;
            }
            before = oldest;
        }
        let mut rows: Vec<ActivityRow> = summary
            .members
            .iter()
            .map(|m| {
                let (d7, d28) = counts.get(&m.device).copied().unwrap_or_default();
                ActivityRow {
                    device: m.device.to_hex(),
                    name: display_name(m),
                    role: m.role,
                    admitted_at: m.admitted_at,
                    last_post_at: last.get(&m.device).copied(),
                    posts_7d: d7,
                    posts_28d: d28,
                }
            })
            .collect();
        rows.sort_by_key(|r| {
            (
                r.posts_28d,
                r.last_post_at.unwrap_or(i64::MIN),
                r.name.clone(),
            )
        });
        Ok(rows)
    }

    // ---- internals

    /// The group's moderation state, folded from the records this device holds.
    pub(crate) fn moderation_state(&self, group: &GroupId) -> Result<ModState> {
        let row = self.group_row(group)?;
        self.state_of(row)
    }

    pub(crate) fn state_of(&self, row: i64) -> Result<ModState> {
        Ok(ModState::fold(store::list(
            self.store.conn(),
            self.store.cipher(),
            row,
        )?))
    }

    fn require_group_moderator(&self, s: &GroupSummary, action: &'static str) -> Result<()> {
        let me = self.profile.keys.device_id();
        if s.members
            .iter()
            .any(|m| m.device == me && m.role == Role::Moderator)
        {
            return Ok(());
        }
        Err(Error::NotAllowed {
            action,
            allowed: "the group's moderators",
            role: s
                .members
                .iter()
                .find(|m| m.device == me)
                .map_or(self.profile.role, |m| m.role),
        })
    }

    /// Resolves a member other than this device (pseudonym or member id).
    fn other_member(&self, group: &GroupId, who: &str) -> Result<DeviceId> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let target = resolve_member(&summary.members, who)?;
        if target.device == self.profile.keys.device_id() {
            return Err(InputError::new("member", "you cannot do this to yourself").into());
        }
        if target.role == Role::Moderator {
            return Err(InputError::new(
                "member",
                format!(
                    "{} is a moderator; moderators are not muted",
                    display_name(target)
                ),
            )
            .into());
        }
        Ok(target.device)
    }

    /// Writes a record without checking this device's role: what a tampered client would
    /// do, for tests that check every other device refuses it.
    #[cfg(feature = "forge")]
    #[doc(hidden)]
    pub fn forge_record(&mut self, group: &GroupId, action: Action, why: &str) -> Result<RecordId> {
        self.write_record_as(group, action, why, false)
    }

    fn write_record(&mut self, group: &GroupId, action: Action, why: &str) -> Result<RecordId> {
        self.write_record_as(group, action, why, true)
    }

    /// Writes one record by this device: checked exactly as every receiving device will check
    /// it, then into the newest chapter and the moderation table in one transaction.
    fn write_record_as(
        &mut self,
        group: &GroupId,
        action: Action,
        why: &str,
        checked: bool,
    ) -> Result<RecordId> {
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        let now = self.clock.now_ms();
        self.change_group(row, |g| {
            // Records fold in time order: a record is dated after every record this device
            // holds, so an action always lands after the ones its writer saw (a restore after
            // its hide), even within one clock tick or behind a faster clock.
            let newest = store::list(&g.w.tx, g.w.cipher, g.row)?
                .into_iter()
                .flat_map(Held::flatten)
                .map(|h| h.record.at)
                .max()
                .unwrap_or(i64::MIN);
            let record = ModRecord {
                at: now.max(newest.saturating_add(1)),
                why: why.trim().to_string(),
                action,
            };
            record.validate()?;
            if g.summary.standing != Standing::Member {
                return Err(Error::NotAMember);
            }
            let (_, m) = log_and_membership(g)?;
            if checked
                && record.action.needs_moderator()
                && !m.was_moderator_in(&me, g.summary.chapter)
            {
                return Err(Error::NotAllowed {
                    action: "moderate this group",
                    allowed: "its moderators",
                    role: m.members.get(&me).map_or(Role::Mother, |s| s.role),
                });
            }
            if let Some(message) = record.action.message() {
                check_message(g, &message)?;
            }
            append_record(g, me, record)
        })
    }
}

/// Writes a record by this device (`me`) into the group's newest chapter and the moderation
/// table, inside the caller's transaction. The caller has checked it.
pub(crate) fn append_record(
    g: &mut GroupWrite<'_, '_>,
    me: DeviceId,
    record: ModRecord,
) -> Result<RecordId> {
    let id = RecordId::random()?;
    let change = g.current()?.add_record(&id, &record)?;
    g.record(&change)?;
    store::put(
        g.w,
        g.row,
        &[Held {
            id,
            by: me,
            chapter: g.summary.chapter,
            carried: false,
            record,
        }],
    )?;
    Ok(id)
}

fn check_message(g: &GroupWrite<'_, '_>, message: &MessageId) -> Result<()> {
    assemble(g.chapters, message)?
        .map(|_| ())
        .ok_or_else(|| Error::UnknownMessage {
            id: message.to_hex(),
        })
}

/// What a send must respect, for `me` at `now`.
pub(crate) fn posting_rules(
    state: &ModState,
    summary: &GroupSummary,
    me: &DeviceId,
    now: i64,
) -> PostingRules {
    let moderators = moderators(&summary.members);
    if moderators.contains(me) {
        return PostingRules {
            must_accept: false,
            muted_until: None,
            slow_secs: 0,
        };
    }
    let anyone_on_duty = state.on_duty(&moderators).next().is_some();
    PostingRules {
        must_accept: state.must_accept(me),
        muted_until: state.muted_at(me, now).map(|(_, until)| until),
        slow_secs: state.slow_mode(anyone_on_duty),
    }
}

pub(crate) fn moderators(members: &[Member]) -> Vec<DeviceId> {
    members
        .iter()
        .filter(|m| m.role == Role::Moderator)
        .map(|m| m.device)
        .collect()
}

pub(crate) fn names(members: &[Member]) -> BTreeMap<DeviceId, String> {
    members
        .iter()
        .map(|m| (m.device, display_name(m)))
        .collect()
}

fn display_name(m: &Member) -> String {
    if m.name.is_empty() {
        format!("member {}", m.device.short())
    } else {
        m.name.clone()
    }
}

pub(crate) fn name_of(names: &BTreeMap<DeviceId, String>, d: &DeviceId) -> String {
    names
        .get(d)
        .cloned()
        .unwrap_or_else(|| format!("former member {}", d.short()))
}

fn find_pin(state: &ModState, given: &str) -> Result<RecordId> {
    let wanted = given.trim().to_lowercase();
    let found: Vec<RecordId> = state
        .pins
        .values()
        .filter(|p| p.id.to_hex().starts_with(&wanted) || p.resource.title.to_lowercase() == wanted)
        .map(|p| p.id)
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(InputError::new("pin", format!("no pinned resource matches {given:?}")).into()),
        _ => Err(
            InputError::new("pin", format!("{given:?} matches several pins; use its id")).into(),
        ),
    }
}

/// A time for people, in UTC.
pub(crate) fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("time {ms}"))
}

/// Where a planned ending stands now, and what to tell members.
fn ending_view(e: &Ending, names: &BTreeMap<DeviceId, String>, now: i64) -> EndingView {
    let when = utc(e.ends_at);
    let next = if e.next.is_empty() {
        String::new()
    } else {
        format!(" What comes next: {}", e.next)
    };
    let (phase, reminder) = if now >= e.ends_at {
        (
            "ended",
            Some(format!(
                "This group ended on {when}. You can still read it and export your messages.{next}"
            )),
        )
    } else if now >= e.farewell_from() {
        (
            "farewell",
            Some(format!(
                "This is the group's farewell time: it ends on {when}. A good moment to say \
                 goodbye and to keep what you'd like (you can export your messages).{next}"
            )),
        )
    } else if e.ends_at - now <= 7 * DAY_MS {
        (
            "one_week",
            Some(format!("This group ends in a week, on {when}.{next}")),
        )
    } else if e.ends_at - now <= 28 * DAY_MS {
        (
            "four_weeks",
            Some(format!(
                "This group ends in about four weeks, on {when}. Your moderators will help \
                 everyone plan what comes next.{next}"
            )),
        )
    } else {
        ("planned", None)
    };
    EndingView {
        ends_at: e.ends_at,
        farewell_from: e.farewell_from(),
        phase,
        reminder,
        next: e.next.clone(),
        set_by: name_of(names, &e.by),
        read_only: now >= e.ends_at,
    }
}

fn audit_item(h: &Held, names: &BTreeMap<DeviceId, String>, state: &ModState) -> AuditItem {
    let short = |m: &MessageId| format!("message {}", &m.to_hex()[..8]);
    let (target, detail) = match &h.record.action {
        Action::Hide { message }
        | Action::Restore { message }
        | Action::Approve { message }
        | Action::Reject { message } => (short(message), String::new()),
        Action::Correct { message, text } => (
            short(message),
            if text.is_empty() {
                "correction withdrawn".into()
            } else {
                text.clone()
            },
        ),
        Action::Pin { resource } => (
            "pinned resources".into(),
            format!("{} ({})", resource.title, resource.source),
        ),
        Action::Unpin { pin } => (
            "pinned resources".into(),
            state
                .pins
                .get(pin)
                .map(|p| p.resource.title.clone())
                .unwrap_or_else(|| format!("pin {}", &pin.to_hex()[..8])),
        ),
        Action::Mute { member, until } => (name_of(names, member), format!("until {until}")),
        Action::Unmute { member } => (name_of(names, member), String::new()),
        Action::Hold {
            group,
            new_member_days,
        } => (
            "review".into(),
            format!("all posts: {group}; new members' first {new_member_days} days"),
        ),
        Action::SlowMode { seconds, off_duty } => (
            "slow mode".into(),
            format!("{seconds} s between posts; {off_duty} s while nobody is on duty"),
        ),
        Action::Rules { text } => ("rules".into(), text.clone()),
        Action::Duty { on } => (
            "duty".into(),
            if *on { "on duty" } else { "off duty" }.into(),
        ),
        Action::Carry { records } => ("new chapter".into(), format!("{} records", records.len())),
        Action::Ending {
            ends_at,
            farewell_days,
            ..
        } => (
            "ending".into(),
            if *ends_at == 0 {
                "planned ending cancelled".into()
            } else {
                format!(
                    "ends {}; farewell from {farewell_days} days before",
                    utc(*ends_at)
                )
            },
        ),
        Action::Stage { stage } => ("stage".into(), stage.as_str().into()),
        Action::Audience { volunteers_only } => (
            "audience".into(),
            if *volunteers_only {
                "volunteers and coordinators only".into()
            } else {
                "open to mothers".into()
            },
        ),
        Action::Accept { .. } => ("rules".into(), "accepted".into()),
    };
    AuditItem {
        id: h.id.to_hex(),
        action: h.record.action.name(),
        by: name_of(names, &h.by),
        by_device: h.by.to_hex(),
        at: h.record.at,
        why: h.record.why.clone(),
        target,
        detail,
        carried: h.carried,
    }
}
