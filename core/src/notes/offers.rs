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
//! - **A confirmed match, through to the first conversation**: the coordinator confirms a match
//!   (`confirm_match`, usually after `hearth match` ranked the candidates): a `match` offer to
//!   the volunteer in the volunteers' group, naming the mother and why. The volunteer accepts
//!   (refused while she is off duty or at her cap): her device starts a conversation for the
//!   mother and sends its single-use invite back with her answer. The coordinator passes it on
//!   (`introduce`): a `one_to_one` offer to the mother in her group, carrying the invite. The
//!   mother accepts and joins the conversation; the volunteer's device admits her. Each step is
//!   a sealed note between two people; nobody else, the relay included, learns of the match.

use serde::Serialize;

use crate::companion::{Companion, GroupInfo};
use crate::error::{Error, InputError, Result};
use crate::group::storage;
use crate::group::GroupId;
use crate::moderation::actions::{moderators, name_of, names};
use crate::sync::resolve_member;

use crate::identity::DeviceId;
use crate::Role;

use super::{store, MatchFor, NoteBody, NoteId, OfferKind};

/// How long the invite a volunteer makes on accepting a match stays valid.
const MATCH_INVITE_MS: i64 = 14 * 24 * 3_600_000;

/// An offer as the member who received it, or the moderator who made it, sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferView {
    pub id: String,
    pub from: String,
    pub to: String,
    /// "loss_support", "one_to_one", "other_group", "handover" or "match".
    pub kind: &'static str,
    pub text: String,
    pub at: i64,
    /// This device made the offer.
    pub mine: bool,
    /// Her answer: accepted (true), declined (false), or not yet (null).
    pub accepted: Option<bool>,
    /// A match: the mother it is for.
    pub mother: Option<String>,
    /// An introduction: accepting joins the volunteer's conversation.
    pub joins_conversation: bool,
    /// A match the coordinator made: she has passed the volunteer's invite on to the mother.
    pub introduced: bool,
}

/// What answering an offer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub id: NoteId,
    /// Accepting a match: the conversation this device started for the mother.
    pub conversation: Option<GroupInfo>,
    /// Accepting an introduction: the invite to the volunteer's conversation; join with it.
    pub invite: Option<String>,
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
        if kind == OfferKind::Match {
            return Err(InputError::new(
                "kind",
                "a match names its mother: confirm it with confirm_match (hearth match confirm)",
            )
            .into());
        }
        let target = self.offer_target(group, member)?.0;
        self.send_offer(group, target, kind, text, None, None)
    }

    /// A coordinator confirms a match: a `match` offer to the volunteer in `volunteers`,
    /// naming the mother (a member of `mother_group`, which the coordinator also moderates)
    /// and, in `text`, why this match.
    pub fn confirm_match(
        &mut self,
        volunteers: &GroupId,
        volunteer: &str,
        mother_group: &GroupId,
        mother: &str,
        text: &str,
    ) -> Result<NoteId> {
        let (v, v_role, _) = self.offer_target(volunteers, volunteer)?;
        if v_role != Role::Volunteer {
            return Err(InputError::new(
                "volunteer",
                format!("{volunteer:?} is not a volunteer in that group"),
            )
            .into());
        }
        let (m, m_role, m_name) = self.offer_target(mother_group, mother)?;
        if m_role != Role::Mother {
            return Err(InputError::new(
                "mother",
                format!("{mother:?} is not a mother in that group"),
            )
            .into());
        }
        let target = MatchFor {
            group: *mother_group,
            member: m,
            name: m_name,
        };
        self.send_offer(volunteers, v, OfferKind::Match, text, Some(target), None)
    }

    /// The coordinator passes an accepted match's invite on to the mother: a `one_to_one`
    /// offer in her group. `text` may be empty for the usual words.
    pub fn introduce(&mut self, volunteers: &GroupId, matched: &str, text: &str) -> Result<NoteId> {
        let wanted = NoteId::parse(matched, "offer")?;
        let row = self.group_row(volunteers)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let me = self.profile.keys.device_id();
        let notes = store::notes(self.store.conn(), self.store.cipher(), row)?;
        let (volunteer, mother) = notes
            .iter()
            .find_map(|n| match &n.body {
                NoteBody::Offer {
                    kind: OfferKind::Match,
                    mother: Some(m),
                    ..
                } if n.id == wanted && n.from == me => Some((n.to.first().copied()?, m.clone())),
                _ => None,
            })
            .ok_or_else(|| InputError::new("offer", "no match you confirmed here has that id"))?;
        let who = name_of(&names(&summary.members), &volunteer);
        let invite = match newest_answer(&notes, &wanted, volunteer) {
            None => Err(format!("{who} has not answered this match yet")),
            Some((false, _)) => Err(format!(
                "{who} declined this match; confirm another volunteer"
            )),
            Some((true, None)) => Err(format!("{who}'s answer carries no invite")),
            Some((true, Some(code))) => Ok(code),
        }
        .map_err(|e| InputError::new("offer", e))?;
        let mother_row = self.group_row(&mother.group)?;
        let already = store::notes(self.store.conn(), self.store.cipher(), mother_row)?
            .iter()
            .any(|n| matches!(&n.body, NoteBody::Offer { invite: Some(i), .. } if *i == invite));
        if already {
            return Err(InputError::new(
                "offer",
                format!("{} has already been introduced to {who}", mother.name),
            )
            .into());
        }
        let text = match text.trim() {
            "" => format!(
                "{who}, a trained peer volunteer, would like to check in with you. Accept to \
                 start your private conversation: only the two of you can read it."
            ),
            t => t.to_string(),
        };
        let (target, _, _) = self.offer_target(&mother.group, &mother.member.to_hex())?;
        self.send_offer(
            &mother.group,
            target,
            OfferKind::OneToOne,
            &text,
            None,
            Some(invite),
        )
    }

    /// The member `member` of a group this device moderates, other than itself: her device,
    /// role and name.
    fn offer_target(&self, group: &GroupId, member: &str) -> Result<(DeviceId, Role, String)> {
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
        let name = name_of(&names(&summary.members), &target.device);
        Ok((target.device, target.role, name))
    }

    fn send_offer(
        &mut self,
        group: &GroupId,
        to: DeviceId,
        kind: OfferKind,
        text: &str,
        mother: Option<MatchFor>,
        invite: Option<String>,
    ) -> Result<NoteId> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InputError::new("text", "say what you are offering, in your words").into());
        }
        self.send_note(
            group,
            &[to],
            NoteBody::Offer {
                kind,
                text: text.to_string(),
                mother,
                invite,
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
                NoteBody::Offer {
                    kind,
                    text,
                    mother,
                    invite,
                } => {
                    let to = n.to.first().copied();
                    let answer = to.and_then(|to| newest_answer(&notes, &n.id, to));
                    let introduced = n.from == me
                        && mother.is_some()
                        && answer.as_ref().is_some_and(|(_, code)| {
                            code.as_ref().is_some_and(|c| self.introduced(mother, c))
                        });
                    Some(OfferView {
                        id: n.id.to_hex(),
                        from: name_of(&names, &n.from),
                        to: to.map(|d| name_of(&names, &d)).unwrap_or_default(),
                        kind: kind.as_str(),
                        text: text.clone(),
                        at: n.at,
                        mine: n.from == me,
                        accepted: answer.map(|(accept, _)| accept),
                        mother: mother.as_ref().map(|m| m.name.clone()),
                        joins_conversation: invite.is_some(),
                        introduced,
                    })
                }
                _ => None,
            })
            .collect();
        out.sort_by_key(|o| o.at);
        Ok(out)
    }

    /// Whether this device has passed `invite` on to the mother of a match.
    fn introduced(&self, mother: &Option<MatchFor>, invite: &str) -> bool {
        let Some(m) = mother else { return false };
        let Ok(row) = self.group_row(&m.group) else {
            return false;
        };
        store::notes(self.store.conn(), self.store.cipher(), row).is_ok_and(|notes| {
            notes
                .iter()
                .any(|n| matches!(&n.body, NoteBody::Offer { invite: Some(i), .. } if i == invite))
        })
    }

    /// The member accepts or declines an offer made to her; only its moderator is told.
    /// Accepting a match (a volunteer) starts a conversation for the mother, refused while
    /// she is off duty or at her cap; accepting an introduction (a mother) returns the invite
    /// to join her volunteer's conversation with.
    pub fn answer_offer(&mut self, group: &GroupId, offer: &str, accept: bool) -> Result<Answered> {
        let wanted = NoteId::parse(offer, "offer")?;
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        let note = store::notes(self.store.conn(), self.store.cipher(), row)?
            .into_iter()
            .find(|n| n.id == wanted && matches!(n.body, NoteBody::Offer { .. }) && n.from != me)
            .ok_or_else(|| InputError::new("offer", "no offer to you here has that id"))?;
        let NoteBody::Offer {
            kind,
            mother,
            invite,
            ..
        } = note.body
        else {
            unreachable!("found as an offer")
        };
        let mut answered = Answered {
            id: wanted,
            conversation: None,
            invite: None,
        };
        let mut reply_invite = None;
        if accept && kind == OfferKind::Match {
            let mother =
                mother.ok_or_else(|| InputError::new("offer", "this match names no mother"))?;
            self.require_volunteer("take on a mother")?;
            if !self.volunteer_on_duty()? {
                return Err(InputError::new(
                    "duty",
                    "you are off duty: go on duty before taking on a mother, or decline",
                )
                .into());
            }
            self.room_in_caseload(None)?;
            // Both see this name: hers and the mother's.
            let name = self.free_name(&format!("{} and {}", self.profile.name, mother.name))?;
            let info = self.start_conversation(&name)?;
            reply_invite = Some(self.invite(&info.id, Role::Mother, MATCH_INVITE_MS)?.code);
            answered.conversation = Some(info);
        }
        if accept {
            answered.invite = invite;
        }
        answered.id = self.send_note(
            group,
            &[note.from],
            NoteBody::OfferAnswer {
                offer: wanted,
                accept,
                invite: reply_invite,
            },
        )?;
        Ok(answered)
    }

    /// `name` (cut to fit a group name), or `name (2)` and so on if she already has a group
    /// called that.
    fn free_name(&self, name: &str) -> Result<String> {
        let name: String = name.trim().chars().take(74).collect();
        let name = name.trim_end();
        let mut candidate = name.to_string();
        for n in 2..100 {
            if self.check_name_free(&candidate, None).is_ok() {
                return Ok(candidate);
            }
            candidate = format!("{name} ({n})");
        }
        Err(InputError::new("name", format!("too many groups are called {name:?}")).into())
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

/// The newest answer to offer `offer` from `from`: accepted, and any invite it carries.
fn newest_answer(
    notes: &[super::Note],
    offer: &NoteId,
    from: DeviceId,
) -> Option<(bool, Option<String>)> {
    notes
        .iter()
        .filter_map(|a| match &a.body {
            NoteBody::OfferAnswer {
                offer: o,
                accept,
                invite,
            } if o == offer && a.from == from => Some((a.at, a.id, *accept, invite.clone())),
            _ => None,
        })
        .max()
        .map(|(_, _, accept, invite)| (accept, invite))
}
