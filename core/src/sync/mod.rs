//! The sync engine: sans-IO. [`Companion::prepare_sync`] turns the store into one signed
//! request for every group; [`Companion::apply_sync_response`] takes the relay's answer back
//! into the store in one transaction per group. [`Companion::sync`] drives the two over a
//! [`Transport`], retrying with backoff, until nothing is left to say (a few round trips at
//! most). See `docs/protocol.md` for the wire format and `docs/decisions.md` for the reasons.
//!
//! What makes it safe to interrupt anywhere:
//! - an envelope is built once, stored (`outgoing`), and re-sent byte for byte until the relay
//!   acknowledges it; an upload cut at any byte is simply sent again and the relay answers
//!   `duplicate`;
//! - nothing from a response is kept unless the whole response was read and applied, in the
//!   same transaction that advances the cursor;
//! - incoming changes are Automerge changes, named by hash: a duplicate or reordered one
//!   changes nothing, and one whose dependencies have not arrived waits for them (a gap, which
//!   a refetch from the start repairs if the relay has what is missing).
//!
//! Membership operations are built at request time on the log as the relay last confirmed it,
//! and applied here only once the relay returns them in its log. A moderator whose operation
//! lost a race builds it again on the new head in the next round (decision #6).

pub mod payload;
pub mod transport;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use automerge::Change;
use hearth_protocol::api::{
    Code, GroupReply, GroupSync, JoinReply, SyncRequest, SyncResponse, JOIN_PATH, SYNC_PATH,
};
use hearth_protocol::envelope::{
    body_hash, Attestation, Envelope, EnvelopeHeader, Snapshot, SnapshotHeader,
};
use hearth_protocol::ids::{Hash, Signed};
use hearth_protocol::invite::InviteCode;
use hearth_protocol::membership::{
    open_op, JoinRequest, MemberState, Membership, OpBody, SignedJoin,
};
use hearth_protocol::{wire, AgreementKey, GroupId};
use serde::{Deserialize, Serialize};

use crate::companion::{Companion, GroupInfo, GroupWrite};
use crate::error::{Error, InputError, Result};
use crate::group::doc::Touched;
use crate::group::storage::{self, GroupSummary, MadeInvite, Outgoing, Standing, SyncState};
use crate::group::{ChapterDoc, Member};
use crate::identity::{DeviceId, DeviceKeys, Role};
use crate::membership::{open_epoch, seal_epoch, sign_next, EpochKey};
use crate::outbox::Outbox;
use crate::timeline::{self, Update};
use payload::{
    check_attestation, open_envelope_body, open_snapshot_body, seal_envelope_body,
    seal_snapshot_body, SectionIn,
};
pub use transport::{Backoff, Transport, TransportError};

/// Raw change bytes packed into one envelope before it is sealed; compressed, they stay well
/// under the relay's 512 KiB body limit.
const ENVELOPE_RAW_BUDGET: usize = 384 * 1024;

/// How far past this device's clock a received stamp may move its hybrid clock.
const MAX_STAMP_LEAD_MS: i64 = 10 * 60 * 1000;

/// How long an invite stays usable unless the moderator says otherwise.
pub const DEFAULT_INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// How hard [`Companion::sync`] tries.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Attempts per round trip before giving up on this sync (the next one resumes).
    pub attempts: u32,
    pub backoff: Backoff,
    /// Round trips at most in one sync.
    pub max_rounds: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            attempts: 6,
            backoff: Backoff::new(
                std::time::Duration::from_millis(500),
                std::time::Duration::from_secs(30),
            ),
            max_rounds: 8,
        }
    }
}

/// What one sync did. Byte counts are request and response bodies (HTTP headers excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub round_trips: u32,
    /// Round trips that failed and were retried.
    pub failed_attempts: u32,
    pub envelopes_sent: u64,
    pub envelopes_received: u64,
    pub snapshots_sent: u32,
    pub snapshots_received: u32,
    pub ops_sent: u32,
    /// Messages created, edited, deleted or reacted to by others that arrived.
    pub messages_updated: u64,
    /// Private notes (reports, alerts, nudges) that arrived for this device.
    pub notes_received: u64,
    /// Arrived messages the on-device detector put in this moderator's review queue.
    pub flagged_for_review: u64,
    /// This device's changes still waiting for the relay, over all groups.
    pub pending: u64,
    /// Whether every group is caught up (false: the next sync has more to fetch or send).
    pub complete: bool,
    /// Things refused or noticed, in words, each naming its group.
    pub notes: Vec<String>,
}

/// A request ready to go, with what it carries so the response can be matched to it.
pub struct PreparedSync {
    pub body: Vec<u8>,
    sent: Vec<Sent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Intent {
    Create,
    Invite(DeviceId),
    Admit(DeviceId),
    Remove(DeviceId),
}

struct Sent {
    row: i64,
    group: GroupId,
    own: Vec<u64>,
    forwarded: usize,
    ops: Vec<Intent>,
    snapshot: bool,
    want_seqs: bool,
    /// Direct notes uploaded: (note, recipient), in order.
    directs: Vec<(crate::notes::NoteId, DeviceId)>,
}

/// What applying a response asks of the driver.
#[derive(Debug, Default)]
pub struct Applied {
    /// Another round trip would make progress (more to fetch, or something to resend).
    pub again: bool,
}

/// A member as the members screen shows her.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberInfo {
    pub device: DeviceId,
    /// Her pseudonym; empty until a chapter this device holds has told it.
    pub name: String,
    pub role: Role,
    pub since_epoch: u32,
    pub is_me: bool,
}

/// Someone who registered with an invite and waits for a moderator's device to admit her.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingMember {
    pub device: DeviceId,
    /// Her pseudonym, readable by the moderator who made the invite.
    pub name: Option<String>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembersView {
    pub members: Vec<MemberInfo>,
    pub waiting: Vec<WaitingMember>,
    pub capacity: u32,
    /// This device's own standing: "member", "waiting" or "removed".
    pub standing: &'static str,
    pub notes: Vec<String>,
}

/// An invite as its moderator reads it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteInfo {
    pub code: String,
    pub role: Role,
    pub expires_at: i64,
}

/// Details sealed into an invite for whoever holds the code.
#[derive(Serialize, Deserialize)]
struct InviteDetails {
    #[serde(rename = "n")]
    group_name: String,
    #[serde(rename = "i")]
    inviter: String,
}

/// A joiner's introduction, sealed for whoever holds the code.
#[derive(Serialize, Deserialize)]
struct JoinIntro {
    #[serde(rename = "n")]
    name: String,
}

const DETAILS_AAD: &[u8] = b"hearth/v1/invite-details";
const INTRO_AAD: &[u8] = b"hearth/v1/join-intro";

/// A phone-to-phone bundle: one group's log and the sender's envelopes not yet at the relay.
#[derive(Serialize, Deserialize)]
struct Bundle {
    #[serde(rename = "v")]
    v: u8,
    #[serde(rename = "g")]
    group: GroupId,
    #[serde(rename = "l")]
    log: Vec<Signed>,
    #[serde(rename = "e")]
    envelopes: Vec<Envelope>,
}

/// What importing a bundle did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub envelopes_accepted: u64,
    pub messages_updated: u64,
    pub notes: Vec<String>,
}

/// Everything a group write needs that is not in the group.
#[derive(Clone)]
struct Ctx {
    keys: Arc<DeviceKeys>,
    me: DeviceId,
    my_name: String,
    now: i64,
}

/// What incoming data did to a group.
#[derive(Default)]
struct Incoming {
    envelopes: u64,
    snapshots: u32,
    messages: u64,
    /// Of those, messages the detector flagged for this moderator's review queue.
    flagged: u64,
    new_chapter: bool,
    gap: bool,
    notes: Vec<String>,
}

impl Companion {
    /// Sets the relay this profile syncs through (`http://host:port`).
    pub fn set_relay(&mut self, url: &str) -> Result<()> {
        let url = parse_relay_url(url)?;
        let old = self.profile.relay.replace(url);
        let profile = &self.profile;
        let written = self
            .store
            .write(|w| Ok::<_, Error>(crate::profile::update(w, profile)?));
        if written.is_err() {
            self.profile.relay = old;
        }
        written
    }

    pub fn relay(&self) -> Option<String> {
        self.profile.relay.clone()
    }

    /// One full sync over `transport`: as many round trips as make progress (at most
    /// `options.max_rounds`), each retried with backoff on network failure. A failure after
    /// retries returns the error; everything applied before it stays applied, and the next
    /// sync picks up where this one stopped.
    pub fn sync(
        &mut self,
        transport: &mut dyn Transport,
        options: &SyncOptions,
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut backoff = options.backoff.clone();
        let mut again = true;
        for _ in 0..options.max_rounds {
            let prepared = self.prepare_sync()?;
            let mut attempt = 0;
            let response = loop {
                attempt += 1;
                report.bytes_sent += prepared.body.len() as u64;
                match transport.post(SYNC_PATH, &prepared.body) {
                    Ok(bytes) => break bytes,
                    Err(e) if e.is_retryable() && attempt < options.attempts => {
                        report.failed_attempts += 1;
                        std::thread::sleep(backoff.next_delay());
                    }
                    Err(e) => return Err(Error::Relay(e)),
                }
            };
            backoff.reset();
            report.round_trips += 1;
            report.bytes_received += response.len() as u64;
            again = self
                .apply_sync_response(&prepared, &response, &mut report)?
                .again;
            if !again {
                break;
            }
        }
        report.complete = !again;
        report.pending = self
            .groups_rows()?
            .iter()
            .map(|(_, s)| s.outbox.len() as u64)
            .sum();
        Ok(report)
    }

    /// Builds the next sync request: for every group, what this device holds and everything
    /// it has to upload. Envelopes are built (and stored) here from changes not yet in one.
    pub fn prepare_sync(&mut self) -> Result<PreparedSync> {
        let ctx = self.ctx();
        let mut groups = Vec::new();
        let mut sent = Vec::new();
        for (row, summary) in self.groups_rows()? {
            if summary.standing == Standing::Removed {
                continue;
            }
            let c = ctx.clone();
            let (gs, s) = self.change_group(row, |g| prepare_group(g, &c))?;
            groups.push(gs);
            sent.push(s);
        }
        let request = SyncRequest {
            v: hearth_protocol::VERSION,
            device: ctx.me,
            at: ctx.now,
            groups,
        };
        let signed = request.sign(ctx.keys.as_ref());
        Ok(PreparedSync {
            body: wire::encode(&signed),
            sent,
        })
    }

    /// Applies the relay's answer to `prepared`. Each group is applied in its own transaction;
    /// a response that does not decode changes nothing.
    pub fn apply_sync_response(
        &mut self,
        prepared: &PreparedSync,
        bytes: &[u8],
        report: &mut SyncReport,
    ) -> Result<Applied> {
        let response: SyncResponse = wire::decode("sync response", bytes)
            .map_err(|e| Error::Sync(format!("the relay's answer is unreadable: {e}")))?;
        let ctx = self.ctx();
        let mut applied = Applied::default();
        for sent in &prepared.sent {
            let Some(reply) = response.groups.iter().find(|r| r.group == sent.group) else {
                report.notes.push(format!(
                    "group {}: the relay did not answer for it",
                    sent.group
                ));
                continue;
            };
            let c = ctx.clone();
            let again = self.change_group(sent.row, |g| apply_reply(g, &c, sent, reply, report))?;
            applied.again |= again;
        }
        Ok(applied)
    }

    /// Makes a single-use invite to `group` for someone who will join with `role`. The code is
    /// shown to the moderator at once; the invite reaches the relay with her next sync.
    pub fn invite(&mut self, group: &GroupId, role: Role, valid_for_ms: i64) -> Result<InviteInfo> {
        if valid_for_ms <= 0 || valid_for_ms > 90 * 24 * 3600 * 1000 {
            return Err(InputError::new(
                "valid for",
                "an invite can be valid for a moment up to 90 days",
            )
            .into());
        }
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        let now = self.clock.now_ms();
        self.change_group(row, |g| {
            require_moderator(g.summary, &me)?;
            if role == Role::Mother && volunteers_only(g)? {
                return Err(InputError::new(
                    "role",
                    "this group is for volunteers and coordinators only: invite a volunteer \
                     or a moderator, or open it to mothers first",
                )
                .into());
            }
            let code = InviteCode::random().map_err(|e| Error::Document(e.to_string()))?;
            let made = MadeInvite {
                code: *code.as_bytes(),
                role,
                expires_at: now + valid_for_ms,
                published: false,
            };
            g.summary.invites.push(made.clone());
            Ok(InviteInfo {
                code: code.to_string(),
                role,
                expires_at: made.expires_at,
            })
        })
    }

    /// Registers this device with an invite code at the relay behind `transport`. The group
    /// appears at once as waiting; the next time a moderator's device syncs, she is admitted,
    /// and this device's next sync brings her in.
    pub fn join(&mut self, code: &str, transport: &mut dyn Transport) -> Result<GroupInfo> {
        let code =
            InviteCode::parse(code).map_err(|e| InputError::new("invite code", e.to_string()))?;
        let ik = code.keys();
        let keys = self.profile.keys.clone();
        let intro = ik
            .seal(
                INTRO_AAD,
                &wire::encode(&JoinIntro {
                    name: self.profile.name.to_string(),
                }),
            )
            .map_err(|e| Error::Document(e.to_string()))?;
        let request = JoinRequest {
            v: hearth_protocol::VERSION,
            invite: ik.id(),
            device: keys.device_id(),
            agreement: AgreementKey(keys.agreement_public()),
            intro,
            at: self.clock.now_ms(),
        };
        let signed = SignedJoin::new(keys.as_ref(), &ik.signer, &request);
        let answer = transport
            .post(JOIN_PATH, &wire::encode(&signed))
            .map_err(|e| match e {
                TransportError::Status {
                    code: Some(code),
                    reason,
                    ..
                } => Error::JoinRefused { code, reason },
                other => Error::Relay(other),
            })?;
        let reply: JoinReply = wire::decode("join reply", &answer)
            .map_err(|e| Error::Sync(format!("the relay's answer is unreadable: {e}")))?;
        let m = Membership::from_log(&reply.log)
            .map_err(|e| Error::Sync(format!("the group's log does not verify: {e}")))?;
        if m.group != reply.group {
            return Err(Error::Sync(
                "the relay answered with another group's log".into(),
            ));
        }
        let invite = m
            .invites
            .get(&ik.id())
            .ok_or_else(|| Error::Sync("the group's log does not hold this invite".into()))?;
        let details: InviteDetails = ik
            .open(&details_aad(&m.group), &invite.details)
            .ok()
            .and_then(|b| wire::decode("invite details", &b).ok())
            .ok_or_else(|| Error::Sync("the invite's details do not open with this code".into()))?;
        if let Ok(row) = self.group_row(&m.group) {
            // A retry of a registration that already went through.
            let s = storage::load(self.store.conn(), self.store.cipher(), row)?;
            return Ok(crate::companion::info(&s));
        }
        let mut summary = GroupSummary {
            id: m.group,
            name: details.group_name,
            capacity: crate::group::Capacity {
                limit: m.capacity,
                reason: None,
            },
            members: Vec::new(),
            standing: Standing::Waiting { role: invite.role },
            max_stamp: 0,
            outbox: Outbox::default(),
            chapter: 0,
            first_chapter: 0,
            keys: BTreeMap::new(),
            sync: SyncState {
                log_confirmed: m.len,
                ..SyncState::default()
            },
            invites: Vec::new(),
            last_post_at: 0,
        };
        refresh_members(&mut summary, &m, &BTreeMap::new())?;
        self.store.write(|w| {
            let row = storage::insert(w, &summary)?;
            for (i, op) in reply.log.iter().enumerate() {
                storage::append_op(w, row, i as u64, op)?;
            }
            Ok::<_, Error>(())
        })?;
        Ok(crate::companion::info(&summary))
    }

    /// The group's members, and (for moderators) who waits to be admitted.
    pub fn members(&self, group: &GroupId) -> Result<MembersView> {
        let row = self.group_row(group)?;
        let s = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let me = self.profile.keys.device_id();
        let mut members: Vec<MemberInfo> = s
            .members
            .iter()
            .map(|m| MemberInfo {
                device: m.device,
                name: m.name.clone(),
                role: m.role,
                since_epoch: m.since_epoch,
                is_me: m.device == me,
            })
            .collect();
        members.sort_by(|a, b| (a.since_epoch, &a.name).cmp(&(b.since_epoch, &b.name)));
        let waiting = s
            .sync
            .joins
            .iter()
            .filter_map(|j| j.verify().ok())
            .map(|req| {
                // The invite she used, if this device made it: its role, and the key that
                // opens her introduction.
                let made = s.invites.iter().find_map(|i| {
                    let keys = InviteCode::from_bytes(i.code).keys();
                    (keys.id() == req.invite).then_some((i.role, keys))
                });
                WaitingMember {
                    device: req.device,
                    name: made.as_ref().and_then(|(_, k)| {
                        let intro = k.open(INTRO_AAD, &req.intro).ok()?;
                        wire::decode::<JoinIntro>("join intro", &intro)
                            .ok()
                            .map(|i| i.name)
                    }),
                    role: made.map_or(Role::Mother, |(role, _)| role),
                }
            })
            .collect();
        Ok(MembersView {
            members,
            waiting,
            capacity: s.capacity.limit,
            standing: match s.standing {
                Standing::Member => "member",
                Standing::Waiting { .. } => "waiting",
                Standing::Removed => "removed",
            },
            notes: s.sync.notes.clone(),
        })
    }

    /// Removes a member (moderators only). `who` is her pseudonym (unique in the group, case
    /// ignored) or her device id. Takes effect when the relay accepts the removal, during the
    /// next sync; from then on her envelopes are refused and new messages are sealed to a key
    /// she does not have.
    pub fn remove(&mut self, group: &GroupId, who: &str) -> Result<MemberInfo> {
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        self.change_group(row, |g| {
            require_moderator(g.summary, &me)?;
            let target = resolve_member(&g.summary.members, who)?;
            if target.device == me {
                return Err(InputError::new(
                    "member",
                    "you cannot remove yourself; another moderator can",
                )
                .into());
            }
            if !g.summary.sync.removals.contains(&target.device) {
                g.summary.sync.removals.push(target.device);
            }
            Ok(MemberInfo {
                device: target.device,
                name: target.name.clone(),
                role: target.role,
                since_epoch: target.since_epoch,
                is_me: false,
            })
        })
    }

    /// Phone to phone: this group's log and this device's envelopes the relay has not
    /// acknowledged, as bytes another member's device can import (and later forward).
    pub fn export_bundle(&mut self, group: &GroupId) -> Result<Vec<u8>> {
        let row = self.group_row(group)?;
        let ctx = self.ctx();
        self.change_group(row, |g| {
            if g.summary.standing == Standing::Member {
                build_envelopes(g, &ctx)?;
            }
            let envelopes = storage::list_outgoing(&g.w.tx, g.w.cipher, g.row)?
                .into_iter()
                .map(|o| o.envelope)
                .collect();
            Ok(wire::encode(&Bundle {
                v: hearth_protocol::VERSION,
                group: g.summary.id,
                log: storage::load_log(&g.w.tx, g.w.cipher, g.row)?,
                envelopes,
            }))
        })
    }

    /// Phone to phone: applies a bundle from another member's device, verifying everything as
    /// if it came from the relay, and keeps its envelopes to forward at the next sync.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<ImportReport> {
        let bundle: Bundle =
            wire::decode("bundle", bytes).map_err(|e| InputError::new("bundle", e.to_string()))?;
        wire::check_version("bundle", bundle.v)
            .map_err(|e| InputError::new("bundle", e.to_string()))?;
        let row = self.group_row(&bundle.group)?;
        let ctx = self.ctx();
        self.change_group(row, |g| {
            let incoming = apply_incoming(g, &ctx, &bundle.log, None, &bundle.envelopes, true)?;
            Ok(ImportReport {
                envelopes_accepted: incoming.envelopes,
                messages_updated: incoming.messages,
                notes: incoming.notes,
            })
        })
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            keys: self.profile.keys.clone(),
            me: self.profile.keys.device_id(),
            my_name: self.profile.name.to_string(),
            now: self.clock.now_ms(),
        }
    }

    fn groups_rows(&self) -> Result<Vec<(i64, GroupSummary)>> {
        Ok(storage::list(self.store.conn(), self.store.cipher())?)
    }
}

/// Checks a relay address as a person typed it; returns it normalised (no trailing slash).
pub fn parse_relay_url(raw: &str) -> Result<String> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            InputError::new(
                "relay",
                format!("{raw:?} is not an http:// or https:// address"),
            )
        })?;
    if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains('/') {
        return Err(InputError::new(
            "relay",
            format!("{raw:?} should be just the relay's address, like http://relay.example:8080"),
        )
        .into());
    }
    Ok(url.to_string())
}

fn details_aad(group: &GroupId) -> Vec<u8> {
    let mut aad = DETAILS_AAD.to_vec();
    aad.extend_from_slice(&group.0);
    aad
}

pub(crate) fn require_moderator(s: &GroupSummary, me: &DeviceId) -> Result<()> {
    if s.standing != Standing::Member {
        return Err(Error::NotAMember);
    }
    if !s
        .members
        .iter()
        .any(|m| m.device == *me && m.role == Role::Moderator)
    {
        return Err(Error::NotAllowed {
            action: "manage this group's members",
            allowed: "its moderators",
            role: s
                .members
                .iter()
                .find(|m| m.device == *me)
                .map_or(Role::Mother, |m| m.role),
        });
    }
    Ok(())
}

pub(crate) fn resolve_member<'a>(members: &'a [Member], who: &str) -> Result<&'a Member> {
    let wanted = who.trim();
    if let Some(id) = DeviceId::parse_hex(wanted) {
        if let Some(m) = members.iter().find(|m| m.device == id) {
            return Ok(m);
        }
    }
    let by_name: Vec<&Member> = members
        .iter()
        .filter(|m| !m.name.is_empty() && m.name.to_lowercase() == wanted.to_lowercase())
        .collect();
    match by_name.as_slice() {
        [one] => Ok(one),
        [] => Err(InputError::new(
            "member",
            format!("no member of this group is called {wanted:?} (use `members` to list them)"),
        )
        .into()),
        _ => Err(InputError::new(
            "member",
            format!(
                "{} members are called {wanted:?}; use her member id",
                by_name.len()
            ),
        )
        .into()),
    }
}

/// The group's stored log and the membership it verifies to.
pub(crate) fn log_and_membership(g: &GroupWrite<'_, '_>) -> Result<(Vec<Signed>, Membership)> {
    let log = storage::load_log(&g.w.tx, g.w.cipher, g.row)?;
    let m = Membership::from_log(&log)
        .map_err(|e| Error::Document(format!("the stored membership log does not verify: {e}")))?;
    Ok((log, m))
}

/// One group's part of a request.
fn prepare_group(g: &mut GroupWrite<'_, '_>, ctx: &Ctx) -> Result<(GroupSync, Sent)> {
    let s = &g.summary;
    let mut gs = GroupSync {
        group: s.id,
        log_len: s.sync.log_confirmed,
        cursor: s.sync.cursor,
        no_snapshot: s.sync.no_snapshot,
        ..GroupSync::default()
    };
    let mut sent = Sent {
        row: g.row,
        group: s.id,
        own: Vec::new(),
        forwarded: 0,
        ops: Vec::new(),
        snapshot: false,
        want_seqs: false,
        directs: Vec::new(),
    };
    if g.summary.standing != Standing::Member {
        return Ok((gs, sent));
    }
    gs.direct_cursor = g.summary.sync.direct_cursor;
    for o in crate::notes::store::outgoing(&g.w.tx, g.w.cipher, g.row, MAX_DIRECTS_PER_SYNC)? {
        sent.directs.push((o.note, o.to));
        gs.directs.push(o.direct);
    }
    // Notes describe the group as of the last sync; this one writes them afresh.
    g.summary.sync.notes.clear();
    build_envelopes(g, ctx)?;
    for o in storage::list_outgoing(&g.w.tx, g.w.cipher, g.row)? {
        sent.own.push(o.seq);
        gs.uploads.push(o.envelope);
    }
    let forwards = storage::list_forwarding(&g.w.tx, g.w.cipher, g.row)?;
    sent.forwarded = forwards.len();
    gs.uploads.extend(forwards);

    let (log, m) = log_and_membership(g)?;
    // Operations made here that the relay has not confirmed: the group's creation. They go
    // first; the relay creates the group from them.
    let unconfirmed = &log[(g.summary.sync.log_confirmed as usize).min(log.len())..];
    if !unconfirmed.is_empty() {
        gs.ops = unconfirmed.to_vec();
        sent.ops = vec![Intent::Create; unconfirmed.len()];
    } else if gs.uploads.is_empty() && m.is_moderator(&ctx.me) {
        // Other operations go in a request without uploads: the relay applies operations
        // first, and an epoch they start would turn this request's envelopes stale.
        let (ops, intents, want) = build_ops(g, ctx, &m)?;
        gs.ops = ops;
        sent.ops = intents;
        sent.want_seqs = want;
        gs.want_seqs = want;
    }
    if g.summary.sync.snapshot_wanted && gs.ops.is_empty() {
        if let Some(snapshot) = build_snapshot(g, ctx, &m)? {
            gs.snapshot = Some(snapshot);
            sent.snapshot = true;
        }
    }
    Ok((gs, sent))
}

/// Packs this device's changes not yet in an envelope into as few envelopes as fit, seals,
/// signs and stores them. They are sent from the store until the relay acknowledges them.
fn build_envelopes(g: &mut GroupWrite<'_, '_>, ctx: &Ctx) -> Result<()> {
    let pending =
        storage::local_changes_after(&g.w.tx, g.w.cipher, g.row, g.summary.sync.enveloped)?;
    let mut start = 0;
    while start < pending.len() {
        let mut end = start;
        let mut size = 0;
        while end < pending.len()
            && (end == start || size + pending[end].2.len() <= ENVELOPE_RAW_BUDGET)
        {
            size += pending[end].2.len();
            end += 1;
        }
        seal_batch(g, ctx, &pending[start..end])?;
        start = end;
    }
    Ok(())
}

fn seal_batch(g: &mut GroupWrite<'_, '_>, ctx: &Ctx, batch: &[(u64, u32, Vec<u8>)]) -> Result<()> {
    let s = &mut *g.summary;
    let mut by_chapter: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    for (_, chapter, bytes) in batch {
        by_chapter.entry(*chapter).or_default().push(bytes.clone());
    }
    let seq = s.sync.last_seq + 1;
    let mut sections = Vec::new();
    for (chapter, changes) in by_chapter {
        let key = s.keys.get(&chapter).ok_or_else(|| {
            Error::Document(format!(
                "no key for chapter {chapter}, which holds unsent changes"
            ))
        })?;
        let newest = Change::from_bytes(changes.last().cloned().unwrap_or_default())
            .map_err(|e| Error::Document(format!("a stored change does not parse: {e}")))?;
        let attestation = Attestation {
            v: hearth_protocol::VERSION,
            group: s.id,
            chapter,
            author: ctx.me,
            seq: newest.seq(),
            change: Hash(newest.hash().0),
        }
        .sign(ctx.keys.as_ref());
        if chapter == s.chapter {
            s.sync.attestations.insert(ctx.me, attestation.clone());
        }
        sections.push(SectionIn {
            chapter,
            key,
            changes,
            attestation,
        });
    }
    let (body, chapters) = seal_envelope_body(&s.id, s.chapter, &ctx.me, seq, sections)?;
    let header = EnvelopeHeader {
        v: hearth_protocol::VERSION,
        group: s.id,
        epoch: s.chapter,
        author: ctx.me,
        seq,
        prev: s.sync.last_id.unwrap_or(Hash::ZERO),
        body_hash: body_hash(&body),
        chapters,
    };
    let envelope = Envelope::seal(ctx.keys.as_ref(), &header, body);
    let out = Outgoing {
        id: envelope.id(),
        envelope,
        seq,
        first: batch[0].0,
        last: batch[batch.len() - 1].0,
    };
    storage::put_outgoing(g.w, g.row, &out)?;
    s.sync.last_seq = seq;
    s.sync.last_id = Some(out.id);
    s.sync.enveloped = out.last;
    Ok(())
}

/// The moderator's pending work as operations on the confirmed log: invites to publish,
/// registrations to admit, removals (which first need every author's newest seq).
fn build_ops(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    m: &Membership,
) -> Result<(Vec<Signed>, Vec<Intent>, bool)> {
    let s = &mut *g.summary;
    let mut state = m.clone();
    let mut ops = Vec::new();
    let mut intents = Vec::new();
    let mut want_seqs = false;
    let mut notes = Vec::new();
    // Signs `body` on the state so far and keeps it only if the log accepts it.
    let attempt = |state: &mut Membership, body: OpBody| {
        let op = sign_next(&ctx.keys, state, ctx.now, body);
        let mut next = state.clone();
        next.apply(&op).map(|_| {
            *state = next;
            op
        })
    };
    for inv in s
        .invites
        .iter()
        .filter(|i| !i.published && i.expires_at > ctx.now)
    {
        let ik = InviteCode::from_bytes(inv.code).keys();
        if state.invites.contains_key(&ik.id()) {
            continue;
        }
        let details = ik
            .seal(
                &details_aad(&s.id),
                &wire::encode(&InviteDetails {
                    group_name: s.name.clone(),
                    inviter: ctx.my_name.clone(),
                }),
            )
            .map_err(|e| Error::Document(e.to_string()))?;
        let body = OpBody::Invite {
            invite: ik.id(),
            role: inv.role,
            expires_at: inv.expires_at,
            details,
        };
        match attempt(&mut state, body) {
            Ok(op) => {
                ops.push(op);
                intents.push(Intent::Invite(ik.id()));
            }
            Err(e) => notes.push(format!("an invite cannot be published: {e}")),
        }
    }
    let volunteers_only = volunteers_only(g)?;
    let s = &mut *g.summary;
    for join in &s.sync.joins {
        let Ok(req) = join.verify() else { continue };
        if state.is_member(&req.device) {
            continue;
        }
        let Some(invite) = state.invites.get(&req.invite) else {
            continue;
        };
        if volunteers_only && invite.role == Role::Mother {
            notes.push(
                "the group is for volunteers and coordinators only: a mother who registered \
                 with an invite made before is not admitted"
                    .to_string(),
            );
            continue;
        }
        if state.members.len() as u32 >= state.capacity {
            notes.push(format!(
                "the group is full ({} of {} places): someone who registered with an invite \
                 cannot be admitted until a place frees up",
                state.members.len(),
                state.capacity
            ));
            continue;
        }
        let n = state.epoch + 1;
        let mut after = state.members.clone();
        after.insert(
            req.device,
            MemberState {
                role: invite.role,
                agreement: req.agreement,
                since_epoch: n,
                since_at: ctx.now,
            },
        );
        let key = EpochKey::random()?;
        let epoch = seal_epoch(&s.id, n, &key, &after)?;
        // A registration the log refuses (expired by now, say) is skipped, not fatal.
        match attempt(
            &mut state,
            OpBody::Admit {
                join: join.clone(),
                epoch,
            },
        ) {
            Ok(op) => {
                ops.push(op);
                intents.push(Intent::Admit(req.device));
            }
            Err(e) => notes.push(format!("a registration cannot be admitted: {e}")),
        }
    }
    for device in s.sync.removals.clone() {
        if !state.is_member(&device) {
            s.sync.removals.retain(|d| *d != device);
            continue;
        }
        let Some(seqs) = s.sync.seqs.as_ref() else {
            want_seqs = true;
            continue;
        };
        let final_seq = seqs.get(&device).copied().unwrap_or(0);
        let n = state.epoch + 1;
        let mut after = state.members.clone();
        after.remove(&device);
        let key = EpochKey::random()?;
        let epoch = seal_epoch(&s.id, n, &key, &after)?;
        let body = OpBody::Remove {
            device,
            final_seq,
            epoch,
        };
        match attempt(&mut state, body) {
            Ok(op) => {
                ops.push(op);
                intents.push(Intent::Remove(device));
            }
            Err(e) => {
                notes.push(format!("cannot remove {}: {e}", device.short()));
                s.sync.removals.retain(|d| *d != device);
            }
        }
    }
    if !intents.iter().any(|i| matches!(i, Intent::Remove(_))) && !want_seqs {
        s.sync.seqs = None;
    }
    for n in notes {
        note(&mut s.sync, n);
    }
    Ok((ops, intents, want_seqs))
}

fn note(sync: &mut SyncState, text: String) {
    if !sync.notes.contains(&text) {
        sync.notes.push(text);
    }
    if sync.notes.len() > 20 {
        sync.notes.remove(0);
    }
}

/// A snapshot of the current chapter, if this device can vouch for every author in it.
fn build_snapshot(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    m: &Membership,
) -> Result<Option<Snapshot>> {
    let chapter = g.summary.chapter;
    if chapter != m.epoch {
        return Ok(None);
    }
    let Some(key) = g.summary.keys.get(&chapter).cloned() else {
        return Ok(None);
    };
    let doc = g.current()?;
    if doc.has_missing_deps() {
        return Ok(None);
    }
    let heads = doc.author_heads();
    let mut attestations = Vec::new();
    for (author, (seq, hash)) in &heads {
        if *author == ctx.me {
            attestations.push(
                Attestation {
                    v: hearth_protocol::VERSION,
                    group: g.summary.id,
                    chapter,
                    author: ctx.me,
                    seq: *seq,
                    change: *hash,
                }
                .sign(ctx.keys.as_ref()),
            );
            continue;
        }
        let Some(signed) = g.summary.sync.attestations.get(author) else {
            return Ok(None);
        };
        match Attestation::open(signed) {
            Ok(a) if a.seq == *seq && a.change == *hash => attestations.push(signed.clone()),
            _ => return Ok(None),
        }
    }
    let doc_bytes = g.current()?.save();
    let body = seal_snapshot_body(
        &g.summary.id,
        chapter,
        &ctx.me,
        &key,
        doc_bytes,
        attestations,
    )?;
    let header = SnapshotHeader {
        v: hearth_protocol::VERSION,
        group: g.summary.id,
        epoch: chapter,
        chapter,
        maker: ctx.me,
        covers: g.summary.sync.cursor,
        body_hash: body_hash(&body),
    };
    Ok(Some(Snapshot::seal(ctx.keys.as_ref(), &header, body)))
}

/// Applies one group's reply. Returns whether another round trip would make progress.
fn apply_reply(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    sent: &Sent,
    reply: &GroupReply,
    report: &mut SyncReport,
) -> Result<bool> {
    let name = g.summary.name.clone();
    let mut again = reply.more;
    if let Some(refusal) = &reply.refused {
        // A former member still gets the log: it shows her, verifiably, that she was removed.
        let incoming = apply_incoming(g, ctx, &reply.log, None, &[], false)?;
        report
            .notes
            .extend(incoming.notes.into_iter().map(|n| format!("{name}: {n}")));
        if g.summary.standing != Standing::Removed {
            note(
                &mut g.summary.sync,
                format!(
                    "the relay refused this group: {} ({})",
                    refusal.reason, refusal.code
                ),
            );
        }
        report
            .notes
            .push(format!("{name}: refused by the relay: {}", refusal.reason));
        return Ok(false);
    }

    // What became of the uploads. Acknowledged envelopes leave the outbox: their messages
    // turn from pending to sent.
    let mut rebuild = false;
    for (i, seq) in sent.own.iter().enumerate() {
        match reply.upload_outcomes.get(i) {
            Some(o) if o.is_ok() => report.envelopes_sent += 1,
            Some(o) => {
                rebuild = true;
                if !matches!(o.code, Code::StaleEpoch | Code::Gap | Code::SeqConflict) {
                    report.notes.push(format!(
                        "{name}: envelope {seq} refused: {} ({})",
                        o.reason, o.code
                    ));
                }
            }
            None => {}
        }
    }
    for o in reply.upload_outcomes.iter().skip(sent.own.len()) {
        if o.is_ok() {
            report.envelopes_sent += 1;
        }
    }
    if sent.forwarded > 0 {
        storage::clear_forwarding(g.w, g.row)?;
    }
    again |= settle_directs(g, ctx, sent, reply, &name, report)?;
    acknowledge(g, reply.stored_seq, &name, report)?;
    if rebuild {
        let s = &mut *g.summary;
        storage::drop_outgoing_from(g.w, g.row, s.sync.acked_seq + 1)?;
        s.sync.last_seq = s.sync.acked_seq;
        s.sync.last_id = s.sync.acked_id;
        s.sync.enveloped = s.outbox.acked_seq;
        again = true;
    }

    for (intent, outcome) in sent.ops.iter().zip(&reply.op_outcomes) {
        report.ops_sent += u32::from(outcome.is_ok());
        match outcome.code {
            Code::Stored | Code::Duplicate => {}
            Code::LogConflict => again = true,
            code => {
                if let Intent::Remove(_) = intent {
                    // Most likely she sent one more envelope: ask for the seqs again.
                    g.summary.sync.seqs = None;
                    again = true;
                }
                report.notes.push(format!(
                    "{name}: {intent:?} refused: {} ({code})",
                    outcome.reason
                ));
            }
        }
    }
    if let Some(o) = &reply.snapshot_outcome {
        g.summary.sync.snapshot_wanted = false;
        if o.is_ok() {
            report.snapshots_sent += 1;
        }
    }
    if reply.snapshot_wanted {
        g.summary.sync.snapshot_wanted = true;
    }
    if sent.want_seqs {
        g.summary.sync.seqs = Some(reply.seqs.clone());
        again = true;
    }

    let incoming = apply_incoming(
        g,
        ctx,
        &reply.log,
        reply.snapshot.as_ref(),
        &reply.envelopes,
        false,
    )?;
    again |= receive_directs(g, ctx, reply, &name, report)?;
    report.envelopes_received += incoming.envelopes;
    report.snapshots_received += incoming.snapshots;
    report.messages_updated += incoming.messages;
    report.flagged_for_review += incoming.flagged;
    report
        .notes
        .extend(incoming.notes.into_iter().map(|n| format!("{name}: {n}")));
    if g.summary.standing == Standing::Member {
        // The relay's word, even when lower than what this device sent: a relay restored from
        // an older backup starts it over from its newest envelope.
        g.summary.sync.cursor = reply.cursor;
    }
    if incoming.gap {
        if !g.summary.sync.refetched && !reply.more {
            g.summary.sync.refetched = true;
            g.summary.sync.cursor = 0;
            again = true;
        }
    } else {
        g.summary.sync.refetched = false;
    }
    // Moderators: registrations waiting, to admit in the next round.
    let moderator = g
        .summary
        .members
        .iter()
        .any(|m| m.device == ctx.me && m.role == Role::Moderator);
    if moderator {
        let was = g.summary.sync.joins.len();
        g.summary.sync.joins = reply.joins.clone();
        again |= !reply.joins.is_empty() && (was != reply.joins.len() || !sent.ops.is_empty());
    }
    let s = &g.summary;
    again |= incoming.new_chapter
        || s.outbox.local_seq > s.sync.enveloped
        || (moderator
            && s.invites
                .iter()
                .any(|i| !i.published && i.expires_at > ctx.now))
        || (moderator && !s.sync.removals.is_empty());
    Ok(again)
}

/// Most direct notes one request uploads per group (the relay takes up to 100).
const MAX_DIRECTS_PER_SYNC: usize = 100;

/// What became of uploaded direct notes: stored ones leave `direct_out`; refused ones too,
/// recorded on the note as undelivered (so the sender sees it) and said in the report.
fn settle_directs(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    sent: &Sent,
    reply: &GroupReply,
    name: &str,
    report: &mut SyncReport,
) -> Result<bool> {
    use crate::notes::store as notes;
    let mut again = false;
    let mut refused: BTreeMap<crate::notes::NoteId, Vec<(DeviceId, String)>> = BTreeMap::new();
    for (i, (note, to)) in sent.directs.iter().enumerate() {
        match reply.direct_outcomes.get(i) {
            Some(o) if o.is_ok() => notes::drop_outgoing(g.w, g.row, note, to)?,
            Some(o) if o.code == Code::RateLimited => again = true,
            Some(o) => {
                notes::drop_outgoing(g.w, g.row, note, to)?;
                report.notes.push(format!(
                    "{name}: a private note to {} was not delivered: {} ({})",
                    to.short(),
                    o.reason,
                    o.code
                ));
                refused
                    .entry(*note)
                    .or_default()
                    .push((*to, format!("{} ({})", o.reason, o.code)));
            }
            None => again = true,
        }
    }
    if !refused.is_empty() {
        let me = ctx.me;
        for mut n in notes::notes(&g.w.tx, g.w.cipher, g.row)? {
            if n.from == me {
                if let Some(list) = refused.remove(&n.id) {
                    n.undelivered.extend(list);
                    notes::put_note(g.w, g.row, &n, true)?;
                }
            }
        }
    }
    again |= sent.directs.len() >= MAX_DIRECTS_PER_SYNC;
    Ok(again)
}

/// Takes in direct notes sealed to this device: each opened and checked (see
/// [`crate::notes::open_note`]), stored, and the cursor moved past it in the same
/// transaction, so the relay may delete it. A note this device refuses is said in the report.
fn receive_directs(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    reply: &GroupReply,
    name: &str,
    report: &mut SyncReport,
) -> Result<bool> {
    if reply.directs.is_empty() || g.summary.standing != Standing::Member {
        return Ok(false);
    }
    let (_, m) = log_and_membership(g)?;
    let mut cursor = g.summary.sync.direct_cursor;
    for (seq, direct) in &reply.directs {
        match crate::notes::open_note(&ctx.keys, &g.summary.id, &m, direct) {
            Ok(note) => {
                crate::notes::store::put_note(g.w, g.row, &note, false)?;
                report.notes_received += 1;
            }
            Err(why) => report
                .notes
                .push(format!("{name}: a private note was refused: {why}")),
        }
        cursor = cursor.max(*seq);
    }
    g.summary.sync.direct_cursor = cursor;
    Ok(reply.more_directs)
}

/// The relay holds this device's envelopes up to `stored`: drop them from `outgoing` and
/// acknowledge the changes they carried.
fn acknowledge(
    g: &mut GroupWrite<'_, '_>,
    stored: u64,
    name: &str,
    report: &mut SyncReport,
) -> Result<()> {
    let s = &mut *g.summary;
    if stored <= s.sync.acked_seq {
        return Ok(());
    }
    if stored > s.sync.last_seq {
        report.notes.push(format!(
            "{name}: the relay holds envelope {stored} from this device, which built only {}",
            s.sync.last_seq
        ));
        return Ok(());
    }
    let outgoing = storage::list_outgoing(&g.w.tx, g.w.cipher, g.row)?;
    let Some(newest) = outgoing.iter().find(|o| o.seq == stored) else {
        return Ok(());
    };
    s.outbox.acknowledge(newest.last)?;
    s.sync.acked_seq = stored;
    s.sync.acked_id = Some(newest.id);
    storage::drop_outgoing_upto(g.w, g.row, stored)?;
    Ok(())
}

/// Takes in membership operations, a snapshot and envelopes — from the relay or from another
/// member's device — verifying every one of them.
fn apply_incoming(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    log: &[Signed],
    snapshot: Option<&Snapshot>,
    envelopes: &[Envelope],
    forward: bool,
) -> Result<Incoming> {
    let mut inc = Incoming::default();
    let (held, mut m) = log_and_membership(g)?;
    apply_log(g, ctx, &mut m, &held, log, &mut inc)?;
    if g.summary.standing != Standing::Member && g.summary.standing != Standing::Removed {
        refresh_members(g.summary, &m, g.chapters)?;
        return Ok(inc);
    }
    let mut touched = Touched::default();
    if let Some(snap) = snapshot {
        match load_snapshot(g, ctx, &m, snap, &mut touched) {
            Ok(()) => inc.snapshots += 1,
            Err(why) => {
                // Catch up from the envelopes instead, from the start: those the snapshot
                // stood in for were left out of this answer.
                g.summary.sync.no_snapshot = true;
                inc.gap = true;
                inc.notes.push(format!("a snapshot was refused: {why}"));
            }
        }
    }
    let mut batches: BTreeMap<u32, Vec<Change>> = BTreeMap::new();
    for env in envelopes {
        match open_envelope(g, ctx, &m, env) {
            Ok(None) => {}
            Ok(Some((header, sections))) => {
                inc.envelopes += 1;
                for (chapter, changes, attestation, t) in sections {
                    touched.merge(t);
                    if chapter == g.summary.chapter {
                        let newer = g
                            .summary
                            .sync
                            .attestations
                            .get(&header.author)
                            .and_then(|s| Attestation::open(s).ok())
                            .is_none_or(|a| a.seq < attestation_seq(&attestation));
                        if newer {
                            g.summary
                                .sync
                                .attestations
                                .insert(header.author, attestation);
                        }
                    }
                    batches.entry(chapter).or_default().extend(changes);
                }
                if forward && header.author != ctx.me {
                    storage::put_forwarding(g.w, g.row, &header.author, header.seq, env)?;
                }
            }
            Err(why) => inc.notes.push(format!("an envelope was refused: {why}")),
        }
    }
    for (chapter, changes) in batches {
        let stored = crate::group::doc::encode_batch(changes.iter());
        let doc = match g.chapters.entry(chapter) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(ChapterDoc::genesis(&g.summary.id, chapter, ctx.me)?)
            }
        };
        let waiting_before = doc.has_missing_deps();
        let heads = doc.heads();
        doc.apply(changes)?;
        if waiting_before {
            // Changes that waited for these may have applied too: look at all that did.
            for c in doc.changes_since(&heads) {
                if let Some(author) = DeviceId::from_slice(c.actor_id().to_bytes()) {
                    if let Ok(mut t) = doc.check_held_change(&c, &author, true) {
                        // Checked with the right role when it arrived; its records were
                        // taken then.
                        t.records.clear();
                        touched.merge(t);
                    }
                }
            }
        }
        inc.gap |= doc.has_missing_deps();
        storage::append_change(g.w, g.row, chapter, None, &stored)?;
        g.changes += 1;
    }
    if touched.profile_or_info || inc.new_chapter {
        refresh_members(g.summary, &m, g.chapters)?;
    }
    crate::moderation::store::put(g.w, g.row, &touched.records)?;
    let ids: BTreeSet<_> = touched.messages.into_iter().collect();
    let mut updates = Vec::with_capacity(ids.len());
    for record in crate::group::assemble_many(g.chapters, &ids)? {
        // The hybrid clock follows others' stamps, but never more than ten minutes past
        // this device's time: one member's absurd stamp must not drag everyone's along.
        let bound = ctx.now.saturating_add(MAX_STAMP_LEAD_MS);
        g.summary.max_stamp = g.summary.max_stamp.max(record.stamp.min(bound));
        updates.push(Update {
            record,
            local_seq: None,
        });
    }
    inc.messages = updates.len() as u64;
    if m.is_moderator(&ctx.me) {
        let records = updates.iter().map(|u| &u.record);
        inc.flagged +=
            crate::notes::detections::scan_received(g.w, g.row, &ctx.me, records, ctx.now)? as u64;
    }
    timeline::apply(g.w, g.row, updates)?;
    Ok(inc)
}

fn attestation_seq(signed: &Signed) -> u64 {
    Attestation::open(signed).map_or(0, |a| a.seq)
}

/// Appends the operations that extend this device's log, verifying each, and follows what
/// they do to this device: a new epoch's key and chapter, an admission, a removal.
fn apply_log(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    m: &mut Membership,
    held: &[Signed],
    log: &[Signed],
    inc: &mut Incoming,
) -> Result<()> {
    for signed in log {
        let op = match open_op(signed) {
            Ok(op) => op,
            Err(e) => {
                inc.notes
                    .push(format!("a membership operation does not verify: {e}"));
                break;
            }
        };
        if op.index < m.len {
            // Already held: the relay's log is one chain, and a bundle repeats it. An
            // operation this device made (the creation) is confirmed by coming back.
            if op.index >= g.summary.sync.log_confirmed {
                if held.get(op.index as usize) == Some(signed) {
                    g.summary.sync.log_confirmed = op.index + 1;
                } else {
                    inc.notes.push(format!(
                        "the relay's log holds another operation at position {}",
                        op.index
                    ));
                    break;
                }
            }
            continue;
        }
        let was_member = m.is_member(&ctx.me);
        let before = m.epoch;
        if let Err(e) = m.apply(signed) {
            inc.notes
                .push(format!("a membership operation was refused: {e}"));
            break;
        }
        storage::append_op(g.w, g.row, op.index, signed)?;
        let s = &mut *g.summary;
        s.sync.log_confirmed = m.len;
        s.capacity.limit = m.capacity;
        match &op.body {
            OpBody::Invite { invite, .. } => {
                for i in &mut s.invites {
                    if InviteCode::from_bytes(i.code).keys().id() == *invite {
                        i.published = true;
                    }
                }
            }
            OpBody::Admit { join, .. } => s.sync.joins.retain(|j| j != join),
            OpBody::Remove { device, .. } => s.sync.removals.retain(|d| d != device),
            _ => {}
        }
        if m.epoch == before {
            continue;
        }
        let n = m.epoch;
        if m.is_member(&ctx.me) {
            let epoch = op.body.epoch().ok_or_else(|| {
                Error::Document("an operation started an epoch without keys".into())
            })?;
            let key = open_epoch(&ctx.keys, &s.id, epoch)?.ok_or_else(|| {
                Error::Document(format!("epoch {n} was not sealed to this device"))
            })?;
            s.keys.insert(n, key);
            if !was_member {
                s.standing = Standing::Member;
                s.first_chapter = n;
                s.sync.cursor = 0;
                s.sync.notes.clear();
            }
            s.chapter = n;
            s.sync.attestations.clear();
            s.sync.snapshot_wanted = false;
            s.sync.no_snapshot = false;
            g.chapters.insert(n, ChapterDoc::genesis(&s.id, n, ctx.me)?);
            inc.new_chapter = true;
        } else if was_member {
            s.standing = Standing::Removed;
            s.sync.removals.clear();
            s.sync.joins.clear();
            note(
                &mut s.sync,
                "a moderator removed you from this group; what you had stays readable here".into(),
            );
        }
    }
    if inc.new_chapter && g.summary.standing == Standing::Member {
        // Say who this device is in the new chapter (and, for a moderator, the group's name),
        // so members who join now can put a name to it.
        let moderator = m.is_moderator(&ctx.me);
        let info = moderator.then(|| (g.summary.name.clone(), g.summary.capacity.reason.clone()));
        let change = g.current()?.introduce(
            &ctx.my_name,
            info.as_ref().map(|(n, r)| (n.as_str(), r.as_deref())),
        )?;
        if let Some(change) = change {
            g.record(&change)?;
        }
        if m.was_moderator_in(&ctx.me, g.summary.chapter) {
            carry_moderation(g, ctx)?;
        }
    }
    Ok(())
}

/// Whether moderators have made the group volunteers and coordinators only.
fn volunteers_only(g: &GroupWrite<'_, '_>) -> Result<bool> {
    use crate::moderation::{store, ModState};
    Ok(ModState::fold(store::list(&g.w.tx, g.w.cipher, g.row)?).volunteers_only)
}

/// Carries the moderation records that still shape the group (rules, pins, running mutes,
/// settings, duty) into the new chapter, for members who hold only the chapters from their
/// admission on.
fn carry_moderation(g: &mut GroupWrite<'_, '_>, ctx: &Ctx) -> Result<()> {
    use crate::moderation::{store, Action, ModRecord, ModState};
    let state = ModState::fold(store::list(&g.w.tx, g.w.cipher, g.row)?);
    let records = state.live_records(ctx.now);
    if records.is_empty() {
        return Ok(());
    }
    let record = ModRecord {
        at: ctx.now,
        why: String::new(),
        action: Action::Carry { records },
    };
    record
        .validate()
        .map_err(|e| Error::Document(format!("carrying moderation: {e}")))?;
    crate::moderation::actions::append_record(g, ctx.me, record)?;
    Ok(())
}

/// Verifies an envelope and opens the sections this device may read. `Ok(None)`: nothing to
/// do (this device's own, or only chapters from before its admission).
#[allow(clippy::type_complexity)]
fn open_envelope(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    m: &Membership,
    env: &Envelope,
) -> std::result::Result<Option<(EnvelopeHeader, Vec<(u32, Vec<Change>, Signed, Touched)>)>, String>
{
    let h = env.open().map_err(|e| e.to_string())?;
    let who = format!("envelope {} from {}", h.seq, h.author.short());
    if h.group != g.summary.id {
        return Err(format!("{who} is for another group"));
    }
    if h.author == ctx.me {
        return Ok(None);
    }
    if !m.accepts_envelope(&h.author, h.epoch, h.seq) {
        return Err(format!(
            "{who}: the author was not a member in epoch {}, or sent it after her removal",
            h.epoch
        ));
    }
    let first = g.summary.first_chapter;
    let keys = &g.summary.keys;
    let (sections, _older) = open_envelope_body(
        &h.group,
        h.epoch,
        &h.author,
        h.seq,
        &h.chapters,
        &env.body,
        |c| keys.get(&c).filter(|_| c >= first),
    )
    .map_err(|e| format!("{who}: {e}"))?;
    if sections.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for sec in sections {
        // Moderation counts in the chapters of the epochs she moderated in, whenever it
        // arrives: every device reaches the same verdict on the same change.
        let moderator = m.was_moderator_in(&h.author, sec.chapter);
        check_attestation(&sec.attestation, &h.group, sec.chapter, &h.author)
            .map_err(|e| format!("{who}: {e}"))?;
        let doc = match g.chapters.entry(sec.chapter) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(
                ChapterDoc::genesis(&h.group, sec.chapter, ctx.me).map_err(|e| e.to_string())?,
            ),
        };
        let mut changes = Vec::with_capacity(sec.changes.len());
        let mut touched = Touched::default();
        for bytes in sec.changes {
            let change = Change::from_bytes(bytes)
                .map_err(|e| format!("{who}: a change does not parse: {e}"))?;
            if change.actor_id().to_bytes() == h.author.0 && doc.has_change(&change.hash()) {
                // Already held (it came in a snapshot): checked then, nothing to do now.
                continue;
            }
            let t = doc
                .check_change(&change, &h.author, moderator)
                .map_err(|e| format!("{who}: {e}"))?;
            touched.merge(t);
            changes.push(change);
        }
        out.push((sec.chapter, changes, sec.attestation, touched));
    }
    Ok(Some((h, out)))
}

/// Verifies and merges a snapshot of a chapter: signed by a member of that chapter, opened
/// with the chapter's key, every author's newest change matching her own attestation, and
/// every change one its author may make.
fn load_snapshot(
    g: &mut GroupWrite<'_, '_>,
    ctx: &Ctx,
    m: &Membership,
    snap: &Snapshot,
    touched: &mut Touched,
) -> std::result::Result<(), String> {
    let h = snap.open().map_err(|e| e.to_string())?;
    if h.group != g.summary.id || h.chapter != h.epoch {
        return Err("it is for another group or chapter".into());
    }
    if !m.was_member_in(&h.maker, h.chapter) {
        return Err(format!(
            "its maker {} was not a member then",
            h.maker.short()
        ));
    }
    if h.chapter < g.summary.first_chapter {
        return Ok(());
    }
    let key = g
        .summary
        .keys
        .get(&h.chapter)
        .ok_or_else(|| format!("this device has no key for chapter {}", h.chapter))?;
    let (doc_bytes, attestations) =
        open_snapshot_body(&h.group, h.chapter, &h.maker, key, &snap.body)
            .map_err(|e| e.to_string())?;
    let verified = verify_snapshot(
        &h.group,
        h.chapter,
        ctx.me,
        &doc_bytes,
        attestations,
        |d| m.was_member_in(d, h.chapter),
        |d| m.was_moderator_in(d, h.chapter),
    )?;
    let VerifiedSnapshot {
        doc: loaded,
        changes,
        attested,
        touched: new_touched,
    } = verified;
    touched.merge(new_touched);
    let chapter = h.chapter;
    let s = &mut *g.summary;
    if chapter == s.chapter {
        for (author, (_, signed)) in attested {
            s.sync.attestations.insert(author, signed);
        }
    }
    match g.chapters.get_mut(&chapter) {
        // The usual catch-up: nothing held yet, so the verified document is taken as it is.
        Some(doc) => {
            if doc.is_fresh() {
                doc.adopt(loaded);
            } else {
                doc.apply(changes).map_err(|e| e.to_string())?;
            }
        }
        None => {
            g.chapters.insert(chapter, loaded);
        }
    }
    storage::append_change(g.w, g.row, chapter, None, &doc_bytes).map_err(|e| e.to_string())?;
    g.changes += 1;
    Ok(())
}

/// A snapshot that passed [`verify_snapshot`].
struct VerifiedSnapshot {
    doc: ChapterDoc,
    changes: Vec<Change>,
    attested: BTreeMap<DeviceId, (Attestation, Signed)>,
    touched: Touched,
}

/// Checks a snapshot's document against its attestations: every author's newest change is the
/// one she signed (Automerge hashes chain, so that vouches for all her earlier ones), the only
/// other change is the chapter's genesis, every change is one its author may make, and no two
/// creations compete for one message id. Pure, so it is tested with forged documents.
fn verify_snapshot(
    group: &GroupId,
    chapter: u32,
    me: DeviceId,
    doc_bytes: &[u8],
    attestations: Vec<Signed>,
    member_then: impl Fn(&DeviceId) -> bool,
    moderator: impl Fn(&DeviceId) -> bool,
) -> std::result::Result<VerifiedSnapshot, String> {
    let mut loaded = ChapterDoc::genesis(group, chapter, me).map_err(|e| e.to_string())?;
    loaded.load_strict(doc_bytes).map_err(|e| e.to_string())?;
    let mut attested: BTreeMap<DeviceId, (Attestation, Signed)> = BTreeMap::new();
    for signed in attestations {
        let a = Attestation::open(&signed).map_err(|e| e.to_string())?;
        if a.group != *group || a.chapter != chapter {
            return Err("an attestation is out of place".into());
        }
        attested.insert(a.author, (a, signed));
    }
    let changes = loaded.all_changes();
    for (author, (seq, hash)) in ChapterDoc::author_heads_of(&changes) {
        match attested.get(&author) {
            Some((a, _)) if a.seq == seq && a.change == hash => {}
            _ => {
                return Err(format!(
                    "the changes of {} in it are not the ones she attested",
                    author.short()
                ))
            }
        }
    }
    let mut new_touched = Touched::default();
    let mut genesis_seen = false;
    for c in &changes {
        let Some(author) = DeviceId::from_slice(c.actor_id().to_bytes()) else {
            if loaded.is_genesis(c) {
                genesis_seen = true;
                continue; // the genesis, rebuilt identically everywhere
            }
            return Err("it holds a change that is neither a member's nor the genesis".into());
        };
        if !member_then(&author) {
            return Err(format!(
                "it holds changes by {}, not a member then",
                author.short()
            ));
        }
        let t = loaded
            .check_held_change(c, &author, moderator(&author))
            .map_err(|e| format!("{e}"))?;
        new_touched.merge(t);
    }
    if !genesis_seen {
        return Err("it does not grow from this chapter's genesis".into());
    }
    if loaded.has_competing_messages().map_err(|e| e.to_string())? {
        return Err("two members' messages compete for one message id".into());
    }
    Ok(VerifiedSnapshot {
        doc: loaded,
        changes,
        attested,
        touched: new_touched,
    })
}

/// Rebuilds the member list from the log, with pseudonyms from the newest chapter that has
/// each, and the group's name from the newest chapter that names it.
fn refresh_members(
    s: &mut GroupSummary,
    m: &Membership,
    chapters: &BTreeMap<u32, ChapterDoc>,
) -> Result<()> {
    let mut names: BTreeMap<DeviceId, String> = BTreeMap::new();
    let mut group_name = None;
    for doc in chapters.values() {
        names.extend(doc.profiles()?);
        if let Some(n) = doc.name()? {
            group_name = Some(n);
        }
        if let Some(r) = doc.capacity_reason()? {
            s.capacity.reason = Some(r);
        }
    }
    if let Some(n) = group_name {
        s.name = n;
    }
    let old: BTreeMap<DeviceId, String> = s
        .members
        .iter()
        .map(|mm| (mm.device, mm.name.clone()))
        .collect();
    s.members = m
        .members
        .iter()
        .map(|(d, st)| Member {
            device: *d,
            name: names
                .get(d)
                .cloned()
                .or_else(|| old.get(d).cloned())
                .unwrap_or_default(),
            role: st.role,
            since_epoch: st.since_epoch,
            admitted_at: st.since_at,
        })
        .collect();
    Ok(())
}

impl From<payload::PayloadError> for Error {
    fn from(e: payload::PayloadError) -> Self {
        Error::Document(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;
    use hearth_protocol::ids::{KeyPairSigner, Signer};

    const G: GroupId = GroupId([5; 16]);

    fn attest(signer: &KeyPairSigner, doc: &mut ChapterDoc) -> Signed {
        let (seq, hash) = doc.author_heads()[&signer.device()];
        Attestation {
            v: 1,
            group: G,
            chapter: 1,
            author: signer.device(),
            seq,
            change: hash,
        }
        .sign(signer)
    }

    fn verify(doc: &mut ChapterDoc, atts: Vec<Signed>) -> std::result::Result<usize, String> {
        let bytes = doc.save();
        verify_snapshot(&G, 1, DeviceId([0; 32]), &bytes, atts, |_| true, |_| false)
            .map(|v| v.touched.messages.len())
    }

    #[test]
    fn a_snapshot_verifies_only_with_every_authors_own_attestation() {
        let (amina, bea) = (
            KeyPairSigner::from_seed(&[1; 32]),
            KeyPairSigner::from_seed(&[2; 32]),
        );
        let mut doc = ChapterDoc::genesis(&G, 1, amina.device()).unwrap();
        doc.add_message(&MessageId([1; 16]), "hello", 1, 1).unwrap();
        let mut hers = ChapterDoc::genesis(&G, 1, bea.device()).unwrap();
        hers.add_message(&MessageId([2; 16]), "hi", 2, 2).unwrap();
        let bea_change = hers.all_changes().pop().unwrap();
        doc.apply(vec![bea_change]).unwrap();
        let honest = vec![attest(&amina, &mut doc), attest(&bea, &mut hers)];
        assert_eq!(verify(&mut doc, honest.clone()), Ok(2));

        // Bea's attestation left out: her changes are unvouched for.
        let e = verify(&mut doc, honest[..1].to_vec()).unwrap_err();
        assert!(e.contains("not the ones she attested"), "{e}");

        // The maker (Amina) slips in a message under Bea's name: Automerge lets anyone write a
        // change with any actor, but it is not the change Bea signed.
        let mut forged = ChapterDoc::genesis(&G, 1, bea.device()).unwrap();
        forged.apply(doc.all_changes()).unwrap();
        forged
            .add_message(&MessageId([3; 16]), "words Bea never wrote", 3, 3)
            .unwrap();
        let e = verify(&mut forged, honest.clone()).unwrap_err();
        assert!(e.contains("not the ones she attested"), "{e}");

        // An attestation Bea signed, replayed from another chapter, does not count.
        let other_chapter = Attestation {
            chapter: 2,
            ..Attestation::open(&honest[1]).unwrap()
        }
        .sign(&bea);
        let e = verify(&mut doc, vec![honest[0].clone(), other_chapter]).unwrap_err();
        assert!(e.contains("out of place"), "{e}");

        // A non-member's changes, or a document that did not grow from this chapter's genesis.
        let bytes = doc.save();
        let outsider = verify_snapshot(
            &G,
            1,
            DeviceId([0; 32]),
            &bytes,
            honest.clone(),
            |d| *d != bea.device(),
            |_| false,
        );
        assert!(outsider.is_err());
        let mut elsewhere = ChapterDoc::genesis(&G, 2, amina.device()).unwrap();
        elsewhere
            .add_message(&MessageId([4; 16]), "x", 1, 1)
            .unwrap();
        let e = verify_snapshot(
            &G,
            1,
            DeviceId([0; 32]),
            &elsewhere.save(),
            vec![attest(&amina, &mut elsewhere)],
            |_| true,
            |_| false,
        );
        assert!(e.is_err());
    }
}
