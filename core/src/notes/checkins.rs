//! Check-ins: a peer volunteer's recurring one-to-one check-ins with the mothers she supports,
//! carried in their two-person conversations as direct notes, so only the two of them (and
//! never the relay) know the plan.
//!
//! - The volunteer **plans** check-ins in a conversation she started (weekly by default, on
//!   the mother's clock: a 19:00 check-in stays at 19:00 where she lives when her clocks
//!   change). The plan is a note to the mother, so both phones show it. A plan is refused
//!   once the volunteer supports as many mothers as her **caseload cap**.
//! - Her phone lists what is **due and overdue** ([`Companion::checkins`]); nothing while she is
//!   **off duty**: no prompts while off.
//! - The mother can **snooze** or **skip** the next check-in without explaining; that is a note
//!   to her volunteer.
//! - The volunteer **records an outcome** (talked, no reply, needs follow-up). The outcome and
//!   her note stay on her phone. **Needs follow-up** goes up the escalation ladder at once: an
//!   alert to the moderators of her **debrief group** (the volunteers' group her coordinators
//!   run), with her note. Without a debrief group it is refused before anything is written, so
//!   a worry is never recorded where nobody will see it.
//! - **Supervision notes**: a volunteer's private note to the moderators (supervisors) of her
//!   debrief group; nobody else sees it.
//!
//! The schedule arithmetic (time zones, daylight-saving changes, snoozes, what is due) is
//! `hearth_care::schedule`'s; this module keeps the notes and applies it.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use hearth_care::schedule::{
    self, Action as RecordAction, CheckInRecord, DuePolicy, DueState, OccurrenceState, Outcome,
    Schedule,
};
use hearth_safety::escalation::Severity;

use crate::companion::Companion;
use crate::error::{Error, InputError, Result};
use crate::group::storage;
use crate::group::GroupId;
use crate::identity::{DeviceId, Role};
use crate::moderation::actions::{name_of, names};

use super::{store, Note, NoteBody, NoteId};

const ON_DUTY_KEY: &str = "volunteer_on_duty";
const CAP_KEY: &str = "volunteer_caseload_cap";
const DEBRIEF_KEY: &str = "volunteer_debrief_group";

/// A volunteer's caseload cap until she (or her coordinator) sets one.
pub const DEFAULT_CAP: u32 = 6;
/// The highest cap a volunteer can set: more than this is how volunteers burn out.
pub const MAX_CAP: u32 = 20;

/// How a check-in went, as the volunteer records it.
pub type CheckinOutcome = Outcome;

/// Parses an outcome as typed: `talked`, `no_reply` (or `no-reply`), `needs_follow_up`.
pub fn parse_outcome(s: &str) -> std::result::Result<Outcome, InputError> {
    match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
        "talked" => Ok(Outcome::Talked),
        "no_reply" => Ok(Outcome::NoReply),
        "needs_follow_up" => Ok(Outcome::NeedsFollowUp),
        other => Err(InputError::new(
            "outcome",
            format!("{other:?} is not an outcome; use talked, no_reply or needs_follow_up"),
        )),
    }
}

pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Talked => "talked",
        Outcome::NoReply => "no_reply",
        Outcome::NeedsFollowUp => "needs_follow_up",
    }
}

/// What the volunteer types to plan check-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    /// `monday` … `sunday` (or `mon` … `sun`), on the mother's clock.
    pub day: String,
    /// `HH:MM` on the mother's clock.
    pub at: String,
    /// The mother's IANA time zone, such as `Europe/London`.
    pub time_zone: String,
    /// Weeks between check-ins (1 = weekly).
    pub every_weeks: u32,
    /// `YYYY-MM-DD`: the first check-in is on the first `day` on or after it; today (her
    /// date) if not given.
    pub start: Option<String>,
}

/// One line of a volunteer's due list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueCheckin {
    pub group: String,
    pub mother: String,
    /// The occurrence's date on her clock (`YYYY-MM-DD`); names it in `record_checkin`.
    pub date: String,
    /// Its time on her clock, `YYYY-MM-DD HH:MM`.
    pub her_time: String,
    pub due_at: i64,
    pub overdue_at: i64,
    pub snoozed_until: Option<i64>,
    /// "overdue", "due" or "upcoming".
    pub state: &'static str,
}

/// A volunteer's check-ins: her standing and what is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckinsView {
    pub on_duty: bool,
    pub cap: u32,
    /// Mothers she has planned check-ins with now.
    pub caseload: u32,
    /// Her debrief group's name, if she chose one (where follow-ups go).
    pub debrief_group: Option<String>,
    /// Overdue first, then due and upcoming (empty while off duty).
    pub due: Vec<DueCheckin>,
}

/// A recorded check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedCheckin {
    pub group: String,
    pub date: String,
    pub outcome: &'static str,
    /// The alert sent to her debrief group's moderators, for `needs_follow_up`.
    pub follow_up_alert: Option<String>,
}

/// The mother's view of her check-ins with one volunteer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MyCheckin {
    pub group: String,
    pub volunteer: String,
    /// "weekly on Tuesday at 19:00 (Europe/London)", in words.
    pub plan: String,
    /// The next check-in still open: its date on her clock, and when (ms).
    pub next_date: Option<String>,
    pub next_at: Option<i64>,
    pub snoozed_until: Option<i64>,
}

/// A supervision note as the sender or a supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupervisionNote {
    pub id: String,
    pub from: String,
    pub text: String,
    pub at: i64,
    pub mine: bool,
}

/// A conversation as the check-ins read it.
struct Conversation {
    summary: storage::GroupSummary,
    notes: Vec<Note>,
}

/// A schedule this volunteer runs, with the mother's pseudonym and the records about it.
struct MyPlan {
    group: GroupId,
    mother: String,
    schedule: Schedule,
    records: Vec<CheckInRecord>,
}

impl Conversation {
    /// The plan in effect here if `volunteer` made it.
    fn plan_by(&self, volunteer: &DeviceId) -> Option<MyPlan> {
        let (from, schedule) = current_plan(&self.notes)?;
        if from != *volunteer {
            return None;
        }
        let mother = self
            .summary
            .members
            .iter()
            .find(|m| m.device.to_hex() == schedule.mother)
            .map_or_else(String::new, |m| m.name.clone());
        Some(MyPlan {
            group: self.summary.id,
            mother,
            records: records_of(&self.notes, &schedule),
            schedule,
        })
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn care_input(e: hearth_care::Error) -> Error {
    match e {
        hearth_care::Error::Invalid { field, reason } => InputError::new(&field, reason).into(),
        other => InputError::new("schedule", other.to_string()).into(),
    }
}

/// The schedule in effect in a conversation: the latest plan note, if it was not ended.
fn current_plan(notes: &[Note]) -> Option<(DeviceId, Schedule)> {
    notes
        .iter()
        .filter_map(|n| match &n.body {
            NoteBody::CheckinPlan { schedule } => Some((n.at, n.id, n.from, schedule)),
            _ => None,
        })
        .max_by_key(|(at, id, _, _)| (*at, *id))
        .and_then(|(_, _, from, s)| s.clone().map(|s| (from, s)))
}

/// The records about a schedule: the volunteer's own outcomes and the mother's snoozes and
/// skips, each only from the person allowed to write it.
fn records_of(notes: &[Note], s: &Schedule) -> Vec<CheckInRecord> {
    notes
        .iter()
        .filter_map(|n| match &n.body {
            NoteBody::CheckinRecord { record } if record.schedule == s.id => {
                let from = n.from.to_hex();
                let allowed = match record.action {
                    RecordAction::Done { .. } => from == s.volunteer,
                    RecordAction::Snoozed { .. } | RecordAction::Skipped => from == s.mother,
                };
                allowed.then(|| record.clone())
            }
            _ => None,
        })
        .collect()
}

fn describe(s: &Schedule) -> String {
    let every = match s.every_weeks {
        1 => "weekly".to_string(),
        n => format!("every {n} weeks"),
    };
    format!(
        "{every} on {} at {} ({})",
        s.day,
        s.at.format("%H:%M"),
        s.time_zone
    )
}

impl Companion {
    fn setting_or<T: serde::de::DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        Ok(store::setting(self.store.conn(), self.store.cipher(), key)?.unwrap_or(default))
    }

    pub(crate) fn require_volunteer(&self, action: &'static str) -> Result<()> {
        if matches!(self.profile.role, Role::Volunteer | Role::Moderator) {
            Ok(())
        } else {
            Err(Error::NotAllowed {
                action,
                allowed: "volunteers and moderators",
                role: self.profile.role,
            })
        }
    }

    /// Every conversation with its summary and the notes it holds, in one pass over the store.
    fn conversations(&self) -> Result<Vec<Conversation>> {
        let mut out = Vec::new();
        for (row, summary) in storage::list(self.store.conn(), self.store.cipher())? {
            if summary.capacity.limit == crate::group::Capacity::MIN {
                let notes = store::notes(self.store.conn(), self.store.cipher(), row)?;
                out.push(Conversation { summary, notes });
            }
        }
        Ok(out)
    }

    /// The schedules this volunteer runs, one per conversation.
    fn my_schedules(&self) -> Result<Vec<MyPlan>> {
        let me = self.profile.keys.device_id();
        Ok(self
            .conversations()?
            .iter()
            .filter_map(|c| c.plan_by(&me))
            .collect())
    }

    /// This volunteer's schedule in one conversation (reading only that conversation).
    fn my_schedule_in(&self, group: &GroupId) -> Result<MyPlan> {
        let row = self.group_row(group)?;
        let c = Conversation {
            summary: storage::load(self.store.conn(), self.store.cipher(), row)?,
            notes: store::notes(self.store.conn(), self.store.cipher(), row)?,
        };
        c.plan_by(&self.profile.keys.device_id())
            .ok_or_else(|| InputError::new("group", "no check-ins are planned here").into())
    }

    /// The other person of a conversation this profile is in.
    fn conversation_partner(&self, group: &GroupId) -> Result<crate::group::Member> {
        let info = self.find_group(&group.to_hex())?;
        if !info.conversation {
            return Err(InputError::new(
                "group",
                format!(
                    "{:?} is a group, not a one-to-one conversation; check-ins happen in conversations",
                    info.name
                ),
            )
            .into());
        }
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let me = self.profile.keys.device_id();
        summary
            .members
            .into_iter()
            .find(|m| m.device != me)
            .ok_or_else(|| {
                InputError::new(
                    "group",
                    format!(
                        "nobody has joined {:?} yet; check-ins begin once she has",
                        info.name
                    ),
                )
                .into()
            })
    }

    /// Plans recurring check-ins in a conversation this volunteer started; replaces any plan it
    /// had. The mother's phone shows it after the next sync.
    pub fn plan_checkins(&mut self, group: &GroupId, request: &PlanRequest) -> Result<String> {
        self.require_volunteer("plan check-ins")?;
        let mother = self.conversation_partner(group)?;
        let me = self.profile.keys.device_id();
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        if !summary
            .members
            .iter()
            .any(|m| m.device == me && m.role == Role::Moderator)
        {
            return Err(InputError::new(
                "group",
                "only the volunteer who started the conversation plans its check-ins",
            )
            .into());
        }
        self.room_in_caseload(Some(group))?;
        let zone = serde_json::Value::String(request.time_zone.trim().into());
        let start = match &request.start {
            Some(s) => s.trim().to_string(),
            None => {
                // Today on her clock.
                let probe = parse_schedule(&probe_value("time_zone", zone.clone()))?;
                utc(self.clock.now_ms())
                    .with_timezone(&probe.time_zone)
                    .date_naive()
                    .to_string()
            }
        };
        let fields = [
            ("time_zone", zone),
            ("day", request.day.trim().to_ascii_lowercase().into()),
            ("at", request.at.trim().into()),
            ("start", start.into()),
            ("every_weeks", request.every_weeks.into()),
        ];
        // Each field alone first, so the error names the one that is wrong.
        for (field, value) in &fields {
            parse_schedule(&probe_value(field, value.clone()))?;
        }
        let mut value = probe_value("id", group.to_hex().into());
        value["mother"] = mother.device.to_hex().into();
        value["volunteer"] = me.to_hex().into();
        for (field, v) in fields {
            value[field] = v;
        }
        let schedule = parse_schedule(&value)?;
        let plan = describe(&schedule);
        self.send_note(
            group,
            &[mother.device],
            NoteBody::CheckinPlan {
                schedule: Some(schedule),
            },
        )?;
        Ok(plan)
    }

    /// Ends the check-ins in a conversation (the mother is told at the next sync); the
    /// conversation itself stays.
    pub fn end_checkins(&mut self, group: &GroupId) -> Result<NoteId> {
        self.require_volunteer("end check-ins")?;
        let mother = self.conversation_partner(group)?;
        self.my_schedule_in(group)?;
        self.send_note(
            group,
            &[mother.device],
            NoteBody::CheckinPlan { schedule: None },
        )
    }

    /// Turns the volunteer's duty on or off; off means no prompts and no new mothers.
    pub fn set_volunteer_duty(&mut self, on: bool) -> Result<()> {
        self.require_volunteer("go on or off duty as a volunteer")?;
        self.store
            .write(|w| store::put_setting(w, ON_DUTY_KEY, &on))?;
        Ok(())
    }

    /// Sets the most mothers she supports at once (1 to [`MAX_CAP`]).
    pub fn set_caseload_cap(&mut self, cap: u32) -> Result<()> {
        self.require_volunteer("set a caseload cap")?;
        if cap == 0 || cap > MAX_CAP {
            return Err(InputError::new(
                "cap",
                format!("a caseload cap is 1 to {MAX_CAP} mothers; got {cap}"),
            )
            .into());
        }
        self.store.write(|w| store::put_setting(w, CAP_KEY, &cap))?;
        Ok(())
    }

    /// Chooses the volunteers' group whose moderators (her coordinators and supervisors)
    /// receive her follow-ups and supervision notes.
    pub fn set_debrief_group(&mut self, group: &GroupId) -> Result<()> {
        self.require_volunteer("choose a debrief group")?;
        let info = self.find_group(&group.to_hex())?;
        if info.conversation {
            return Err(InputError::new(
                "group",
                "a debrief group is a group of volunteers and coordinators, not a conversation",
            )
            .into());
        }
        if !self.moderation_state(group)?.volunteers_only {
            return Err(InputError::new(
                "group",
                "a debrief group is for volunteers and coordinators only: ask its moderator to \
                 make it so (hearth audience GROUP volunteers)",
            )
            .into());
        }
        self.other_moderators(
            group,
            "this group has no other moderator to receive follow-ups and supervision notes",
        )?;
        let hex = group.to_hex();
        self.store
            .write(|w| store::put_setting(w, DEBRIEF_KEY, &hex))?;
        Ok(())
    }

    fn debrief_group(&self) -> Result<Option<GroupId>> {
        let hex: Option<String> =
            store::setting(self.store.conn(), self.store.cipher(), DEBRIEF_KEY)?;
        Ok(hex.and_then(|h| GroupId::parse_hex(&h)))
    }

    fn require_debrief(&self, what: &str) -> Result<GroupId> {
        self.debrief_group()?.ok_or_else(|| {
            InputError::new(
                "debrief",
                format!(
                    "{what} goes to your debrief group's moderators, and you have not chosen one \
                     (hearth volunteer --debrief GROUP)"
                ),
            )
            .into()
        })
    }

    /// Refuses a new mother when the volunteer already supports as many as her cap (counting
    /// every planned conversation but `except`, the one being re-planned).
    pub(crate) fn room_in_caseload(&self, except: Option<&GroupId>) -> Result<()> {
        let cap = self.setting_or(CAP_KEY, DEFAULT_CAP)?;
        let others = self
            .my_schedules()?
            .iter()
            .filter(|p| Some(&p.group) != except)
            .count();
        if others >= cap as usize {
            return Err(InputError::new(
                "caseload",
                format!(
                    "you already support {others} mothers and your cap is {cap}; end a plan or ask your coordinator before taking on more"
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Whether the volunteer is on duty (she is until she says otherwise).
    pub(crate) fn volunteer_on_duty(&self) -> Result<bool> {
        self.setting_or(ON_DUTY_KEY, true)
    }

    /// The volunteer's due and overdue check-ins.
    pub fn checkins(&self) -> Result<CheckinsView> {
        self.require_volunteer("see check-ins")?;
        let on_duty = self.volunteer_on_duty()?;
        let cap = self.setting_or(CAP_KEY, DEFAULT_CAP)?;
        let mine = self.my_schedules()?;
        let debrief_group = match self.debrief_group()? {
            Some(g) => self.find_group(&g.to_hex()).ok().map(|g| g.name),
            None => None,
        };
        let me = self.profile.keys.device_id().to_hex();
        let now = utc(self.clock.now_ms());
        let mut due = Vec::new();
        if on_duty {
            let schedules: Vec<Schedule> = mine.iter().map(|p| p.schedule.clone()).collect();
            let records: Vec<CheckInRecord> = mine
                .iter()
                .flat_map(|p| p.records.iter().cloned())
                .collect();
            for item in schedule::due_for(&me, &schedules, &records, now, &DuePolicy::default()) {
                // A schedule's id is its conversation's group id.
                let mother = mine
                    .iter()
                    .find(|p| p.schedule.id == item.schedule)
                    .map_or_else(String::new, |p| p.mother.clone());
                due.push(DueCheckin {
                    group: item.schedule.clone(),
                    mother,
                    date: item.date.to_string(),
                    her_time: item.her_time.format("%Y-%m-%d %H:%M").to_string(),
                    due_at: ms(item.due_at),
                    overdue_at: ms(item.overdue_at),
                    snoozed_until: item.snoozed_until.map(ms),
                    state: match item.state {
                        DueState::Overdue => "overdue",
                        DueState::Due => "due",
                        DueState::Upcoming => "upcoming",
                    },
                });
            }
        }
        Ok(CheckinsView {
            on_duty,
            cap,
            caseload: u32::try_from(mine.len()).unwrap_or(u32::MAX),
            debrief_group,
            due,
        })
    }

    /// Records how a check-in went. `date` names the occurrence (her date, `YYYY-MM-DD`); by
    /// default the latest one that has come. The outcome and note stay on this phone;
    /// `needs_follow_up` also alerts her debrief group's moderators, with the note.
    pub fn record_checkin(
        &mut self,
        group: &GroupId,
        outcome: Outcome,
        note: &str,
        date: Option<&str>,
    ) -> Result<RecordedCheckin> {
        self.require_volunteer("record check-ins")?;
        let MyPlan {
            schedule, mother, ..
        } = self.my_schedule_in(group)?;
        let now = utc(self.clock.now_ms());
        let date = match date {
            Some(d) => {
                let d = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
                    InputError::new("date", format!("{d:?} is not a date (YYYY-MM-DD)"))
                })?;
                let on_plan = schedule
                    .between(utc(0), now + chrono::TimeDelta::days(7))
                    .iter()
                    .any(|o| o.date == d);
                if !on_plan {
                    return Err(InputError::new(
                        "date",
                        format!("no check-in of this plan falls on {d} (or it is more than a week ahead)"),
                    )
                    .into());
                }
                d
            }
            None => {
                schedule
                    .latest_at_or_before(now)
                    .ok_or_else(|| {
                        let first = schedule
                            .occurrence(0)
                            .map(|o| o.date.to_string())
                            .unwrap_or_default();
                        InputError::new(
                            "date",
                            format!("no check-in has come yet; the first is on {first}"),
                        )
                    })?
                    .date
            }
        };
        let note = note.trim();
        if note.chars().count() > super::MAX_NOTE_TEXT {
            return Err(InputError::new(
                "note",
                format!("at most {} characters", super::MAX_NOTE_TEXT),
            )
            .into());
        }
        let debrief = if outcome.is_follow_up() {
            let g = self.require_debrief("a follow-up")?;
            self.other_moderators(
                &g,
                "your debrief group has no moderator to receive the follow-up",
            )?;
            Some(g)
        } else {
            None
        };
        let record = CheckInRecord {
            schedule: schedule.id.clone(),
            date,
            at: now,
            action: RecordAction::Done {
                outcome,
                note: (!note.is_empty()).then(|| note.to_string()),
            },
        };
        self.keep_local_note(group, NoteBody::CheckinRecord { record })?;
        let follow_up_alert = match debrief {
            Some(g) => {
                let text = if note.is_empty() {
                    format!("Check-in with {mother} on {date} needs follow-up.")
                } else {
                    format!("Check-in with {mother} on {date} needs follow-up: {note}")
                };
                let text: String = text.chars().take(super::MAX_NOTE_TEXT).collect();
                Some(
                    self.raise_alert(&g, Severity::Concern, &["follow_up".to_string()], &text)?
                        .to_hex(),
                )
            }
            None => None,
        };
        Ok(RecordedCheckin {
            group: group.to_hex(),
            date: date.to_string(),
            outcome: outcome_name(outcome),
            follow_up_alert,
        })
    }

    /// Keeps a note on this device only (nothing is sent): the volunteer's own records.
    fn keep_local_note(&mut self, group: &GroupId, body: NoteBody) -> Result<NoteId> {
        body.validate()?;
        let row = self.group_row(group)?;
        let id = NoteId::random()?;
        let note = Note {
            id,
            from: self.profile.keys.device_id(),
            to: Vec::new(),
            at: self.clock.now_ms(),
            body,
            undelivered: Vec::new(),
        };
        self.store
            .write(|w| store::put_note(w, row, &note, false).map(|_| ()))?;
        Ok(id)
    }

    /// The mother's check-ins: one per volunteer who planned them with her.
    pub fn my_checkins(&self) -> Result<Vec<MyCheckin>> {
        let me = self.profile.keys.device_id();
        let now = utc(self.clock.now_ms());
        let mut out = Vec::new();
        for Conversation { summary, notes } in self.conversations()? {
            let Some((from, s)) = current_plan(&notes) else {
                continue;
            };
            if from == me || s.mother != me.to_hex() {
                continue;
            }
            let records = records_of(&notes, &s);
            let next = open_occurrence(&s, &records, now);
            let snoozed_until =
                next.as_ref()
                    .and_then(|o| match schedule::state_of(&s.id, o.date, &records) {
                        OccurrenceState::Open { snoozed_until } => snoozed_until.map(ms),
                        _ => None,
                    });
            out.push(MyCheckin {
                group: summary.id.to_hex(),
                volunteer: name_of(&names(&summary.members), &from),
                plan: describe(&s),
                next_date: next.as_ref().map(|o| o.date.to_string()),
                next_at: next.as_ref().map(|o| ms(o.at)),
                snoozed_until,
            });
        }
        Ok(out)
    }

    /// The mother asks for her next check-in later, until `until_ms`; no reason needed.
    pub fn snooze_checkin(&mut self, group: &GroupId, until_ms: i64) -> Result<String> {
        let now = self.clock.now_ms();
        if until_ms <= now {
            return Err(InputError::new("until", "a snooze ends in the future").into());
        }
        if until_ms - now > 28 * 24 * 3_600_000 {
            return Err(InputError::new(
                "until",
                "a snooze lasts at most four weeks; skip the check-in instead",
            )
            .into());
        }
        self.mother_record(
            group,
            RecordAction::Snoozed {
                until: utc(until_ms),
            },
        )
    }

    /// The mother skips her next check-in; no reason needed.
    pub fn skip_checkin(&mut self, group: &GroupId) -> Result<String> {
        self.mother_record(group, RecordAction::Skipped)
    }

    fn mother_record(&mut self, group: &GroupId, action: RecordAction) -> Result<String> {
        let me = self.profile.keys.device_id();
        let row = self.group_row(group)?;
        let notes = store::notes(self.store.conn(), self.store.cipher(), row)?;
        let (volunteer, s) = current_plan(&notes)
            .filter(|(_, s)| s.mother == me.to_hex())
            .ok_or_else(|| InputError::new("group", "no check-ins are planned with you here"))?;
        let records = records_of(&notes, &s);
        let now = utc(self.clock.now_ms());
        let next = open_occurrence(&s, &records, now)
            .ok_or_else(|| InputError::new("group", "no check-in is open to snooze or skip"))?;
        let record = CheckInRecord {
            schedule: s.id.clone(),
            date: next.date,
            at: now,
            action,
        };
        self.send_note(group, &[volunteer], NoteBody::CheckinRecord { record })?;
        Ok(next.date.to_string())
    }

    /// Sends a private supervision note to the moderators of her debrief group.
    pub fn supervision_note(&mut self, text: &str) -> Result<NoteId> {
        self.require_volunteer("send supervision notes")?;
        let text = text.trim();
        if text.is_empty() {
            return Err(InputError::new("text", "a supervision note needs some words").into());
        }
        let g = self.require_debrief("a supervision note")?;
        let to = self.other_moderators(
            &g,
            "your debrief group has no moderator to receive supervision notes",
        )?;
        self.send_note(
            &g,
            &to,
            NoteBody::Supervision {
                text: text.to_string(),
            },
        )
    }

    /// Supervision notes in a group this device sent or received, oldest first.
    pub fn supervision_notes(&self, group: &GroupId) -> Result<Vec<SupervisionNote>> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let names = names(&summary.members);
        let me = self.profile.keys.device_id();
        let mut out: Vec<SupervisionNote> =
            store::notes(self.store.conn(), self.store.cipher(), row)?
                .into_iter()
                .filter_map(|n| match n.body {
                    NoteBody::Supervision { text } => Some(SupervisionNote {
                        id: n.id.to_hex(),
                        from: name_of(&names, &n.from),
                        text,
                        at: n.at,
                        mine: n.from == me,
                    }),
                    _ => None,
                })
                .collect();
        out.sort_by_key(|n| n.at);
        Ok(out)
    }
}

/// The occurrence a mother's snooze or skip applies to: the latest that has come if it is
/// still open, else the next one.
fn open_occurrence(
    s: &Schedule,
    records: &[CheckInRecord],
    now: DateTime<Utc>,
) -> Option<schedule::Occurrence> {
    let open = |o: &schedule::Occurrence| {
        matches!(
            schedule::state_of(&s.id, o.date, records),
            OccurrenceState::Open { .. }
        )
    };
    s.latest_at_or_before(now)
        .filter(open)
        .or_else(|| s.next_after(now).filter(open))
}

/// A valid schedule with one field replaced.
fn probe_value(field: &str, value: serde_json::Value) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": "probe", "mother": "m", "volunteer": "v", "time_zone": "UTC",
        "day": "monday", "at": "12:00", "start": "2026-01-05", "every_weeks": 1,
    });
    v[field] = value;
    v
}

/// A schedule from its JSON form; an error names the field when only one was replaced.
fn parse_schedule(value: &serde_json::Value) -> Result<Schedule> {
    let s: Schedule = serde_json::from_value(value.clone()).map_err(|e| {
        let probe = probe_value("id", "probe".into());
        let field = value
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, v)| k.as_str() != "id" && probe.get(k.as_str()) != Some(v))
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or_else(|| "schedule".into());
        InputError::new(&field, json_reason(&e))
    })?;
    s.validate().map_err(care_input)?;
    Ok(s)
}

fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json adds " at line 1 column N" for values read from text; not for these.
    text.split(" at line ").next().unwrap_or(&text).to_string()
}
