//! Safety on the [`Companion`]: alerts a member chooses to send her moderators, the help card
//! (offline, per region), and the EPDS self-check — private on the device, with a history,
//! shared with a named moderator only by the mother's own explicit choice each time.

use serde::{Deserialize, Serialize};

use hearth_safety::detect::{Assessment, Category, Level};
use hearth_safety::epds::{self, Answers, Content, Flag, Score};
use hearth_safety::escalation::{Ladder, Severity};
use hearth_safety::helpcard::{HelpCard, HelpCards, HelpLine, Situation};

use crate::companion::Companion;
use crate::error::{Error, InputError, Result};
use crate::group::storage;
use crate::group::GroupId;
use crate::identity::Role;
use crate::moderation::actions::moderators;
use crate::sync::resolve_member;

use super::views::{alert_progress, fold, ladder_alert};
use super::{store, NoteBody, NoteId};

const REGION_KEY: &str = "help_region";
const EPDS_CONTENT_KEY: &str = "epds_content";
const HELP_CARDS_KEY: &str = "help_cards";

/// The sample cards built into the app, parsed once per process: the duty banner is part of
/// the moderation view, which shells re-read after every change.
fn builtin_cards() -> &'static HelpCards {
    static CARDS: std::sync::OnceLock<HelpCards> = std::sync::OnceLock::new();
    CARDS.get_or_init(HelpCards::builtin)
}

/// A member's own alert, as she sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MyAlert {
    pub id: String,
    pub severity: Severity,
    pub categories: Vec<String>,
    pub raised_at: i64,
    /// "open", "acknowledged" or "resolved".
    pub state: &'static str,
    pub outcome: String,
    pub pending: bool,
}

/// One self-check, kept on this device only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfCheck {
    pub id: i64,
    pub taken_at: i64,
    pub answers: Answers,
    pub score: Score,
    /// Moderators she chose to share it with (pseudonyms), and when.
    #[serde(default)]
    pub shared_with: Vec<(String, i64)>,
}

#[derive(Serialize, Deserialize)]
struct StoredCheck {
    taken_at: i64,
    answers: Answers,
    score: Score,
    #[serde(default)]
    shared_with: Vec<(String, i64)>,
}

/// Where to get help now, for one situation: what the shell shows on a worrying draft, after a
/// self-check whose item 10 is positive, or as the banner while no moderator is on duty. It
/// comes from the help card that ships with the app, so it works offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelpNow {
    pub situation: Situation,
    /// A supportive word, in the card's language.
    pub message: String,
    pub emergency: String,
    /// For red flags: what to do first (the maternity unit's triage line).
    pub maternity_triage: Option<String>,
    pub lines: Vec<HelpLine>,
    pub region: String,
    /// The card's own note (like how emergency numbers differ between countries).
    pub note: Option<String>,
    /// Set when the card is a sample whose numbers a programme has not verified.
    pub notice: Option<String>,
}

impl HelpNow {
    fn new(card: &HelpCard, notice: Option<&str>, situation: Situation) -> HelpNow {
        let help = card.for_situation(situation);
        HelpNow {
            situation,
            message: help.message.to_string(),
            emergency: help.emergency.to_string(),
            maternity_triage: help.maternity_triage.map(str::to_string),
            lines: help.lines.into_iter().cloned().collect(),
            region: card.region.clone(),
            note: help.note.map(str::to_string),
            notice: notice.map(str::to_string),
        }
    }
}

/// What the detector found in a draft, and what to offer her. Nothing is sent or hidden: the
/// shell shows `help` with a choice to alert her moderators (`raise_alert` with `severity`)
/// or to carry on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DraftCheck {
    pub level: Level,
    pub categories: Vec<String>,
    pub red_flags: Vec<String>,
    /// The supportive prompt and help card; `None` when the level is none.
    pub help: Option<HelpNow>,
    /// The severity to alert with, if she chooses to; `None` when the level is none.
    pub severity: Option<Severity>,
    /// The group has a moderator (other than her) she can alert.
    pub can_alert: bool,
}

/// The help-card situation for what the detector found: the most serious first.
pub(crate) fn situation_for(assessment: &Assessment) -> Option<Situation> {
    if assessment.level == Level::None {
        return None;
    }
    let has = |c: Category| assessment.categories.contains(&c);
    Some(if has(Category::SelfHarm) {
        Situation::SelfHarm
    } else if has(Category::HarmToBaby) {
        Situation::HarmToBaby
    } else if has(Category::RedFlag) || has(Category::Psychosis) {
        // Postpartum psychosis is a medical emergency: urgent care, as for a red flag.
        Situation::RedFlag
    } else if has(Category::DomesticAbuse) {
        Situation::DomesticAbuse
    } else {
        Situation::LowMood
    })
}

impl Companion {
    /// Checks a draft as she writes it, on this device only. A worrying draft gets a
    /// supportive prompt and the help card; she decides whether to alert her moderators.
    pub fn check_draft(&self, group: &GroupId, text: &str) -> Result<DraftCheck> {
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let me = self.profile.keys.device_id();
        let assessment = crate::filters::detector().scan(text);
        let help = match situation_for(&assessment) {
            Some(situation) => Some(self.help_now(situation)?),
            None => None,
        };
        Ok(DraftCheck {
            level: assessment.level,
            categories: crate::filters::category_names(&assessment),
            red_flags: assessment
                .red_flags
                .iter()
                .map(|f| f.as_str().to_string())
                .collect(),
            help,
            severity: match assessment.level {
                Level::None => None,
                Level::Concern => Some(Severity::Concern),
                Level::Urgent => Some(Severity::Urgent),
            },
            can_alert: moderators(&summary.members).iter().any(|d| *d != me),
        })
    }

    /// Where to get help now for `situation`, from this profile's region's help card.
    pub fn help_now(&self, situation: Situation) -> Result<HelpNow> {
        let cards = self.help_cards()?;
        Ok(HelpNow::new(
            self.region_card(&cards)?,
            cards.notice(),
            situation,
        ))
    }

    /// The banner a group shows while no moderator is on duty: crisis lines and the
    /// emergency number, with the maternity triage advice too (a red flag cannot wait for a
    /// moderator either).
    pub(crate) fn duty_banner(&self) -> Result<HelpNow> {
        let cards = self.help_cards()?;
        let card = self.region_card(&cards)?;
        let mut banner = HelpNow::new(card, cards.notice(), Situation::LowMood);
        banner.maternity_triage = Some(card.maternity_triage.clone());
        Ok(banner)
    }

    /// Alerts the group's moderators (sealed to them) that this member needs help: what she
    /// chose to share of her draft, and the detector's categories. Never sent without her
    /// asking.
    pub fn raise_alert(
        &mut self,
        group: &GroupId,
        severity: Severity,
        categories: &[String],
        shared_text: &str,
    ) -> Result<NoteId> {
        let to = self.other_moderators(
            group,
            "this group has no other moderator to alert; use the help card to get help now",
        )?;
        self.send_note(
            group,
            &to,
            NoteBody::Alert {
                severity,
                categories: categories.to_vec(),
                shared_text: shared_text.trim().to_string(),
                has_volunteer: false,
            },
        )
    }

    /// This member's alerts in a group, newest first, with where each stands.
    pub fn my_alerts(&self, group: &GroupId) -> Result<Vec<MyAlert>> {
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        let now = self.clock.now_ms();
        let pending = store::waiting_notes(self.store.conn(), self.store.cipher(), row)?;
        let folded = fold(store::notes(self.store.conn(), self.store.cipher(), row)?);
        let ladder = Ladder::default();
        let mut out: Vec<MyAlert> = folded
            .alerts
            .values()
            .filter(|(a, _)| a.from == me)
            .filter_map(|(a, updates)| {
                let NoteBody::Alert {
                    severity,
                    categories,
                    ..
                } = &a.body
                else {
                    return None;
                };
                let status = ladder.status(&ladder_alert(a, updates)?, now);
                let (state, outcome) = alert_progress(&status, updates);
                Some(MyAlert {
                    id: a.id.to_hex(),
                    severity: *severity,
                    categories: categories.clone(),
                    raised_at: a.at,
                    state,
                    outcome,
                    pending: pending.contains(&a.id),
                })
            })
            .collect();
        out.sort_by_key(|a| std::cmp::Reverse(a.raised_at));
        Ok(out)
    }

    // ---- help card

    /// The help cards in use: the programme's, if it installed its own file
    /// ([`Companion::install_help_cards`]), otherwise the sample cards that ship with the app.
    pub fn help_cards(&self) -> Result<HelpCards> {
        let installed: Option<String> =
            store::setting(self.store.conn(), self.store.cipher(), HELP_CARDS_KEY)?;
        match installed {
            Some(json) => HelpCards::from_json(&json)
                .map_err(|e| InputError::new("help cards", e.to_string()).into()),
            None => Ok(builtin_cards().clone()),
        }
    }

    /// Installs the programme's help-card file (its JSON, checked first), so numbers can be
    /// corrected without a new build. It must keep a card for every region a profile on this
    /// device has chosen.
    pub fn install_help_cards(&mut self, json: &str) -> Result<()> {
        let cards =
            HelpCards::from_json(json).map_err(|e| InputError::new("help cards", e.to_string()))?;
        let region: Option<String> =
            store::setting(self.store.conn(), self.store.cipher(), REGION_KEY)?;
        if let Some(r) = region {
            if !cards
                .cards()
                .iter()
                .any(|c| c.region.eq_ignore_ascii_case(&r))
            {
                return Err(InputError::new(
                    "help cards",
                    format!("the file has no card for {r:?}, the region this profile uses"),
                )
                .into());
            }
        }
        self.store
            .write(|w| store::put_setting(w, HELP_CARDS_KEY, &json.to_string()))?;
        Ok(())
    }

    /// The help card for this profile's region (set with [`Companion::set_help_region`];
    /// the default card until then). Works offline: it is on the device.
    pub fn help_card(&self) -> Result<HelpCard> {
        Ok(self.region_card(&self.help_cards()?)?.clone())
    }

    /// This profile's region's card among `cards`.
    fn region_card<'a>(&self, cards: &'a HelpCards) -> Result<&'a HelpCard> {
        let region: Option<String> =
            store::setting(self.store.conn(), self.store.cipher(), REGION_KEY)?;
        Ok(cards.for_region(region.as_deref().unwrap_or("default")))
    }

    /// Sets the region whose help card this profile shows (like "GB" or "ES").
    pub fn set_help_region(&mut self, region: &str) -> Result<()> {
        let region = region.trim().to_ascii_uppercase();
        let cards = self.help_cards()?;
        if !cards
            .cards()
            .iter()
            .any(|c| c.region.eq_ignore_ascii_case(&region))
        {
            return Err(InputError::new(
                "region",
                format!(
                    "no help card for {region:?}; this build has {}",
                    cards
                        .cards()
                        .iter()
                        .map(|c| c.region.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into());
        }
        self.store
            .write(|w| store::put_setting(w, REGION_KEY, &region))?;
        Ok(())
    }

    // ---- EPDS self-check

    /// The self-check's questions: the programme's licensed content if installed, else the
    /// sample in `language` (clearly marked as a sample).
    pub fn epds_content(&self, language: &str) -> Result<Content> {
        let installed: Option<String> =
            store::setting(self.store.conn(), self.store.cipher(), EPDS_CONTENT_KEY)?;
        if let Some(json) = installed {
            return Content::from_json(&json)
                .map_err(|e| Error::Input(InputError::new("epds content", e.to_string())));
        }
        epds::sample_content(language).ok_or_else(|| {
            InputError::new(
                "language",
                format!("no self-check content in {language:?}; install the programme's file"),
            )
            .into()
        })
    }

    /// Installs the programme's self-check content (its JSON file), checked first.
    pub fn install_epds_content(&mut self, json: &str) -> Result<()> {
        Content::from_json(json)
            .map_err(|e| Error::Input(InputError::new("epds content", e.to_string())))?;
        self.store
            .write(|w| store::put_setting(w, EPDS_CONTENT_KEY, &json.to_string()))?;
        Ok(())
    }

    /// Scores a completed self-check and keeps it, privately, in this device's history. If
    /// item 10 scored above 0 the result says so (`safety_pathway`): the shell shows the help
    /// card at once and offers to alert her moderators.
    pub fn take_epds(&mut self, answers: &Answers, language: &str) -> Result<SelfCheck> {
        let content = self.epds_content(language)?;
        let score = content.score(answers);
        let taken_at = self.clock.now_ms();
        let stored = StoredCheck {
            taken_at,
            answers: *answers,
            score: score.clone(),
            shared_with: Vec::new(),
        };
        let id = self.store.write(|w| store::add_self_check(w, &stored))?;
        Ok(SelfCheck {
            id,
            taken_at,
            answers: *answers,
            score,
            shared_with: Vec::new(),
        })
    }

    /// Every self-check kept on this device, oldest first.
    pub fn epds_history(&self) -> Result<Vec<SelfCheck>> {
        Ok(
            store::self_checks::<StoredCheck>(self.store.conn(), self.store.cipher())?
                .into_iter()
                .map(|(id, c)| SelfCheck {
                    id,
                    taken_at: c.taken_at,
                    answers: c.answers,
                    score: c.score,
                    shared_with: c.shared_with,
                })
                .collect(),
        )
    }

    /// Shares one self-check result (total and flags, not the answers) with one named
    /// moderator of a group. Calling this is the mother's consent, for this result and this
    /// moderator only.
    pub fn share_epds(&mut self, check: i64, group: &GroupId, moderator: &str) -> Result<NoteId> {
        let history = self.epds_history()?;
        let c = history
            .iter()
            .find(|c| c.id == check)
            .ok_or_else(|| InputError::new("check", format!("no self-check {check} here")))?
            .clone();
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let target = resolve_member(&summary.members, moderator)?.clone();
        if target.role != Role::Moderator {
            return Err(InputError::new(
                "moderator",
                format!("{} is not a moderator of this group", target.name),
            )
            .into());
        }
        let flags: Vec<String> = c
            .score
            .flags
            .iter()
            .map(|f| match f {
                Flag::PossibleDepression => "possible_depression",
                Flag::ProbableDepression => "probable_depression",
                Flag::SelfHarm => "self_harm",
            })
            .map(String::from)
            .collect();
        let id = self.send_note(
            group,
            &[target.device],
            NoteBody::Epds {
                total: c.score.total,
                item10_positive: c.score.item10_positive,
                flags,
                taken_at: c.taken_at,
            },
        )?;
        let now = self.clock.now_ms();
        let mut stored = StoredCheck {
            taken_at: c.taken_at,
            answers: c.answers,
            score: c.score,
            shared_with: c.shared_with,
        };
        stored.shared_with.push((target.name.clone(), now));
        self.store
            .write(|w| store::put_self_check(w, check, &stored))?;
        Ok(id)
    }
}
