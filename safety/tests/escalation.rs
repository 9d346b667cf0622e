//! The escalation ladder under a controlled clock: times are milliseconds passed in by the test.

use hearth_safety::escalation::{Ack, Alert, Ladder, Severity, Status, Tier};

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
/// An arbitrary raise time: 2025-03-01T09:00:00Z.
const T0: i64 = 1_740_819_600_000;

fn alert(severity: Severity) -> Alert {
    Alert {
        raised_at: T0,
        severity,
        has_volunteer: true,
        acks: vec![],
        resolved_at: None,
    }
}

fn urgent() -> Alert {
    alert(Severity::Urgent)
}

fn ack(at: i64, tier: Tier) -> Ack {
    Ack { at, tier }
}

fn status(alert: &Alert, now: i64) -> Status {
    Ladder::default().status(alert, now)
}

#[test]
fn a_new_urgent_alert_waits_15_minutes_at_the_volunteer() {
    let s = status(&urgent(), T0);
    assert_eq!(s.tier, Tier::Volunteer);
    assert_eq!(s.due_at, Some(T0 + 15 * MIN));
    assert_eq!(s.escalations, [(Tier::Volunteer, T0)]);
    assert_eq!((s.acknowledged, s.overdue_ms, s.resolved), (None, 0, false));
}

#[test]
fn escalates_at_exactly_15_minutes() {
    let a = urgent();
    let before = status(&a, T0 + 15 * MIN - 1);
    assert_eq!(before.tier, Tier::Volunteer, "14:59.999 is not yet");
    let at = status(&a, T0 + 15 * MIN);
    assert_eq!(at.tier, Tier::Moderator, "15:00 is");
    assert_eq!(
        at.escalations,
        [(Tier::Volunteer, T0), (Tier::Moderator, T0 + 15 * MIN)]
    );
    assert_eq!(at.due_at, Some(T0 + 30 * MIN));
}

#[test]
fn unacknowledged_it_climbs_to_referral_and_reports_how_overdue() {
    let a = urgent();
    assert_eq!(status(&a, T0 + 30 * MIN - 1).tier, Tier::Moderator);
    let at_referral = status(&a, T0 + 30 * MIN);
    assert_eq!(at_referral.tier, Tier::Referral);
    assert_eq!(at_referral.due_at, Some(T0 + 45 * MIN));
    assert_eq!(at_referral.overdue_ms, 0);

    // Referral never moves on; it only grows overdue.
    let late = status(&a, T0 + 2 * HOUR);
    assert_eq!(late.tier, Tier::Referral);
    assert_eq!(
        late.escalations,
        [
            (Tier::Volunteer, T0),
            (Tier::Moderator, T0 + 15 * MIN),
            (Tier::Referral, T0 + 30 * MIN),
        ]
    );
    assert_eq!(late.due_at, Some(T0 + 45 * MIN));
    assert_eq!(late.overdue_ms, 2 * HOUR - 45 * MIN);
}

#[test]
fn an_acknowledgement_stops_the_clock() {
    let mut a = urgent();
    a.acks.push(ack(T0 + 5 * MIN, Tier::Volunteer));
    let s = status(&a, T0 + 3 * HOUR);
    assert_eq!(s.tier, Tier::Volunteer);
    assert_eq!(s.acknowledged, Some(ack(T0 + 5 * MIN, Tier::Volunteer)));
    assert_eq!((s.due_at, s.overdue_ms), (None, 0));
    assert_eq!(s.escalations, [(Tier::Volunteer, T0)]);

    // Before the acknowledgement happened, the clock was still running.
    let earlier = status(&a, T0 + 4 * MIN);
    assert_eq!(earlier.acknowledged, None);
    assert_eq!(earlier.due_at, Some(T0 + 15 * MIN));
}

#[test]
fn a_higher_tier_may_acknowledge_early() {
    let mut a = urgent();
    a.acks.push(ack(T0 + MIN, Tier::Moderator));
    let s = status(&a, T0 + HOUR);
    assert_eq!(s.tier, Tier::Volunteer);
    assert_eq!(s.acknowledged.map(|a| a.tier), Some(Tier::Moderator));
    assert_eq!(s.due_at, None);
}

#[test]
fn a_lower_tier_acknowledging_after_escalation_does_not_count() {
    let mut a = urgent();
    // The volunteer acknowledges at 15:00, the instant it reached the moderator: too late.
    a.acks.push(ack(T0 + 15 * MIN, Tier::Volunteer));
    a.acks.push(ack(T0 + 20 * MIN, Tier::Volunteer));
    let s = status(&a, T0 + 31 * MIN);
    assert_eq!(s.tier, Tier::Referral);
    assert_eq!(s.acknowledged, None);

    // The moderator acknowledging in her window stops it there.
    a.acks.push(ack(T0 + 29 * MIN, Tier::Moderator));
    let s = status(&a, T0 + 31 * MIN);
    assert_eq!(s.tier, Tier::Moderator);
    assert_eq!(s.acknowledged, Some(ack(T0 + 29 * MIN, Tier::Moderator)));
}

#[test]
fn acknowledgements_are_placed_in_time_whatever_their_order() {
    let mut a = urgent();
    a.acks = vec![
        ack(T0 + 40 * MIN, Tier::Referral),
        ack(T0 + 20 * MIN, Tier::Moderator),
    ];
    let s = status(&a, T0 + HOUR);
    assert_eq!(s.acknowledged, Some(ack(T0 + 20 * MIN, Tier::Moderator)));
    assert_eq!(s.tier, Tier::Moderator);
}

#[test]
fn without_a_volunteer_it_starts_at_the_moderator() {
    let mut a = urgent();
    a.has_volunteer = false;
    let s = status(&a, T0);
    assert_eq!(s.tier, Tier::Moderator);
    assert_eq!(s.escalations, [(Tier::Moderator, T0)]);
    let s = status(&a, T0 + 15 * MIN);
    assert_eq!(s.tier, Tier::Referral);
    assert_eq!(
        s.escalations,
        [(Tier::Moderator, T0), (Tier::Referral, T0 + 15 * MIN)]
    );
}

#[test]
fn a_concern_waits_24_hours_per_tier() {
    let a = alert(Severity::Concern);
    let s = status(&a, T0 + 15 * MIN);
    assert_eq!(s.tier, Tier::Volunteer);
    assert_eq!(s.due_at, Some(T0 + 24 * HOUR));
    assert_eq!(status(&a, T0 + 24 * HOUR - 1).tier, Tier::Volunteer);
    assert_eq!(status(&a, T0 + 24 * HOUR).tier, Tier::Moderator);
    assert_eq!(status(&a, T0 + 48 * HOUR).tier, Tier::Referral);
    assert_eq!(status(&a, T0 + 50 * HOUR).due_at, Some(T0 + 72 * HOUR));
    assert_eq!(status(&a, T0 + 80 * HOUR).overdue_ms, 8 * HOUR);
}

#[test]
fn a_resolved_alert_stops_everything() {
    let mut a = urgent();
    a.resolved_at = Some(T0 + 20 * MIN);
    let s = status(&a, T0 + 5 * HOUR);
    assert!(s.resolved);
    assert_eq!(
        s.tier,
        Tier::Moderator,
        "the tier it had reached when resolved"
    );
    assert_eq!(
        s.escalations,
        [(Tier::Volunteer, T0), (Tier::Moderator, T0 + 15 * MIN)]
    );
    assert_eq!((s.due_at, s.overdue_ms, s.acknowledged), (None, 0, None));

    // Before the resolution, it was still open.
    let before = status(&a, T0 + 19 * MIN);
    assert!(!before.resolved);
    assert_eq!(before.due_at, Some(T0 + 30 * MIN));

    // An acknowledgement after the resolution changes nothing.
    a.acks.push(ack(T0 + 25 * MIN, Tier::Moderator));
    assert_eq!(status(&a, T0 + 5 * HOUR), s);
}

#[test]
fn skewed_acknowledgements_are_ignored() {
    let mut a = urgent();
    // A device whose clock is behind dates its acknowledgement before the raise.
    a.acks.push(ack(T0 - 2 * MIN, Tier::Moderator));
    // A device whose clock is ahead dates one after this device's now.
    a.acks.push(ack(T0 + 3 * HOUR, Tier::Referral));
    let s = status(&a, T0 + HOUR);
    assert_eq!(s.acknowledged, None);
    assert_eq!(s.tier, Tier::Referral);
    assert!(s.overdue_ms > 0);

    // Once this device's clock passes the future-dated one, it counts (it was made at Referral).
    let later = status(&a, T0 + 3 * HOUR);
    assert_eq!(later.acknowledged, Some(ack(T0 + 3 * HOUR, Tier::Referral)));
    assert_eq!(later.overdue_ms, 0);
}

#[test]
fn skewed_resolutions() {
    let mut a = urgent();
    // Dated after now: not yet resolved on this device.
    a.resolved_at = Some(T0 + 2 * HOUR);
    assert!(!status(&a, T0 + HOUR).resolved);
    assert!(status(&a, T0 + 2 * HOUR).resolved);
    // Dated before the raise: resolved, as at the raise.
    a.resolved_at = Some(T0 - MIN);
    let s = status(&a, T0 + HOUR);
    assert!(s.resolved);
    assert_eq!(s.tier, Tier::Volunteer);
    assert_eq!(s.escalations, [(Tier::Volunteer, T0)]);
}

#[test]
fn a_programmes_ladder_from_config() {
    let ladder = Ladder::from_json(
        r#"{"tiers": ["moderator", "referral"],
            "ack_within_minutes": {"urgent": 10, "concern": 720}}"#,
    )
    .expect("valid");
    assert_eq!(ladder.tiers, [Tier::Moderator, Tier::Referral]);
    assert_eq!(ladder.ack_within_ms.urgent, 10 * MIN);
    assert_eq!(ladder.ack_within_ms.concern, 12 * HOUR);
    // A mother with a volunteer still starts at the first tier this programme has.
    let a = urgent();
    assert_eq!(ladder.status(&a, T0).tier, Tier::Moderator);
    assert_eq!(ladder.status(&a, T0 + 10 * MIN - 1).tier, Tier::Moderator);
    assert_eq!(ladder.status(&a, T0 + 10 * MIN).tier, Tier::Referral);

    let default = Ladder::from_json(
        r#"{"tiers": ["volunteer", "moderator", "referral"],
            "ack_within_minutes": {"urgent": 15, "concern": 1440}}"#,
    )
    .expect("valid");
    assert_eq!(default, Ladder::default());
    assert_eq!(Ladder::default().validate(), Ok(()));
}

#[test]
fn config_validation_names_the_field() {
    let err = |json: &str| {
        Ladder::from_json(json)
            .expect_err("should be rejected")
            .to_string()
    };
    let timers = r#""ack_within_minutes": {"urgent": 15, "concern": 1440}"#;
    assert_eq!(
        err(&format!(r#"{{"tiers": ["volunteer", "boss"], {timers}}}"#)),
        "escalation ladder: tiers[1]: \"boss\" is not a tier (volunteer, moderator, referral)"
    );
    assert_eq!(
        err(&format!(r#"{{"tiers": ["moderator", "volunteer"], {timers}}}"#)),
        "escalation ladder: tiers[1]: volunteer repeats or is out of order; list tiers lowest first (volunteer, moderator, referral)"
    );
    assert_eq!(
        err(&format!(r#"{{"tiers": ["moderator", "moderator"], {timers}}}"#)),
        "escalation ladder: tiers[1]: moderator repeats or is out of order; list tiers lowest first (volunteer, moderator, referral)"
    );
    assert_eq!(
        err(&format!(r#"{{"tiers": [], {timers}}}"#)),
        "escalation ladder: tiers: empty; list at least one tier"
    );
    assert_eq!(
        err(&format!(r#"{{"tiers": ["volunteer"], {timers}}}"#)),
        "escalation ladder: tiers: needs a tier above volunteer, for mothers who have no volunteer"
    );
    assert_eq!(
        err(&format!(r#"{{{timers}}}"#)),
        "escalation ladder: tiers: missing"
    );
    let tiers = r#""tiers": ["volunteer", "moderator", "referral"]"#;
    assert_eq!(
        err(&format!(
            r#"{{{tiers}, "ack_within_minutes": {{"urgent": 0, "concern": 1440}}}}"#
        )),
        "escalation ladder: ack_within_minutes.urgent: 0 is outside 1–10080 minutes (7 days)"
    );
    assert_eq!(
        err(&format!(
            r#"{{{tiers}, "ack_within_minutes": {{"urgent": 15, "concern": 20000}}}}"#
        )),
        "escalation ladder: ack_within_minutes.concern: 20000 is outside 1–10080 minutes (7 days)"
    );
    assert_eq!(
        err(&format!(
            r#"{{{tiers}, "ack_within_minutes": {{"urgent": 15}}}}"#
        )),
        "escalation ladder: ack_within_minutes.concern: missing"
    );
    assert_eq!(
        err(&format!(
            r#"{{{tiers}, "ack_within_minutes": {{"urgent": 120, "concern": 60}}}}"#
        )),
        "escalation ladder: ack_within_minutes.urgent: 120 is longer than concern (60); urgent alerts must not wait longer"
    );
    assert!(err(&format!(r#"{{{tiers}, {timers}, "extra": 1}}"#))
        .starts_with("escalation ladder: not valid JSON: unknown field `extra`"));

    let mut built = Ladder::default();
    built.ack_within_ms.urgent = -1;
    assert_eq!(
        built.validate().expect_err("negative timer").to_string(),
        "escalation ladder: ack_within_ms.urgent: -1 ms is outside 1 ms – 7 days"
    );
}

#[test]
fn an_unvalidated_ladder_still_gives_a_status() {
    let odd = Ladder {
        tiers: vec![Tier::Volunteer],
        ..Ladder::default()
    };
    let mut a = urgent();
    a.has_volunteer = false;
    // No usable tier: the default ladder's tiers apply rather than dropping the alert.
    assert_eq!(odd.status(&a, T0).tier, Tier::Moderator);
    let mut zero = Ladder::default();
    zero.ack_within_ms.urgent = 0;
    assert_eq!(zero.status(&urgent(), T0).tier, Tier::Referral);
}

#[test]
fn status_serialises_with_snake_case_tiers() {
    let s = status(&urgent(), T0 + 15 * MIN);
    let json = serde_json::to_value(&s).expect("serialises");
    assert_eq!(json["tier"], "moderator");
    assert_eq!(
        json["escalations"],
        serde_json::json!([["volunteer", T0], ["moderator", T0 + 15 * MIN]])
    );
    assert_eq!(
        serde_json::to_string(&Severity::Urgent).expect("serialises"),
        "\"urgent\""
    );
}
