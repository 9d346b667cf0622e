//! The cohort planner: groups waiting mothers by due date and shared language.
//!
//! Small closed groups of mothers due around the same time work (7–30 members; 9–13 is
//! typical). The planner keeps these invariants, which its tests check on generated inputs:
//! - every group shares one language, which every member speaks;
//! - every group's due dates fall within `window_days` days (`due_to - due_from < window_days`);
//! - every group has at least `min_size` and at most `capacity` members;
//! - every mother is in exactly one group or listed as unplaced, with reasons;
//! - the plan depends only on the request's content, not on the order of `mothers`.
//!
//! Algorithm (a greedy sweep over due dates, per language):
//! 1. Sort mothers by due date, then id.
//! 2. Round `r` (from 0 to the longest language list − 1) considers, for each unplaced mother,
//!    her first `r + 1` languages: round 0 places everyone it can in her first language, later
//!    rounds let the rest fall back to their other languages. Within a round, languages go in
//!    alphabetical order (of their trimmed, lower-cased names).
//! 3. For a language, the pool is the unplaced mothers who speak it (as above), by due date.
//!    Sweeping from the earliest, the *run* is every pool mother due within the window from
//!    the first one's date. A run smaller than `min_size` leaves its first mother for now and
//!    the sweep moves on one. Otherwise the run is split into `k` consecutive groups of
//!    balanced size (sizes differ by at most one), `k` being `run / target_size` rounded, but
//!    enough that no group exceeds `capacity` and few enough that none falls below `min_size`
//!    (25 at target 12 is 13 + 12, not 12 + 12 + 1). If no such `k` exists (`capacity` close to
//!    `min_size`), as many full groups as fit are formed and the rest stay in the sweep.
//! 4. Pool mothers the sweep left join an existing group of that language whose window can take
//!    their due date and that is below capacity: the smallest such group, then the earliest.
//!
//! Preferences and region are not constraints; each group's reasons sum them up so that a
//! coordinator can see the mix.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{check_id, check_terms, check_text, invalid, json, norm, Error};

/// The largest group that works, and so the highest capacity a plan may ask for.
pub const MAX_CAPACITY: u32 = 30;

/// A mother waiting for a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitingMother {
    /// Her id; unique in a request.
    pub id: String,
    /// Her due date, `"YYYY-MM-DD"`.
    #[serde(with = "json::date")]
    pub due_date: NaiveDate,
    /// Languages she can take part in, the one she prefers first.
    pub languages: Vec<String>,
    /// Preferences such as `first_time`; reported, not used to group.
    #[serde(default)]
    pub preferences: Vec<String>,
    /// Her region; reported, not used to group.
    #[serde(default)]
    pub region: Option<String>,
}

/// The input of `hearth cohorts plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Everyone waiting.
    pub mothers: Vec<WaitingMother>,
    /// The size to aim for; default 12; at most `capacity`.
    #[serde(default = "default_target")]
    pub target_size: u32,
    /// The most members a group may have; default and at most [`MAX_CAPACITY`].
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// All due dates in a group fall within this many days; default 28.
    #[serde(default = "default_window")]
    pub window_days: u32,
    /// The fewest members a group may start with; default 7; at most `target_size`.
    #[serde(default = "default_min")]
    pub min_size: u32,
}

fn default_target() -> u32 {
    12
}
fn default_capacity() -> u32 {
    MAX_CAPACITY
}
fn default_window() -> u32 {
    28
}
fn default_min() -> u32 {
    7
}

impl Default for PlanRequest {
    /// No mothers; target 12, capacity 30, window 28 days, minimum 7.
    fn default() -> Self {
        PlanRequest {
            mothers: Vec::new(),
            target_size: default_target(),
            capacity: default_capacity(),
            window_days: default_window(),
            min_size: default_min(),
        }
    }
}

/// A proposed group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The language every member speaks (as the earliest-due mother who speaks it wrote it).
    pub language: String,
    /// The earliest due date.
    #[serde(with = "json::date")]
    pub due_from: NaiveDate,
    /// The latest due date.
    #[serde(with = "json::date")]
    pub due_to: NaiveDate,
    /// Mother ids, by due date then id.
    pub members: Vec<String>,
    /// Why these mothers, for a coordinator.
    pub reasons: Vec<String>,
}

/// A mother the plan could not place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unplaced {
    /// Her id.
    pub mother: String,
    /// Why, one per language she speaks.
    pub reasons: Vec<String>,
}

/// The output of `hearth cohorts plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// By earliest due date, then language, then first member.
    pub groups: Vec<Group>,
    /// By due date, then id.
    pub unplaced: Vec<Unplaced>,
}

impl PlanRequest {
    /// Checks the sizes, the window and every mother; ids must be unique.
    pub fn validate(&self) -> Result<(), Error> {
        if self.capacity == 0 {
            return Err(invalid("capacity", "must be at least 1"));
        }
        if self.capacity > MAX_CAPACITY {
            return Err(invalid(
                "capacity",
                format!(
                    "{} is above {MAX_CAPACITY}, the largest group size that works",
                    self.capacity
                ),
            ));
        }
        if self.target_size == 0 {
            return Err(invalid("target_size", "must be at least 1"));
        }
        if self.target_size > self.capacity {
            return Err(invalid(
                "target_size",
                format!("{} is above capacity {}", self.target_size, self.capacity),
            ));
        }
        if self.min_size == 0 {
            return Err(invalid("min_size", "must be at least 1"));
        }
        if self.min_size > self.target_size {
            return Err(invalid(
                "min_size",
                format!(
                    "{} is above target_size {}",
                    self.min_size, self.target_size
                ),
            ));
        }
        if self.window_days == 0 {
            return Err(invalid("window_days", "must be at least 1"));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, m) in self.mothers.iter().enumerate() {
            let at = format!("mothers[{i}]");
            check_id(format!("{at}.id"), &m.id)?;
            check_terms(format!("{at}.languages"), &m.languages, true)?;
            check_terms(format!("{at}.preferences"), &m.preferences, false)?;
            check_text(format!("{at}.region"), &m.region)?;
            if let Some(first) = seen.insert(&m.id, i) {
                return Err(invalid(
                    format!("{at}.id"),
                    format!("{:?} repeats mothers[{first}]", m.id),
                ));
            }
        }
        Ok(())
    }
}

/// Plans groups for the waiting mothers (algorithm in the module docs).
pub fn plan(request: &PlanRequest) -> Result<Plan, Error> {
    request.validate()?;
    let mut planner = Planner::new(request);
    planner.run();
    Ok(planner.into_plan())
}

/// `hearth cohorts plan --json`: reads a [`PlanRequest`], writes a [`Plan`].
pub fn plan_json(input: &str) -> Result<String, Error> {
    let request: PlanRequest = json::decode(input)?;
    Ok(json::encode(&plan(&request)?))
}

/// How a group came to be, for its reasons.
struct Draft {
    lang: String,
    members: Vec<usize>,
    /// The sweep's run it was cut from: its first due date and size.
    run_from: NaiveDate,
    run: usize,
    /// How many groups the run was cut into, and how many of the run they took.
    parts: usize,
    taken: usize,
    /// Members added after it formed.
    joined: Vec<usize>,
}

struct Planner<'a> {
    /// By due date, then id; indices below refer to this order.
    mothers: Vec<&'a WaitingMother>,
    /// Each mother's languages, normalised, in her order.
    langs: Vec<Vec<String>>,
    /// Display name of each normalised language.
    names: BTreeMap<String, String>,
    target: usize,
    capacity: usize,
    min: usize,
    window: u32,
    group_of: Vec<Option<usize>>,
    drafts: Vec<Draft>,
}

fn usize_of(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl<'a> Planner<'a> {
    fn new(request: &'a PlanRequest) -> Planner<'a> {
        let mut mothers: Vec<&WaitingMother> = request.mothers.iter().collect();
        mothers.sort_by(|a, b| (a.due_date, &a.id).cmp(&(b.due_date, &b.id)));
        let langs: Vec<Vec<String>> = mothers
            .iter()
            .map(|m| m.languages.iter().map(|l| norm(l)).collect())
            .collect();
        let mut names = BTreeMap::new();
        for m in &mothers {
            for l in &m.languages {
                names.entry(norm(l)).or_insert_with(|| l.trim().to_owned());
            }
        }
        Planner {
            group_of: vec![None; mothers.len()],
            mothers,
            langs,
            names,
            target: usize_of(request.target_size),
            capacity: usize_of(request.capacity),
            min: usize_of(request.min_size),
            window: request.window_days,
            drafts: Vec::new(),
        }
    }

    fn due(&self, i: usize) -> NaiveDate {
        self.mothers[i].due_date
    }

    /// The last due date a window opening on `from` takes.
    fn window_end(&self, from: NaiveDate) -> NaiveDate {
        from.checked_add_days(Days::new(u64::from(self.window - 1)))
            .unwrap_or(NaiveDate::MAX)
    }

    fn speaks(&self, i: usize, lang: &str, round: usize) -> bool {
        self.langs[i].iter().take(round + 1).any(|l| l == lang)
    }

    fn run(&mut self) {
        let rounds = self.langs.iter().map(Vec::len).max().unwrap_or(0);
        for round in 0..rounds {
            let langs: BTreeSet<String> = (0..self.mothers.len())
                .filter(|&i| self.group_of[i].is_none())
                .flat_map(|i| self.langs[i].iter().take(round + 1).cloned())
                .collect();
            for lang in langs {
                let pool: Vec<usize> = (0..self.mothers.len())
                    .filter(|&i| self.group_of[i].is_none() && self.speaks(i, &lang, round))
                    .collect();
                self.sweep(&lang, &pool);
                self.fill(&lang, &pool);
            }
        }
    }

    fn sweep(&mut self, lang: &str, pool: &[usize]) {
        let mut i = 0;
        while i < pool.len() {
            let from = self.due(pool[i]);
            let end = self.window_end(from);
            let run = pool[i..]
                .iter()
                .take_while(|&&j| self.due(j) <= end)
                .count();
            if run < self.min {
                i += 1;
                continue;
            }
            let (parts, taken) = split(run, self.target, self.capacity, self.min);
            let (base, extra) = (taken / parts, taken % parts);
            let mut at = i;
            for part in 0..parts {
                let size = base + usize::from(part < extra);
                let members = pool[at..at + size].to_vec();
                for &m in &members {
                    self.group_of[m] = Some(self.drafts.len());
                }
                self.drafts.push(Draft {
                    lang: lang.to_owned(),
                    members,
                    run_from: from,
                    run,
                    parts,
                    taken,
                    joined: Vec::new(),
                });
                at += size;
            }
            i += taken;
        }
    }

    fn fill(&mut self, lang: &str, pool: &[usize]) {
        for &i in pool {
            if self.group_of[i].is_some() {
                continue;
            }
            let due = self.due(i);
            let best = self
                .drafts
                .iter()
                .enumerate()
                .filter(|(_, d)| d.lang == lang && d.members.len() < self.capacity)
                .filter_map(|(g, d)| {
                    let (from, to) = self.span(&d.members);
                    let (from, to) = (from.min(due), to.max(due));
                    (to <= self.window_end(from)).then_some((d.members.len(), from, g))
                })
                .min();
            if let Some((_, _, g)) = best {
                self.drafts[g].members.push(i);
                self.drafts[g].joined.push(i);
                self.group_of[i] = Some(g);
            }
        }
    }

    fn span(&self, members: &[usize]) -> (NaiveDate, NaiveDate) {
        let dues = members.iter().map(|&m| self.due(m));
        let from = dues.clone().min().unwrap_or(NaiveDate::MIN);
        (from, dues.max().unwrap_or(from))
    }

    fn name(&self, lang: &str) -> String {
        self.names
            .get(lang)
            .cloned()
            .unwrap_or_else(|| lang.to_owned())
    }

    fn into_plan(self) -> Plan {
        let mut groups: Vec<Group> = self.drafts.iter().map(|d| self.group(d)).collect();
        groups.sort_by(|a, b| {
            (a.due_from, &a.language, &a.members).cmp(&(b.due_from, &b.language, &b.members))
        });
        let unplaced = (0..self.mothers.len())
            .filter(|&i| self.group_of[i].is_none())
            .map(|i| Unplaced {
                mother: self.mothers[i].id.clone(),
                reasons: self.langs[i]
                    .iter()
                    .map(|lang| self.why_unplaced(i, lang))
                    .collect(),
            })
            .collect();
        Plan { groups, unplaced }
    }

    fn group(&self, d: &Draft) -> Group {
        let mut members = d.members.clone();
        members.sort_unstable();
        let (due_from, due_to) = self.span(&members);
        let name = self.name(&d.lang);
        let window = window_words(self.window);
        let ids = |list: &[usize]| {
            let ids: Vec<&str> = list.iter().map(|&m| self.mothers[m].id.as_str()).collect();
            ids.join(", ")
        };

        let first = members
            .iter()
            .filter(|&&m| self.langs[m].first() == Some(&d.lang))
            .count();
        let first = if first == members.len() {
            "all of them".to_owned()
        } else {
            format!("{first} of them")
        };
        let who = if members.len() == 1 {
            "who speaks"
        } else {
            "who all speak"
        };
        let mut reasons = vec![
            format!(
                "{} {who} {name}, the first language of {first}",
                count(members.len(), "mother")
            ),
            format!("due {due_from} to {due_to}, within a {window} window"),
        ];
        let mut origin = format!(
            "formed from the {} not yet placed who speak {name} and are due in the {} from {}",
            count(d.run, "mother"),
            window_length(self.window),
            d.run_from
        );
        if d.taken < d.run {
            origin.push_str(&format!(
                "; the first {} of them make {} full groups (capacity {}) and the rest went on to later groups",
                d.taken, d.parts, self.capacity
            ));
        } else if d.parts > 1 {
            origin.push_str(&format!(
                ", split by due date into {} groups of similar size near the target of {}",
                d.parts, self.target
            ));
        }
        reasons.push(origin);
        if !d.joined.is_empty() {
            reasons.push(format!(
                "joined after it formed (too few for a group of their own; due dates fit and it had room): {}",
                ids(&d.joined)
            ));
        }
        reasons.push(format!(
            "{} members: target {}, minimum {}, capacity {}",
            members.len(),
            self.target,
            self.min,
            self.capacity
        ));
        let preferences = tally(members.iter().flat_map(|&m| &self.mothers[m].preferences));
        if !preferences.is_empty() {
            reasons.push(format!("preferences: {preferences}"));
        }
        let regions = tally(
            members
                .iter()
                .filter_map(|&m| self.mothers[m].region.as_ref()),
        );
        if !regions.is_empty() {
            reasons.push(format!("regions: {regions}"));
        }
        Group {
            language: name,
            due_from,
            due_to,
            members: members
                .iter()
                .map(|&m| self.mothers[m].id.clone())
                .collect(),
            reasons,
        }
    }

    /// Why mother `i` is in no `lang` group, with the counts a coordinator needs to decide.
    fn why_unplaced(&self, i: usize, lang: &str) -> String {
        let name = self.name(lang);
        let window = window_words(self.window);
        let all = self.best_window(i, lang, |_| true);
        if all < self.min {
            let speak = if all == 1 { "speaks" } else { "speak" };
            return format!(
                "only {} (her included) due within a {window} window {speak} {name}; below the minimum group size of {}",
                count(all, "mother"),
                self.min
            );
        }
        let left = self.best_window(i, lang, |j| self.group_of[j].is_none());
        format!(
            "{all} mothers (her included) due within a {window} window speak {name}, but some are in groups she cannot join (full, another language, or due dates too far from hers), and at most {left} not yet placed (her included) fall within one {window} window: below the minimum group size of {}",
            self.min
        )
    }

    /// The most mothers who speak `lang` and pass `keep` in any window that includes `i`'s due
    /// date.
    fn best_window(&self, i: usize, lang: &str, keep: impl Fn(usize) -> bool) -> usize {
        let due = self.due(i);
        let dues: Vec<NaiveDate> = (0..self.mothers.len())
            .filter(|&j| self.langs[j].iter().any(|l| l == lang) && keep(j))
            .map(|j| self.due(j))
            .collect();
        // `dues` is sorted, as the mothers are.
        dues.iter()
            .filter(|&&from| from <= due && due <= self.window_end(from))
            .map(|&from| {
                let end = self.window_end(from);
                dues.partition_point(|&d| d <= end) - dues.partition_point(|&d| d < from)
            })
            .max()
            .unwrap_or(0)
    }
}

/// How many groups to cut a run of `run` mothers into, and how many of them to take.
fn split(run: usize, target: usize, capacity: usize, min: usize) -> (usize, usize) {
    // `run >= min`, so `most >= 1`.
    let most = run / min;
    let rounded = (run + target / 2) / target;
    let parts = rounded.clamp(1, most).max(run.div_ceil(capacity));
    if parts <= most {
        (parts, run)
    } else {
        (most, most * capacity)
    }
}

/// `1 mother`, `3 mothers`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `4 weeks` or `10 days`.
fn window_length(days: u32) -> String {
    if days.is_multiple_of(7) {
        count(usize_of(days / 7), "week")
    } else {
        count(usize_of(days), "day")
    }
}

/// `4-week` or `10-day`.
fn window_words(days: u32) -> String {
    if days.is_multiple_of(7) {
        format!("{}-week", days / 7)
    } else {
        format!("{days}-day")
    }
}

/// `first_time (5), twins (1)`: counts by term, in name order, spelled as first seen.
fn tally<'s>(terms: impl Iterator<Item = &'s String>) -> String {
    let mut counts: BTreeMap<String, (&str, usize)> = BTreeMap::new();
    for t in terms {
        counts.entry(norm(t)).or_insert((t.trim(), 0)).1 += 1;
    }
    let parts: Vec<String> = counts
        .values()
        .map(|(name, n)| format!("{name} ({n})"))
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_into_balanced_groups_near_the_target() {
        // (parts, taken) for target 12, capacity 30, minimum 7.
        assert_eq!(split(7, 12, 30, 7), (1, 7));
        assert_eq!(split(17, 12, 30, 7), (1, 17));
        assert_eq!(split(25, 12, 30, 7), (2, 25));
        assert_eq!(split(36, 12, 30, 7), (3, 36));
        // Rounding to the target never cuts groups below the minimum.
        assert_eq!(split(13, 7, 30, 7), (1, 13));
        // Capacity forces more groups than the target would.
        assert_eq!(split(40, 30, 30, 7), (2, 40));
        // No split keeps every group within 7..=8: take one full group, leave the rest.
        assert_eq!(split(9, 8, 8, 7), (1, 8));
    }

    #[test]
    fn windows_read_in_weeks_when_whole() {
        assert_eq!(window_words(28), "4-week");
        assert_eq!(window_words(10), "10-day");
    }
}
