//! Snapshots: catching up far behind with a snapshot plus the tail when that is cheaper, never
//! losing envelopes of other chapters, and asking one member at a time for a new snapshot.

mod common;

use std::time::Duration;

use common::*;
use hearth_protocol::api::GroupSync;
use hearth_protocol::envelope::Envelope;
use hearth_protocol::{GroupId, Role};
use hearth_relay::{spawn, spawn_for_tests, Config};

#[test]
fn catch_up_takes_a_snapshot_when_cheaper_and_keeps_other_chapters() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([20; 16]);
    let mut log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let rotate = log.rotate_op(&ruth);
    log.push(rotate.clone());
    upload_ops(&client, &ruth, group, vec![rotate]);
    assert_eq!(log.epoch(), 3);

    // Cursors 1-10 and 13-15 are chapter 3 only; 11 touches chapters 2 and 3; 12 is chapter 2
    // (a late change to the previous chapter, sealed under the current key).
    let mut chain = Author::new(&ruth, group);
    let mut sent: Vec<Envelope> = Vec::new();
    for cursor in 1..=15u64 {
        let chapters: &[u32] = match cursor {
            11 => &[2, 3],
            12 => &[2],
            _ => &[3],
        };
        sent.push(chain.next(3, chapters, 400));
    }
    let upload = |envs: &[Envelope]| {
        let reply = client.sync1(
            &ruth,
            GroupSync {
                uploads: envs.to_vec(),
                ..ask(group, log.len(), u64::MAX)
            },
        );
        assert!(reply.upload_outcomes.iter().all(|o| o.is_ok()));
    };
    upload(&sent);
    let snap = snapshot(&ruth, group, 3, 3, 15, 500);
    let reply = client.sync1(
        &ruth,
        GroupSync {
            snapshot: Some(snap.clone()),
            ..ask(group, log.len(), 15)
        },
    );
    assert_eq!(
        reply.snapshot_outcome.map(|o| o.code.as_str()),
        Some("stored")
    );
    sent.push(chain.next(3, &[3], 400)); // 16
    sent.push(chain.next(3, &[2], 400)); // 17
    upload(&sent[15..]);

    let at = |cursor: u64| sent[cursor as usize - 1].clone();
    // From the start: the snapshot replaces the thirteen chapter-3 envelopes it covers, and
    // the ones touching chapter 2 still come, in cursor order, then the tail.
    let far = client.sync1(&amina, ask(group, log.len(), 0));
    assert_eq!(far.snapshot.as_ref(), Some(&snap));
    assert_eq!(far.envelopes, vec![at(11), at(12), at(16), at(17)]);
    assert_eq!((far.cursor, far.more), (17, false));

    // Three replaceable envelopes behind still outweigh the snapshot…
    let near = client.sync1(&amina, ask(group, log.len(), 12));
    assert_eq!(near.snapshot.as_ref(), Some(&snap));
    assert_eq!(near.envelopes, vec![at(16), at(17)]);
    // …one does not.
    let nearer = client.sync1(&amina, ask(group, log.len(), 14));
    assert_eq!(nearer.snapshot, None);
    assert_eq!(nearer.envelopes, vec![at(15), at(16), at(17)]);
    // Past what it covers, it is never offered.
    let past = client.sync1(&amina, ask(group, log.len(), 15));
    assert_eq!(past.snapshot, None);
    assert_eq!(past.envelopes, vec![at(16), at(17)]);
}

#[test]
fn a_big_snapshot_is_not_sent_instead_of_fewer_envelope_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([21; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let mut chain = Author::new(&ruth, group);
    let sent: Vec<_> = (0..4).map(|_| chain.next(2, &[2], 300)).collect();
    client.sync1(
        &ruth,
        GroupSync {
            uploads: sent.clone(),
            snapshot: Some(snapshot(&ruth, group, 2, 2, 4, 5000)),
            ..ask(group, log.len(), u64::MAX)
        },
    );
    let read = client.sync1(&amina, ask(group, log.len(), 0));
    assert_eq!(read.snapshot, None);
    assert_eq!(read.envelopes, sent);
}

#[test]
fn one_caught_up_member_at_a_time_is_asked_for_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn(Config {
        snapshot_after_envelopes: 5,
        snapshot_lease: Duration::from_millis(400),
        ..Config::for_tests(&dir.path().join("relay.db"))
    })
    .unwrap();
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([22; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let mut chain = Author::new(&ruth, group);
    let few: Vec<_> = (0..5).map(|_| chain.next(2, &[2], 100)).collect();
    let reply = client.sync1(
        &ruth,
        GroupSync {
            uploads: few,
            ..ask(group, log.len(), 0)
        },
    );
    assert!(!reply.snapshot_wanted, "five is not more than five");
    let reply = client.sync1(
        &ruth,
        GroupSync {
            uploads: vec![chain.next(2, &[2], 100)],
            ..ask(group, log.len(), 5)
        },
    );
    assert!(reply.snapshot_wanted, "six envelopes since no snapshot");
    let amina_reads = client.sync1(&amina, ask(group, log.len(), 0));
    assert_eq!(amina_reads.cursor, 6);
    assert!(
        !amina_reads.snapshot_wanted,
        "caught up too, but Ruth holds the lease"
    );
    assert!(
        client
            .sync1(&ruth, ask(group, log.len(), 6))
            .snapshot_wanted
    );

    // Snapshot uploads are checked like envelopes.
    let refused = |device: &_, snap| {
        let reply = client.sync1(
            device,
            GroupSync {
                snapshot: Some(snap),
                ..ask(group, log.len(), 6)
            },
        );
        reply.snapshot_outcome.unwrap().code.as_str()
    };
    assert_eq!(
        refused(&ruth, snapshot(&ruth, group, 2, 2, 99, 100)),
        "malformed"
    );
    assert_eq!(
        refused(&amina, snapshot(&ruth, group, 2, 2, 6, 100)),
        "malformed"
    );
    assert_eq!(
        refused(&ruth, snapshot(&ruth, group, 1, 1, 6, 100)),
        "stale_epoch"
    );
    let mut bad = snapshot(&ruth, group, 2, 2, 6, 100);
    bad.body[0] ^= 1;
    assert_eq!(refused(&ruth, bad), "bad_signature");

    let snap = snapshot(&ruth, group, 2, 2, 6, 100);
    assert_eq!(refused(&ruth, snap.clone()), "stored");
    assert_eq!(refused(&ruth, snap), "duplicate");
    assert_eq!(
        refused(&ruth, snapshot(&ruth, group, 2, 2, 3, 90)),
        "duplicate",
        "an older snapshot adds nothing"
    );
    assert!(
        !client
            .sync1(&ruth, ask(group, log.len(), 6))
            .snapshot_wanted
    );
    assert!(
        !client
            .sync1(&amina, ask(group, log.len(), 6))
            .snapshot_wanted
    );

    // The chapter grows again; Ruth is asked, does nothing, and her lease runs out.
    let more: Vec<_> = (0..6).map(|_| chain.next(2, &[2], 100)).collect();
    let reply = client.sync1(
        &ruth,
        GroupSync {
            uploads: more,
            ..ask(group, log.len(), 6)
        },
    );
    assert!(reply.snapshot_wanted);
    assert!(
        !client
            .sync1(&amina, ask(group, log.len(), 12))
            .snapshot_wanted
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        client
            .sync1(&amina, ask(group, log.len(), 12))
            .snapshot_wanted
    );
    assert!(
        !client
            .sync1(&ruth, ask(group, log.len(), 12))
            .snapshot_wanted
    );
}

#[test]
fn a_snapshot_holds_only_the_current_chapter_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([23; 16]);
    let mut log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let rotate = log.rotate_op(&ruth);
    log.push(rotate.clone());
    upload_ops(&client, &ruth, group, vec![rotate]);
    assert_eq!(log.epoch(), 3);
    // Late changes to chapter 2, sealed under the current key.
    let mut chain = Author::new(&ruth, group);
    let sent: Vec<_> = (0..6).map(|_| chain.next(3, &[2], 400)).collect();
    let upload = |snap| {
        client
            .sync1(
                &ruth,
                GroupSync {
                    uploads: sent.clone(),
                    snapshot: Some(snap),
                    ..ask(group, log.len(), u64::MAX)
                },
            )
            .snapshot_outcome
            .unwrap()
    };

    let older = upload(snapshot(&ruth, group, 3, 2, 6, 100));
    assert_eq!(older.code.as_str(), "malformed");
    assert!(
        older.reason.contains("chapter 2") && older.reason.contains("epoch 3"),
        "{}",
        older.reason
    );
    let stale = upload(snapshot(&ruth, group, 2, 2, 6, 100));
    assert_eq!(stale.code.as_str(), "stale_epoch");
    // Neither was kept: a member far behind gets the six envelopes, which a snapshot of
    // chapter 2 would have replaced.
    let far = client.sync1(&amina, ask(group, log.len(), 0));
    assert_eq!(far.snapshot, None);
    assert_eq!(far.envelopes, sent);

    let current = upload(snapshot(&ruth, group, 3, 3, 6, 100));
    assert_eq!(current.code.as_str(), "stored");
}
