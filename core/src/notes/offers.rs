//! Quiet moves between kinds of support, each a private note; nothing shows in the group.
//!
//! - **Offers**: after a pregnancy loss a moderator can quietly offer a member a place in a
//!   loss-support group or one-to-one support (or, at any time, another group). Only the
//!   member sees the offer; she accepts or declines, and only that moderator sees her answer.
//! - **Handover with consent**: in a one-to-one conversation the volunteer (its moderator)
//!   offers a `handover` to another volunteer; she accepts or declines, and the volunteer's
//!   coordinator arranges the new match only after she has accepted.
//! - **Asking for a different volunteer**: a mother asks her group's coordinators (its
//!   moderators) for another volunteer. No reason is asked for; the request names her current
//!   volunteer so the coordinator knows who. It arrives in their review queue.

use serde::Serialize;

use crate::companion::Companion;
use crate::error::{Error, InputError, Result};
use crate::group::storage;
use crate::group::GroupId;
use crate::moderation::actions::{moderators, name_of, names};
use crate::sync::resolve_member;

use super::{store, NoteBody, NoteId, OfferKind};

/// An offer as the member who received it, or the moderator who made it, sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferView {
    pub id: String,
    pub from: String,
    pub to: String,
    /// "loss_support", "one_to_one", "other_group" or "handover".
    pub kind: &'static str,
    pub text: String,
    pub at: i64,
    /// This device made the offer.
    pub mine: bool,
    /// Her answer: accepted (true), declined (false), or not yet (null).
    pub accepted: Option<bool>,
}

impl Companion {
    /// A moderator's private offer to one member of the group.
    pub fn offer(
        &mut self,
        group: &GroupId,
        member: &str,
        kind: OfferKind,
        text: &str,
    ) -> Result<NoteId> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let me = self.profile.keys.device_id();
        if !moderators(&summary.members).contains(&me) {
            return Err(Error::NotAllowed {
                action: "make offers",
                allowed: "the group's moderators",
                role: self.profile.role,
            });
        }
        let target = resolve_member(&summary.members, member)?;
        if target.device == me {
            return Err(InputError::new("member", "an offer goes to someone else").into());
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(InputError::new("text", "say what you are offering, in your words").into());
        }
        self.send_note(
            group,
            &[target.device],
            NoteBody::Offer {
                kind,
                text: text.to_string(),
            },
        )
    }

    /// Offers this device made or received in a group, oldest first, with their answers.
    pub fn offers(&self, group: &GroupId) -> Result<Vec<OfferView>> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let names = names(&summary.members);
        let me = self.profile.keys.device_id();
        let notes = store::notes(self.store.conn(), self.store.cipher(), row)?;
        let mut out: Vec<OfferView> = notes
            .iter()
            .filter_map(|n| match &n.body {
                NoteBody::Offer { kind, text } => {
                    let to = n.to.first().copied();
                    // The newest answer from the person it was made to.
                    let accepted = notes
                        .iter()
                        .filter_map(|a| match &a.body {
                            NoteBody::OfferAnswer { offer, accept }
                                if *offer == n.id && Some(a.from) == to =>
                            {
                                Some((a.at, a.id, *accept))
                            }
                            _ => None,
                        })
                        .max()
                        .map(|(_, _, accept)| accept);
                    Some(OfferView {
                        id: n.id.to_hex(),
                        from: name_of(&names, &n.from),
                        to: to.map(|d| name_of(&names, &d)).unwrap_or_default(),
                        kind: kind.as_str(),
                        text: text.clone(),
                        at: n.at,
                        mine: n.from == me,
                        accepted,
                    })
                }
                _ => None,
            })
            .collect();
        out.sort_by_key(|o| o.at);
        Ok(out)
    }

    /// The member accepts or declines an offer made to her; only its moderator is told.
    pub fn answer_offer(&mut self, group: &GroupId, offer: &str, accept: bool) -> Result<NoteId> {
        let wanted = NoteId::parse(offer, "offer")?;
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        let note = store::notes(self.store.conn(), self.store.cipher(), row)?
            .into_iter()
            .find(|n| n.id == wanted && matches!(n.body, NoteBody::Offer { .. }) && n.from != me)
            .ok_or_else(|| InputError::new("offer", "no offer to you here has that id"))?;
        self.send_note(
            group,
            &[note.from],
            NoteBody::OfferAnswer {
                offer: wanted,
                accept,
            },
        )
    }

    /// A mother asks her group's coordinators for a different volunteer; no reason asked.
    pub fn ask_for_another_volunteer(&mut self, group: &GroupId) -> Result<NoteId> {
        let info = self.find_group(&group.to_hex())?;
        if info.conversation {
            return Err(InputError::new(
                "group",
                "ask in one of your groups: its coordinators arrange volunteers, and this is your conversation with the volunteer",
            )
            .into());
        }
        let to = self.other_moderators(group, "this group has no coordinator to ask")?;
        let current = self
            .my_checkins()?
            .into_iter()
            .map(|c| c.volunteer)
            .collect();
        self.send_note(group, &to, NoteBody::VolunteerChange { current })
    }
}
