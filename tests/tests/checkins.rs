//! Check-ins between a volunteer and a mother, through the relay: the plan reaches the mother,
//! the volunteer's due list moves from upcoming to due to overdue with the clock, the mother
//! snoozes without a reason, outcomes stay on the volunteer's phone, "needs follow-up" reaches
//! her coordinators' queue as an alert, off duty means no prompts, the caseload cap holds, and
//! supervision notes reach only the supervisors. Nothing of it is readable on the relay. A
//! debrief group is for volunteers and coordinators only, on every device.

use hearth_core::notes::checkins::{parse_outcome, PlanRequest};
use hearth_core::{Clock, Error, GroupId, Role};
use hearth_tests::devices::{all_bytes_of, contains, relay, Device};

const HOUR: i64 = 3_600_000;

fn weekly(day: &str) -> PlanRequest {
    PlanRequest {
        day: day.into(),
        at: "19:00".into(),
        time_zone: "Europe/London".into(),
        every_weeks: 1,
        start: None,
    }
}

fn input_field(e: Error) -> String {
    match e {
        Error::Input(i) => i.field,
        other => panic!("expected an input error, got {other}"),
    }
}

fn conversation(jo: &mut Device, mother: &mut Device, name: &str) -> GroupId {
    let c = jo.companion.start_conversation(name).unwrap();
    jo.sync();
    jo.admit(&c.id, mother, Role::Mother);
    mother.sync();
    // Her introduction (her pseudonym) reaches the volunteer.
    jo.sync();
    c.id
}

#[test]
fn a_volunteers_check_ins_from_plan_to_follow_up() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut jo = Device::new("Jo", Role::Volunteer, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);

    // The coordinators' debrief group, with Jo in it.
    let debrief = ruth.create_group("Volunteers' debrief");
    ruth.companion.set_volunteers_only(&debrief, true).unwrap();
    ruth.admit(&debrief, &mut jo, Role::Volunteer);
    let c = conversation(&mut jo, &mut amina, "Jo and Amina");

    // Only the volunteer plans; bad input names its field.
    assert!(matches!(
        amina.companion.plan_checkins(&c, &weekly("tuesday")),
        Err(Error::NotAllowed { .. })
    ));
    let mut bad = weekly("tuesday");
    bad.time_zone = "Mars/Olympus".into();
    assert_eq!(
        input_field(jo.companion.plan_checkins(&c, &bad).unwrap_err()),
        "time_zone"
    );
    let mut bad = weekly("someday");
    bad.start = Some("2026-02-30".into());
    let field = input_field(jo.companion.plan_checkins(&c, &bad).unwrap_err());
    assert!(field == "day" || field == "start", "{field}");
    let mut bad = weekly("tuesday");
    bad.every_weeks = 0;
    assert_eq!(
        input_field(jo.companion.plan_checkins(&c, &bad).unwrap_err()),
        "every_weeks"
    );
    assert!(
        jo.companion.checkins().unwrap().due.is_empty(),
        "bad plans wrote nothing"
    );

    let plan = jo.companion.plan_checkins(&c, &weekly("tuesday")).unwrap();
    assert!(
        plan.contains("weekly on Tue at 19:00 (Europe/London)"),
        "{plan}"
    );
    jo.sync();
    amina.sync();
    let mine = amina.companion.my_checkins().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].volunteer, "Jo");
    let first = mine[0].next_at.expect("a next check-in");

    // The due list follows the clock: upcoming within a day, due at its time, overdue a day
    // after.
    let state_at = |jo: &Device, t: i64| {
        jo.clock.set(t);
        let view = jo.companion.checkins().unwrap();
        view.due
            .iter()
            .map(|d| (d.mother.clone(), d.state))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        state_at(&jo, first - 2 * HOUR),
        [("Amina".into(), "upcoming")]
    );
    assert_eq!(state_at(&jo, first + HOUR), [("Amina".into(), "due")]);
    assert_eq!(
        state_at(&jo, first + 25 * HOUR),
        [("Amina".into(), "overdue")]
    );

    // She snoozes it (no reason asked); Jo's list waits for the end of her snooze.
    amina.clock.set(first + HOUR);
    amina
        .companion
        .snooze_checkin(&c, first + 5 * HOUR)
        .unwrap();
    amina.sync();
    jo.sync();
    jo.clock.set(first + 2 * HOUR);
    let view = jo.companion.checkins().unwrap();
    assert_eq!(view.due.len(), 1);
    assert_eq!(view.due[0].state, "upcoming");
    assert_eq!(view.due[0].snoozed_until, Some(first + 5 * HOUR));

    // Talked: the prompt goes; next week's is not yet within a day.
    jo.clock.set(first + 6 * HOUR);
    let done = jo
        .companion
        .record_checkin(&c, parse_outcome("talked").unwrap(), "", None)
        .unwrap();
    assert_eq!(done.outcome, "talked");
    assert!(done.follow_up_alert.is_none());
    assert!(jo.companion.checkins().unwrap().due.is_empty());

    // Off duty: no prompts at all; back on duty, next week's shows.
    let next_week = first + 7 * 24 * HOUR;
    jo.clock.set(next_week + HOUR);
    jo.companion.set_volunteer_duty(false).unwrap();
    let off = jo.companion.checkins().unwrap();
    assert!(!off.on_duty && off.due.is_empty(), "{off:?}");
    jo.companion.set_volunteer_duty(true).unwrap();
    assert_eq!(jo.companion.checkins().unwrap().due.len(), 1);

    // Needs follow-up: refused until she has a debrief group, and nothing is recorded.
    let worry = "She said she has not slept in three days and feels far away from the baby";
    let follow_up = parse_outcome("needs-follow-up").unwrap();
    let err = jo
        .companion
        .record_checkin(&c, follow_up, worry, None)
        .unwrap_err();
    assert_eq!(input_field(err), "debrief");
    assert_eq!(
        jo.companion.checkins().unwrap().due.len(),
        1,
        "nothing recorded"
    );
    jo.companion.set_debrief_group(&debrief).unwrap();
    let raised = jo
        .companion
        .record_checkin(&c, follow_up, worry, None)
        .unwrap();
    let alert = raised
        .follow_up_alert
        .expect("an alert to the coordinators");
    jo.sync();
    ruth.sync();
    let queue = ruth.companion.queue(false).unwrap();
    let item = queue
        .iter()
        .find(|q| q.id == alert)
        .expect("the follow-up in Ruth's queue");
    assert_eq!(item.kind, "alert");
    assert!(item.reason.contains("follow_up"), "{}", item.reason);
    assert!(
        item.note.contains(worry) && item.note.contains("Amina"),
        "{}",
        item.note
    );

    // A supervision note reaches the supervisor only.
    jo.companion
        .supervision_note("SUPERVISION-SECRET I found this week's calls heavy")
        .unwrap();
    jo.sync();
    ruth.sync();
    let notes = ruth.companion.supervision_notes(&debrief).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].from, "Jo");

    // The mother's phone never holds the volunteer's outcome or note.
    amina.sync();
    let amina_view = format!("{:?}", amina.companion.my_checkins().unwrap());
    assert!(!amina_view.contains("slept"), "{amina_view}");

    // The relay holds none of it in the clear.
    let files = all_bytes_of(dir.path());
    for secret in ["SUPERVISION-SECRET", "slept in three days", "Europe/London"] {
        assert!(
            !contains(&files, secret),
            "{secret:?} is readable on the relay"
        );
    }

    // Ending the plan: her phone stops showing it.
    jo.companion.end_checkins(&c).unwrap();
    jo.sync();
    amina.sync();
    assert!(amina.companion.my_checkins().unwrap().is_empty());
}

#[test]
fn the_caseload_cap_holds_and_is_checked() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut jo = Device::new("Jo", Role::Volunteer, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let a = conversation(&mut jo, &mut amina, "Jo and Amina");
    let b = conversation(&mut jo, &mut joy, "Jo and Joy");

    assert_eq!(
        input_field(jo.companion.set_caseload_cap(0).unwrap_err()),
        "cap"
    );
    assert_eq!(
        input_field(jo.companion.set_caseload_cap(500).unwrap_err()),
        "cap"
    );
    jo.companion.set_caseload_cap(1).unwrap();
    jo.companion.plan_checkins(&a, &weekly("monday")).unwrap();
    let err = jo
        .companion
        .plan_checkins(&b, &weekly("monday"))
        .unwrap_err();
    assert_eq!(input_field(err), "caseload");
    // Re-planning the same mother is not a new one.
    jo.companion.plan_checkins(&a, &weekly("friday")).unwrap();
    let view = jo.companion.checkins().unwrap();
    assert_eq!((view.cap, view.caseload), (1, 1));

    // Her snooze is only hers: a mother with no plan has nothing to snooze.
    jo.sync();
    joy.sync();
    let now = joy.clock.now_ms();
    assert_eq!(
        input_field(joy.companion.snooze_checkin(&b, now + HOUR).unwrap_err()),
        "group"
    );
}

#[test]
fn a_handover_waits_for_the_mothers_consent() {
    use hearth_core::notes::OfferKind;
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut jo = Device::new("Jo", Role::Volunteer, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let c = conversation(&mut jo, &mut amina, "Jo and Amina");
    let offer = jo
        .companion
        .offer(
            &c,
            "Amina",
            OfferKind::Handover,
            "I'm stepping back for a while. Kim could call you from next week; is that all right?",
        )
        .unwrap();
    jo.sync();
    amina.sync();
    let seen = amina.companion.offers(&c).unwrap();
    assert_eq!((seen[0].kind, seen[0].accepted), ("handover", None));
    // She cannot make offers in her own conversation; only answer.
    assert!(amina
        .companion
        .offer(&c, "Jo", OfferKind::Handover, "x")
        .is_err());
    amina
        .companion
        .answer_offer(&c, &offer.to_hex(), false)
        .unwrap();
    amina.sync();
    jo.sync();
    assert_eq!(jo.companion.offers(&c).unwrap()[0].accepted, Some(false));
}

#[test]
fn a_debrief_group_is_for_volunteers_and_coordinators_only() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut jo = Device::new("Jo", Role::Volunteer, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);

    let debrief = ruth.create_group("Volunteers' debrief");
    // An invite for a mother made before the group became volunteers-only.
    let early = ruth
        .companion
        .invite(&debrief, Role::Mother, 24 * HOUR)
        .unwrap()
        .code;
    ruth.admit(&debrief, &mut jo, Role::Volunteer);

    // A volunteer cannot choose a group open to mothers as her debrief group, and cannot make
    // it volunteers-only herself.
    assert_eq!(
        input_field(jo.companion.set_debrief_group(&debrief).unwrap_err()),
        "group"
    );
    assert!(matches!(
        jo.companion.set_volunteers_only(&debrief, true),
        Err(Error::NotAllowed { .. })
    ));

    ruth.companion.set_volunteers_only(&debrief, true).unwrap();
    ruth.sync();
    jo.sync();
    assert!(jo.companion.moderation(&debrief).unwrap().volunteers_only);
    jo.companion.set_debrief_group(&debrief).unwrap();

    // No mother's invite is made now, and the early one admits nobody on any sync.
    assert_eq!(
        input_field(
            ruth.companion
                .invite(&debrief, Role::Mother, 24 * HOUR)
                .unwrap_err()
        ),
        "role"
    );
    ruth.companion
        .invite(&debrief, Role::Volunteer, 24 * HOUR)
        .expect("volunteers are still invited");
    let mut t = amina.transport();
    amina.companion.join(&early, &mut t).unwrap();
    for _ in 0..2 {
        ruth.sync();
        amina.sync();
    }
    let count = |d: &Device| {
        d.companion
            .find_group(&debrief.to_hex())
            .unwrap()
            .member_count
    };
    assert_eq!(
        count(&ruth),
        2,
        "a mother was admitted to the debrief group"
    );
    jo.sync();
    assert_eq!(count(&jo), 2);
    assert!(
        amina.companion.send(&debrief, "hello?").is_err(),
        "she never became a member"
    );

    // A group with a mother in it is not made volunteers-only; the error names her.
    let open = ruth.create_group("March mothers");
    ruth.admit(&open, &mut amina, Role::Mother);
    ruth.sync();
    let err = ruth.companion.set_volunteers_only(&open, true).unwrap_err();
    assert!(err.to_string().contains("Amina"), "{err}");
    assert!(!ruth.companion.moderation(&open).unwrap().volunteers_only);
}

#[test]
fn a_confirmed_match_becomes_a_conversation_with_everyones_consent() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut jo = Device::new("Jo", Role::Volunteer, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut bea = Device::new("Bea", Role::Mother, &url);

    let volunteers = ruth.create_group("Volunteers");
    ruth.companion
        .set_volunteers_only(&volunteers, true)
        .unwrap();
    ruth.admit(&volunteers, &mut jo, Role::Volunteer);
    let march = ruth.create_group("March mothers");
    ruth.admit(&march, &mut amina, Role::Mother);
    ruth.admit(&march, &mut bea, Role::Mother);
    ruth.sync();
    jo.sync();

    // Only a coordinator confirms, only a volunteer is matched, only a mother is matched for.
    let why = "MATCH-REASON both speak Somali; both first babies";
    assert!(matches!(
        jo.companion
            .confirm_match(&volunteers, "Ruth", &march, "Amina", why),
        Err(Error::NotAllowed { .. })
    ));
    let err = ruth
        .companion
        .confirm_match(&march, "Bea", &march, "Amina", why)
        .unwrap_err();
    assert_eq!(input_field(err), "volunteer");
    let err = ruth
        .companion
        .confirm_match(&volunteers, "Jo", &march, "Nobody", why)
        .unwrap_err();
    assert_eq!(input_field(err), "member");
    let matched = ruth
        .companion
        .confirm_match(&volunteers, "Jo", &march, "Amina", why)
        .unwrap()
        .to_hex();

    // Passing it on before Jo answers names the wait.
    let err = ruth
        .companion
        .introduce(&volunteers, &matched, "")
        .unwrap_err();
    assert!(err.to_string().contains("not answered"), "{err}");

    ruth.sync();
    jo.sync();
    let offers = jo.companion.offers(&volunteers).unwrap();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].kind, "match");
    assert_eq!(offers[0].mother.as_deref(), Some("Amina"));
    assert!(offers[0].text.contains("Somali"));

    // Off duty she cannot take a mother on, and nothing is started.
    jo.companion.set_volunteer_duty(false).unwrap();
    let err = jo
        .companion
        .answer_offer(&volunteers, &matched, true)
        .unwrap_err();
    assert_eq!(input_field(err), "duty");
    assert_eq!(
        jo.companion.groups().unwrap().len(),
        1,
        "no conversation started"
    );
    jo.companion.set_volunteer_duty(true).unwrap();
    let answered = jo
        .companion
        .answer_offer(&volunteers, &matched, true)
        .unwrap();
    let convo = answered.conversation.expect("a conversation for Amina");
    assert!(convo.conversation);
    assert_eq!(convo.name, "Jo and Amina");
    jo.sync();
    ruth.sync();

    // The coordinator sees the acceptance and passes the invite on, once.
    let mine = ruth.companion.offers(&volunteers).unwrap();
    assert_eq!((mine[0].accepted, mine[0].introduced), (Some(true), false));
    ruth.companion.introduce(&volunteers, &matched, "").unwrap();
    let err = ruth
        .companion
        .introduce(&volunteers, &matched, "")
        .unwrap_err();
    assert!(err.to_string().contains("already"), "{err}");
    assert!(ruth.companion.offers(&volunteers).unwrap()[0].introduced);
    ruth.sync();

    // Amina (and only Amina) is offered it; accepting hands her the invite to join.
    amina.sync();
    bea.sync();
    assert!(bea.companion.offers(&march).unwrap().is_empty());
    let offer = amina.companion.offers(&march).unwrap();
    assert_eq!(offer.len(), 1);
    assert_eq!(offer[0].kind, "one_to_one");
    assert!(offer[0].joins_conversation);
    assert!(offer[0].text.contains("Jo"), "{}", offer[0].text);
    let answered = amina
        .companion
        .answer_offer(&march, &offer[0].id, true)
        .unwrap();
    let code = answered.invite.expect("the invite to join");
    let mut t = amina.transport();
    amina.companion.join(&code, &mut t).unwrap();
    jo.sync();
    amina.sync();

    // They talk, and Jo plans her check-ins in it.
    jo.send(
        &convo.id,
        "Hello Amina, I'm Jo. How are you finding things?",
    );
    jo.sync();
    amina.sync();
    assert!(amina
        .texts(&convo.id)
        .iter()
        .any(|(_, t)| t.contains("I'm Jo")));
    jo.companion
        .plan_checkins(&convo.id, &weekly("thursday"))
        .unwrap();

    // Nobody else learns of the match: not Bea, not the relay.
    bea.sync();
    assert!(bea
        .companion
        .groups()
        .unwrap()
        .iter()
        .all(|g| g.id != convo.id));
    let files = all_bytes_of(dir.path());
    assert!(
        !contains(&files, "MATCH-REASON"),
        "the match is readable on the relay"
    );
}
