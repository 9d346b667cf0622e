//! Matching a mother with a peer volunteer: who can take her, who fits her best, and why.
//!
//! One-to-one peer support works better when the volunteer shares the mother's language and
//! background and has lived what she is living. [`rank`] scores every volunteer who can take her
//! and gives each score as reasons a coordinator can read; every volunteer who cannot is listed
//! with why not, so nobody disappears from the decision without a trace.
//!
//! Hard rules (a volunteer failing any is excluded, never ranked):
//! - she has not asked not to be matched with this volunteer again (she need not say why);
//! - the volunteer is on duty;
//! - the volunteer's caseload is below her cap;
//! - they share a language.
//!
//! Score, in points (experiences she asked for weigh most):
//!
//! | what | points |
//! |---|---|
//! | each experience she asked for that the volunteer has lived | 30 |
//! | … or, not lived, that the volunteer is trained for | 15 |
//! | the volunteer speaks her first language (otherwise another of hers) | 20 (10) |
//! | same cultural background | 10 |
//! | a first-time mother, and a volunteer who was one (`first_time_parent`) | 8 |
//! | each shared interest, up to 5 | 3 |
//! | each half hour a week their free times overlap, up to 10 hours | 1 |
//!
//! Ranking is by score, then by the lower share of the cap in use (spreading the load), then by
//! volunteer id, so equal inputs always rank the same.
//!
//! Availability is weekly windows in each person's own time zone. The overlap is measured for
//! one real week, the ISO week (Monday to Sunday, UTC) containing `now`: each window is placed
//! on its date that week, turned into UTC with that date's offset ([`crate::local_to_utc`]), and
//! wrapped onto the week, so a Monday 08:00 in Auckland can meet a Sunday evening in London.
//! During the weeks when two zones' clocks change on different dates the figure follows that
//! week's real offsets, and a window that a DST change shortens counts as shortened.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{check_id, check_terms, check_text, invalid, json, local_to_utc, norm, path, Error};

const LIVED_EXPERIENCE: u32 = 30;
const TRAINED_FOR: u32 = 15;
const FIRST_LANGUAGE: u32 = 20;
const OTHER_LANGUAGE: u32 = 10;
const BACKGROUND: u32 = 10;
const FIRST_TIME: u32 = 8;
const INTEREST: u32 = 3;
const MAX_INTERESTS: usize = 5;
const MAX_OVERLAP_POINTS: u32 = 20;

/// A weekly free time in its owner's time zone. `to` at or before `from` runs past midnight
/// into the next day (`22:00`–`00:00` is the last two hours of `day`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The day it starts.
    #[serde(with = "json::weekday")]
    pub day: Weekday,
    /// Local start, `"HH:MM"`.
    #[serde(with = "json::clock")]
    pub from: NaiveTime,
    /// Local end, `"HH:MM"`.
    #[serde(with = "json::clock")]
    pub to: NaiveTime,
}

/// What a mother asks of a volunteer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mother {
    /// Her id.
    pub id: String,
    /// Languages she speaks, the one she prefers first.
    pub languages: Vec<String>,
    /// Her cultural background, if she gave one.
    #[serde(default)]
    pub background: Option<String>,
    /// Interests, to find common ground.
    #[serde(default)]
    pub interests: Vec<String>,
    /// Experiences she wants her volunteer to have lived, such as `loss`, `hiv`, `twins`.
    #[serde(default)]
    pub experiences: Vec<String>,
    /// Whether this is her first baby; `None` if she did not say.
    #[serde(default)]
    pub first_time: Option<bool>,
    /// Her IANA time zone, such as `"Europe/London"`.
    #[serde(with = "json::tz")]
    pub time_zone: Tz,
    /// When she is free, in her time zone.
    #[serde(default)]
    pub free: Vec<Window>,
    /// Volunteers she asked to change from; never proposed to her again.
    #[serde(default)]
    pub excluded: Vec<String>,
}

/// A peer volunteer's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volunteer {
    /// Her id.
    pub id: String,
    /// The name mothers and coordinators see.
    pub name: String,
    /// Languages she speaks.
    pub languages: Vec<String>,
    /// Her cultural background, if she gave one.
    #[serde(default)]
    pub background: Option<String>,
    /// Interests.
    #[serde(default)]
    pub interests: Vec<String>,
    /// Experiences she has lived and is willing to share.
    #[serde(default)]
    pub experiences: Vec<String>,
    /// Whether she can speak to being a first-time mother from her own experience.
    #[serde(default)]
    pub first_time_parent: bool,
    /// Her IANA time zone.
    #[serde(with = "json::tz")]
    pub time_zone: Tz,
    /// When she is available, in her time zone.
    #[serde(default)]
    pub available: Vec<Window>,
    /// Mothers she supports now.
    pub caseload: u32,
    /// Most mothers she may support at once; at least 1.
    pub cap: u32,
    /// Off duty means no new mothers and no prompts.
    pub on_duty: bool,
    /// Experiences she is trained to support without having lived them.
    #[serde(default)]
    pub trained_for: Vec<String>,
}

/// The input of `hearth match`: `{"mother": {...}, "volunteers": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// Who is asking.
    pub mother: Mother,
    /// Everyone who might take her.
    pub volunteers: Vec<Volunteer>,
}

/// A volunteer who can take her, with her score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Volunteer id.
    pub volunteer: String,
    /// Volunteer name.
    pub name: String,
    /// Points; higher is a better fit (weights in the module docs).
    pub score: u32,
    /// Why, for a coordinator, strongest first.
    pub reasons: Vec<String>,
}

/// A volunteer who cannot take her.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    /// Volunteer id.
    pub volunteer: String,
    /// Volunteer name.
    pub name: String,
    /// Every rule she fails.
    pub reasons: Vec<String>,
}

/// The output of `hearth match`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchResult {
    /// Best first.
    pub candidates: Vec<Candidate>,
    /// By volunteer id.
    pub excluded: Vec<Excluded>,
}

impl Window {
    fn check(&self, at: &str) -> Result<(), Error> {
        if self.from == self.to {
            return Err(invalid(
                path(at, "to"),
                "same as from; a window needs a length (use 00:00–23:59 for a whole day)",
            ));
        }
        Ok(())
    }
}

fn check_windows(at: String, windows: &[Window]) -> Result<(), Error> {
    for (i, w) in windows.iter().enumerate() {
        w.check(&format!("{at}[{i}]"))?;
    }
    Ok(())
}

impl Mother {
    /// Checks ids, lists and windows; paths are relative (`languages`, `free[1].to`).
    pub fn validate(&self) -> Result<(), Error> {
        self.check("")
    }

    fn check(&self, at: &str) -> Result<(), Error> {
        check_id(path(at, "id"), &self.id)?;
        check_terms(path(at, "languages"), &self.languages, true)?;
        check_text(path(at, "background"), &self.background)?;
        check_terms(path(at, "interests"), &self.interests, false)?;
        check_terms(path(at, "experiences"), &self.experiences, false)?;
        check_windows(path(at, "free"), &self.free)?;
        for (i, id) in self.excluded.iter().enumerate() {
            check_id(format!("{}[{i}]", path(at, "excluded")), id)?;
        }
        Ok(())
    }
}

impl Volunteer {
    /// Checks ids, lists, windows and the cap; paths are relative (`cap`).
    pub fn validate(&self) -> Result<(), Error> {
        self.check("")
    }

    fn check(&self, at: &str) -> Result<(), Error> {
        check_id(path(at, "id"), &self.id)?;
        check_id(path(at, "name"), &self.name)?;
        check_terms(path(at, "languages"), &self.languages, true)?;
        check_text(path(at, "background"), &self.background)?;
        check_terms(path(at, "interests"), &self.interests, false)?;
        check_terms(path(at, "experiences"), &self.experiences, false)?;
        check_terms(path(at, "trained_for"), &self.trained_for, false)?;
        check_windows(path(at, "available"), &self.available)?;
        if self.cap == 0 {
            return Err(invalid(path(at, "cap"), "must be at least 1"));
        }
        Ok(())
    }
}

impl MatchRequest {
    /// Checks the mother, every volunteer, and that volunteer ids are unique.
    pub fn validate(&self) -> Result<(), Error> {
        self.mother.check("mother")?;
        for (i, v) in self.volunteers.iter().enumerate() {
            let at = format!("volunteers[{i}]");
            v.check(&at)?;
            if let Some(first) = self.volunteers[..i].iter().position(|o| o.id == v.id) {
                return Err(invalid(
                    format!("{at}.id"),
                    format!("{:?} repeats volunteers[{first}]", v.id),
                ));
            }
        }
        Ok(())
    }
}

/// Ranks the volunteers for the mother. `now` picks the week whose clock offsets are used to
/// compare free times (see the module docs).
pub fn rank(request: &MatchRequest, now: DateTime<Utc>) -> Result<MatchResult, Error> {
    request.validate()?;
    let mother = &request.mother;
    let week = Week::containing(now);
    let free = week.intervals(mother.time_zone, &mother.free);

    let mut ranked = Vec::new();
    let mut excluded = Vec::new();
    for v in &request.volunteers {
        let why_not = exclusions(mother, v);
        if why_not.is_empty() {
            let (score, reasons) = score(mother, v, &week, &free);
            ranked.push((
                Candidate {
                    volunteer: v.id.clone(),
                    name: v.name.clone(),
                    score,
                    reasons,
                },
                v,
            ));
        } else {
            excluded.push(Excluded {
                volunteer: v.id.clone(),
                name: v.name.clone(),
                reasons: why_not,
            });
        }
    }
    ranked.sort_by(|(a, va), (b, vb)| {
        let load = |x: &Volunteer, y: &Volunteer| u64::from(x.caseload) * u64::from(y.cap);
        b.score
            .cmp(&a.score)
            .then(load(va, vb).cmp(&load(vb, va)))
            .then(a.volunteer.cmp(&b.volunteer))
    });
    excluded.sort_by(|a, b| a.volunteer.cmp(&b.volunteer));
    Ok(MatchResult {
        candidates: ranked.into_iter().map(|(c, _)| c).collect(),
        excluded,
    })
}

/// `hearth match --json`: reads a [`MatchRequest`], writes a [`MatchResult`].
pub fn match_json(input: &str, now: DateTime<Utc>) -> Result<String, Error> {
    let request: MatchRequest = json::decode(input)?;
    Ok(json::encode(&rank(&request, now)?))
}

fn shares(list: &[String], term: &str) -> bool {
    let term = norm(term);
    list.iter().any(|t| norm(t) == term)
}

fn exclusions(mother: &Mother, v: &Volunteer) -> Vec<String> {
    let mut reasons = Vec::new();
    if mother.excluded.contains(&v.id) {
        reasons.push("she asked not to be matched with this volunteer again".to_owned());
    }
    if !v.on_duty {
        reasons.push("off duty".to_owned());
    }
    if v.caseload >= v.cap {
        reasons.push(format!("at cap: {} of {} places taken", v.caseload, v.cap));
    }
    if !mother.languages.iter().any(|l| shares(&v.languages, l)) {
        reasons.push(format!(
            "no shared language: she speaks {}; the volunteer speaks {}",
            mother.languages.join(", "),
            v.languages.join(", ")
        ));
    }
    reasons
}

fn score(mother: &Mother, v: &Volunteer, week: &Week, free: &[Span]) -> (u32, Vec<String>) {
    let mut points = 0;
    let mut reasons = Vec::new();

    for want in &mother.experiences {
        if shares(&v.experiences, want) {
            points += LIVED_EXPERIENCE;
            reasons.push(format!("lived experience: {want}"));
        } else if shares(&v.trained_for, want) {
            points += TRAINED_FOR;
            reasons.push(format!("trained for: {want} (not lived)"));
        } else {
            reasons.push(format!("no lived experience or training for: {want}"));
        }
    }

    let spoken: Vec<(usize, &String)> = mother
        .languages
        .iter()
        .enumerate()
        .filter(|(_, l)| shares(&v.languages, l))
        .collect();
    if let Some(&(first, _)) = spoken.first() {
        points += if first == 0 {
            FIRST_LANGUAGE
        } else {
            OTHER_LANGUAGE
        };
    }
    for (i, lang) in spoken {
        reasons.push(if i == 0 {
            format!("speaks {lang} (her first language)")
        } else {
            format!("speaks {lang} (not her first language)")
        });
    }

    if let (Some(hers), Some(theirs)) = (&mother.background, &v.background) {
        if norm(hers) == norm(theirs) {
            points += BACKGROUND;
            reasons.push(format!("same background: {hers}"));
        }
    }

    if mother.first_time == Some(true) && v.first_time_parent {
        points += FIRST_TIME;
        reasons.push("was a first-time mother too".to_owned());
    }

    let common: Vec<&String> = mother
        .interests
        .iter()
        .filter(|i| shares(&v.interests, i))
        .collect();
    if !common.is_empty() {
        points += INTEREST * common.len().min(MAX_INTERESTS) as u32;
        let list: Vec<&str> = common.iter().map(|s| s.as_str()).collect();
        reasons.push(format!("shared interests: {}", list.join(", ")));
    }

    if !mother.free.is_empty() {
        let overlap = intersect(free, &week.intervals(v.time_zone, &v.available));
        let minutes: i64 = overlap.iter().map(|s| s.1 - s.0).sum();
        if minutes == 0 {
            reasons.push("no overlap with her free times".to_owned());
        } else {
            points += u32::try_from(minutes / 30)
                .unwrap_or(u32::MAX)
                .min(MAX_OVERLAP_POINTS);
            reasons.push(format!(
                "{} a week overlap with her free times (her time: {})",
                duration_words(minutes),
                week.describe(mother.time_zone, &overlap)
            ));
        }
    }

    let free_places = v.cap - v.caseload;
    reasons.push(format!("{free_places} of {} places free", v.cap));
    (points, reasons)
}

fn duration_words(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let hours = match h {
        0 => String::new(),
        1 => "1 hour".to_owned(),
        h => format!("{h} hours"),
    };
    match (hours.is_empty(), m) {
        (_, 0) => hours,
        (true, m) => format!("{m} minutes"),
        (false, m) => format!("{hours} {m} minutes"),
    }
}

const WEEK_MINUTES: i64 = 7 * 24 * 60;

/// Minutes from the start of the reference week, half-open, within `0..WEEK_MINUTES`.
type Span = (i64, i64);

/// The reference week: Monday 00:00 UTC of the ISO week containing `now`.
struct Week {
    monday: NaiveDate,
    origin: DateTime<Utc>,
}

impl Week {
    fn containing(now: DateTime<Utc>) -> Week {
        let date = now.date_naive();
        let back = u64::from(date.weekday().num_days_from_monday());
        let monday = date.checked_sub_days(Days::new(back)).unwrap_or(date);
        Week {
            monday,
            origin: monday.and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// The windows as merged spans of this week.
    fn intervals(&self, tz: Tz, windows: &[Window]) -> Vec<Span> {
        let mut spans = Vec::new();
        for w in windows {
            let day = Days::new(u64::from(w.day.num_days_from_monday()));
            let Some(date) = self.monday.checked_add_days(day) else {
                continue;
            };
            let end_date = if w.to <= w.from {
                date.succ_opt().unwrap_or(date)
            } else {
                date
            };
            let start = local_to_utc(tz, date.and_time(w.from));
            let end = local_to_utc(tz, end_date.and_time(w.to));
            let from = (start - self.origin).num_minutes().rem_euclid(WEEK_MINUTES);
            let len = (end - start).num_minutes().clamp(0, WEEK_MINUTES);
            if from + len <= WEEK_MINUTES {
                spans.push((from, from + len));
            } else {
                spans.push((from, WEEK_MINUTES));
                spans.push((0, from + len - WEEK_MINUTES));
            }
        }
        merge(spans)
    }

    /// Spans as `Mon 18:00–20:00` on the clock of `tz`.
    fn describe(&self, tz: Tz, spans: &[Span]) -> String {
        let mut spans = spans.to_vec();
        // Rejoin a span that the week boundary cut in two.
        if spans.len() > 1 && spans[0].0 == 0 && spans[spans.len() - 1].1 == WEEK_MINUTES {
            let first = spans.remove(0);
            if let Some(last) = spans.last_mut() {
                last.1 = WEEK_MINUTES + first.1;
            }
        }
        let at = |m: i64| (self.origin + TimeDelta::minutes(m)).with_timezone(&tz);
        let parts: Vec<String> = spans
            .iter()
            .map(|&(s, e)| {
                let (s, e) = (at(s), at(e));
                format!(
                    "{} {}–{}",
                    s.weekday(),
                    s.format("%H:%M"),
                    e.format("%H:%M")
                )
            })
            .collect();
        parts.join(", ")
    }
}

fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| s.1 > s.0);
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.0 <= last.1 => last.1 = last.1.max(s.1),
            _ => out.push(s),
        }
    }
    out
}

/// The common parts of two merged span lists.
fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let (s, e) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if s < e {
            out.push((s, e));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(day: Weekday, from: &str, to: &str) -> Window {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").expect("test time");
        Window {
            day,
            from: t(from),
            to: t(to),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("test instant")
    }

    fn overlap(now: &str, a: (Tz, Vec<Window>), b: (Tz, Vec<Window>)) -> i64 {
        let week = Week::containing(utc(now));
        intersect(&week.intervals(a.0, &a.1), &week.intervals(b.0, &b.1))
            .iter()
            .map(|s| s.1 - s.0)
            .sum()
    }

    #[test]
    fn overlap_follows_each_zones_offsets_that_week() {
        use chrono_tz::{America::New_York, Europe::London};
        // London 19:00–22:00 vs New York 14:00–17:00.
        let london = (London, vec![w(Weekday::Wed, "19:00", "22:00")]);
        let new_york = (New_York, vec![w(Weekday::Wed, "14:00", "17:00")]);
        // January: 5 hours apart, NY 19:00–22:00 London: full 3 hours.
        assert_eq!(
            overlap("2026-01-14T12:00:00Z", london.clone(), new_york.clone()),
            180
        );
        // Mid-March: New York has sprung forward, London not yet: 4 hours apart, 2 hours overlap.
        assert_eq!(
            overlap("2026-03-18T12:00:00Z", london.clone(), new_york.clone()),
            120
        );
        // July: both on summer time, 5 hours apart again.
        assert_eq!(overlap("2026-07-15T12:00:00Z", london, new_york), 180);
    }

    #[test]
    fn windows_wrap_across_midnight_and_the_week_boundary() {
        use chrono_tz::{Europe::London, Pacific::Auckland};
        // Auckland Monday 08:00–10:00 (NZDT, +13) is Sunday 19:00–21:00 UTC = London (GMT).
        let nz = (Auckland, vec![w(Weekday::Mon, "08:00", "10:00")]);
        let uk = (London, vec![w(Weekday::Sun, "20:00", "00:00")]);
        assert_eq!(overlap("2026-01-14T12:00:00Z", nz, uk), 60);
    }

    #[test]
    fn a_shortened_dst_night_counts_as_shortened() {
        use chrono_tz::Europe::London;
        // 00:00–03:00 on the spring-forward night is only 2 real hours.
        let week = Week::containing(utc("2026-03-25T12:00:00Z"));
        let spans = week.intervals(London, &[w(Weekday::Sun, "00:00", "03:00")]);
        assert_eq!(spans.iter().map(|s| s.1 - s.0).sum::<i64>(), 120);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_words(60), "1 hour");
        assert_eq!(duration_words(150), "2 hours 30 minutes");
        assert_eq!(duration_words(45), "45 minutes");
    }
}
