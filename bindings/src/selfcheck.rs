//! The EPDS self-check on [`HearthCompanion`]: the form to draw (in her language, from the
//! content a programme installed or the built-in sample), scoring and keeping a result on this
//! device only, her history, and installing a programme's content and help cards. Sharing a
//! result with a moderator is on the group (`GroupTimeline::share_self_check`).

use hearth_safety::epds::{Answers, EpdsError, Flag};

use crate::companion::HearthCompanion;
use crate::error::{HearthError, Result};

/// One question and its four options, top (0) to bottom (3).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SelfCheckItem {
    pub text: String,
    pub options: Vec<String>,
}

/// The self-check form to draw.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SelfCheckForm {
    pub language: String,
    pub title: String,
    pub intro: String,
    pub items: Vec<SelfCheckItem>,
    /// The built-in sample wording, not a licensed translation a programme installed.
    pub sample: bool,
    /// What to show with a sample form.
    pub notice: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SelfCheckFlag {
    PossibleDepression,
    ProbableDepression,
    /// Item 10 (thoughts of self-harm) scored above 0: show the help card now and offer to
    /// alert her moderators, whatever the total.
    SelfHarm,
}

/// One scored self-check, kept on this device only.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SelfCheck {
    pub id: i64,
    pub taken_at_ms: i64,
    /// The option she chose for each item, item 1 first (0 = top option).
    pub answers: Vec<u8>,
    /// 0–30.
    pub total: u8,
    pub item10_positive: bool,
    /// Self-harm first if present, then at most one depression flag.
    pub flags: Vec<SelfCheckFlag>,
    /// Moderators she chose to share it with (pseudonyms).
    pub shared_with: Vec<String>,
}

impl From<hearth_core::notes::safety::SelfCheck> for SelfCheck {
    fn from(c: hearth_core::notes::safety::SelfCheck) -> Self {
        SelfCheck {
            id: c.id,
            taken_at_ms: c.taken_at,
            answers: c.answers.into(),
            total: c.score.total,
            item10_positive: c.score.item10_positive,
            flags: c
                .score
                .flags
                .iter()
                .map(|f| match f {
                    Flag::PossibleDepression => SelfCheckFlag::PossibleDepression,
                    Flag::ProbableDepression => SelfCheckFlag::ProbableDepression,
                    Flag::SelfHarm => SelfCheckFlag::SelfHarm,
                })
                .collect(),
            shared_with: c.shared_with.into_iter().map(|(name, _)| name).collect(),
        }
    }
}

fn answers(options: Vec<u8>) -> Result<Answers> {
    Answers::try_from(options).map_err(|e| match e {
        EpdsError::Answers { field, reason } => HearthError::input(&field, reason),
        other => HearthError::input("answers", other.to_string()),
    })
}

#[uniffi::export]
impl HearthCompanion {
    /// The self-check form in `language` (`en`, `es`, …).
    pub fn self_check_form(&self, language: String) -> Result<SelfCheckForm> {
        self.shared.read(|c| {
            let content = c.epds_content(&language)?;
            Ok(SelfCheckForm {
                language: content.language().to_string(),
                title: content.title().to_string(),
                intro: content.intro().to_string(),
                items: content
                    .items()
                    .iter()
                    .map(|i| SelfCheckItem {
                        text: i.text().to_string(),
                        options: i.options().to_vec(),
                    })
                    .collect(),
                sample: content.is_sample(),
                notice: content.notice().map(String::from),
            })
        })
    }

    /// Scores a completed form (ten options, each 0–3, item 1 first) and keeps the result on
    /// this device only. Nothing leaves the device unless she shares it.
    pub fn take_self_check(&self, options: Vec<u8>, language: String) -> Result<SelfCheck> {
        let answers = answers(options)?;
        self.shared
            .change(|c| Ok(c.take_epds(&answers, &language)?.into()))
    }

    /// Her self-checks on this device, oldest first.
    pub fn self_check_history(&self) -> Result<Vec<SelfCheck>> {
        self.shared
            .read(|c| Ok(c.epds_history()?.into_iter().map(Into::into).collect()))
    }

    /// Installs a programme's licensed self-check content (JSON; docs/safety.md). It is
    /// checked first: a bad file changes nothing and the error names the problem.
    pub fn install_self_check_content(&self, json: String) -> Result<()> {
        self.shared.change(|c| c.install_epds_content(&json))
    }

    /// Installs a programme's help cards (JSON; docs/safety.md), replacing the built-in sample.
    /// The file must keep this profile's region.
    pub fn install_help_cards(&self, json: String) -> Result<()> {
        self.shared.change(|c| c.install_help_cards(&json))
    }
}
