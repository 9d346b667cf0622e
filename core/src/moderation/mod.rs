//! Moderation as signed, synced records: every moderator action (hide, restore, correct, pin,
//! mute, hold for review, approve, slow mode, rules, on duty) is a *record* a moderator's
//! device writes into the group's encrypted chapter, where it syncs like a message, works
//! offline, and is checked by every device that receives it.
//!
//! A record lives in a chapter's `marks` map under `<record id>/m/<writer>` as CBOR bytes.
//! Records are immutable (a second write under the same key is refused), so the history is the
//! audit log; the current state is a fold of all records, oldest first
//! ([`ModState::fold`]). Authorization is checked when a record arrives
//! ([`Action::needs_moderator`] against the log's [`was_moderator_in`] for the record's
//! chapter): a record by a non-moderator, or by a moderator outside the epochs she moderated,
//! is refused on every device, and so is the whole change carrying it.
//!
//! Members join later than most records were written, and hold only the chapters from their
//! admission on. So when a new chapter starts, a moderator's device *carries* the records that
//! still shape the group (rules, pins, mutes, settings, duty) into it ([`Action::Carry`]);
//! folding deduplicates by record id, so a device holding both sees each once.
//!
//! What hiding means: members' devices show a placeholder instead of a hidden message, and
//! posts held for review appear only to moderators and the author. These are display rules
//! every honest device applies; the text stays in the encrypted chapter every member holds
//! (see `docs/threat-model.md`).
//!
//! [`was_moderator_in`]: hearth_protocol::membership::Membership::was_moderator_in

pub mod actions;
pub mod store;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::identity::{parse_hex, DeviceId};
use crate::message::{MessageId, MessageText};

/// Longest reason a moderator may give, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Longest group rules, in characters.
pub const MAX_RULES_CHARS: usize = 4_000;
/// Longest pin title and source, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_SOURCE_CHARS: usize = 500;
/// Longest mute: a longer one is a removal.
pub const MAX_MUTE_MS: i64 = 90 * 24 * 3_600_000;
/// Longest review hold for new members, in days.
pub const MAX_HOLD_DAYS: u32 = 90;
/// Longest slow-mode interval, in seconds.
pub const MAX_SLOW_SECS: u32 = 24 * 3_600;
/// Longest farewell period before a group ends.
pub const MAX_FAREWELL_DAYS: u32 = 28;
/// Most records one carry may hold.
pub const MAX_CARRIED: usize = 1_000;

crate::message::random_id! {
    /// Names one record: 16 random bytes, chosen by the writer.
    RecordId
}

impl RecordId {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        parse_hex(s.trim())
            .map(RecordId)
            .ok_or_else(|| InputError::new("record id", "expected 32 hexadecimal characters"))
    }
}

/// One record: when (the writer's clock), why (shown to moderators, and to the author of a
/// hidden message), and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModRecord {
    #[serde(rename = "t")]
    pub at: i64,
    #[serde(rename = "y", default, skip_serializing_if = "String::is_empty")]
    pub why: String,
    #[serde(rename = "a")]
    pub action: Action,
}

/// A resource a moderator pins: a curated answer with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "h")]
    pub title: String,
    #[serde(rename = "b")]
    pub body: String,
    #[serde(rename = "s")]
    pub source: String,
}

/// A record carried into a newer chapter: its id, its original writer, and itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    #[serde(rename = "i")]
    pub id: RecordId,
    #[serde(rename = "w")]
    pub by: DeviceId,
    #[serde(rename = "r")]
    pub record: ModRecord,
}

/// What a record does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Members see "removed by a moderator" instead; the author sees why.
    #[serde(rename = "hide")]
    Hide {
        #[serde(rename = "m")]
        message: MessageId,
    },
    #[serde(rename = "restore")]
    Restore {
        #[serde(rename = "m")]
        message: MessageId,
    },
    /// A moderator's note shown under a message to everyone; empty text withdraws it.
    #[serde(rename = "correct")]
    Correct {
        #[serde(rename = "m")]
        message: MessageId,
        #[serde(rename = "x")]
        text: String,
    },
    #[serde(rename = "pin")]
    Pin {
        #[serde(rename = "r")]
        resource: Resource,
    },
    /// Unpins the resource pinned by record `pin`.
    #[serde(rename = "unpin")]
    Unpin {
        #[serde(rename = "p")]
        pin: RecordId,
    },
    /// The member cannot post until `until`; what she posts meanwhile is hidden everywhere.
    #[serde(rename = "mute")]
    Mute {
        #[serde(rename = "d")]
        member: DeviceId,
        #[serde(rename = "u")]
        until: i64,
    },
    #[serde(rename = "unmute")]
    Unmute {
        #[serde(rename = "d")]
        member: DeviceId,
    },
    /// Review settings: hold every post (`group`), and/or posts by members admitted less than
    /// `new_member_days` ago, until a moderator approves them.
    #[serde(rename = "hold")]
    Hold {
        #[serde(rename = "g")]
        group: bool,
        #[serde(rename = "n")]
        new_member_days: u32,
    },
    #[serde(rename = "approve")]
    Approve {
        #[serde(rename = "m")]
        message: MessageId,
    },
    /// A held post that will not be shown: hidden, with the reason for its author.
    #[serde(rename = "reject")]
    Reject {
        #[serde(rename = "m")]
        message: MessageId,
    },
    /// Members may post once per `seconds` (0: off); `off_duty` applies instead while no
    /// moderator is on duty, if it is longer.
    #[serde(rename = "slow")]
    SlowMode {
        #[serde(rename = "s")]
        seconds: u32,
        #[serde(rename = "o")]
        off_duty: u32,
    },
    /// The group's rules; members accept them before posting.
    #[serde(rename = "rules")]
    Rules {
        #[serde(rename = "x")]
        text: String,
    },
    /// The writer goes on or off duty.
    #[serde(rename = "duty")]
    Duty {
        #[serde(rename = "on")]
        on: bool,
    },
    /// Records that still shape the group, carried into a new chapter for members who join
    /// from it on.
    #[serde(rename = "carry")]
    Carry {
        #[serde(rename = "c")]
        records: Vec<Carried>,
    },
    /// The group's planned ending: it becomes read-only at `ends_at` (ms), after a farewell
    /// period of `farewell_days` before it. `ends_at` 0 cancels a planned ending.
    #[serde(rename = "end")]
    Ending {
        #[serde(rename = "e")]
        ends_at: i64,
        #[serde(rename = "f")]
        farewell_days: u32,
        /// What comes next, offered to every member: a follow-on group, a volunteer.
        #[serde(rename = "n", default)]
        next: String,
    },
    /// The group's stage: antenatal until the babies arrive, then postnatal.
    #[serde(rename = "stage")]
    Stage {
        #[serde(rename = "s")]
        stage: Stage,
    },
    /// Who the group is for: volunteers and coordinators only (a volunteers' debrief
    /// group), or everyone. Mothers are never invited to or admitted into a volunteers-only
    /// group.
    #[serde(rename = "audience")]
    Audience {
        #[serde(rename = "v")]
        volunteers_only: bool,
    },
    /// A member accepts the rules set by record `rules`. The only record any member writes.
    #[serde(rename = "accept")]
    Accept {
        #[serde(rename = "r")]
        rules: RecordId,
    },
}

impl Action {
    /// Whether only a moderator may write this.
    pub fn needs_moderator(&self) -> bool {
        !matches!(self, Action::Accept { .. })
    }

    /// A short name for lists and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Hide { .. } => "hide",
            Action::Restore { .. } => "restore",
            Action::Correct { .. } => "correct",
            Action::Pin { .. } => "pin",
            Action::Unpin { .. } => "unpin",
            Action::Mute { .. } => "mute",
            Action::Unmute { .. } => "unmute",
            Action::Hold { .. } => "hold",
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::SlowMode { .. } => "slow_mode",
            Action::Rules { .. } => "rules",
            Action::Duty { .. } => "duty",
            Action::Carry { .. } => "carry",
            Action::Ending { .. } => "ending",
            Action::Stage { .. } => "stage",
            Action::Audience { .. } => "audience",
            Action::Accept { .. } => "accept",
        }
    }

    /// The message an action is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match self {
            Action::Hide { message }
            | Action::Restore { message }
            | Action::Correct { message, .. }
            | Action::Approve { message }
            | Action::Reject { message } => Some(*message),
            _ => None,
        }
    }
}

fn too_long(field: &str, text: &str, max: usize) -> Result<(), InputError> {
    let n = text.chars().count();
    if n > max {
        return Err(InputError::new(
            field,
            format!("{n} characters; at most {max}"),
        ));
    }
    Ok(())
}

fn not_blank(field: &str, text: &str) -> Result<(), InputError> {
    if text.trim().is_empty() {
        return Err(InputError::new(field, "must not be empty"));
    }
    Ok(())
}

impl ModRecord {
    /// Checks the record's shape: lengths, ranges, no carry inside a carry. Run on every
    /// record written here and on every one received.
    pub fn validate(&self) -> Result<(), InputError> {
        too_long("reason", &self.why, MAX_REASON_CHARS)?;
        self.validate_action(true)
    }

    fn validate_action(&self, top: bool) -> Result<(), InputError> {
        match &self.action {
            Action::Correct { text, .. } if !text.is_empty() => {
                MessageText::parse(text).map_err(|e| InputError::new("correction", e.reason))?;
            }
            Action::Pin { resource } => {
                not_blank("title", &resource.title)?;
                too_long("title", &resource.title, MAX_TITLE_CHARS)?;
                MessageText::parse(&resource.body)
                    .map_err(|e| InputError::new("resource text", e.reason))?;
                not_blank("source", &resource.source)?;
                too_long("source", &resource.source, MAX_SOURCE_CHARS)?;
            }
            Action::Mute { until, .. } if *until <= self.at || *until - self.at > MAX_MUTE_MS => {
                return Err(InputError::new(
                    "until",
                    "a mute ends after it starts and lasts at most 90 days; remove a member for longer",
                ));
            }
            Action::Hold {
                new_member_days, ..
            } if *new_member_days > MAX_HOLD_DAYS => {
                return Err(InputError::new(
                    "new member days",
                    format!("at most {MAX_HOLD_DAYS}"),
                ));
            }
            Action::SlowMode { seconds, off_duty }
                if *seconds > MAX_SLOW_SECS || *off_duty > MAX_SLOW_SECS =>
            {
                return Err(InputError::new(
                    "slow mode",
                    format!("at most {MAX_SLOW_SECS} seconds between posts"),
                ));
            }
            Action::Rules { text } => {
                not_blank("rules", text)?;
                too_long("rules", text, MAX_RULES_CHARS)?;
            }
            Action::Ending {
                ends_at,
                farewell_days,
                next,
            } => {
                too_long("next", next, MAX_RULES_CHARS)?;
                if *ends_at != 0 && *ends_at <= self.at {
                    return Err(InputError::new(
                        "ends",
                        "a group's end must be in the future",
                    ));
                }
                if *farewell_days > MAX_FAREWELL_DAYS {
                    return Err(InputError::new(
                        "farewell days",
                        format!("at most {MAX_FAREWELL_DAYS}"),
                    ));
                }
            }
            Action::Carry { records } => {
                if !top {
                    return Err(InputError::new("carry", "a carry cannot hold a carry"));
                }
                if records.len() > MAX_CARRIED {
                    return Err(InputError::new(
                        "carry",
                        format!("at most {MAX_CARRIED} records"),
                    ));
                }
                for c in records {
                    too_long("reason", &c.record.why, MAX_REASON_CHARS)?;
                    c.record.validate_action(false)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("CBOR into memory");
        out
    }

    /// Decodes and validates a received record; `None` for anything malformed.
    pub fn decode(bytes: &[u8]) -> Option<ModRecord> {
        if bytes.len() > 256 * 1024 {
            return None;
        }
        let r: ModRecord = ciborium::from_reader(bytes).ok()?;
        r.validate().ok()?;
        Some(r)
    }
}

/// A record as a device holds it: who wrote it (for a carried record, its original writer),
/// in which chapter it arrived, and whether it arrived carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub id: RecordId,
    pub by: DeviceId,
    pub chapter: u32,
    pub carried: bool,
    pub record: ModRecord,
}

impl Held {
    /// The records this one stands for: itself, or for a carry the records it carries.
    pub fn flatten(self) -> Vec<Held> {
        match self.record.action {
            Action::Carry { records } => records
                .into_iter()
                .filter(|c| !matches!(c.record.action, Action::Carry { .. }))
                .map(|c| Held {
                    id: c.id,
                    by: c.by,
                    chapter: self.chapter,
                    carried: true,
                    record: c.record,
                })
                .collect(),
            _ => vec![self],
        }
    }
}

/// Who decided something about a message, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub by: DeviceId,
    pub at: i64,
    pub why: String,
}

/// A moderator's correction under a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Correction {
    pub by: DeviceId,
    pub at: i64,
    pub text: String,
}

/// A pinned resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub id: RecordId,
    pub by: DeviceId,
    pub at: i64,
    pub resource: Resource,
}

/// Review outcome of a held post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Review {
    Approved,
    Rejected,
}

/// The group's rules as currently set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rules {
    pub id: RecordId,
    pub by: DeviceId,
    pub at: i64,
    pub text: String,
}

/// The moderation state of a group: the fold of every record it holds.
#[derive(Debug, Clone, Default)]
pub struct ModState {
    /// Messages currently hidden by a moderator (hide or reject), with the decision.
    pub hidden: HashMap<MessageId, Decision>,
    pub corrections: HashMap<MessageId, Correction>,
    pub reviewed: HashMap<MessageId, (Review, Decision)>,
    pub pins: BTreeMap<RecordId, Pin>,
    /// Per member, the spans she was muted for: `[from, until)`, newest last.
    pub mutes: BTreeMap<DeviceId, Vec<(i64, i64, Decision)>>,
    /// Spans during which every post was held: `[from, until)`; `None`: still on.
    pub group_hold: Vec<(i64, Option<i64>)>,
    pub new_member_days: u32,
    pub slow_secs: u32,
    pub off_duty_slow_secs: u32,
    pub rules: Option<Rules>,
    /// Each moderator's duty as she last set it, with when.
    pub duty: BTreeMap<DeviceId, (bool, i64)>,
    /// Each member's newest acceptance: which rules.
    pub accepted: BTreeMap<DeviceId, RecordId>,
    /// The planned ending, if any.
    pub ending: Option<Ending>,
    /// The stage moderators last set (antenatal until they say otherwise), by whom and when.
    pub stage: Option<(Stage, DeviceId, i64)>,
    /// Volunteers and coordinators only (a debrief group), as moderators last set it.
    pub volunteers_only: bool,
    /// Every moderator action, oldest first (acceptances are not listed).
    pub audit: Vec<Held>,
}

/// Where a group is in its members' journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Babies not yet born: the group's first stage.
    Antenatal,
    /// Babies arriving or arrived: the group carries on after the births.
    Postnatal,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Antenatal => "antenatal",
            Stage::Postnatal => "postnatal",
        }
    }

    pub fn parse(s: &str) -> std::result::Result<Stage, InputError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "antenatal" => Ok(Stage::Antenatal),
            "postnatal" => Ok(Stage::Postnatal),
            other => Err(InputError::new(
                "stage",
                format!("{other:?} is not a stage; use antenatal or postnatal"),
            )),
        }
    }
}

/// A group's planned ending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ending {
    pub by: DeviceId,
    pub set_at: i64,
    /// From this time the group is read-only.
    pub ends_at: i64,
    pub farewell_days: u32,
    /// What comes next (a follow-on group, a volunteer), in the moderator's words.
    pub next: String,
}

impl Ending {
    /// When the farewell period starts.
    pub fn farewell_from(&self) -> i64 {
        self.ends_at - i64::from(self.farewell_days) * DAY_MS
    }
}

impl ModState {
    /// Folds records (in any order, duplicates allowed) into the state. Order is the records'
    /// own time, then id, so every device that holds the same records reaches the same state.
    pub fn fold(records: impl IntoIterator<Item = Held>) -> ModState {
        let mut by_id: BTreeMap<RecordId, Held> = BTreeMap::new();
        for held in records.into_iter().flat_map(Held::flatten) {
            match by_id.get(&held.id) {
                // Prefer the record as its writer wrote it over a carried copy.
                Some(existing) if existing.carried && !held.carried => {
                    by_id.insert(held.id, held);
                }
                Some(_) => {}
                None => {
                    by_id.insert(held.id, held);
                }
            }
        }
        let mut list: Vec<Held> = by_id.into_values().collect();
        list.sort_by_key(|h| (h.record.at, h.id));
        let mut s = ModState::default();
        for h in list {
            s.apply(&h);
            if h.record.action.needs_moderator() {
                s.audit.push(h);
            }
        }
        s
    }

    fn apply(&mut self, h: &Held) {
        let r = &h.record;
        let decision = || Decision {
            by: h.by,
            at: r.at,
            why: r.why.clone(),
        };
        match &r.action {
            Action::Hide { message } => {
                self.hidden.insert(*message, decision());
            }
            Action::Restore { message } => {
                self.hidden.remove(message);
                if matches!(self.reviewed.get(message), Some((Review::Rejected, _))) {
                    self.reviewed
                        .insert(*message, (Review::Approved, decision()));
                }
            }
            Action::Correct { message, text } => {
                if text.is_empty() {
                    self.corrections.remove(message);
                } else {
                    self.corrections.insert(
                        *message,
                        Correction {
                            by: h.by,
                            at: r.at,
                            text: text.clone(),
                        },
                    );
                }
            }
            Action::Pin { resource } => {
                self.pins.insert(
                    h.id,
                    Pin {
                        id: h.id,
                        by: h.by,
                        at: r.at,
                        resource: resource.clone(),
                    },
                );
            }
            Action::Unpin { pin } => {
                self.pins.remove(pin);
            }
            Action::Mute { member, until } => {
                let spans = self.mutes.entry(*member).or_default();
                cut_spans(spans, r.at);
                spans.push((r.at, *until, decision()));
            }
            Action::Unmute { member } => {
                if let Some(spans) = self.mutes.get_mut(member) {
                    cut_spans(spans, r.at);
                }
            }
            Action::Hold {
                group,
                new_member_days,
            } => {
                self.new_member_days = *new_member_days;
                let open = self.group_hold.last().is_some_and(|(_, u)| u.is_none());
                match (open, *group) {
                    (false, true) => self.group_hold.push((r.at, None)),
                    (true, false) => {
                        if let Some(last) = self.group_hold.last_mut() {
                            last.1 = Some(r.at);
                        }
                    }
                    _ => {}
                }
            }
            Action::Approve { message } => {
                self.reviewed
                    .insert(*message, (Review::Approved, decision()));
            }
            Action::Reject { message } => {
                self.reviewed
                    .insert(*message, (Review::Rejected, decision()));
                self.hidden.insert(*message, decision());
            }
            Action::SlowMode { seconds, off_duty } => {
                self.slow_secs = *seconds;
                self.off_duty_slow_secs = *off_duty;
            }
            Action::Rules { text } => {
                self.rules = Some(Rules {
                    id: h.id,
                    by: h.by,
                    at: r.at,
                    text: text.clone(),
                });
            }
            Action::Duty { on } => {
                self.duty.insert(h.by, (*on, r.at));
            }
            Action::Ending {
                ends_at,
                farewell_days,
                next,
            } => {
                self.ending = (*ends_at != 0).then(|| Ending {
                    by: h.by,
                    set_at: r.at,
                    ends_at: *ends_at,
                    farewell_days: *farewell_days,
                    next: next.clone(),
                });
            }
            Action::Stage { stage } => {
                self.stage = Some((*stage, h.by, r.at));
            }
            Action::Audience { volunteers_only } => {
                self.volunteers_only = *volunteers_only;
            }
            Action::Accept { rules } => {
                self.accepted.insert(h.by, *rules);
            }
            Action::Carry { .. } => {} // flattened before folding
        }
    }

    /// Whether `member` is muted at `at`, and by which decision.
    pub fn muted_at(&self, member: &DeviceId, at: i64) -> Option<(&Decision, i64)> {
        self.mutes
            .get(member)?
            .iter()
            .rev()
            .find(|(from, until, _)| *from <= at && at < *until)
            .map(|(_, until, d)| (d, *until))
    }

    /// Whether the group had ended (read-only) at `at`.
    pub fn ended_at(&self, at: i64) -> bool {
        self.ending.as_ref().is_some_and(|e| at >= e.ends_at)
    }

    /// Whether every post was held at `at`.
    pub fn group_held_at(&self, at: i64) -> bool {
        self.group_hold
            .iter()
            .any(|(from, until)| *from <= at && until.is_none_or(|u| at < u))
    }

    /// Whether the group holds every post now.
    pub fn holding_all(&self) -> bool {
        self.group_hold.last().is_some_and(|(_, u)| u.is_none())
    }

    /// The moderators on duty among `moderators`.
    pub fn on_duty<'a>(
        &'a self,
        moderators: &'a [DeviceId],
    ) -> impl Iterator<Item = DeviceId> + 'a {
        moderators
            .iter()
            .copied()
            .filter(|d| self.duty.get(d).is_some_and(|(on, _)| *on))
    }

    /// Seconds a member must wait between posts now, given whether anyone is on duty.
    pub fn slow_mode(&self, anyone_on_duty: bool) -> u32 {
        if anyone_on_duty {
            self.slow_secs
        } else {
            self.slow_secs.max(self.off_duty_slow_secs)
        }
    }

    /// Whether `member` must accept the current rules before posting.
    pub fn must_accept(&self, member: &DeviceId) -> bool {
        self.rules
            .as_ref()
            .is_some_and(|r| self.accepted.get(member) != Some(&r.id))
    }

    /// The records still shaping the group at `now`, to carry into a new chapter: the rules,
    /// pins, mutes not yet over, the newest settings, and each moderator's duty.
    pub fn live_records(&self, now: i64) -> Vec<Carried> {
        let mut live: BTreeMap<RecordId, Carried> = BTreeMap::new();
        let mut newest_setting: HashMap<&'static str, &Held> = HashMap::new();
        let mut duty: HashMap<DeviceId, &Held> = HashMap::new();
        for h in &self.audit {
            match &h.record.action {
                Action::Rules { .. } if self.rules.as_ref().is_some_and(|r| r.id == h.id) => {
                    live.insert(h.id, carried(h));
                }
                Action::Pin { .. } if self.pins.contains_key(&h.id) => {
                    live.insert(h.id, carried(h));
                }
                Action::Mute { member, until }
                    if *until > now
                        && self
                            .muted_at(member, now)
                            .is_some_and(|(d, _)| d.at == h.record.at && d.by == h.by) =>
                {
                    live.insert(h.id, carried(h));
                }
                Action::Hold { .. }
                | Action::SlowMode { .. }
                | Action::Ending { .. }
                | Action::Stage { .. }
                | Action::Audience { .. } => {
                    newest_setting.insert(h.record.action.name(), h);
                }
                Action::Duty { .. } => {
                    duty.insert(h.by, h);
                }
                _ => {}
            }
        }
        for h in newest_setting.into_values().chain(duty.into_values()) {
            live.insert(h.id, carried(h));
        }
        let mut out: Vec<Carried> = live.into_values().collect();
        out.sort_by_key(|c| (c.record.at, c.id));
        out
    }
}

/// How moderation shapes one message for one viewer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overlay {
    /// Whether the viewer sees the message at all (a held post shows only to moderators and
    /// its author).
    pub visible: bool,
    /// Hidden by a moderator (hide or reject), or posted while its author was muted.
    pub hidden: bool,
    /// Whether the viewer may read the text: not hidden, or she is its author or a moderator.
    pub show_text: bool,
    /// Waiting for a moderator's approval.
    pub held: bool,
    /// Why, for the author and moderators only.
    pub note: Option<String>,
}

/// The message and viewer facts [`ModState::overlay`] needs.
pub struct Seen<'a> {
    pub id: &'a MessageId,
    pub author: &'a DeviceId,
    pub stamp: i64,
    /// The author is a moderator now.
    pub author_moderator: bool,
    /// When the author was admitted (0: unknown, e.g. a former member).
    pub author_admitted_at: i64,
    pub viewer: &'a DeviceId,
    pub viewer_moderator: bool,
}

const DAY_MS: i64 = 24 * 3_600_000;

impl ModState {
    /// Applies hides, review and mutes to one message as one viewer sees it.
    pub fn overlay(&self, m: &Seen<'_>) -> Overlay {
        let privileged = m.viewer_moderator || m.viewer == m.author;
        let reviewed = self.reviewed.get(m.id);
        let new_member = self.new_member_days > 0
            && m.author_admitted_at > 0
            && m.stamp < m.author_admitted_at + i64::from(self.new_member_days) * DAY_MS;
        let held = !m.author_moderator
            && reviewed.is_none()
            && (self.group_held_at(m.stamp) || new_member);
        let mut note = None;
        let mut hidden = false;
        if let Some(d) = self.hidden.get(m.id) {
            hidden = true;
            note = Some(if d.why.is_empty() {
                "removed by a moderator".to_string()
            } else {
                format!("removed by a moderator: {}", d.why)
            });
        } else if self.ended_at(m.stamp) {
            // Written after the group became read-only: only a tampered client does that.
            hidden = true;
            note = Some("written after the group ended".to_string());
        } else if let Some((d, _)) = self.muted_at(m.author, m.stamp) {
            hidden = true;
            note = Some(if d.why.is_empty() {
                "posted while muted".to_string()
            } else {
                format!("posted while muted: {}", d.why)
            });
        } else if held {
            note = Some("waiting for a moderator to approve it".to_string());
        }
        Overlay {
            visible: !held || privileged,
            hidden,
            show_text: !hidden || privileged,
            held,
            note: note.filter(|_| privileged),
        }
    }
}

fn carried(h: &Held) -> Carried {
    Carried {
        id: h.id,
        by: h.by,
        record: h.record.clone(),
    }
}

/// Ends every mute span still running at `at`.
fn cut_spans(spans: &mut [(i64, i64, Decision)], at: i64) {
    for s in spans.iter_mut() {
        if s.0 <= at && at < s.1 {
            s.1 = at;
        }
    }
}

#[cfg(test)]
mod tests;
