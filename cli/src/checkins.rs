//! `hearth checkins`, `hearth checkin …`, `hearth volunteer` and `hearth supervision`: a peer
//! volunteer's check-ins with the mothers she supports, her duty and caseload cap, and her
//! notes to her supervisors. JSON shapes: `docs/cli.md`.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use serde_json::json;

use hearth_core::moderation::Stage;
use hearth_core::notes::checkins::{parse_outcome, PlanRequest};
use hearth_core::notes::OfferKind;
use hearth_core::{Companion, InputError, StoreSecret};

use crate::relay::Relay;
use crate::{print_json, rfc3339, Failure};

#[derive(Subcommand)]
pub(crate) enum CheckinCommand {
    /// Your due and overdue check-ins (volunteers): overdue first, then due, then those
    /// coming within a day. Empty while you are off duty.
    Checkins {
        #[arg(long)]
        json: bool,
    },
    /// Plan, record, snooze or skip check-ins.
    #[command(subcommand)]
    Checkin(CheckinAction),
    /// Your duty and caseload as a volunteer: `--off` stops every prompt while you are off.
    Volunteer {
        /// Go on duty.
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Go off duty: no prompts and no new mothers while off.
        #[arg(long)]
        off: bool,
        /// The most mothers you support at once (1 to 20).
        #[arg(long)]
        cap: Option<u32>,
        /// Your volunteers' debrief group: its moderators receive your follow-ups and
        /// supervision notes.
        #[arg(long, value_name = "GROUP")]
        debrief: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Private notes to your supervisors (your debrief group's moderators).
    #[command(subcommand)]
    Supervision(SupervisionAction),
    /// Move a group to another stage (moderators): antenatal, then postnatal as the babies
    /// arrive; --rename gives it a name for the new stage.
    Stage {
        group: String,
        /// antenatal or postnatal.
        stage: String,
        #[arg(long, value_name = "NAME")]
        rename: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Who a group is for (moderators): `volunteers` makes it a volunteers-only debrief group
    /// (no mother is invited or admitted); `everyone` opens it to mothers again.
    Audience {
        group: String,
        /// volunteers or everyone.
        audience: String,
        #[arg(long)]
        json: bool,
    },
    /// Quiet, private offers from a moderator to one member (loss support, one-to-one support,
    /// another group); nothing shows in the group.
    #[command(subcommand)]
    Offer(OfferAction),
}

/// A coordinator's confirmed match, carried to the volunteer and then to the mother.
#[derive(Subcommand)]
pub(crate) enum MatchAction {
    /// Confirm a match (coordinators): the volunteer, in your volunteers' group, is asked to
    /// support the mother, a member of a group you moderate. She accepts with `hearth offer
    /// answer`, which starts her conversation with the mother.
    Confirm {
        /// The volunteers' group (id or name) you share with the volunteer.
        volunteers: String,
        /// The volunteer (pseudonym or member id).
        volunteer: String,
        /// The group you share with the mother.
        #[arg(long, value_name = "GROUP")]
        mother_group: String,
        /// The mother (pseudonym or member id).
        #[arg(long)]
        mother: String,
        /// Why this match, in your words (for example the reasons `hearth match` gave).
        #[arg(long)]
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Pass an accepted match on to the mother (coordinators): a private offer in her group
    /// that joins her to the volunteer's conversation when she accepts.
    Introduce {
        /// The volunteers' group the match was confirmed in.
        volunteers: String,
        /// The match's offer id (from `hearth match confirm` or `hearth offer list`).
        offer: String,
        /// Your words to her; the usual introduction if left out.
        #[arg(long, default_value = "")]
        text: String,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run_match(
    action: MatchAction,
    home: &Path,
    secret: StoreSecret,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut c = Companion::open(home, secret)?;
    let (id, json, said) = match action {
        MatchAction::Confirm {
            volunteers,
            volunteer,
            mother_group,
            mother,
            text,
            json,
        } => {
            let v = c.find_group(&volunteers)?.id;
            let m = c.find_group(&mother_group)?.id;
            let id = c.confirm_match(&v, &volunteer, &m, &mother, &text)?;
            let said = format!(
                "match {} confirmed: {volunteer} is asked to support {mother}",
                id.to_hex()
            );
            (id, json, said)
        }
        MatchAction::Introduce {
            volunteers,
            offer,
            text,
            json,
        } => {
            let v = c.find_group(&volunteers)?.id;
            let id = c.introduce(&v, &offer, &text)?;
            (
                id,
                json,
                "introduction made privately to the mother".to_string(),
            )
        }
    };
    if json {
        print_json(out, &json!({"id": id.to_hex(), "synced": false}))?;
    } else {
        queued(out, &said)?;
    }
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum OfferAction {
    /// Offer a member support privately (moderators).
    Send {
        group: String,
        member: String,
        /// loss-support, one-to-one, other-group, or handover (in a one-to-one conversation:
        /// her consent to another volunteer taking over).
        #[arg(long)]
        kind: String,
        /// The offer in your words.
        #[arg(long)]
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Offers you made or received in a group, with their answers.
    List {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// Accept or decline an offer made to you; only its moderator is told.
    Answer {
        group: String,
        offer: String,
        #[arg(long, conflicts_with = "decline", required_unless_present = "decline")]
        accept: bool,
        #[arg(long)]
        decline: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum CheckinAction {
    /// Plan recurring check-ins in a one-to-one conversation you started (weekly by default),
    /// on the mother's clock.
    Plan {
        /// The conversation (id or name).
        group: String,
        /// Day of the week on her clock: monday … sunday.
        #[arg(long)]
        day: String,
        /// Time on her clock, HH:MM.
        #[arg(long)]
        at: String,
        /// Her time zone (IANA), such as Europe/London.
        #[arg(long = "tz", value_name = "ZONE")]
        time_zone: String,
        /// Weeks between check-ins.
        #[arg(long, default_value_t = 1)]
        every: u32,
        /// First possible date, YYYY-MM-DD (default: today on her clock).
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record how a check-in went: talked, no-reply or needs-follow-up. The outcome and note
    /// stay on this device; needs-follow-up also alerts your debrief group's moderators.
    Record {
        group: String,
        #[arg(long)]
        outcome: String,
        #[arg(long, default_value = "")]
        note: String,
        /// Which check-in (her date, YYYY-MM-DD); default the latest that has come.
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// End the check-ins in a conversation (the conversation stays).
    End {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// Your check-ins with your volunteer (mothers): the plan and the next one.
    Mine {
        #[arg(long)]
        json: bool,
    },
    /// Ask for your next check-in later (mothers); no reason needed.
    Snooze {
        group: String,
        /// How many hours later (1 to 672).
        #[arg(long)]
        hours: u32,
        #[arg(long)]
        json: bool,
    },
    /// Skip your next check-in (mothers); no reason needed.
    Skip {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// Ask your group's coordinators for a different volunteer (mothers); no reason is asked.
    ChangeVolunteer {
        /// One of your groups (its moderators arrange volunteers).
        group: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum SupervisionAction {
    /// Send a private note to your supervisors.
    Send {
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Supervision notes sent or received in a group.
    List {
        group: String,
        #[arg(long)]
        json: bool,
    },
}

fn queued(out: &mut impl Write, said: &str) -> Result<(), Failure> {
    writeln!(
        out,
        "{said}; saved on this device, it goes with your next `hearth sync`"
    )?;
    Ok(())
}

pub(crate) fn run(
    cmd: CheckinCommand,
    home: &Path,
    secret: StoreSecret,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut c = Companion::open(home, secret)?;
    match cmd {
        CheckinCommand::Checkins { json } => {
            let v = c.checkins()?;
            if json {
                print_json(out, &v)?;
            } else if !v.on_duty {
                writeln!(
                    out,
                    "you are off duty: no check-in prompts until `hearth volunteer --on`"
                )?;
            } else if v.due.is_empty() {
                writeln!(
                    out,
                    "nothing due; you support {} of at most {} mothers",
                    v.caseload, v.cap
                )?;
            } else {
                for d in &v.due {
                    writeln!(
                        out,
                        "{:<8} {} at {} her time ({})  {}",
                        d.state, d.mother, d.her_time, d.date, d.group
                    )?;
                }
            }
        }
        CheckinCommand::Checkin(action) => run_action(&mut c, action, out)?,
        CheckinCommand::Volunteer {
            on,
            off,
            cap,
            debrief,
            json,
        } => {
            if on || off {
                c.set_volunteer_duty(on)?;
            }
            if let Some(cap) = cap {
                c.set_caseload_cap(cap)?;
            }
            if let Some(g) = debrief {
                let g = c.find_group(&g)?.id;
                c.set_debrief_group(&g)?;
            }
            let v = c.checkins()?;
            if json {
                print_json(
                    out,
                    &json!({"on_duty": v.on_duty, "cap": v.cap, "caseload": v.caseload,
                            "debrief_group": v.debrief_group}),
                )?;
            } else {
                writeln!(
                    out,
                    "{}; supporting {} of at most {} mothers; debrief group: {}",
                    if v.on_duty { "on duty" } else { "off duty" },
                    v.caseload,
                    v.cap,
                    v.debrief_group.as_deref().unwrap_or("none chosen")
                )?;
            }
        }
        CheckinCommand::Stage {
            group,
            stage,
            rename,
            json,
        } => {
            let stage = Stage::parse(&stage)?;
            let g = c.find_group(&group)?.id;
            let id = c.set_stage(&g, stage, rename.as_deref())?;
            if json {
                print_json(
                    out,
                    &json!({"id": id.to_hex(), "group": g.to_hex(), "stage": stage.as_str(), "synced": false}),
                )?;
            } else {
                queued(out, &format!("the group is now {}", stage.as_str()))?;
            }
        }
        CheckinCommand::Audience {
            group,
            audience,
            json,
        } => {
            let on = match audience.as_str() {
                "volunteers" => true,
                "everyone" => false,
                other => {
                    return Err(InputError::new(
                        "audience",
                        format!("{other:?} is not an audience: say volunteers or everyone"),
                    )
                    .into())
                }
            };
            let g = c.find_group(&group)?.id;
            let id = c.set_volunteers_only(&g, on)?;
            if json {
                print_json(
                    out,
                    &json!({"id": id.to_hex(), "group": g.to_hex(), "volunteers_only": on, "synced": false}),
                )?;
            } else {
                queued(
                    out,
                    if on {
                        "the group is now for volunteers and coordinators only"
                    } else {
                        "the group is open to mothers again"
                    },
                )?;
            }
        }
        CheckinCommand::Offer(OfferAction::Send {
            group,
            member,
            kind,
            text,
            json,
        }) => {
            let kind = OfferKind::parse(&kind).map_err(|e| InputError::new("--kind", e.reason))?;
            let g = c.find_group(&group)?.id;
            let id = c.offer(&g, &member, kind, &text)?;
            if json {
                print_json(out, &json!({"id": id.to_hex(), "synced": false}))?;
            } else {
                queued(
                    out,
                    &format!("offer {} made privately to {member}", id.to_hex()),
                )?;
            }
        }
        CheckinCommand::Offer(OfferAction::List { group, json }) => {
            let g = c.find_group(&group)?.id;
            let offers = c.offers(&g)?;
            if json {
                print_json(out, &offers)?;
            } else {
                for o in &offers {
                    let answer = match o.accepted {
                        Some(true) => "accepted",
                        Some(false) => "declined",
                        None => "no answer yet",
                    };
                    let about = o
                        .mother
                        .as_ref()
                        .map(|m| format!(" for {m}"))
                        .unwrap_or_default();
                    let introduced = if o.introduced { ", introduced" } else { "" };
                    writeln!(
                        out,
                        "[{}] {} to {} ({}{about}): {}  [{answer}{introduced}] {}",
                        rfc3339(o.at),
                        o.from,
                        o.to,
                        o.kind,
                        o.text,
                        o.id
                    )?;
                }
            }
        }
        CheckinCommand::Offer(OfferAction::Answer {
            group,
            offer,
            accept,
            decline: _,
            json,
        }) => {
            let g = c.find_group(&group)?.id;
            let answered = c.answer_offer(&g, &offer, accept)?;
            // An introduction: join her volunteer's conversation now.
            let joined = match &answered.invite {
                Some(code) => {
                    let relay = Relay::required(&c, "join the conversation")?;
                    let mut t = relay.transport();
                    let info = c.join(code, &mut t).map_err(|e| {
                        relay.failure(
                            e,
                            &t,
                            &format!(
                                "your answer is kept; join when the relay can be reached: \
                                 hearth join {code}"
                            ),
                        )
                    })?;
                    Some(info)
                }
                None => None,
            };
            let conversation = answered.conversation.as_ref().or(joined.as_ref());
            if json {
                print_json(
                    out,
                    &json!({"id": answered.id.to_hex(), "accepted": accept,
                            "conversation": conversation.map(|g| json!({"id": g.id.to_hex(), "name": g.name})),
                            "synced": false}),
                )?;
            } else if let Some(g) = &answered.conversation {
                queued(
                    out,
                    &format!(
                        "match accepted: your conversation {:?} is ready, and its invite goes to \
                         your coordinator to pass on",
                        g.name
                    ),
                )?;
            } else if let Some(g) = &joined {
                writeln!(
                    out,
                    "accepted: you have joined {:?}; you are in once your volunteer's phone syncs",
                    g.name
                )?;
            } else {
                queued(
                    out,
                    if accept {
                        "offer accepted"
                    } else {
                        "offer declined"
                    },
                )?;
            }
        }
        CheckinCommand::Supervision(SupervisionAction::Send { text, json }) => {
            let id = c.supervision_note(&text)?;
            if json {
                print_json(out, &json!({"id": id.to_hex(), "synced": false}))?;
            } else {
                queued(out, "supervision note written")?;
            }
        }
        CheckinCommand::Supervision(SupervisionAction::List { group, json }) => {
            let g = c.find_group(&group)?.id;
            let notes = c.supervision_notes(&g)?;
            if json {
                print_json(out, &notes)?;
            } else {
                for n in &notes {
                    writeln!(out, "[{}] {}: {}", rfc3339(n.at), n.from, n.text)?;
                }
            }
        }
    }
    Ok(())
}

fn run_action(
    c: &mut Companion,
    action: CheckinAction,
    out: &mut impl Write,
) -> Result<(), Failure> {
    match action {
        CheckinAction::Plan {
            group,
            day,
            at,
            time_zone,
            every,
            start,
            json,
        } => {
            let g = c.find_group(&group)?.id;
            let plan = c.plan_checkins(
                &g,
                &PlanRequest {
                    day,
                    at,
                    time_zone,
                    every_weeks: every,
                    start,
                },
            )?;
            if json {
                print_json(
                    out,
                    &json!({"group": g.to_hex(), "plan": plan, "synced": false}),
                )?;
            } else {
                queued(out, &format!("check-ins planned {plan}"))?;
            }
        }
        CheckinAction::Record {
            group,
            outcome,
            note,
            date,
            json,
        } => {
            let outcome =
                parse_outcome(&outcome).map_err(|e| InputError::new("--outcome", e.reason))?;
            let g = c.find_group(&group)?.id;
            let r = c.record_checkin(&g, outcome, &note, date.as_deref())?;
            if json {
                print_json(out, &r)?;
            } else {
                writeln!(out, "recorded the check-in of {} as {}", r.date, r.outcome)?;
                if r.follow_up_alert.is_some() {
                    queued(out, "your debrief group's moderators are alerted")?;
                }
            }
        }
        CheckinAction::End { group, json } => {
            let g = c.find_group(&group)?.id;
            let id = c.end_checkins(&g)?;
            if json {
                print_json(out, &json!({"id": id.to_hex(), "synced": false}))?;
            } else {
                queued(out, "check-ins ended")?;
            }
        }
        CheckinAction::Mine { json } => {
            let mine = c.my_checkins()?;
            if json {
                print_json(out, &mine)?;
            } else if mine.is_empty() {
                writeln!(out, "no check-ins are planned with you")?;
            } else {
                for m in &mine {
                    let next = m.next_at.map(rfc3339).unwrap_or_else(|| "none".into());
                    writeln!(out, "with {}: {}; next {next}", m.volunteer, m.plan)?;
                }
            }
        }
        CheckinAction::Snooze { group, hours, json } => {
            if hours == 0 || hours > 672 {
                return Err(InputError::new("--hours", "1 to 672 (four weeks)").into());
            }
            let g = c.find_group(&group)?.id;
            let until = c.now_ms() + i64::from(hours) * 3_600_000;
            let date = c.snooze_checkin(&g, until)?;
            if json {
                print_json(
                    out,
                    &json!({"date": date, "until": rfc3339(until), "synced": false}),
                )?;
            } else {
                queued(
                    out,
                    &format!("the check-in of {date} is snoozed until {}", rfc3339(until)),
                )?;
            }
        }
        CheckinAction::ChangeVolunteer { group, json } => {
            let g = c.find_group(&group)?.id;
            let id = c.ask_for_another_volunteer(&g)?;
            if json {
                print_json(out, &json!({"id": id.to_hex(), "synced": false}))?;
            } else {
                queued(out, "your coordinators will arrange another volunteer")?;
            }
        }
        CheckinAction::Skip { group, json } => {
            let g = c.find_group(&group)?.id;
            let date = c.skip_checkin(&g)?;
            if json {
                print_json(out, &json!({"date": date, "synced": false}))?;
            } else {
                queued(out, &format!("the check-in of {date} is skipped"))?;
            }
        }
    }
    Ok(())
}
