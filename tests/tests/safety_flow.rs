//! The safety pathway on members' and moderators' devices, through a real relay: a worrying
//! draft gets a supportive word and the help card (nothing sent unless she chooses); received
//! messages the detector flags land in the moderators' queue (never telling the author, never
//! hiding anything) and moderators coordinate on them; each member's own content filters; the
//! banner while nobody is on duty.

use hearth_core::filters::FilterMode;
use hearth_core::Role;
use hearth_safety::detect::Level;
use hearth_safety::escalation::Severity;
use hearth_safety::helpcard::Situation;
use hearth_tests::devices::{relay, Device};

#[test]
fn a_worrying_draft_gets_help_and_nothing_is_sent() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let g = ruth.create_group("Due in June");
    ruth.admit(&g, &mut amina, Role::Mother);
    amina.sync();

    let calm = amina
        .companion
        .check_draft(&g, "Does anyone have a good pram recommendation?")
        .unwrap();
    assert_eq!(calm.level, Level::None);
    assert!(calm.help.is_none() && calm.severity.is_none());

    // Before she chooses a region, the default card: the emergency number and how numbers
    // differ between countries.
    let first = amina
        .companion
        .check_draft(&g, "I don't want to be alive anymore")
        .unwrap();
    let help = first.help.expect("urgent drafts get the help card");
    assert_eq!(
        (help.region.as_str(), help.emergency.as_str()),
        ("default", "112")
    );
    assert!(help.note.is_some());

    amina.companion.set_help_region("GB").unwrap();
    let dark = amina
        .companion
        .check_draft(
            &g,
            "I keep thinking everyone would be better off without me",
        )
        .unwrap();
    assert_eq!(dark.level, Level::Urgent, "{dark:?}");
    assert_eq!(dark.severity, Some(Severity::Urgent));
    assert!(dark.can_alert, "Ruth moderates this group");
    let help = dark.help.expect("urgent drafts get the help card");
    assert_eq!(help.situation, Situation::SelfHarm);
    assert!(!help.emergency.is_empty() && !help.lines.is_empty());
    assert!(!help.message.is_empty());

    let bleed = amina
        .companion
        .check_draft(
            &g,
            "I'm 30 weeks and bleeding heavily, soaking a pad an hour",
        )
        .unwrap();
    let help = bleed.help.clone().expect("red flags get the help card");
    assert_eq!(help.situation, Situation::RedFlag, "{bleed:?}");
    assert_eq!(help.region, "GB");
    assert!(help.maternity_triage.is_some());

    // Checking sent nothing: no note, no message, nothing in Ruth's queue.
    let report = amina.sync();
    assert_eq!(report.notes_received, 0);
    assert!(amina.timeline(&g).is_empty());
    ruth.sync();
    assert!(ruth.companion.queue(true).unwrap().is_empty());

    // A group whose only moderator is herself cannot alert anyone else.
    let alone = ruth
        .companion
        .check_draft(&g, "I don't want to be alive anymore")
        .unwrap();
    assert!(!alone.can_alert);
}

#[test]
fn flagged_messages_reach_every_moderators_queue_and_never_their_author() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut bea = Device::new("Bea", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in July");
    ruth.admit(&g, &mut bea, Role::Moderator);
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut joy, Role::Mother);
    for d in [&mut bea, &mut amina, &mut joy] {
        d.sync();
    }
    amina.send(&g, "Anyone else find the hospital bag list overwhelming?");
    amina.send(
        &g,
        "honestly I've started thinking the baby would be better off without me",
    );
    amina.send(&g, "this heartburn is killing me lol");
    amina.sync();
    joy.sync();

    for m in [&mut ruth, &mut bea] {
        let r = m.sync();
        assert_eq!(r.flagged_for_review, 1, "{}: {r:?}", m.name);
        let q = m.companion.queue(false).unwrap();
        assert_eq!(q.len(), 1, "{}: {q:?}", m.name);
        let item = &q[0];
        assert_eq!(
            (item.kind, item.state, item.severity),
            ("detected", "open", 4)
        );
        assert!(item.reason.contains("self_harm"), "{item:?}");
        assert_eq!(item.context.len(), 1);
        assert_eq!(item.context[0].author, "Amina");
        assert!(item.context[0].text.contains("better off without me"));
        // Nothing was hidden: the message is there for everyone.
        assert!(m.timeline(&g).iter().all(|i| !i.hidden));
    }
    let ids: Vec<String> = [&ruth, &bea]
        .iter()
        .map(|m| m.companion.queue(false).unwrap()[0].id.clone())
        .collect();
    assert_eq!(ids[0], ids[1], "the same item on every moderator's device");

    // Members' devices keep no queue and the message is plain in their timeline.
    assert!(joy.companion.queue(true).unwrap().is_empty());
    assert!(joy
        .timeline(&g)
        .iter()
        .all(|i| !i.hidden && i.filter.is_none()));

    // Bea takes it in hand, then resolves it; Ruth sees both steps. Amina hears nothing.
    bea.companion.acknowledge(&ids[0][..8]).unwrap();
    bea.sync();
    ruth.sync();
    assert_eq!(
        ruth.companion.queue(false).unwrap()[0].state,
        "acknowledged"
    );
    bea.companion
        .resolve(&ids[0], "called her; she has support tonight")
        .unwrap();
    bea.sync();
    ruth.sync();
    assert!(ruth.companion.queue(false).unwrap().is_empty());
    let done = ruth.companion.queue(true).unwrap();
    assert_eq!(
        (done[0].state, done[0].outcome.as_str()),
        ("resolved", "called her; she has support tonight")
    );
    let r = amina.sync();
    assert_eq!(r.notes_received, 0, "the author is never told: {r:?}");
    assert!(amina.companion.my_reports(&g).unwrap().is_empty());

    // A reaction or a later sync does not reopen or duplicate it.
    amina.send(&g, "sorry, ignore me, long night");
    amina.sync();
    ruth.sync();
    assert_eq!(ruth.companion.queue(true).unwrap().len(), 1);
}

#[test]
fn content_filters_are_each_members_own_choice() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in August");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut joy, Role::Mother);
    amina.sync();
    joy.sync();

    // Nothing is filtered until she chooses.
    assert_eq!(
        amina.companion.content_filters().unwrap(),
        Default::default()
    );
    amina
        .companion
        .set_content_filter("loss", FilterMode::Hide)
        .unwrap();
    amina
        .companion
        .set_content_filter("distressing", FilterMode::Blur)
        .unwrap();
    let err = amina
        .companion
        .set_content_filter("sad things", FilterMode::Blur)
        .unwrap_err();
    assert!(err.to_string().contains("topic"), "{err}");

    joy.send(&g, "We lost our first baby to a miscarriage at 10 weeks");
    joy.send(&g, "I cry every day and feel so alone");
    joy.send(&g, "What's everyone's favourite baby carrier?");
    joy.sync();
    amina.send(
        &g,
        "After our miscarriage last year I was so scared this time",
    );
    amina.sync();
    ruth.sync();

    let items = amina.timeline(&g);
    let by_text = |t: &str| items.iter().find(|i| i.text.starts_with(t)).unwrap();
    let loss = by_text("We lost")
        .filter
        .clone()
        .expect("loss is hidden for her");
    assert_eq!(loss.mode, FilterMode::Hide);
    assert!(loss.reasons.contains(&"loss".to_string()), "{loss:?}");
    let low = by_text("I cry")
        .filter
        .clone()
        .expect("distressing is blurred");
    assert_eq!(low.mode, FilterMode::Blur);
    assert!(low.reasons.contains(&"distressing".to_string()), "{low:?}");
    assert!(by_text("What's").filter.is_none());
    // Her own messages are never filtered for her, and the text is always there to reveal.
    assert!(by_text("After our").filter.is_none());
    assert!(by_text("We lost").text.contains("miscarriage"));

    // Joy and Ruth chose nothing: they see every message plainly.
    for d in [&joy, &ruth] {
        assert!(
            d.timeline(&g).iter().all(|i| i.filter.is_none()),
            "{}",
            d.name
        );
    }

    // An author's content warning counts: a warning that names loss falls under the filter.
    joy.companion
        .send_with_warning(&g, "Our scan on Monday brought bad news.", "pregnancy loss")
        .unwrap();
    joy.sync();
    amina.sync();
    let items = amina.timeline(&g);
    let warned = items
        .iter()
        .find(|i| i.text.starts_with("Our scan"))
        .unwrap();
    assert_eq!(
        warned.filter.as_ref().map(|f| f.mode),
        Some(FilterMode::Hide),
        "{warned:?}"
    );

    // Turning a filter back to show clears it.
    amina
        .companion
        .set_content_filter("loss", FilterMode::Show)
        .unwrap();
    let f = amina.companion.content_filters().unwrap();
    assert!(f.topics.is_empty() && f.distressing == FilterMode::Blur);
}

#[test]
fn with_nobody_on_duty_the_group_shows_where_to_get_help_now() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let g = ruth.create_group("Due in September");
    ruth.admit(&g, &mut amina, Role::Mother);
    amina.sync();

    amina.companion.set_help_region("ES").unwrap();
    let v = amina.companion.moderation(&g).unwrap();
    assert!(v.nobody_on_duty);
    let banner = v.help_now.expect("a banner while nobody is on duty");
    assert_eq!(
        (banner.region.as_str(), banner.emergency.as_str()),
        ("ES", "112")
    );
    assert!(!banner.lines.is_empty() && banner.maternity_triage.is_some());

    ruth.companion.set_duty(&g, true).unwrap();
    ruth.sync();
    amina.sync();
    let v = amina.companion.moderation(&g).unwrap();
    assert_eq!(v.on_duty, vec!["Ruth".to_string()]);
    assert!(v.help_now.is_none());
}

#[test]
fn a_programme_installs_its_own_help_cards() {
    let (_dir, relay) = relay();
    let mut amina = Device::new("Amina", Role::Mother, &relay.url());
    assert!(amina.companion.help_cards().unwrap().is_sample());
    amina.companion.set_help_region("GB").unwrap();

    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../safety/data/helpcards.json"
    ))
    .unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&builtin).unwrap();
    file["sample"] = false.into();
    file.as_object_mut().unwrap().remove("notice");
    file["cards"][0]["crisis"][0]["number"] = "0800 000 0000".into();
    let ours = file.to_string();

    // A bad file changes nothing and names what is wrong.
    let err = amina
        .companion
        .install_help_cards(r#"{"cards": []}"#)
        .unwrap_err();
    assert!(err.to_string().contains("help cards"), "{err}");
    let mut no_gb = file.clone();
    no_gb["cards"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["region"] != "GB");
    let err = amina
        .companion
        .install_help_cards(&no_gb.to_string())
        .unwrap_err();
    assert!(err.to_string().contains("GB"), "{err}");
    assert!(amina.companion.help_cards().unwrap().is_sample());

    amina.companion.install_help_cards(&ours).unwrap();
    let card = amina.companion.help_card().unwrap();
    assert_eq!(card.crisis[0].number, "0800 000 0000");
    amina.restart();
    let dark = amina.companion.help_now(Situation::SelfHarm).unwrap();
    assert_eq!(dark.lines[0].number, "0800 000 0000");
    assert!(
        dark.notice.is_none(),
        "the programme's own file is not a sample"
    );
}
