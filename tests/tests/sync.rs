//! Sync scenarios over a real relay on loopback: several devices, invites, admission, chat
//! both ways, removal, phone-to-phone.

use hearth_core::{DeliveryState, Role, Transport};
use hearth_protocol::api::SYNC_PATH;
use hearth_tests::devices::{relay, Device};

#[test]
fn invite_join_admit_and_chat_both_ways_with_identical_timelines() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut bea = Device::new("Bea", Role::Mother, &url);
    let g = ruth.create_group("Due in March");
    ruth.send(&g, "Welcome, everyone");
    ruth.sync();
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut bea, Role::Mother);

    // Amina writes before her device has heard that Bea was admitted: her message belongs to
    // the chapter before Bea's, sealed under a key Bea never had.
    amina.send(&g, "Hello from Amina");
    bea.send(&g, "Hi, I'm Bea");
    amina.sync();
    bea.sync();
    ruth.send(&g, "Lovely to meet you both");
    for _ in 0..2 {
        for d in [&mut ruth, &mut amina, &mut bea] {
            d.sync();
        }
    }
    let want = ruth.texts(&g);
    assert!(want.iter().any(|(_, t)| t == "Hi, I'm Bea"), "{want:?}");
    assert!(
        want.iter().any(|(_, t)| t == "Hello from Amina"),
        "{want:?}"
    );
    // Newcomers see history from their admission on: not Ruth's welcome before it.
    let amina_sees = amina.texts(&g);
    assert!(!amina_sees.iter().any(|(_, t)| t == "Welcome, everyone"));
    let after_welcome: Vec<_> = want.iter().skip(1).cloned().collect();
    assert_eq!(amina_sees, after_welcome, "same messages in the same order");
    let bea_sees = bea.texts(&g);
    assert_eq!(
        bea_sees,
        after_welcome[1..],
        "Bea sees from her admission on"
    );
    amina.send(&g, "Now that I know you're here, Bea: welcome");
    amina.sync();
    bea.sync();
    ruth.sync();
    let last = (
        "Amina".to_string(),
        "Now that I know you're here, Bea: welcome".to_string(),
    );
    for d in [&ruth, &amina, &bea] {
        assert_eq!(d.texts(&g).last(), Some(&last), "{}", d.name);
    }
    // Names travel inside the encrypted chapters.
    assert!(amina_sees
        .iter()
        .any(|(who, t)| who == "Bea" && t == "Hi, I'm Bea"));
    let members = amina.companion.members(&g).unwrap();
    let names: Vec<_> = members.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(members.members.len(), 3, "{names:?}");
    assert!(
        names.contains(&"Ruth") && names.contains(&"Bea"),
        "{names:?}"
    );
    // After a restart every chapter loads back from what was stored (received batches whose
    // changes depend on other chunks included), and the conversation goes on.
    for d in [&mut ruth, &mut amina, &mut bea] {
        let before = d.texts(&g);
        d.restart();
        assert_eq!(d.texts(&g), before);
    }
    ruth.send(&g, "Still here after a restart");
    amina.send(&g, "Me too");
    for _ in 0..2 {
        for d in [&mut ruth, &mut amina, &mut bea] {
            d.sync();
        }
    }
    assert_eq!(ruth.texts(&g)[1..], amina.texts(&g)[..]);
    assert_eq!(bea.texts(&g).last().unwrap().1, "Me too");
    // Everything was acknowledged: nothing pending anywhere.
    for d in [&ruth, &amina, &bea] {
        for item in d.timeline(&g) {
            assert_eq!(item.state, DeliveryState::Sent, "{} sees {item:?}", d.name);
        }
    }
}

#[test]
fn phone_to_phone_with_no_relay_then_forwarded_to_the_relay() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut bea = Device::new("Bea", Role::Mother, &url);
    let g = ruth.create_group("Clinic Tuesdays");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut bea, Role::Mother);
    for d in [&mut ruth, &mut amina, &mut bea] {
        d.sync();
    }
    // In the clinic, no signal: Amina and Bea swap bytes directly (Bluetooth, later).
    amina.send(&g, "Did anyone else get the glucose test today?");
    amina.send(&g, "It was fine, just slow");
    bea.send(&g, "Yes! Two hours of waiting");
    let from_amina = amina.companion.export_bundle(&g).unwrap();
    let from_bea = bea.companion.export_bundle(&g).unwrap();
    let got = bea.companion.import_bundle(&from_amina).unwrap();
    assert_eq!(got.envelopes_accepted, 1, "{got:?}");
    amina.companion.import_bundle(&from_bea).unwrap();
    // Importing the same bytes again changes nothing.
    bea.companion.import_bundle(&from_amina).unwrap();
    assert_eq!(amina.texts(&g), bea.texts(&g));
    assert_eq!(amina.texts(&g).len(), 3);
    // Amina's messages are still pending on her phone: no relay has them yet.
    assert!(amina
        .timeline(&g)
        .iter()
        .filter(|i| i.is_mine)
        .all(|i| i.state == DeliveryState::Pending));

    // Bea gets signal first and forwards Amina's envelopes along with her own.
    bea.sync();
    ruth.sync();
    assert_eq!(
        ruth.texts(&g),
        amina.texts(&g),
        "Ruth has Amina's words before Amina synced"
    );
    // Amina syncs later: the relay already holds her envelopes, so they are acknowledged as
    // duplicates and nothing appears twice.
    amina.sync();
    assert!(amina
        .timeline(&g)
        .iter()
        .all(|i| i.state == DeliveryState::Sent));
    for d in [&mut ruth, &mut amina, &mut bea] {
        d.sync();
    }
    assert_eq!(ruth.texts(&g).len(), 3);
    assert_eq!(ruth.texts(&g), bea.texts(&g));
    assert_eq!(ruth.texts(&g), amina.texts(&g));
}

#[test]
fn two_moderators_changing_membership_offline_resolve_the_same_way_everywhere() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut mary = Device::new("Mary", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut bea = Device::new("Bea", Role::Mother, &url);
    let mut cleo = Device::new("Cleo", Role::Mother, &url);
    let g = ruth.create_group("Due in October");
    ruth.admit(&g, &mut mary, Role::Moderator);
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut bea, Role::Mother);
    for d in [&mut ruth, &mut mary, &mut amina, &mut bea] {
        d.sync();
    }
    // Both moderators act on the same log head without hearing from each other: Ruth removes
    // Bea, Mary invites Cleo. Each operation starts a new key epoch from the same one.
    ruth.companion.remove(&g, "Bea").unwrap();
    let code = mary
        .companion
        .invite(&g, Role::Mother, 3_600_000)
        .unwrap()
        .code;
    // Ruth's device learns Bea's newest seq, then builds the removal on the head it knows...
    let mut t = ruth.transport();
    let mut report = hearth_core::SyncReport::default();
    let asking = ruth.companion.prepare_sync().unwrap();
    let answer = t.post(SYNC_PATH, &asking.body).unwrap();
    ruth.companion
        .apply_sync_response(&asking, &answer, &mut report)
        .unwrap();
    let removal = ruth.companion.prepare_sync().unwrap();
    // ...but Mary's invite reaches the relay first and takes that place in the log.
    mary.sync();
    let answer = t.post(SYNC_PATH, &removal.body).unwrap();
    let applied = ruth
        .companion
        .apply_sync_response(&removal, &answer, &mut report)
        .unwrap();
    assert!(applied.again, "a lost race asks for another round");
    assert_eq!(report.ops_sent, 0, "the removal lost the race: {report:?}");
    assert!(report.notes.is_empty(), "{report:?}");
    cleo.companion.join(&code, &mut cleo.transport()).unwrap();
    ruth.sync(); // the removal, rebuilt on Mary's invite, goes through
    mary.sync(); // admits Cleo on top of the removal
    for _ in 0..2 {
        for d in [&mut ruth, &mut mary, &mut amina, &mut cleo] {
            d.sync();
        }
    }
    let view = |d: &Device| {
        let mut m: Vec<(String, String)> = d
            .companion
            .members(&g)
            .unwrap()
            .members
            .into_iter()
            .map(|m| (m.name, m.role.to_string()))
            .collect();
        m.sort();
        m
    };
    let want = view(&ruth);
    let names: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Amina", "Cleo", "Mary", "Ruth"], "{want:?}");
    for d in [&mary, &amina, &cleo] {
        assert_eq!(view(d), want, "{} sees other members", d.name);
    }
    // And everyone can talk under the final epoch.
    cleo.send(&g, "Hello, I'm new");
    cleo.sync();
    for d in [&mut ruth, &mut mary, &mut amina] {
        d.sync();
        assert_eq!(
            d.texts(&g).last().unwrap().1,
            "Hello, I'm new",
            "{}",
            d.name
        );
    }
}

#[test]
fn a_change_that_arrives_before_the_one_it_answers_waits_for_it() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut bea = Device::new("Bea", Role::Mother, &url);
    let g = ruth.create_group("Night feeds");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut bea, Role::Mother);
    for d in [&mut ruth, &mut amina, &mut bea] {
        d.sync();
    }
    // Amina asks; Bea gets the question phone to phone and answers. Ruth receives only Bea's
    // answer (phone to phone), which depends on a question she has not seen: a gap.
    amina.send(&g, "Is 3am feeding every night normal?");
    bea.companion
        .import_bundle(&amina.companion.export_bundle(&g).unwrap())
        .unwrap();
    bea.send(&g, "Completely normal at six weeks");
    let from_bea = bea.companion.export_bundle(&g).unwrap();
    let got = ruth.companion.import_bundle(&from_bea).unwrap();
    assert_eq!(got.envelopes_accepted, 1, "{got:?}");
    assert!(
        !ruth
            .texts(&g)
            .iter()
            .any(|(_, t)| t.starts_with("Completely")),
        "an answer is not shown before what it answers"
    );
    // The waiting change survives a restart, and the question arrives later from the relay.
    ruth.restart();
    amina.sync();
    ruth.sync();
    let texts: Vec<String> = ruth.texts(&g).into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        texts,
        [
            "Is 3am feeding every night normal?",
            "Completely normal at six weeks"
        ]
    );
    for d in [&mut amina, &mut bea, &mut ruth] {
        d.sync();
    }
    assert_eq!(amina.texts(&g), ruth.texts(&g));
    assert_eq!(bea.texts(&g), ruth.texts(&g));
}
