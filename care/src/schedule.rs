//! Recurring check-ins: when a volunteer should next check in with a mother, and what is due.
//!
//! A [`Schedule`] is kept on the mother's clock: a 19:00 check-in stays at 19:00 where she lives
//! when her clocks change, wherever the volunteer is. A wall-clock time that her clocks skip
//! (spring forward) happens at the first instant after the gap; one that happens twice (fall
//! back) at the earlier instant ([`crate::local_to_utc`]).
//!
//! Each occurrence is named by its schedule and local date, and its state comes from the synced
//! [`CheckInRecord`]s for it, in any order:
//! - a `done` record wins over everything (the latest by `at`; at equal times the more worrying
//!   outcome), then `skipped` (by the mother), then `snoozed` (the latest `until`);
//! - with none, it is open: due at its time, or at the end of her snooze; overdue once the grace
//!   period has fully passed since then (at exactly due + grace it is overdue).
//!
//! [`due_list`] shows a volunteer, per schedule, the latest occurrence that has come (an earlier
//! one left open is superseded by it: one prompt, not a pile) and the next one if it falls within
//! the look-ahead. A volunteer who is off duty gets nothing: no prompts while off.
//!
//! A `needs_follow_up` outcome is a worry to hand up; [`follow_ups`] lists every one for the
//! escalation ladder, even if a later record changed the outcome: the ladder resolves worries,
//! this module never drops one.

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::matching::Volunteer;
use crate::{check_id, invalid, json, local_to_utc, Error};

/// Longest interval between check-ins, in weeks.
pub const MAX_EVERY_WEEKS: u32 = 12;

/// A recurring check-in between a volunteer and a mother.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Schedule id; unique.
    pub id: String,
    /// The mother's id.
    pub mother: String,
    /// The volunteer's id.
    pub volunteer: String,
    /// The mother's IANA time zone.
    #[serde(with = "json::tz")]
    pub time_zone: Tz,
    /// The day of the week, on her clock.
    #[serde(with = "json::weekday")]
    pub day: Weekday,
    /// The time of day, on her clock, `"HH:MM"`.
    #[serde(with = "json::clock")]
    pub at: NaiveTime,
    /// Weeks between check-ins, 1 to [`MAX_EVERY_WEEKS`]; default 1.
    #[serde(default = "one")]
    pub every_weeks: u32,
    /// The first check-in is on the first `day` on or after this date.
    #[serde(with = "json::date")]
    pub start: NaiveDate,
}

fn one() -> u32 {
    1
}

/// One check-in of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// The schedule's id.
    pub schedule: String,
    /// Its date on the mother's clock; with the schedule id, it names the occurrence.
    #[serde(with = "json::date")]
    pub date: NaiveDate,
    /// When it happens.
    pub at: DateTime<Utc>,
}

/// How a check-in went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// They talked.
    Talked,
    /// She did not answer.
    NoReply,
    /// Something worried the volunteer: hand it up the escalation ladder.
    NeedsFollowUp,
}

impl Outcome {
    /// Whether this outcome must reach the escalation ladder.
    pub fn is_follow_up(self) -> bool {
        self == Outcome::NeedsFollowUp
    }
}

/// What someone did about one occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The mother asked for it later.
    Snoozed {
        /// Not before this.
        until: DateTime<Utc>,
    },
    /// The mother skipped it.
    Skipped,
    /// The volunteer recorded it.
    Done {
        /// How it went.
        outcome: Outcome,
        /// The volunteer's note, if any.
        #[serde(default)]
        note: Option<String>,
    },
}

/// A synced record about one occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInRecord {
    /// The schedule's id.
    pub schedule: String,
    /// The occurrence's date on the mother's clock.
    #[serde(with = "json::date")]
    pub date: NaiveDate,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// What was done.
    pub action: Action,
}

/// Where one occurrence stands, from its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OccurrenceState {
    /// Nothing final yet; `snoozed_until` if she asked for it later.
    Open {
        /// The end of her latest snooze.
        snoozed_until: Option<DateTime<Utc>>,
    },
    /// She skipped it.
    Skipped,
    /// It happened.
    Done {
        /// How it went.
        outcome: Outcome,
        /// The volunteer's note.
        note: Option<String>,
    },
}

/// How urgent a due-list entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    /// Past its grace period.
    Overdue,
    /// Its time (or the end of her snooze) has come.
    Due,
    /// Coming within the look-ahead.
    Upcoming,
}

/// One entry in a volunteer's due list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueItem {
    /// The schedule's id.
    pub schedule: String,
    /// The mother's id.
    pub mother: String,
    /// The occurrence's date on her clock.
    #[serde(with = "json::date")]
    pub date: NaiveDate,
    /// When it was scheduled.
    pub scheduled_at: DateTime<Utc>,
    /// The scheduled time on her clock (what to tell the volunteer: "19:00 her time").
    pub her_time: NaiveDateTime,
    /// When it is due: the scheduled time, or the end of her snooze if later.
    pub due_at: DateTime<Utc>,
    /// When it becomes overdue: `due_at` plus the grace period.
    pub overdue_at: DateTime<Utc>,
    /// The end of her snooze, if she snoozed it.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Overdue, due or upcoming, at the `now` the list was made.
    pub state: DueState,
}

/// A check-in that ended in `needs_follow_up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The schedule's id.
    pub schedule: String,
    /// The occurrence's date on the mother's clock.
    #[serde(with = "json::date")]
    pub date: NaiveDate,
    /// When the volunteer recorded it: when the worry was raised.
    pub raised_at: DateTime<Utc>,
    /// The volunteer's note.
    pub note: Option<String>,
}

/// How long check-ins wait before they are overdue, and how far ahead the due list looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuePolicy {
    /// Overdue this long after due; default 24 hours.
    pub grace: TimeDelta,
    /// Upcoming check-ins within this long are listed; default 24 hours, zero for none.
    pub lookahead: TimeDelta,
}

impl Default for DuePolicy {
    fn default() -> Self {
        DuePolicy {
            grace: TimeDelta::hours(24),
            lookahead: TimeDelta::hours(24),
        }
    }
}

impl Schedule {
    /// Checks ids and the interval; paths are relative (`every_weeks`).
    pub fn validate(&self) -> Result<(), Error> {
        check_id("id".into(), &self.id)?;
        check_id("mother".into(), &self.mother)?;
        check_id("volunteer".into(), &self.volunteer)?;
        if !(1..=MAX_EVERY_WEEKS).contains(&self.every_weeks) {
            return Err(invalid(
                "every_weeks",
                format!("{} is outside 1–{MAX_EVERY_WEEKS}", self.every_weeks),
            ));
        }
        Ok(())
    }

    /// The `n`th check-in, from 0; `None` past the calendar's end.
    pub fn occurrence(&self, n: u32) -> Option<Occurrence> {
        let offset =
            (7 - self.start.weekday().num_days_from_monday() + self.day.num_days_from_monday()) % 7;
        let days = u64::from(offset) + u64::from(n) * self.period_days();
        let date = self.start.checked_add_days(Days::new(days))?;
        Some(Occurrence {
            schedule: self.id.clone(),
            date,
            at: local_to_utc(self.time_zone, date.and_time(self.at)),
        })
    }

    /// The latest check-in at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<Occurrence> {
        let k = self.index_near(t)?;
        [Some(k), k.checked_sub(1)]
            .into_iter()
            .flatten()
            .filter_map(|n| self.occurrence(n))
            .find(|o| o.at <= t)
    }

    /// The first check-in after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<Occurrence> {
        let k = self.index_near(t).unwrap_or(0);
        [Some(k), k.checked_add(1)]
            .into_iter()
            .flatten()
            .filter_map(|n| self.occurrence(n))
            .find(|o| o.at > t)
    }

    /// Check-ins at or after `from` and before `until`, in order.
    pub fn between(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Occurrence> {
        let mut n = self.index_near(from).unwrap_or(0);
        let mut out = Vec::new();
        while let Some(o) = self.occurrence(n) {
            if o.at >= until {
                break;
            }
            if o.at >= from {
                out.push(o);
            }
            let Some(next) = n.checked_add(1) else { break };
            n = next;
        }
        out
    }

    /// Days between check-ins; an interval of 0 (invalid) is read as 1 week.
    fn period_days(&self) -> u64 {
        7 * u64::from(self.every_weeks.max(1))
    }

    /// The index of the last check-in on or before `t`'s date on her clock; `None` before the
    /// first. The check-in that day may still be later than `t`.
    fn index_near(&self, t: DateTime<Utc>) -> Option<u32> {
        let today = t.with_timezone(&self.time_zone).date_naive();
        let first = self.occurrence(0)?.date;
        let days = u64::try_from((today - first).num_days()).ok()?;
        u32::try_from(days / self.period_days()).ok()
    }
}

/// The state of occurrence `date` of `schedule`, from whichever of `records` are about it.
pub fn state_of(schedule: &str, date: NaiveDate, records: &[CheckInRecord]) -> OccurrenceState {
    let about: Vec<&CheckInRecord> = records
        .iter()
        .filter(|r| r.schedule == schedule && r.date == date)
        .collect();
    resolve(&about)
}

fn resolve(records: &[&CheckInRecord]) -> OccurrenceState {
    let done = records
        .iter()
        .filter_map(|r| match &r.action {
            Action::Done { outcome, note } => Some((r.at, *outcome, note)),
            _ => None,
        })
        .max();
    if let Some((_, outcome, note)) = done {
        return OccurrenceState::Done {
            outcome,
            note: note.clone(),
        };
    }
    if records.iter().any(|r| r.action == Action::Skipped) {
        return OccurrenceState::Skipped;
    }
    let snoozed_until = records
        .iter()
        .filter_map(|r| match r.action {
            Action::Snoozed { until } => Some(until),
            _ => None,
        })
        .max();
    OccurrenceState::Open { snoozed_until }
}

/// What `volunteer` should see at `now`: overdue first (longest overdue first), then due and
/// upcoming check-ins, soonest first; ties by schedule id. Empty while she is off duty.
/// Records and schedules may come in any order; schedules of other volunteers are ignored.
pub fn due_list(
    volunteer: &Volunteer,
    schedules: &[Schedule],
    records: &[CheckInRecord],
    now: DateTime<Utc>,
    policy: &DuePolicy,
) -> Vec<DueItem> {
    if !volunteer.on_duty {
        return Vec::new();
    }
    due_for(&volunteer.id, schedules, records, now, policy)
}

/// [`due_list`] for the volunteer `volunteer` (her id), who is on duty: for a device that
/// keeps her duty itself.
pub fn due_for(
    volunteer: &str,
    schedules: &[Schedule],
    records: &[CheckInRecord],
    now: DateTime<Utc>,
    policy: &DuePolicy,
) -> Vec<DueItem> {
    let mut by_occurrence: BTreeMap<(&str, NaiveDate), Vec<&CheckInRecord>> = BTreeMap::new();
    for r in records {
        by_occurrence
            .entry((r.schedule.as_str(), r.date))
            .or_default()
            .push(r);
    }
    let mut items = Vec::new();
    for s in schedules.iter().filter(|s| s.volunteer == volunteer) {
        for occurrence in [s.latest_at_or_before(now), s.next_after(now)]
            .into_iter()
            .flatten()
        {
            let about = by_occurrence
                .get(&(s.id.as_str(), occurrence.date))
                .map_or(&[][..], Vec::as_slice);
            if let OccurrenceState::Open { snoozed_until } = resolve(about) {
                let due_at = snoozed_until.map_or(occurrence.at, |u| u.max(occurrence.at));
                if due_at > now + policy.lookahead {
                    continue;
                }
                let overdue_at = due_at + policy.grace;
                let state = if now < due_at {
                    DueState::Upcoming
                } else if now < overdue_at {
                    DueState::Due
                } else {
                    DueState::Overdue
                };
                items.push(DueItem {
                    schedule: s.id.clone(),
                    mother: s.mother.clone(),
                    date: occurrence.date,
                    scheduled_at: occurrence.at,
                    her_time: occurrence.at.with_timezone(&s.time_zone).naive_local(),
                    due_at,
                    overdue_at,
                    snoozed_until,
                    state,
                });
            }
        }
    }
    items.sort_by(|a, b| {
        let key = |i: &DueItem| {
            let overdue = i.state == DueState::Overdue;
            (!overdue, if overdue { i.overdue_at } else { i.due_at })
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.schedule.cmp(&b.schedule))
            .then(a.date.cmp(&b.date))
    });
    items
}

/// Every check-in recorded as `needs_follow_up`, oldest first (ties by schedule, then date).
pub fn follow_ups(records: &[CheckInRecord]) -> Vec<FollowUp> {
    let mut out: Vec<FollowUp> = records
        .iter()
        .filter_map(|r| match &r.action {
            Action::Done { outcome, note } if outcome.is_follow_up() => Some(FollowUp {
                schedule: r.schedule.clone(),
                date: r.date,
                raised_at: r.at,
                note: note.clone(),
            }),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| {
        (a.raised_at, &a.schedule, a.date, &a.note).cmp(&(
            b.raised_at,
            &b.schedule,
            b.date,
            &b.note,
        ))
    });
    out
}
