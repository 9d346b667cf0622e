//! Joining and leaving through the relay: invites, registrations, admissions, removals, and
//! what each stage lets a device see.

mod common;

use common::*;
use hearth_protocol::api::{Code, GroupSync};
use hearth_protocol::ids::Signer;
use hearth_protocol::membership::OpBody;
use hearth_protocol::{GroupId, Role};
use hearth_relay::spawn_for_tests;

#[test]
fn invite_register_wait_and_be_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, jo, amina) = (key(1), key(4), key(2));
    let group = GroupId([10; 16]);
    let mut log = group_with(&client, &ruth, group, &[(&jo, Role::Volunteer)]);
    let mut ruths = Author::new(&ruth, group);
    let before = ruths.next(2, &[2], 300);
    client.sync1(
        &ruth,
        GroupSync {
            uploads: vec![before],
            ..ask(group, log.len(), 0)
        },
    );

    let invite_code = code(1);
    let invite = log.invite(&ruth, &invite_code, Role::Mother);
    assert_eq!(upload_ops(&client, &ruth, group, vec![invite]), ["stored"]);
    let join = registration(&amina, &invite_code);
    let reply = client.join(&join).unwrap();
    assert_eq!(reply.group, group, "the invite alone finds the group");
    assert_eq!(reply.log, log.ops, "with its log, to verify the invite");
    let again = client.join(&join).unwrap();
    assert_eq!(again.group, group, "registering again is harmless");

    // Waiting: the moderator sees the registration, other members do not.
    let ruth_sees = client.sync1(&ruth, ask(group, log.len(), 1));
    assert_eq!(ruth_sees.joins, vec![join.clone()]);
    let jo_sees = client.sync1(&jo, ask(group, log.len(), 0));
    assert!(
        jo_sees.joins.is_empty(),
        "only moderators see registrations"
    );
    // Amina herself gets the log (to see her admission coming), nothing else, and may not post.
    let mut aminas = Author::new(&amina, group);
    let waiting = client.sync1(
        &amina,
        GroupSync {
            uploads: vec![aminas.peek(3, &[3], 100, 0)],
            ..ask(group, 0, 0)
        },
    );
    assert!(waiting.refused.is_none());
    assert_eq!(waiting.log, log.ops);
    assert!(waiting.envelopes.is_empty() && waiting.joins.is_empty());
    assert_eq!(codes(&waiting.upload_outcomes), ["not_member"]);

    // An admission must carry the registration the relay holds, byte for byte.
    let mut elsewhere = log.clone();
    let wrong_device = registration(&key(9), &invite_code);
    let bogus = elsewhere.admit(&ruth, &wrong_device);
    let reply = client.sync1(
        &ruth,
        GroupSync {
            ops: vec![bogus],
            ..ask(group, u64::MAX, 0)
        },
    );
    assert_eq!(codes(&reply.op_outcomes), ["log_invalid"]);
    assert!(
        reply.op_outcomes[0].reason.contains("not pending"),
        "{}",
        reply.op_outcomes[0].reason
    );

    let admit = log.admit(&ruth, &join);
    assert_eq!(upload_ops(&client, &ruth, group, vec![admit]), ["stored"]);
    let ruth_sees = client.sync1(&ruth, ask(group, log.len(), 1));
    assert!(
        ruth_sees.joins.is_empty(),
        "the admission consumed the registration"
    );

    // Now a member since epoch 3: she reads the log and posts.
    let member = client.sync1(
        &amina,
        GroupSync {
            uploads: vec![aminas.next(3, &[3], 100)],
            ..ask(group, 0, 0)
        },
    );
    assert_eq!(member.log, log.ops);
    assert_eq!(codes(&member.upload_outcomes), ["stored"]);
    // The code is spent: a second registration with it is refused, so is the old admission.
    let late = registration(&key(5), &invite_code);
    let refusal = client.join(&late).unwrap_err();
    assert_eq!((refusal.status, refusal.body.code), (409, Code::InviteUsed));
}

#[test]
fn invites_are_single_use_and_expire_by_the_relay_clock() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina, eve) = (key(1), key(2), key(66));
    let group = GroupId([11; 16]);
    let mut log = group_with(&client, &ruth, group, &[]);

    let shared = code(1);
    let invite = log.invite(&ruth, &shared, Role::Mother);
    upload_ops(&client, &ruth, group, vec![invite]);
    client.join(&registration(&amina, &shared)).unwrap();
    // The code leaked: someone else registers with it.
    let refusal = client.join(&registration(&eve, &shared)).unwrap_err();
    assert_eq!((refusal.status, refusal.body.code), (409, Code::InviteUsed));
    assert!(!refusal.body.reason.is_empty());

    // An invite that expired (its moderator made it for a short window, long ago).
    let stale = code(2);
    let expired = log.op_at(
        &ruth,
        OpBody::Invite {
            invite: stale.keys().id(),
            role: Role::Mother,
            expires_at: 2_000,
            details: vec![],
        },
        1_000,
    );
    log.push(expired.clone());
    assert_eq!(upload_ops(&client, &ruth, group, vec![expired]), ["stored"]);
    let refusal = client.join(&registration(&eve, &stale)).unwrap_err();
    assert_eq!(
        (refusal.status, refusal.body.code),
        (410, Code::InviteExpired)
    );

    // Withdrawn.
    let withdrawn = code(3);
    let invite = log.invite(&ruth, &withdrawn, Role::Mother);
    upload_ops(&client, &ruth, group, vec![invite]);
    let revoke = log.op(
        &ruth,
        OpBody::RevokeInvite {
            invite: withdrawn.keys().id(),
        },
    );
    log.push(revoke.clone());
    assert_eq!(upload_ops(&client, &ruth, group, vec![revoke]), ["stored"]);
    let refusal = client.join(&registration(&eve, &withdrawn)).unwrap_err();
    assert_eq!(
        (refusal.status, refusal.body.code),
        (410, Code::InviteRevoked)
    );

    // Never made, and made for someone already in the group.
    let refusal = client.join(&registration(&eve, &code(4))).unwrap_err();
    assert_eq!(
        (refusal.status, refusal.body.code),
        (404, Code::InviteUnknown)
    );
    let spare = code(5);
    let invite = log.invite(&ruth, &spare, Role::Mother);
    upload_ops(&client, &ruth, group, vec![invite]);
    let refusal = client.join(&registration(&ruth, &spare)).unwrap_err();
    assert_eq!(
        (refusal.status, refusal.body.code),
        (409, Code::AlreadyMember)
    );

    // A registration whose invite signature is not the code's.
    let mut forged = registration(&eve, &spare);
    forged.invite_sig = hearth_protocol::ids::sign(
        &eve,
        hearth_protocol::ids::Domain::InviteJoin,
        &forged.join.bytes,
    );
    let refusal = client.join(&forged).unwrap_err();
    assert_eq!(
        (refusal.status, refusal.body.code),
        (401, Code::BadSignature)
    );
    assert_eq!(eve.device(), key(66).device());
}

#[test]
fn a_new_member_sees_history_from_her_admission_on() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([12; 16]);
    let mut log = group_with(&client, &ruth, group, &[]);
    let mut ruths = Author::new(&ruth, group);
    let early: Vec<_> = (0..3).map(|_| ruths.next(1, &[1], 200)).collect();
    client.sync1(
        &ruth,
        GroupSync {
            uploads: early.clone(),
            ..ask(group, log.len(), 0)
        },
    );

    let invite_code = code(1);
    let invite = log.invite(&ruth, &invite_code, Role::Mother);
    upload_ops(&client, &ruth, group, vec![invite]);
    let join = registration(&amina, &invite_code);
    client.join(&join).unwrap();
    let admit = log.admit(&ruth, &join);
    upload_ops(&client, &ruth, group, vec![admit]);
    assert_eq!(log.epoch(), 2);
    let later: Vec<_> = (0..2).map(|_| ruths.next(2, &[2], 200)).collect();
    client.sync1(
        &ruth,
        GroupSync {
            uploads: later.clone(),
            ..ask(group, log.len(), 3)
        },
    );

    let hers = client.sync1(&amina, ask(group, 0, 0));
    assert_eq!(hers.envelopes, later, "nothing from before her admission");
    assert_eq!(hers.cursor, 5);
    // The creator wrote all five herself: none come back to her, and her cursor passes them.
    let all = client.sync1(&ruth, ask(group, log.len(), 0));
    assert!(all.envelopes.is_empty());
    assert_eq!((all.cursor, all.more, all.stored_seq), (5, false, 5));
}

#[test]
fn a_removed_member_is_cut_off_exactly_after_her_final_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina, jo) = (key(1), key(2), key(4));
    let group = GroupId([13; 16]);
    let mut log = group_with(
        &client,
        &ruth,
        group,
        &[(&amina, Role::Mother), (&jo, Role::Volunteer)],
    );
    assert_eq!(log.epoch(), 3);
    let mut aminas = Author::new(&amina, group);
    let sent: Vec<_> = (0..3).map(|_| aminas.next(3, &[3], 200)).collect();
    client.sync1(
        &amina,
        GroupSync {
            uploads: sent.clone(),
            ..ask(group, log.len(), 0)
        },
    );

    // The moderator asks how far everyone's chains reach before removing.
    let seqs = client
        .sync1(
            &ruth,
            GroupSync {
                want_seqs: true,
                ..ask(group, log.len(), 0)
            },
        )
        .seqs;
    assert_eq!(seqs.get(&amina.device()), Some(&3));
    let plain = client.sync1(&ruth, ask(group, log.len(), 3));
    assert!(plain.seqs.is_empty(), "only when asked");

    let wrong = log.remove_op(&ruth, amina.device(), 2);
    let reply = client.sync1(
        &ruth,
        GroupSync {
            ops: vec![wrong],
            ..ask(group, u64::MAX, 0)
        },
    );
    assert_eq!(codes(&reply.op_outcomes), ["log_invalid"]);
    assert!(
        reply.op_outcomes[0].reason.contains("must be 3"),
        "{}",
        reply.op_outcomes[0].reason
    );
    let remove = log.remove_op(&ruth, amina.device(), 3);
    log.push(remove.clone());
    assert_eq!(upload_ops(&client, &ruth, group, vec![remove]), ["stored"]);

    // Her phone, not yet knowing, posts number 4; a friend's phone forwards it too.
    let fourth = aminas.next(3, &[3], 200);
    let hers = client.sync1(
        &amina,
        GroupSync {
            uploads: vec![fourth.clone()],
            ..ask(group, 0, 3)
        },
    );
    assert_eq!(hers.refused.map(|o| o.code), Some(Code::NotMember));
    // Nothing but the log, which shows her device the signed removal.
    assert!(hers.envelopes.is_empty() && hers.upload_outcomes.is_empty());
    assert_eq!(hers.log.last(), log.ops.last());
    let forwarded = client.sync1(
        &jo,
        GroupSync {
            uploads: vec![fourth, sent[2].clone()],
            ..ask(group, log.len(), 3)
        },
    );
    assert_eq!(
        codes(&forwarded.upload_outcomes),
        ["not_member", "duplicate"],
        "her later envelope is refused; her earlier ones stand"
    );
    let read = client.sync1(&ruth, ask(group, log.len(), 0));
    assert_eq!(read.envelopes, sent);
}

#[test]
fn registrations_beyond_the_groups_places_are_refused_as_full() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina, eve, jo) = (key(1), key(2), key(66), key(4));
    let group = GroupId([14; 16]);
    // Three places: Ruth, Amina, and one more.
    let mut log = Log::create(&ruth, group, 3);
    assert_eq!(
        upload_ops(&client, &ruth, group, log.ops.clone()),
        ["stored"]
    );
    let first = code(1);
    let invite = log.invite(&ruth, &first, Role::Mother);
    upload_ops(&client, &ruth, group, vec![invite]);
    let aminas = registration(&amina, &first);
    client.join(&aminas).unwrap();
    let admit = log.admit(&ruth, &aminas);
    assert_eq!(upload_ops(&client, &ruth, group, vec![admit]), ["stored"]);
    let (for_eve, for_jo, eves_other) = (code(2), code(3), code(4));
    for c in [&for_eve, &for_jo, &eves_other] {
        let invite = log.invite(&ruth, c, Role::Mother);
        assert_eq!(upload_ops(&client, &ruth, group, vec![invite]), ["stored"]);
    }

    // Eve's waiting registration holds the last place.
    let eves = registration(&eve, &for_eve);
    client.join(&eves).unwrap();
    let jos = registration(&jo, &for_jo);
    let refusal = client.join(&jos).unwrap_err();
    assert_eq!((refusal.status, refusal.body.code), (409, Code::Full));
    assert!(
        refusal.body.reason.contains("3 of 3 places") && refusal.body.reason.contains("moderator"),
        "{}",
        refusal.body.reason
    );
    // Her identical retry is answered as before; registering with a second invite does not
    // count her twice.
    assert_eq!(client.join(&eves).unwrap().group, group);
    client.join(&registration(&eve, &eves_other)).unwrap();
    let waiting = client.sync1(&ruth, ask(group, log.len(), 0)).joins;
    assert_eq!(waiting.len(), 2, "Jo's refused registration was not kept");

    // Withdrawing one of Eve's invites leaves her other registration holding the place;
    // withdrawing both frees it.
    for c in [&for_eve, &eves_other] {
        let refusal = client.join(&jos).unwrap_err();
        assert_eq!(refusal.body.code, Code::Full);
        let revoke = log.op(
            &ruth,
            OpBody::RevokeInvite {
                invite: c.keys().id(),
            },
        );
        log.push(revoke.clone());
        assert_eq!(upload_ops(&client, &ruth, group, vec![revoke]), ["stored"]);
    }
    assert_eq!(client.join(&jos).unwrap().group, group);
}

#[test]
fn operations_signed_by_someone_not_a_moderator_are_refused_as_not_moderator() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, sam, amina) = (key(1), key(3), key(2));
    let group = GroupId([15; 16]);
    let mut log = group_with(
        &client,
        &ruth,
        group,
        &[(&sam, Role::Moderator), (&amina, Role::Mother)],
    );
    // A mother never signs operations; her rotation, forwarded by Ruth's phone, is refused.
    let by_mother = log.rotate_op(&amina);
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

    // Sam steps down; the rotation his phone queued while offline is refused the same way.
    let queued = log.rotate_op(&sam);
    let step_down = log.op(
        &ruth,
        OpBody::SetRole {
            device: sam.device(),
            role: Role::Volunteer,
        },
    );
    log.push(step_down.clone());
    assert_eq!(
        upload_ops(&client, &ruth, group, vec![step_down]),
        ["stored"]
    );
    let requeued = log.rotate_op(&sam);
    assert_eq!(
        upload_ops(&client, &sam, group, vec![queued, requeued]),
        ["log_conflict", "not_moderator"]
    );

    // A moderator's operation the log refuses for another reason is still `log_invalid`.
    let sealed_to_her_alone = log.op(
        &ruth,
        OpBody::Rotate {
            epoch: sealed_to(log.epoch() + 1, [ruth.device()]),
        },
    );
    assert_eq!(
        upload_ops(&client, &ruth, group, vec![sealed_to_her_alone]),
        ["log_invalid"]
    );
    let read = client.sync1(&amina, ask(group, 0, 0));
    assert_eq!(read.log, log.ops, "none of them was stored");
}
