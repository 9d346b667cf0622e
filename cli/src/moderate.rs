//! The moderator's toolkit and the group's rules on the command line. Every action is saved on
//! this device first and goes out with the next `hearth sync`, like a message.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use hearth_core::filters::FilterMode;
use hearth_core::moderation::actions::{ActivityRow, AuditItem, ModerationView};
use hearth_core::{Companion, GroupId, InputError, MessageId, StoreSecret};
use serde_json::json;

use crate::{local_time, parse_duration, print_json, rfc3339, Failure};

#[derive(Subcommand)]
pub(crate) enum ModCommand {
    /// Hide a message from members (moderators). Its author sees the reason.
    Hide {
        group: String,
        message: String,
        /// Why; the author sees it and it goes in the audit log.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a hidden message again (moderators).
    Restore {
        group: String,
        message: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Attach a moderator's correction under a message, visible to all (moderators). An empty
    /// TEXT withdraws it.
    Correct {
        group: String,
        message: String,
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Pin a resource: a curated answer and where it comes from (moderators).
    Pin {
        group: String,
        /// The answer itself.
        text: String,
        #[arg(long)]
        title: String,
        /// Where it comes from, like "NHS: Your baby's movements".
        #[arg(long)]
        source: String,
        #[arg(long)]
        json: bool,
    },
    /// Unpin a resource by its id (or the start of it) or its title (moderators).
    Unpin {
        group: String,
        pin: String,
        #[arg(long)]
        json: bool,
    },
    /// Pause a member's posting for a while (moderators).
    Mute {
        group: String,
        /// Her pseudonym or member id.
        member: String,
        /// How long: 30m, 12h, 7d (at most 90d).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a muted member post again (moderators).
    Unmute {
        group: String,
        member: String,
        #[arg(long)]
        json: bool,
    },
    /// Hold posts for review until a moderator approves them (moderators).
    Hold {
        group: String,
        /// Hold every post in the group: on or off.
        #[arg(long, value_name = "on|off")]
        all: String,
        /// Also hold posts by members in their first DAYS days (0: off).
        #[arg(long, value_name = "DAYS", default_value_t = 0)]
        new_members: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show a held post to the group (moderators).
    Approve {
        group: String,
        message: String,
        #[arg(long)]
        json: bool,
    },
    /// Keep a held post from the group; its author sees the reason (moderators).
    Reject {
        group: String,
        message: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Slow mode: members post at most once per SECONDS (0: off) (moderators).
    SlowMode {
        group: String,
        seconds: u32,
        /// A longer interval while no moderator is on duty.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        off_duty: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show the group's rules; set them (moderators) or accept them (members).
    Rules {
        group: String,
        #[arg(long, value_name = "TEXT", conflicts_with = "accept")]
        set: Option<String>,
        #[arg(long)]
        accept: bool,
        #[arg(long)]
        json: bool,
    },
    /// Go on or off duty in a group (moderators).
    Duty {
        group: String,
        #[arg(value_name = "on|off")]
        state: String,
        #[arg(long)]
        json: bool,
    },
    /// Plan the group's ending (moderators): read-only from the date, with a farewell period
    /// before it; members are reminded four weeks and one week before. --cancel withdraws it.
    Ending {
        group: String,
        /// The day it ends (YYYY-MM-DD, at 00:00 UTC) or an RFC 3339 time.
        #[arg(long, value_name = "DATE", required_unless_present = "cancel")]
        on: Option<String>,
        /// Days of farewell before the end (0–28).
        #[arg(long, default_value_t = 7)]
        farewell_days: u32,
        /// What comes next, offered to every member (a follow-on group, a volunteer).
        #[arg(long, default_value = "")]
        next: String,
        #[arg(long, conflicts_with = "on")]
        cancel: bool,
        #[arg(long)]
        json: bool,
    },
    /// Every moderator action: who, what, when and why (moderators).
    Audit {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// Members' last post and posts in the last 7 and 28 days, quietest first (moderators).
    Activity {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// The group's rules, pins, review and slow-mode settings, who is on duty, and whether
    /// you may post.
    Moderation {
        group: String,
        #[arg(long)]
        json: bool,
    },
}

fn on_off(s: &str, field: &str) -> Result<bool, InputError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        other => Err(InputError::new(
            field,
            format!("{other:?}: expected on or off"),
        )),
    }
}

fn message(s: &str) -> Result<MessageId, InputError> {
    MessageId::parse(s).map_err(|e| InputError::new("MESSAGE_ID", e.reason))
}

/// Prints what a record-writing action did.
fn done(
    out: &mut impl Write,
    json: bool,
    group: &GroupId,
    action: &str,
    id: &hearth_core::moderation::RecordId,
    said: &str,
) -> Result<(), Failure> {
    if json {
        print_json(
            out,
            &json!({"id": id.to_hex(), "group": group.to_hex(), "action": action, "synced": false}),
        )
    } else {
        writeln!(
            out,
            "{said}; saved on this device, it reaches the group with your next `hearth sync`"
        )?;
        Ok(())
    }
}

pub(crate) fn run(
    cmd: ModCommand,
    home: &Path,
    secret: StoreSecret,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut c = Companion::open(home, secret)?;
    let gid = |c: &Companion, g: &str| -> Result<GroupId, Failure> { Ok(c.find_group(g)?.id) };
    match cmd {
        ModCommand::Hide {
            group,
            message: m,
            reason,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.hide(&g, &message(&m)?, &reason)?;
            done(out, json, &g, "hide", &id, "hidden")?;
        }
        ModCommand::Restore {
            group,
            message: m,
            reason,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.restore(&g, &message(&m)?, &reason)?;
            done(out, json, &g, "restore", &id, "restored")?;
        }
        ModCommand::Correct {
            group,
            message: m,
            text,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.correct(&g, &message(&m)?, &text)?;
            let said = if text.trim().is_empty() {
                "correction withdrawn"
            } else {
                "correction attached"
            };
            done(out, json, &g, "correct", &id, said)?;
        }
        ModCommand::Pin {
            group,
            text,
            title,
            source,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.pin(&g, &title, &text, &source)?;
            done(out, json, &g, "pin", &id, &format!("pinned (id {id})"))?;
        }
        ModCommand::Unpin { group, pin, json } => {
            let g = gid(&c, &group)?;
            let id = c.unpin(&g, &pin)?;
            done(out, json, &g, "unpin", &id, "unpinned")?;
        }
        ModCommand::Mute {
            group,
            member,
            duration,
            reason,
            json,
        } => {
            let ms = parse_duration(&duration, "--for", "a mute can last")?;
            let g = gid(&c, &group)?;
            let id = c.mute(&g, &member, ms, &reason)?;
            done(
                out,
                json,
                &g,
                "mute",
                &id,
                &format!("{member} muted for {duration}"),
            )?;
        }
        ModCommand::Unmute {
            group,
            member,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.unmute(&g, &member)?;
            done(
                out,
                json,
                &g,
                "unmute",
                &id,
                &format!("{member} may post again"),
            )?;
        }
        ModCommand::Hold {
            group,
            all,
            new_members,
            json,
        } => {
            let all = on_off(&all, "--all")?;
            let g = gid(&c, &group)?;
            let id = c.set_hold(&g, all, new_members)?;
            let said = match (all, new_members) {
                (true, _) => "every post now waits for a moderator's approval".to_string(),
                (false, 0) => "posts no longer wait for approval".to_string(),
                (false, n) => format!("posts by members in their first {n} days wait for approval"),
            };
            done(out, json, &g, "hold", &id, &said)?;
        }
        ModCommand::Approve {
            group,
            message: m,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.approve(&g, &message(&m)?)?;
            done(out, json, &g, "approve", &id, "approved")?;
        }
        ModCommand::Reject {
            group,
            message: m,
            reason,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.reject(&g, &message(&m)?, &reason)?;
            done(out, json, &g, "reject", &id, "rejected")?;
        }
        ModCommand::SlowMode {
            group,
            seconds,
            off_duty,
            json,
        } => {
            let g = gid(&c, &group)?;
            let id = c.set_slow_mode(&g, seconds, off_duty)?;
            let said = if seconds == 0 && off_duty == 0 {
                "slow mode off".to_string()
            } else {
                format!(
                    "slow mode: one post per {seconds} s ({off_duty} s while nobody is on duty)"
                )
            };
            done(out, json, &g, "slow_mode", &id, &said)?;
        }
        ModCommand::Rules {
            group,
            set,
            accept,
            json,
        } => {
            let g = gid(&c, &group)?;
            if let Some(text) = set {
                let id = c.set_rules(&g, &text)?;
                done(
                    out,
                    json,
                    &g,
                    "rules",
                    &id,
                    "rules set; members accept them before posting",
                )?;
            } else if accept {
                let id = c.accept_rules(&g)?;
                done(out, json, &g, "accept", &id, "rules accepted; you can post")?;
            } else {
                let v = c.moderation(&g)?;
                if json {
                    print_json(
                        out,
                        &json!({
                            "rules": v.rules.as_ref().map(|r| &r.text),
                            "set_by": v.rules.as_ref().map(|r| &r.set_by),
                            "must_accept": v.must_accept_rules,
                        }),
                    )?;
                } else {
                    match &v.rules {
                        Some(r) => {
                            writeln!(out, "{}\n(set by {})", r.text, r.set_by)?;
                            if v.must_accept_rules {
                                writeln!(
                                    out,
                                    "accept them to post: hearth rules {group:?} --accept"
                                )?;
                            }
                        }
                        None => writeln!(out, "this group has no rules yet")?,
                    }
                }
            }
        }
        ModCommand::Ending {
            group,
            on,
            farewell_days,
            next,
            cancel,
            json,
        } => {
            let g = gid(&c, &group)?;
            let (id, what) = match on {
                Some(date) if !cancel => {
                    let ends_at = parse_day_or_time(&date)?;
                    let id = c.plan_ending(&g, ends_at, farewell_days, &next)?;
                    (id, format!("ends {}", rfc3339(ends_at)))
                }
                _ => (c.cancel_ending(&g)?, "planned ending cancelled".to_string()),
            };
            done(out, json, &g, "ending", &id, &what)?;
        }
        ModCommand::Duty { group, state, json } => {
            let on = on_off(&state, "on|off")?;
            let g = gid(&c, &group)?;
            let id = c.set_duty(&g, on)?;
            done(
                out,
                json,
                &g,
                "duty",
                &id,
                if on { "on duty" } else { "off duty" },
            )?;
        }
        ModCommand::Audit { group, json } => {
            let g = gid(&c, &group)?;
            let items = c.audit_log(&g)?;
            if json {
                print_json(out, &items.iter().map(audit_json).collect::<Vec<_>>())?;
            } else if items.is_empty() {
                writeln!(out, "no moderator actions yet")?;
            } else {
                for i in &items {
                    writeln!(out, "{}", audit_line(i))?;
                }
            }
        }
        ModCommand::Activity { group, json } => {
            let g = gid(&c, &group)?;
            let rows = c.activity(&g)?;
            if json {
                print_json(out, &rows.iter().map(activity_json).collect::<Vec<_>>())?;
            } else {
                for r in &rows {
                    writeln!(out, "{}", activity_line(r))?;
                }
            }
        }
        ModCommand::Moderation { group, json } => {
            let g = gid(&c, &group)?;
            let v = c.moderation(&g)?;
            if json {
                print_json(out, &v)?;
            } else {
                write_view(out, &v)?;
            }
        }
    }
    Ok(())
}

fn audit_json(i: &AuditItem) -> serde_json::Value {
    json!({
        "id": i.id,
        "action": i.action,
        "by": i.by,
        "by_device": i.by_device,
        "at": rfc3339(i.at),
        "why": i.why,
        "target": i.target,
        "detail": i.detail,
        "carried": i.carried,
    })
}

fn audit_line(i: &AuditItem) -> String {
    let mut line = format!("[{}] {} {} {}", local_time(i.at), i.by, i.action, i.target);
    if !i.detail.is_empty() {
        line.push_str(&format!(": {}", i.detail));
    }
    if !i.why.is_empty() {
        line.push_str(&format!(" (why: {})", i.why));
    }
    line
}

fn activity_json(r: &ActivityRow) -> serde_json::Value {
    json!({
        "member": r.name,
        "device": r.device,
        "role": r.role.as_str(),
        "admitted_at": rfc3339(r.admitted_at),
        "last_post_at": r.last_post_at.map(rfc3339),
        "posts_7d": r.posts_7d,
        "posts_28d": r.posts_28d,
    })
}

fn activity_line(r: &ActivityRow) -> String {
    format!(
        "{} ({}): {} posts in 7 days, {} in 28; last post {}",
        r.name,
        r.role.as_str(),
        r.posts_7d,
        r.posts_28d,
        r.last_post_at
            .map(local_time)
            .unwrap_or_else(|| "never".into())
    )
}

/// A day (`YYYY-MM-DD`, taken as 00:00 UTC) or an RFC 3339 time, in milliseconds.
fn parse_day_or_time(s: &str) -> Result<i64, Failure> {
    let s = s.trim();
    if let Ok(day) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(day
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            InputError::new(
                "--on",
                format!("{s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"),
            )
            .into()
        })
}

fn write_view(out: &mut impl Write, v: &ModerationView) -> Result<(), Failure> {
    if let Some(e) = &v.ending {
        match &e.reminder {
            Some(r) => writeln!(out, "{r}")?,
            None => writeln!(out, "this group is planned to end {}", rfc3339(e.ends_at))?,
        }
    }
    if let Some(help) = &v.help_now {
        writeln!(
            out,
            "No moderator is on duty right now. If you need help now:"
        )?;
        write_help(out, help)?;
    } else {
        writeln!(out, "on duty: {}", v.on_duty.join(", "))?;
    }
    match &v.rules {
        Some(r) => writeln!(
            out,
            "rules ({}): {}",
            if v.must_accept_rules {
                "not yet accepted"
            } else {
                "accepted"
            },
            r.text
        )?,
        None => writeln!(out, "rules: none yet")?,
    }
    for p in &v.pins {
        writeln!(
            out,
            "pinned: {} — {} (source: {})",
            p.title, p.body, p.source
        )?;
    }
    if v.slow_mode_secs > 0 {
        writeln!(out, "slow mode: one post per {} s", v.slow_mode_secs)?;
    }
    if v.holding_all {
        writeln!(out, "every post waits for a moderator's approval")?;
    } else if v.new_member_days > 0 {
        writeln!(
            out,
            "new members' posts wait for approval for their first {} days",
            v.new_member_days
        )?;
    }
    if let Some(until) = v.muted_until {
        writeln!(out, "your posting is paused until {}", local_time(until))?;
    }
    if let Some(at) = v.next_post_at {
        writeln!(out, "you can post again at {}", local_time(at))?;
    }
    Ok(())
}

/// Reports, the review queue, nudges, safety and the self-check on the command line.
#[derive(Subcommand)]
pub(crate) enum CareCommand {
    /// Report a message to the group's moderators (only they can read it).
    Report {
        group: String,
        message: String,
        /// misinformation, distress, abuse, risk, spam or other.
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        json: bool,
    },
    /// Your reports in a group and where each stands.
    Reports {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// The review queue (moderators): open reports, safety alerts and shared self-checks,
    /// most severe and oldest first.
    Queue {
        /// Include resolved items.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Take a queue item in hand (moderators); the reporter sees it acknowledged.
    Acknowledge {
        /// The item's id, or its first characters (at least 4).
        item: String,
    },
    /// Close a queue item with what was done (moderators); the reporter sees the outcome.
    Resolve { item: String, outcome: String },
    /// A private message to one member (moderators). TEXT may be a template's name; {name}
    /// becomes her pseudonym.
    Nudge {
        group: String,
        member: String,
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Private messages between you and the group's moderators.
    Nudges {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// Your nudge templates; --set NAME TEXT adds or replaces one, --remove NAME drops it.
    Templates {
        #[arg(long, num_args = 2, value_names = ["NAME", "TEXT"])]
        set: Option<Vec<String>>,
        #[arg(long, value_name = "NAME", conflicts_with = "set")]
        remove: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Tell your moderators you need help now (sealed to them). Shows the help card too.
    Alert {
        group: String,
        /// urgent or concern.
        #[arg(long, default_value = "urgent")]
        level: String,
        /// What you want them to read (optional).
        #[arg(long, default_value = "")]
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Check a draft before sending, on this device only: a worrying draft shows a
    /// supportive word and where to get help; nothing is sent unless you choose `hearth alert`.
    CheckDraft {
        group: String,
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Your content filters: topics to blur or hide (loss, birth_trauma, low_mood,
    /// medical_detail) and messages the detector finds distressing. --set TOPIC=MODE, MODE
    /// being show, blur or hide; repeatable.
    Filters {
        #[arg(long, value_name = "TOPIC=MODE")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Where to get help now, for your region (works offline).
    HelpCard {
        /// Install the programme's help-card file first (JSON; see docs/safety.md).
        #[arg(long, value_name = "FILE")]
        install: Option<std::path::PathBuf>,
        /// Set your region first, like GB or ES.
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run_care(
    cmd: CareCommand,
    home: &Path,
    secret: StoreSecret,
    out: &mut impl Write,
) -> Result<(), Failure> {
    use hearth_core::notes::ReportReason;
    let mut c = Companion::open(home, secret)?;
    match cmd {
        CareCommand::Report {
            group,
            message: m,
            reason,
            note,
            json,
        } => {
            let reason =
                ReportReason::parse(&reason).map_err(|e| InputError::new("--reason", e.reason))?;
            let g = c.find_group(&group)?.id;
            let id = c.report(&g, &message(&m)?, reason, &note)?;
            if json {
                print_json(
                    out,
                    &json!({"id": id.to_hex(), "group": g.to_hex(), "message_id": m, "reason": reason.as_str(), "state": "open"}),
                )?;
            } else {
                writeln!(
                    out,
                    "reported to the moderators (id {id}); it goes out with your next `hearth sync`"
                )?;
            }
        }
        CareCommand::Reports { group, json } => {
            let g = c.find_group(&group)?.id;
            let list = c.my_reports(&g)?;
            if json {
                print_json(out, &list)?;
            } else if list.is_empty() {
                writeln!(out, "you have not reported anything in this group")?;
            } else {
                for r in &list {
                    let mut line = format!(
                        "[{}] {} report on message {}: {}",
                        local_time(r.sent_at),
                        r.reason.as_str(),
                        &r.message_id[..8],
                        r.state
                    );
                    if !r.outcome.is_empty() {
                        line.push_str(&format!(" — {}", r.outcome));
                    }
                    if r.pending {
                        line.push_str(" (not sent yet)");
                    }
                    writeln!(out, "{line}")?;
                }
            }
        }
        CareCommand::Queue { all, json } => {
            let items = c.queue(all)?;
            if json {
                print_json(
                    out,
                    &items
                        .iter()
                        .map(|i| {
                            json!({
                                "id": i.id,
                                "group": i.group,
                                "group_name": i.group_name,
                                "kind": i.kind,
                                "message_id": i.message_id,
                                "reason": i.reason,
                                "state": i.state,
                                "severity": i.severity,
                                "raised_at": rfc3339(i.raised_at),
                                "raised_by": i.raised_by,
                                "note": i.note,
                                "outcome": i.outcome,
                                "context": i.context,
                                "escalation": i.escalation,
                            })
                        })
                        .collect::<Vec<_>>(),
                )?;
            } else if items.is_empty() {
                writeln!(out, "nothing waiting for review")?;
            } else {
                for i in &items {
                    writeln!(
                        out,
                        "{} [{}] {} {} in {} from {}: {} ({})",
                        &i.id[..8],
                        local_time(i.raised_at),
                        i.state,
                        i.kind,
                        i.group_name,
                        i.raised_by,
                        i.reason,
                        i.note
                    )?;
                    for line in &i.context {
                        writeln!(
                            out,
                            "    {} {}: {}",
                            if line.reported { ">" } else { " " },
                            line.author,
                            line.text
                        )?;
                    }
                    if let Some(e) = &i.escalation {
                        writeln!(out, "    now: {}", e.action)?;
                    }
                }
            }
        }
        CareCommand::Acknowledge { item } => {
            c.acknowledge(&item)?;
            writeln!(
                out,
                "acknowledged; it goes out with your next `hearth sync`"
            )?;
        }
        CareCommand::Resolve { item, outcome } => {
            c.resolve(&item, &outcome)?;
            writeln!(out, "resolved; it goes out with your next `hearth sync`")?;
        }
        CareCommand::Nudge {
            group,
            member,
            text,
            json,
        } => {
            let g = c.find_group(&group)?.id;
            let text = c
                .nudge_templates()?
                .into_iter()
                .find(|t| t.name == text)
                .map(|t| t.text)
                .unwrap_or(text);
            let id = c.nudge(&g, &member, &text)?;
            if json {
                print_json(out, &json!({"id": id.to_hex(), "group": g.to_hex()}))?;
            } else {
                writeln!(
                    out,
                    "nudge sealed to {member}; it goes out with your next `hearth sync`"
                )?;
            }
        }
        CareCommand::Nudges { group, json } => {
            let g = c.find_group(&group)?.id;
            let list = c.nudges(&g)?;
            if json {
                print_json(out, &list)?;
            } else {
                for n in &list {
                    writeln!(
                        out,
                        "[{}] {} to {}: {}",
                        local_time(n.at),
                        n.from,
                        n.to,
                        n.text
                    )?;
                }
            }
        }
        CareCommand::Templates { set, remove, json } => {
            if let Some(v) = set {
                c.set_nudge_template(&v[0], &v[1])?;
            }
            if let Some(name) = remove {
                c.set_nudge_template(&name, "")?;
            }
            let list = c.nudge_templates()?;
            if json {
                print_json(out, &list)?;
            } else {
                for t in &list {
                    writeln!(out, "{}: {}", t.name, t.text)?;
                }
            }
        }
        CareCommand::Alert {
            group,
            level,
            text,
            json,
        } => {
            use hearth_core::notes::Severity;
            let severity = match level.trim().to_ascii_lowercase().as_str() {
                "urgent" => Severity::Urgent,
                "concern" => Severity::Concern,
                other => {
                    return Err(InputError::new(
                        "--level",
                        format!("{other:?}: expected urgent or concern"),
                    )
                    .into())
                }
            };
            let g = c.find_group(&group)?.id;
            let card = c.help_card()?;
            let id = c.raise_alert(&g, severity, &[], &text)?;
            if json {
                print_json(
                    out,
                    &json!({"id": id.to_hex(), "group": g.to_hex(), "help_card": card}),
                )?;
            } else {
                writeln!(
                    out,
                    "your moderators will be alerted at your next `hearth sync` (id {id})."
                )?;
                write_card(out, &card)?;
            }
        }
        CareCommand::CheckDraft { group, text, json } => {
            let g = c.find_group(&group)?;
            let check = c.check_draft(&g.id, &text)?;
            if json {
                print_json(out, &check)?;
            } else {
                match &check.help {
                    None => writeln!(out, "nothing worrying found")?,
                    Some(help) => {
                        writeln!(out, "{}", help.message)?;
                        write_help(out, help)?;
                        if check.can_alert {
                            writeln!(
                                out,
                                "To tell your moderators privately: hearth alert {} --level {}",
                                g.name,
                                if check.level == hearth_safety::detect::Level::Urgent {
                                    "urgent"
                                } else {
                                    "concern"
                                }
                            )?;
                        }
                    }
                }
            }
        }
        CareCommand::Filters { set, json } => {
            let mut filters = c.content_filters()?;
            for s in &set {
                let (topic, mode) = s.split_once('=').ok_or_else(|| {
                    InputError::new("set", format!("{s:?}: expected TOPIC=MODE, like loss=blur"))
                })?;
                filters = c.set_content_filter(topic, FilterMode::parse(mode)?)?;
            }
            if json {
                print_json(out, &filters)?;
            } else {
                for (topic, mode) in &filters.topics {
                    writeln!(out, "{topic}: {}", mode.as_str())?;
                }
                writeln!(out, "distressing: {}", filters.distressing.as_str())?;
            }
        }
        CareCommand::HelpCard {
            install,
            region,
            json,
        } => {
            if let Some(path) = install {
                let text = std::fs::read_to_string(&path).map_err(|e| Failure {
                    message: format!("cannot read the help-card file {}: {e}", path.display()),
                    usage: true,
                })?;
                c.install_help_cards(&text)?;
            }
            if let Some(r) = region {
                c.set_help_region(&r)?;
            }
            let card = c.help_card()?;
            let notice = c.help_cards()?.notice().map(str::to_string);
            if json {
                print_json(out, &json!({"card": card, "notice": notice}))?;
            } else {
                write_card(out, &card)?;
                if let Some(n) = notice {
                    writeln!(out, "({n})")?;
                }
            }
        }
    }
    Ok(())
}

/// Where to get help now for one situation, as lines.
pub(crate) fn write_help(
    out: &mut impl Write,
    help: &hearth_core::notes::safety::HelpNow,
) -> Result<(), Failure> {
    writeln!(
        out,
        "If you or your baby are in danger now, call {}.",
        help.emergency
    )?;
    if let Some(t) = &help.maternity_triage {
        writeln!(out, "{t}")?;
    }
    for l in &help.lines {
        writeln!(out, "{}: {} ({})", l.name, l.number, l.hours)?;
    }
    if let Some(n) = &help.note {
        writeln!(out, "({n})")?;
    }
    if let Some(n) = &help.notice {
        writeln!(out, "({n})")?;
    }
    Ok(())
}

pub(crate) fn write_card(
    out: &mut impl Write,
    card: &hearth_core::notes::HelpCard,
) -> Result<(), Failure> {
    writeln!(
        out,
        "If you or your baby are in danger now, call {}.",
        card.emergency
    )?;
    for l in &card.crisis {
        writeln!(out, "{}: {} ({})", l.name, l.number, l.hours)?;
    }
    writeln!(
        out,
        "Worrying symptoms in pregnancy: {}",
        card.maternity_triage
    )?;
    for l in &card.maternity_lines {
        writeln!(out, "{}: {} ({})", l.name, l.number, l.hours)?;
    }
    for l in &card.domestic_abuse {
        writeln!(out, "{}: {} ({})", l.name, l.number, l.hours)?;
    }
    if let Some(n) = &card.note {
        writeln!(out, "({n})")?;
    }
    Ok(())
}
