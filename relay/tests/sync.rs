//! Envelopes through the relay over real HTTP: storing, reading with cursors and pages, and the
//! refusals that keep every author's chain exact.

mod common;

use common::*;
use hearth_protocol::api::{Code, GroupSync};
use hearth_protocol::ids::{Domain, Signed, Signer};
use hearth_protocol::{GroupId, Role};
use hearth_relay::{spawn, spawn_for_tests, Config};

#[test]
fn health_answers_with_status_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let (status, body) = Client::new(&relay.url()).get("/health").unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_member_reads_what_another_wrote_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn(Config {
        // About six 400-byte envelopes per response.
        reply_envelope_bytes: 4000,
        ..Config::for_tests(&dir.path().join("relay.db"))
    })
    .unwrap();
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([1; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    assert_eq!(log.epoch(), 2);

    let mut chain = Author::new(&ruth, group);
    let sent: Vec<_> = (0..20).map(|_| chain.next(2, &[2], 400)).collect();
    for batch in sent.chunks(5) {
        let reply = client.sync1(
            &ruth,
            GroupSync {
                uploads: batch.to_vec(),
                ..ask(group, log.len(), 0)
            },
        );
        assert_eq!(codes(&reply.upload_outcomes), ["stored"; 5]);
    }
    let reply = client.sync1(&ruth, ask(group, log.len(), 20));
    assert_eq!(
        reply.stored_seq, 20,
        "the relay says how far it holds her chain"
    );
    assert!(reply.envelopes.is_empty());

    // Amina starts from nothing: the whole log, then the envelopes in pages.
    let mut cursor = 0;
    let mut got = Vec::new();
    let mut pages = 0;
    let mut log_len = 0;
    loop {
        let reply = client.sync1(&amina, ask(group, log_len, cursor));
        assert!(reply.refused.is_none(), "{:?}", reply.refused);
        if log_len == 0 {
            assert_eq!(reply.log, log.ops, "she receives the log byte for byte");
        } else {
            assert!(reply.log.is_empty());
        }
        log_len = log.len();
        assert!(reply.cursor > cursor, "every page moves the cursor");
        cursor = reply.cursor;
        pages += 1;
        got.extend(reply.envelopes);
        if !reply.more {
            break;
        }
        assert!(pages < 20, "paging never ends");
    }
    assert!(
        pages >= 3,
        "20 envelopes of ~600 bytes take several 4 KB pages; got {pages}"
    );
    assert_eq!(got, sent, "everything, in order, byte for byte");
    assert_eq!(cursor, 20);
    let idle = client.sync1(&amina, ask(group, log_len, cursor));
    assert!(idle.envelopes.is_empty() && !idle.more && idle.log.is_empty());
    assert_eq!(idle.cursor, 20);
}

#[test]
fn a_repeated_upload_is_a_duplicate_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([2; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let mut chain = Author::new(&amina, group);
    let first = chain.next(2, &[2], 400);
    let upload = |envs: Vec<_>| {
        client.sync1(
            &amina,
            GroupSync {
                uploads: envs,
                ..ask(group, log.len(), 0)
            },
        )
    };
    assert_eq!(
        codes(&upload(vec![first.clone()]).upload_outcomes),
        ["stored"]
    );
    // The response was lost; she sends it again, twice in one request for good measure.
    let again = upload(vec![first.clone(), first.clone()]);
    assert_eq!(codes(&again.upload_outcomes), ["duplicate", "duplicate"]);
    assert_eq!(again.stored_seq, 1);
    let read = client.sync1(&ruth, ask(group, log.len(), 0));
    assert_eq!(read.envelopes, vec![first], "one copy only");
    assert_eq!(read.cursor, 1);
}

#[test]
fn gaps_and_conflicting_sequence_numbers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([3; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let upload = |envs: Vec<_>| {
        client
            .sync1(
                &amina,
                GroupSync {
                    uploads: envs,
                    ..ask(group, log.len(), 0)
                },
            )
            .upload_outcomes
    };
    let mut chain = Author::new(&amina, group);
    let one = chain.next(2, &[2], 100);
    // Number 1 again, different contents: the relay already holds another number 1.
    let other_one = Author::new(&amina, group).peek(2, &[2], 100, 9);
    let two = chain.peek(2, &[2], 100, 0);
    chain.next(2, &[2], 100);
    let three = chain.next(2, &[2], 100);

    let outcomes = upload(vec![three.clone()]);
    assert_eq!(codes(&outcomes), ["gap"], "{outcomes:?}");
    assert!(
        outcomes[0].reason.contains("number 1"),
        "{}",
        outcomes[0].reason
    );
    assert_eq!(codes(&upload(vec![one.clone()])), ["stored"]);
    let outcomes = upload(vec![other_one]);
    assert_eq!(codes(&outcomes), ["seq_conflict"]);
    // Number 2 that names some other envelope as its previous one.
    let mut forked = Author::new(&amina, group);
    forked.next(2, &[2], 100);
    forked.prev = hearth_protocol::Hash([7; 32]);
    let bad_prev = forked.peek(2, &[2], 100, 0);
    assert_eq!(codes(&upload(vec![bad_prev])), ["gap"]);
    // In order, in one request, the rest goes through.
    assert_eq!(codes(&upload(vec![two, three])), ["stored", "stored"]);
    let read = client.sync1(&ruth, ask(group, log.len(), 0));
    assert_eq!(read.envelopes.len(), 3);
    assert_eq!(read.envelopes[0], one);
}

#[test]
fn forged_and_tampered_envelopes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina, eve) = (key(1), key(2), key(66));
    let group = GroupId([4; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);

    // Eve's key signs a header that names Amina as its author; Ruth's phone forwards it.
    let genuine = Author::new(&amina, group).peek(2, &[2], 200, 0);
    let mut forged = genuine.clone();
    forged.header = Signed::new(&eve, Domain::Envelope, genuine.header.bytes.clone());
    let mut tampered = genuine.clone();
    tampered.body[5] ^= 1;
    let reply = client.sync1(
        &ruth,
        GroupSync {
            uploads: vec![forged, tampered],
            ..ask(group, log.len(), 0)
        },
    );
    assert_eq!(
        codes(&reply.upload_outcomes),
        ["bad_signature", "bad_signature"]
    );
    let read = client.sync1(&amina, ask(group, log.len(), 0));
    assert!(
        read.envelopes.is_empty() && read.cursor == 0,
        "nothing was stored"
    );
    assert_eq!(read.stored_seq, 0);
    // The genuine one, forwarded by Ruth, is fine.
    let reply = client.sync1(
        &ruth,
        GroupSync {
            uploads: vec![genuine],
            ..ask(group, log.len(), 0)
        },
    );
    assert_eq!(codes(&reply.upload_outcomes), ["stored"]);
}

#[test]
fn outsiders_can_neither_upload_nor_read() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina, eve) = (key(1), key(2), key(66));
    let group = GroupId([5; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let mut chain = Author::new(&amina, group);
    let posted = chain.next(2, &[2], 300);
    client.sync1(
        &amina,
        GroupSync {
            uploads: vec![posted],
            ..ask(group, log.len(), 0)
        },
    );

    let mut eves = Author::new(&eve, group);
    let reply = client.sync1(
        &eve,
        GroupSync {
            uploads: vec![eves.next(2, &[2], 300)],
            ops: vec![log.rotate_op(&eve)],
            ..ask(group, 0, 0)
        },
    );
    assert_eq!(
        reply.refused.as_ref().map(|o| o.code),
        Some(Code::NotMember)
    );
    assert!(reply.log.is_empty() && reply.envelopes.is_empty() && reply.joins.is_empty());
    assert!(reply.upload_outcomes.is_empty() && reply.op_outcomes.is_empty());

    // Amina's envelope is still the only one, and the log did not move.
    let read = client.sync1(&ruth, ask(group, 0, 0));
    assert_eq!(read.envelopes.len(), 1);
    assert_eq!(read.log.len() as u64, log.len());

    // A group the relay does not know, and a creation signed by someone else.
    let unknown = client.sync1(&eve, ask(GroupId([99; 16]), 0, 0));
    assert_eq!(unknown.refused.map(|o| o.code), Some(Code::UnknownGroup));
    let someone_elses = Log::create(&ruth, GroupId([98; 16]), 12);
    let reply = client.sync1(
        &eve,
        GroupSync {
            ops: someone_elses.ops.clone(),
            ..ask(GroupId([98; 16]), 0, 0)
        },
    );
    assert_eq!(reply.refused.map(|o| o.code), Some(Code::UnknownGroup));
    // Recreating an existing group.
    let again = Log::create(&eve, group, 12);
    let reply = client.sync1(
        &eve,
        GroupSync {
            ops: again.ops,
            ..ask(group, 0, 0)
        },
    );
    assert_eq!(reply.refused.map(|o| o.code), Some(Code::GroupExists));
}

#[test]
fn envelopes_under_an_old_epoch_must_be_resealed() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([6; 16]);
    let mut log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let mut chain = Author::new(&amina, group);
    let sealed_before = chain.peek(2, &[2], 200, 0);

    let rotate = log.rotate_op(&ruth);
    log.push(rotate.clone());
    assert_eq!(upload_ops(&client, &ruth, group, vec![rotate]), ["stored"]);

    let upload = |envs: Vec<_>| {
        client
            .sync1(
                &amina,
                GroupSync {
                    uploads: envs,
                    ..ask(group, log.len(), 0)
                },
            )
            .upload_outcomes
    };
    let outcomes = upload(vec![sealed_before]);
    assert_eq!(codes(&outcomes), ["stale_epoch"]);
    assert!(
        outcomes[0].reason.contains("current epoch is 3"),
        "{}",
        outcomes[0].reason
    );
    let future = chain.peek(4, &[2], 200, 0);
    assert_eq!(codes(&upload(vec![future])), ["stale_epoch"]);
    // Re-sealed under epoch 3 with the same number: stored.
    let resealed = chain.next(3, &[2, 3], 200);
    assert_eq!(codes(&upload(vec![resealed])), ["stored"]);
}

#[test]
fn two_moderators_at_the_same_position_the_second_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, sam, amina) = (key(1), key(3), key(2));
    let group = GroupId([7; 16]);
    let log = group_with(
        &client,
        &ruth,
        group,
        &[(&sam, Role::Moderator), (&amina, Role::Mother)],
    );
    // Both offline, both append at the same position.
    let ruths = log.rotate_op(&ruth);
    let sams = log.remove_op(&sam, amina.device(), 0);
    assert_eq!(
        upload_ops(&client, &ruth, group, vec![ruths.clone()]),
        ["stored"]
    );
    let reply = client.sync1(
        &sam,
        GroupSync {
            ops: vec![sams],
            ..ask(group, log.len(), 0)
        },
    );
    assert_eq!(codes(&reply.op_outcomes), ["log_conflict"]);
    assert_eq!(
        reply.log,
        vec![ruths.clone()],
        "the same reply brings the new head"
    );

    // Sam re-applies on top of the new head.
    let mut sams_view = log.clone();
    sams_view.push(ruths.clone());
    let redo = sams_view.remove_op(&sam, amina.device(), 0);
    sams_view.push(redo.clone());
    assert_eq!(upload_ops(&client, &sam, group, vec![redo]), ["stored"]);
    // Ruth's own operation again: a duplicate, not a conflict.
    assert_eq!(
        upload_ops(&client, &ruth, group, vec![ruths]),
        ["duplicate"]
    );
    // An operation that skips ahead of the log.
    let mut ahead = sams_view.clone();
    ahead.state.len += 1;
    let skipping = ahead.rotate_op(&ruth);
    assert_eq!(
        upload_ops(&client, &ruth, group, vec![skipping]),
        ["log_conflict"]
    );
    // At the right place, but signed by someone who is not a moderator (any more).
    let by_mother = sams_view.rotate_op(&amina);
    let reply = client.sync1(
        &ruth,
        GroupSync {
            ops: vec![by_mother],
            ..ask(group, u64::MAX, 0)
        },
    );
    assert_eq!(codes(&reply.op_outcomes), ["not_moderator"]);
    assert!(
        reply.op_outcomes[0].reason.contains("moderator"),
        "{}",
        reply.op_outcomes[0].reason
    );
}

#[test]
fn what_was_acknowledged_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([8; 16]);
    let mut chain = Author::new(&amina, group);
    let sent: Vec<_> = (0..5).map(|_| chain.next(2, &[2], 400)).collect();
    let log = {
        let relay = spawn_for_tests(&db);
        let client = Client::new(&relay.url());
        let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
        let reply = client.sync1(
            &amina,
            GroupSync {
                uploads: sent.clone(),
                ..ask(group, log.len(), 0)
            },
        );
        assert_eq!(codes(&reply.upload_outcomes), ["stored"; 5]);
        relay.shutdown().unwrap();
        log
    };
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let read = client.sync1(&ruth, ask(group, 0, 0));
    assert_eq!(read.log, log.ops);
    assert_eq!(read.envelopes, sent);
    assert_eq!(read.cursor, 5);
    // The chain continues where it stopped, and duplicates are still recognised.
    let next = chain.next(2, &[2], 400);
    let reply = client.sync1(
        &amina,
        GroupSync {
            uploads: vec![sent[4].clone(), next],
            ..ask(group, log.len(), 5)
        },
    );
    assert_eq!(codes(&reply.upload_outcomes), ["duplicate", "stored"]);
    assert_eq!(reply.stored_seq, 6);
    assert_eq!(reply.cursor, 6);
}

#[test]
fn a_device_is_not_sent_her_own_envelopes_yet_her_cursor_passes_them() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn(Config {
        // Two of Amina's ~1.7 KB envelopes per response, or three of Ruth's ~1.2 KB ones.
        reply_envelope_bytes: 4000,
        ..Config::for_tests(&dir.path().join("relay.db"))
    })
    .unwrap();
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([9; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let mut aminas = Author::new(&amina, group);
    let mut ruths = Author::new(&ruth, group);
    // Uploads ask from beyond the newest cursor, so their replies carry nothing back.
    let post = |device: &hearth_protocol::ids::KeyPairSigner, envelopes: Vec<_>| {
        let reply = client.sync1(
            device,
            GroupSync {
                uploads: envelopes,
                ..ask(group, log.len(), u64::MAX)
            },
        );
        assert!(reply.upload_outcomes.iter().all(|o| o.is_ok()));
    };

    // Cursors 1-6 are Amina's; the reply to her upload does not echo them.
    let mut hers: Vec<_> = (0..6).map(|_| aminas.next(2, &[2], 1500)).collect();
    let reply = client.sync1(
        &amina,
        GroupSync {
            uploads: hers.clone(),
            ..ask(group, log.len(), 0)
        },
    );
    assert_eq!(codes(&reply.upload_outcomes), ["stored"; 6]);
    assert!(reply.envelopes.is_empty(), "what she just sent comes back");
    assert_eq!((reply.cursor, reply.more), (6, false));

    // 7-9 Ruth's, 10 Amina's. Her own cost her nothing from the budget: from the start she gets
    // all three of Ruth's in one response, and her cursor passes her own envelope at 10.
    let ruths_sent: Vec<_> = (0..3).map(|_| ruths.next(2, &[2], 300)).collect();
    post(&ruth, ruths_sent.clone());
    hers.push(aminas.next(2, &[2], 1500));
    post(&amina, hers[6..].to_vec());
    let read = client.sync1(&amina, ask(group, log.len(), 0));
    assert_eq!(read.envelopes, ruths_sent);
    assert_eq!((read.cursor, read.more, read.stored_seq), (10, false, 7));

    // 11-12 Ruth's, 13-14 Amina's, 15-17 Ruth's: a cut after 15 starts the next page at 16,
    // her own 13 and 14 passed and never sent.
    let more: Vec<_> = (0..5).map(|_| ruths.next(2, &[2], 1000)).collect();
    post(&ruth, more[..2].to_vec());
    hers.extend((0..2).map(|_| aminas.next(2, &[2], 1500)));
    post(&amina, hers[7..].to_vec());
    post(&ruth, more[2..].to_vec());
    let page = client.sync1(&amina, ask(group, log.len(), 10));
    assert_eq!(page.envelopes, more[..3]);
    assert_eq!((page.cursor, page.more), (15, true));
    let page = client.sync1(&amina, ask(group, log.len(), 15));
    assert_eq!(page.envelopes, more[3..]);
    assert_eq!((page.cursor, page.more), (17, false));

    // Ruth, from the start, pages through Amina's nine alone; pages that end at her own
    // envelopes end after them.
    let (mut cursor, mut got, mut cursors) = (0, Vec::new(), Vec::new());
    loop {
        let page = client.sync1(&ruth, ask(group, log.len(), cursor));
        cursor = page.cursor;
        cursors.push(cursor);
        got.extend(page.envelopes);
        if !page.more {
            break;
        }
        assert!(cursors.len() < 20, "paging never ends");
    }
    assert_eq!(
        got, hers,
        "everything of Amina's, in order, nothing of her own"
    );
    assert_eq!(cursors, [2, 4, 9, 13, 17]);
}
