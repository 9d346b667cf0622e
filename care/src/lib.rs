//! Hearth care planning: the pure, deterministic rules behind one-to-one volunteer support and
//! due-date cohorts. Nothing here reads a clock, a file or the network; every function that
//! needs "now" takes it, and the same inputs give the same output on every device, in any input
//! order (outputs never depend on hash order; ties break by id).
//!
//! - [`matching`]: ranks volunteers for a mother (language, lived experience, background,
//!   interests, availability across time zones, caseload) and says why, and why not.
//! - [`schedule`]: recurring check-ins kept at the mother's local time across DST changes, their
//!   states (due, overdue, snoozed, skipped, done) and a volunteer's due list.
//! - [`cohorts`]: groups waiting mothers by due date and shared language, within size limits,
//!   explaining every group and every mother left out.
//!
//! Bad input is an [`Error`] naming the field by its JSON path (`volunteers[2].cap`), whether it
//! came from JSON ([`matching::match_json`], [`cohorts::plan_json`]) or was built in code.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

pub mod cohorts;
mod json;
pub mod matching;
pub mod schedule;

/// Bad input to a planner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not JSON at all.
    #[error("not valid JSON: {detail}")]
    Json {
        /// The parser's message, with line and column.
        detail: String,
    },
    /// A bad or missing value.
    #[error("{field}: {reason}")]
    Invalid {
        /// JSON path of the bad field, such as `mothers[2].due_date` (`input` for the whole
        /// document).
        field: String,
        /// What was found and what was expected.
        reason: String,
    },
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// `at.name`, or `name` at the top level.
pub(crate) fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

/// How free-text terms (languages, experiences, interests) compare: trimmed, case-insensitive.
pub(crate) fn norm(term: &str) -> String {
    term.trim().to_lowercase()
}

/// An id must have a visible character.
pub(crate) fn check_id(field: String, id: &str) -> Result<(), Error> {
    if id.trim().is_empty() {
        return Err(invalid(field, "empty"));
    }
    Ok(())
}

/// Optional text, if given, must not be blank.
pub(crate) fn check_text(field: String, text: &Option<String>) -> Result<(), Error> {
    match text {
        Some(t) if t.trim().is_empty() => Err(invalid(field, "blank; leave it out instead")),
        _ => Ok(()),
    }
}

/// A list of terms: no blank entry and no repeat (compared as [`norm`] does); `required` lists
/// must have at least one.
pub(crate) fn check_terms(field: String, terms: &[String], required: bool) -> Result<(), Error> {
    if required && terms.is_empty() {
        return Err(invalid(field, "empty; list at least one"));
    }
    for (i, term) in terms.iter().enumerate() {
        if term.trim().is_empty() {
            return Err(invalid(format!("{field}[{i}]"), "blank"));
        }
        if let Some(first) = terms[..i].iter().position(|t| norm(t) == norm(term)) {
            return Err(invalid(
                format!("{field}[{i}]"),
                format!("{term:?} repeats {field}[{first}]"),
            ));
        }
    }
    Ok(())
}

/// The instant a wall-clock time in `tz` names.
///
/// - A time skipped by a spring-forward change becomes the first instant after the gap: the
///   instant the clocks jump (01:30 on London's spring-forward day is 02:00 BST, 01:00 UTC).
/// - A time that happens twice at a fall-back change is the earlier of the two (01:30 on
///   London's fall-back day is 01:30 BST, 00:30 UTC).
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => end_of_gap(tz, local),
    }
}

/// The first instant whose wall-clock time in `tz` is at or after `local`, a time inside a gap.
/// Binary search over whole seconds: wall-clock time rises with UTC time across the 52 hours
/// searched (offsets lie within −12h..+14h, and no zone changes its clocks twice in two days).
fn end_of_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let wall =
        |secs: i64| DateTime::from_timestamp(secs, 0).map(|t| t.with_timezone(&tz).naive_local());
    let naive = local.and_utc().timestamp();
    // wall(lo) < local <= wall(hi) throughout.
    let (mut lo, mut hi) = (naive - 26 * 3600, naive + 26 * 3600);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match wall(mid) {
            Some(w) if w < local => lo = mid,
            _ => hi = mid,
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .expect("valid test date")
    }

    #[test]
    fn a_skipped_time_moves_to_the_end_of_the_gap() {
        // London springs forward at 01:00 UTC on 2026-03-29.
        let t = local_to_utc(chrono_tz::Europe::London, at(2026, 3, 29, 1, 30));
        assert_eq!(t.naive_utc(), at(2026, 3, 29, 1, 0));
        // New York springs forward at 07:00 UTC on 2026-03-08 (02:00 EST).
        let t = local_to_utc(chrono_tz::America::New_York, at(2026, 3, 8, 2, 15));
        assert_eq!(t.naive_utc(), at(2026, 3, 8, 7, 0));
    }

    #[test]
    fn a_repeated_time_takes_the_earlier_instant() {
        let t = local_to_utc(chrono_tz::Europe::London, at(2026, 10, 25, 1, 30));
        assert_eq!(t.naive_utc(), at(2026, 10, 25, 0, 30));
        let t = local_to_utc(chrono_tz::America::New_York, at(2026, 11, 1, 1, 30));
        assert_eq!(t.naive_utc(), at(2026, 11, 1, 5, 30));
    }

    #[test]
    fn terms_reject_blanks_and_repeats_by_path() {
        let terms = vec!["Somali".to_owned(), " somali ".to_owned()];
        let err = check_terms("mother.languages".into(), &terms, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mother.languages[1]: \" somali \" repeats mother.languages[0]"
        );
        let err = check_terms("languages".into(), &[], true).unwrap_err();
        assert_eq!(err.to_string(), "languages: empty; list at least one");
    }
}
