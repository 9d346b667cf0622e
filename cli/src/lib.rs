//! `hearth`: the terminal client on the Hearth core. The binary (`main.rs`) only calls
//! [`main`]; the scenario tests in `tests/` build the same entry point into their own binary.
//!
//! A thin shell: it parses arguments, opens the profile's encrypted store with the secret from
//! the environment, calls one [`Companion`] operation and prints the result (text for people,
//! `--json` for scripts). Anything it reports as done has been committed to the store.
//!
//! Exit codes: 0 success, 1 the operation failed (store, crypto, file system), 2 bad input or
//! usage (the message says what to change).

mod secret;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hearth_core::{
    Capacity, Companion, Error, GroupInfo, InputError, MessageId, MessageText, ProfileInfo,
    Reaction, Role, SortKey, StoreError, TimelineItem,
};
use serde_json::json;

/// Most lines `send --stdin` takes at once; one transaction, so keep it bounded.
const MAX_STDIN_MESSAGES: usize = 10_000;

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: small closed peer-support groups for pregnancy and early parenthood",
    after_help = "The store is opened with HEARTH_KEY (64 hex characters, a raw 32-byte key) or \
                  HEARTH_PASSPHRASE (at least 8 characters). Set exactly one."
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
}

/// A failure and how the process should exit.
struct Failure {
    message: String,
    usage: bool,
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
    let secret = secret::from_env()?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Init { name, role, json } => {
            let role: Role = hearth_core::identity::parse_role(&role)?;
            let c = Companion::create(&home, secret, &name, role)?;
            let p = c.profile();
            c.close()?;
            if json {
                print_json(&mut out, &profile_json(&p))?;
            } else {
                writeln!(out, "created {} ({}) in {}", p.name, p.role, home.display())?;
            }
        }
        Command::Whoami { json } => {
            let c = Companion::open(&home, secret)?;
            let p = c.profile();
            if json {
                print_json(&mut out, &profile_json(&p))?;
            } else {
                writeln!(out, "{} ({}), device {}", p.name, p.role, p.device.short())?;
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
            let ids = c.send_many(&g.id, &refs)?;
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
    }
    out.flush()?;
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

fn profile_json(p: &ProfileInfo) -> serde_json::Value {
    json!({"name": p.name, "role": p.role.as_str(), "device": p.device.to_hex()})
}

fn group_json(g: &GroupInfo) -> serde_json::Value {
    json!({
        "id": g.id.to_hex(),
        "name": g.name,
        "capacity": g.capacity,
        "capacity_reason": g.capacity_reason,
        "members": g.member_count,
    })
}

/// The device clock's time, shown as such (RFC 3339, UTC, milliseconds).
fn rfc3339(ms: i64) -> String {
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
    })
}

fn item_line(i: &TimelineItem) -> String {
    let when = chrono::DateTime::from_timestamp_millis(i.sent_at)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let text = if i.deleted {
        "(message deleted)".to_string()
    } else {
        i.text.clone()
    };
    let mut notes = Vec::new();
    if i.edited {
        notes.push("edited".to_string());
    }
    for r in &i.reactions {
        notes.push(format!("{} {}", r.reaction.label(), r.count));
    }
    notes.push(i.state.as_str().to_string());
    format!(
        "[{when}] {}: {text}  ({}) {}",
        i.author_name,
        notes.join(", "),
        i.id
    )
}

fn print_json(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), Failure> {
    serde_json::to_writer(&mut *out, value).map_err(|e| Failure {
        message: e.to_string(),
        usage: false,
    })?;
    writeln!(out)?;
    Ok(())
}
