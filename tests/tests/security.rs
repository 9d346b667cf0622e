//! Security scenarios, tested as an attacker would try them: with her own keys and bytes, not
//! by trusting the relay's refusal.

use hearth_core::sync::payload::open_envelope_body;
use hearth_core::{MembersView, Role};
use hearth_protocol::api::{GroupSync, SyncRequest, SyncResponse, SYNC_PATH};
use hearth_protocol::envelope::Envelope;
use hearth_protocol::wire;
use hearth_tests::devices::{relay, relay_envelopes, Device};

fn names(v: &MembersView) -> Vec<String> {
    v.members.iter().map(|m| m.name.clone()).collect()
}

#[test]
fn a_removed_member_cannot_read_what_comes_after_even_with_her_keys() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut eve = Device::new("Eve", Role::Mother, &url);
    let g = ruth.create_group("Due in June");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut eve, Role::Mother);
    amina.sync();
    eve.send(&g, "hello, I'm Eve");
    eve.sync();
    ruth.sync();
    assert_eq!(names(&ruth.companion.members(&g).unwrap()).len(), 3);

    ruth.companion.remove(&g, "eve").unwrap();
    let report = ruth.sync();
    assert!(report.notes.is_empty(), "{report:?}");
    let after = ruth.companion.members(&g).unwrap();
    assert!(!names(&after).contains(&"Eve".to_string()), "{after:?}");
    amina.sync();
    assert_eq!(amina.companion.members(&g).unwrap().members.len(), 2);

    // Eve, offline meanwhile, writes once more; the relay refuses her.
    eve.send(&g, "EVE-AFTER-REMOVAL");
    let r = eve.sync();
    assert!(r.notes.iter().any(|n| n.contains("removed you")), "{r:?}");
    // Her device learns it from the log itself (signed by Ruth), not from the relay's word.
    let seen_by_eve = eve.companion.members(&g).unwrap();
    assert_eq!(seen_by_eve.standing, "removed", "{seen_by_eve:?}");
    assert!(
        eve.companion.send(&g, "one more").is_err(),
        "a removed member cannot post"
    );
    // Messages after the removal.
    amina.send(&g, "SECRET-AFTER-REMOVAL from Amina");
    amina.sync();
    ruth.sync();
    assert!(ruth
        .texts(&g)
        .iter()
        .any(|(_, t)| t == "SECRET-AFTER-REMOVAL from Amina"));
    assert!(!ruth.texts(&g).iter().any(|(_, t)| t == "EVE-AFTER-REMOVAL"));

    // Now Eve tries with everything her phone holds: every epoch key she was ever given,
    // against every envelope in the relay's own file.
    let eve_keys = eve.into_epoch_keys(&g);
    let removal_epoch = *eve_keys.keys().max().unwrap() + 1;
    let envelopes = relay_envelopes(&dir.path().join("relay.db"));
    let mut tried = 0;
    for (epoch, env) in &envelopes {
        let h = env.open().unwrap();
        for key in eve_keys.values() {
            let key = hearth_core::membership::EpochKey(*key);
            let opened = open_envelope_body(
                &h.group,
                h.epoch,
                &h.author,
                h.seq,
                &h.chapters,
                &env.body,
                |_| Some(&key),
            );
            if *epoch >= removal_epoch && h.chapters.iter().all(|c| *c >= removal_epoch) {
                tried += 1;
                assert!(
                    opened.is_err(),
                    "Eve opened envelope {} of epoch {epoch}",
                    h.seq
                );
            }
        }
    }
    assert!(tried > 0, "there were envelopes after the removal to try");
}

#[test]
fn a_non_member_can_neither_read_nor_upload_and_forged_bytes_are_refused() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let g = ruth.create_group("Due in July");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.send(&g, "only for members");
    ruth.sync();

    // Mallory knows the group id (say, from a screenshot) and asks for it with her own key.
    let mallory = hearth_protocol::ids::KeyPairSigner::from_seed(&[66; 32]);
    use hearth_protocol::ids::Signer;
    let ask = |groups: Vec<GroupSync>| {
        let req = SyncRequest {
            v: 1,
            device: mallory.device(),
            at: 0,
            groups,
        };
        let body = wire::encode(&req.sign(&mallory));
        let resp = ureq_post(&url, &body);
        wire::decode::<SyncResponse>("response", &resp).unwrap()
    };
    let r = ask(vec![GroupSync {
        group: g,
        ..Default::default()
    }]);
    let reply = &r.groups[0];
    assert!(reply.refused.is_some() && reply.envelopes.is_empty() && reply.log.is_empty());

    // She replays one of Ruth's envelopes as her own upload, and forges one in Amina's name.
    let ruth_envelope: Envelope = relay_envelopes(&_dir.path().join("relay.db"))
        .into_iter()
        .map(|(_, e)| e)
        .next()
        .unwrap();
    let r = ask(vec![GroupSync {
        group: g,
        uploads: vec![ruth_envelope.clone()],
        ..Default::default()
    }]);
    assert!(r.groups[0].refused.is_some(), "a non-member cannot upload");

    // A member's device refuses an envelope whose signature does not verify, even if a relay
    // (or a phone) hands it over: tamper with the body of Ruth's envelope.
    let mut forged = ruth_envelope.clone();
    let last = forged.body.len() - 1;
    forged.body[last] ^= 1;
    assert!(forged.open().is_err());
    amina.sync();
    let before = amina.texts(&g);
    assert_eq!(before.len(), 1);
    let report = amina
        .companion
        .import_bundle(&hearth_tests::devices::bundle_of(&g, vec![forged]))
        .unwrap();
    assert_eq!(report.envelopes_accepted, 0);
    assert!(
        report.notes.iter().any(|n| n.contains("refused")),
        "{report:?}"
    );
    // The same with the header re-signed by Mallory but still naming Ruth as author.
    let mut resigned = ruth_envelope.clone();
    resigned.header = hearth_protocol::ids::Signed::new(
        &mallory,
        hearth_protocol::ids::Domain::Envelope,
        resigned.header.bytes.clone(),
    );
    let report = amina
        .companion
        .import_bundle(&hearth_tests::devices::bundle_of(&g, vec![resigned]))
        .unwrap();
    assert_eq!(report.envelopes_accepted, 0, "{report:?}");
    amina.sync();
    assert_eq!(amina.texts(&g), before);
}

fn ureq_post(url: &str, body: &[u8]) -> Vec<u8> {
    let mut t = hearth_core::HttpTransport::new(url);
    use hearth_core::Transport;
    t.post(SYNC_PATH, body).expect("relay answers")
}

#[test]
fn a_replayed_envelope_changes_nothing() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let g = ruth.create_group("Due in August");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.send(&g, "once");
    ruth.sync();
    amina.sync();
    let before = amina.texts(&g);
    // Amina's own device forwards every envelope again, as a phone-to-phone peer might.
    for (_, env) in relay_envelopes(&dir.path().join("relay.db")) {
        let bundle = hearth_tests::devices::bundle_of(&g, vec![env]);
        amina.companion.import_bundle(&bundle).unwrap();
    }
    amina.sync();
    assert_eq!(amina.texts(&g), before);
    ruth.sync();
    assert_eq!(ruth.texts(&g).len(), 1);
}

#[test]
fn the_relay_files_hold_no_message_text_pseudonym_or_group_name() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Midwife Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina Tesfaye", Role::Mother, &url);
    let g = ruth.create_group("Positive mothers circle");
    ruth.admit(&g, &mut amina, Role::Mother);
    let secrets = [
        "my viral load came back undetectable",
        "I have not told my husband about the miscarriage",
    ];
    amina.send(&g, secrets[0]);
    ruth.send(&g, secrets[1]);
    for _ in 0..2 {
        amina.sync();
        ruth.sync();
    }
    // Edits and a phone-to-phone forward reach the relay too.
    let bundle = amina.companion.export_bundle(&g).unwrap();
    ruth.companion.import_bundle(&bundle).unwrap();
    ruth.sync();
    assert_eq!(amina.texts(&g).len(), 2);
    drop(relay); // graceful stop: everything is in the files
    let needles = [
        secrets[0],
        secrets[1],
        "Midwife Ruth",
        "Amina Tesfaye",
        "Positive mothers circle",
    ];
    let mut scanned = 0;
    let mut sqlite_headers = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        // The scan does see what is in clear: SQLite's own header.
        sqlite_headers += usize::from(bytes.starts_with(b"SQLite format 3"));
        for needle in needles {
            let found = bytes
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
            assert!(!found, "{needle:?} is readable in {}", path.display());
        }
    }
    assert!(
        scanned > 10_000,
        "the relay's files were scanned ({scanned} bytes)"
    );
    assert_eq!(sqlite_headers, 1, "the relay's database was among them");
}
