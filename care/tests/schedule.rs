//! Check-in schedules: local time across DST, states, and a volunteer's due list.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::{America::New_York, Europe::London, Tz};
use hearth_care::matching::Volunteer;
use hearth_care::schedule::{
    due_list, follow_ups, state_of, Action, CheckInRecord, DueItem, DuePolicy, DueState,
    OccurrenceState, Outcome, Schedule,
};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("test instant")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn schedule(id: &str, tz: Tz, day: Weekday, at: &str, start: &str) -> Schedule {
    Schedule {
        id: id.to_owned(),
        mother: format!("mother-of-{id}"),
        volunteer: "jo".to_owned(),
        time_zone: tz,
        day,
        at: NaiveTime::parse_from_str(at, "%H:%M").expect("test time"),
        every_weeks: 1,
        start: date(start),
    }
}

fn jo(on_duty: bool) -> Volunteer {
    serde_json::from_value(serde_json::json!({
        "id": "jo", "name": "Jo", "languages": ["English"], "time_zone": "Europe/London",
        "caseload": 2, "cap": 4, "on_duty": on_duty
    }))
    .expect("test volunteer")
}

fn record(schedule: &str, on: &str, at: &str, action: Action) -> CheckInRecord {
    CheckInRecord {
        schedule: schedule.to_owned(),
        date: date(on),
        at: utc(at),
        action,
    }
}

fn done(outcome: Outcome) -> Action {
    Action::Done {
        outcome,
        note: None,
    }
}

/// UTC instants of a schedule's check-ins between two dates.
fn instants(s: &Schedule, from: &str, until: &str) -> Vec<String> {
    s.between(utc(from), utc(until))
        .iter()
        .map(|o| o.at.format("%Y-%m-%d %H:%M").to_string())
        .collect()
}

fn list(schedules: &[Schedule], records: &[CheckInRecord], now: &str) -> Vec<DueItem> {
    due_list(
        &jo(true),
        schedules,
        records,
        utc(now),
        &DuePolicy::default(),
    )
}

fn summary(items: &[DueItem]) -> Vec<(String, DueState)> {
    items
        .iter()
        .map(|i| (format!("{} {}", i.schedule, i.date), i.state))
        .collect()
}

#[test]
fn a_london_check_in_stays_at_19_00_local_across_both_changes() {
    let s = schedule("s", London, Weekday::Sun, "19:00", "2026-03-20");
    assert_eq!(
        instants(&s, "2026-03-20T00:00:00Z", "2026-04-06T00:00:00Z"),
        ["2026-03-22 19:00", "2026-03-29 18:00", "2026-04-05 18:00"]
    );
    assert_eq!(
        instants(&s, "2026-10-18T00:00:00Z", "2026-11-02T00:00:00Z"),
        ["2026-10-18 18:00", "2026-10-25 19:00", "2026-11-01 19:00"]
    );
}

#[test]
fn a_new_york_check_in_stays_at_19_00_local_across_both_changes() {
    let s = schedule("s", New_York, Weekday::Sun, "19:00", "2026-03-01");
    assert_eq!(
        instants(&s, "2026-03-01T00:00:00Z", "2026-03-16T00:00:00Z"),
        ["2026-03-02 00:00", "2026-03-08 23:00", "2026-03-15 23:00"]
    );
    assert_eq!(
        instants(&s, "2026-10-25T00:00:00Z", "2026-11-03T00:00:00Z"),
        ["2026-10-25 23:00", "2026-11-02 00:00"]
    );
}

#[test]
fn skipped_local_times_move_to_the_end_of_the_gap_and_repeated_ones_take_the_first() {
    // London 01:30: skipped on 29 March (→ 02:00 BST), twice on 25 October (→ the BST one).
    let s = schedule("s", London, Weekday::Sun, "01:30", "2026-03-22");
    assert_eq!(
        instants(&s, "2026-03-22T00:00:00Z", "2026-04-06T00:00:00Z"),
        ["2026-03-22 01:30", "2026-03-29 01:00", "2026-04-05 00:30"]
    );
    assert_eq!(
        instants(&s, "2026-10-25T00:00:00Z", "2026-11-02T00:00:00Z"),
        ["2026-10-25 00:30", "2026-11-01 01:30"]
    );
    // New York 02:30 on 8 March does not exist (→ 03:00 EDT); 01:30 on 1 November is EDT.
    let s = schedule("s", New_York, Weekday::Sun, "02:30", "2026-03-08");
    assert_eq!(
        s.occurrence(0).expect("first").at,
        utc("2026-03-08T07:00:00Z")
    );
    let s = schedule("s", New_York, Weekday::Sun, "01:30", "2026-11-01");
    assert_eq!(
        s.occurrence(0).expect("first").at,
        utc("2026-11-01T05:30:00Z")
    );
}

#[test]
fn intervals_start_on_the_first_matching_day_and_next_after_is_strict() {
    let mut s = schedule("s", London, Weekday::Wed, "10:00", "2026-01-01");
    s.every_weeks = 2;
    assert_eq!(
        instants(&s, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        ["2026-01-07 10:00", "2026-01-21 10:00"]
    );
    let at = utc("2026-01-21T10:00:00Z");
    assert_eq!(s.next_after(at).expect("next").date, date("2026-02-04"));
    assert_eq!(
        s.latest_at_or_before(at).expect("latest").date,
        date("2026-01-21")
    );
    assert!(s.latest_at_or_before(utc("2026-01-07T09:59:59Z")).is_none());
    assert_eq!(
        s.next_after(utc("2025-06-01T00:00:00Z"))
            .expect("first")
            .date,
        date("2026-01-07")
    );
}

#[test]
fn a_mother_in_new_york_is_due_at_her_19_00_for_a_volunteer_in_london() {
    let s = schedule("amina", New_York, Weekday::Wed, "19:00", "2026-01-14");
    let items = list(&[s], &[], "2026-01-15T00:30:00Z");
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.state, DueState::Due);
    assert_eq!(item.mother, "mother-of-amina");
    assert_eq!(item.date, date("2026-01-14"));
    assert_eq!(item.due_at, utc("2026-01-15T00:00:00Z"));
    assert_eq!(item.her_time.to_string(), "2026-01-14 19:00:00");
    assert_eq!(item.overdue_at, utc("2026-01-16T00:00:00Z"));
}

#[test]
fn overdue_starts_exactly_when_the_grace_period_ends() {
    let s = [schedule("s", London, Weekday::Wed, "19:00", "2026-01-14")];
    let due = utc("2026-01-14T19:00:00Z");
    let ms = TimeDelta::milliseconds(1);
    let state = |now: DateTime<Utc>, grace: TimeDelta| {
        let policy = DuePolicy {
            grace,
            ..DuePolicy::default()
        };
        let items = due_list(&jo(true), &s, &[], now, &policy);
        assert_eq!(items.len(), 1, "one item at {now}");
        items[0].state
    };
    let day = TimeDelta::hours(24);
    assert_eq!(state(due - ms, day), DueState::Upcoming);
    assert_eq!(state(due, day), DueState::Due);
    assert_eq!(state(due + day - ms, day), DueState::Due);
    assert_eq!(state(due + day, day), DueState::Overdue);
    assert_eq!(state(due + day + ms, day), DueState::Overdue);
    // Configurable: with two hours' grace.
    let two = TimeDelta::hours(2);
    assert_eq!(state(due + two - ms, two), DueState::Due);
    assert_eq!(state(due + two, two), DueState::Overdue);
}

#[test]
fn a_snooze_moves_the_due_time_and_the_grace_period_with_it() {
    let s = [schedule("s", London, Weekday::Wed, "19:00", "2026-01-14")];
    let snooze = |until: &str| {
        record(
            "s",
            "2026-01-14",
            "2026-01-14T18:00:00Z",
            Action::Snoozed { until: utc(until) },
        )
    };
    let records = [
        snooze("2026-01-15T12:00:00Z"),
        snooze("2026-01-15T10:00:00Z"),
    ];
    // Before the (latest) snooze ends it is upcoming, not due.
    let items = list(&s, &records, "2026-01-15T01:00:00Z");
    assert_eq!(items[0].state, DueState::Upcoming);
    assert_eq!(items[0].due_at, utc("2026-01-15T12:00:00Z"));
    assert_eq!(items[0].snoozed_until, Some(utc("2026-01-15T12:00:00Z")));
    assert_eq!(items[0].scheduled_at, utc("2026-01-14T19:00:00Z"));
    // After it, due; overdue a full grace period after the snooze, not after the original time.
    assert_eq!(
        list(&s, &records, "2026-01-15T12:00:00Z")[0].state,
        DueState::Due
    );
    assert_eq!(
        list(&s, &records, "2026-01-16T11:59:59Z")[0].state,
        DueState::Due
    );
    assert_eq!(
        list(&s, &records, "2026-01-16T12:00:00Z")[0].state,
        DueState::Overdue
    );
    // Snoozed past the look-ahead: not on the list at all.
    let far = [snooze("2026-01-17T12:00:00Z")];
    assert!(list(&s, &far, "2026-01-15T01:00:00Z").is_empty());
}

#[test]
fn a_skipped_check_in_leaves_the_list_and_the_next_one_still_comes() {
    let s = [schedule("s", London, Weekday::Wed, "19:00", "2026-01-14")];
    let skipped = [record(
        "s",
        "2026-01-14",
        "2026-01-14T17:00:00Z",
        Action::Skipped,
    )];
    assert!(list(&s, &skipped, "2026-01-15T01:00:00Z").is_empty());
    assert_eq!(
        summary(&list(&s, &skipped, "2026-01-20T20:00:00Z")),
        [("s 2026-01-21".to_owned(), DueState::Upcoming)]
    );
    assert_eq!(
        state_of("s", date("2026-01-14"), &skipped),
        OccurrenceState::Skipped
    );
}

#[test]
fn only_the_latest_missed_check_in_is_listed() {
    let s = [schedule("s", London, Weekday::Wed, "19:00", "2026-01-07")];
    // Three weeks without records: one prompt, for the latest.
    assert_eq!(
        summary(&list(&s, &[], "2026-01-28T20:00:00Z")),
        [("s 2026-01-28".to_owned(), DueState::Due)]
    );
    assert_eq!(
        summary(&list(&s, &[], "2026-02-03T20:00:00Z")),
        [
            ("s 2026-01-28".to_owned(), DueState::Overdue),
            ("s 2026-02-04".to_owned(), DueState::Upcoming)
        ]
    );
}

#[test]
fn overdue_comes_first_then_the_soonest() {
    let schedules = [
        schedule("due", London, Weekday::Wed, "09:00", "2026-01-14"),
        schedule("old", London, Weekday::Mon, "09:00", "2026-01-12"),
        schedule("recent", London, Weekday::Tue, "08:00", "2026-01-13"),
        schedule("soon", London, Weekday::Thu, "08:00", "2026-01-15"),
        schedule("also-soon", London, Weekday::Thu, "08:00", "2026-01-15"),
        schedule("done", London, Weekday::Wed, "08:00", "2026-01-14"),
    ];
    let mut other = schedule("not-jo", London, Weekday::Wed, "09:00", "2026-01-14");
    other.volunteer = "someone-else".to_owned();
    let mut all = schedules.to_vec();
    all.push(other);
    let records = [record(
        "done",
        "2026-01-14",
        "2026-01-14T08:30:00Z",
        done(Outcome::Talked),
    )];
    let items = list(&all, &records, "2026-01-14T12:00:00Z");
    assert_eq!(
        summary(&items),
        [
            ("old 2026-01-12".to_owned(), DueState::Overdue),
            ("recent 2026-01-13".to_owned(), DueState::Overdue),
            ("due 2026-01-14".to_owned(), DueState::Due),
            ("also-soon 2026-01-15".to_owned(), DueState::Upcoming),
            ("soon 2026-01-15".to_owned(), DueState::Upcoming),
        ]
    );
    // Any order of schedules and records gives the same list.
    all.reverse();
    assert_eq!(list(&all, &records, "2026-01-14T12:00:00Z"), items);
}

#[test]
fn an_off_duty_volunteer_gets_no_prompts() {
    let s = [schedule("s", London, Weekday::Wed, "19:00", "2026-01-07")];
    let now = utc("2026-01-28T20:00:00Z");
    assert!(due_list(&jo(false), &s, &[], now, &DuePolicy::default()).is_empty());
    assert_eq!(
        due_list(&jo(true), &s, &[], now, &DuePolicy::default()).len(),
        1
    );
}

#[test]
fn done_wins_in_any_record_order_and_follow_ups_are_handed_up() {
    let on = "2026-01-14";
    let records = vec![
        record(
            "s",
            on,
            "2026-01-14T18:00:00Z",
            Action::Snoozed {
                until: utc("2026-01-15T18:00:00Z"),
            },
        ),
        record("s", on, "2026-01-14T18:30:00Z", Action::Skipped),
        record(
            "s",
            on,
            "2026-01-14T20:00:00Z",
            Action::Done {
                outcome: Outcome::NeedsFollowUp,
                note: Some("sounded very low".to_owned()),
            },
        ),
        record("s", on, "2026-01-14T20:00:00Z", done(Outcome::Talked)),
        record("s", on, "2026-01-14T19:00:00Z", done(Outcome::NoReply)),
        record(
            "t",
            on,
            "2026-01-14T09:00:00Z",
            Action::Done {
                outcome: Outcome::NeedsFollowUp,
                note: None,
            },
        ),
    ];
    let expected = OccurrenceState::Done {
        outcome: Outcome::NeedsFollowUp,
        note: Some("sounded very low".to_owned()),
    };
    let mut shuffled = records.clone();
    for _ in 0..records.len() {
        assert_eq!(state_of("s", date(on), &shuffled), expected);
        shuffled.rotate_left(1);
    }
    shuffled.reverse();
    assert_eq!(state_of("s", date(on), &shuffled), expected);
    assert_eq!(
        state_of("s", date("2026-01-21"), &records),
        OccurrenceState::Open {
            snoozed_until: None
        }
    );

    assert!(Outcome::NeedsFollowUp.is_follow_up());
    assert!(!Outcome::NoReply.is_follow_up());
    let worries: Vec<(String, Option<String>)> = follow_ups(&shuffled)
        .into_iter()
        .map(|f| (format!("{} {} {}", f.schedule, f.date, f.raised_at), f.note))
        .collect();
    assert_eq!(
        worries,
        [
            ("t 2026-01-14 2026-01-14 09:00:00 UTC".to_owned(), None),
            (
                "s 2026-01-14 2026-01-14 20:00:00 UTC".to_owned(),
                Some("sounded very low".to_owned())
            ),
        ]
    );
}

#[test]
fn schedules_read_from_json_and_validate() {
    let s: Schedule = serde_json::from_str(
        r#"{"id":"s","mother":"amina","volunteer":"jo","time_zone":"Europe/London",
            "day":"thu","at":"19:00","start":"2026-03-01"}"#,
    )
    .expect("valid schedule");
    assert_eq!(s.every_weeks, 1);
    assert_eq!(s.validate(), Ok(()));
    let round_trip: Schedule =
        serde_json::from_str(&serde_json::to_string(&s).expect("serializes")).expect("reads");
    assert_eq!(round_trip, s);
    let mut bad = s.clone();
    bad.every_weeks = 0;
    assert_eq!(
        bad.validate().expect_err("zero weeks").to_string(),
        "every_weeks: 0 is outside 1–12"
    );
    let record: CheckInRecord = serde_json::from_str(
        r#"{"schedule":"s","date":"2026-03-05","at":"2026-03-05T19:40:00Z",
            "action":{"kind":"done","outcome":"needs_follow_up","note":"call the midwife"}}"#,
    )
    .expect("valid record");
    assert_eq!(follow_ups(&[record]).len(), 1);
}
