//! `hearth safety scan` and `hearth epds …`: the on-device safety engine on the command line.
//! Scanning and scoring need no profile (nothing is stored); taking a self-check keeps it in
//! the profile's encrypted store, and sharing one is the mother's explicit choice each time.

use std::io::{BufRead, Write};
use std::path::Path;

use clap::Subcommand;
use hearth_core::{Companion, InputError, StoreSecret};
use hearth_safety::detect::Detector;
use hearth_safety::epds::{self, Answers, Content, Cutoffs};
use serde_json::json;

use crate::{local_time, print_json, Failure};

/// Longest line `safety scan` reads, in bytes (a message is at most 8,192 bytes).
const MAX_SCAN_LINE: usize = 64 * 1024;

#[derive(Subcommand)]
pub(crate) enum SafetyCommand {
    /// Read one message per line on standard input; print one JSON object per line:
    /// {"level": "none"|"concern"|"urgent", "categories": […]}.
    Scan {
        /// Also print the red flags, topics and matched phrases.
        #[arg(long)]
        json: bool,
        /// A programme's lexicon file to add (JSON; see docs/safety.md).
        #[arg(long, value_name = "FILE")]
        lexicon: Vec<std::path::PathBuf>,
    },
}

/// Runs the commands that need no profile.
pub(crate) fn run_safety(cmd: SafetyCommand, out: &mut impl Write) -> Result<(), Failure> {
    let SafetyCommand::Scan { json, lexicon } = cmd;
    let mut detector = Detector::builtin();
    for path in &lexicon {
        let text = read_file(path, "lexicon")?;
        let lex = hearth_safety::detect::Lexicon::from_json(&text).map_err(|e| Failure {
            message: format!("lexicon {}: {e}", path.display()),
            usage: true,
        })?;
        detector = detector.with(lex).map_err(|e| Failure {
            message: format!("lexicon {}: {e}", path.display()),
            usage: true,
        })?;
    }
    let stdin = std::io::stdin().lock();
    for (i, line) in stdin.split(b'\n').enumerate() {
        let line = line?;
        if line.len() > MAX_SCAN_LINE {
            return Err(InputError::new(
                format!("line {}", i + 1),
                format!("{} bytes; at most {MAX_SCAN_LINE}", line.len()),
            )
            .into());
        }
        let text = String::from_utf8(line)
            .map_err(|_| InputError::new(format!("line {}", i + 1), "is not UTF-8 text"))?;
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let a = detector.scan(text);
        if json {
            print_json(out, &a)?;
        } else {
            print_json(out, &json!({"level": a.level, "categories": a.categories}))?;
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum EpdsCommand {
    /// Score a completed form: ten options, 0 = top option of each item, like 0,1,2,3,0,1,2,3,0,1.
    Score {
        answers: String,
        /// A programme's content file, for its cut-offs.
        #[arg(long, value_name = "FILE")]
        content: Option<std::path::PathBuf>,
    },
    /// Print the questions (the programme's content, or the marked sample).
    Questions {
        #[arg(long, default_value = "en")]
        language: String,
        #[arg(long)]
        json: bool,
    },
    /// Score a form and keep it in this device's private history.
    Take {
        answers: String,
        #[arg(long, default_value = "en")]
        language: String,
        #[arg(long)]
        json: bool,
    },
    /// Your self-checks, oldest first (kept on this device only).
    History {
        #[arg(long)]
        json: bool,
    },
    /// Share one result (total and flags, not your answers) with one moderator. Running this
    /// is your consent for this result and this moderator only.
    Share {
        /// The check's number (from `hearth epds history`).
        check: i64,
        group: String,
        /// The moderator's pseudonym or member id.
        moderator: String,
    },
    /// Install the programme's licensed self-check content (a JSON file).
    Install { file: std::path::PathBuf },
}

fn read_file(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure {
        message: format!("{what} {}: cannot read it: {e}", path.display()),
        usage: e.kind() == std::io::ErrorKind::NotFound,
    })
}

fn answers(s: &str) -> Result<Answers, Failure> {
    Answers::parse(s).map_err(|e| InputError::new("answers", e.to_string()).into())
}

/// `epds score` needs no profile; the others open it.
pub(crate) fn run_epds(
    cmd: EpdsCommand,
    home: &Path,
    secret: impl FnOnce() -> Result<StoreSecret, Failure>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    if let EpdsCommand::Score {
        answers: a,
        content,
    } = &cmd
    {
        let cutoffs = match content {
            Some(path) => Content::from_json(&read_file(path, "content file")?)
                .map_err(|e| InputError::new("--content", e.to_string()))?
                .cutoffs(),
            None => Cutoffs::default(),
        };
        let s = epds::score(&answers(a)?, cutoffs);
        return print_json(
            out,
            &json!({"total": s.total, "item10_positive": s.item10_positive, "flags": s.flags}),
        );
    }
    let mut c = Companion::open(home, secret()?)?;
    match cmd {
        EpdsCommand::Score { .. } => unreachable!("handled above"),
        EpdsCommand::Questions { language, json } => {
            let content = c.epds_content(&language)?;
            if json {
                print_json(out, &content)?;
            } else {
                if let Some(n) = content.notice() {
                    writeln!(out, "NOTE: {n}")?;
                }
                writeln!(out, "{}\n{}", content.title(), content.intro())?;
                for (i, item) in content.items().iter().enumerate() {
                    writeln!(out, "{}. {}", i + 1, item.text())?;
                    for (j, o) in item.options().iter().enumerate() {
                        writeln!(out, "   {j}) {o}")?;
                    }
                }
            }
        }
        EpdsCommand::Take {
            answers: a,
            language,
            json,
        } => {
            let check = c.take_epds(&answers(&a)?, &language)?;
            if json {
                print_json(out, &check)?;
            } else {
                writeln!(
                    out,
                    "self-check {} kept on this device: total {} of 30",
                    check.id, check.score.total
                )?;
                if check.score.safety_pathway() {
                    writeln!(
                        out,
                        "You said you have had thoughts of harming yourself. You deserve support \
                         now: see who to call below, and consider telling your moderator \
                         (`hearth alert GROUP`)."
                    )?;
                    let card = c.help_card()?;
                    crate::moderate::write_card(out, &card)?;
                } else if !check.score.flags.is_empty() {
                    writeln!(
                        out,
                        "Your answers suggest you may be struggling. Talking to your midwife, \
                         health visitor or GP can help."
                    )?;
                }
            }
        }
        EpdsCommand::History { json } => {
            let list = c.epds_history()?;
            if json {
                print_json(out, &list)?;
            } else if list.is_empty() {
                writeln!(out, "no self-checks yet")?;
            } else {
                for h in &list {
                    writeln!(
                        out,
                        "{}  [{}] total {} of 30{}",
                        h.id,
                        local_time(h.taken_at),
                        h.score.total,
                        if h.shared_with.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; shared with {}",
                                h.shared_with
                                    .iter()
                                    .map(|(n, _)| n.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    )?;
                }
            }
        }
        EpdsCommand::Share {
            check,
            group,
            moderator,
        } => {
            let g = c.find_group(&group)?.id;
            c.share_epds(check, &g, &moderator)?;
            writeln!(
                out,
                "shared with {moderator} only; it goes out with your next `hearth sync`"
            )?;
        }
        EpdsCommand::Install { file } => {
            c.install_epds_content(&read_file(&file, "content file")?)?;
            writeln!(out, "self-check content installed")?;
        }
    }
    Ok(())
}
