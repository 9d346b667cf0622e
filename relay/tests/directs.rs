//! Direct notes through the relay over real HTTP: one member to one other (a report sealed to a
//! moderator, a safety alert, a nudge), delivered to the recipient only, held until her device
//! acknowledges it or she leaves the group, and never readable by the relay.
//!
//! Bodies here are sealed with ChaCha20-Poly1305 under a key only the test (the recipient)
//! holds, so "the relay never sees the plaintext" is checked against real ciphertext.

mod common;

use std::path::Path;

use common::*;
use hearth_protocol::api::{Code, GroupReply, GroupSync};
use hearth_protocol::envelope::{body_hash, Direct, DirectHeader, MAX_DIRECT_BODY};
use hearth_protocol::ids::{KeyPairSigner, Signer};
use hearth_protocol::wire;
use hearth_protocol::{DeviceId, GroupId, Role};
use hearth_relay::{spawn, spawn_for_tests, Config};

const AAD: &[u8] = b"hearth-test/direct-note";

/// The recipient's sealing key, standing in for her agreement key: the relay never has it.
fn recipient_key(to: &KeyPairSigner) -> hearth_protocol::invite::InviteKeys {
    code(to.device().0[0]).keys()
}

fn sealed_for(to: &KeyPairSigner, plaintext: &[u8]) -> Vec<u8> {
    recipient_key(to).seal(AAD, plaintext).unwrap()
}

fn header(from: &KeyPairSigner, to: DeviceId, group: GroupId, id: u8, body: &[u8]) -> DirectHeader {
    DirectHeader {
        v: 1,
        group,
        from: from.device(),
        to,
        id: [id; 16],
        at: now_ms(),
        body_hash: body_hash(body),
    }
}

/// A note from `from` to `to` with id `[id; 16]`, its body sealed to `to`.
fn note(from: &KeyPairSigner, to: &KeyPairSigner, group: GroupId, id: u8, text: &str) -> Direct {
    let body = sealed_for(to, text.as_bytes());
    Direct::seal(from, &header(from, to.device(), group, id, &body), body)
}

/// Uploads `notes` as `device` and returns the reply (which also carries notes to her).
fn send(client: &Client, device: &KeyPairSigner, group: GroupId, notes: Vec<Direct>) -> GroupReply {
    let reply = client.sync1(
        device,
        GroupSync {
            directs: notes,
            ..ask(group, u64::MAX, 0)
        },
    );
    assert!(reply.refused.is_none(), "{:?}", reply.refused);
    reply
}

/// What `device` receives in `group` after her direct cursor `direct_cursor`.
fn inbox(
    client: &Client,
    device: &KeyPairSigner,
    group: GroupId,
    direct_cursor: u64,
) -> GroupReply {
    client.sync1(
        device,
        GroupSync {
            direct_cursor,
            ..ask(group, u64::MAX, 0)
        },
    )
}

/// `(recipient, note id)` of every note the relay's database holds, oldest first.
fn held(db: &Path) -> Vec<(DeviceId, u8)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT recipient, note_id FROM directs ORDER BY seq")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let recipient: Vec<u8> = r.get(0)?;
            let id: Vec<u8> = r.get(1)?;
            Ok((DeviceId::from_slice(&recipient).unwrap(), id[0]))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

/// Every byte of the relay's files (database, WAL, shared memory) in `dir`.
fn relay_files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn opened(to: &KeyPairSigner, note: &Direct) -> String {
    String::from_utf8(recipient_key(to).open(AAD, &note.body).unwrap()).unwrap()
}

#[test]
fn a_note_reaches_its_recipient_and_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina, jo) = (key(1), key(2), key(4));
    let group = GroupId([60; 16]);
    group_with(
        &client,
        &ruth,
        group,
        &[(&amina, Role::Mother), (&jo, Role::Volunteer)],
    );

    let report = note(&amina, &ruth, group, 1, "Jo's post about fasting is wrong");
    let sent = send(&client, &amina, group, vec![report.clone()]);
    assert_eq!(codes(&sent.direct_outcomes), ["stored"]);
    assert!(sent.directs.is_empty(), "nothing comes back to the sender");

    let ruths = inbox(&client, &ruth, group, 0);
    assert_eq!(ruths.directs.len(), 1);
    let (seq, got) = &ruths.directs[0];
    assert!(*seq > 0);
    assert_eq!(got, &report, "byte for byte as Amina sealed it");
    assert_eq!(got.open().unwrap().from, amina.device());
    assert_eq!(opened(&ruth, got), "Jo's post about fasting is wrong");
    assert!(!ruths.more_directs);

    let jos = inbox(&client, &jo, group, 0);
    assert!(jos.directs.is_empty(), "a third member gets nothing");
    let aminas = inbox(&client, &amina, group, 0);
    assert!(aminas.directs.is_empty());
    // Until she acknowledges it, Ruth gets it again (a lost reply loses nothing).
    assert_eq!(inbox(&client, &ruth, group, 0).directs, ruths.directs);
}

#[test]
fn a_stored_note_survives_a_relay_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([61; 16]);
    let alert = note(&ruth, &amina, group, 7, "please call your midwife today");
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    assert_eq!(
        codes(&send(&client, &ruth, group, vec![alert.clone()]).direct_outcomes),
        ["stored"]
    );
    relay.shutdown().unwrap();

    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let hers = inbox(&client, &amina, group, 0);
    assert_eq!(hers.directs.len(), 1);
    assert_eq!(hers.directs[0].1, alert);
    assert_eq!(
        opened(&amina, &hers.directs[0].1),
        "please call your midwife today"
    );
}

#[test]
fn acknowledging_through_the_direct_cursor_deletes_the_notes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let (ruth, amina, jo) = (key(1), key(2), key(4));
    let group = GroupId([62; 16]);
    group_with(
        &client,
        &ruth,
        group,
        &[(&amina, Role::Mother), (&jo, Role::Volunteer)],
    );
    let notes: Vec<_> = (1..=3)
        .map(|i| note(&amina, &ruth, group, i, &format!("report {i}")))
        .collect();
    send(&client, &amina, group, notes.clone());
    assert_eq!(held(&db).len(), 3);

    let first = inbox(&client, &ruth, group, 0);
    let seqs: Vec<u64> = first.directs.iter().map(|(s, _)| *s).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );
    let got: Vec<Direct> = first.directs.iter().map(|(_, n)| n.clone()).collect();
    assert_eq!(got, notes);

    // Someone else's cursor acknowledges nothing of hers.
    inbox(&client, &jo, group, seqs[2]);
    assert_eq!(held(&db).len(), 3);
    // A cursor beyond every number the relay ever gave (it was restored from an older backup)
    // acknowledges nothing and reads from the start.
    let restored = inbox(&client, &ruth, group, seqs[2] + 1000);
    assert_eq!(restored.directs, first.directs);
    assert_eq!(held(&db).len(), 3);

    // She stored the first two.
    let rest = inbox(&client, &ruth, group, seqs[1]);
    assert_eq!(rest.directs, first.directs[2..]);
    assert_eq!(held(&db), [(ruth.device(), 3)]);
    // A new note after the acknowledgement gets a higher number.
    send(
        &client,
        &jo,
        group,
        vec![note(&jo, &ruth, group, 4, "nudge")],
    );
    let next = inbox(&client, &ruth, group, seqs[2]);
    assert_eq!(next.directs.len(), 1);
    assert!(next.directs[0].0 > seqs[2]);
    assert_eq!(held(&db), [(ruth.device(), 4)]);
    let done = inbox(&client, &ruth, group, next.directs[0].0);
    assert!(done.directs.is_empty() && !done.more_directs);
    assert!(held(&db).is_empty(), "nothing is kept once she has it");

    // Deleted means gone from the file too, not left in free pages.
    drop(relay);
    let files = relay_files(dir.path());
    for n in &notes {
        assert!(
            !contains(&files, &n.body),
            "a delivered body lingers on disk"
        );
    }
}

#[test]
fn a_repeated_note_is_a_duplicate_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let (ruth, amina, jo) = (key(1), key(2), key(4));
    let group = GroupId([63; 16]);
    group_with(
        &client,
        &ruth,
        group,
        &[(&amina, Role::Mother), (&jo, Role::Volunteer)],
    );
    let report = note(&amina, &ruth, group, 1, "report");
    let first = send(&client, &amina, group, vec![report.clone(), report.clone()]);
    assert_eq!(codes(&first.direct_outcomes), ["stored", "duplicate"]);
    // The reply was lost; her phone sends it again.
    let again = send(&client, &amina, group, vec![report.clone()]);
    assert_eq!(codes(&again.direct_outcomes), ["duplicate"]);
    // Re-sealed under the same id: still one note, the first.
    let resealed = note(&amina, &ruth, group, 1, "report, again");
    let outcome = &send(&client, &amina, group, vec![resealed]).direct_outcomes[0];
    assert_eq!(outcome.code, Code::Duplicate);
    // The same id to someone else is a different note.
    let to_jo = note(&amina, &jo, group, 1, "hello");
    assert_eq!(
        codes(&send(&client, &amina, group, vec![to_jo]).direct_outcomes),
        ["stored"]
    );
    // Another member cannot take over the id of a note waiting for Ruth.
    let squat = note(&jo, &ruth, group, 1, "mine now");
    let outcome = &send(&client, &jo, group, vec![squat]).direct_outcomes[0];
    assert_eq!(outcome.code, Code::Malformed);
    assert!(
        outcome.reason.contains("new random id"),
        "{}",
        outcome.reason
    );

    assert_eq!(held(&db), [(ruth.device(), 1), (jo.device(), 1)]);
    let ruths = inbox(&client, &ruth, group, 0);
    assert_eq!(ruths.directs.len(), 1);
    assert_eq!(ruths.directs[0].1, report);
}

#[test]
fn forged_misaddressed_or_tampered_notes_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let (ruth, amina, jo, eve) = (key(1), key(2), key(4), key(66));
    let group = GroupId([64; 16]);
    let other = GroupId([80; 16]);
    group_with(
        &client,
        &ruth,
        group,
        &[(&amina, Role::Mother), (&jo, Role::Volunteer)],
    );
    group_with(&client, &ruth, other, &[(&amina, Role::Mother)]);

    let body = sealed_for(&ruth, b"report");
    // Eve's key signs a header naming Amina as the sender.
    let forged = Direct::seal(
        &eve,
        &header(&amina, ruth.device(), group, 1, &body),
        body.clone(),
    );
    // Jo's genuine note, uploaded by Amina's phone.
    let jos = note(&jo, &ruth, group, 2, "jo's report");
    // The body swapped after signing.
    let mut tampered = note(&amina, &ruth, group, 3, "report");
    tampered.body = sealed_for(&ruth, b"a different report");
    // Signed for the other group, uploaded under this one.
    let elsewhere = note(&amina, &ruth, other, 4, "report");
    let to_herself = note(&amina, &amina, group, 5, "diary");
    let mut h = header(&amina, ruth.device(), group, 6, &body);
    h.v = 9;
    let future = Direct::seal(&amina, &h, body.clone());
    let big = vec![0xab; MAX_DIRECT_BODY + 1];
    let too_big = Direct::seal(&amina, &header(&amina, ruth.device(), group, 7, &big), big);

    let reply = send(
        &client,
        &amina,
        group,
        vec![
            forged, jos, tampered, elsewhere, to_herself, future, too_big,
        ],
    );
    assert_eq!(
        codes(&reply.direct_outcomes),
        [
            "bad_signature",
            "malformed",
            "bad_signature",
            "malformed",
            "malformed",
            "version",
            "too_large"
        ]
    );
    let reasons: Vec<&str> = reply
        .direct_outcomes
        .iter()
        .map(|o| o.reason.as_str())
        .collect();
    assert!(reasons[1].contains("sender"), "{}", reasons[1]);
    assert!(reasons[2].contains("hash"), "{}", reasons[2]);
    assert!(reasons[3].contains("group"), "{}", reasons[3]);
    assert!(reasons[4].contains("recipient"), "{}", reasons[4]);
    assert!(held(&db).is_empty(), "nothing of it was stored");
    assert!(inbox(&client, &ruth, group, 0).directs.is_empty());
    assert!(inbox(&client, &ruth, other, 0).directs.is_empty());
}

#[test]
fn notes_go_only_between_current_members() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let (ruth, amina, eve, zara) = (key(1), key(2), key(66), key(7));
    let group = GroupId([66; 16]);
    let mut log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    // Zara registered and waits for a moderator.
    let invite_code = code(9);
    let invite = log.invite(&ruth, &invite_code, Role::Mother);
    upload_ops(&client, &ruth, group, vec![invite]);
    client.join(&registration(&zara, &invite_code)).unwrap();

    let to_stranger = note(&amina, &eve, group, 1, "hi");
    let to_waiting = note(&amina, &zara, group, 2, "welcome");
    let reply = send(&client, &amina, group, vec![to_stranger, to_waiting]);
    assert_eq!(codes(&reply.direct_outcomes), ["not_member", "not_member"]);
    for o in &reply.direct_outcomes {
        assert!(o.reason.contains("recipient"), "{}", o.reason);
    }
    // Neither a stranger nor a member-in-waiting may send one.
    let from_stranger = client.sync1(
        &eve,
        GroupSync {
            directs: vec![note(&eve, &ruth, group, 3, "spam")],
            ..ask(group, 0, 0)
        },
    );
    assert_eq!(from_stranger.refused.map(|o| o.code), Some(Code::NotMember));
    assert!(from_stranger.direct_outcomes.is_empty());
    let from_waiting = client.sync1(
        &zara,
        GroupSync {
            directs: vec![note(&zara, &ruth, group, 4, "hello")],
            ..ask(group, 0, 0)
        },
    );
    assert_eq!(codes(&from_waiting.direct_outcomes), ["not_member"]);
    assert!(held(&db).is_empty());
    assert!(inbox(&client, &ruth, group, 0).directs.is_empty());
}

#[test]
fn a_removed_member_gets_nothing_more_and_notes_waiting_for_her_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let (ruth, amina, jo) = (key(1), key(2), key(4));
    let group = GroupId([67; 16]);
    let mut log = group_with(
        &client,
        &ruth,
        group,
        &[(&amina, Role::Mother), (&jo, Role::Volunteer)],
    );
    send(
        &client,
        &ruth,
        group,
        vec![note(&ruth, &amina, group, 1, "nudge")],
    );
    send(&client, &jo, group, vec![note(&jo, &amina, group, 2, "hi")]);
    let hers = note(&amina, &jo, group, 3, "my self-check");
    send(&client, &amina, group, vec![hers.clone()]);
    assert_eq!(held(&db).len(), 3);

    let remove = log.remove_op(&ruth, amina.device(), 0);
    log.push(remove.clone());
    assert_eq!(upload_ops(&client, &ruth, group, vec![remove]), ["stored"]);
    // What waited for her is gone; what she sent as a member is still delivered.
    assert_eq!(held(&db), [(jo.device(), 3)]);
    let jos = inbox(&client, &jo, group, 0);
    assert_eq!(jos.directs.len(), 1);
    assert_eq!(jos.directs[0].1, hers);

    let after = inbox(&client, &amina, group, 0);
    assert_eq!(after.refused.map(|o| o.code), Some(Code::NotMember));
    assert!(after.directs.is_empty());
    let late = send(
        &client,
        &ruth,
        group,
        vec![note(&ruth, &amina, group, 4, "?")],
    );
    assert_eq!(codes(&late.direct_outcomes), ["not_member"]);
    assert!(late.direct_outcomes[0].reason.contains("recipient"));
    assert_eq!(held(&db), [(jo.device(), 3)]);
}

#[test]
fn notes_come_in_pages_shared_across_groups() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = spawn(Config {
        reply_direct_notes: 3,
        ..Config::for_tests(&db)
    })
    .unwrap();
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let (a, b) = (GroupId([68; 16]), GroupId([69; 16]));
    group_with(&client, &ruth, a, &[(&amina, Role::Mother)]);
    group_with(&client, &ruth, b, &[(&amina, Role::Mother)]);

    let sent: Vec<_> = (1..=7)
        .map(|i| note(&amina, &ruth, a, i, &format!("note {i}")))
        .collect();
    send(&client, &amina, a, sent.clone());
    let mut cursor = 0;
    let mut got = Vec::new();
    let mut pages = Vec::new();
    loop {
        let reply = inbox(&client, &ruth, a, cursor);
        pages.push(reply.directs.len());
        if let Some((seq, _)) = reply.directs.last() {
            cursor = *seq;
        }
        got.extend(reply.directs.into_iter().map(|(_, n)| n));
        if !reply.more_directs {
            break;
        }
        assert!(pages.len() < 10, "paging never ends");
    }
    assert_eq!(pages, [3, 3, 1]);
    assert_eq!(got, sent);
    assert_eq!(
        held(&db),
        [(ruth.device(), 7)],
        "each page acknowledged the one before; the last waits for the next sync"
    );

    // Two groups share one reply's budget.
    let in_a: Vec<_> = (11..=12).map(|i| note(&amina, &ruth, a, i, "a")).collect();
    let in_b: Vec<_> = (13..=14).map(|i| note(&amina, &ruth, b, i, "b")).collect();
    send(&client, &amina, a, in_a.clone());
    send(&client, &amina, b, in_b.clone());
    let want = |group, direct_cursor| GroupSync {
        direct_cursor,
        ..ask(group, u64::MAX, 0)
    };
    let both = client.sync(&ruth, vec![want(a, cursor), want(b, 0)]).groups;
    assert_eq!(both[0].directs.len(), 2);
    assert!(!both[0].more_directs);
    assert_eq!(both[1].directs.len(), 1);
    assert!(both[1].more_directs);
    let (cursor_a, cursor_b) = (both[0].directs[1].0, both[1].directs[0].0);
    let rest = client
        .sync(&ruth, vec![want(a, cursor_a), want(b, cursor_b)])
        .groups;
    assert!(rest[0].directs.is_empty());
    assert_eq!(rest[1].directs.len(), 1);
    assert_eq!(rest[1].directs[0].1, in_b[1]);
    assert!(!rest[1].more_directs);

    // One sync uploads at most 100 notes to a group; the rest are refused, not dropped.
    let many: Vec<_> = (0..101u8)
        .map(|i| {
            let body = vec![i; 8];
            let mut h = header(&amina, ruth.device(), a, 0, &body);
            h.id[0] = 100 + (i % 100);
            h.id[1] = i / 100;
            Direct::seal(&amina, &h, body)
        })
        .collect();
    let reply = send(&client, &amina, a, many);
    assert_eq!(reply.direct_outcomes.len(), 101);
    assert!(reply.direct_outcomes[..100]
        .iter()
        .all(|o| o.code == Code::Stored));
    assert_eq!(reply.direct_outcomes[100].code, Code::TooLarge);
    assert!(
        reply.direct_outcomes[100].reason.contains("at most 100"),
        "{}",
        reply.direct_outcomes[100].reason
    );
}

#[test]
fn a_byte_budget_cuts_pages_but_every_reply_carries_at_least_one_note() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn(Config {
        reply_direct_bytes: 1000,
        ..Config::for_tests(&dir.path().join("relay.db"))
    })
    .unwrap();
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([70; 16]);
    group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    // Each note alone is over the budget.
    let sent: Vec<_> = (1..=3)
        .map(|i| note(&amina, &ruth, group, i, &"x".repeat(1500)))
        .collect();
    send(&client, &amina, group, sent.clone());
    let mut cursor = 0;
    let mut got = Vec::new();
    for page in 0..3 {
        let reply = inbox(&client, &ruth, group, cursor);
        assert_eq!(reply.directs.len(), 1, "page {page}");
        assert_eq!(reply.more_directs, page < 2);
        cursor = reply.directs[0].0;
        got.push(reply.directs[0].1.clone());
    }
    assert_eq!(got, sent);
}

#[test]
fn the_relay_holds_only_sealed_bodies_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([71; 16]);
    group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let marker = "PLAINTEXT-MARKER-5f3a: my score was 14 and I feel unsafe at home";
    let report = note(&amina, &ruth, group, 1, marker);
    send(&client, &amina, group, vec![report.clone()]);

    // What is stored is the note exactly as uploaded, and nothing readable.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stored: Vec<u8> = conn
        .query_row("SELECT direct FROM directs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, wire::encode(&report));
    drop(conn);
    let files = relay_files(dir.path());
    assert!(contains(&files, &report.body), "the sealed body is there");
    assert!(!contains(&files, marker.as_bytes()));
    assert!(!contains(&files, b"PLAINTEXT-MARKER"));

    // After a restart (the WAL folded into the file) still nothing readable; Ruth reads it.
    relay.shutdown().unwrap();
    let files = relay_files(dir.path());
    assert!(contains(&files, &report.body));
    assert!(!contains(&files, b"PLAINTEXT-MARKER"));
    let relay = spawn_for_tests(&db);
    let client = Client::new(&relay.url());
    let ruths = inbox(&client, &ruth, group, 0);
    assert_eq!(opened(&ruth, &ruths.directs[0].1), marker);
}
