//! Planned endings through a real relay: the moderator sets an end date; every member's device
//! reminds her four weeks and one week before, shows the farewell period, then the group is
//! read-only everywhere (a tampered client's later post is hidden), and still readable and
//! exportable. Clocks are the devices' injected ones.

use hearth_core::{Clock, Role};
use hearth_tests::devices::{relay, Device};

const DAY: i64 = 24 * 3_600_000;

#[test]
fn a_group_ends_on_purpose_with_reminders_a_farewell_and_then_read_only() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in November");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut joy, Role::Mother);
    amina.sync();
    amina.send(&g, "So glad to have found this group");
    amina.sync();

    // Only moderators plan an ending; the date must be in the future.
    assert!(amina
        .companion
        .plan_ending(&g, ruth.clock.now_ms() + 60 * DAY, 7, "")
        .is_err());
    let now = ruth.clock.now_ms();
    let err = ruth
        .companion
        .plan_ending(&g, now - DAY, 7, "")
        .unwrap_err();
    assert!(err.to_string().contains("future"), "{err}");
    let err = ruth
        .companion
        .plan_ending(&g, now + 60 * DAY, 40, "")
        .unwrap_err();
    assert!(err.to_string().contains("28"), "{err}");

    let ends_at = now + 60 * DAY;
    ruth.companion
        .plan_ending(
            &g,
            ends_at,
            7,
            "the 'Little ones' group, or a volunteer: ask Ruth",
        )
        .unwrap();
    ruth.sync();
    amina.sync();

    let phase_at = |d: &Device, t: i64| {
        d.clock.set(t);
        let e = d
            .companion
            .moderation(&g)
            .unwrap()
            .ending
            .expect("an ending");
        (e.phase, e.reminder, e.read_only)
    };
    let (phase, reminder, _) = phase_at(&amina, ends_at - 29 * DAY);
    assert_eq!((phase, reminder), ("planned", None));
    let (phase, reminder, _) = phase_at(&amina, ends_at - 28 * DAY);
    assert_eq!(phase, "four_weeks");
    assert!(reminder.unwrap().contains("Little ones"));
    let (phase, _, _) = phase_at(&amina, ends_at - 7 * DAY - 1);
    assert_eq!(phase, "four_weeks");
    // The farewell period starts seven days before: it takes over from the one-week reminder.
    let (phase, reminder, ro) = phase_at(&amina, ends_at - 7 * DAY);
    assert_eq!((phase, ro), ("farewell", false));
    assert!(reminder.unwrap().contains("goodbye"));
    amina.send(&g, "Thank you all, I'll miss you");
    amina.sync();
    let (phase, reminder, ro) = phase_at(&amina, ends_at);
    assert_eq!((phase, ro), ("ended", true));
    assert!(reminder.unwrap().contains("export"));

    // Read-only for everyone, moderators too, with a clear reason.
    let err = amina.companion.send(&g, "one more thing").unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    ruth.clock.set(ends_at + DAY);
    assert!(ruth.companion.send(&g, "a late word").is_err());

    // Still readable and exportable after the end.
    ruth.sync();
    amina.sync();
    let texts: Vec<String> = amina.timeline(&g).into_iter().map(|i| i.text).collect();
    assert!(
        texts.contains(&"Thank you all, I'll miss you".to_string()),
        "{texts:?}"
    );
    let export = amina.companion.export_text(&g).unwrap();
    assert!(export.contains("So glad to have found this group"));

    // Joy was offline all along and never heard of the ending: her device lets her post after
    // the end. Once it syncs, that post is hidden on every device, hers included.
    joy.clock.set(ends_at + 2 * DAY);
    joy.send(&g, "LATE POST after the end");
    joy.sync();
    ruth.sync();
    amina.sync();
    for d in [&ruth, &amina, &joy] {
        let late = d
            .timeline(&g)
            .into_iter()
            .find(|i| i.author_name == "Joy" && i.hidden);
        assert!(late.is_some(), "{}: the late post is not hidden", d.name);
    }
    let seen_by_amina = amina.timeline(&g);
    assert!(seen_by_amina
        .iter()
        .all(|i| i.text != "LATE POST after the end"));
}

#[test]
fn a_planned_ending_can_be_cancelled_and_reaches_members_who_join_later() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let g = ruth.create_group("Due in December");
    let ends_at = ruth.clock.now_ms() + 90 * DAY;
    ruth.companion.plan_ending(&g, ends_at, 14, "").unwrap();
    ruth.sync();
    // Amina joins after: a new chapter, and the ending is carried into it.
    ruth.admit(&g, &mut amina, Role::Mother);
    amina.sync();
    let e = amina
        .companion
        .moderation(&g)
        .unwrap()
        .ending
        .expect("carried to a newcomer");
    assert_eq!((e.ends_at, e.farewell_from), (ends_at, ends_at - 14 * DAY));
    ruth.companion.cancel_ending(&g).unwrap();
    ruth.sync();
    amina.sync();
    assert!(amina.companion.moderation(&g).unwrap().ending.is_none());
    let audit = ruth.companion.audit_log(&g).unwrap();
    assert!(audit.iter().filter(|a| a.action == "ending").count() >= 2);

    // With a short farewell, the one-week reminder comes first.
    ruth.companion.plan_ending(&g, ends_at, 2, "").unwrap();
    ruth.sync();
    amina.sync();
    amina.clock.set(ends_at - 7 * DAY);
    let e = amina.companion.moderation(&g).unwrap().ending.unwrap();
    assert_eq!(e.phase, "one_week");
    assert!(e.reminder.unwrap().contains("in a week"));
    amina.clock.set(ends_at - 2 * DAY);
    assert_eq!(
        amina
            .companion
            .moderation(&g)
            .unwrap()
            .ending
            .unwrap()
            .phase,
        "farewell"
    );
}
