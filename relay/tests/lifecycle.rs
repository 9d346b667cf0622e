//! Stopping and concurrency: a shutdown lets requests in flight finish (and what they were
//! told is stored, is), and many devices writing at once all get distinct, dense cursors.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use hearth_protocol::api::{GroupSync, SyncRequest, SyncResponse};
use hearth_protocol::ids::Signer;
use hearth_protocol::wire;
use hearth_protocol::{GroupId, Role};
use hearth_relay::spawn_for_tests;

/// Reads one HTTP/1.1 response with a Content-Length body: (status, body).
fn read_response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let (head_end, length) = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before a response");
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..i]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap())
                .unwrap();
            break (i + 4, length);
        }
    };
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed inside the body");
        raw.extend_from_slice(&buf[..n]);
    }
    let status = String::from_utf8_lossy(&raw[9..12]).parse().unwrap();
    (status, raw[head_end..head_end + length].to_vec())
}

#[test]
fn a_shutdown_finishes_requests_in_flight_and_keeps_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let (ruth, amina) = (key(1), key(2));
    let group = GroupId([40; 16]);
    let relay = spawn_for_tests(&db);
    let addr = relay.addr();
    let log = group_with(
        &Client::new(&relay.url()),
        &ruth,
        group,
        &[(&amina, Role::Mother)],
    );

    let mut chain = Author::new(&amina, group);
    let envelope = chain.next(2, &[2], 400);
    let body = wire::encode(
        &SyncRequest {
            v: 1,
            device: amina.device(),
            at: now_ms(),
            groups: vec![GroupSync {
                uploads: vec![envelope.clone()],
                ..ask(group, log.len(), 0)
            }],
        }
        .sign(&amina),
    );
    // A slow phone: the headers and half the body are in when the relay is told to stop.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /v1/sync HTTP/1.1\r\nHost: relay\r\nContent-Type: application/cbor\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let stopping = std::thread::spawn(move || relay.shutdown());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !stopping.is_finished(),
        "the relay waits for the request in flight"
    );
    assert!(
        TcpStream::connect(addr).is_err(),
        "no new connections once stopping"
    );

    stream.write_all(&body[half..]).unwrap();
    let (status, bytes) = read_response(&mut stream);
    assert_eq!(status, 200);
    let response: SyncResponse = wire::decode("sync response", &bytes).unwrap();
    assert_eq!(codes(&response.groups[0].upload_outcomes), ["stored"]);
    drop(stream);
    stopping.join().unwrap().unwrap();

    let relay = spawn_for_tests(&db);
    let read = Client::new(&relay.url()).sync1(&ruth, ask(group, log.len(), 0));
    assert_eq!(read.envelopes, vec![envelope], "acknowledged, so stored");
}

#[test]
fn devices_writing_at_once_get_distinct_dense_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let relay = spawn_for_tests(&dir.path().join("relay.db"));
    let group = GroupId([41; 16]);
    let moderator = key(1);
    let members: Vec<_> = (2..10u8).map(key).collect();
    let with_roles: Vec<_> = members.iter().map(|k| (k, Role::Mother)).collect();
    let log = group_with(&Client::new(&relay.url()), &moderator, group, &with_roles);
    let epoch = log.epoch();
    let url = relay.url();
    std::thread::scope(|s| {
        for member in &members {
            let url = url.clone();
            let log_len = log.len();
            s.spawn(move || {
                let client = Client::new(&url);
                let mut chain = Author::new(member, group);
                for _ in 0..10 {
                    let reply = client.sync1(
                        member,
                        GroupSync {
                            uploads: vec![chain.next(epoch, &[epoch], 200)],
                            ..ask(group, log_len, u64::MAX)
                        },
                    );
                    assert_eq!(codes(&reply.upload_outcomes), ["stored"]);
                }
            });
        }
    });
    let client = Client::new(&url);
    let mut cursor = 0;
    let mut all = Vec::new();
    loop {
        let page = client.sync1(&moderator, ask(group, log.len(), cursor));
        all.extend(page.envelopes);
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(all.len(), 80);
    assert_eq!(cursor, 80, "one cursor per envelope, no holes");
    let seqs = client
        .sync1(
            &moderator,
            GroupSync {
                want_seqs: true,
                ..ask(group, log.len(), cursor)
            },
        )
        .seqs;
    assert_eq!(seqs.len(), 8);
    assert!(seqs.values().all(|s| *s == 10));
}
