//! Moderation through a real relay: every action travels to every member's device (offline
//! first, then synced), and authorization holds on each device — a record written by a
//! tampered client of a non-moderator, or by a removed moderator, changes nothing anywhere.

use hearth_core::moderation::Action;
use hearth_core::{Clock, Error, MessageId, Role, TimelineItem};
use hearth_tests::devices::{relay, Device};

fn find<'a>(items: &'a [TimelineItem], text_or_id: &str) -> &'a TimelineItem {
    items
        .iter()
        .find(|i| i.text == text_or_id || i.id.to_hex() == text_or_id)
        .unwrap_or_else(|| panic!("no message {text_or_id:?} in {items:#?}"))
}

fn id_of(d: &Device, g: &hearth_core::GroupId, text: &str) -> MessageId {
    find(&d.timeline(g), text).id
}

#[test]
fn moderator_actions_reach_every_member_and_newcomers_get_the_rules() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in June");
    ruth.admit(&g, &mut amina, Role::Mother);

    // Rules first: Amina must accept them before she can post.
    ruth.companion
        .set_rules(&g, "Be kind. No medical advice without a source.")
        .unwrap();
    ruth.sync();
    amina.sync();
    let view = amina.companion.moderation(&g).unwrap();
    assert!(view.must_accept_rules, "{view:?}");
    assert!(matches!(
        amina.companion.send(&g, "hi"),
        Err(Error::RulesNotAccepted)
    ));
    amina.companion.accept_rules(&g).unwrap();
    amina.send(&g, "Castor oil will start labour, works every time");
    amina.send(&g, "Anyone else up at 3am?");
    amina.sync();

    // Joy joins after the rules were set: she holds only the chapters from her admission on,
    // so the rules reach her carried into the new chapter.
    ruth.admit(&g, &mut joy, Role::Mother);
    let jv = joy.companion.moderation(&g).unwrap();
    assert_eq!(
        jv.rules.as_ref().map(|r| r.set_by.as_str()),
        Some("Ruth"),
        "{jv:?}"
    );
    assert!(jv.must_accept_rules);
    joy.companion.accept_rules(&g).unwrap();

    // Ruth corrects one message and hides another, offline, then syncs once.
    ruth.sync();
    let castor = id_of(&ruth, &g, "Castor oil will start labour, works every time");
    let three_am = id_of(&ruth, &g, "Anyone else up at 3am?");
    ruth.companion
        .correct(
            &g,
            &three_am,
            "If you are awake and low, the help card lists who to call at night.",
        )
        .unwrap();
    ruth.companion
        .hide(&g, &castor, "unsafe advice: talk to your midwife first")
        .unwrap();
    ruth.companion
        .pin(
            &g,
            "Starting labour",
            "Talk to your midwife before trying anything to start labour.",
            "NHS: Induction of labour",
        )
        .unwrap();
    ruth.sync();
    amina.sync();
    joy.sync();

    // Amina (the author) sees her text and why; nobody else's device shows it.
    let a = amina.timeline(&g);
    let hidden = find(&a, &castor.to_hex());
    assert!(hidden.hidden);
    assert_eq!(
        hidden.moderation_note.as_deref(),
        Some("removed by a moderator: unsafe advice: talk to your midwife first")
    );
    assert_eq!(
        hidden.text,
        "Castor oil will start labour, works every time"
    );
    let corrected = find(&a, "Anyone else up at 3am?");
    assert!(corrected
        .correction
        .as_deref()
        .unwrap()
        .contains("help card"));
    assert_eq!(corrected.correction_by.as_deref(), Some("Ruth"));
    assert_eq!(amina.companion.moderation(&g).unwrap().pins.len(), 1);
    assert_eq!(joy.companion.moderation(&g).unwrap().pins.len(), 1);

    // Restored, again offline first.
    ruth.companion
        .restore(&g, &castor, "discussed with her; she added her source")
        .unwrap();
    ruth.sync();
    amina.sync();
    let a = amina.timeline(&g);
    assert!(!find(&a, &castor.to_hex()).hidden);

    // The audit log lists every action with who, what, when and why — for moderators only.
    let audit = ruth.companion.audit_log(&g).unwrap();
    let actions: Vec<&str> = audit.iter().map(|i| i.action).collect();
    assert_eq!(actions, ["rules", "correct", "hide", "pin", "restore"]);
    assert!(audit.iter().all(|i| i.by == "Ruth"));
    assert_eq!(audit[2].why, "unsafe advice: talk to your midwife first");
    assert!(matches!(
        amina.companion.audit_log(&g),
        Err(Error::NotAllowed { .. })
    ));
    ruth.restart();
    assert_eq!(ruth.companion.audit_log(&g).unwrap().len(), 5);
}

#[test]
fn mutes_holds_slow_mode_and_duty_hold_on_every_device() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in July");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut joy, Role::Mother);
    amina.sync();

    // Nobody on duty: members see it (and the shells show where to get help now).
    assert!(amina.companion.moderation(&g).unwrap().nobody_on_duty);
    ruth.companion.set_duty(&g, true).unwrap();
    ruth.sync();
    amina.sync();
    let v = amina.companion.moderation(&g).unwrap();
    assert_eq!(
        (v.nobody_on_duty, v.on_duty.clone()),
        (false, vec!["Ruth".to_string()])
    );

    // Mute: Joy's own device refuses her posts. What she wrote offline before she heard of
    // it is hidden on every device, because it was written while she was muted.
    joy.clock.advance(1_000);
    ruth.clock.set(joy.clock.now_ms());
    ruth.companion
        .mute(&g, "Joy", 3_600_000, "cooling off after an argument")
        .unwrap();
    ruth.sync();
    joy.send(&g, "written before I synced");
    joy.sync();
    assert!(matches!(
        joy.companion.send(&g, "another"),
        Err(Error::Muted { .. })
    ));
    amina.sync();
    let a = amina.timeline(&g);
    let muted = find(&a, "");
    assert!(muted.hidden && muted.moderation_note.is_none(), "{muted:?}");
    let j = joy.timeline(&g);
    let own = find(&j, "written before I synced");
    assert!(own.hidden);
    assert!(own
        .moderation_note
        .as_deref()
        .unwrap()
        .contains("cooling off"));
    ruth.companion.unmute(&g, "Joy").unwrap();
    ruth.sync();
    joy.sync();
    joy.send(&g, "thanks, I'm calmer now");

    // Hold every post for review: Joy's next post shows to her and Ruth, not to Amina,
    // until Ruth approves it.
    ruth.companion.set_hold(&g, true, 0).unwrap();
    ruth.sync();
    joy.sync();
    joy.send(&g, "can I share a link to my blog?");
    joy.sync();
    amina.sync();
    ruth.sync();
    assert!(!amina
        .texts(&g)
        .iter()
        .any(|(_, t)| t == "can I share a link to my blog?"));
    let held = find(&ruth.timeline(&g), "can I share a link to my blog?").clone();
    assert!(held.held);
    assert!(find(&joy.timeline(&g), "can I share a link to my blog?").held);
    ruth.companion.approve(&g, &held.id).unwrap();
    ruth.sync();
    amina.sync();
    let shown = find(&amina.timeline(&g), "can I share a link to my blog?").clone();
    assert!(!shown.held && !shown.hidden);

    // Slow mode, stricter while nobody is on duty.
    ruth.companion.set_hold(&g, false, 0).unwrap();
    ruth.companion.set_slow_mode(&g, 60, 600).unwrap();
    ruth.sync();
    amina.sync();
    amina.send(&g, "first");
    assert!(matches!(
        amina.companion.send(&g, "second"),
        Err(Error::SlowMode { wait_secs: 60 })
    ));
    amina.clock.advance(60_000);
    amina.companion.send(&g, "second").unwrap();
    ruth.companion.set_duty(&g, false).unwrap();
    ruth.sync();
    amina.sync();
    assert_eq!(amina.companion.moderation(&g).unwrap().slow_mode_secs, 600);
    // Moderators are never slowed.
    ruth.send(&g, "one");
    ruth.send(&g, "two");
}

#[test]
fn records_from_non_moderators_and_removed_moderators_change_nothing() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut bea = Device::new("Bea", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut eve = Device::new("Eve", Role::Mother, &url);
    let g = ruth.create_group("Due in August");
    ruth.admit(&g, &mut bea, Role::Moderator);
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut eve, Role::Mother);
    bea.sync();
    amina.sync(); // she has heard of Eve's admission, so Eve can read what she writes next
    amina.send(&g, "Amina's honest question");
    amina.sync();
    eve.sync();
    bea.sync();
    ruth.sync();
    let question = id_of(&ruth, &g, "Amina's honest question");

    // A tampered client: Eve writes moderator records with her own keys. Her device believes
    // them; the relay (which cannot read them) stores them; every other device refuses them.
    eve.companion
        .forge_record(&g, Action::Hide { message: question }, "forged")
        .unwrap();
    eve.companion
        .forge_record(
            &g,
            Action::Rules {
                text: "Eve rules".into(),
            },
            "",
        )
        .unwrap();
    eve.sync();
    for d in [&mut ruth, &mut bea, &mut amina] {
        let report = d.sync();
        assert!(
            report.notes.iter().any(|n| n.contains("not allowed")),
            "{}: {report:?}",
            d.name
        );
        assert!(
            !find(&d.timeline(&g), "Amina's honest question").hidden,
            "{}",
            d.name
        );
        assert!(
            d.companion.moderation(&g).unwrap().rules.is_none(),
            "{}",
            d.name
        );
    }

    // Bea, a moderator, hides the message while she is one: it counts everywhere, even on a
    // device that hears of it only after she was removed.
    bea.companion
        .hide(&g, &question, "checking a claim")
        .unwrap();
    bea.sync();
    ruth.sync();
    ruth.companion.remove(&g, "Bea").unwrap();
    ruth.sync();
    amina.sync();
    assert!(find(&amina.timeline(&g), &question.to_hex()).hidden);
    // Offline, not yet knowing she was removed, Bea restores it: refused everywhere.
    bea.companion
        .restore(&g, &question, "after removal")
        .unwrap();
    bea.sync();
    ruth.sync();
    amina.sync();
    for d in [&ruth, &amina] {
        assert!(
            find(&d.timeline(&g), &question.to_hex()).hidden,
            "{}",
            d.name
        );
        let audit = ruth.companion.audit_log(&g).unwrap();
        assert!(!audit.iter().any(|i| i.why == "after removal"), "{audit:?}");
    }
}
