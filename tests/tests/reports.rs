//! Reports, alerts, nudges and shared self-checks through a real relay: sealed to exactly the
//! people they are for, readable by nobody else (the relay included), with state that reaches
//! the reporter, and escalation computed on each device from synced notes and its own clock.

use hearth_core::notes::{NoteBody, ReportReason, Severity, Tier};
use hearth_core::{DeviceId, Error, Role};
use hearth_safety::epds::Answers;
use hearth_tests::devices::{all_bytes_of, contains, relay, Device};

fn device_of(d: &Device) -> DeviceId {
    d.companion.profile().device
}

#[test]
fn a_report_reaches_only_the_moderators_and_its_state_reaches_the_reporter() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut bea = Device::new("Bea", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in May");
    ruth.admit(&g, &mut bea, Role::Moderator);
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut joy, Role::Mother);
    for d in [&mut amina, &mut joy, &mut bea] {
        d.sync();
    }
    joy.send(&g, "Before it: you don't need the whooping cough jab");
    joy.send(&g, "Vaccines in pregnancy are a scam");
    joy.send(&g, "After it: anyway, how is everyone?");
    joy.sync();
    amina.sync();
    let claim = amina
        .timeline(&g)
        .into_iter()
        .find(|i| i.text == "Vaccines in pregnancy are a scam")
        .unwrap()
        .id;
    amina
        .companion
        .report(
            &g,
            &claim,
            ReportReason::Misinformation,
            "REPORTER-NOTE-7731 please check",
        )
        .unwrap();
    assert!(amina.companion.my_reports(&g).unwrap()[0].pending);
    let sent = amina.sync();
    assert!(sent.notes.is_empty(), "{sent:?}");
    let mine = amina.companion.my_reports(&g).unwrap();
    assert_eq!((mine[0].state, mine[0].pending), ("open", false));

    // Both moderators have it, with the lines around it; Joy's device never sees it.
    for m in [&mut ruth, &mut bea] {
        let r = m.sync();
        assert_eq!(r.notes_received, 1, "{}: {r:?}", m.name);
        let q = m.companion.queue(false).unwrap();
        assert_eq!(q.len(), 1, "{}", m.name);
        let item = &q[0];
        assert_eq!(
            (item.kind, item.reason.as_str(), item.state),
            ("report", "misinformation", "open")
        );
        assert_eq!(item.raised_by, "Amina");
        assert_eq!(item.note, "REPORTER-NOTE-7731 please check");
        let texts: Vec<&str> = item.context.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Before it: you don't need the whooping cough jab",
                "Vaccines in pregnancy are a scam",
                "After it: anyway, how is everyone?"
            ]
        );
        assert!(item.context[1].reported);
    }
    let r = joy.sync();
    assert_eq!(r.notes_received, 0);
    assert!(joy.companion.queue(true).unwrap().is_empty());

    // The relay held only sealed bytes: the note never appears in its files.
    assert!(!contains(&all_bytes_of(dir.path()), "REPORTER-NOTE-7731"));

    // Ruth takes it in hand, then resolves it; the reporter and the other moderator see each
    // step, and a second acknowledgement is harmless.
    let id = ruth.companion.queue(false).unwrap()[0].id.clone();
    ruth.companion.acknowledge(&id[..8]).unwrap();
    ruth.sync();
    amina.sync();
    bea.sync();
    assert_eq!(
        amina.companion.my_reports(&g).unwrap()[0].state,
        "acknowledged"
    );
    assert_eq!(bea.companion.queue(false).unwrap()[0].state, "acknowledged");
    ruth.companion
        .hide(&g, &claim, "misinformation about vaccines")
        .unwrap();
    ruth.companion
        .resolve(
            &id,
            "hidden, and the midwife's leaflet on vaccines is pinned",
        )
        .unwrap();
    ruth.sync();
    amina.sync();
    bea.sync();
    let mine = &amina.companion.my_reports(&g).unwrap()[0];
    assert_eq!(mine.state, "resolved");
    assert!(mine.outcome.contains("leaflet"));
    assert!(
        bea.companion.queue(false).unwrap().is_empty(),
        "resolved leaves the queue"
    );
    assert_eq!(bea.companion.queue(true).unwrap().len(), 1);

    // Members cannot work the queue.
    assert!(matches!(
        amina.companion.resolve(&id, "done"),
        Err(Error::Input(_))
    ));

    // A tampered client: Joy sends a "report update" and a "nudge" as if she moderated. Amina's
    // device refuses both, whatever the relay passed on.
    joy.companion
        .forge_note(
            &g,
            &[device_of(&amina)],
            NoteBody::Nudge {
                text: "FORGED nudge".into(),
            },
        )
        .unwrap();
    joy.sync();
    let r = amina.sync();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("not one this device takes")),
        "{r:?}"
    );
    assert!(amina.companion.nudges(&g).unwrap().is_empty());
}

#[test]
fn nudges_alerts_escalation_and_shared_self_checks() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut bea = Device::new("Bea", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in April");
    ruth.admit(&g, &mut bea, Role::Moderator);
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut joy, Role::Mother);
    for d in [&mut amina, &mut joy, &mut bea, &mut ruth] {
        d.sync(); // everyone's pseudonym reaches everyone
    }

    // A nudge from a template, sealed to Joy alone.
    let template = ruth
        .companion
        .nudge_templates()
        .unwrap()
        .into_iter()
        .find(|t| t.name == "checking-in")
        .unwrap();
    ruth.companion.nudge(&g, "Joy", &template.text).unwrap();
    ruth.sync();
    joy.sync();
    amina.sync();
    let n = joy.companion.nudges(&g).unwrap();
    assert_eq!(n.len(), 1);
    assert!(n[0].text.starts_with("Hi Joy,"), "{n:?}");
    assert_eq!(n[0].from, "Ruth");
    assert!(amina.companion.nudges(&g).unwrap().is_empty());
    assert!(matches!(
        amina.companion.nudge(&g, "Joy", "hi"),
        Err(Error::NotAllowed { .. })
    ));

    // Amina asks for help from a risky draft. Nobody acknowledges: after 15 minutes on a
    // moderator's clock the alert is theirs to refer on.
    amina
        .companion
        .raise_alert(
            &g,
            Severity::Urgent,
            &["self_harm".into()],
            "I can't do this any more",
        )
        .unwrap();
    amina.sync();
    ruth.sync();
    bea.sync();
    let q = ruth.companion.queue(false).unwrap();
    let alert = q.iter().find(|i| i.kind == "alert").unwrap().clone();
    assert_eq!(alert.severity, 5);
    let esc = alert.escalation.clone().unwrap();
    assert_eq!(
        esc.tier,
        Tier::Moderator,
        "no volunteer yet: it starts with the moderators"
    );
    let due = esc.due_at.unwrap();
    assert_eq!(due, alert.raised_at + 15 * 60_000);
    ruth.clock.set(due - 1);
    assert_eq!(
        ruth.companion.queue(false).unwrap()[0]
            .escalation
            .clone()
            .unwrap()
            .tier,
        Tier::Moderator
    );
    ruth.clock.set(due);
    let now = ruth.companion.queue(false).unwrap()[0]
        .escalation
        .clone()
        .unwrap();
    assert_eq!(now.tier, Tier::Referral);
    assert!(now.action.contains("urgent referral"));

    // Bea acknowledges (on her own clock, before the deadline); once that reaches Ruth's
    // device the alert stops climbing there too.
    bea.clock.set(due - 60_000);
    bea.companion.acknowledge(&alert.id).unwrap();
    bea.sync();
    ruth.sync();
    amina.sync();
    let after = ruth.companion.queue(false).unwrap()[0].clone();
    assert_eq!(after.state, "acknowledged");
    assert_eq!(after.escalation.unwrap().tier, Tier::Moderator);
    // Amina's clock still reads the moment she asked: an acknowledgement dated in her future
    // does not count yet (clock skew), and counts once her clock passes it.
    assert_eq!(amina.companion.my_alerts(&g).unwrap()[0].state, "open");
    amina.clock.set(due);
    assert_eq!(
        amina.companion.my_alerts(&g).unwrap()[0].state,
        "acknowledged"
    );

    // A self-check stays on Amina's phone until she shares it, with one moderator only.
    let answers = Answers::parse("0,0,0,0,0,0,0,0,0,2").unwrap(); // item 10: "sometimes"
    let check = amina.companion.take_epds(&answers, "en").unwrap();
    assert!(check.score.safety_pathway());
    ruth.sync();
    assert!(!ruth
        .companion
        .queue(true)
        .unwrap()
        .iter()
        .any(|i| i.kind == "self_check"));
    amina.companion.share_epds(check.id, &g, "Ruth").unwrap();
    amina.sync();
    ruth.sync();
    bea.sync();
    let q = ruth.companion.queue(false).unwrap();
    let shared = q.iter().find(|i| i.kind == "self_check").unwrap();
    assert_eq!(shared.severity, 5, "item 10 is positive");
    assert!(shared.reason.contains("self_harm"));
    assert!(!bea
        .companion
        .queue(true)
        .unwrap()
        .iter()
        .any(|i| i.kind == "self_check"));
    let history = amina.companion.epds_history().unwrap();
    assert_eq!(history[0].shared_with[0].0, "Ruth");
    let err = amina.companion.share_epds(check.id, &g, "Joy").unwrap_err();
    assert!(err.to_string().contains("not a moderator"), "{err}");
}
