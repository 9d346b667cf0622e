//! One-to-one support on the phones: a volunteer's check-ins (plan, due list, outcomes), her
//! duty, caseload cap, debrief group and supervision notes; a mother's view of her check-ins,
//! snoozing, skipping and asking for a different volunteer; a group's stage; and a moderator's
//! quiet offers. Thin copies of `hearth_core::notes::{checkins, offers}`.

use hearth_core::moderation::Stage;
use hearth_core::notes::checkins::{self, PlanRequest};
use hearth_core::notes::offers;
use hearth_core::notes::OfferKind as CoreOfferKind;

use crate::companion::HearthCompanion;
use crate::error::Result;
use crate::timeline::GroupTimeline;
use crate::types::{parse_group, GroupInfo, GroupStage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CheckinOutcome {
    Talked,
    NoReply,
    /// Something worried her: alerts her debrief group's moderators with her note.
    NeedsFollowUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DueState {
    Overdue,
    Due,
    Upcoming,
}

/// One line of a volunteer's due list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DueCheckin {
    /// The conversation.
    pub group: String,
    pub mother: String,
    /// Her date of the check-in (`YYYY-MM-DD`); names it when recording.
    pub date: String,
    /// Its time on her clock, `YYYY-MM-DD HH:MM`.
    pub her_time: String,
    pub due_at_ms: i64,
    pub overdue_at_ms: i64,
    pub snoozed_until_ms: Option<i64>,
    pub state: DueState,
}

/// A volunteer's check-ins: her standing and what is due (empty while off duty).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckinsView {
    pub on_duty: bool,
    pub cap: u32,
    pub caseload: u32,
    pub debrief_group: Option<String>,
    pub due: Vec<DueCheckin>,
}

/// The mother's check-ins with one volunteer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MyCheckin {
    pub group: String,
    pub volunteer: String,
    /// The plan in words: "weekly on Tue at 19:00 (Europe/London)".
    pub plan: String,
    pub next_date: Option<String>,
    pub next_at_ms: Option<i64>,
    pub snoozed_until_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum OfferKind {
    LossSupport,
    OneToOne,
    OtherGroup,
    /// Her volunteer asks her consent to hand her over to another volunteer.
    Handover,
    /// A coordinator's confirmed match, to the volunteer (`HearthCompanion.confirm_match`).
    Match,
}

impl From<OfferKind> for CoreOfferKind {
    fn from(k: OfferKind) -> Self {
        match k {
            OfferKind::LossSupport => CoreOfferKind::LossSupport,
            OfferKind::OneToOne => CoreOfferKind::OneToOne,
            OfferKind::OtherGroup => CoreOfferKind::OtherGroup,
            OfferKind::Handover => CoreOfferKind::Handover,
            OfferKind::Match => CoreOfferKind::Match,
        }
    }
}

/// A private offer, as the member or the moderator who made it sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Offer {
    pub id: String,
    pub from: String,
    pub to: String,
    pub kind: OfferKind,
    pub text: String,
    pub at_ms: i64,
    pub mine: bool,
    /// Accepted (true), declined (false), or not answered yet.
    pub accepted: Option<bool>,
    /// A match: the mother it is for.
    pub mother: Option<String>,
    /// An introduction: accepting it hands back an invite to her volunteer's conversation.
    pub joins_conversation: bool,
    /// A match this coordinator made: she has passed the volunteer's invite on to the mother.
    pub introduced: bool,
}

/// What answering an offer did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OfferAnswered {
    /// Accepting a match (a volunteer): the conversation started for the mother. Its invite
    /// went back to the coordinator with the answer.
    pub started: Option<GroupInfo>,
    /// Accepting an introduction (a mother): join her volunteer's conversation with this
    /// code (`HearthCompanion.join`), now or when the relay can be reached.
    pub invite: Option<String>,
}

impl From<offers::OfferView> for Offer {
    fn from(o: offers::OfferView) -> Self {
        Offer {
            id: o.id,
            from: o.from,
            to: o.to,
            kind: match o.kind {
                "loss_support" => OfferKind::LossSupport,
                "one_to_one" => OfferKind::OneToOne,
                "handover" => OfferKind::Handover,
                "match" => OfferKind::Match,
                _ => OfferKind::OtherGroup,
            },
            text: o.text,
            at_ms: o.at,
            mine: o.mine,
            accepted: o.accepted,
            mother: o.mother,
            joins_conversation: o.joins_conversation,
            introduced: o.introduced,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SupervisionNote {
    pub id: String,
    pub from: String,
    pub text: String,
    pub at_ms: i64,
    pub mine: bool,
}

#[uniffi::export]
impl HearthCompanion {
    /// The volunteer's due and overdue check-ins.
    pub fn checkins(&self) -> Result<CheckinsView> {
        self.shared.read(|c| {
            let v = c.checkins()?;
            Ok(CheckinsView {
                on_duty: v.on_duty,
                cap: v.cap,
                caseload: v.caseload,
                debrief_group: v.debrief_group,
                due: v
                    .due
                    .into_iter()
                    .map(|d| DueCheckin {
                        group: d.group,
                        mother: d.mother,
                        date: d.date,
                        her_time: d.her_time,
                        due_at_ms: d.due_at,
                        overdue_at_ms: d.overdue_at,
                        snoozed_until_ms: d.snoozed_until,
                        state: match d.state {
                            "overdue" => DueState::Overdue,
                            "due" => DueState::Due,
                            _ => DueState::Upcoming,
                        },
                    })
                    .collect(),
            })
        })
    }

    /// The mother's check-ins, one per volunteer who planned them with her.
    pub fn my_checkins(&self) -> Result<Vec<MyCheckin>> {
        self.shared.read(|c| {
            Ok(c.my_checkins()?
                .into_iter()
                .map(|m| MyCheckin {
                    group: m.group,
                    volunteer: m.volunteer,
                    plan: m.plan,
                    next_date: m.next_date,
                    next_at_ms: m.next_at,
                    snoozed_until_ms: m.snoozed_until,
                })
                .collect())
        })
    }

    /// On duty or off (no prompts and no new mothers while off).
    pub fn set_volunteer_duty(&self, on: bool) -> Result<()> {
        self.shared.change(|c| c.set_volunteer_duty(on))
    }

    /// The most mothers she supports at once (1 to 20).
    pub fn set_caseload_cap(&self, cap: u32) -> Result<()> {
        self.shared.change(|c| c.set_caseload_cap(cap))
    }

    /// The volunteers' group whose moderators receive her follow-ups and supervision notes.
    pub fn set_debrief_group(&self, group_id: String) -> Result<()> {
        let g = parse_group(&group_id)?;
        self.shared.change(|c| c.set_debrief_group(&g))
    }

    /// A coordinator confirms a match: the volunteer (in the volunteers' group) is asked to
    /// support the mother (in a group this coordinator moderates); `text` says why. Returns
    /// the match's offer id.
    pub fn confirm_match(
        &self,
        volunteers_group_id: String,
        volunteer: String,
        mother_group_id: String,
        mother: String,
        text: String,
    ) -> Result<String> {
        let v = parse_group(&volunteers_group_id)?;
        let m = parse_group(&mother_group_id)?;
        self.shared.change(|c| {
            Ok(c.confirm_match(&v, &volunteer, &m, &mother, &text)?
                .to_hex())
        })
    }

    /// The coordinator passes an accepted match's invite on to the mother, privately in her
    /// group (`text` empty: the usual introduction). Returns the offer's id.
    pub fn introduce(
        &self,
        volunteers_group_id: String,
        match_offer_id: String,
        text: String,
    ) -> Result<String> {
        let v = parse_group(&volunteers_group_id)?;
        self.shared
            .change(|c| Ok(c.introduce(&v, &match_offer_id, &text)?.to_hex()))
    }

    /// A private note to her supervisors (her debrief group's moderators); returns its id.
    pub fn send_supervision_note(&self, text: String) -> Result<String> {
        self.shared
            .change(|c| Ok(c.supervision_note(&text)?.to_hex()))
    }
}

#[uniffi::export]
impl GroupTimeline {
    /// Plans recurring check-ins in this conversation (the volunteer who started it), on the
    /// mother's clock: `day` monday…sunday, `at` HH:MM, her IANA `time_zone`, every
    /// `every_weeks` weeks from `start` (YYYY-MM-DD; today on her clock if none). Returns the
    /// plan in words.
    pub fn plan_checkins(
        &self,
        day: String,
        at: String,
        time_zone: String,
        every_weeks: u32,
        start: Option<String>,
    ) -> Result<String> {
        let request = PlanRequest {
            day,
            at,
            time_zone,
            every_weeks,
            start,
        };
        self.change(|c, g| c.plan_checkins(g, &request))
    }

    pub fn end_checkins(&self) -> Result<()> {
        self.change(|c, g| c.end_checkins(g).map(|_| ()))
    }

    /// Records how a check-in went (`date`: which one, by her date; the latest by default).
    /// Returns the alert id when `NeedsFollowUp` alerted her debrief group's moderators.
    pub fn record_checkin(
        &self,
        outcome: CheckinOutcome,
        note: String,
        date: Option<String>,
    ) -> Result<Option<String>> {
        let outcome = match outcome {
            CheckinOutcome::Talked => checkins::CheckinOutcome::Talked,
            CheckinOutcome::NoReply => checkins::CheckinOutcome::NoReply,
            CheckinOutcome::NeedsFollowUp => checkins::CheckinOutcome::NeedsFollowUp,
        };
        self.change(|c, g| {
            Ok(c.record_checkin(g, outcome, &note, date.as_deref())?
                .follow_up_alert)
        })
    }

    /// The mother asks for her next check-in later; returns the check-in's date.
    pub fn snooze_checkin(&self, until_ms: i64) -> Result<String> {
        self.change(|c, g| c.snooze_checkin(g, until_ms))
    }

    /// The mother skips her next check-in; returns its date.
    pub fn skip_checkin(&self) -> Result<String> {
        self.change(|c, g| c.skip_checkin(g))
    }

    /// The mother asks this group's coordinators for a different volunteer (no reason).
    pub fn ask_for_another_volunteer(&self) -> Result<String> {
        self.change(|c, g| Ok(c.ask_for_another_volunteer(g)?.to_hex()))
    }

    /// Supervision notes sent or received in this group, oldest first.
    pub fn supervision_notes(&self) -> Result<Vec<SupervisionNote>> {
        self.read(|c, g| {
            Ok(c.supervision_notes(g)?
                .into_iter()
                .map(|n| SupervisionNote {
                    id: n.id,
                    from: n.from,
                    text: n.text,
                    at_ms: n.at,
                    mine: n.mine,
                })
                .collect())
        })
    }

    /// Moves the group to another stage (moderators), optionally renaming it.
    pub fn set_stage(&self, stage: GroupStage, rename: Option<String>) -> Result<()> {
        let stage = match stage {
            GroupStage::Antenatal => Stage::Antenatal,
            GroupStage::Postnatal => Stage::Postnatal,
        };
        self.change(|c, g| c.set_stage(g, stage, rename.as_deref()).map(|_| ()))
    }

    /// A moderator's private offer to one member; nothing shows in the group.
    pub fn offer(&self, member: String, kind: OfferKind, text: String) -> Result<String> {
        self.change(|c, g| Ok(c.offer(g, &member, kind.into(), &text)?.to_hex()))
    }

    /// Offers this device made or received here, with their answers.
    pub fn offers(&self) -> Result<Vec<Offer>> {
        self.read(|c, g| Ok(c.offers(g)?.into_iter().map(Into::into).collect()))
    }

    /// Accepts or declines an offer made to her; only its moderator is told. Accepting a
    /// match starts the volunteer's conversation with the mother (refused off duty or at her
    /// cap); accepting an introduction returns the invite to join with.
    pub fn answer_offer(&self, offer_id: String, accept: bool) -> Result<OfferAnswered> {
        self.change(|c, g| {
            let a = c.answer_offer(g, &offer_id, accept)?;
            Ok(OfferAnswered {
                started: a.conversation.map(Into::into),
                invite: a.invite,
            })
        })
    }

    /// Makes the group volunteers and coordinators only (a debrief group), or opens it to
    /// mothers again (moderators). Refused while a mother is a member.
    pub fn set_volunteers_only(&self, on: bool) -> Result<()> {
        self.change(|c, g| c.set_volunteers_only(g, on).map(|_| ()))
    }
}
