//! `POST /v1/join`: a joiner registers with an invite and waits for a moderator.
//!
//! The relay finds the group whose log made the invite, checks the invite is still good by its
//! own clock, and keeps the registration until a moderator's `Admit` consumes it (see
//! [`crate::sync`]). Invites are single use here as in the log: once one device has registered
//! with an invite, nobody else can, so a leaked code cannot be raced. A device repeating its
//! own identical registration (a retry after a lost response) gets the same answer again.
//!
//! Places are promised at registration: a group whose members plus the other devices already
//! waiting fill its capacity refuses the next registration with `full`, so a joiner learns it
//! now rather than waiting for an admission the log would refuse.
//!
//! The registration's signatures are checked before this runs (in [`crate::http`]); its
//! pseudonym and intro are sealed to the invite code and stay opaque to the relay.

use hearth_protocol::api::{Code, JoinReply, Outcome};
use hearth_protocol::membership::{InviteStatus, JoinRequest, SignedJoin};

use crate::commit::WriteCtx;
use crate::store::{PendingJoin, StoreError};

/// Stores the registration, or says why not.
pub fn register(
    ctx: &mut WriteCtx<'_>,
    join: &SignedJoin,
    request: &JoinRequest,
) -> Result<Result<JoinReply, Outcome>, StoreError> {
    let refuse = |code, reason: &str| Ok(Err(Outcome::refused(code, reason)));
    let unknown = "no group at this relay has this invite; check the code with whoever gave it";
    let Some(group) = ctx.tx.invite_group(&request.invite)? else {
        return refuse(Code::InviteUnknown, unknown);
    };
    let Some(m) = ctx.membership(&group)? else {
        return refuse(Code::InviteUnknown, unknown);
    };
    let Some(invite) = m.invites.get(&request.invite) else {
        return refuse(Code::InviteUnknown, unknown);
    };
    let held = ctx.tx.pending_join(&group, &request.invite)?;
    if let Some(held) = &held {
        if held.join == *join {
            let log = ctx.tx.log_ops(&group, 0)?;
            return Ok(Ok(JoinReply { group, log }));
        }
    }
    match invite.status {
        InviteStatus::Open => {}
        InviteStatus::Used(_) => {
            return refuse(Code::InviteUsed, "this invite has already been used")
        }
        InviteStatus::Revoked => {
            return refuse(Code::InviteRevoked, "a moderator withdrew this invite")
        }
    }
    if ctx.now > invite.expires_at {
        return refuse(
            Code::InviteExpired,
            "this invite has expired; ask the moderator for a new one",
        );
    }
    if m.is_member(&request.device) {
        return refuse(Code::AlreadyMember, "this device is already a member");
    }
    if held.is_some() {
        return refuse(
            Code::InviteUsed,
            "someone has already registered with this invite",
        );
    }
    // Her own other registrations (another invite) would take the same place, so they do not
    // count against her.
    let waiting = ctx.tx.pending_devices_except(&group, &request.device)?;
    let taken = (m.members.len() as u64).saturating_add(waiting);
    if taken >= u64::from(m.capacity) {
        return Ok(Err(Outcome::refused(
            Code::Full,
            format!(
                "this group is full ({taken} of {} places); ask the moderator",
                m.capacity
            ),
        )));
    }
    ctx.tx.put_pending_join(
        &group,
        &PendingJoin {
            invite: request.invite,
            device: request.device,
            join: join.clone(),
        },
        ctx.now,
    )?;
    let log = ctx.tx.log_ops(&group, 0)?;
    Ok(Ok(JoinReply { group, log }))
}
