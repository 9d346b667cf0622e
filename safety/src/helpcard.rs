//! Help cards: where to get help now, per region, readable with no connection.
//!
//! A programme ships one card per region (ISO 3166 code such as `GB`, plus a `default` card for
//! anywhere else) with the emergency number, crisis lines, what to do about red-flag symptoms
//! (the maternity unit's triage line comes first), domestic abuse lines, and a short supportive
//! message for each [`Situation`]. The cards are data, validated on load, so a programme can
//! check and replace every number without a new build.
//!
//! The failure this guards against is a wrong or missing number at the moment it matters: a
//! card that is missing a message or has something that is not a phone number is an error
//! naming the field, and [`HelpCards::for_region`] always returns a card, falling back to
//! `default`. The built-in file is a sample: its numbers are well-known public ones, but a
//! programme must check them and replace the file.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

const BUILTIN: &str = include_str!("../data/helpcards.json");

/// The region code of the fallback card every file must have.
pub const DEFAULT_REGION: &str = "default";

/// A bad help-card file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelpCardError {
    /// Not JSON of the expected shape.
    #[error("help cards: not valid JSON: {detail}")]
    Json {
        /// The parser's message, with line and column.
        detail: String,
    },
    /// A bad value; `field` is a JSON path such as `cards[2] (US).crisis[0].number`.
    #[error("help cards: {field}: {reason}")]
    Invalid {
        /// JSON path of the bad field, with the card's region once known.
        field: String,
        /// What was found and what was expected.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> HelpCardError {
    HelpCardError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What the person is facing; chooses the message and the lines shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Situation {
    /// Thoughts of harming or killing herself.
    SelfHarm,
    /// Thoughts of harming her baby.
    HarmToBaby,
    /// Abuse or fear at home.
    DomesticAbuse,
    /// Physical warning signs in pregnancy or after birth (bleeding, reduced movements, severe
    /// headache, …): the maternity unit's triage line first.
    RedFlag,
    /// Feeling low or anxious, not in immediate danger.
    LowMood,
}

impl Situation {
    /// Every situation, in declaration order.
    pub const ALL: [Situation; 5] = [
        Situation::SelfHarm,
        Situation::HarmToBaby,
        Situation::DomesticAbuse,
        Situation::RedFlag,
        Situation::LowMood,
    ];

    /// The name used in files: `self_harm`, `harm_to_baby`, `domestic_abuse`, `red_flag`,
    /// `low_mood`.
    pub fn as_str(self) -> &'static str {
        match self {
            Situation::SelfHarm => "self_harm",
            Situation::HarmToBaby => "harm_to_baby",
            Situation::DomesticAbuse => "domestic_abuse",
            Situation::RedFlag => "red_flag",
            Situation::LowMood => "low_mood",
        }
    }
}

/// A phone line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpLine {
    /// Who answers, e.g. `Samaritans`.
    pub name: String,
    /// The number to dial, as written locally, e.g. `116 123`.
    pub number: String,
    /// When it is answered, e.g. `24 hours, every day`.
    pub hours: String,
    /// A short extra line (free to call, text too, …), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The short supportive message shown for each situation, in the card's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Messages {
    /// For [`Situation::SelfHarm`].
    pub self_harm: String,
    /// For [`Situation::HarmToBaby`].
    pub harm_to_baby: String,
    /// For [`Situation::DomesticAbuse`].
    pub domestic_abuse: String,
    /// For [`Situation::RedFlag`].
    pub red_flag: String,
    /// For [`Situation::LowMood`].
    pub low_mood: String,
}

impl Messages {
    /// The message for `situation`.
    pub fn get(&self, situation: Situation) -> &str {
        match situation {
            Situation::SelfHarm => &self.self_harm,
            Situation::HarmToBaby => &self.harm_to_baby,
            Situation::DomesticAbuse => &self.domestic_abuse,
            Situation::RedFlag => &self.red_flag,
            Situation::LowMood => &self.low_mood,
        }
    }
}

/// One region's card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpCard {
    /// ISO 3166-1 alpha-2 code in capitals (`GB`), or `default`.
    pub region: String,
    /// Language of the texts, e.g. `en`, `es`.
    pub language: String,
    /// The emergency number: ambulance, police.
    pub emergency: String,
    /// A caveat about the numbers, shown with the card (the default card says numbers differ by
    /// country).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Lines for someone in crisis or struggling, most relevant first.
    pub crisis: Vec<HelpLine>,
    /// What to do about red-flag symptoms, e.g. call the maternity unit's triage line.
    pub maternity_triage: String,
    /// Lines to call when the maternity unit cannot be reached (NHS 111 in the UK).
    #[serde(default)]
    pub maternity_lines: Vec<HelpLine>,
    /// Domestic abuse lines.
    pub domestic_abuse: Vec<HelpLine>,
    /// The supportive message per situation.
    pub messages: Messages,
}

/// What to show for one situation on one card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Help<'a> {
    /// The situation asked for.
    pub situation: Situation,
    /// The supportive message.
    pub message: &'a str,
    /// The emergency number, always shown.
    pub emergency: &'a str,
    /// The maternity triage advice, for [`Situation::RedFlag`] only.
    pub maternity_triage: Option<&'a str>,
    /// The lines relevant to the situation (see [`HelpCard::lines_for`]).
    pub lines: Vec<&'a HelpLine>,
    /// The card's caveat about its numbers, if any.
    pub note: Option<&'a str>,
}

impl HelpCard {
    /// The lines relevant to `situation`: crisis lines for self-harm, harm to the baby and low
    /// mood; domestic abuse lines for domestic abuse; the maternity lines for red flags. The
    /// emergency number is separate ([`HelpCard::emergency`]) and applies to all.
    pub fn lines_for(&self, situation: Situation) -> Vec<&HelpLine> {
        let lines = match situation {
            Situation::SelfHarm | Situation::HarmToBaby | Situation::LowMood => &self.crisis,
            Situation::DomesticAbuse => &self.domestic_abuse,
            Situation::RedFlag => &self.maternity_lines,
        };
        lines.iter().collect()
    }

    /// Everything to show for `situation`: message, emergency number, triage advice for red
    /// flags, and the relevant lines.
    pub fn for_situation(&self, situation: Situation) -> Help<'_> {
        Help {
            situation,
            message: self.messages.get(situation),
            emergency: &self.emergency,
            maternity_triage: (situation == Situation::RedFlag)
                .then_some(self.maternity_triage.as_str()),
            lines: self.lines_for(situation),
            note: self.note.as_deref(),
        }
    }
}

/// A programme's validated set of cards, one per region plus `default`.
///
/// File format (JSON):
/// ```json
/// {
///   "sample": false,               // optional, default false
///   "notice": "…",                 // optional; required when sample is true
///   "cards": [ {
///     "region": "GB", "language": "en", "emergency": "999", "note": "…" /* optional */,
///     "crisis": [ { "name": "Samaritans", "number": "116 123", "hours": "…", "text": "…" } ],
///     "maternity_triage": "…", "maternity_lines": [ … ] /* optional */,
///     "domestic_abuse": [ … ],
///     "messages": { "self_harm": "…", "harm_to_baby": "…", "domestic_abuse": "…",
///                   "red_flag": "…", "low_mood": "…" }
///   }, … ]
/// }
/// ```
/// Unknown fields are errors, so a misspelt field cannot silently drop a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelpCards {
    sample: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<String>,
    cards: Vec<HelpCard>,
}

impl HelpCards {
    /// The built-in sample cards (GB, ES, US and default). A programme must check every number
    /// and supply its own file.
    pub fn builtin() -> HelpCards {
        HelpCards::from_json(BUILTIN).expect("bundled help cards are valid (tests in helpcard.rs)")
    }

    /// Reads and validates a help-card file.
    pub fn from_json(json: &str) -> Result<HelpCards, HelpCardError> {
        let raw: RawCards = serde_json::from_str(json).map_err(|e| HelpCardError::Json {
            detail: e.to_string(),
        })?;
        raw.validate()
    }

    /// The card for `region` (ISO code, any case), or the `default` card if there is none.
    pub fn for_region(&self, region: &str) -> &HelpCard {
        self.cards
            .iter()
            .find(|c| c.region.eq_ignore_ascii_case(region))
            .or_else(|| self.cards.iter().find(|c| c.region == DEFAULT_REGION))
            .expect("validation requires a default card")
    }

    /// Every card, in file order.
    pub fn cards(&self) -> &[HelpCard] {
        &self.cards
    }

    /// Whether this is a sample file whose numbers a programme must check and replace.
    pub fn is_sample(&self) -> bool {
        self.sample
    }

    /// The file's notice, if any.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
}

/// The file as written; every field optional so a missing one gets an error naming it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCards {
    #[serde(default)]
    sample: bool,
    notice: Option<String>,
    cards: Option<Vec<RawCard>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCard {
    region: Option<String>,
    language: Option<String>,
    emergency: Option<String>,
    note: Option<String>,
    crisis: Option<Vec<RawLine>>,
    maternity_triage: Option<String>,
    #[serde(default)]
    maternity_lines: Vec<RawLine>,
    domestic_abuse: Option<Vec<RawLine>>,
    messages: Option<RawMessages>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    name: Option<String>,
    number: Option<String>,
    hours: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessages {
    self_harm: Option<String>,
    harm_to_baby: Option<String>,
    domestic_abuse: Option<String>,
    red_flag: Option<String>,
    low_mood: Option<String>,
}

impl RawCards {
    fn validate(self) -> Result<HelpCards, HelpCardError> {
        let notice = optional_text("notice", self.notice)?;
        if self.sample && notice.is_none() {
            return Err(invalid(
                "notice",
                "missing; a sample file must say its numbers need checking",
            ));
        }
        let raw_cards = self.cards.ok_or_else(|| invalid("cards", "missing"))?;
        let mut seen = BTreeSet::new();
        let mut cards = Vec::with_capacity(raw_cards.len());
        for (i, raw) in raw_cards.into_iter().enumerate() {
            let card = raw.validate(i)?;
            if !seen.insert(card.region.clone()) {
                return Err(invalid(
                    format!("cards[{i}].region"),
                    format!("{} appears more than once", card.region),
                ));
            }
            cards.push(card);
        }
        if !seen.contains(DEFAULT_REGION) {
            return Err(invalid(
                "cards",
                "no \"default\" card; one is needed for regions without their own",
            ));
        }
        Ok(HelpCards {
            sample: self.sample,
            notice,
            cards,
        })
    }
}

impl RawCard {
    fn validate(self, index: usize) -> Result<HelpCard, HelpCardError> {
        let region = required_text(&format!("cards[{index}].region"), self.region)?;
        if region != DEFAULT_REGION
            && !(region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase()))
        {
            return Err(invalid(
                format!("cards[{index}].region"),
                format!("{region:?} is neither a two-letter capital region code such as GB nor \"default\""),
            ));
        }
        let at = format!("cards[{index}] ({region})");
        let language = required_text(&format!("{at}.language"), self.language)?;
        let emergency = phone_number(&format!("{at}.emergency"), self.emergency)?;
        let note = optional_text(&format!("{at}.note"), self.note)?;
        let crisis = lines(
            &format!("{at}.crisis"),
            self.crisis
                .ok_or_else(|| invalid(format!("{at}.crisis"), "missing; use [] if none"))?,
        )?;
        let maternity_triage =
            required_text(&format!("{at}.maternity_triage"), self.maternity_triage)?;
        let maternity_lines = lines(&format!("{at}.maternity_lines"), self.maternity_lines)?;
        let domestic_abuse = lines(
            &format!("{at}.domestic_abuse"),
            self.domestic_abuse.ok_or_else(|| {
                invalid(format!("{at}.domestic_abuse"), "missing; use [] if none")
            })?,
        )?;
        let m = self
            .messages
            .ok_or_else(|| invalid(format!("{at}.messages"), "missing"))?;
        let msg = |name: &str, value| required_text(&format!("{at}.messages.{name}"), value);
        let messages = Messages {
            self_harm: msg("self_harm", m.self_harm)?,
            harm_to_baby: msg("harm_to_baby", m.harm_to_baby)?,
            domestic_abuse: msg("domestic_abuse", m.domestic_abuse)?,
            red_flag: msg("red_flag", m.red_flag)?,
            low_mood: msg("low_mood", m.low_mood)?,
        };
        Ok(HelpCard {
            region,
            language,
            emergency,
            note,
            crisis,
            maternity_triage,
            maternity_lines,
            domestic_abuse,
            messages,
        })
    }
}

fn lines(field: &str, raw: Vec<RawLine>) -> Result<Vec<HelpLine>, HelpCardError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, line)| {
            let at = format!("{field}[{i}]");
            Ok(HelpLine {
                name: required_text(&format!("{at}.name"), line.name)?,
                number: phone_number(&format!("{at}.number"), line.number)?,
                hours: required_text(&format!("{at}.hours"), line.hours)?,
                text: optional_text(&format!("{at}.text"), line.text)?,
            })
        })
        .collect()
}

fn required_text(field: &str, value: Option<String>) -> Result<String, HelpCardError> {
    match value {
        None => Err(invalid(field, "missing")),
        Some(v) if v.trim().is_empty() => Err(invalid(field, "empty")),
        Some(v) => Ok(v),
    }
}

fn optional_text(field: &str, value: Option<String>) -> Result<Option<String>, HelpCardError> {
    match value {
        Some(v) if v.trim().is_empty() => Err(invalid(field, "empty; leave it out instead")),
        v => Ok(v),
    }
}

/// Digits with the usual separators, so a placeholder such as "TBC" cannot reach a dial button.
fn phone_number(field: &str, value: Option<String>) -> Result<String, HelpCardError> {
    let number = required_text(field, value)?;
    let well_formed = number.chars().any(|c| c.is_ascii_digit())
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+' | '(' | ')'));
    if !well_formed {
        return Err(invalid(
            field,
            format!("{number:?} is not a phone number (digits, spaces and + - ( ) only)"),
        ));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_json(region: &str) -> String {
        format!(
            r#"{{"region": "{region}", "language": "en", "emergency": "999",
                "crisis": [{{"name": "Line", "number": "116 123", "hours": "24/7"}}],
                "maternity_triage": "Call triage.",
                "domestic_abuse": [],
                "messages": {{"self_harm": "a", "harm_to_baby": "b", "domestic_abuse": "c",
                              "red_flag": "d", "low_mood": "e"}}}}"#
        )
    }

    fn file(cards: &[String]) -> String {
        format!(r#"{{"cards": [{}]}}"#, cards.join(","))
    }

    fn err(json: &str) -> String {
        HelpCards::from_json(json)
            .expect_err("should be rejected")
            .to_string()
    }

    #[test]
    fn builtin_cards_load_and_are_marked_sample() {
        let cards = HelpCards::builtin();
        assert!(cards.is_sample());
        assert!(cards.notice().is_some_and(|n| n.contains("check")));
        let regions: Vec<&str> = cards.cards().iter().map(|c| c.region.as_str()).collect();
        for region in ["GB", "ES", "US", "default"] {
            assert!(regions.contains(&region), "missing {region}");
        }
    }

    #[test]
    fn builtin_numbers_are_the_well_known_ones() {
        let cards = HelpCards::builtin();
        let gb = cards.for_region("GB");
        assert_eq!(gb.emergency, "999");
        assert!(gb.crisis.iter().any(|l| l.number == "116 123"));
        assert!(gb.maternity_lines.iter().any(|l| l.number == "111"));
        assert!(gb.maternity_triage.contains("NHS 111"));
        let es = cards.for_region("ES");
        assert_eq!((es.emergency.as_str(), es.language.as_str()), ("112", "es"));
        assert!(es.crisis.iter().any(|l| l.number == "024"));
        assert!(es.domestic_abuse.iter().any(|l| l.number == "016"));
        let us = cards.for_region("US");
        assert_eq!(us.emergency, "911");
        assert!(us.crisis.iter().any(|l| l.number == "988"));
    }

    #[test]
    fn unknown_region_falls_back_to_default_and_case_is_ignored() {
        let cards = HelpCards::builtin();
        assert_eq!(cards.for_region("FR").region, "default");
        assert_eq!(cards.for_region("").region, "default");
        assert_eq!(cards.for_region("gb").region, "GB");
    }

    #[test]
    fn situations_pick_their_message_and_lines() {
        let cards = HelpCards::builtin();
        let gb = cards.for_region("GB");
        let self_harm = gb.for_situation(Situation::SelfHarm);
        assert_eq!(self_harm.message, gb.messages.self_harm);
        assert_eq!(self_harm.emergency, "999");
        assert!(self_harm.lines.iter().any(|l| l.number == "116 123"));
        assert_eq!(self_harm.maternity_triage, None);

        let red_flag = gb.for_situation(Situation::RedFlag);
        assert_eq!(
            red_flag.maternity_triage,
            Some(gb.maternity_triage.as_str())
        );
        assert!(red_flag.lines.iter().any(|l| l.number == "111"));
        assert!(!red_flag.lines.iter().any(|l| l.number == "116 123"));

        let es = cards
            .for_region("ES")
            .for_situation(Situation::DomesticAbuse);
        assert_eq!(
            es.lines
                .iter()
                .map(|l| l.number.as_str())
                .collect::<Vec<_>>(),
            ["016"]
        );
        // Every situation has its own non-empty message on every card.
        for card in cards.cards() {
            let messages: BTreeSet<&str> = Situation::ALL
                .iter()
                .map(|&s| card.for_situation(s).message)
                .collect();
            assert_eq!(messages.len(), Situation::ALL.len(), "{}", card.region);
        }
    }

    #[test]
    fn situation_names_match_the_file_format() {
        for s in Situation::ALL {
            assert_eq!(
                serde_json::to_string(&s).expect("serialises"),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn a_minimal_file_loads() {
        let cards = HelpCards::from_json(&file(&[card_json("default")])).expect("valid");
        assert!(!cards.is_sample());
        assert_eq!(cards.for_region("GB").region, "default");
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            err(&file(&[card_json("GB")])),
            "help cards: cards: no \"default\" card; one is needed for regions without their own"
        );
        assert_eq!(
            err(&file(&[card_json("default"), card_json("default")])),
            "help cards: cards[1].region: default appears more than once"
        );
        assert!(err(&file(&[card_json("default"), card_json("gb")]))
            .starts_with("help cards: cards[1].region: \"gb\" is neither"));
        let bad_number = card_json("US").replace("116 123", "TBC");
        assert_eq!(
            err(&file(&[card_json("default"), bad_number])),
            "help cards: cards[1] (US).crisis[0].number: \"TBC\" is not a phone number (digits, spaces and + - ( ) only)"
        );
        let no_message = card_json("ES").replace(r#""red_flag": "d","#, "");
        assert_eq!(
            err(&file(&[card_json("default"), no_message])),
            "help cards: cards[1] (ES).messages.red_flag: missing"
        );
        let blank_hours = card_json("default").replace("24/7", " ");
        assert_eq!(
            err(&file(&[blank_hours])),
            "help cards: cards[0] (default).crisis[0].hours: empty"
        );
        let no_crisis = card_json("default").replace(
            r#""crisis": [{"name": "Line", "number": "116 123", "hours": "24/7"}],"#,
            "",
        );
        assert_eq!(
            err(&file(&[no_crisis])),
            "help cards: cards[0] (default).crisis: missing; use [] if none"
        );
        assert_eq!(
            err(&format!(
                r#"{{"sample": true, "cards": [{}]}}"#,
                card_json("default")
            )),
            "help cards: notice: missing; a sample file must say its numbers need checking"
        );
        assert_eq!(err("{}"), "help cards: cards: missing");
        assert!(err(r#"{"cards": [], "extra": 1}"#).starts_with("help cards: not valid JSON:"));
    }
}
