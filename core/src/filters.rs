//! Content filters: each member chooses topics she would rather not see plainly (pregnancy
//! loss, birth trauma, low mood, medical detail) and whether messages the risk detector finds
//! distressing are blurred for her. The choice is hers alone and stays on her device; nothing
//! is hidden from anyone else, and the author is never told.
//!
//! A filtered message stays in the timeline with its text, marked blur or hide and the
//! topics that caused it; the shell draws a blurred bubble or a one-line "hidden by your
//! filters" row that opens on a tap. Her own messages are never filtered. The detector runs
//! on the device (the same one that checks drafts), and only when she has chosen a filter.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use hearth_safety::detect::{Assessment, Detector, Topic};

use crate::companion::Companion;
use crate::error::{InputError, Result};
use crate::notes::store;

const FILTERS_KEY: &str = "content_filters";

/// The on-device risk detector (English and Spanish), compiled once per process.
pub(crate) fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(Detector::builtin)
}

/// What to do with a message on a filtered topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterMode {
    /// Shown as usual.
    #[default]
    Show,
    /// Shown blurred until she taps it.
    Blur,
    /// Collapsed to a one-line row until she taps it.
    Hide,
}

impl FilterMode {
    pub const ALL: [FilterMode; 3] = [FilterMode::Show, FilterMode::Blur, FilterMode::Hide];

    pub fn as_str(self) -> &'static str {
        match self {
            FilterMode::Show => "show",
            FilterMode::Blur => "blur",
            FilterMode::Hide => "hide",
        }
    }

    pub fn parse(s: &str) -> std::result::Result<FilterMode, InputError> {
        let s = s.trim().to_ascii_lowercase();
        FilterMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                InputError::new(
                    "mode",
                    format!("{s:?} is not a filter mode; use show, blur or hide"),
                )
            })
    }
}

/// The name of the filter for messages the detector finds distressing (any topic).
pub const DISTRESSING: &str = "distressing";

/// A member's content filters. Topics not listed are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentFilters {
    /// Per topic (`loss`, `birth_trauma`, `low_mood`, `medical_detail`).
    #[serde(default)]
    pub topics: BTreeMap<String, FilterMode>,
    /// Messages the detector finds distressing (concern or urgent), whatever their topic.
    #[serde(default)]
    pub distressing: FilterMode,
}

impl ContentFilters {
    /// Whether any filter is on (if none is, messages are not scanned for the timeline).
    pub fn any(&self) -> bool {
        self.distressing != FilterMode::Show || self.topics.values().any(|m| *m != FilterMode::Show)
    }

    /// What this member's filters do to a message with `text` and the author's `warning`,
    /// given the detector's view of both.
    pub fn apply(&self, assessment: &Assessment) -> Option<Filtered> {
        let mut mode = FilterMode::Show;
        let mut reasons = Vec::new();
        for topic in &assessment.topics {
            let m = self.topics.get(topic.as_str()).copied().unwrap_or_default();
            if m != FilterMode::Show {
                mode = mode.max(m);
                reasons.push(topic.as_str().to_string());
            }
        }
        if assessment.is_distressing() && self.distressing != FilterMode::Show {
            mode = mode.max(self.distressing);
            reasons.push(DISTRESSING.to_string());
        }
        (mode != FilterMode::Show).then_some(Filtered { mode, reasons })
    }
}

/// Why a message is blurred or hidden for this member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filtered {
    pub mode: FilterMode,
    /// The filters it matched: topic names, or `distressing`.
    pub reasons: Vec<String>,
}

/// The detector's view of a message and its author's content warning together: a warning
/// that says "loss" puts the message under the loss filter even if its text does not.
pub(crate) fn assess(text: &str, warning: Option<&str>) -> Assessment {
    match warning {
        Some(w) if !w.trim().is_empty() => detector().scan(&format!("{w}\n{text}")),
        _ => detector().scan(text),
    }
}

/// The detector's categories as the names stored and shown (`self_harm`, `red_flag`, …).
pub(crate) fn category_names(assessment: &Assessment) -> Vec<String> {
    assessment
        .categories
        .iter()
        .map(|c| c.as_str().to_string())
        .collect()
}

impl Companion {
    /// This member's content filters.
    pub fn content_filters(&self) -> Result<ContentFilters> {
        Ok(
            store::setting(self.store.conn(), self.store.cipher(), FILTERS_KEY)?
                .unwrap_or_default(),
        )
    }

    /// Sets one filter: `topic` is `loss`, `birth_trauma`, `low_mood`, `medical_detail` or
    /// `distressing`; `mode` is show, blur or hide.
    pub fn set_content_filter(&mut self, topic: &str, mode: FilterMode) -> Result<ContentFilters> {
        let topic = topic.trim().to_ascii_lowercase();
        let mut filters = self.content_filters()?;
        if topic == DISTRESSING {
            filters.distressing = mode;
        } else if Topic::from_name(&topic).is_some() {
            if mode == FilterMode::Show {
                filters.topics.remove(&topic);
            } else {
                filters.topics.insert(topic, mode);
            }
        } else {
            return Err(InputError::new(
                "topic",
                format!(
                    "{topic:?} is not a filter; use {}, or {DISTRESSING}",
                    Topic::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into());
        }
        self.store
            .write(|w| store::put_setting(w, FILTERS_KEY, &filters))?;
        Ok(filters)
    }
}
