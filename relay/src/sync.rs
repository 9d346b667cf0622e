//! The write half of `POST /v1/sync`: what the relay accepts from a device, item by item.
//!
//! Runs on the commit thread inside the request's savepoint ([`crate::commit`]). For each group
//! the device uploads to, in order: create the group if this is its creation; decide whether
//! the device may write at all; apply membership operations; store envelopes; store a snapshot;
//! store direct notes. Each item gets an [`Outcome`]; a refused item changes nothing, and items after it are still
//! tried (a device learns everything wrong with its upload in one round trip).
//!
//! The relay is blind: it checks signatures, hashes, membership, epochs and sequence chains —
//! everything in headers — and never looks inside a body. Checks that only the relay can make
//! (because only it sees every device's uploads) are here too: an admission must carry a
//! registration that reached this relay, and a removal's `final_seq` must be exactly the
//! removed member's newest envelope here, which is what makes "her later envelopes are
//! refused" exact.
//!
//! Signature checks on envelopes, snapshots and direct notes ([`open_upload`],
//! [`open_snapshot`], [`open_direct`]) run before the request reaches the commit thread, on the
//! blocking pool, so the single writer spends its time writing.
//!
//! A direct note is stored only between two current members of its group, uploaded by its
//! sender, and only until its recipient's device says it has stored it (her next sync's direct
//! cursor; see `reply`) or she is removed from the group (deleted with the removal, here): the
//! relay keeps no history of who wrote to whom beyond what is still waiting for delivery.

use std::sync::Arc;

use hearth_protocol::api::{Code, Outcome};
use hearth_protocol::envelope::{
    Direct, DirectHeader, Envelope, EnvelopeError, EnvelopeHeader, Snapshot, SnapshotHeader,
};
use hearth_protocol::ids::{Domain, Signed};
use hearth_protocol::membership::{open_op, JoinRequest, LogError, Membership, OpBody};
use hearth_protocol::wire::{self, WireError};
use hearth_protocol::{DeviceId, GroupId, Hash};

use crate::commit::WriteCtx;
use crate::store::{NewDirect, NewEnvelope, NewSnapshot, StoreError};

/// Direct notes one sync may upload to one group. A member writes a few at a time; more in one
/// request is a broken or hostile client, and each costs a signature check.
pub const MAX_DIRECTS_PER_GROUP: usize = 100;

/// An uploaded envelope after the checks that need no database.
pub struct OpenedEnvelope {
    pub header: Result<EnvelopeHeader, EnvelopeError>,
    pub id: Hash,
    /// The whole envelope as CBOR, as it will be stored and served.
    pub encoded: Vec<u8>,
}

pub struct OpenedSnapshot {
    pub header: Result<SnapshotHeader, EnvelopeError>,
    pub id: Hash,
    pub encoded: Vec<u8>,
}

pub fn open_upload(envelope: &Envelope) -> OpenedEnvelope {
    OpenedEnvelope {
        header: envelope.open(),
        id: envelope.id(),
        encoded: wire::encode(envelope),
    }
}

pub fn open_snapshot(snapshot: &Snapshot) -> OpenedSnapshot {
    OpenedSnapshot {
        header: snapshot.open(),
        id: snapshot.header.hash(Domain::Snapshot),
        encoded: wire::encode(snapshot),
    }
}

/// An uploaded direct note after the checks that need no database: its header, or the
/// outcome that already refuses it.
pub struct OpenedDirect {
    pub header: Result<DirectHeader, Outcome>,
    /// The whole note as CBOR, as it will be stored and delivered (empty when refused).
    pub encoded: Vec<u8>,
}

pub fn open_direct(note: &Direct) -> OpenedDirect {
    match note.open() {
        Ok(header) => OpenedDirect {
            header: Ok(header),
            encoded: wire::encode(note),
        },
        Err(e) => OpenedDirect {
            header: Err(envelope_outcome(&e)),
            encoded: Vec::new(),
        },
    }
}

/// Opens a group's uploaded notes, refusing (unopened) those beyond [`MAX_DIRECTS_PER_GROUP`].
pub fn open_directs(notes: &[Direct]) -> Vec<OpenedDirect> {
    let total = notes.len();
    notes
        .iter()
        .enumerate()
        .map(|(i, note)| {
            if i < MAX_DIRECTS_PER_GROUP {
                open_direct(note)
            } else {
                OpenedDirect {
                    header: Err(refused(
                        Code::TooLarge,
                        format!(
                            "a sync uploads at most {MAX_DIRECTS_PER_GROUP} direct notes per \
                             group; this one has {total}: send the rest next time"
                        ),
                    )),
                    encoded: Vec::new(),
                }
            }
        })
        .collect()
}

/// Everything a device uploads to one group in one sync.
pub struct GroupUpload {
    pub group: GroupId,
    pub ops: Vec<Signed>,
    pub uploads: Vec<OpenedEnvelope>,
    pub snapshot: Option<OpenedSnapshot>,
    pub directs: Vec<OpenedDirect>,
}

/// What became of a [`GroupUpload`].
#[derive(Debug, Default)]
pub struct GroupWritten {
    /// Set when the device may not write to (or read) this group at all.
    pub refused: Option<Outcome>,
    pub op_outcomes: Vec<Outcome>,
    pub upload_outcomes: Vec<Outcome>,
    pub snapshot_outcome: Option<Outcome>,
    pub direct_outcomes: Vec<Outcome>,
    /// She was a member when the request began (she may have removed herself in it).
    pub was_member: bool,
    /// She is waiting for admission: she may read the log, nothing else.
    pub pending: bool,
    /// A snapshot of this chapter was stored.
    pub snapshot_stored: Option<u32>,
}

/// Applies one device's uploads, group by group, in request order.
pub fn apply(
    ctx: &mut WriteCtx<'_>,
    device: &DeviceId,
    uploads: &[GroupUpload],
) -> Result<Vec<GroupWritten>, StoreError> {
    uploads
        .iter()
        .map(|up| apply_group(ctx, device, up))
        .collect()
}

fn refused(code: Code, reason: impl Into<String>) -> Outcome {
    Outcome::refused(code, reason)
}

fn log_invalid(e: impl ToString) -> Outcome {
    refused(Code::LogInvalid, e.to_string())
}

/// The outcome for an operation the log refuses: `not_moderator` when its author may not sign
/// operations (she never was a moderator, or no longer is), so her device can drop the
/// operation instead of reporting a broken log; `log_invalid` for everything else.
fn log_refused(e: LogError) -> Outcome {
    match e {
        LogError::NotModerator(_) => refused(Code::NotModerator, e.to_string()),
        other => log_invalid(other),
    }
}

/// The outcome code for an envelope or snapshot that fails its own checks.
pub fn envelope_outcome(e: &EnvelopeError) -> Outcome {
    let code = match e {
        EnvelopeError::Wire(WireError::Version { .. }) => Code::Version,
        EnvelopeError::Wire(WireError::TooLarge { .. }) | EnvelopeError::TooLarge { .. } => {
            Code::TooLarge
        }
        EnvelopeError::Wire(WireError::Malformed { .. })
        | EnvelopeError::ZeroSeq
        | EnvelopeError::Chapters => Code::Malformed,
        // A body that does not match its signed hash is as good as a forged signature.
        EnvelopeError::BadSignature(_) | EnvelopeError::BodyHash(_) => Code::BadSignature,
    };
    refused(code, e.to_string())
}

fn apply_group(
    ctx: &mut WriteCtx<'_>,
    device: &DeviceId,
    up: &GroupUpload,
) -> Result<GroupWritten, StoreError> {
    let group = &up.group;
    let mut out = GroupWritten::default();
    let mut ops = up.ops.iter();
    let mut m = match ctx.membership(group)? {
        Some(m) => m,
        None => match create(ctx, device, group, up.ops.first())? {
            Ok(m) => {
                ops.next();
                out.op_outcomes.push(Outcome::ok(Code::Stored));
                m
            }
            Err(why) => {
                out.refused = Some(why);
                return Ok(out);
            }
        },
    };

    if !m.is_member(device) {
        if ctx.tx.has_pending_join(group, device)? {
            let waiting = refused(
                Code::NotMember,
                "your registration is waiting for a moderator; nothing can be uploaded yet",
            );
            out.pending = true;
            out.op_outcomes = vec![waiting.clone(); up.ops.len()];
            out.upload_outcomes = vec![waiting.clone(); up.uploads.len()];
            out.direct_outcomes = vec![waiting.clone(); up.directs.len()];
            out.snapshot_outcome = up.snapshot.as_ref().map(|_| waiting);
            return Ok(out);
        }
        out.refused = Some(if is_creation(up.ops.first()) {
            refused(
                Code::GroupExists,
                format!("group {group} already exists at this relay"),
            )
        } else {
            refused(Code::NotMember, "you are not a member of this group")
        });
        return Ok(out);
    }
    out.was_member = true;

    for op in ops {
        let outcome = apply_op(ctx, group, &mut m, op)?;
        out.op_outcomes.push(outcome);
    }
    for envelope in &up.uploads {
        let outcome = store_envelope(ctx, group, &m, device, envelope)?;
        out.upload_outcomes.push(outcome);
    }
    if let Some(snapshot) = &up.snapshot {
        let (outcome, chapter) = store_snapshot(ctx, group, &m, device, snapshot)?;
        out.snapshot_outcome = Some(outcome);
        out.snapshot_stored = chapter;
    }
    for note in &up.directs {
        let outcome = store_direct(ctx, group, &m, device, note)?;
        out.direct_outcomes.push(outcome);
    }
    Ok(out)
}

fn is_creation(first: Option<&Signed>) -> bool {
    first
        .and_then(|s| open_op(s).ok())
        .is_some_and(|op| op.index == 0 && matches!(op.body, OpBody::Create { .. }))
}

/// Creates `group` from its first operation, if that is a valid creation by `device`.
fn create(
    ctx: &mut WriteCtx<'_>,
    device: &DeviceId,
    group: &GroupId,
    first: Option<&Signed>,
) -> Result<Result<Arc<Membership>, Outcome>, StoreError> {
    let unknown = |why: String| {
        Ok(Err(refused(
            Code::UnknownGroup,
            format!("there is no group {group} at this relay{why}"),
        )))
    };
    let Some(first) = first else {
        return unknown(String::new());
    };
    let m = match Membership::genesis(first) {
        Ok(m) => m,
        Err(e) => return unknown(format!(", and the first operation does not create it: {e}")),
    };
    if m.group != *group {
        return unknown(format!(
            ", and the creation operation is for group {}",
            m.group
        ));
    }
    if !m.is_member(device) {
        return unknown(", and a group is created by its creator's own device".into());
    }
    ctx.tx.create_group(group, device, ctx.now)?;
    ctx.tx.append_op(group, 0, device, first, ctx.now)?;
    let m = Arc::new(m);
    ctx.set_membership(group, m.clone());
    Ok(Ok(m))
}

fn apply_op(
    ctx: &mut WriteCtx<'_>,
    group: &GroupId,
    m: &mut Arc<Membership>,
    signed: &Signed,
) -> Result<Outcome, StoreError> {
    let op = match open_op(signed) {
        Ok(op) => op,
        Err(e) => return Ok(log_invalid(e)),
    };
    if op.group != *group {
        return Ok(log_invalid(LogError::WrongGroup {
            expected: *group,
            found: op.group,
        }));
    }
    if op.index < m.len {
        let held = ctx.tx.log_op(group, op.index)?;
        return Ok(if held.as_ref() == Some(signed) {
            Outcome::ok(Code::Duplicate)
        } else {
            refused(
                Code::LogConflict,
                format!(
                    "position {} of the log already holds a different operation; fetch the log \
                     and re-apply on top of its head",
                    op.index
                ),
            )
        });
    }
    if op.index > m.len {
        return Ok(refused(
            Code::LogConflict,
            format!(
                "the operation claims position {}, but the log has {} operations; send the \
                 ones before it first",
                op.index, m.len
            ),
        ));
    }
    if op.prev != m.head {
        return Ok(refused(Code::LogConflict, LogError::Conflict.to_string()));
    }
    let mut next = Membership::clone(m);
    if let Err(e) = next.apply(signed) {
        return Ok(log_refused(e));
    }

    // What only the relay can check, before anything is written.
    match &op.body {
        OpBody::Admit { join, .. } => {
            let request: JoinRequest = match wire::decode("join request", &join.join.bytes) {
                Ok(r) => r,
                Err(e) => return Ok(log_invalid(e)),
            };
            let pending = ctx.tx.pending_join(group, &request.invite)?;
            if pending.as_ref().map(|p| &p.join) != Some(join) {
                return Ok(log_invalid(
                    "the admitted registration is not pending at this relay: the joiner \
                     registers through /v1/join, and the admission carries that registration \
                     byte for byte",
                ));
            }
            ctx.tx.remove_pending_join(group, &request.invite)?;
            ctx.tx.remove_device_joins(group, &request.device)?;
        }
        OpBody::Remove {
            device, final_seq, ..
        } => {
            let newest = ctx.tx.author_head(group, device)?.map_or(0, |(seq, _)| seq);
            if *final_seq != newest {
                return Ok(log_invalid(format!(
                    "final_seq must be {newest}, the newest envelope sequence number this relay \
                     holds from {}; got {final_seq}",
                    device.short()
                )));
            }
            // Notes waiting for her will never be delivered (she gets nothing from this group
            // any more), so they go now. Notes she sent stay: she wrote them as a member, and
            // they may be a report or a safety alert her recipients still need.
            let dropped = ctx.tx.delete_directs_to(group, device)?;
            if dropped > 0 {
                tracing::info!(
                    dropped,
                    "direct notes waiting for a removed member were deleted"
                );
            }
        }
        OpBody::Invite { invite, .. } => {
            // The log already refuses a repeated invite within the group; across groups the
            // relay must, or a join could not tell which group it is for.
            if ctx.tx.invite_group(invite)?.is_some() {
                return Ok(log_invalid(format!(
                    "invite {} is already in use at this relay; make a new invite",
                    invite.short()
                )));
            }
            ctx.tx.index_invite(invite, group)?;
        }
        OpBody::RevokeInvite { invite } => ctx.tx.remove_pending_join(group, invite)?,
        OpBody::Create { .. } | OpBody::SetRole { .. } | OpBody::Rotate { .. } => {}
    }
    ctx.tx
        .append_op(group, op.index, &op.author, signed, ctx.now)?;
    *m = Arc::new(next);
    ctx.set_membership(group, m.clone());
    Ok(Outcome::ok(Code::Stored))
}

fn store_envelope(
    ctx: &mut WriteCtx<'_>,
    group: &GroupId,
    m: &Membership,
    uploader: &DeviceId,
    envelope: &OpenedEnvelope,
) -> Result<Outcome, StoreError> {
    let h = match &envelope.header {
        Ok(h) => h,
        Err(e) => return Ok(envelope_outcome(e)),
    };
    if h.group != *group {
        return Ok(refused(
            Code::Malformed,
            format!(
                "the envelope is for group {}, uploaded under {group}",
                h.group
            ),
        ));
    }
    if !m.is_member(uploader) {
        return Ok(refused(
            Code::NotMember,
            "only current members upload envelopes",
        ));
    }
    // Already held, whoever the author is now: a retry after a lost response, or a copy that
    // travelled phone to phone. Checked first so a retry is idempotent even after an epoch or
    // membership change.
    match ctx.tx.envelope_id(group, &h.author, h.seq)? {
        Some(id) if id == envelope.id => return Ok(Outcome::ok(Code::Duplicate)),
        Some(_) => {
            return Ok(refused(
                Code::SeqConflict,
                format!(
                    "envelope {} of {} is already held, and it is a different one",
                    h.seq,
                    h.author.short()
                ),
            ))
        }
        None => {}
    }
    if !m.is_member(&h.author) {
        return Ok(refused(
            Code::NotMember,
            format!(
                "the author {} is not a member of this group",
                h.author.short()
            ),
        ));
    }
    if h.epoch > m.epoch {
        return Ok(refused(
            Code::StaleEpoch,
            format!(
                "epoch {} has not started at this relay (the current epoch is {}); upload the \
                 operation that starts it first",
                h.epoch, m.epoch
            ),
        ));
    }
    if !m.accepts_envelope(&h.author, h.epoch, h.seq) {
        return Ok(refused(
            Code::NotMember,
            format!(
                "the author {} was not a member in epoch {}",
                h.author.short(),
                h.epoch
            ),
        ));
    }
    if h.epoch != m.epoch {
        return Ok(refused(
            Code::StaleEpoch,
            format!(
                "sealed under epoch {}, but the current epoch is {}: re-seal under the newest key",
                h.epoch, m.epoch
            ),
        ));
    }
    let (want_seq, want_prev) = match ctx.tx.author_head(group, &h.author)? {
        Some((seq, id)) => (seq.saturating_add(1), id),
        None => (1, Hash::ZERO),
    };
    if h.seq != want_seq {
        return Ok(refused(
            Code::Gap,
            format!(
                "the next envelope from {} is number {want_seq}; got {}",
                h.author.short(),
                h.seq
            ),
        ));
    }
    if h.prev != want_prev {
        return Ok(refused(
            Code::Gap,
            format!(
                "envelope {} must name the author's envelope {} as its previous one",
                h.seq,
                h.seq - 1
            ),
        ));
    }
    ctx.tx.insert_envelope(
        group,
        &NewEnvelope {
            author: h.author,
            seq: h.seq,
            epoch: h.epoch,
            chapters: &h.chapters,
            id: envelope.id,
            encoded: &envelope.encoded,
            received_at: ctx.now,
        },
    )?;
    Ok(Outcome::ok(Code::Stored))
}

fn store_snapshot(
    ctx: &mut WriteCtx<'_>,
    group: &GroupId,
    m: &Membership,
    device: &DeviceId,
    snapshot: &OpenedSnapshot,
) -> Result<(Outcome, Option<u32>), StoreError> {
    let h = match &snapshot.header {
        Ok(h) => h,
        Err(e) => return Ok((envelope_outcome(e), None)),
    };
    let refuse = |code, reason: String| Ok((refused(code, reason), None));
    if h.group != *group {
        return refuse(
            Code::Malformed,
            format!(
                "the snapshot is for group {}, uploaded under {group}",
                h.group
            ),
        );
    }
    if h.maker != *device {
        return refuse(
            Code::Malformed,
            "a snapshot is uploaded by the member who made it".into(),
        );
    }
    // Devices snapshot only the current chapter, sealed under that chapter's own key; an older
    // chapter under a newer key would be readable by members admitted since, who must not see it.
    if h.chapter != h.epoch {
        return refuse(
            Code::Malformed,
            format!(
                "a snapshot holds the chapter of the epoch it is sealed under; this one holds \
                 chapter {} sealed under epoch {} (snapshot only the current chapter, under its \
                 own key)",
                h.chapter, h.epoch
            ),
        );
    }
    if !m.is_member(device) || !m.was_member_in(device, h.chapter) {
        return refuse(
            Code::NotMember,
            format!("you were not a member in chapter {}", h.chapter),
        );
    }
    if h.epoch != m.epoch {
        return refuse(
            Code::StaleEpoch,
            format!(
                "sealed under epoch {}, but the current epoch is {}: re-seal under the newest key",
                h.epoch, m.epoch
            ),
        );
    }
    let newest = ctx.tx.newest_cursor(group)?;
    if h.covers > newest {
        return refuse(
            Code::Malformed,
            format!(
                "the snapshot covers cursor {}, but the group's newest envelope is {newest}",
                h.covers
            ),
        );
    }
    if let Some(held) = ctx.tx.snapshot_meta(group, h.chapter)? {
        if held.id == snapshot.id {
            return Ok((Outcome::ok(Code::Duplicate), None));
        }
        if held.covers >= h.covers {
            // Nothing to do for the device either way: the relay already has as much.
            return Ok((
                refused(
                    Code::Duplicate,
                    format!(
                        "the relay holds a snapshot of chapter {} covering cursor {}",
                        h.chapter, held.covers
                    ),
                ),
                None,
            ));
        }
    }
    ctx.tx.put_snapshot(
        group,
        &NewSnapshot {
            chapter: h.chapter,
            epoch: h.epoch,
            covers: h.covers,
            maker: h.maker,
            id: snapshot.id,
            encoded: &snapshot.encoded,
            received_at: ctx.now,
        },
    )?;
    Ok((Outcome::ok(Code::Stored), Some(h.chapter)))
}

fn store_direct(
    ctx: &mut WriteCtx<'_>,
    group: &GroupId,
    m: &Membership,
    uploader: &DeviceId,
    note: &OpenedDirect,
) -> Result<Outcome, StoreError> {
    let h = match &note.header {
        Ok(h) => h,
        Err(outcome) => return Ok(outcome.clone()),
    };
    if h.group != *group {
        return Ok(refused(
            Code::Malformed,
            format!(
                "the direct note's group is {}, but it was uploaded under {group}",
                h.group
            ),
        ));
    }
    if h.from != *uploader {
        return Ok(refused(
            Code::Malformed,
            format!(
                "the direct note's sender is {}, but {} uploaded it; a note is uploaded by its \
                 sender",
                h.from.short(),
                uploader.short()
            ),
        ));
    }
    if h.to == h.from {
        return Ok(refused(
            Code::Malformed,
            "the direct note's recipient is its sender; a note goes to another member",
        ));
    }
    // She may have removed herself earlier in this request.
    if !m.is_member(&h.from) {
        return Ok(refused(
            Code::NotMember,
            format!(
                "the sender {} is not a member of this group",
                h.from.short()
            ),
        ));
    }
    if !m.is_member(&h.to) {
        return Ok(refused(
            Code::NotMember,
            format!(
                "the recipient {} is not a member of this group",
                h.to.short()
            ),
        ));
    }
    if let Some(held) = ctx.tx.held_direct(group, &h.to, &h.id)? {
        return Ok(if held.encoded == note.encoded {
            Outcome::ok(Code::Duplicate)
        } else if held.sender == h.from {
            // Her own note under the same id, sealed again: the one held is what is delivered.
            refused(
                Code::Duplicate,
                "a different note of yours with this id is already waiting for this recipient; \
                 that one is delivered",
            )
        } else {
            refused(
                Code::Malformed,
                "another member's note with this id is already waiting for this recipient; \
                 choose a new random id",
            )
        });
    }
    ctx.tx.insert_direct(
        group,
        &NewDirect {
            sender: h.from,
            recipient: h.to,
            id: h.id,
            encoded: &note.encoded,
            received_at: ctx.now,
        },
    )?;
    Ok(Outcome::ok(Code::Stored))
}
