//! The membership log: who is in a group, with which role, under which key epoch.
//!
//! A group's membership is an append-only, hash-chained list of signed operations. Each names
//! its position and the hash of the one before, so a log cannot be reordered, forked or cut
//! short without every verifier noticing. Only a current moderator may sign one (the creator is
//! the first). Every device and the relay replay the same log through [`Membership::apply`] and
//! reach the same state; authority is verified, never merged blindly.
//!
//! Concurrency: two moderators offline may both append at the same position. The log does not
//! merge forks. The relay accepts the first operation to reach a position and refuses the other
//! with `log_conflict`; the refused moderator's device re-applies her intent on top of the new
//! head (re-checking capacity and membership, re-sealing the new epoch key to exactly the members
//! that result). Everyone ends with one chain and both intents — and a key is only ever sealed to
//! the membership that holds after every earlier operation, which a merge of two concurrent
//! epochs could not guarantee (an admission racing a removal would seal the new key to the
//! removed member).
//!
//! Key epochs: creation starts epoch 1; every admission, removal and explicit rotation starts
//! the next one, and carries the new epoch key sealed (HPKE) to every member after the operation
//! — exactly those, checked here. The sealed keys are opaque to this crate.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::{Domain, Hash, Signature, Signed, Signer};
use crate::wire::{self, WireError};
use crate::{AgreementKey, DeviceId, GroupId, Role};

/// Members a group may never exceed, whatever its stated capacity.
pub const HARD_MAX_MEMBERS: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "g")]
    pub group: GroupId,
    /// Position in the log, from 0 (the creation).
    #[serde(rename = "i")]
    pub index: u64,
    /// Hash of the previous operation's signed bytes; zero for the creation.
    #[serde(rename = "p")]
    pub prev: Hash,
    #[serde(rename = "a")]
    pub author: DeviceId,
    /// The author's clock (milliseconds since 1970) when she signed it.
    #[serde(rename = "t")]
    pub at: i64,
    #[serde(rename = "o")]
    pub body: OpBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpBody {
    /// Creates the group; the author is its first moderator.
    #[serde(rename = "create")]
    Create {
        #[serde(rename = "c")]
        capacity: u32,
        #[serde(rename = "x")]
        agreement: AgreementKey,
        #[serde(rename = "e")]
        epoch: EpochKeys,
    },
    /// A single-use invite for one person with a role, until `expires_at`.
    #[serde(rename = "invite")]
    Invite {
        #[serde(rename = "n")]
        invite: DeviceId,
        #[serde(rename = "r")]
        role: Role,
        #[serde(rename = "x")]
        expires_at: i64,
        /// Group name and inviter, sealed with the invite code's key.
        #[serde(rename = "d", with = "serde_bytes")]
        details: Vec<u8>,
    },
    /// Admits the person who registered with an invite.
    #[serde(rename = "admit")]
    Admit {
        #[serde(rename = "j")]
        join: SignedJoin,
        #[serde(rename = "e")]
        epoch: EpochKeys,
    },
    /// Removes a member. Her envelopes numbered above `final_seq` are refused everywhere.
    #[serde(rename = "remove")]
    Remove {
        #[serde(rename = "m")]
        device: DeviceId,
        #[serde(rename = "f")]
        final_seq: u64,
        #[serde(rename = "e")]
        epoch: EpochKeys,
    },
    #[serde(rename = "role")]
    SetRole {
        #[serde(rename = "m")]
        device: DeviceId,
        #[serde(rename = "r")]
        role: Role,
    },
    /// A new key epoch with no change of membership.
    #[serde(rename = "rotate")]
    Rotate {
        #[serde(rename = "e")]
        epoch: EpochKeys,
    },
    #[serde(rename = "revoke")]
    RevokeInvite {
        #[serde(rename = "n")]
        invite: DeviceId,
    },
}

impl OpBody {
    pub fn epoch(&self) -> Option<&EpochKeys> {
        match self {
            OpBody::Create { epoch, .. }
            | OpBody::Admit { epoch, .. }
            | OpBody::Remove { epoch, .. }
            | OpBody::Rotate { epoch } => Some(epoch),
            _ => None,
        }
    }
}

/// A new epoch's key, sealed to each member device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochKeys {
    #[serde(rename = "n")]
    pub number: u32,
    #[serde(rename = "s")]
    pub sealed: Vec<SealedKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    #[serde(rename = "m")]
    pub device: DeviceId,
    /// HPKE encapsulated key.
    #[serde(rename = "k", with = "serde_bytes")]
    pub enc: Vec<u8>,
    #[serde(rename = "c", with = "serde_bytes")]
    pub ct: Vec<u8>,
}

/// A joiner's registration with an invite code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "n")]
    pub invite: DeviceId,
    #[serde(rename = "m")]
    pub device: DeviceId,
    #[serde(rename = "x")]
    pub agreement: AgreementKey,
    /// Her pseudonym, sealed with the invite code's key for the moderators.
    #[serde(rename = "i", with = "serde_bytes")]
    pub intro: Vec<u8>,
    #[serde(rename = "t")]
    pub at: i64,
}

/// A registration signed twice: by the joiner's device (she asked) and by the invite key (she
/// holds the code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedJoin {
    #[serde(rename = "j")]
    pub join: Signed,
    #[serde(rename = "s")]
    pub invite_sig: Signature,
}

impl SignedJoin {
    pub fn new(device: &dyn Signer, invite: &dyn Signer, request: &JoinRequest) -> SignedJoin {
        let bytes = wire::encode(request);
        let invite_sig = crate::ids::sign(invite, Domain::InviteJoin, &bytes);
        SignedJoin {
            join: Signed::new(device, Domain::Join, bytes),
            invite_sig,
        }
    }

    /// Decodes and checks both signatures.
    pub fn verify(&self) -> Result<JoinRequest, LogError> {
        let req: JoinRequest = wire::decode("join request", &self.join.bytes)?;
        wire::check_version("join request", req.v)?;
        if !self.join.verify(Domain::Join, &req.device) {
            return Err(LogError::BadSignature("join request (device)"));
        }
        if !req
            .invite
            .verify(Domain::InviteJoin, &self.join.bytes, &self.invite_sig)
        {
            return Err(LogError::BadSignature("join request (invite code)"));
        }
        Ok(req)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("the signature on the {0} does not verify")]
    BadSignature(&'static str),
    #[error("operation is for group {found}, not {expected}")]
    WrongGroup { expected: GroupId, found: GroupId },
    #[error("operation claims position {found}; the log has {expected} operations")]
    Position { expected: u64, found: u64 },
    #[error("operation does not follow the log's current head (the log moved on: log_conflict)")]
    Conflict,
    #[error("the first operation of a log must create the group")]
    NotCreate,
    #[error("only a current moderator may sign membership operations; {0:?} is not one")]
    NotModerator(DeviceId),
    #[error("capacity {0} is outside 2..={HARD_MAX_MEMBERS}")]
    Capacity(u32),
    #[error("the group is full ({capacity} members)")]
    Full { capacity: u32 },
    #[error("there is no invite {0:?} in this group")]
    UnknownInvite(DeviceId),
    #[error("invite {0:?} exists already")]
    DuplicateInvite(DeviceId),
    #[error("invite {0:?} has been used")]
    InviteUsed(DeviceId),
    #[error("invite {0:?} was revoked")]
    InviteRevoked(DeviceId),
    #[error("invite {0:?} had expired when the person registered")]
    InviteExpired(DeviceId),
    #[error("an invite must expire after it is made")]
    InviteLifetime,
    #[error("{0:?} is already a member")]
    AlreadyMember(DeviceId),
    #[error("{0:?} is not a member")]
    NotMember(DeviceId),
    #[error("this would leave the group without a moderator")]
    LastModerator,
    #[error("the new epoch must be number {expected}; got {found}")]
    EpochNumber { expected: u32, found: u32 },
    #[error("the new epoch key must be sealed to exactly the members after this operation: {0}")]
    EpochRecipients(String),
    #[error("a removed member's final sequence number cannot be lowered below {0}")]
    FinalSeq(u64),
}

/// A current member as the log describes her.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub role: Role,
    pub agreement: AgreementKey,
    /// The epoch that started with her admission (1 for the creator).
    pub since_epoch: u32,
    /// When she was admitted: the admitting moderator's clock (the creator's, for her).
    pub since_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStatus {
    Open,
    Used(DeviceId),
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteState {
    pub role: Role,
    pub expires_at: i64,
    pub by: DeviceId,
    pub status: InviteStatus,
    pub details: Vec<u8>,
}

/// The state a verified log describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group: GroupId,
    pub capacity: u32,
    pub members: BTreeMap<DeviceId, MemberState>,
    pub invites: BTreeMap<DeviceId, InviteState>,
    /// The current key epoch.
    pub epoch: u32,
    /// For every device that ever was a member: the epochs she was a member in, as
    /// half-open ranges `[from, until)`; `until` is `None` while she still is.
    pub tenure: BTreeMap<DeviceId, Vec<(u32, Option<u32>)>>,
    /// For every device that ever was a moderator: the epochs she moderated in, as half-open
    /// ranges like `tenure`. A moderator's actions inside a chapter count only if she
    /// moderated in that chapter's epoch (see [`Membership::was_moderator_in`]).
    pub moderated: BTreeMap<DeviceId, Vec<(u32, Option<u32>)>>,
    /// Removed members' last accepted envelope sequence numbers.
    pub final_seqs: BTreeMap<DeviceId, u64>,
    /// Hash of the newest operation, and how many there are.
    pub head: Hash,
    pub len: u64,
}

/// Decodes a signed operation and checks its signature (not yet its place in a log).
pub fn open_op(signed: &Signed) -> Result<Op, LogError> {
    let op: Op = wire::decode("membership operation", &signed.bytes)?;
    wire::check_version("membership operation", op.v)?;
    if !signed.verify(Domain::Op, &op.author) {
        return Err(LogError::BadSignature("membership operation"));
    }
    Ok(op)
}

/// Signs an operation.
pub fn sign_op(signer: &dyn Signer, op: &Op) -> Signed {
    Signed::new(signer, Domain::Op, wire::encode(op))
}

pub fn op_hash(signed: &Signed) -> Hash {
    signed.hash(Domain::Op)
}

impl Membership {
    /// Verifies a whole log from its first operation.
    pub fn from_log<'a>(log: impl IntoIterator<Item = &'a Signed>) -> Result<Membership, LogError> {
        let mut it = log.into_iter();
        let first = it.next().ok_or(LogError::NotCreate)?;
        let mut m = Membership::genesis(first)?;
        for op in it {
            m.apply(op)?;
        }
        Ok(m)
    }

    /// Starts the state from the creation operation.
    pub fn genesis(signed: &Signed) -> Result<Membership, LogError> {
        let op = open_op(signed)?;
        let OpBody::Create {
            capacity,
            agreement,
            epoch,
        } = &op.body
        else {
            return Err(LogError::NotCreate);
        };
        if op.index != 0 {
            return Err(LogError::Position {
                expected: 0,
                found: op.index,
            });
        }
        if op.prev != Hash::ZERO {
            return Err(LogError::Conflict);
        }
        if !(2..=HARD_MAX_MEMBERS).contains(capacity) {
            return Err(LogError::Capacity(*capacity));
        }
        let mut m = Membership {
            group: op.group,
            capacity: *capacity,
            members: BTreeMap::new(),
            invites: BTreeMap::new(),
            epoch: 0,
            tenure: BTreeMap::new(),
            moderated: BTreeMap::new(),
            final_seqs: BTreeMap::new(),
            head: op_hash(signed),
            len: 1,
        };
        m.members.insert(
            op.author,
            MemberState {
                role: Role::Moderator,
                agreement: *agreement,
                since_epoch: 1,
                since_at: op.at,
            },
        );
        m.start_epoch(epoch)?;
        m.tenure.insert(op.author, vec![(1, None)]);
        m.moderated.insert(op.author, vec![(1, None)]);
        Ok(m)
    }

    /// Verifies `signed` as the next operation and applies it. On error nothing changes.
    pub fn apply(&mut self, signed: &Signed) -> Result<Op, LogError> {
        let op = open_op(signed)?;
        self.check_place(&op)?;
        let mut next = self.clone();
        next.apply_body(&op)?;
        next.head = op_hash(signed);
        next.len += 1;
        *self = next;
        Ok(op)
    }

    /// Checks that `op` belongs at the end of this log, without applying it.
    pub fn check_place(&self, op: &Op) -> Result<(), LogError> {
        if op.group != self.group {
            return Err(LogError::WrongGroup {
                expected: self.group,
                found: op.group,
            });
        }
        if op.index != self.len {
            return Err(LogError::Position {
                expected: self.len,
                found: op.index,
            });
        }
        if op.prev != self.head {
            return Err(LogError::Conflict);
        }
        Ok(())
    }

    fn apply_body(&mut self, op: &Op) -> Result<(), LogError> {
        if !self.is_moderator(&op.author) {
            return Err(LogError::NotModerator(op.author));
        }
        match &op.body {
            OpBody::Create { .. } => {
                return Err(LogError::Position {
                    expected: self.len,
                    found: 0,
                })
            }
            OpBody::Invite {
                invite,
                role,
                expires_at,
                details,
            } => {
                if self.invites.contains_key(invite) {
                    return Err(LogError::DuplicateInvite(*invite));
                }
                if *expires_at <= op.at {
                    return Err(LogError::InviteLifetime);
                }
                self.invites.insert(
                    *invite,
                    InviteState {
                        role: *role,
                        expires_at: *expires_at,
                        by: op.author,
                        status: InviteStatus::Open,
                        details: details.clone(),
                    },
                );
            }
            OpBody::Admit { join, epoch } => {
                let req = join.verify()?;
                let invite = self.usable_invite(&req.invite)?;
                if req.at > invite.expires_at {
                    return Err(LogError::InviteExpired(req.invite));
                }
                if self.members.contains_key(&req.device) {
                    return Err(LogError::AlreadyMember(req.device));
                }
                if self.members.len() as u32 >= self.capacity {
                    return Err(LogError::Full {
                        capacity: self.capacity,
                    });
                }
                let role = invite.role;
                if let Some(i) = self.invites.get_mut(&req.invite) {
                    i.status = InviteStatus::Used(req.device);
                }
                self.members.insert(
                    req.device,
                    MemberState {
                        role,
                        agreement: req.agreement,
                        since_epoch: epoch.number,
                        since_at: op.at,
                    },
                );
                self.final_seqs.remove(&req.device);
                self.start_epoch(epoch)?;
                self.tenure
                    .entry(req.device)
                    .or_default()
                    .push((epoch.number, None));
                if role == Role::Moderator {
                    self.moderated
                        .entry(req.device)
                        .or_default()
                        .push((epoch.number, None));
                }
            }
            OpBody::Remove {
                device,
                final_seq,
                epoch,
            } => {
                let Some(gone) = self.members.remove(device) else {
                    return Err(LogError::NotMember(*device));
                };
                if gone.role == Role::Moderator && !self.has_moderator() {
                    return Err(LogError::LastModerator);
                }
                self.start_epoch(epoch)?;
                for spans in [&mut self.tenure, &mut self.moderated] {
                    if let Some(last) = spans.get_mut(device).and_then(|t| t.last_mut()) {
                        if last.1.is_none() {
                            last.1 = Some(epoch.number);
                        }
                    }
                }
                self.final_seqs.insert(*device, *final_seq);
            }
            OpBody::SetRole { device, role } => {
                let Some(m) = self.members.get_mut(device) else {
                    return Err(LogError::NotMember(*device));
                };
                let was = m.role == Role::Moderator;
                m.role = *role;
                if !self.has_moderator() {
                    return Err(LogError::LastModerator);
                }
                let spans = self.moderated.entry(*device).or_default();
                match (was, *role == Role::Moderator) {
                    // She moderates from the current epoch on.
                    (false, true) => spans.push((self.epoch, None)),
                    // She keeps the current epoch (devices may already hold her actions in
                    // it); a demotion that must bite at once is followed by a rotation.
                    (true, false) => {
                        if let Some(last) = spans.last_mut() {
                            last.1 = Some(self.epoch + 1);
                        }
                    }
                    _ => {}
                }
            }
            OpBody::Rotate { epoch } => self.start_epoch(epoch)?,
            OpBody::RevokeInvite { invite } => {
                self.usable_invite(invite)?;
                if let Some(i) = self.invites.get_mut(invite) {
                    i.status = InviteStatus::Revoked;
                }
            }
        }
        Ok(())
    }

    fn usable_invite(&self, id: &DeviceId) -> Result<&InviteState, LogError> {
        let invite = self.invites.get(id).ok_or(LogError::UnknownInvite(*id))?;
        match invite.status {
            InviteStatus::Open => Ok(invite),
            InviteStatus::Used(_) => Err(LogError::InviteUsed(*id)),
            InviteStatus::Revoked => Err(LogError::InviteRevoked(*id)),
        }
    }

    /// Checks that `epoch` is the next one and is sealed to exactly the current members.
    fn start_epoch(&mut self, epoch: &EpochKeys) -> Result<(), LogError> {
        if epoch.number != self.epoch + 1 {
            return Err(LogError::EpochNumber {
                expected: self.epoch + 1,
                found: epoch.number,
            });
        }
        let mut to: BTreeSet<DeviceId> = BTreeSet::new();
        for s in &epoch.sealed {
            if !to.insert(s.device) {
                return Err(LogError::EpochRecipients(format!(
                    "{:?} appears twice",
                    s.device
                )));
            }
        }
        let members: BTreeSet<DeviceId> = self.members.keys().copied().collect();
        if let Some(d) = members.difference(&to).next() {
            return Err(LogError::EpochRecipients(format!("{d:?} is missing")));
        }
        if let Some(d) = to.difference(&members).next() {
            return Err(LogError::EpochRecipients(format!("{d:?} is not a member")));
        }
        self.epoch = epoch.number;
        Ok(())
    }

    pub fn is_member(&self, d: &DeviceId) -> bool {
        self.members.contains_key(d)
    }

    pub fn is_moderator(&self, d: &DeviceId) -> bool {
        self.members
            .get(d)
            .is_some_and(|m| m.role == Role::Moderator)
    }

    fn has_moderator(&self) -> bool {
        self.members.values().any(|m| m.role == Role::Moderator)
    }

    /// Whether `device` was a member during `epoch`.
    pub fn was_member_in(&self, device: &DeviceId, epoch: u32) -> bool {
        self.tenure.get(device).is_some_and(|spans| {
            spans
                .iter()
                .any(|(from, until)| epoch >= *from && until.is_none_or(|u| epoch < u))
        })
    }

    /// Whether `device` was a moderator during `epoch`: her moderation actions written into
    /// that epoch's chapter count, wherever and whenever they arrive.
    pub fn was_moderator_in(&self, device: &DeviceId, epoch: u32) -> bool {
        self.moderated.get(device).is_some_and(|spans| {
            spans
                .iter()
                .any(|(from, until)| epoch >= *from && until.is_none_or(|u| epoch < u))
        })
    }

    /// Whether an envelope `seq` by `author` under `epoch` may be accepted: she was a member
    /// then, and if she has been removed, it is not one she sent after her removal.
    pub fn accepts_envelope(&self, author: &DeviceId, epoch: u32, seq: u64) -> bool {
        if !self.was_member_in(author, epoch) || epoch > self.epoch {
            return false;
        }
        match (self.is_member(author), self.final_seqs.get(author)) {
            (false, Some(last)) => seq <= *last,
            (false, None) => false,
            (true, _) => true,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ids::KeyPairSigner;

    pub fn key(n: u8) -> KeyPairSigner {
        KeyPairSigner::from_seed(&[n; 32])
    }

    pub fn seal_to(number: u32, devices: &[DeviceId]) -> EpochKeys {
        EpochKeys {
            number,
            sealed: devices
                .iter()
                .map(|d| SealedKey {
                    device: *d,
                    enc: vec![1],
                    ct: vec![2],
                })
                .collect(),
        }
    }

    pub struct Log {
        pub ops: Vec<Signed>,
        pub state: Membership,
    }

    impl Log {
        pub fn create(by: &KeyPairSigner, capacity: u32) -> Log {
            let op = Op {
                v: 1,
                group: GroupId([9; 16]),
                index: 0,
                prev: Hash::ZERO,
                author: by.device(),
                at: 1000,
                body: OpBody::Create {
                    capacity,
                    agreement: AgreementKey([1; 32]),
                    epoch: seal_to(1, &[by.device()]),
                },
            };
            let s = sign_op(by, &op);
            let state = Membership::genesis(&s).unwrap();
            Log {
                ops: vec![s],
                state,
            }
        }

        pub fn op(&self, by: &KeyPairSigner, body: OpBody) -> Signed {
            sign_op(
                by,
                &Op {
                    v: 1,
                    group: self.state.group,
                    index: self.state.len,
                    prev: self.state.head,
                    author: by.device(),
                    at: 2000,
                    body,
                },
            )
        }

        pub fn push(&mut self, by: &KeyPairSigner, body: OpBody) -> Result<(), LogError> {
            let s = self.op(by, body);
            self.state.apply(&s)?;
            self.ops.push(s);
            Ok(())
        }

        pub fn members_plus(&self, d: Option<DeviceId>) -> Vec<DeviceId> {
            let mut v: Vec<DeviceId> = self.state.members.keys().copied().collect();
            v.extend(d);
            v
        }

        /// Invites and admits `who` with `role`.
        pub fn admit(
            &mut self,
            by: &KeyPairSigner,
            who: &KeyPairSigner,
            role: Role,
        ) -> Result<(), LogError> {
            let code = crate::invite::InviteCode::random().unwrap();
            let keys = code.keys();
            self.push(
                by,
                OpBody::Invite {
                    invite: keys.id(),
                    role,
                    expires_at: 10_000,
                    details: vec![],
                },
            )?;
            let join = SignedJoin::new(
                who,
                &keys.signer,
                &JoinRequest {
                    v: 1,
                    invite: keys.id(),
                    device: who.device(),
                    agreement: AgreementKey([3; 32]),
                    intro: vec![],
                    at: 3000,
                },
            );
            let epoch = seal_to(self.state.epoch + 1, &self.members_plus(Some(who.device())));
            self.push(by, OpBody::Admit { join, epoch })
        }
    }

    #[test]
    fn a_log_replays_to_the_same_state() {
        let (ruth, amina, jo) = (key(1), key(2), key(3));
        let mut log = Log::create(&ruth, 12);
        log.admit(&ruth, &amina, Role::Mother).unwrap();
        log.admit(&ruth, &jo, Role::Volunteer).unwrap();
        assert_eq!(log.state.epoch, 3);
        assert_eq!(log.state.members[&jo.device()].since_epoch, 3);
        let replayed = Membership::from_log(&log.ops).unwrap();
        assert_eq!(replayed, log.state);
    }

    #[test]
    fn only_moderators_sign_and_only_in_order() {
        let (ruth, amina, eve) = (key(1), key(2), key(66));
        let mut log = Log::create(&ruth, 12);
        log.admit(&ruth, &amina, Role::Mother).unwrap();
        let before = log.state.clone();
        let e = log
            .push(
                &amina,
                OpBody::Rotate {
                    epoch: seal_to(3, &log.members_plus(None)),
                },
            )
            .unwrap_err();
        assert_eq!(e, LogError::NotModerator(amina.device()));
        assert_eq!(
            log.push(
                &eve,
                OpBody::Rotate {
                    epoch: seal_to(3, &log.members_plus(None))
                }
            ),
            Err(LogError::NotModerator(eve.device()))
        );
        assert_eq!(log.state, before, "a refused operation changes nothing");
        // A forged signature: the bytes name Ruth, the signature is Eve's.
        let mut forged = log.op(
            &ruth,
            OpBody::Rotate {
                epoch: seal_to(3, &log.members_plus(None)),
            },
        );
        forged.sig = crate::ids::sign(&eve, Domain::Op, &forged.bytes);
        assert_eq!(
            log.state.clone().apply(&forged),
            Err(LogError::BadSignature("membership operation"))
        );
        // Replaying an old operation at the end: wrong position.
        let old = log.ops[1].clone();
        assert!(matches!(
            log.state.clone().apply(&old),
            Err(LogError::Position { .. })
        ));
    }

    #[test]
    fn concurrent_operations_conflict_instead_of_forking() {
        let (ruth, sam, amina) = (key(1), key(4), key(2));
        let mut log = Log::create(&ruth, 12);
        log.admit(&ruth, &sam, Role::Moderator).unwrap();
        log.admit(&ruth, &amina, Role::Mother).unwrap();
        let a = log.op(
            &ruth,
            OpBody::Rotate {
                epoch: seal_to(4, &log.members_plus(None)),
            },
        );
        let b = log.op(
            &sam,
            OpBody::Remove {
                device: amina.device(),
                final_seq: 0,
                epoch: seal_to(4, &[ruth.device(), sam.device()]),
            },
        );
        let mut s = log.state.clone();
        s.apply(&a).unwrap();
        assert_eq!(
            s.apply(&b),
            Err(LogError::Position {
                expected: 6,
                found: 5
            })
        );
    }

    #[test]
    fn invites_are_single_use_and_capacity_holds() {
        let (ruth, a, b) = (key(1), key(2), key(3));
        let mut log = Log::create(&ruth, 2);
        log.admit(&ruth, &a, Role::Mother).unwrap();
        assert_eq!(
            log.admit(&ruth, &b, Role::Mother),
            Err(LogError::Full { capacity: 2 })
        );
        // Reuse of a used invite.
        let Some(OpBody::Admit { join, .. }) = open_op(&log.ops[2]).ok().map(|o| o.body) else {
            panic!("expected an admission");
        };
        let mut log2 = Log::create(&ruth, 5);
        log2.state.invites = log.state.invites.clone();
        let e = log2
            .push(
                &ruth,
                OpBody::Admit {
                    join,
                    epoch: seal_to(2, &[ruth.device(), a.device()]),
                },
            )
            .unwrap_err();
        assert!(matches!(e, LogError::InviteUsed(_)), "{e}");
    }

    #[test]
    fn epochs_are_sealed_to_exactly_the_members() {
        let (ruth, a) = (key(1), key(2));
        let mut log = Log::create(&ruth, 12);
        log.admit(&ruth, &a, Role::Mother).unwrap();
        let e = log
            .push(
                &ruth,
                OpBody::Remove {
                    device: a.device(),
                    final_seq: 3,
                    epoch: seal_to(3, &[ruth.device(), a.device()]),
                },
            )
            .unwrap_err();
        assert!(matches!(e, LogError::EpochRecipients(_)), "{e}");
        log.push(
            &ruth,
            OpBody::Remove {
                device: a.device(),
                final_seq: 3,
                epoch: seal_to(3, &[ruth.device()]),
            },
        )
        .unwrap();
        assert!(log.state.accepts_envelope(&a.device(), 2, 3));
        assert!(
            !log.state.accepts_envelope(&a.device(), 2, 4),
            "sent after removal"
        );
        assert!(
            !log.state.accepts_envelope(&a.device(), 3, 1),
            "epoch after removal"
        );
        assert!(log.state.accepts_envelope(&ruth.device(), 3, 99));
        assert_eq!(
            log.push(
                &ruth,
                OpBody::SetRole {
                    device: ruth.device(),
                    role: Role::Mother
                }
            ),
            Err(LogError::LastModerator)
        );
    }

    #[test]
    fn moderators_count_in_the_epochs_they_moderated() {
        let (ruth, a, b) = (key(1), key(2), key(3));
        let mut log = Log::create(&ruth, 12);
        log.admit(&ruth, &a, Role::Moderator).unwrap(); // epoch 2
        log.admit(&ruth, &b, Role::Mother).unwrap(); // epoch 3
        let s = &log.state;
        assert!(s.was_moderator_in(&ruth.device(), 1));
        assert!(!s.was_moderator_in(&a.device(), 1), "before her admission");
        assert!(s.was_moderator_in(&a.device(), 3));
        assert!(!s.was_moderator_in(&b.device(), 3), "a mother");
        // Removing a moderator ends her powers with the new epoch, not before.
        log.push(
            &ruth,
            OpBody::Remove {
                device: a.device(),
                final_seq: 1,
                epoch: seal_to(4, &[ruth.device(), b.device()]),
            },
        )
        .unwrap();
        assert!(log.state.was_moderator_in(&a.device(), 3));
        assert!(!log.state.was_moderator_in(&a.device(), 4));
        // A promotion counts from the current epoch; a demotion keeps it and ends after it.
        log.push(
            &ruth,
            OpBody::SetRole {
                device: b.device(),
                role: Role::Moderator,
            },
        )
        .unwrap();
        assert!(log.state.was_moderator_in(&b.device(), 4));
        assert!(!log.state.was_moderator_in(&b.device(), 3));
        log.push(
            &ruth,
            OpBody::SetRole {
                device: b.device(),
                role: Role::Mother,
            },
        )
        .unwrap();
        assert!(log.state.was_moderator_in(&b.device(), 4));
        assert!(!log.state.was_moderator_in(&b.device(), 5));
    }
}
