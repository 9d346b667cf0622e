//! Sync scenarios over a real relay on loopback: several devices, invites, admission, chat
//! both ways, removal, phone-to-phone.

use hearth_core::{DeliveryState, Role};
use hearth_tests::devices::Device;

fn relay() -> (tempfile::TempDir, hearth_relay::RelayHandle) {
    let dir = tempfile::tempdir().unwrap();
    let handle = hearth_relay::spawn_for_tests(&dir.path().join("relay.db"));
    (dir, handle)
}

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
    // Everything was acknowledged: nothing pending anywhere.
    for d in [&ruth, &amina, &bea] {
        for item in d.timeline(&g) {
            assert_eq!(item.state, DeliveryState::Sent, "{} sees {item:?}", d.name);
        }
    }
}
