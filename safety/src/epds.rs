//! Edinburgh Postnatal Depression Scale (EPDS): the scoring engine and the content file format.
//!
//! The scale has ten items about the past seven days, each answered by choosing one of four
//! options. How each item scores is fixed by the scale and lives here, in code: items 1, 2 and 4
//! score 0, 1, 2, 3 from the top option down; the other seven are reverse-scored 3, 2, 1, 0.
//! The wording, though, may only be reproduced with the publisher's permission, so questions and
//! options come from a [`Content`] file the programme supplies, together with its cut-offs (which
//! validation studies set per language and population). Hearth ships only a clearly marked sample
//! written in its own words ([`sample_content`]); it is not the EPDS and must be replaced.
//!
//! The failure this module guards against is a silently wrong score: a malformed answer string or
//! content file is an error naming the position or field, never a guess; and any positive answer
//! to item 10 (thoughts of self-harm) raises [`Flag::SelfHarm`] whatever the total, because that
//! answer alone calls for the safety pathway.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Number of items in the scale.
pub const ITEMS: usize = 10;
/// Number of options per item.
pub const OPTIONS: usize = 4;
/// Highest possible total (ten items, at most 3 each).
pub const MAX_TOTAL: u8 = 30;
/// The self-harm item (1-based).
pub const SELF_HARM_ITEM: usize = 10;

/// Which items (0-based index) are reverse-scored: top option scores 3. Fixed by the scale.
const REVERSED: [bool; ITEMS] = [
    false, false, true, false, true, true, true, true, true, true,
];

/// The bundled sample content, in our own words (not the EPDS wording).
const SAMPLE_EN: &str = include_str!("../data/epds-sample-en.json");
const SAMPLE_ES: &str = include_str!("../data/epds-sample-es.json");

/// Everything that can be wrong with answers or a content file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpdsError {
    /// A bad answer string or array; `field` is `answers` or `item N` (1-based).
    #[error("{field}: {reason}")]
    Answers {
        /// `answers` for the whole string, or `item N` for one position (1-based).
        field: String,
        /// What was found and what was expected.
        reason: String,
    },
    /// A content file that is not JSON of the expected shape.
    #[error("epds content: not valid JSON: {detail}")]
    Json {
        /// The parser's message, with line and column.
        detail: String,
    },
    /// A content file with a bad value; `field` is a JSON path such as `items[3].options`
    /// (0-based array indices, as in the file).
    #[error("epds content{}: {field}: {reason}", language.as_deref().map(|l| format!(" {l}")).unwrap_or_default())]
    Content {
        /// The file's declared language, once known.
        language: Option<String>,
        /// JSON path of the bad field.
        field: String,
        /// What was found and what was expected.
        reason: String,
    },
}

fn answers_error(field: impl Into<String>, reason: impl Into<String>) -> EpdsError {
    EpdsError::Answers {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The option chosen for each item, 0 for the top option; always ten options, each 0–3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
pub struct Answers([u8; ITEMS]);

impl Answers {
    /// Answers from the chosen options, item 1 first; each must be 0–3.
    pub fn new(options: [u8; ITEMS]) -> Result<Answers, EpdsError> {
        for (i, &option) in options.iter().enumerate() {
            if usize::from(option) >= OPTIONS {
                return Err(answers_error(
                    format!("item {}", i + 1),
                    format!("{option} is not an option (0–3)"),
                ));
            }
        }
        Ok(Answers(options))
    }

    /// Parses ten comma-separated options, item 1 first, such as `0,1,2,3,0,1,2,3,0,1`; spaces
    /// around each option are allowed. Errors name the item (1-based).
    pub fn parse(s: &str) -> Result<Answers, EpdsError> {
        if s.trim().is_empty() {
            return Err(answers_error(
                "answers",
                "empty; expected 10 options separated by commas, such as 0,1,2,3,0,1,2,3,0,1",
            ));
        }
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != ITEMS {
            return Err(answers_error(
                "answers",
                format!(
                    "expected 10 options separated by commas, found {}",
                    parts.len()
                ),
            ));
        }
        let mut options = [0u8; ITEMS];
        for (i, part) in parts.iter().enumerate() {
            let field = format!("item {}", i + 1);
            if part.is_empty() {
                return Err(answers_error(field, "missing; expected an option 0–3"));
            }
            // Only plain digits: `u8::from_str` would also take "+1".
            let option = match part.as_bytes() {
                [d @ b'0'..=b'3'] => d - b'0',
                _ => {
                    return Err(answers_error(
                        field,
                        format!("{part} is not an option (0–3)"),
                    ))
                }
            };
            options[i] = option;
        }
        Ok(Answers(options))
    }

    /// The chosen options, item 1 first.
    pub fn options(&self) -> [u8; ITEMS] {
        self.0
    }

    /// The option chosen for `item` (1-based), or `None` outside 1–10.
    pub fn option(&self, item: usize) -> Option<u8> {
        item.checked_sub(1).and_then(|i| self.0.get(i)).copied()
    }
}

impl FromStr for Answers {
    type Err = EpdsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Answers::parse(s)
    }
}

impl fmt::Display for Answers {
    /// The form [`Answers::parse`] reads: `0,1,2,3,0,1,2,3,0,1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, option) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{option}")?;
        }
        Ok(())
    }
}

impl TryFrom<Vec<u8>> for Answers {
    type Error = EpdsError;
    fn try_from(options: Vec<u8>) -> Result<Self, Self::Error> {
        let options: [u8; ITEMS] = options.try_into().map_err(|v: Vec<u8>| {
            answers_error("answers", format!("expected 10 options, found {}", v.len()))
        })?;
        Answers::new(options)
    }
}

impl From<Answers> for Vec<u8> {
    fn from(answers: Answers) -> Self {
        answers.0.to_vec()
    }
}

/// Totals at or above which a flag is raised. Set per programme and language in the content
/// file; validated there to 1–30 with `possible < probable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cutoffs {
    /// Total at or above which depression is possible (default 10).
    pub possible: u8,
    /// Total at or above which depression is probable (default 13).
    pub probable: u8,
}

impl Default for Cutoffs {
    fn default() -> Self {
        Cutoffs {
            possible: 10,
            probable: 13,
        }
    }
}

/// What a score calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Total at or above the `possible` cut-off but below `probable`.
    PossibleDepression,
    /// Total at or above the `probable` cut-off.
    ProbableDepression,
    /// Any score above 0 on item 10: start the safety pathway now, whatever the total.
    SelfHarm,
}

/// A scored form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Sum of the item scores, 0–30.
    pub total: u8,
    /// Each item's score (0–3), item 1 first.
    pub items: [u8; ITEMS],
    /// Item 10 (thoughts of self-harm) scored above 0.
    pub item10_positive: bool,
    /// [`Flag::SelfHarm`] first if item 10 is positive, then at most one depression flag: the
    /// highest reached ([`Flag::ProbableDepression`] replaces, never joins,
    /// [`Flag::PossibleDepression`]). Empty when nothing is flagged.
    pub flags: Vec<Flag>,
}

impl Score {
    /// Whether this form must start the safety pathway at once: item 10 scored above 0.
    pub fn safety_pathway(&self) -> bool {
        self.item10_positive
    }

    /// Whether `flag` was raised.
    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }
}

/// The score (0–3) of choosing `option` (0 = top) on `item` (1-based), by the scale's fixed
/// direction for that item.
///
/// # Panics
/// If `item` is not 1–10 or `option` is not 0–3: a programming error, since answers from people
/// reach this only through [`Answers`], which is always in range.
pub fn item_score(item: usize, option: u8) -> u8 {
    assert!(
        (1..=ITEMS).contains(&item),
        "EPDS item {item} does not exist (1–10)"
    );
    assert!(
        usize::from(option) < OPTIONS,
        "EPDS option {option} does not exist (0–3)"
    );
    if REVERSED[item - 1] {
        3 - option
    } else {
        option
    }
}

/// Scores a completed form against `cutoffs`. See [`Score::flags`] for which flags appear.
pub fn score(answers: &Answers, cutoffs: Cutoffs) -> Score {
    let mut items = [0u8; ITEMS];
    for (i, &option) in answers.0.iter().enumerate() {
        items[i] = item_score(i + 1, option);
    }
    let total: u8 = items.iter().sum();
    let item10_positive = items[SELF_HARM_ITEM - 1] > 0;
    let mut flags = Vec::new();
    if item10_positive {
        flags.push(Flag::SelfHarm);
    }
    if total >= cutoffs.probable {
        flags.push(Flag::ProbableDepression);
    } else if total >= cutoffs.possible {
        flags.push(Flag::PossibleDepression);
    }
    Score {
        total,
        items,
        item10_positive,
        flags,
    }
}

/// One item's wording: the question and its four options, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    text: String,
    options: [String; OPTIONS],
}

impl Item {
    /// The question.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The four options, top (0) to bottom (3).
    pub fn options(&self) -> &[String; OPTIONS] {
        &self.options
    }
}

/// A programme's EPDS wording and cut-offs for one language, validated.
///
/// File format (JSON):
/// ```json
/// {
///   "sample": false,                       // optional, default false
///   "notice": "© … reproduced with permission",  // optional; required when sample is true
///   "language": "en",
///   "title": "…",
///   "intro": "…",
///   "cutoffs": { "possible": 10, "probable": 13 },  // optional, each defaults as shown
///   "items": [ { "text": "…", "options": ["top", "…", "…", "bottom"] }, … ]  // exactly 10
/// }
/// ```
/// Unknown fields are errors, so a misspelt `cutoffs` cannot silently fall back to defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawContent")]
pub struct Content {
    sample: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<String>,
    language: String,
    title: String,
    intro: String,
    cutoffs: Cutoffs,
    items: [Item; ITEMS],
}

impl Content {
    /// Reads and validates a content file.
    pub fn from_json(json: &str) -> Result<Content, EpdsError> {
        let raw: RawContent = serde_json::from_str(json).map_err(|e| EpdsError::Json {
            detail: e.to_string(),
        })?;
        Content::try_from(raw)
    }

    /// The cut-offs this programme uses for this language.
    pub fn cutoffs(&self) -> Cutoffs {
        self.cutoffs
    }

    /// The ten items, item 1 first.
    pub fn items(&self) -> &[Item; ITEMS] {
        &self.items
    }

    /// Whether this is a sample file (not the licensed wording); show that to whoever sets it up.
    pub fn is_sample(&self) -> bool {
        self.sample
    }

    /// The file's notice (licence or sample warning), if any.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The language the wording is in, as declared by the file.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// The form's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The text shown before the first item.
    pub fn intro(&self) -> &str {
        &self.intro
    }

    /// Scores `answers` with this content's cut-offs.
    pub fn score(&self, answers: &Answers) -> Score {
        score(answers, self.cutoffs)
    }
}

/// The bundled sample content for `language` (`en` or `es`; a region such as `es-MX` uses its
/// language), or `None` if there is none. Sample wording is ours, not the EPDS: a programme
/// must supply its licensed text.
pub fn sample_content(language: &str) -> Option<Content> {
    let primary = language.split(['-', '_']).next().unwrap_or_default();
    let json = if primary.eq_ignore_ascii_case("en") {
        SAMPLE_EN
    } else if primary.eq_ignore_ascii_case("es") {
        SAMPLE_ES
    } else {
        return None;
    };
    Some(Content::from_json(json).expect("bundled EPDS sample content is valid (tests/epds.rs)"))
}

/// The file as written, before validation; every field optional so a missing one gets an error
/// naming it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContent {
    #[serde(default)]
    sample: bool,
    notice: Option<String>,
    language: Option<String>,
    title: Option<String>,
    intro: Option<String>,
    cutoffs: Option<RawCutoffs>,
    items: Option<Vec<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCutoffs {
    possible: Option<i64>,
    probable: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    text: Option<String>,
    options: Option<Vec<String>>,
}

impl TryFrom<RawContent> for Content {
    type Error = EpdsError;

    fn try_from(raw: RawContent) -> Result<Self, Self::Error> {
        let language = match raw.language {
            Some(l) if is_language_tag(&l) => l,
            Some(l) => {
                return Err(content_error(
                    None,
                    "language",
                    format!("{l:?} is not a language tag such as en or es-MX"),
                ))
            }
            None => return Err(content_error(None, "language", "missing")),
        };
        let lang = Some(language.as_str());

        let notice = match raw.notice {
            Some(n) if n.trim().is_empty() => {
                return Err(content_error(lang, "notice", "empty; leave it out instead"))
            }
            n => n,
        };
        if raw.sample && notice.is_none() {
            return Err(content_error(
                lang,
                "notice",
                "missing; a sample file must say it is not the licensed EPDS wording",
            ));
        }
        let title = required_text(lang, "title", raw.title)?;
        let intro = required_text(lang, "intro", raw.intro)?;

        let defaults = Cutoffs::default();
        let cutoffs = match raw.cutoffs {
            None => defaults,
            Some(c) => {
                let possible = cutoff(lang, "cutoffs.possible", c.possible, defaults.possible)?;
                let probable = cutoff(lang, "cutoffs.probable", c.probable, defaults.probable)?;
                if possible >= probable {
                    return Err(content_error(
                        lang,
                        "cutoffs",
                        format!("possible ({possible}) must be below probable ({probable})"),
                    ));
                }
                Cutoffs { possible, probable }
            }
        };

        let raw_items = raw
            .items
            .ok_or_else(|| content_error(lang, "items", "missing"))?;
        if raw_items.len() != ITEMS {
            return Err(content_error(
                lang,
                "items",
                format!("expected {ITEMS}, found {}", raw_items.len()),
            ));
        }
        let mut items = Vec::with_capacity(ITEMS);
        for (i, item) in raw_items.into_iter().enumerate() {
            let text = required_text(lang, &format!("items[{i}].text"), item.text)?;
            let field = format!("items[{i}].options");
            let raw_options = item
                .options
                .ok_or_else(|| content_error(lang, &field, "missing"))?;
            if raw_options.len() != OPTIONS {
                return Err(content_error(
                    lang,
                    &field,
                    format!("expected {OPTIONS}, found {}", raw_options.len()),
                ));
            }
            let mut options = Vec::with_capacity(OPTIONS);
            for (j, option) in raw_options.into_iter().enumerate() {
                options.push(required_text(lang, &format!("{field}[{j}]"), Some(option))?);
            }
            let options: [String; OPTIONS] = options
                .try_into()
                .expect("length checked against OPTIONS above");
            items.push(Item { text, options });
        }
        let items: [Item; ITEMS] = items
            .try_into()
            .expect("length checked against ITEMS above");

        Ok(Content {
            sample: raw.sample,
            notice,
            language,
            title,
            intro,
            cutoffs,
            items,
        })
    }
}

fn content_error(
    language: Option<&str>,
    field: impl Into<String>,
    reason: impl Into<String>,
) -> EpdsError {
    EpdsError::Content {
        language: language.map(str::to_owned),
        field: field.into(),
        reason: reason.into(),
    }
}

/// A required, non-blank text field.
fn required_text(
    language: Option<&str>,
    field: &str,
    value: Option<String>,
) -> Result<String, EpdsError> {
    match value {
        None => Err(content_error(language, field, "missing")),
        Some(v) if v.trim().is_empty() => Err(content_error(language, field, "empty")),
        Some(v) => Ok(v),
    }
}

fn cutoff(
    language: Option<&str>,
    field: &str,
    value: Option<i64>,
    default: u8,
) -> Result<u8, EpdsError> {
    match value {
        None => Ok(default),
        Some(v) => u8::try_from(v)
            .ok()
            .filter(|v| (1..=MAX_TOTAL).contains(v))
            .ok_or_else(|| {
                content_error(
                    language,
                    field,
                    format!("{v} is outside the possible totals 1–30"),
                )
            }),
    }
}

/// Letters, digits and hyphens, starting with a letter: enough to catch a sentence or a blank
/// where the language should be, without a full BCP 47 parser.
fn is_language_tag(s: &str) -> bool {
    s.len() <= 35
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.ends_with('-')
}
