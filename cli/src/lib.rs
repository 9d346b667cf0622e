//! `hearth`: the terminal client on the Hearth core. The binary (`main.rs`) only calls
//! [`main`]; the scenario tests in `tests/` build the same entry point into their own binary.
//!
//! A thin shell: it parses arguments, opens the profile's encrypted store with the secret from
//! the environment, calls one [`Companion`] operation and prints the result (text for people,
//! `--json` for scripts). Anything it reports as done has been committed to the store.
//!
//! Commands that reach the relay ([`relay`]) store their own change first and sync after: a
//! relay that cannot be reached never loses what was written, it only delays it.
//!
//! Exit codes: 0 success, 1 the operation failed (store, crypto, file system, relay
//! unreachable), 2 bad input or usage (the message says what to change).

mod checkins;
mod moderate;
mod plan;
mod relay;
mod safety;
mod secret;

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hearth_core::{
    Capacity, Companion, Error, GroupId, GroupInfo, InputError, MembersView, MessageId,
    MessageText, ProfileInfo, Reaction, Role, SortKey, StoreError, SyncReport, TimelineItem,
};
use relay::Relay;
use serde_json::json;

/// Most lines `send --stdin` takes at once; one transaction, so keep it bounded.
const MAX_STDIN_MESSAGES: usize = 10_000;

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: small closed peer-support groups for pregnancy and early parenthood",
    after_help = "The store is opened with HEARTH_KEY (64 hex characters, a raw 32-byte key) or \
                  HEARTH_PASSPHRASE (at least 8 characters). Set exactly one. HEARTH_RELAY=URL \
                  syncs through another relay for one run, without storing it."
)]
struct Cli {
    /// Profile directory. Default: $HEARTH_HOME, else the per-user data directory.
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create this device's profile and its encrypted store.
    Init {
        /// Pseudonym shown to peers (never a phone number or e-mail address).
        #[arg(long)]
        name: String,
        /// mother, volunteer or moderator.
        #[arg(long)]
        role: String,
        /// The relay to sync through, like http://relay.example:8080 (`hearth relay` changes it).
        #[arg(long, value_name = "URL")]
        relay: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show this profile.
    Whoami {
        #[arg(long)]
        json: bool,
    },
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// List the groups on this device.
    Groups {
        #[arg(long)]
        json: bool,
    },
    /// Send messages to a group: TEXT, or one message per line of standard input.
    Send {
        /// Group id or unique name.
        group: String,
        /// The message. Omit it and pass --stdin to read messages line by line.
        text: Option<String>,
        #[arg(long, conflicts_with = "text")]
        stdin: bool,
        /// A content warning shown before the message (like "pregnancy loss"); members who
        /// filter such topics see it blurred.
        #[arg(long, value_name = "TEXT", conflicts_with = "stdin")]
        warning: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show the newest messages of a group, oldest first.
    Read {
        group: String,
        /// How many messages (1–1000).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Show messages before this cursor (printed with the previous page).
        #[arg(long, value_name = "CURSOR")]
        before: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take your words with you: your own messages as a readable file (both sides of a
    /// two-person conversation), or the group's history as you see it as an Automerge
    /// document. Writes to standard output unless --out is given.
    Export {
        group: String,
        /// text or automerge.
        #[arg(long, default_value = "text")]
        format: String,
        /// Write here (replaced whole, never half-written) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Change the text of one of your messages.
    Edit {
        group: String,
        message: String,
        text: String,
    },
    /// Delete one of your messages; the group sees that a message was deleted.
    Delete { group: String, message: String },
    /// React to a message: hug, helpful, same-here, you-got-this, thank-you.
    React {
        group: String,
        message: String,
        reaction: String,
        /// Take the reaction back.
        #[arg(long)]
        remove: bool,
    },
    /// Show the relay this profile syncs through, or set it to URL.
    Relay {
        /// The relay's address, like http://relay.example:8080.
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Make a single-use invite code to a group (moderators only) and try to sync it out.
    Invite {
        group: String,
        /// What she will be in the group: mother, volunteer or moderator.
        #[arg(long, default_value = "mother")]
        role: String,
        /// How long the code works: minutes, hours or days, like 30m, 12h or 7d (at most 90d).
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        valid_for: String,
        #[arg(long)]
        json: bool,
    },
    /// Join a group with an invite code from one of its moderators.
    Join {
        /// The code as the moderator read it out.
        code: String,
        #[arg(long)]
        json: bool,
    },
    /// Send what waits on this device and fetch what is new, for every group.
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// List a group's members and, for moderators, who waits to be admitted.
    Members {
        group: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a member from a group (moderators only) and try to sync it out.
    Remove {
        group: String,
        /// Her pseudonym (unique in the group) or her member id (`hearth members`).
        member: String,
        #[arg(long)]
        json: bool,
    },
    /// Phone to phone: carry a group's news in a file when there is no connection.
    #[command(subcommand)]
    Bundle(BundleCommand),
    #[command(flatten)]
    Moderate(moderate::ModCommand),
    #[command(flatten)]
    Care(moderate::CareCommand),
    #[command(flatten)]
    Checkins(checkins::CheckinCommand),
    /// The on-device risk detector (needs no profile).
    #[command(subcommand)]
    Safety(safety::SafetyCommand),
    /// Rank volunteers for a mother (JSON on standard input; see docs/cli.md), with the reasons
    /// for each and for every volunteer left out; needs no profile. `match confirm` and
    /// `match introduce` carry a coordinator's chosen match to the volunteer and the mother.
    #[command(args_conflicts_with_subcommands = true)]
    Match {
        /// Print JSON (the only output format; accepted for symmetry with other commands).
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<checkins::MatchAction>,
    },
    /// Plan due-date cohorts (needs no profile).
    #[command(subcommand)]
    Cohorts(plan::CohortsCommand),
    /// The EPDS self-check: score, take, history, share.
    #[command(subcommand)]
    Epds(safety::EpdsCommand),
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Write the group's log and this device's unsent messages to a file.
    Export {
        group: String,
        /// Where to write the bundle; '-' for standard output.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Take in a bundle from another member's device; its messages go on at the next sync.
    Import {
        /// The bundle; '-' for standard input.
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group (moderators only). Prints its id.
    Create {
        #[arg(long)]
        name: String,
        /// Most members. Default 30; more needs --reason.
        #[arg(long)]
        capacity: Option<u32>,
        /// Why this group needs more than 30 members; recorded with the group.
        #[arg(long, value_name = "WHY")]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Start a one-to-one conversation (volunteers and moderators): a closed group of exactly
    /// two. Prints its id; invite the other person with `hearth invite`.
    Conversation {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

/// A failure and how the process should exit.
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) usage: bool,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let usage = matches!(
            e,
            Error::Input(_)
                | Error::UnknownGroup { .. }
                | Error::AmbiguousGroup { .. }
                | Error::UnknownMessage { .. }
                | Error::NotAllowed { .. }
                | Error::NotYourMessage { .. }
                | Error::MessageDeleted
                | Error::NotAMember
                | Error::JoinRefused { .. }
                | Error::RulesNotAccepted
                | Error::Muted { .. }
                | Error::SlowMode { .. }
        );
        let mut message = e.to_string();
        if let Error::Store(StoreError::NotFound { .. }) = e {
            message.push_str("; create a profile first with `hearth init --name NAME --role ROLE`");
        }
        Failure { message, usage }
    }
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Self {
        Failure::from(Error::from(e))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure {
            message: e.to_string(),
            usage: false,
        }
    }
}

/// Runs the `hearth` command line on this process's arguments, environment and stdio.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("hearth: {}", f.message);
            ExitCode::from(if f.usage { 2 } else { 1 })
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    // The planners and the detector store nothing: they need no profile or secret.
    let cli = match cli.command {
        Command::Safety(cmd) => {
            let mut out = std::io::stdout().lock();
            safety::run_safety(cmd, &mut out)?;
            return Ok(out.flush()?);
        }
        Command::Match { action: None, .. } => {
            let mut out = std::io::stdout().lock();
            plan::run_match(&mut out)?;
            return Ok(out.flush()?);
        }
        Command::Cohorts(cmd @ plan::CohortsCommand::Plan { .. }) => {
            let mut out = std::io::stdout().lock();
            plan::run_cohorts(cmd, &mut out)?;
            return Ok(out.flush()?);
        }
        command => Cli { command, ..cli },
    };
    // An empty HEARTH_HOME counts as unset, like the secret variables.
    let from_env = std::env::var_os("HEARTH_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let home = match cli.home.or(from_env) {
        Some(h) => h,
        None => dirs::data_dir()
            .map(|d| d.join("hearth"))
            .ok_or_else(|| Failure {
                message:
                    "no per-user data directory on this system; pass --home DIR or set HEARTH_HOME"
                        .into(),
                usage: true,
            })?,
    };
    let mut out = std::io::stdout().lock();
    // Scanning and scoring store nothing: they need no profile or secret.
    let command = match cli.command {
        Command::Safety(_)
        | Command::Match { action: None, .. }
        | Command::Cohorts(plan::CohortsCommand::Plan { .. }) => {
            unreachable!("handled before the profile's home is found")
        }
        Command::Match {
            action: Some(action),
            ..
        } => {
            checkins::run_match(action, &home, secret::from_env()?, &mut out)?;
            return Ok(out.flush()?);
        }
        Command::Cohorts(plan::CohortsCommand::Confirm { plan, json }) => {
            plan::run_confirm(plan, json, &home, secret::from_env()?, &mut out)?;
            return Ok(out.flush()?);
        }
        Command::Epds(cmd) => {
            safety::run_epds(cmd, &home, || Ok(secret::from_env()?), &mut out)?;
            return Ok(out.flush()?);
        }
        other => other,
    };
    let secret = secret::from_env()?;
    match command {
        Command::Init {
            name,
            role,
            relay,
            json,
        } => {
            let role: Role = hearth_core::identity::parse_role(&role)?;
            // Checked before the profile exists, so a bad address leaves nothing behind.
            let relay = relay.map(|r| relay::check_url(&r, "--relay")).transpose()?;
            let mut c = Companion::create(&home, secret, &name, role)?;
            if let Some(url) = &relay {
                c.set_relay(url)?;
            }
            let p = c.profile();
            let relay = c.relay();
            c.close()?;
            if json {
                print_json(&mut out, &profile_json(&p, relay.as_deref()))?;
            } else {
                writeln!(out, "created {} ({}) in {}", p.name, p.role, home.display())?;
                match relay {
                    Some(url) => writeln!(out, "syncs through {url}")?,
                    None => writeln!(out, "no relay yet: {}", relay::HOW_TO_SET)?,
                }
            }
        }
        Command::Whoami { json } => {
            let c = Companion::open(&home, secret)?;
            let p = c.profile();
            let relay = c.relay();
            if json {
                print_json(&mut out, &profile_json(&p, relay.as_deref()))?;
            } else {
                writeln!(out, "{} ({}), device {}", p.name, p.role, p.device.short())?;
                match relay {
                    Some(url) => writeln!(out, "relay: {url}")?,
                    None => writeln!(out, "relay: none; {}", relay::HOW_TO_SET)?,
                }
            }
        }
        Command::Group(GroupCommand::Create {
            name,
            capacity,
            reason,
            json,
        }) => {
            let capacity = Capacity::new(capacity, reason.as_deref()).map_err(|mut e| {
                if capacity.is_some_and(|n| n > Capacity::RESEARCH_MAX) && reason.is_none() {
                    e.reason.push_str(" with --reason WHY");
                }
                e
            })?;
            let mut c = Companion::open(&home, secret)?;
            let g = c.create_group(&name, capacity)?;
            if json {
                print_json(&mut out, &group_json(&g))?;
            } else {
                writeln!(out, "{}", g.id)?;
            }
        }
        Command::Group(GroupCommand::Conversation { name, json }) => {
            let mut c = Companion::open(&home, secret)?;
            let g = c.start_conversation(&name)?;
            if json {
                print_json(&mut out, &group_json(&g))?;
            } else {
                writeln!(out, "{}", g.id)?;
            }
        }
        Command::Groups { json } => {
            let c = Companion::open(&home, secret)?;
            let groups = c.groups()?;
            if json {
                print_json(&mut out, &groups.iter().map(group_json).collect::<Vec<_>>())?;
            } else if groups.is_empty() {
                writeln!(out, "no groups yet")?;
            } else {
                for g in groups {
                    writeln!(
                        out,
                        "{}  {}  ({} of {} members)",
                        g.id, g.name, g.member_count, g.capacity
                    )?;
                }
            }
        }
        Command::Send {
            group,
            text,
            stdin,
            warning,
            json,
        } => {
            let texts =
                match (text, stdin) {
                    (Some(t), false) => vec![t],
                    (None, true) => read_stdin_messages()?,
                    _ => return Err(Failure {
                        message:
                            "send needs the message text, or --stdin to read one message per line"
                                .into(),
                        usage: true,
                    }),
                };
            let mut c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let ids = match &warning {
                Some(w) => vec![c.send_with_warning(&g.id, refs[0], w)?],
                None => c.send_many(&g.id, &refs)?,
            };
            if json {
                print_json(
                    &mut out,
                    &ids.iter().map(MessageId::to_hex).collect::<Vec<_>>(),
                )?;
            } else {
                for id in ids {
                    writeln!(out, "{id}")?;
                }
            }
        }
        Command::Export {
            group,
            format,
            out: file,
        } => {
            let format = format.trim().to_ascii_lowercase();
            if format == "automerge" && file.is_none() && std::io::stdout().is_terminal() {
                return Err(Failure {
                    message: "an Automerge export is binary: pass --out FILE, or redirect \
                              standard output"
                        .into(),
                    usage: true,
                });
            }
            let c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            let bytes = match format.as_str() {
                "text" => c.export_text(&g.id)?.into_bytes(),
                "automerge" => c.export_automerge(&g.id)?,
                other => {
                    return Err(InputError::new(
                        "format",
                        format!("{other:?} is not an export format; use text or automerge"),
                    )
                    .into())
                }
            };
            match file {
                Some(path) => write_file_whole(&path, &bytes)?,
                None => out.write_all(&bytes)?,
            }
        }
        Command::Read {
            group,
            limit,
            before,
            json,
        } => {
            if !(1..=1000).contains(&limit) {
                return Err(InputError::new(
                    "--limit",
                    format!("must be between 1 and 1000; got {limit}"),
                )
                .into());
            }
            let before = before.map(|b| parse_cursor(&b)).transpose()?;
            let c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            let page = c.timeline(&g.id, before, limit)?;
            if json {
                print_json(
                    &mut out,
                    &page.items.iter().map(item_json).collect::<Vec<_>>(),
                )?;
            } else {
                if let Some(older) = page.older {
                    writeln!(
                        out,
                        "(older messages: hearth read {:?} --before {})",
                        group,
                        older.to_hex()
                    )?;
                }
                for item in &page.items {
                    writeln!(out, "{}", item_line(item))?;
                }
                if page.items.is_empty() {
                    writeln!(out, "no messages yet")?;
                }
            }
        }
        Command::Edit {
            group,
            message,
            text,
        } => {
            let mut c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            c.edit(&g.id, &MessageId::parse(&message)?, &text)?;
        }
        Command::Delete { group, message } => {
            let mut c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            c.delete(&g.id, &MessageId::parse(&message)?)?;
        }
        Command::React {
            group,
            message,
            reaction,
            remove,
        } => {
            let reaction = Reaction::parse(&reaction)?;
            let mut c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            c.react(&g.id, &MessageId::parse(&message)?, reaction, !remove)?;
        }
        Command::Relay { url, json } => {
            let mut c = Companion::open(&home, secret)?;
            if let Some(url) = url {
                c.set_relay(&url)?;
            }
            let current = Relay::configured(&c)?;
            if json {
                print_json(
                    &mut out,
                    &json!({
                        "relay": current.as_ref().map(|r| &r.url),
                        "stored": c.relay(),
                        "from_env": current.as_ref().is_some_and(|r| r.from_env),
                    }),
                )?;
            } else {
                match &current {
                    Some(r) if r.from_env => writeln!(
                        out,
                        "{} (from {}; the profile's own: {})",
                        r.url,
                        relay::RELAY_VAR,
                        c.relay().as_deref().unwrap_or("none")
                    )?,
                    Some(r) => writeln!(out, "{}", r.url)?,
                    None => writeln!(out, "no relay configured; {}", relay::HOW_TO_SET)?,
                }
            }
        }
        Command::Invite {
            group,
            role,
            valid_for,
            json,
        } => {
            let role = hearth_core::identity::parse_role(&role)
                .map_err(|e| InputError::new("--role", e.reason))?;
            let valid_for_ms = parse_valid_for(&valid_for)?;
            let mut c = Companion::open(&home, secret)?;
            let relay = Relay::configured(&c)?;
            let g = c.find_group(&group)?;
            let invite = c.invite(&g.id, role, valid_for_ms)?;
            let synced = sync_on_the_side(
                &mut c,
                relay.as_ref(),
                "the invite is saved on this device and goes out with the next `hearth sync`",
            )?;
            if json {
                print_json(
                    &mut out,
                    &json!({
                        "code": invite.code,
                        "role": invite.role.as_str(),
                        "expires_at": rfc3339(invite.expires_at),
                        "group": g.id.to_hex(),
                        "synced": synced,
                    }),
                )?;
            } else {
                writeln!(out, "{}", invite.code)?;
                writeln!(
                    out,
                    "single-use invite to {:?} for a {}, valid until {}",
                    g.name,
                    invite.role,
                    local_time(invite.expires_at)
                )?;
            }
        }
        Command::Join { code, json } => {
            let mut c = Companion::open(&home, secret)?;
            let relay = Relay::required(&c, "join a group")?;
            let mut t = relay.transport();
            let g = c.join(&code, &mut t).map_err(|e| {
                relay.failure(
                    e,
                    &t,
                    "nothing was stored on this device; run `hearth join` again when the relay \
                     can be reached",
                )
            })?;
            let synced = sync_on_the_side(
                &mut c,
                Some(&relay),
                "you are registered; run `hearth sync` later to see whether you were admitted",
            )?;
            let g = group_by_id(&c, &g.id)?;
            let view = c.members(&g.id)?;
            if json {
                print_json(
                    &mut out,
                    &json!({
                        "group": group_json(&g),
                        "standing": view.standing,
                        "synced": synced,
                    }),
                )?;
            } else if view.standing == "member" {
                writeln!(out, "you are in {:?} ({})", g.name, g.id)?;
            } else {
                writeln!(
                    out,
                    "registered for {:?} ({}); you wait for a moderator to admit you. Her \
                     device does that when it next syncs; then `hearth sync` brings you in.",
                    g.name, g.id
                )?;
            }
        }
        Command::Sync { json } => {
            let mut c = Companion::open(&home, secret)?;
            let relay = Relay::required(&c, "sync")?;
            let before = standings(&c)?;
            let mut t = relay.transport();
            let report = c.sync(&mut t, &relay::options()).map_err(|e| {
                relay.failure(
                    e,
                    &t,
                    "nothing was lost: what you wrote stays on this device as pending and goes \
                     out with the next `hearth sync`",
                )
            })?;
            let changes = standing_changes(&before, &standings(&c)?);
            if json {
                let mut value = serde_json::to_value(&report).map_err(|e| Failure {
                    message: e.to_string(),
                    usage: false,
                })?;
                value["relay"] = json!(relay.url);
                print_json(&mut out, &value)?;
            } else {
                write_sync_summary(&mut out, &relay, &report, &changes)?;
            }
        }
        Command::Members { group, json } => {
            let c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            let view = c.members(&g.id)?;
            if json {
                print_json(&mut out, &members_json(&g, &view))?;
            } else {
                write_members(&mut out, &g, &view)?;
            }
        }
        Command::Remove {
            group,
            member,
            json,
        } => {
            let mut c = Companion::open(&home, secret)?;
            let relay = Relay::configured(&c)?;
            let g = c.find_group(&group)?;
            let m = c.remove(&g.id, &member)?;
            let synced = sync_on_the_side(
                &mut c,
                relay.as_ref(),
                "the removal is saved on this device and goes out with the next `hearth sync`",
            )?;
            // Done only once the relay's log has it and this device has applied it.
            let removed = !c
                .members(&g.id)?
                .members
                .iter()
                .any(|x| x.device == m.device);
            if json {
                print_json(
                    &mut out,
                    &json!({
                        "id": m.device.to_hex(),
                        "name": m.name,
                        "role": m.role.as_str(),
                        "removed": removed,
                        "synced": synced,
                    }),
                )?;
            } else if removed {
                writeln!(
                    out,
                    "removed {} ({}) from {:?}",
                    display_name(&m.name),
                    m.role,
                    g.name
                )?;
            } else {
                writeln!(
                    out,
                    "{} ({}) will be removed from {:?} when the relay accepts it, at the next sync",
                    display_name(&m.name),
                    m.role,
                    g.name
                )?;
            }
        }
        Command::Bundle(BundleCommand::Export { group, out: file }) => {
            let to_stdout = file.as_os_str() == "-";
            if to_stdout && std::io::stdout().is_terminal() {
                return Err(Failure {
                    message: "a bundle is binary: pass --out FILE, or redirect standard output"
                        .into(),
                    usage: true,
                });
            }
            let mut c = Companion::open(&home, secret)?;
            let g = c.find_group(&group)?;
            let bytes = c.export_bundle(&g.id)?;
            if to_stdout {
                out.write_all(&bytes)?;
            } else {
                write_file_whole(&file, &bytes)?;
                writeln!(
                    out,
                    "wrote {} bytes for {:?} to {}; import it on another member's device with \
                     `hearth bundle import FILE`",
                    bytes.len(),
                    g.name,
                    file.display()
                )?;
            }
        }
        Command::Bundle(BundleCommand::Import { file, json }) => {
            let bytes = if file.as_os_str() == "-" {
                let mut b = Vec::new();
                std::io::stdin().lock().read_to_end(&mut b)?;
                b
            } else {
                std::fs::read(&file).map_err(|e| Failure {
                    message: format!("bundle {}: cannot read it: {e}", file.display()),
                    usage: e.kind() == std::io::ErrorKind::NotFound,
                })?
            };
            let mut c = Companion::open(&home, secret)?;
            let report = c.import_bundle(&bytes).map_err(|e| match e {
                Error::UnknownGroup { given } => Failure {
                    message: format!(
                        "the bundle is for group {given}, which this device is not in; join it \
                         first with an invite code"
                    ),
                    usage: true,
                },
                other => other.into(),
            })?;
            if json {
                print_json(&mut out, &report)?;
            } else {
                writeln!(
                    out,
                    "imported {} envelope(s), {} message(s) new or changed; what came in goes on \
                     to the relay with your next sync",
                    report.envelopes_accepted, report.messages_updated
                )?;
                for n in &report.notes {
                    writeln!(out, "note: {n}")?;
                }
            }
        }
        Command::Moderate(cmd) => moderate::run(cmd, &home, secret, &mut out)?,
        Command::Care(cmd) => moderate::run_care(cmd, &home, secret, &mut out)?,
        Command::Checkins(cmd) => checkins::run(cmd, &home, secret, &mut out)?,
        Command::Safety(_) | Command::Epds(_) | Command::Match { .. } | Command::Cohorts(_) => {
            unreachable!("handled before the secret is read")
        }
    }
    out.flush()?;
    Ok(())
}

/// After a change that is already stored (an invite, a removal, a registration), one sync so
/// it reaches the relay at once. Failing is not an error: standard error says what happened
/// and `kept` (what waits for the next sync). Returns whether the sync went through.
fn sync_on_the_side(c: &mut Companion, relay: Option<&Relay>, kept: &str) -> Result<bool, Failure> {
    let Some(relay) = relay else {
        eprintln!(
            "hearth: no relay configured; {kept}, once you {}",
            relay::HOW_TO_SET
        );
        return Ok(false);
    };
    let mut t = relay.transport();
    match c.sync(&mut t, &relay::quick_options()) {
        Ok(report) => {
            for n in &report.notes {
                eprintln!("hearth: note: {n}");
            }
            Ok(true)
        }
        Err(e) => {
            eprintln!("hearth: {}", relay.failure(e, &t, kept).message);
            Ok(false)
        }
    }
}

/// Each group's standing on this device ("member", "waiting", "removed"), to tell after a sync
/// what changed for her.
fn standings(c: &Companion) -> Result<Vec<(GroupInfo, &'static str)>, Failure> {
    let mut out = Vec::new();
    for g in c.groups()? {
        let standing = c.members(&g.id)?.standing;
        out.push((g, standing));
    }
    Ok(out)
}

fn standing_changes(
    before: &[(GroupInfo, &'static str)],
    after: &[(GroupInfo, &'static str)],
) -> Vec<String> {
    after
        .iter()
        .filter_map(|(g, now)| {
            let was = before.iter().find(|(b, _)| b.id == g.id).map(|(_, s)| *s);
            match (was, *now) {
                (Some("waiting"), "member") => Some(format!("you were admitted to {:?}", g.name)),
                (Some(w), "removed") if w != "removed" => {
                    Some(format!("a moderator removed you from {:?}", g.name))
                }
                _ => None,
            }
        })
        .collect()
}

fn write_sync_summary(
    out: &mut impl Write,
    relay: &Relay,
    r: &SyncReport,
    changes: &[String],
) -> Result<(), Failure> {
    writeln!(
        out,
        "synced with {}: {} round trip(s), {} sent, {} received",
        relay.url,
        r.round_trips,
        size(r.bytes_sent),
        size(r.bytes_received)
    )?;
    if r.messages_updated > 0 {
        writeln!(out, "{} message(s) new or changed", r.messages_updated)?;
    }
    for c in changes {
        writeln!(out, "{c}")?;
    }
    if r.pending > 0 {
        writeln!(
            out,
            "{} change(s) of yours still wait for the relay; they go out with the next sync",
            r.pending
        )?;
    } else {
        writeln!(out, "everything you wrote has reached the relay")?;
    }
    if !r.complete {
        writeln!(out, "more to fetch: run `hearth sync` again")?;
    }
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

fn size(bytes: u64) -> String {
    if bytes < 10 * 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn display_name(name: &str) -> &str {
    if name.is_empty() {
        "(name not known yet)"
    } else {
        name
    }
}

fn members_json(g: &GroupInfo, v: &MembersView) -> serde_json::Value {
    json!({
        "group": g.id.to_hex(),
        "name": g.name,
        "standing": v.standing,
        "capacity": v.capacity,
        "members": v.members.iter().map(|m| json!({
            "id": m.device.to_hex(),
            "name": m.name,
            "role": m.role.as_str(),
            "since_epoch": m.since_epoch,
            "you": m.is_me,
        })).collect::<Vec<_>>(),
        "waiting": v.waiting.iter().map(|w| json!({
            "id": w.device.to_hex(),
            "name": w.name,
            "role": w.role.as_str(),
        })).collect::<Vec<_>>(),
        "notes": v.notes,
    })
}

fn write_members(out: &mut impl Write, g: &GroupInfo, v: &MembersView) -> Result<(), Failure> {
    writeln!(
        out,
        "{}: {} of {} members",
        g.name,
        v.members.len(),
        v.capacity
    )?;
    match v.standing {
        "waiting" => writeln!(
            out,
            "you wait to be admitted: a moderator's device admits you when it next syncs"
        )?,
        "removed" => writeln!(out, "you were removed from this group")?,
        _ => {}
    }
    let width = v
        .members
        .iter()
        .map(|m| display_name(&m.name).chars().count())
        .chain(v.waiting.iter().map(|w| {
            w.name
                .as_deref()
                .map_or(0, |n| display_name(n).chars().count())
        }))
        .max()
        .unwrap_or(0);
    for m in &v.members {
        let role = if m.is_me {
            format!("{}, you", m.role)
        } else {
            m.role.to_string()
        };
        writeln!(
            out,
            "  {:width$}  {:16}  {}",
            display_name(&m.name),
            role,
            m.device.to_hex()
        )?;
    }
    if !v.waiting.is_empty() {
        writeln!(out, "waiting to be admitted (your next sync admits them):")?;
        for w in &v.waiting {
            writeln!(
                out,
                "  {:width$}  {:16}  {}",
                display_name(w.name.as_deref().unwrap_or("")),
                w.role.as_str(),
                w.device.to_hex()
            )?;
        }
    }
    for n in &v.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

fn group_by_id(c: &Companion, id: &GroupId) -> Result<GroupInfo, Failure> {
    Ok(c.find_group(&id.to_hex())?)
}

/// `--valid-for`: a whole number of minutes, hours or days, at most 90 days.
fn parse_valid_for(s: &str) -> Result<i64, InputError> {
    parse_duration(s, "--valid-for", "an invite can be valid")
}

/// A whole number of minutes, hours or days, from 1 minute to 90 days, as milliseconds.
/// `field` names the option in errors; `what` says what lasts ("a mute can last").
pub(crate) fn parse_duration(s: &str, field: &str, what: &str) -> Result<i64, InputError> {
    const MAX_DAYS: i64 = 90;
    let bad = || {
        InputError::new(
            field,
            format!(
                "{s:?} is not a duration; use a whole number with m (minutes), h (hours) or d \
                 (days), like 30m, 12h or 7d"
            ),
        )
    };
    let s = s.trim();
    let unit_ms: i64 = match s.chars().last() {
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => return Err(bad()),
    };
    let n: i64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
    let ms = n.checked_mul(unit_ms).ok_or_else(bad)?;
    if ms <= 0 || ms > MAX_DAYS * 86_400_000 {
        return Err(InputError::new(
            field,
            format!("{what} from 1 minute up to {MAX_DAYS} days; got {s}"),
        ));
    }
    Ok(ms)
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, then a rename.
fn write_file_whole(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure {
        message: format!("{}: cannot write the bundle: {e}", path.display()),
        usage: false,
    };
    let name = path.file_name().ok_or_else(|| Failure {
        message: format!("--out {}: not a file name", path.display()),
        usage: true,
    })?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".partial");
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

/// Reads one message per line, checking every line before anything is stored so a bad line
/// names itself and nothing is half-sent.
fn read_stdin_messages() -> Result<Vec<String>, Failure> {
    let mut texts = Vec::new();
    for (index, line) in std::io::stdin().lock().split(b'\n').enumerate() {
        let number = index + 1;
        let mut bytes = line?;
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let line = String::from_utf8(bytes)
            .map_err(|_| InputError::new(format!("line {number}"), "is not valid UTF-8 text"))?;
        MessageText::parse(&line)
            .map_err(|e| InputError::new(format!("line {number}"), e.reason))?;
        texts.push(line);
        if texts.len() > MAX_STDIN_MESSAGES {
            return Err(InputError::new(
                "stdin",
                format!(
                    "at most {MAX_STDIN_MESSAGES} messages can be sent at once; split the input"
                ),
            )
            .into());
        }
    }
    if texts.is_empty() {
        return Err(InputError::new("stdin", "no messages: standard input was empty").into());
    }
    Ok(texts)
}

fn parse_cursor(s: &str) -> Result<SortKey, InputError> {
    SortKey::parse(s)
        .ok_or_else(|| InputError::new("--before", "not a cursor printed by `hearth read`"))
}

fn profile_json(p: &ProfileInfo, relay: Option<&str>) -> serde_json::Value {
    json!({"name": p.name, "role": p.role.as_str(), "device": p.device.to_hex(), "relay": relay})
}

fn group_json(g: &GroupInfo) -> serde_json::Value {
    json!({
        "id": g.id.to_hex(),
        "name": g.name,
        "conversation": g.conversation,
        "capacity": g.capacity,
        "capacity_reason": g.capacity_reason,
        "members": g.member_count,
    })
}

/// The device clock's time, shown as such (RFC 3339, UTC, milliseconds).
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("invalid time {ms}"))
}

fn item_json(i: &TimelineItem) -> serde_json::Value {
    json!({
        "id": i.id.to_hex(),
        "author": i.author_name,
        "author_device": i.author.to_hex(),
        "text": i.text,
        "sent_at": rfc3339(i.sent_at),
        "state": i.state.as_str(),
        "edited": i.edited,
        "deleted": i.deleted,
        "reactions": i.reactions.iter().map(|r| json!({
            "reaction": r.reaction.key(),
            "count": r.count,
            "mine": r.mine,
        })).collect::<Vec<_>>(),
        "cursor": i.sort_key.to_hex(),
        "hidden": i.hidden,
        "held": i.held,
        "moderation_note": i.moderation_note,
        "correction": i.correction,
        "correction_by": i.correction_by,
        "warning": i.warning,
        "filter": i.filter,
    })
}

/// The device clock's time in the local zone, for people.
pub(crate) fn local_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn item_line(i: &TimelineItem) -> String {
    let when = local_time(i.sent_at);
    let text = if i.deleted {
        "(message deleted)".to_string()
    } else if i.hidden && i.text.is_empty() {
        "(removed by a moderator)".to_string()
    } else if let Some(f) = &i.filter {
        format!(
            "({} by your filters: {}; `read --json` shows the text)",
            if f.mode == hearth_core::filters::FilterMode::Hide {
                "hidden"
            } else {
                "blurred"
            },
            f.reasons.join(", ")
        )
    } else if let Some(w) = &i.warning {
        format!("[content warning: {w}] {}", i.text)
    } else {
        i.text.clone()
    };
    let mut notes = Vec::new();
    if let Some(n) = &i.moderation_note {
        notes.push(n.clone());
    } else if i.hidden {
        notes.push("hidden".to_string());
    }
    if i.edited {
        notes.push("edited".to_string());
    }
    for r in &i.reactions {
        notes.push(format!("{} {}", r.reaction.label(), r.count));
    }
    notes.push(i.state.as_str().to_string());
    let mut line = format!(
        "[{when}] {}: {text}  ({}) {}",
        i.author_name,
        notes.join(", "),
        i.id
    );
    if let (Some(c), Some(by)) = (&i.correction, &i.correction_by) {
        line.push_str(&format!("\n    moderator's note from {by}: {c}"));
    }
    line
}

pub(crate) fn print_json(
    out: &mut impl Write,
    value: &impl serde::Serialize,
) -> Result<(), Failure> {
    serde_json::to_writer(&mut *out, value).map_err(|e| Failure {
        message: e.to_string(),
        usage: false,
    })?;
    writeln!(out)?;
    Ok(())
}
