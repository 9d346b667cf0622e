//! `hearth match` and `hearth cohorts plan`: the coordinator's planners on the command line.
//! Both read one JSON document on standard input and print one on standard output; they need
//! no profile and store nothing. Schemas: `docs/cli.md`.

use std::io::{Read, Write};

use clap::Subcommand;

use crate::Failure;

/// Longest input document, in bytes: a programme's whole waiting list fits many times over.
const MAX_INPUT: u64 = 8 * 1024 * 1024;

#[derive(Subcommand)]
pub(crate) enum CohortsCommand {
    /// Propose groups from mothers waiting (JSON on standard input; see docs/cli.md): due dates
    /// within a window, one shared language, sizes near the target; every decision explained.
    Plan {
        /// Print JSON (the only output format; accepted for symmetry with other commands).
        #[arg(long)]
        json: bool,
    },
    /// Confirm a plan (moderators): create its groups and one mother's invite per member, for
    /// you to pass on. Reads the plan `cohorts plan` printed (standard input, or --plan FILE).
    /// Everything is checked first; a bad plan creates nothing.
    Confirm {
        #[arg(long, value_name = "FILE")]
        plan: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

fn read_stdin(what: &str) -> Result<String, Failure> {
    let mut text = String::new();
    let n = std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_string(&mut text)
        .map_err(|e| Failure {
            message: format!("{what}: standard input is not UTF-8 text ({e})"),
            usage: true,
        })?;
    if n as u64 > MAX_INPUT {
        return Err(Failure {
            message: format!("{what}: more than {MAX_INPUT} bytes on standard input"),
            usage: true,
        });
    }
    Ok(text)
}

fn care_failure(what: &str, e: hearth_care::Error) -> Failure {
    Failure {
        message: format!("{what}: {e}"),
        usage: true,
    }
}

/// `hearth match`: ranked volunteers for a mother, with reasons.
pub(crate) fn run_match(out: &mut impl Write) -> Result<(), Failure> {
    let input = read_stdin("match")?;
    let now = chrono::Utc::now();
    let result =
        hearth_care::matching::match_json(&input, now).map_err(|e| care_failure("match", e))?;
    writeln!(out, "{result}")?;
    Ok(())
}

pub(crate) fn run_cohorts(cmd: CohortsCommand, out: &mut impl Write) -> Result<(), Failure> {
    let CohortsCommand::Plan { json: _ } = cmd else {
        unreachable!("cohorts confirm needs a profile and runs through run_confirm")
    };
    let input = read_stdin("cohorts plan")?;
    let plan =
        hearth_care::cohorts::plan_json(&input).map_err(|e| care_failure("cohorts plan", e))?;
    writeln!(out, "{plan}")?;
    Ok(())
}

/// `hearth cohorts confirm`: the plan's groups and invites, on this coordinator's profile.
pub(crate) fn run_confirm(
    plan: Option<std::path::PathBuf>,
    json: bool,
    home: &std::path::Path,
    secret: hearth_core::StoreSecret,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let input = match plan {
        Some(path) => std::fs::read_to_string(&path).map_err(|e| Failure {
            message: format!("cohorts confirm: cannot read {}: {e}", path.display()),
            usage: true,
        })?,
        None => read_stdin("cohorts confirm")?,
    };
    let plan: hearth_care::cohorts::Plan = serde_json::from_str(&input).map_err(|e| Failure {
        message: format!("cohorts confirm: not a plan from `hearth cohorts plan` ({e})"),
        usage: true,
    })?;
    let mut c = hearth_core::Companion::open(home, secret)?;
    let confirmed = c.confirm_cohorts(&plan)?;
    if json {
        crate::print_json(out, &confirmed)?;
    } else {
        for g in &confirmed {
            writeln!(out, "{} ({} invites)  {}", g.name, g.invites.len(), g.group)?;
            for i in &g.invites {
                writeln!(out, "  {}: {}", i.mother, i.code)?;
            }
        }
        writeln!(
            out,
            "the groups and invites reach the relay with your next `hearth sync`; each invite is single-use and valid for 14 days"
        )?;
    }
    Ok(())
}
