//! One-to-one conversations between a volunteer and a mother: a closed group of exactly two,
//! end-to-end encrypted with the same machinery as groups. Nothing is readable on the relay,
//! only the two can read, and a third person can never join.

use hearth_core::{Error, Role};
use hearth_tests::devices::{all_bytes_of, contains, relay, Device};

#[test]
fn only_the_two_can_read_a_conversation_and_a_third_can_never_join() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut jo = Device::new("Jo", Role::Volunteer, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);

    // Mothers do not start conversations; volunteers do.
    let err = amina
        .companion
        .start_conversation("Amina and Jo")
        .unwrap_err();
    assert!(matches!(err, Error::NotAllowed { .. }), "{err}");
    let c = jo.companion.start_conversation("Jo and Amina").unwrap();
    assert!(c.conversation && c.capacity == 2);
    jo.sync();
    jo.admit(&c.id, &mut amina, Role::Mother);
    amina.sync();
    assert!(amina.companion.groups().unwrap()[0].conversation);

    jo.send(&c.id, "CONVO-SECRET-1 how did the appointment go?");
    jo.sync();
    amina.sync();
    amina.send(&c.id, "CONVO-SECRET-2 better than I feared");
    amina.sync();
    jo.sync();
    for d in [&jo, &amina] {
        let texts: Vec<String> = d.timeline(&c.id).into_iter().map(|i| i.text).collect();
        assert_eq!(
            texts,
            [
                "CONVO-SECRET-1 how did the appointment go?",
                "CONVO-SECRET-2 better than I feared"
            ],
            "{}",
            d.name
        );
    }

    // The relay holds only ciphertext.
    let files = all_bytes_of(dir.path());
    assert!(!files.is_empty());
    for secret in [
        "CONVO-SECRET-1",
        "CONVO-SECRET-2",
        "appointment",
        "Jo and Amina",
    ] {
        assert!(
            !contains(&files, secret),
            "{secret:?} is readable on the relay"
        );
    }

    // A third person: the relay refuses her join, and she never holds a key or a message.
    let code = jo
        .companion
        .invite(&c.id, Role::Mother, 3_600_000)
        .map(|i| i.code);
    let code = code.unwrap();
    jo.sync();
    let mut t = joy.transport();
    let joined = joy.companion.join(&code, &mut t);
    assert!(
        joined.is_err(),
        "a third person joined a conversation of two"
    );
    let err = joined.unwrap_err().to_string();
    assert!(err.contains("full"), "{err}");
    jo.sync();
    joy.sync();
    assert!(joy.companion.groups().unwrap().is_empty());
    assert_eq!(jo.companion.groups().unwrap()[0].member_count, 2);
}
