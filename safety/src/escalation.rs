//! The escalation ladder: volunteer → moderator → urgent referral, with acknowledgement timers.
//!
//! There is no server to run timers, so every device computes an alert's state from the synced
//! record of it ([`Alert`]: when it was raised, who acknowledged it, whether it was resolved)
//! and the time the caller passes in. The same inputs give the same [`Status`] on every phone,
//! and tests drive it with any clock they like.
//!
//! Rules, which [`Ladder::status`] keeps:
//! - An alert starts at the first tier, skipping the volunteer when the group has none.
//! - If nobody at or above the current tier acknowledges it within the timer for its severity,
//!   it moves to the next tier at exactly the time it reached the current tier plus the timer.
//! - An acknowledgement at or above the current tier stops the clock. One from a lower tier does
//!   not count (a volunteer acknowledging after it reached a moderator does not pull it back).
//! - The last tier never moves on; it reports how overdue its acknowledgement is.
//! - A resolved alert stops everything at its resolution time.
//! - Acknowledgements dated before the alert was raised or after `now` are ignored: devices'
//!   clocks disagree, and an acknowledgement the timeline cannot place must not silence an
//!   alert. The acknowledging device's next acknowledgement, once its clock is past the raise,
//!   counts. A resolution dated after `now` has not happened yet on this device; one dated
//!   before the raise still resolves the alert (as at the raise), because resolving is a
//!   deliberate close and ignoring it would escalate a closed alert for ever.
//!
//! The failure guarded against is an urgent alert that quietly sits with nobody: with no
//! acknowledgement, time alone carries it up the ladder.

use serde::{Deserialize, Serialize};

const MINUTE_MS: i64 = 60 * 1000;
/// Longest timer a programme may configure: 7 days.
pub const MAX_ACK_WITHIN_MINUTES: i64 = 7 * 24 * 60;

/// Who must act on an alert, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The mother's peer volunteer.
    Volunteer,
    /// The group's moderator (a midwife or trained facilitator).
    Moderator,
    /// Urgent referral to the programme's clinical or safeguarding lead.
    Referral,
}

impl Tier {
    /// The name used in files: `volunteer`, `moderator`, `referral`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Volunteer => "volunteer",
            Tier::Moderator => "moderator",
            Tier::Referral => "referral",
        }
    }

    fn parse(s: &str) -> Option<Tier> {
        [Tier::Volunteer, Tier::Moderator, Tier::Referral]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// How fast an alert needs a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worrying, not immediate: default 24 hours per tier.
    Concern,
    /// Possible immediate risk: default 15 minutes per tier.
    Urgent,
}

/// How long each tier has to acknowledge, per severity, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckTimers {
    /// For [`Severity::Concern`].
    pub concern: i64,
    /// For [`Severity::Urgent`].
    pub urgent: i64,
}

impl AckTimers {
    /// The timer for `severity`, in milliseconds.
    pub fn get(&self, severity: Severity) -> i64 {
        match severity {
            Severity::Concern => self.concern,
            Severity::Urgent => self.urgent,
        }
    }
}

/// A bad ladder configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    /// Not JSON of the expected shape.
    #[error("escalation ladder: not valid JSON: {detail}")]
    Json {
        /// The parser's message, with line and column.
        detail: String,
    },
    /// A bad value; `field` is a JSON path such as `tiers[1]`.
    #[error("escalation ladder: {field}: {reason}")]
    Invalid {
        /// JSON path of the bad field.
        field: String,
        /// What was found and what was expected.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> LadderError {
    LadderError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A programme's escalation ladder.
///
/// Config file format (JSON), timers in whole minutes:
/// ```json
/// { "tiers": ["volunteer", "moderator", "referral"],
///   "ack_within_minutes": { "urgent": 15, "concern": 1440 } }
/// ```
/// Tiers go lowest first without repeats and need one above `volunteer`; timers are 1 minute to
/// 7 days, and urgent is no longer than concern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ladder {
    /// The tiers, lowest first.
    pub tiers: Vec<Tier>,
    /// How long each tier has to acknowledge before the alert moves on.
    pub ack_within_ms: AckTimers,
}

impl Default for Ladder {
    /// Volunteer → moderator → referral; urgent 15 minutes per tier, concern 24 hours.
    fn default() -> Self {
        Ladder {
            tiers: vec![Tier::Volunteer, Tier::Moderator, Tier::Referral],
            ack_within_ms: AckTimers {
                concern: 24 * 60 * MINUTE_MS,
                urgent: 15 * MINUTE_MS,
            },
        }
    }
}

/// One acknowledgement: someone at `tier` has seen the alert and is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// When, in milliseconds since the Unix epoch, by the acknowledging device's clock.
    pub at: i64,
    /// The acknowledging person's tier.
    pub tier: Tier,
}

/// The synced record of one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// When it was raised, in milliseconds since the Unix epoch.
    pub raised_at: i64,
    /// How fast it needs a response.
    pub severity: Severity,
    /// Whether the mother has a volunteer; without one the alert starts at the moderator.
    pub has_volunteer: bool,
    /// Acknowledgements, in any order.
    pub acks: Vec<Ack>,
    /// When it was resolved, if it was.
    pub resolved_at: Option<i64>,
}

/// Where an alert stands at a given time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The tier the alert has reached: who must act now (or, once acknowledged or resolved,
    /// the tier it had reached then).
    pub tier: Tier,
    /// The acknowledgement that stopped the clock, if any; its `tier` says who took it.
    pub acknowledged: Option<Ack>,
    /// When the current tier's acknowledgement is due: the alert moves on then, or at the last
    /// tier becomes overdue. `None` once acknowledged or resolved.
    pub due_at: Option<i64>,
    /// How long past `due_at` the last tier is, in milliseconds; 0 otherwise.
    pub overdue_ms: i64,
    /// Each tier reached and when, starting with the first at `raised_at`.
    pub escalations: Vec<(Tier, i64)>,
    /// Whether the alert was resolved (by `now`).
    pub resolved: bool,
}

impl Ladder {
    /// Reads and validates a programme's ladder config (format on [`Ladder`]).
    pub fn from_json(json: &str) -> Result<Ladder, LadderError> {
        let raw: RawLadder = serde_json::from_str(json).map_err(|e| LadderError::Json {
            detail: e.to_string(),
        })?;
        let raw_tiers = raw.tiers.ok_or_else(|| invalid("tiers", "missing"))?;
        let mut tiers = Vec::with_capacity(raw_tiers.len());
        for (i, name) in raw_tiers.iter().enumerate() {
            let tier = Tier::parse(name).ok_or_else(|| {
                invalid(
                    format!("tiers[{i}]"),
                    format!("{name:?} is not a tier (volunteer, moderator, referral)"),
                )
            })?;
            tiers.push(tier);
        }
        let timers = raw
            .ack_within_minutes
            .ok_or_else(|| invalid("ack_within_minutes", "missing"))?;
        let minutes = |field: &str, value: Option<i64>| {
            let field = format!("ack_within_minutes.{field}");
            match value {
                None => Err(invalid(field, "missing")),
                Some(m) if (1..=MAX_ACK_WITHIN_MINUTES).contains(&m) => Ok(m * MINUTE_MS),
                Some(m) => Err(invalid(
                    field,
                    format!("{m} is outside 1–{MAX_ACK_WITHIN_MINUTES} minutes (7 days)"),
                )),
            }
        };
        let ladder = Ladder {
            tiers,
            ack_within_ms: AckTimers {
                concern: minutes("concern", timers.concern)?,
                urgent: minutes("urgent", timers.urgent)?,
            },
        };
        // Checked here too so the message speaks in the file's minutes.
        if ladder.ack_within_ms.urgent > ladder.ack_within_ms.concern {
            return Err(invalid(
                "ack_within_minutes.urgent",
                format!(
                    "{} is longer than concern ({}); urgent alerts must not wait longer",
                    ladder.ack_within_ms.urgent / MINUTE_MS,
                    ladder.ack_within_ms.concern / MINUTE_MS
                ),
            ));
        }
        ladder.validate()?;
        Ok(ladder)
    }

    /// Checks a ladder built in code against the same rules as [`Ladder::from_json`]
    /// (timers here in milliseconds, at least 1 ms).
    pub fn validate(&self) -> Result<(), LadderError> {
        if self.tiers.is_empty() {
            return Err(invalid("tiers", "empty; list at least one tier"));
        }
        for (i, pair) in self.tiers.windows(2).enumerate() {
            if pair[1] <= pair[0] {
                return Err(invalid(
                    format!("tiers[{}]", i + 1),
                    format!(
                        "{} repeats or is out of order; list tiers lowest first (volunteer, moderator, referral)",
                        pair[1].as_str()
                    ),
                ));
            }
        }
        if self.tiers.iter().all(|&t| t == Tier::Volunteer) {
            return Err(invalid(
                "tiers",
                "needs a tier above volunteer, for mothers who have no volunteer",
            ));
        }
        let max_ms = MAX_ACK_WITHIN_MINUTES * MINUTE_MS;
        for (field, ms) in [
            ("concern", self.ack_within_ms.concern),
            ("urgent", self.ack_within_ms.urgent),
        ] {
            if !(1..=max_ms).contains(&ms) {
                return Err(invalid(
                    format!("ack_within_ms.{field}"),
                    format!("{ms} ms is outside 1 ms – 7 days"),
                ));
            }
        }
        if self.ack_within_ms.urgent > self.ack_within_ms.concern {
            return Err(invalid(
                "ack_within_ms.urgent",
                format!(
                    "{} ms is longer than concern ({} ms); urgent alerts must not wait longer",
                    self.ack_within_ms.urgent, self.ack_within_ms.concern
                ),
            ));
        }
        Ok(())
    }

    /// Where `alert` stands at `now` (milliseconds since the Unix epoch, from the caller's
    /// clock). Never panics: a ladder built in code that fails [`Ladder::validate`] is read
    /// leniently (tiers sorted and deduplicated, the default tiers if none are usable, negative
    /// timers as 0).
    pub fn status(&self, alert: &Alert, now: i64) -> Status {
        let tiers = self.tiers_for(alert.has_volunteer);
        let timer = self.ack_within_ms.get(alert.severity).max(0);
        let last = tiers.len() - 1;

        // The clock stops at a resolution this device has reached; one dated before the raise
        // (skew) resolves it as at the raise.
        let resolved_at = alert
            .resolved_at
            .filter(|&r| r <= now)
            .map(|r| r.max(alert.raised_at));
        let horizon = resolved_at.unwrap_or(now);

        let mut acks: Vec<Ack> = alert
            .acks
            .iter()
            .copied()
            .filter(|a| a.at >= alert.raised_at && a.at <= horizon)
            .collect();
        acks.sort_by_key(|a| a.at);

        let mut level = 0;
        let mut reached_at = alert.raised_at;
        let mut escalations = vec![(tiers[0], alert.raised_at)];
        // Moves up every tier whose timer ran out at or before `t`.
        let mut climb = |t: i64, level: &mut usize, reached_at: &mut i64| {
            while *level < last {
                let due = reached_at.saturating_add(timer);
                if t < due {
                    break;
                }
                *level += 1;
                *reached_at = due;
                escalations.push((tiers[*level], due));
            }
        };

        let mut acknowledged = None;
        for ack in acks {
            climb(ack.at, &mut level, &mut reached_at);
            if ack.tier >= tiers[level] {
                acknowledged = Some(ack);
                break;
            }
        }
        if acknowledged.is_none() {
            climb(horizon, &mut level, &mut reached_at);
        }

        let open = acknowledged.is_none() && resolved_at.is_none();
        let due_at = open.then(|| reached_at.saturating_add(timer));
        let overdue_ms = match due_at {
            Some(due) if level == last => now.saturating_sub(due).max(0),
            _ => 0,
        };
        Status {
            tier: tiers[level],
            acknowledged,
            due_at,
            overdue_ms,
            escalations,
            resolved: resolved_at.is_some(),
        }
    }

    /// The tiers an alert climbs, lowest first: the volunteer skipped when there is none.
    fn tiers_for(&self, has_volunteer: bool) -> Vec<Tier> {
        let usable = |tiers: &[Tier]| {
            let mut tiers: Vec<Tier> = tiers
                .iter()
                .copied()
                .filter(|&t| has_volunteer || t != Tier::Volunteer)
                .collect();
            tiers.sort();
            tiers.dedup();
            tiers
        };
        let tiers = usable(&self.tiers);
        if tiers.is_empty() {
            usable(&Ladder::default().tiers)
        } else {
            tiers
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLadder {
    tiers: Option<Vec<String>>,
    ack_within_minutes: Option<RawTimers>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimers {
    concern: Option<i64>,
    urgent: Option<i64>,
}
