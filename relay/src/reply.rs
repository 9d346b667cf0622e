//! The read half of `POST /v1/sync`: what a device receives for each group, in one round trip.
//!
//! Runs on a read connection after the request's writes (if any) have committed, so a reply
//! always includes what the same request stored. For a member: the log operations she lacks,
//! her newest stored sequence number, the envelopes after her cursor from her admission epoch
//! on, pending registrations if she is a moderator, and every author's newest sequence number
//! if she asked. A device waiting for admission gets the log only (to see her admission); anyone
//! else gets a refusal and nothing.
//!
//! A device is never sent her own envelopes: she wrote them, and on 2G the bytes are dear. They
//! still count as served — the cursor passes them — but cost nothing from the byte budget.
//!
//! Catch-up is bounded and cheap on 2G: envelopes are cut at a byte budget per response
//! (`more` says there is more), and a device far behind gets the newest snapshot of a chapter
//! instead of the envelopes it replaces when that is smaller — but only envelopes whose chapter
//! list is exactly that chapter are ever replaced; envelopes that touch other chapters are sent
//! regardless. When a chapter has grown enough since its last snapshot, one caught-up member
//! at a time (a lease per group) is asked to upload a new one.
//!
//! Direct notes to the device (in groups she is a current member of) come after her direct
//! cursor, oldest first, cut at a count and a byte budget shared by all groups of the reply
//! (`more_directs` says there is more). Her direct cursor also acknowledges: notes up to it are
//! stored on her phone, so the relay deletes them. Reads run on read-only connections, so this
//! only notes which groups have acknowledged notes still held ([`Acks`]); the caller deletes
//! them through the commit thread once the reply is built.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hearth_protocol::api::{Code, GroupReply, GroupSync, Outcome};
use hearth_protocol::envelope::{Direct, Envelope, Snapshot};
use hearth_protocol::membership::Membership;
use hearth_protocol::wire;
use hearth_protocol::{DeviceId, GroupId};

use crate::groups::GroupCache;
use crate::store::{DirectRow, EnvelopeScan, ReadTx, StoreError};
use crate::sync::GroupWritten;

/// What one response may still carry.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Envelope bytes left.
    pub envelopes: u64,
    /// Snapshot bytes left.
    pub snapshots: u64,
    /// Whether any envelope is in the response yet: the first always goes, whatever its size,
    /// so every sync makes progress.
    pub sent_any: bool,
    /// Direct notes left.
    pub directs: usize,
    /// Direct note bytes left.
    pub direct_bytes: u64,
    /// Whether any direct note is in the response yet (the first always goes, as envelopes).
    pub sent_any_direct: bool,
}

impl Budget {
    pub fn new(envelopes: u64, snapshots: u64) -> Budget {
        Budget {
            envelopes,
            snapshots,
            sent_any: false,
            directs: 0,
            direct_bytes: 0,
            sent_any_direct: false,
        }
    }

    /// Adds room for `count` direct notes of `bytes` in all.
    pub fn with_directs(mut self, count: usize, bytes: u64) -> Budget {
        self.directs = count;
        self.direct_bytes = bytes;
        self
    }
}

/// Direct notes a reply found acknowledged (numbered up to the device's direct cursor) and still
/// held: `(group, cursor)`, for the caller to delete.
pub type Acks = Vec<(GroupId, u64)>;

/// When to ask for a snapshot of a group's newest chapter.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotPolicy {
    pub after_envelopes: u64,
    pub after_bytes: u64,
    pub lease: Duration,
}

#[derive(Debug, Default)]
struct Watch {
    /// The last growth check: at which newest cursor, in which epoch, and whether a snapshot
    /// was due. Reused while nothing new has arrived.
    checked: Option<(u64, u32, bool)>,
    /// Who has been asked, until when.
    lease: Option<(DeviceId, Instant)>,
}

/// Which groups want a snapshot, and which member has been asked for it.
#[derive(Debug)]
pub struct SnapshotRequests {
    policy: SnapshotPolicy,
    groups: Mutex<HashMap<GroupId, Watch>>,
}

impl SnapshotRequests {
    pub fn new(policy: SnapshotPolicy) -> SnapshotRequests {
        SnapshotRequests {
            policy,
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<GroupId, Watch>> {
        // Entries are plain values replaced whole; a panic elsewhere cannot corrupt them.
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot was stored: the chapter starts counting again and the lease is over.
    pub fn snapshot_stored(&self, group: &GroupId) {
        self.map().remove(group);
    }

    /// Whether to ask `device` (a caught-up member) for a snapshot of chapter `epoch`.
    fn ask(
        &self,
        tx: &mut dyn ReadTx,
        group: &GroupId,
        epoch: u32,
        device: &DeviceId,
        newest: u64,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        {
            let map = self.map();
            if let Some(w) = map.get(group) {
                if let Some((holder, until)) = w.lease {
                    if until > now {
                        return Ok(holder == *device);
                    }
                }
                if let Some((at, e, due)) = w.checked {
                    if at == newest && e == epoch && !due {
                        return Ok(false);
                    }
                }
            }
        }
        let covered = tx.snapshot_meta(group, epoch)?.map_or(0, |s| s.covers);
        let limit = self.policy.after_envelopes.saturating_add(1);
        let (count, bytes) = tx.chapter_growth(group, covered, epoch, limit)?;
        let due = count > self.policy.after_envelopes || bytes > self.policy.after_bytes;
        let mut map = self.map();
        let w = map.entry(*group).or_default();
        w.checked = Some((newest, epoch, due));
        if !due {
            return Ok(false);
        }
        match w.lease {
            Some((holder, until)) if until > now && holder != *device => Ok(false),
            _ => {
                w.lease = Some((*device, now + self.policy.lease));
                Ok(true)
            }
        }
    }
}

/// Everything the reply to one group depends on besides the store.
pub struct ReplyCtx<'a> {
    pub device: DeviceId,
    pub cache: &'a GroupCache,
    pub snapshots: &'a SnapshotRequests,
}

fn corrupt(what: &'static str, e: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: e.to_string(),
    }
}

/// Builds the reply for one group of a sync, adding to `acks` when its direct cursor
/// acknowledges notes still held.
pub fn group_reply(
    tx: &mut dyn ReadTx,
    ctx: &ReplyCtx<'_>,
    request: &GroupSync,
    written: Option<GroupWritten>,
    budget: &mut Budget,
    acks: &mut Acks,
) -> Result<GroupReply, StoreError> {
    let group = request.group;
    let mut reply = GroupReply {
        group,
        cursor: request.cursor,
        ..GroupReply::default()
    };
    let (was_member, pending) = match written {
        Some(w) => {
            if w.refused.is_some() {
                reply.refused = w.refused;
                former_member_log(tx, ctx, request, &mut reply)?;
                return Ok(reply);
            }
            reply.op_outcomes = w.op_outcomes;
            reply.upload_outcomes = w.upload_outcomes;
            reply.snapshot_outcome = w.snapshot_outcome;
            reply.direct_outcomes = w.direct_outcomes;
            (w.was_member, w.pending)
        }
        None => (false, false),
    };
    let Some(m) = ctx.cache.load(tx, &group)? else {
        reply.refused = Some(Outcome::refused(
            Code::UnknownGroup,
            format!("there is no group {group} at this relay"),
        ));
        return Ok(reply);
    };
    let device = ctx.device;
    let Some(member) = m.members.get(&device) else {
        // Waiting for admission (or just removed by her own operation): the log only.
        if was_member || pending || tx.has_pending_join(&group, &device)? {
            reply.log = log_after(tx, &group, &m, request.log_len)?;
        } else {
            reply = GroupReply {
                group,
                cursor: request.cursor,
                refused: Some(Outcome::refused(
                    Code::NotMember,
                    "you are not a member of this group",
                )),
                ..GroupReply::default()
            };
            former_member_log(tx, ctx, request, &mut reply)?;
        }
        return Ok(reply);
    };

    reply.log = log_after(tx, &group, &m, request.log_len)?;
    reply.stored_seq = tx.author_head(&group, &device)?.map_or(0, |(seq, _)| seq);
    let newest = tx.newest_cursor(&group)?;
    catch_up(
        tx,
        request,
        &device,
        member.since_epoch,
        newest,
        budget,
        &mut reply,
    )?;
    deliver_directs(tx, request, &device, budget, &mut reply, acks)?;
    if m.is_moderator(&device) {
        reply.joins = tx.pending_joins(&group)?;
    }
    if request.want_seqs {
        reply.seqs = tx.newest_seqs(&group)?;
    }
    if !reply.more && reply.cursor == newest && newest > 0 {
        reply.snapshot_wanted = ctx.snapshots.ask(tx, &group, m.epoch, &device, newest)?;
    }
    Ok(reply)
}

/// A former member is refused everything but the log, which tells her device (verifiably,
/// by a moderator's signature) that she was removed; without it her phone would keep calling
/// her a member and keep her new messages pending forever.
fn former_member_log(
    tx: &mut dyn ReadTx,
    ctx: &ReplyCtx<'_>,
    request: &GroupSync,
    reply: &mut GroupReply,
) -> Result<(), StoreError> {
    let Some(m) = ctx.cache.load(tx, &request.group)? else {
        return Ok(());
    };
    if !m.is_member(&ctx.device) && m.tenure.contains_key(&ctx.device) {
        reply.log = log_after(tx, &request.group, &m, request.log_len)?;
        reply.refused = Some(Outcome::refused(
            Code::NotMember,
            "a moderator removed you from this group",
        ));
    }
    Ok(())
}

fn log_after(
    tx: &mut dyn ReadTx,
    group: &GroupId,
    m: &Membership,
    log_len: u64,
) -> Result<Vec<hearth_protocol::ids::Signed>, StoreError> {
    if log_len >= m.len {
        return Ok(Vec::new());
    }
    tx.log_ops(group, log_len)
}

/// Fills `reply` with the envelopes after the request's cursor that `reader` did not write
/// herself (and maybe a snapshot), within `budget`.
fn catch_up(
    tx: &mut dyn ReadTx,
    request: &GroupSync,
    reader: &DeviceId,
    since_epoch: u32,
    newest: u64,
    budget: &mut Budget,
    reply: &mut GroupReply,
) -> Result<(), StoreError> {
    let (group, from) = (&request.group, request.cursor);
    // A cursor beyond the newest (a relay restored from an older backup) starts over from
    // the newest, so envelopes stored from now on are not skipped.
    reply.cursor = newest;
    if from >= newest {
        return Ok(());
    }
    let mut skip = None;
    let offered = if request.no_snapshot {
        None
    } else {
        tx.best_snapshot(group, since_epoch, from)?
    };
    if let Some(s) = offered {
        if s.size <= budget.snapshots {
            let sizes = tx.range_sizes(group, from, s.covers, s.chapter, since_epoch)?;
            // Only when it saves bytes, and only when every envelope it does not replace up to
            // `covers` fits in this response: the next cursor must pass `covers`, or the next
            // sync would be offered the same snapshot again.
            if sizes.replaceable > s.size && sizes.other <= budget.envelopes {
                let bytes = tx
                    .snapshot_bytes(group, s.chapter)?
                    .ok_or_else(|| corrupt("snapshot", "listed but not stored"))?;
                let snapshot: Snapshot =
                    wire::decode("stored snapshot", &bytes).map_err(|e| corrupt("snapshot", e))?;
                budget.snapshots -= s.size;
                reply.snapshot = Some(snapshot);
                skip = Some((s.covers, s.chapter));
            }
        }
    }
    let scan = EnvelopeScan {
        after: from,
        min_epoch: since_epoch,
        skip,
        not_by: Some(*reader),
    };
    // Where the next sync starts when this response is cut: just before the first envelope that
    // did not fit. Everything before it is in this response or is not for her (her own, those a
    // snapshot in this response replaces, those from before her admission). Envelopes up to a
    // snapshot's `covers` are never cut, so the cursor always passes `covers`.
    let mut cut_before = None;
    let mut envelopes = Vec::new();
    tx.scan_envelopes(group, &scan, &mut |row| {
        let before_covers = skip.is_some_and(|(covers, _)| row.cursor <= covers);
        if !before_covers && budget.sent_any && row.size > budget.envelopes {
            cut_before = Some(row.cursor);
            return Ok(false);
        }
        budget.envelopes = budget.envelopes.saturating_sub(row.size);
        budget.sent_any = true;
        let envelope: Envelope =
            wire::decode("stored envelope", &row.encoded).map_err(|e| corrupt("envelope", e))?;
        envelopes.push(envelope);
        Ok(true)
    })?;
    reply.envelopes = envelopes;
    reply.more = cut_before.is_some();
    if let Some(cursor) = cut_before {
        // Cursors start at 1, and this one is after `from`, so this never goes below `from`.
        reply.cursor = cursor - 1;
    }
    Ok(())
}

/// Fills `reply` with the direct notes to `reader` after her direct cursor, within `budget`, and
/// records in `acks` whether the cursor acknowledges notes still held.
fn deliver_directs(
    tx: &mut dyn ReadTx,
    request: &GroupSync,
    reader: &DeviceId,
    budget: &mut Budget,
    reply: &mut GroupReply,
    acks: &mut Acks,
) -> Result<(), StoreError> {
    let group = &request.group;
    let mut after = request.direct_cursor;
    // A cursor beyond every number this relay ever assigned (a relay restored from an older
    // backup numbers afresh from there) acknowledges nothing and is read from the start, so
    // notes numbered from now on are neither deleted unseen nor skipped.
    if after > 0 && after > tx.newest_direct()? {
        after = 0;
    }
    if after > 0 && tx.has_directs_upto(group, reader, after)? {
        acks.push((*group, after));
    }
    let mut notes = Vec::new();
    let mut more = false;
    tx.scan_directs(group, reader, after, &mut |row: DirectRow| {
        let fits = budget.directs > 0 && row.size <= budget.direct_bytes;
        if budget.sent_any_direct && !fits {
            more = true;
            return Ok(false);
        }
        budget.directs = budget.directs.saturating_sub(1);
        budget.direct_bytes = budget.direct_bytes.saturating_sub(row.size);
        budget.sent_any_direct = true;
        let note: Direct = wire::decode("stored direct note", &row.encoded)
            .map_err(|e| corrupt("direct note", e))?;
        notes.push((row.seq, note));
        Ok(true)
    })?;
    reply.directs = notes;
    reply.more_directs = more;
    Ok(())
}
