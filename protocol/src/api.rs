//! The relay's HTTP API as data: one sync call for all of a device's groups, and a join call.
//!
//! `POST /v1/sync` takes a [`SyncRequest`] signed by the device and returns a [`SyncResponse`]:
//! everything the device uploads (log operations, envelopes, a snapshot) and everything it is
//! missing (log operations after its log length, envelopes after its cursor, or a snapshot plus
//! the tail) travel in the same round trip. `POST /v1/join` registers a joiner with an invite.
//! Bodies are CBOR (`application/cbor`). A request the relay cannot take at all gets a 4xx
//! status and an [`ErrorBody`] in JSON; a refusal of one item inside an accepted request comes
//! back as an [`Outcome`] for that item, and the rest of the request still counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::{Direct, Envelope, Snapshot};
use crate::ids::{Domain, Signed, Signer};
use crate::membership::SignedJoin;
use crate::wire::{self, WireError};
use crate::{DeviceId, GroupId};

pub const SYNC_PATH: &str = "/v1/sync";
pub const JOIN_PATH: &str = "/v1/join";
pub const HEALTH_PATH: &str = "/health";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "d")]
    pub device: DeviceId,
    /// The device's clock; logged, never trusted for ordering.
    #[serde(rename = "t")]
    pub at: i64,
    #[serde(rename = "g")]
    pub groups: Vec<GroupSync>,
}

impl SyncRequest {
    pub fn sign(&self, signer: &dyn Signer) -> Signed {
        Signed::new(signer, Domain::Sync, wire::encode(self))
    }

    pub fn open(signed: &Signed) -> Result<SyncRequest, ApiError> {
        let r: SyncRequest = wire::decode("sync request", &signed.bytes)?;
        wire::check_version("sync request", r.v)?;
        if !signed.verify(Domain::Sync, &r.device) {
            return Err(ApiError::BadSignature);
        }
        Ok(r)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("the sync request's signature does not verify")]
    BadSignature,
}

/// One group's part of a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSync {
    #[serde(rename = "g")]
    pub group: GroupId,
    /// How many membership operations the device has.
    #[serde(rename = "l")]
    pub log_len: u64,
    /// The last envelope cursor the device has received (0: none).
    #[serde(rename = "c")]
    pub cursor: u64,
    /// Membership operations to append, in order.
    #[serde(rename = "o", default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<Signed>,
    /// Envelopes to store, in the authors' sequence order.
    #[serde(rename = "u", default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<Envelope>,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// Ask for every author's newest stored sequence number (a moderator about to remove).
    #[serde(rename = "q", default, skip_serializing_if = "std::ops::Not::not")]
    pub want_seqs: bool,
    /// Send envelopes, not a snapshot: the device refused the snapshot it was offered (one
    /// that does not verify), and catches up from the envelopes instead.
    #[serde(rename = "z", default, skip_serializing_if = "std::ops::Not::not")]
    pub no_snapshot: bool,
    /// Direct notes from this device to other members of the group.
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    pub directs: Vec<Direct>,
    /// The newest direct note to this device in this group that it has safely stored; the
    /// relay deletes those up to here and sends what is newer.
    #[serde(rename = "k", default)]
    pub direct_cursor: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "g")]
    pub groups: Vec<GroupReply>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReply {
    #[serde(rename = "g")]
    pub group: GroupId,
    /// Set when the relay serves nothing for this group to this device.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Outcome>,
    /// Membership operations after the device's `log_len`.
    #[serde(rename = "l", default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<Signed>,
    /// One outcome per uploaded operation, in order.
    #[serde(rename = "o", default, skip_serializing_if = "Vec::is_empty")]
    pub op_outcomes: Vec<Outcome>,
    /// One outcome per uploaded envelope, in order.
    #[serde(rename = "u", default, skip_serializing_if = "Vec::is_empty")]
    pub upload_outcomes: Vec<Outcome>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub snapshot_outcome: Option<Outcome>,
    /// The newest envelope sequence number the relay holds from this device in this group.
    #[serde(rename = "a")]
    pub stored_seq: u64,
    /// A snapshot to load before `envelopes`, when that is cheaper than the envelopes it covers.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    #[serde(rename = "e", default, skip_serializing_if = "Vec::is_empty")]
    pub envelopes: Vec<Envelope>,
    /// The cursor to send next time.
    #[serde(rename = "c")]
    pub cursor: u64,
    /// More envelopes are waiting than fitted in this response.
    #[serde(rename = "m", default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    /// Registrations waiting for a moderator (sent to moderators only).
    #[serde(rename = "j", default, skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<SignedJoin>,
    /// The relay would like this device to upload a snapshot of the newest chapter.
    #[serde(rename = "w", default, skip_serializing_if = "std::ops::Not::not")]
    pub snapshot_wanted: bool,
    /// Every author's newest stored sequence number, when asked for.
    #[serde(rename = "s", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seqs: BTreeMap<DeviceId, u64>,
    /// One outcome per uploaded direct note, in order.
    #[serde(rename = "do", default, skip_serializing_if = "Vec::is_empty")]
    pub direct_outcomes: Vec<Outcome>,
    /// Direct notes to this device after its direct cursor, oldest first, with their numbers.
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    pub directs: Vec<(u64, Direct)>,
    /// More direct notes wait than fitted in this reply.
    #[serde(rename = "dm", default, skip_serializing_if = "std::ops::Not::not")]
    pub more_directs: bool,
}

/// What happened to one uploaded item, or why a group or request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    #[serde(rename = "k")]
    pub code: Code,
    #[serde(rename = "r", default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Outcome {
    pub fn ok(code: Code) -> Outcome {
        Outcome {
            code,
            reason: String::new(),
        }
    }
    pub fn refused(code: Code, reason: impl Into<String>) -> Outcome {
        Outcome {
            code,
            reason: reason.into(),
        }
    }
    pub fn is_ok(&self) -> bool {
        matches!(self.code, Code::Stored | Code::Duplicate)
    }
}

/// Outcome and error codes. Stable strings: clients branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// Durably stored.
    Stored,
    /// Already held, byte for byte; nothing changed.
    Duplicate,
    Malformed,
    TooLarge,
    Version,
    BadSignature,
    UnknownGroup,
    NotMember,
    NotModerator,
    /// Encrypted under an epoch that is no longer current: re-seal under the newest key.
    StaleEpoch,
    /// The membership log moved on: fetch it and re-apply.
    LogConflict,
    /// A membership operation the log refuses.
    LogInvalid,
    /// An envelope sequence number that does not follow the author's last one.
    Gap,
    /// A different envelope already holds this sequence number.
    SeqConflict,
    InviteUnknown,
    InviteUsed,
    InviteExpired,
    InviteRevoked,
    AlreadyMember,
    Full,
    RateLimited,
    GroupExists,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Stored => "stored",
            Code::Duplicate => "duplicate",
            Code::Malformed => "malformed",
            Code::TooLarge => "too_large",
            Code::Version => "version",
            Code::BadSignature => "bad_signature",
            Code::UnknownGroup => "unknown_group",
            Code::NotMember => "not_member",
            Code::NotModerator => "not_moderator",
            Code::StaleEpoch => "stale_epoch",
            Code::LogConflict => "log_conflict",
            Code::LogInvalid => "log_invalid",
            Code::Gap => "gap",
            Code::SeqConflict => "seq_conflict",
            Code::InviteUnknown => "invite_unknown",
            Code::InviteUsed => "invite_used",
            Code::InviteExpired => "invite_expired",
            Code::InviteRevoked => "invite_revoked",
            Code::AlreadyMember => "already_member",
            Code::Full => "full",
            Code::RateLimited => "rate_limited",
            Code::GroupExists => "group_exists",
            Code::Internal => "internal",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of a 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: Code,
    pub reason: String,
}

/// The answer to a join: which group the invite belongs to, and its log so the joiner can
/// verify the invite and watch for her admission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinReply {
    #[serde(rename = "g")]
    pub group: GroupId,
    #[serde(rename = "l")]
    pub log: Vec<Signed>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::KeyPairSigner;

    #[test]
    fn an_idle_sync_is_small() {
        let k = KeyPairSigner::from_seed(&[1; 32]);
        let req = SyncRequest {
            v: 1,
            device: k.device(),
            at: 1_700_000_000_000,
            groups: vec![GroupSync {
                group: GroupId([2; 16]),
                log_len: 4,
                cursor: 1234,
                ..Default::default()
            }],
        };
        let signed = req.sign(&k);
        let bytes = wire::encode(&signed);
        assert!(bytes.len() < 180, "{} bytes", bytes.len());
        assert_eq!(SyncRequest::open(&signed).unwrap(), req);
        let mut forged = signed.clone();
        forged.sig = KeyPairSigner::from_seed(&[9; 32]).sign_raw(&forged.bytes);
        assert_eq!(SyncRequest::open(&forged), Err(ApiError::BadSignature));
    }

    #[test]
    fn codes_are_stable_strings() {
        let json = wire::encode(&Outcome::ok(Code::StaleEpoch));
        let back: Outcome = wire::decode("outcome", &json).unwrap();
        assert_eq!(back.code.as_str(), "stale_epoch");
    }
}
