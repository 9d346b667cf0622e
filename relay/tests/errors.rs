//! Requests the relay cannot take at all: each gets the right 4xx status and a JSON reason,
//! and nobody else notices.

mod common;

use common::*;
use hearth_protocol::api::{Code, SyncRequest};
use hearth_protocol::ids::Signer;
use hearth_protocol::wire;
use hearth_protocol::{GroupId, Role};
use hearth_relay::{spawn, spawn_for_tests, Config};

#[test]
fn bad_requests_get_a_json_reason_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn(Config {
        max_body: 64 * 1024,
        ..Config::for_tests(&dir.path().join("relay.db"))
    })
    .unwrap();
    let client = Client::new(&relay.url());
    let bystander = Client::new(&relay.url());
    let (ruth, amina, eve) = (key(1), key(2), key(66));
    let group = GroupId([30; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    let mut chain = Author::new(&amina, group);
    let mut served = || {
        let reply = bystander.sync1(
            &amina,
            hearth_protocol::api::GroupSync {
                uploads: vec![chain.next(2, &[2], 100)],
                ..ask(group, log.len(), 0)
            },
        );
        assert_eq!(codes(&reply.upload_outcomes), ["stored"]);
    };
    served();

    let refused = |path: &str, body: &[u8]| client.post(path, body).unwrap_err();
    let r = refused("/v1/sync", b"this is not CBOR");
    assert_eq!((r.status, r.body.code), (400, Code::Malformed));
    assert!(r.body.reason.contains("sync request"), "{}", r.body.reason);
    served();

    let r = refused("/v1/sync", &wire::encode(&"a CBOR string, not a request"));
    assert_eq!((r.status, r.body.code), (400, Code::Malformed));

    let future = SyncRequest {
        v: 2,
        device: amina.device(),
        at: now_ms(),
        groups: vec![],
    };
    let r = refused("/v1/sync", &wire::encode(&future.sign(&amina)));
    assert_eq!((r.status, r.body.code), (400, Code::Version));
    assert!(r.body.reason.contains("version 2"), "{}", r.body.reason);
    served();

    // Eve signs a request in Amina's name.
    let impostor = SyncRequest {
        v: 1,
        device: amina.device(),
        at: now_ms(),
        groups: vec![ask(group, 0, 0)],
    };
    let r = refused("/v1/sync", &wire::encode(&impostor.sign(&eve)));
    assert_eq!((r.status, r.body.code), (401, Code::BadSignature));
    served();

    let r = refused("/v1/sync", &vec![0u8; 100 * 1024]);
    assert_eq!((r.status, r.body.code), (413, Code::TooLarge));
    assert!(r.body.reason.contains("65536"), "{}", r.body.reason);
    served();

    let r = refused("/v1/join", b"\xff\x00");
    assert_eq!((r.status, r.body.code), (400, Code::Malformed));
    let r = refused("/v1/elsewhere", b"");
    assert_eq!(r.status, 404);
    assert!(r.body.reason.contains("/v1/elsewhere"), "{}", r.body.reason);
    let r = client.get("/v1/sync").unwrap_err();
    assert_eq!(r.status, 405);
    let r = client.get("/").unwrap_err();
    assert_eq!(r.status, 404);
    served();
}

#[test]
fn the_default_body_limit_is_the_protocols_not_the_frameworks() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let client = Client::new(&relay.url());
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([31; 16]);
    let log = group_with(&client, &ruth, group, &[(&amina, Role::Mother)]);
    // Five envelopes at the largest body size: about 2.6 MB in one request.
    let mut chain = Author::new(&amina, group);
    let big: Vec<_> = (0..5)
        .map(|_| chain.next(2, &[2], hearth_protocol::envelope::MAX_ENVELOPE_BODY))
        .collect();
    let reply = client.sync1(
        &amina,
        hearth_protocol::api::GroupSync {
            uploads: big,
            ..ask(group, log.len(), u64::MAX)
        },
    );
    assert_eq!(codes(&reply.upload_outcomes), ["stored"; 5]);
    // Over the protocol's limit: refused with a JSON reason, and the relay carries on.
    let over = vec![0u8; hearth_protocol::wire::MAX_MESSAGE_BYTES + 1];
    let r = client.post("/v1/sync", &over).unwrap_err();
    assert_eq!((r.status, r.body.code), (413, Code::TooLarge));
    let (status, _) = Client::new(&relay.url()).get("/health").unwrap();
    assert_eq!(status, 200);
    // A big catch-up is cut into pages within the 1 MiB budget (two of these just exceed it).
    let mut cursor = 0;
    let mut pages = Vec::new();
    loop {
        let page = client.sync1(&ruth, ask(group, log.len(), cursor));
        cursor = page.cursor;
        pages.push(page.envelopes.len());
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, [1, 1, 1, 1, 1]);
    assert_eq!(cursor, 5);
}

#[test]
fn a_client_over_its_rate_is_told_to_wait_and_others_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn(Config {
        rate_per_sec: 1.0,
        rate_burst: 3.0,
        ..Config::for_tests(&dir.path().join("relay.db"))
    })
    .unwrap();
    let client = Client::new(&relay.url());
    let (busy, calm) = (key(40), key(41));
    let nowhere = GroupId([32; 16]);
    for _ in 0..3 {
        client.sync1(&busy, ask(nowhere, 0, 0));
    }
    let r = client
        .try_sync(&busy, vec![ask(nowhere, 0, 0)])
        .unwrap_err();
    assert_eq!((r.status, r.body.code), (429, Code::RateLimited));
    assert!(r.retry_after.is_some(), "says when to come back");
    // Another device is unaffected.
    let reply = client.sync1(&calm, ask(nowhere, 0, 0));
    assert_eq!(reply.refused.map(|o| o.code), Some(Code::UnknownGroup));
    // Joins are limited by address.
    for _ in 0..3 {
        let r = client.join(&registration(&calm, &code(9))).unwrap_err();
        assert_eq!(r.body.code, Code::InviteUnknown);
    }
    let r = client.join(&registration(&calm, &code(9))).unwrap_err();
    assert_eq!((r.status, r.body.code), (429, Code::RateLimited));
    // After a second, the busy device has a token again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    client.sync1(&busy, ask(nowhere, 0, 0));
}
