//! Fixtures for the relay's HTTP tests: devices, a moderator's view of a membership log,
//! envelope chains, and a small blocking client over real HTTP on loopback.
//!
//! Sealed epoch keys, invite details and envelope bodies are arbitrary bytes: the relay never
//! opens them, which is the point.

#![allow(dead_code)]

use std::io::Read;
use std::time::Duration;

use hearth_protocol::api::{
    ErrorBody, GroupReply, GroupSync, JoinReply, SyncRequest, SyncResponse,
};
use hearth_protocol::envelope::{body_hash, Envelope, EnvelopeHeader, Snapshot, SnapshotHeader};
use hearth_protocol::ids::{KeyPairSigner, Signed, Signer};
use hearth_protocol::invite::InviteCode;
use hearth_protocol::membership::{
    sign_op, EpochKeys, JoinRequest, Membership, Op, OpBody, SealedKey, SignedJoin,
};
use hearth_protocol::wire;
use hearth_protocol::{AgreementKey, DeviceId, GroupId, Hash, Role};

pub fn key(n: u8) -> KeyPairSigner {
    KeyPairSigner::from_seed(&[n; 32])
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// An HTTP answer that was not 2xx.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub body: ErrorBody,
    pub retry_after: Option<String>,
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    /// POSTs raw bytes; `Ok((status, body))` for 2xx, `Err` with the JSON error body otherwise.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), Refusal> {
        let url = format!("{}{path}", self.base);
        match self
            .agent
            .post(&url)
            .set("content-type", "application/cbor")
            .send_bytes(body)
        {
            Ok(resp) => {
                assert_eq!(resp.content_type(), "application/cbor");
                let status = resp.status();
                let mut out = Vec::new();
                resp.into_reader().read_to_end(&mut out).unwrap();
                Ok((status, out))
            }
            Err(ureq::Error::Status(status, resp)) => Err(refusal(status, resp)),
            Err(e) => panic!("POST {url}: {e}"),
        }
    }

    pub fn get(&self, path: &str) -> Result<(u16, String), Refusal> {
        let url = format!("{}{path}", self.base);
        match self.agent.get(&url).call() {
            Ok(resp) => {
                let status = resp.status();
                Ok((status, resp.into_string().unwrap()))
            }
            Err(ureq::Error::Status(status, resp)) => Err(refusal(status, resp)),
            Err(e) => panic!("GET {url}: {e}"),
        }
    }

    pub fn try_sync(
        &self,
        device: &KeyPairSigner,
        groups: Vec<GroupSync>,
    ) -> Result<SyncResponse, Refusal> {
        let request = SyncRequest {
            v: 1,
            device: device.device(),
            at: now_ms(),
            groups,
        };
        let body = wire::encode(&request.sign(device));
        let (status, bytes) = self.post("/v1/sync", &body)?;
        assert_eq!(status, 200);
        let response: SyncResponse = wire::decode("sync response", &bytes).unwrap();
        assert_eq!(response.v, 1);
        Ok(response)
    }

    pub fn sync(&self, device: &KeyPairSigner, groups: Vec<GroupSync>) -> SyncResponse {
        let n = groups.len();
        let response = self
            .try_sync(device, groups)
            .unwrap_or_else(|r| panic!("sync refused: {r:?}"));
        assert_eq!(response.groups.len(), n, "one reply per group");
        response
    }

    /// Syncs one group and returns its reply.
    pub fn sync1(&self, device: &KeyPairSigner, group: GroupSync) -> GroupReply {
        let want = group.group;
        let reply = self.sync(device, vec![group]).groups.remove(0);
        assert_eq!(reply.group, want);
        reply
    }

    pub fn join(&self, join: &SignedJoin) -> Result<JoinReply, Refusal> {
        let (status, bytes) = self.post("/v1/join", &wire::encode(join))?;
        assert_eq!(status, 200);
        Ok(wire::decode("join reply", &bytes).unwrap())
    }
}

fn refusal(status: u16, resp: ureq::Response) -> Refusal {
    assert_eq!(
        resp.content_type(),
        "application/json",
        "error answers are JSON (status {status})"
    );
    let retry_after = resp.header("retry-after").map(str::to_string);
    let text = resp.into_string().unwrap();
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("error body {text:?} is not an ErrorBody: {e}"));
    Refusal {
        status,
        body,
        retry_after,
    }
}

/// A `GroupSync` asking for everything after `log_len` and `cursor`.
pub fn ask(group: GroupId, log_len: u64, cursor: u64) -> GroupSync {
    GroupSync {
        group,
        log_len,
        cursor,
        ..GroupSync::default()
    }
}

pub fn sealed_to(number: u32, devices: impl IntoIterator<Item = DeviceId>) -> EpochKeys {
    EpochKeys {
        number,
        sealed: devices
            .into_iter()
            .map(|device| SealedKey {
                device,
                enc: vec![0xee; 32],
                ct: vec![0xcc; 48],
            })
            .collect(),
    }
}

/// A moderator's view of a group's membership log, built alongside the relay's.
#[derive(Clone)]
pub struct Log {
    pub group: GroupId,
    pub ops: Vec<Signed>,
    pub state: Membership,
}

impl Log {
    pub fn create(by: &KeyPairSigner, group: GroupId, capacity: u32) -> Log {
        let op = Op {
            v: 1,
            group,
            index: 0,
            prev: Hash::ZERO,
            author: by.device(),
            at: now_ms(),
            body: OpBody::Create {
                capacity,
                agreement: AgreementKey([1; 32]),
                epoch: sealed_to(1, [by.device()]),
            },
        };
        let signed = sign_op(by, &op);
        let state = Membership::genesis(&signed).unwrap();
        Log {
            group,
            ops: vec![signed],
            state,
        }
    }

    pub fn len(&self) -> u64 {
        self.state.len
    }

    pub fn epoch(&self) -> u32 {
        self.state.epoch
    }

    /// Signs `body` as the next operation without applying it.
    pub fn op_at(&self, by: &KeyPairSigner, body: OpBody, at: i64) -> Signed {
        sign_op(
            by,
            &Op {
                v: 1,
                group: self.group,
                index: self.state.len,
                prev: self.state.head,
                author: by.device(),
                at,
                body,
            },
        )
    }

    pub fn op(&self, by: &KeyPairSigner, body: OpBody) -> Signed {
        self.op_at(by, body, now_ms())
    }

    /// Applies `signed` locally (it must be valid) and returns it for uploading.
    pub fn push(&mut self, signed: Signed) -> Signed {
        self.state.apply(&signed).unwrap();
        self.ops.push(signed.clone());
        signed
    }

    fn members_with(&self, plus: Option<DeviceId>, minus: Option<DeviceId>) -> Vec<DeviceId> {
        let mut v: Vec<DeviceId> = self
            .state
            .members
            .keys()
            .copied()
            .filter(|d| Some(*d) != minus)
            .collect();
        v.extend(plus);
        v
    }

    pub fn invite(&mut self, by: &KeyPairSigner, code: &InviteCode, role: Role) -> Signed {
        let body = OpBody::Invite {
            invite: code.keys().id(),
            role,
            expires_at: now_ms() + DAY_MS,
            details: vec![0xde; 24],
        };
        let op = self.op(by, body);
        self.push(op)
    }

    pub fn admit(&mut self, by: &KeyPairSigner, join: &SignedJoin) -> Signed {
        let device = join.verify().unwrap().device;
        let epoch = sealed_to(self.epoch() + 1, self.members_with(Some(device), None));
        let op = self.op(
            by,
            OpBody::Admit {
                join: join.clone(),
                epoch,
            },
        );
        self.push(op)
    }

    pub fn remove_op(&self, by: &KeyPairSigner, device: DeviceId, final_seq: u64) -> Signed {
        let epoch = sealed_to(self.epoch() + 1, self.members_with(None, Some(device)));
        self.op(
            by,
            OpBody::Remove {
                device,
                final_seq,
                epoch,
            },
        )
    }

    pub fn rotate_op(&self, by: &KeyPairSigner) -> Signed {
        let epoch = sealed_to(self.epoch() + 1, self.members_with(None, None));
        self.op(by, OpBody::Rotate { epoch })
    }
}

pub fn registration(device: &KeyPairSigner, code: &InviteCode) -> SignedJoin {
    let keys = code.keys();
    SignedJoin::new(
        device,
        &keys.signer,
        &JoinRequest {
            v: 1,
            invite: keys.id(),
            device: device.device(),
            agreement: AgreementKey([7; 32]),
            intro: vec![0x1a; 20],
            at: now_ms(),
        },
    )
}

pub fn code(n: u8) -> InviteCode {
    InviteCode::from_bytes([n; 10])
}

/// One author's envelope chain in one group.
pub struct Author<'k> {
    pub key: &'k KeyPairSigner,
    pub group: GroupId,
    pub seq: u64,
    pub prev: Hash,
}

impl<'k> Author<'k> {
    pub fn new(key: &'k KeyPairSigner, group: GroupId) -> Author<'k> {
        Author {
            key,
            group,
            seq: 0,
            prev: Hash::ZERO,
        }
    }

    /// Seals the next envelope (`body_len` bytes of pretend ciphertext) and advances the chain.
    pub fn next(&mut self, epoch: u32, chapters: &[u32], body_len: usize) -> Envelope {
        let env = self.peek(epoch, chapters, body_len, 0);
        self.seq += 1;
        self.prev = env.id();
        env
    }

    /// The next envelope without advancing; `salt` makes a different one with the same number.
    pub fn peek(&self, epoch: u32, chapters: &[u32], body_len: usize, salt: u8) -> Envelope {
        let seq = self.seq + 1;
        let mut body = vec![salt; body_len];
        for (i, b) in body.iter_mut().enumerate().take(8) {
            *b ^= (seq >> (8 * i)) as u8;
        }
        let header = EnvelopeHeader {
            v: 1,
            group: self.group,
            epoch,
            author: self.key.device(),
            seq,
            prev: self.prev,
            body_hash: body_hash(&body),
            chapters: chapters.to_vec(),
        };
        Envelope::seal(self.key, &header, body)
    }
}

pub fn snapshot(
    maker: &KeyPairSigner,
    group: GroupId,
    epoch: u32,
    chapter: u32,
    covers: u64,
    body_len: usize,
) -> Snapshot {
    let body = vec![0x5a; body_len];
    Snapshot::seal(
        maker,
        &SnapshotHeader {
            v: 1,
            group,
            epoch,
            chapter,
            maker: maker.device(),
            covers,
            body_hash: body_hash(&body),
        },
        body,
    )
}

/// Uploads ops for `group` as `device` and returns their outcomes' codes.
pub fn upload_ops(
    client: &Client,
    device: &KeyPairSigner,
    group: GroupId,
    ops: Vec<Signed>,
) -> Vec<String> {
    // A log length beyond any log: the reply carries no operations back.
    let reply = client.sync1(
        device,
        GroupSync {
            ops,
            ..ask(group, u64::MAX, 0)
        },
    );
    assert!(reply.refused.is_none(), "{:?}", reply.refused);
    reply
        .op_outcomes
        .iter()
        .map(|o| o.code.as_str().to_string())
        .collect()
}

/// Creates a group at the relay with `moderator` and admits each of `members` through an
/// invite and a real registration. Returns the log as the moderator has it.
pub fn group_with(
    client: &Client,
    moderator: &KeyPairSigner,
    group: GroupId,
    members: &[(&KeyPairSigner, Role)],
) -> Log {
    let mut log = Log::create(moderator, group, 30);
    let created = log.ops[0].clone();
    assert_eq!(
        upload_ops(client, moderator, group, vec![created]),
        ["stored"]
    );
    for (i, (member, role)) in members.iter().enumerate() {
        let code = code(100 + group.0[0].wrapping_add(i as u8));
        let invite = log.invite(moderator, &code, *role);
        let join = registration(member, &code);
        assert_eq!(
            upload_ops(client, moderator, group, vec![invite]),
            ["stored"]
        );
        client.join(&join).unwrap();
        let admit = log.admit(moderator, &join);
        assert_eq!(
            upload_ops(client, moderator, group, vec![admit]),
            ["stored"]
        );
    }
    log
}

pub fn codes(outcomes: &[hearth_protocol::api::Outcome]) -> Vec<&'static str> {
    outcomes.iter().map(|o| o.code.as_str()).collect()
}
