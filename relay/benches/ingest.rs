//! Relay benchmark over real HTTP on loopback, printing figures (not a timed test).
//!
//! 1. Ingest: client threads upload realistic envelopes (400-byte bodies) into the SQLite store,
//!    in batches of 1 and of 10 per request; every envelope is acknowledged only after its
//!    transaction committed with `synchronous=FULL`, so this measures durable envelopes/s.
//! 2. Sync latency: 200 concurrent clients (20 groups of 10 members) each doing idle-ish syncs
//!    (caught up; now and then one new envelope), p50/p90/p99.
//!
//! `cargo bench -p hearth-relay --bench ingest` for the full run, `-- --quick` for a smoke run.
//! Client and relay share the machine's cores, so the figures are a floor for the relay alone.

use std::io::Read;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hearth_protocol::api::{GroupSync, JoinReply, SyncRequest, SyncResponse};
use hearth_protocol::envelope::{body_hash, Envelope, EnvelopeHeader};
use hearth_protocol::ids::{KeyPairSigner, Signer};
use hearth_protocol::invite::InviteCode;
use hearth_protocol::membership::{
    sign_op, EpochKeys, JoinRequest, Membership, Op, OpBody, SealedKey, SignedJoin,
};
use hearth_protocol::wire;
use hearth_protocol::{AgreementKey, DeviceId, GroupId, Hash, Role};
use hearth_relay::{spawn, Config};

const BODY: usize = 400;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let dir = tempfile::tempdir().expect("temporary directory");
    let relay = spawn(Config {
        rate_per_sec: 0.0,
        ..Config::for_tests(&dir.path().join("bench.db"))
    })
    .expect("relay starts");
    let base = relay.url();
    println!(
        "hearth-relay benchmark{} — loopback HTTP, SQLite WAL synchronous=FULL, {} cores shared by clients and relay",
        if quick { " (quick)" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Phones are many and each mostly waits on its network: the relay sees many concurrent
    // requests, and group commit turns that concurrency into throughput.
    let threads = flag("--clients").unwrap_or(32);
    let (requests_1, requests_10) = if quick { (60, 15) } else { (400, 150) };
    ingest(&base, 1, threads, requests_1, 1);
    ingest(&base, 10, threads, requests_10, 2);
    latency(&base, 200, if quick { 3 } else { 15 });

    relay.shutdown().expect("relay stops cleanly");
    let size = std::fs::metadata(dir.path().join("bench.db")).map_or(0, |m| m.len());
    println!("database after the run: {:.1} MB", size as f64 / 1e6);
}

struct Client {
    url: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(base: &str) -> Client {
        Client {
            url: format!("{base}/v1/sync"),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(120))
                .build(),
        }
    }

    fn post(&self, url: &str, body: &[u8]) -> Vec<u8> {
        let resp = self
            .agent
            .post(url)
            .set("content-type", "application/cbor")
            .send_bytes(body)
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let mut out = Vec::new();
        resp.into_reader()
            .read_to_end(&mut out)
            .expect("response body");
        out
    }

    fn sync(&self, device: &KeyPairSigner, groups: Vec<GroupSync>) -> (SyncResponse, usize) {
        let request = SyncRequest {
            v: 1,
            device: device.device(),
            at: 0,
            groups,
        };
        let body = wire::encode(&request.sign(device));
        let bytes = self.post(&self.url, &body);
        let response = wire::decode("sync response", &bytes).expect("a sync response");
        (response, body.len() + bytes.len())
    }
}

fn key(group: u32, member: u32) -> KeyPairSigner {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&group.to_le_bytes());
    seed[4..8].copy_from_slice(&member.to_le_bytes());
    seed[8] = 0xb0;
    KeyPairSigner::from_seed(&seed)
}

fn group_id(n: u32) -> GroupId {
    let mut id = [0x6b; 16];
    id[..4].copy_from_slice(&n.to_le_bytes());
    GroupId(id)
}

fn sealed_to(number: u32, devices: impl IntoIterator<Item = DeviceId>) -> EpochKeys {
    EpochKeys {
        number,
        sealed: devices
            .into_iter()
            .map(|device| SealedKey {
                device,
                enc: vec![1; 32],
                ct: vec![2; 48],
            })
            .collect(),
    }
}

/// Creates a group with `moderator` and admits `members` (invite, registration, admission).
fn make_group(
    client: &Client,
    base: &str,
    group: GroupId,
    moderator: &KeyPairSigner,
    members: &[KeyPairSigner],
) -> Membership {
    let mut state: Option<Membership> = None;
    let push = |by: &KeyPairSigner, body: OpBody, state: &mut Option<Membership>| {
        let (index, prev) = state.as_ref().map_or((0, Hash::ZERO), |m| (m.len, m.head));
        let signed = sign_op(
            by,
            &Op {
                v: 1,
                group,
                index,
                prev,
                author: by.device(),
                at: 1,
                body,
            },
        );
        match state {
            Some(m) => {
                m.apply(&signed).expect("valid operation");
            }
            None => *state = Some(Membership::genesis(&signed).expect("valid creation")),
        }
        let (reply, _) = client.sync(
            moderator,
            vec![GroupSync {
                group,
                log_len: u64::MAX,
                ops: vec![signed],
                ..GroupSync::default()
            }],
        );
        let outcome = &reply.groups[0].op_outcomes[0];
        assert!(outcome.is_ok(), "{outcome:?}");
    };
    push(
        moderator,
        OpBody::Create {
            capacity: 30,
            agreement: AgreementKey([1; 32]),
            epoch: sealed_to(1, [moderator.device()]),
        },
        &mut state,
    );
    for (i, member) in members.iter().enumerate() {
        let mut code = [0u8; 10];
        code[..4].copy_from_slice(&group.0[..4]);
        code[4..8].copy_from_slice(&(i as u32).to_le_bytes());
        let keys = InviteCode::from_bytes(code).keys();
        push(
            moderator,
            OpBody::Invite {
                invite: keys.id(),
                role: Role::Mother,
                expires_at: i64::MAX,
                details: vec![],
            },
            &mut state,
        );
        let join = SignedJoin::new(
            member,
            &keys.signer,
            &JoinRequest {
                v: 1,
                invite: keys.id(),
                device: member.device(),
                agreement: AgreementKey([3; 32]),
                intro: vec![],
                at: 1,
            },
        );
        let reply: JoinReply = wire::decode(
            "join reply",
            &client.post(&format!("{base}/v1/join"), &wire::encode(&join)),
        )
        .expect("a join reply");
        assert_eq!(reply.group, group);
        let m = state.as_ref().expect("created");
        let mut to: Vec<DeviceId> = m.members.keys().copied().collect();
        to.push(member.device());
        let epoch = sealed_to(m.epoch + 1, to);
        push(moderator, OpBody::Admit { join, epoch }, &mut state);
    }
    state.expect("created")
}

struct Chain {
    group: GroupId,
    seq: u64,
    prev: Hash,
}

impl Chain {
    fn next(&mut self, key: &KeyPairSigner, epoch: u32) -> Envelope {
        self.seq += 1;
        let mut body = vec![0x42u8; BODY];
        body[..8].copy_from_slice(&self.seq.to_le_bytes());
        let env = Envelope::seal(
            key,
            &EnvelopeHeader {
                v: 1,
                group: self.group,
                epoch,
                author: key.device(),
                seq: self.seq,
                prev: self.prev,
                body_hash: body_hash(&body),
                chapters: vec![epoch],
            },
            body,
        );
        self.prev = env.id();
        env
    }
}

fn ingest(base: &str, batch: usize, threads: u32, requests: usize, round: u32) {
    // Each thread is one member of its own group, uploading a chain of envelopes sealed in
    // advance (sealing is the phone's work, not the relay's).
    let setup = Client::new(base);
    let mut work = Vec::new();
    for t in 0..threads {
        let n = round * 1000 + t;
        let author = key(n, 0);
        let group = group_id(n);
        make_group(&setup, base, group, &author, &[]);
        let mut chain = Chain {
            group,
            seq: 0,
            prev: Hash::ZERO,
        };
        let envelopes: Vec<Envelope> = (0..requests * batch)
            .map(|_| chain.next(&author, 1))
            .collect();
        work.push((author, group, envelopes));
    }
    let start = Arc::new(Barrier::new(threads as usize + 1));
    let handles: Vec<_> = work
        .into_iter()
        .map(|(author, group, envelopes)| {
            let start = start.clone();
            let client = Client::new(base);
            std::thread::spawn(move || {
                start.wait();
                let mut cursor = 0;
                let mut latencies = Vec::new();
                for chunk in envelopes.chunks(batch) {
                    let t0 = Instant::now();
                    let (reply, _) = client.sync(
                        &author,
                        vec![GroupSync {
                            group,
                            log_len: 1,
                            cursor,
                            uploads: chunk.to_vec(),
                            ..GroupSync::default()
                        }],
                    );
                    latencies.push(t0.elapsed());
                    let g = &reply.groups[0];
                    assert!(
                        g.upload_outcomes
                            .iter()
                            .all(|o| o.code.as_str() == "stored"),
                        "{:?}",
                        g.upload_outcomes
                    );
                    cursor = g.cursor;
                }
                latencies
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let mut latencies: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect();
    let elapsed = t0.elapsed();
    let total = threads as usize * requests * batch;
    latencies.sort();
    println!(
        "ingest, batches of {batch:>2}: {total:>6} envelopes from {threads} clients in {:>5.2} s = {:>6.0} envelopes/s ({:.0} requests/s; request p50 {:.1} ms, p99 {:.1} ms)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        (threads as usize * requests) as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
    );
}

fn latency(base: &str, clients: usize, rounds: usize) {
    let per_group = 10;
    let groups = clients / per_group;
    let setup = Client::new(base);
    let mut members = Vec::new();
    for g in 0..groups {
        let n = 9000 + g as u32;
        let group = group_id(n);
        let moderator = key(n, 0);
        let others: Vec<KeyPairSigner> = (1..per_group as u32).map(|i| key(n, i)).collect();
        let state = make_group(&setup, base, group, &moderator, &others);
        let log_len = state.len;
        // A little history, so a caught-up device has a real cursor.
        let mut chain = Chain {
            group,
            seq: 0,
            prev: Hash::ZERO,
        };
        let history: Vec<Envelope> = (0..5)
            .map(|_| chain.next(&moderator, state.epoch))
            .collect();
        setup.sync(
            &moderator,
            vec![GroupSync {
                group,
                log_len,
                cursor: u64::MAX,
                uploads: history,
                ..GroupSync::default()
            }],
        );
        members.push((moderator, group, log_len, state.epoch, Some(chain)));
        for other in others {
            members.push((other, group, log_len, state.epoch, None));
        }
    }

    let start = Arc::new(Barrier::new(members.len() + 1));
    let handles: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(i, (key, group, log_len, epoch, mut chain))| {
            let start = start.clone();
            let client = Client::new(base);
            std::thread::spawn(move || {
                let mut cursor = 0;
                // Catch up first (not measured), as a phone coming online would.
                loop {
                    let (reply, _) = client.sync(&key, vec![idle(group, log_len, cursor)]);
                    cursor = reply.groups[0].cursor;
                    if !reply.groups[0].more {
                        break;
                    }
                }
                start.wait();
                let mut latencies = Vec::new();
                let mut bytes = 0;
                let mut jitter = i as u64 * 7919;
                for _ in 0..rounds {
                    jitter = jitter.wrapping_mul(6364136223846793005).wrapping_add(1);
                    std::thread::sleep(Duration::from_millis(jitter >> 58));
                    let mut ask = idle(group, log_len, cursor);
                    // Idle-ish: the moderators post now and then.
                    if let Some(chain) = chain.as_mut() {
                        ask.uploads = vec![chain.next(&key, epoch)];
                    }
                    let t0 = Instant::now();
                    let (reply, size) = client.sync(&key, vec![ask]);
                    latencies.push(t0.elapsed());
                    bytes += size;
                    cursor = reply.groups[0].cursor;
                }
                (latencies, bytes)
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let mut latencies = Vec::new();
    let mut bytes = 0;
    for h in handles {
        let (l, b) = h.join().expect("client thread");
        latencies.extend(l);
        bytes += b;
    }
    let elapsed = t0.elapsed();
    latencies.sort();
    println!(
        "sync latency, {clients} concurrent clients ({groups} groups of {per_group}), {} syncs in {:.2} s ({:.0}/s, {:.0} bytes each way on average): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        bytes as f64 / latencies.len() as f64 / 2.0,
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
}

/// `--name N` from the command line.
fn flag(name: &str) -> Option<u32> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn idle(group: GroupId, log_len: u64, cursor: u64) -> GroupSync {
    GroupSync {
        group,
        log_len,
        cursor,
        ..GroupSync::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
