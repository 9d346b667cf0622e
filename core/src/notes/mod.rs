//! Direct notes: one member to one member of a group, sealed (HPKE) to the recipient's device
//! key, so neither the relay nor any other member can read them. They carry what must reach
//! only some people: a report (to the group's moderators), a report's progress (to the other
//! moderators and the reporter), a safety alert and its acknowledgements, a moderator's private
//! nudge, a self-check result a mother chose to share.
//!
//! A note meant for several people (a report to three moderators) is one note with one id,
//! sealed separately to each; the relay stores it once per recipient and deletes it once the
//! recipient's device has stored it. The relay learns who wrote to whom in which group, and
//! when, never what (see `docs/threat-model.md`).
//!
//! Every device checks what it receives: a report or alert is taken only by a moderator's
//! device; a report's progress, an alert's acknowledgement and a nudge only from a moderator.

pub mod checkins;
pub mod detections;
pub mod offers;
pub mod safety;
pub mod store;
pub mod views;

use serde::{Deserialize, Serialize};

use hearth_protocol::envelope::{body_hash, Direct, DirectHeader};
use hearth_protocol::membership::Membership;
pub use hearth_safety::escalation::{Severity, Tier};
pub use hearth_safety::helpcard::HelpCard;

use crate::error::{Error, InputError, Result};
use crate::group::GroupId;
use crate::identity::{parse_hex, DeviceId, DeviceKeys};
use crate::message::MessageId;

/// Longest free text in a note (a reporter's note, an outcome, a nudge), in characters.
pub const MAX_NOTE_TEXT: usize = 2_000;

crate::message::random_id! {
    /// Names one note: 16 random bytes.
    NoteId
}

impl NoteId {
    /// Parses a note id as printed (32 hexadecimal characters).
    pub fn parse(s: &str, field: &str) -> std::result::Result<Self, InputError> {
        parse_hex(s.trim())
            .map(NoteId)
            .ok_or_else(|| InputError::new(field, "expected 32 hexadecimal characters"))
    }
}

/// Why a member reports a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    Misinformation,
    Distress,
    Abuse,
    /// Risk to herself or the baby.
    Risk,
    Spam,
    Other,
}

impl ReportReason {
    pub const ALL: [ReportReason; 6] = [
        ReportReason::Misinformation,
        ReportReason::Distress,
        ReportReason::Abuse,
        ReportReason::Risk,
        ReportReason::Spam,
        ReportReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Misinformation => "misinformation",
            ReportReason::Distress => "distress",
            ReportReason::Abuse => "abuse",
            ReportReason::Risk => "risk",
            ReportReason::Spam => "spam",
            ReportReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> std::result::Result<Self, InputError> {
        let s = s.trim().to_ascii_lowercase();
        ReportReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                InputError::new(
                    "reason",
                    format!(
                        "{s:?} is not a reason; use one of {}",
                        ReportReason::ALL.map(|r| r.as_str()).join(", ")
                    ),
                )
            })
    }

    /// How urgent it is for the review queue (higher first).
    pub fn severity(self) -> u8 {
        match self {
            ReportReason::Risk => 4,
            ReportReason::Distress => 3,
            ReportReason::Abuse => 3,
            ReportReason::Misinformation => 2,
            ReportReason::Other => 1,
            ReportReason::Spam => 0,
        }
    }
}

/// Where a report stands; the reporter sees it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    Open,
    Acknowledged,
    Resolved,
}

impl ReportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Open => "open",
            ReportState::Acknowledged => "acknowledged",
            ReportState::Resolved => "resolved",
        }
    }
}

/// A line of the conversation around a reported message, as the reporter's device held it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextLine {
    #[serde(rename = "a")]
    pub author: String,
    #[serde(rename = "m")]
    pub message: MessageId,
    #[serde(rename = "x")]
    pub text: String,
    #[serde(rename = "t")]
    pub sent_at: i64,
}

/// What a note says. The enum's shape is the wire format inside the sealed body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoteBody {
    /// A member reports a message to the moderators, with a little context around it.
    #[serde(rename = "report")]
    Report {
        #[serde(rename = "m")]
        message: MessageId,
        #[serde(rename = "r")]
        reason: ReportReason,
        #[serde(rename = "n")]
        note: String,
        /// The reported message and up to two before and after it.
        #[serde(rename = "c")]
        context: Vec<ContextLine>,
    },
    /// A moderator moves a report on; sent to the other moderators and the reporter.
    #[serde(rename = "report_state")]
    ReportUpdate {
        #[serde(rename = "i")]
        report: NoteId,
        /// The reporter's device (the update goes to her too).
        #[serde(rename = "b")]
        reporter: DeviceId,
        #[serde(rename = "s")]
        state: ReportState,
        #[serde(rename = "o")]
        outcome: String,
    },
    /// A member chose to alert her moderators from a risky draft (or a moderator raised one
    /// about a member).
    #[serde(rename = "alert")]
    Alert {
        #[serde(rename = "s")]
        severity: Severity,
        /// Detector categories, like "self_harm" or "red_flag".
        #[serde(rename = "c")]
        categories: Vec<String>,
        /// The draft, if she chose to share it.
        #[serde(rename = "x")]
        shared_text: String,
        /// Whether she has a volunteer (the ladder starts there).
        #[serde(rename = "v")]
        has_volunteer: bool,
    },
    /// A moderator (or volunteer) acknowledges or resolves an alert; sent to the other
    /// moderators and the member.
    #[serde(rename = "alert_state")]
    AlertUpdate {
        #[serde(rename = "i")]
        alert: NoteId,
        #[serde(rename = "m")]
        member: DeviceId,
        #[serde(rename = "k")]
        ack: Option<Tier>,
        #[serde(rename = "r")]
        resolved: bool,
        #[serde(rename = "o")]
        outcome: String,
    },
    /// A moderator's private message to one member.
    #[serde(rename = "nudge")]
    Nudge {
        #[serde(rename = "x")]
        text: String,
    },
    /// A self-check result a mother chose to share with one moderator.
    #[serde(rename = "epds")]
    Epds {
        #[serde(rename = "t")]
        total: u8,
        #[serde(rename = "i")]
        item10_positive: bool,
        #[serde(rename = "f")]
        flags: Vec<String>,
        #[serde(rename = "a")]
        taken_at: i64,
    },
    /// A volunteer's check-in plan for the mother in their conversation; `None` ends it.
    #[serde(rename = "checkin_plan")]
    CheckinPlan {
        #[serde(rename = "s")]
        schedule: Option<hearth_care::schedule::Schedule>,
    },
    /// About one check-in: the mother's snooze or skip (sent to her volunteer), or the
    /// volunteer's outcome (kept on her own device, never sent).
    #[serde(rename = "checkin")]
    CheckinRecord {
        #[serde(rename = "r")]
        record: hearth_care::schedule::CheckInRecord,
    },
    /// A volunteer's private note to her supervisors (the debrief group's moderators).
    #[serde(rename = "supervision")]
    Supervision {
        #[serde(rename = "x")]
        text: String,
    },
    /// A mother asks her group's coordinators for a different volunteer. No reason is asked
    /// for or carried; `current` names her volunteers now, so the coordinator knows who.
    #[serde(rename = "volunteer_change")]
    VolunteerChange {
        #[serde(rename = "c")]
        current: Vec<String>,
    },
    /// A moderator's quiet, private offer to one member: after a loss, a move to a
    /// loss-support group or one-to-one support. Nothing shows in the group.
    #[serde(rename = "offer")]
    Offer {
        #[serde(rename = "k")]
        kind: OfferKind,
        #[serde(rename = "x")]
        text: String,
        /// A `match` offer: the mother the coordinator matched the volunteer with.
        #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
        mother: Option<MatchFor>,
        /// An introduction: the volunteer's single-use invite to the conversation she started
        /// for the mother; accepting joins it.
        #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
    },
    /// The member's answer to an offer, to the moderator who made it.
    #[serde(rename = "offer_answer")]
    OfferAnswer {
        #[serde(rename = "o")]
        offer: NoteId,
        #[serde(rename = "a")]
        accept: bool,
        /// A volunteer accepting a match: her invite for the mother, for the coordinator to
        /// pass on.
        #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
    },
}

/// The mother a match is for, as the coordinator's device knows her.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchFor {
    /// The group the coordinator and the mother share, where the introduction goes.
    #[serde(rename = "g")]
    pub group: GroupId,
    #[serde(rename = "d")]
    pub member: DeviceId,
    /// Her pseudonym, so the volunteer knows whom she is agreeing to support.
    #[serde(rename = "n")]
    pub name: String,
}

/// What a moderator offers a member privately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// A place in a loss-support group.
    LossSupport,
    /// One-to-one support from a volunteer.
    OneToOne,
    /// A follow-on group (after an ending, or a move between groups).
    OtherGroup,
    /// In a one-to-one conversation: her volunteer asks her consent to hand her over to
    /// another volunteer. Nothing changes unless she accepts.
    Handover,
    /// A coordinator's confirmed match, to the volunteer: support this mother. Accepting
    /// starts a conversation for her and returns its invite to the coordinator.
    Match,
}

impl OfferKind {
    pub const ALL: [OfferKind; 5] = [
        OfferKind::LossSupport,
        OfferKind::OneToOne,
        OfferKind::OtherGroup,
        OfferKind::Handover,
        OfferKind::Match,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::LossSupport => "loss_support",
            OfferKind::OneToOne => "one_to_one",
            OfferKind::OtherGroup => "other_group",
            OfferKind::Handover => "handover",
            OfferKind::Match => "match",
        }
    }

    pub fn parse(s: &str) -> std::result::Result<Self, InputError> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        OfferKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                InputError::new(
                    "kind",
                    format!(
                        "{s:?} is not an offer; use loss_support, one_to_one, other_group or handover \
                         (a match is confirmed with hearth match confirm)"
                    ),
                )
            })
    }
}

impl NoteBody {
    pub fn kind(&self) -> &'static str {
        match self {
            NoteBody::Report { .. } => "report",
            NoteBody::ReportUpdate { .. } => "report_state",
            NoteBody::Alert { .. } => "alert",
            NoteBody::AlertUpdate { .. } => "alert_state",
            NoteBody::Nudge { .. } => "nudge",
            NoteBody::Epds { .. } => "epds",
            NoteBody::CheckinPlan { .. } => "checkin_plan",
            NoteBody::CheckinRecord { .. } => "checkin",
            NoteBody::Supervision { .. } => "supervision",
            NoteBody::VolunteerChange { .. } => "volunteer_change",
            NoteBody::Offer { .. } => "offer",
            NoteBody::OfferAnswer { .. } => "offer_answer",
        }
    }

    /// Checks lengths and shapes: on every note made here and every one received.
    pub fn validate(&self) -> std::result::Result<(), InputError> {
        let text = |field: &str, t: &str| {
            let n = t.chars().count();
            if n > MAX_NOTE_TEXT {
                Err(InputError::new(
                    field,
                    format!("{n} characters; at most {MAX_NOTE_TEXT}"),
                ))
            } else {
                Ok(())
            }
        };
        match self {
            NoteBody::Report { note, context, .. } => {
                text("note", note)?;
                if context.len() > 5 {
                    return Err(InputError::new("context", "at most 5 lines"));
                }
                for c in context {
                    text("context", &c.text)?;
                }
            }
            NoteBody::ReportUpdate { outcome, .. } | NoteBody::AlertUpdate { outcome, .. } => {
                text("outcome", outcome)?
            }
            NoteBody::Alert {
                categories,
                shared_text,
                ..
            } => {
                text("text", shared_text)?;
                if categories.len() > 16 || categories.iter().any(|c| c.len() > 64) {
                    return Err(InputError::new("categories", "too many or too long"));
                }
            }
            NoteBody::Nudge { text: t } => {
                if t.trim().is_empty() {
                    return Err(InputError::new("text", "a nudge needs some words"));
                }
                text("text", t)?
            }
            NoteBody::Epds { total, flags, .. } => {
                if *total > 30 || flags.len() > 4 {
                    return Err(InputError::new("epds", "not a self-check result"));
                }
            }
            NoteBody::CheckinPlan { schedule } => {
                if let Some(s) = schedule {
                    s.validate()
                        .map_err(|e| InputError::new("schedule", e.to_string()))?;
                }
            }
            NoteBody::CheckinRecord { record } => {
                if let hearth_care::schedule::Action::Done { note: Some(n), .. } = &record.action {
                    text("note", n)?;
                }
            }
            NoteBody::Supervision { text: t } => {
                if t.trim().is_empty() {
                    return Err(InputError::new(
                        "text",
                        "a supervision note needs some words",
                    ));
                }
                text("text", t)?
            }
            NoteBody::VolunteerChange { current } => {
                if current.len() > 8 || current.iter().any(|c| c.chars().count() > 100) {
                    return Err(InputError::new("current", "too many or too long"));
                }
            }
            NoteBody::Offer {
                kind,
                text: t,
                mother,
                invite,
            } => {
                text("text", t)?;
                if (*kind == OfferKind::Match) != mother.is_some() {
                    return Err(InputError::new(
                        "mother",
                        "a match names its mother, and only a match does",
                    ));
                }
                if mother
                    .as_ref()
                    .is_some_and(|m| m.name.chars().count() > 100)
                {
                    return Err(InputError::new("mother", "too long"));
                }
                if invite.is_some() && *kind != OfferKind::OneToOne {
                    return Err(InputError::new(
                        "invite",
                        "only an introduction to one-to-one support carries an invite",
                    ));
                }
                check_invite(invite)?;
            }
            NoteBody::OfferAnswer { invite, .. } => check_invite(invite)?,
        }
        Ok(())
    }
}

fn check_invite(invite: &Option<String>) -> std::result::Result<(), InputError> {
    match invite {
        Some(code) => hearth_protocol::invite::InviteCode::parse(code)
            .map(|_| ())
            .map_err(|e| InputError::new("invite", e.to_string())),
        None => Ok(()),
    }
}

/// A note as this device holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub from: DeviceId,
    /// Who it was sealed to (for a received note: this device).
    pub to: Vec<DeviceId>,
    /// The sender's clock.
    pub at: i64,
    pub body: NoteBody,
    /// Recipients the relay refused it for, with why (only on the sender's device).
    #[serde(default)]
    pub undelivered: Vec<(DeviceId, String)>,
}

/// The sealed body of a direct note: HPKE's encapsulated key and the ciphertext.
#[derive(Serialize, Deserialize)]
struct SealedBody {
    #[serde(rename = "e", with = "serde_bytes")]
    enc: Vec<u8>,
    #[serde(rename = "c", with = "serde_bytes")]
    ct: Vec<u8>,
}

/// Binds a sealed body to its group, sender, recipient and note id, so it cannot be replayed
/// under another header.
fn seal_info(group: &GroupId, from: &DeviceId, to: &DeviceId, id: &[u8; 16]) -> Vec<u8> {
    let mut v = b"hearth/v1/direct-note".to_vec();
    v.extend_from_slice(&group.0);
    v.extend_from_slice(&from.0);
    v.extend_from_slice(&to.0);
    v.extend_from_slice(id);
    v
}

/// Seals `body` from this device to `to` (whose agreement key the log holds).
pub fn seal_note(
    keys: &DeviceKeys,
    group: &GroupId,
    m: &Membership,
    to: &DeviceId,
    id: &NoteId,
    at: i64,
    body: &NoteBody,
) -> Result<Direct> {
    let member = m.members.get(to).ok_or(Error::NotAMember)?;
    let mut plain = Vec::new();
    ciborium::into_writer(body, &mut plain).expect("CBOR into memory");
    let from = keys.device_id();
    let (enc, ct) = crate::membership::seal_to(
        to,
        &member.agreement.0,
        &seal_info(group, &from, to, &id.0),
        &[],
        &plain,
    )?;
    let mut sealed = Vec::new();
    ciborium::into_writer(&SealedBody { enc, ct }, &mut sealed).expect("CBOR into memory");
    let header = DirectHeader {
        v: hearth_protocol::VERSION,
        group: *group,
        from,
        to: *to,
        id: id.0,
        at,
        body_hash: body_hash(&sealed),
    };
    Ok(Direct::seal(keys, &header, sealed))
}

/// Opens a note sealed to this device and checks who may send it: `Err` says why not.
pub fn open_note(
    keys: &DeviceKeys,
    group: &GroupId,
    m: &Membership,
    direct: &Direct,
) -> std::result::Result<Note, String> {
    let h = direct.open().map_err(|e| e.to_string())?;
    let me = keys.device_id();
    if h.group != *group || h.to != me {
        return Err("it is addressed to another group or device".into());
    }
    if !m.tenure.contains_key(&h.from) {
        return Err(format!("its sender {} was never a member", h.from.short()));
    }
    let sealed: SealedBody =
        ciborium::from_reader(direct.body.as_slice()).map_err(|e| format!("its body: {e}"))?;
    let plain = crate::membership::open_sealed(
        keys,
        &sealed.enc,
        &sealed.ct,
        &seal_info(group, &h.from, &me, &h.id),
        &[],
        || "a direct note".into(),
    )
    .map_err(|e| e.to_string())?;
    let body: NoteBody =
        ciborium::from_reader(plain.as_slice()).map_err(|e| format!("its contents: {e}"))?;
    body.validate().map_err(|e| e.to_string())?;
    // Progress and nudges only from a current moderator: one demoted (or removed) since
    // has no say any more.
    let sender_moderates = m.is_moderator(&h.from);
    let i_moderate = m.is_moderator(&me);
    let allowed = match &body {
        NoteBody::Report { .. } | NoteBody::Epds { .. } => i_moderate,
        NoteBody::Alert { .. } => i_moderate,
        // Progress on a report or a shared self-check: to the other moderators and to the
        // member it is about.
        NoteBody::ReportUpdate { reporter, .. } => {
            sender_moderates && (i_moderate || *reporter == me)
        }
        NoteBody::AlertUpdate { member, .. } => sender_moderates && (i_moderate || *member == me),
        NoteBody::Nudge { .. } => sender_moderates,
        // Check-ins live in a conversation: the volunteer who started it (its moderator)
        // plans them for the other person; the mother snoozes or skips, to the volunteer. An
        // outcome is never sent: one arriving is refused. A plan must name the two people.
        NoteBody::CheckinPlan { schedule } => {
            sender_moderates
                && schedule.as_ref().is_none_or(|s| {
                    s.id == group.to_hex()
                        && s.volunteer == h.from.to_hex()
                        && s.mother == me.to_hex()
                })
        }
        NoteBody::CheckinRecord { record } => {
            i_moderate
                && record.schedule == group.to_hex()
                && !matches!(record.action, hearth_care::schedule::Action::Done { .. })
        }
        NoteBody::Supervision { .. } | NoteBody::VolunteerChange { .. } => i_moderate,
        NoteBody::Offer { .. } => sender_moderates,
        NoteBody::OfferAnswer { .. } => i_moderate,
    };
    if !allowed {
        return Err(format!(
            "a {} from {} is not one this device takes",
            body.kind(),
            h.from.short()
        ));
    }
    Ok(Note {
        id: NoteId(h.id),
        from: h.from,
        to: vec![me],
        at: h.at,
        body,
        undelivered: Vec::new(),
    })
}
