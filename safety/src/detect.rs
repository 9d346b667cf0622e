//! On-device risk detection: reads a message (a draft as it is typed, or one just received) and
//! says whether it suggests risk — thoughts of suicide or self-harm, harm to the baby, domestic
//! abuse, pregnancy and postnatal red flags, signs of psychosis, low mood — and which
//! content-filter topics it touches. It runs on
//! the phone, never on a server, and it only *informs*: nothing here hides, blocks or reports a
//! message by itself. Callers decide what to show (a help card, a gentle prompt, a blur).
//!
//! # What it guards against
//!
//! Two failures matter. Missing an urgent message ("I want to die", "I'm bleeding heavily at 30
//! weeks") is the worse one, so phrases are generous and ambiguity resolves towards flagging. But
//! a detector that fires on everyday pregnancy talk ("this heartburn is killing me", "will coffee
//! hurt the baby?") teaches people to ignore it, so context rules take the obvious false alarms
//! back out. The rules are deliberately simple, readable and data-driven rather than clever: a
//! programme coordinator can see why a message was flagged ([`Match::phrase`]) and fix a gap by
//! adding a phrase, not by changing code.
//!
//! # Pipeline
//!
//! 1. **Words.** The text is split into words keeping each word's byte range in the original
//!    text, so [`Match::start`]/[`Match::end`] can highlight it. Words are lowercased, accents are
//!    folded (`á`→`a`, `ñ`→`n`, `ü`→`u`; combining marks dropped), and apostrophes inside a word
//!    are removed (`don't`, `don’t` and `dont` are the same word). Letters and digits are separate
//!    words (`4cm` → `4 cm`, `32+4` → `32 4`), but a decimal number is one word (`38.5` and
//!    `38,5` are 38.5: a temperature is not two numbers). Punctuation separates words; each emoji
//!    is a word of its own (so `😂` can be a cue).
//!
//!    Each word also gets its **other spellings**, because members type fast on a phone: the
//!    lexicons' `spellings` (texting forms and common misspellings, `u`→`you`, `q`→`que`,
//!    `permanantly`→`permanently`, and word endings such as `*in`→`*ing` for "cryin"), and the
//!    word with letters drawn out for emphasis written once (`sooo`→`so`). A phrase word of
//!    [`LOOSE_MIN_LEN`] letters or more also matches with its doubled letters written once or
//!    twice ("dissapear", "bleding"). Shorter words match exactly: "nose" must never be "noose".
//! 2. **Sentences and clauses.** `. ! ? ; …`, line breaks and `¿ ¡` end a sentence; `, : ( ) — –`
//!    and quotation marks end a clause. Phrases never match across sentences; negation and
//!    hypothetical cues never reach across a clause, so "I'm not ok, I want to die" stays urgent.
//!    What follows a colon elaborates the clause before it, so `$` (end of clause) does not match
//!    before a colon: "I have a plan: nap when she naps" is not "I have a plan."
//! 3. **Phrases.** Every phrase of every language is compiled once, in [`Detector`], into token
//!    patterns indexed by their first word, so a scan costs roughly one hash lookup per word plus
//!    the few patterns that could start there. Only the groups and sets that can hold a pattern's
//!    first word are expanded into separate patterns; later groups are matched in place (trying
//!    every option, keeping the longest match), so a phrase with several groups costs a few
//!    patterns, not their product. There is no regex engine: gaps are at most [`MAX_GAP`] words
//!    and backtracking is bounded by them, so a scan is linear in the message and cheap enough for
//!    every keystroke of a draft (tens of microseconds for a 200-character draft in a release
//!    build). A gap never skips a negation word, so `<sh_lead> {0,2} hurt myself` cannot match
//!    "I'd never hurt myself".
//! 4. **Context**, applied to each risk match:
//!    - *hyperbole*: a match overlapping a hyperbole or look-alike phrase ("killing me", "dying
//!      to", "bleeding gums", "me muero de ganas") is dropped;
//!    - *negation*: a negation cue ("never", "don't", "no", "nunca") ending at most
//!      [`NEGATION_WINDOW`] words before the match, in the same clause, with only
//!      `negation_scope` words between ("would", "ever", "want", "to", "quiero"…), drops it — and
//!      every match of the same category overlapping it (the statement is negated as a whole),
//!      except a match that contains the cue itself. The check looks only *before* the phrase,
//!      so phrases that carry their own negation ("I don't want to live", "no quiero vivir",
//!      "don't think I can stop myself hurting her", "no me veo capaz de no hacerle daño") are
//!      written whole and stay. A content word between cue and phrase ends the cue's reach ("not
//!      okay I want to die" stays urgent);
//!    - *reported speech*: after a reported cue ("she said", "told me", "mi amiga dijo") the match
//!      is someone else's: at most concern (a member worried about a friend may still want the
//!      help card) — unless an *imminent* cue in the message says it is happening now and she is
//!      trying to help ("tonight", "she's not answering", "what do I do", "está sola con él",
//!      "she's taken"): then someone is at risk now and the match keeps its level. After a
//!      *media* cue (an article, a song, a leaflet, "the midwife said") it is information:
//!      dropped. Neither applies when a first-person word ("I", "me", "my", "yo") comes between
//!      the cue and the end of the match — that makes it the member's own ("he said he'd kill
//!      me", "my mum said I'm bleeding heavily" stay urgent) — but for media cues an "I" after a
//!      hypothetical does not count: "the midwife said to call if I bleed heavily" is advice.
//!      Only speech and report verbs are cues: "my sister is having a seizure" is an emergency
//!      she is witnessing. Text inside quotation marks is at most concern (the same imminent
//!      exception applies), and an "I" inside quotes is not the writer;
//!    - *asked*: a question someone asked her ("the health visitor asked if I'd had thoughts of
//!      harming myself") is not something she says: two levels down;
//!    - *hypothetical*: a red flag at most [`HYPOTHETICAL_WINDOW`] words after "if", "what if",
//!      "in case", "signs of" is asked about, not happening: one level down. A *question* cue
//!      ("is it normal", "does anyone", "es normal") does the same unless the writer appears in
//!      between ("is it normal that I haven't felt her move?" is about her, now) or a present
//!      cue is in the sentence ("¿es normal que no se mueva nada desde anoche?"). "Not sure if",
//!      "no sé si" do not count;
//!    - *history*: a sentence about the past ("with my first", "years ago", "used to", "the scan
//!      showed all fine") drops red flags and lowers everything else one level, unless a present
//!      cue ("now", "this time", "ahora") is nearer to the phrase than the history cue;
//!    - *joking*: "lol", "jaja", 😂, 💀 in the same sentence: one level down ("I wanted to die 💀"
//!      is concern, not urgent — still a gentle check-in, in case the joke hides something) —
//!      unless a *sincere* cue comes between the joke and the match ("jk but honestly", "no es
//!      broma"): a disclosure after a joke is not lowered;
//!    - *reassurance*: a harm-to-baby fear in a message that says she would not act on it ("not
//!      because I'd do anything", "intrusive thoughts", "nunca le haría nada") is one level
//!      down: distress to check in on, not danger now. It never lowers anything else;
//!    - *only_with*: some groups count only when one of their `only_with` phrases is also in the
//!      message (and not negated): a quiet baby only with a pregnancy mentioned, tightenings
//!      every five minutes only before 37 weeks, days without sleep only with elation or
//!      certainty;
//!    - *urgent_with*: some groups (bleeding, quieter baby, waters, headache, fever, farewell
//!      letters) are concern alone and urgent when a phrase of the group's `urgent_with` list
//!      appears anywhere in the message ("bleeding" + "clots", "waters broke" + "32 weeks", a
//!      fever + "6 days old"); with `urgent_if_repeated` two separate phrases of the group itself
//!      are enough ("my calf is hot and swollen" + "short of breath"; "I have a plan" + "I've
//!      decided").
//!
//!    Cues inside a phrase are part of it and never apply to it. Lowering steps add up (reported
//!    and history: "my friend said she wanted to die after her first" is none), a level never
//!    goes below none, and a match that ends at none is not reported.
//! 5. **Assessment.** The level is the highest remaining match; categories, red flags and topics
//!    are sorted and deduplicated. Topics ignore negation ("it wasn't a miscarriage" is still about
//!    loss — a member who blurs loss would not want to read it) but not hyperbole. Self-harm and
//!    low-mood matches add the low-mood topic.
//! 6. **Classifier.** A detector from [`Detector::builtin`] also runs a small statistical
//!    classifier ([`crate::classify`]) over the words the context rules left (hyperbole phrases
//!    and risk phrases the rules set aside or lowered are hidden from it, so it cannot undo
//!    them). It can only raise the level: when its level is higher, the message takes it, with
//!    one more match whose phrase is [`CLASSIFIER_PHRASE`], spanning the message. The category
//!    is the lexicon's most serious one when the lexicon found anything, else the classifier's
//!    own. Red flags and other topics come only from the lexicons.
//!
//! # Lexicon files
//!
//! One JSON file per language (`data/lexicon-en.json`, `data/lexicon-es.json`, compiled in with
//! `include_str!`). A programme can add its own file for a built-in language (its phrases are
//! added) or a new language, with [`Detector::new`] or [`Detector::with`]. Keys starting with `_`
//! are notes; each file starts with a `"_format"` note for coordinators. Fields (all optional
//! except `language`):
//!
//! - `language`: a code such as `"en"`.
//! - `sets`: named lists of phrases, used in other phrases as `<name>` (`"partner": ["he", "my?
//!   husband", …]`). A programme file that extends a language may use that language's sets.
//! - `entries`: groups `{ "category", "level", "red_flag"?, "phrases", "urgent_with"?,
//!   "only_with"?, "urgent_if_repeated"? }`; category is `self_harm`, `harm_to_baby`,
//!   `domestic_abuse`, `red_flag`, `low_mood` or `psychosis`; level `concern` or `urgent`;
//!   `red_flag` (only and always with category `red_flag`) is `heavy_bleeding`,
//!   `reduced_movements`, `headache_or_vision`, `waters_early`, `fits`, `infection`,
//!   `chest_or_breathing`, `baby_unwell`, `preterm_labour`, `bump_injury` or `itching`;
//!   `only_with` is a non-empty list of phrases; `urgent_if_repeated` is `true` or `false`, and
//!   only for a concern group.
//! - `topics`: groups `{ "topic", "phrases" }`, topic `loss`, `birth_trauma`, `low_mood` or
//!   `medical_detail`.
//! - `hyperbole`, `negation`, `reported`, `media`, `asked`, `hypothetical`, `question`,
//!   `uncertain`, `history`, `present`, `joking`, `sincere`, `imminent`, `reassurance`: phrase
//!   lists for the context rules above.
//! - `negation_scope`, `first_person`: single-word lists.
//! - `spellings`: an object of other spellings, `{"u": "you", "xq": "porque"}`; a key and value
//!   that both start with `*` are word endings (`{"*in": "*ing"}`). Each applies to every
//!   message, whatever its language, and only ever adds a reading of a word.
//!
//! Phrase syntax, items separated by spaces: `word` matches that word (case, accents and
//! apostrophes ignored); `word*` any word starting so (`bleed*`: bleeding, bleeds); `a|b|c` any of
//! those words; `(a b|c d)` either sequence of words; a trailing `?` makes a word or group
//! optional; `{3}` skips up to 3 words and `{1,3}` 1 to 3; `#` is any number, `#16-36` a number
//! from 16 to 36.9, and `#38.0-42.9` only a number written with a decimal point or comma in that
//! range (a temperature, never "38 weeks"); `!a|b` requires that the next word is *not* one of
//! them (it consumes nothing; its alternatives are single words); `^` is the start of a sentence
//! or clause and `$` its end; `<name>` is any member of a set (`<name>?` optional). A single
//! emoji is a word too. Example: `"<partner> {0,3} hit|hits|punched me"`.
//!
//! Every problem in a file is an error naming the field and what was expected
//! (`lexicon es: entries[12].phrases[3]: "quiero {9} morir": gap {9} is wider than 8 words`);
//! unknown fields are errors too, so a typo never silently disables a phrase. A set name that
//! does not exist is reported when the lexicon is compiled into a [`Detector`], because a
//! programme file may use the sets of the built-in file it extends.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::classify::{Classifier, Verdict, CLASSIFIER_PHRASE};

/// The built-in English lexicon (`data/lexicon-en.json`, deflated by build.rs).
const BUILTIN_EN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lexicon-en.json.deflate"));
/// The built-in Spanish lexicon (`data/lexicon-es.json`, deflated by build.rs).
const BUILTIN_ES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lexicon-es.json.deflate"));

/// Widest gap a phrase may use (`{8}`); keeps matching linear in the message length.
pub const MAX_GAP: u8 = 8;
/// How many words before a phrase a negation cue may end and still negate it.
pub const NEGATION_WINDOW: usize = 5;
/// How many words before a red flag a hypothetical cue may end and still apply.
pub const HYPOTHETICAL_WINDOW: usize = 4;
/// How many concrete patterns one phrase may expand to through its sets.
const MAX_VARIANTS: usize = 2048;

macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in lexicon files and in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a name as written in lexicon files and JSON; `None` if unknown.
            pub fn from_name(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// How worrying a message is. Ordered: `None < Concern < Urgent`.
    #[derive(Default)]
    Level {
        /// Nothing to act on.
        #[default]
        None = "none",
        /// Worth a gentle check-in or a help card.
        Concern = "concern",
        /// Offer help now (emergency numbers, the escalation ladder if she chooses).
        Urgent = "urgent",
    }
}

impl Level {
    /// This level lowered by `steps` (never below `None`).
    fn lowered(self, steps: u8) -> Level {
        match (self, steps) {
            (level, 0) => level,
            (Level::Urgent, 1) => Level::Concern,
            _ => Level::None,
        }
    }
}

named_enum! {
    /// What kind of risk a match is about.
    Category {
        /// Thoughts of suicide or self-harm.
        SelfHarm = "self_harm",
        /// Harm (or fear of harming) the baby.
        HarmToBaby = "harm_to_baby",
        /// Violence, threats or controlling behaviour by a partner.
        DomesticAbuse = "domestic_abuse",
        /// A pregnancy or postnatal warning sign; see [`RedFlag`].
        RedFlag = "red_flag",
        /// Low mood: crying, loneliness, hopelessness, not coping.
        LowMood = "low_mood",
        /// Signs of postpartum psychosis: voices, beliefs that are not real. An emergency.
        Psychosis = "psychosis",
    }
}

named_enum! {
    /// Which pregnancy warning sign a [`Category::RedFlag`] match is.
    RedFlag {
        /// Heavy bleeding, clots, soaking pads.
        HeavyBleeding = "heavy_bleeding",
        /// Reduced or no baby movements.
        ReducedMovements = "reduced_movements",
        /// Severe headache, changes in vision or other signs of pre-eclampsia (a suddenly
        /// swollen face or hands, pain under the ribs).
        HeadacheOrVision = "headache_or_vision",
        /// Waters breaking (urgent before 37 weeks).
        WatersEarly = "waters_early",
        /// Fits, seizures, loss of consciousness.
        Fits = "fits",
        /// Fever, shivering, an infected wound: possible sepsis.
        Infection = "infection",
        /// Breathlessness, chest pain, a swollen painful calf: possible blood clot.
        ChestOrBreathing = "chest_or_breathing",
        /// The baby is unwell or hurt: a fall, not breathing well, floppy, not feeding.
        BabyUnwell = "baby_unwell",
        /// Regular tightenings or contractions before 37 weeks: possible preterm labour.
        PretermLabour = "preterm_labour",
        /// A fall, blow or crash onto the bump.
        BumpInjury = "bump_injury",
        /// Itching of the palms and soles in pregnancy: possible obstetric cholestasis.
        Itching = "itching",
    }
}

named_enum! {
    /// Content a member may choose to blur in her groups.
    Topic {
        /// Miscarriage, stillbirth, losing a baby.
        Loss = "loss",
        /// Traumatic births, emergency sections, NICU.
        BirthTrauma = "birth_trauma",
        /// Low mood, depression, anxiety (also set by low-mood and self-harm matches).
        LowMood = "low_mood",
        /// Clinical detail: dilation, blood, blood pressure readings.
        MedicalDetail = "medical_detail",
    }
}

/// One lexicon phrase found in a message, after context rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// What the phrase is about.
    pub category: Category,
    /// The level after context rules (never `None`: dropped matches are not reported).
    pub level: Level,
    /// Which red flag, for [`Category::RedFlag`] matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red_flag: Option<RedFlag>,
    /// The lexicon phrase as written in its file.
    pub phrase: String,
    /// Byte offset of the first matched word in the original text.
    pub start: usize,
    /// Byte offset just after the last matched word in the original text.
    pub end: usize,
}

/// What the detector found in one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// The highest level of any match (`None` when nothing matched).
    pub level: Level,
    /// Categories of the matches, sorted and deduplicated.
    pub categories: Vec<Category>,
    /// Red flags among the matches, sorted and deduplicated.
    pub red_flags: Vec<RedFlag>,
    /// Topics the message touches, sorted and deduplicated.
    pub topics: Vec<Topic>,
    /// The matches, in text order.
    pub matches: Vec<Match>,
}

impl Assessment {
    /// Whether the message is distressing to read (concern or urgent), for members who blur it.
    pub fn is_distressing(&self) -> bool {
        self.level >= Level::Concern
    }

    /// Whether the message touches `topic`.
    pub fn has_topic(&self, topic: Topic) -> bool {
        self.topics.contains(&topic)
    }
}

/// A problem in a lexicon file: which language, which field, what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexiconError {
    language: String,
    path: String,
    problem: String,
}

impl LexiconError {
    fn new(language: &str, path: &str, problem: impl Into<String>) -> LexiconError {
        LexiconError {
            language: language.to_owned(),
            path: path.to_owned(),
            problem: problem.into(),
        }
    }

    /// The lexicon's language code, or `(unknown language)` when it could not be read.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// Where the problem is, e.g. `entries[12].phrases[3]` (empty for the whole file).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong and what was expected.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for LexiconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "lexicon {}: {}", self.language, self.problem)
        } else {
            write!(
                f,
                "lexicon {}: {}: {}",
                self.language, self.path, self.problem
            )
        }
    }
}

impl std::error::Error for LexiconError {}

const UNKNOWN_LANGUAGE: &str = "(unknown language)";

/// One word alternative in a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Alt {
    /// A whole word. `loose` is the word with doubled letters written once, for words of
    /// [`LOOSE_MIN_LEN`] letters or more, so "dissapear" and "disappear" meet at "disapear".
    Exact {
        word: String,
        loose: Option<String>,
    },
    Prefix(String),
    /// A number between `lo` and `hi` tenths, inclusive; with `decimal`, only a number written
    /// with a decimal point or comma ("38.5", "38,5") matches.
    Number {
        lo: u32,
        hi: u32,
        decimal: bool,
    },
}

impl Alt {
    fn exact(word: String) -> Alt {
        let loose = (word.chars().count() >= LOOSE_MIN_LEN).then(|| collapse_runs(&word, 2));
        Alt::Exact { word, loose }
    }
}

/// Lexicon words this long or longer also match with doubled letters written once or twice
/// ("dissapear", "bleding"); shorter ones match exactly, so "nose" is never "noose".
pub const LOOSE_MIN_LEN: usize = 6;

/// `word` with every run of at least `min` identical letters written once ("sooooo" → "so" with
/// `min` 3; "dissapear" → "disapear" with `min` 2).
fn collapse_runs(word: &str, min: usize) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i + 1;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        let run = j - i;
        let keep = if run >= min { 1 } else { run };
        for _ in 0..keep {
            out.push(chars[i]);
        }
        i = j;
    }
    out
}

/// One space-separated item of a phrase, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Word {
        alts: Vec<Alt>,
        optional: bool,
    },
    Set {
        name: String,
        optional: bool,
    },
    Gap {
        min: u8,
        max: u8,
    },
    NotNext(Vec<Alt>),
    ClauseStart,
    ClauseEnd,
    Group {
        options: Vec<Vec<Item>>,
        optional: bool,
    },
}

/// A parsed phrase, with where it came from for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Phrase {
    text: String,
    path: String,
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    category: Category,
    level: Level,
    red_flag: Option<RedFlag>,
    phrases: Vec<Phrase>,
    urgent_with: Vec<Phrase>,
    only_with: Vec<Phrase>,
    urgent_if_repeated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TopicGroup {
    topic: Topic,
    phrases: Vec<Phrase>,
}

/// One language's phrases and context cues, read from a lexicon file (see the module docs for
/// the format). Deserialising checks everything [`Lexicon::from_json`] checks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Lexicon {
    language: String,
    sets: BTreeMap<String, Vec<Phrase>>,
    entries: Vec<Entry>,
    topics: Vec<TopicGroup>,
    hyperbole: Vec<Phrase>,
    negation: Vec<Phrase>,
    reported: Vec<Phrase>,
    media: Vec<Phrase>,
    hypothetical: Vec<Phrase>,
    question: Vec<Phrase>,
    uncertain: Vec<Phrase>,
    asked: Vec<Phrase>,
    history: Vec<Phrase>,
    present: Vec<Phrase>,
    joking: Vec<Phrase>,
    sincere: Vec<Phrase>,
    imminent: Vec<Phrase>,
    reassurance: Vec<Phrase>,
    negation_scope: BTreeSet<String>,
    first_person: BTreeSet<String>,
    spellings: BTreeMap<String, String>,
}

const TOP_FIELDS: &[&str] = &[
    "language",
    "sets",
    "entries",
    "topics",
    "hyperbole",
    "negation",
    "negation_scope",
    "first_person",
    "reported",
    "media",
    "hypothetical",
    "question",
    "uncertain",
    "asked",
    "history",
    "present",
    "joking",
    "sincere",
    "imminent",
    "reassurance",
    "spellings",
];
const ENTRY_FIELDS: &[&str] = &[
    "category",
    "level",
    "red_flag",
    "phrases",
    "urgent_with",
    "only_with",
    "urgent_if_repeated",
];
const TOPIC_FIELDS: &[&str] = &["topic", "phrases"];

impl Lexicon {
    /// Reads a lexicon file. Every problem is reported with the field it is in.
    pub fn from_json(s: &str) -> Result<Lexicon, LexiconError> {
        let value: Value = serde_json::from_str(s)
            .map_err(|e| LexiconError::new(UNKNOWN_LANGUAGE, "", format!("not valid JSON: {e}")))?;
        Lexicon::try_from(value)
    }

    /// The language code, e.g. `"en"`.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// How many phrases the lexicon's entries hold (risk phrases only).
    pub fn phrase_count(&self) -> usize {
        self.entries.iter().map(|e| e.phrases.len()).sum()
    }

    /// Adds everything in `other` (assumed to be the same language) to this lexicon.
    fn merge(&mut self, other: Lexicon) {
        for (name, members) in other.sets {
            self.sets.entry(name).or_default().extend(members);
        }
        self.entries.extend(other.entries);
        self.topics.extend(other.topics);
        self.hyperbole.extend(other.hyperbole);
        self.negation.extend(other.negation);
        self.reported.extend(other.reported);
        self.media.extend(other.media);
        self.hypothetical.extend(other.hypothetical);
        self.question.extend(other.question);
        self.uncertain.extend(other.uncertain);
        self.asked.extend(other.asked);
        self.history.extend(other.history);
        self.present.extend(other.present);
        self.joking.extend(other.joking);
        self.sincere.extend(other.sincere);
        self.imminent.extend(other.imminent);
        self.reassurance.extend(other.reassurance);
        self.negation_scope.extend(other.negation_scope);
        self.first_person.extend(other.first_person);
        for (variant, standard) in other.spellings {
            self.spellings.entry(variant).or_insert(standard);
        }
    }
}

impl TryFrom<Value> for Lexicon {
    type Error = LexiconError;

    fn try_from(value: Value) -> Result<Lexicon, LexiconError> {
        let Value::Object(top) = &value else {
            return Err(LexiconError::new(
                UNKNOWN_LANGUAGE,
                "",
                format!(
                    "expected a JSON object at the top level, found {}",
                    kind(&value)
                ),
            ));
        };
        let language = match top.get("language") {
            None => {
                return Err(LexiconError::new(
                    UNKNOWN_LANGUAGE,
                    "language",
                    "missing (expected a language code such as \"en\")",
                ))
            }
            Some(Value::String(code)) => {
                let valid = !code.is_empty()
                    && code.len() <= 16
                    && code
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    return Err(LexiconError::new(
                        UNKNOWN_LANGUAGE,
                        "language",
                        format!("{code:?} is not a language code (expected letters such as \"en\" or \"es-MX\")"),
                    ));
                }
                code.to_ascii_lowercase()
            }
            Some(other) => {
                return Err(LexiconError::new(
                    UNKNOWN_LANGUAGE,
                    "language",
                    format!("expected a string, found {}", kind(other)),
                ))
            }
        };
        let cx = Cx {
            language: &language,
        };
        cx.known_fields("", top, TOP_FIELDS)?;

        let mut sets = BTreeMap::new();
        if let Some(value) = top.get("sets") {
            let Value::Object(map) = value else {
                return Err(cx.err(
                    "sets",
                    format!("expected an object of named lists, found {}", kind(value)),
                ));
            };
            for (name, members) in map {
                if name.starts_with('_') {
                    continue;
                }
                let path = format!("sets.{name}");
                if !valid_set_name(name) {
                    return Err(cx.err(
                        &path,
                        "a set name uses lowercase letters, digits and _ only",
                    ));
                }
                let phrases = cx.phrases(&path, members, true)?;
                if phrases.is_empty() {
                    return Err(cx.err(&path, "empty (a set needs at least one member)"));
                }
                sets.insert(name.clone(), phrases);
            }
        }

        let mut entries = Vec::new();
        for (i, value) in cx.array("entries", top.get("entries"))?.iter().enumerate() {
            entries.push(cx.entry(&format!("entries[{i}]"), value)?);
        }
        let mut topics = Vec::new();
        for (i, value) in cx.array("topics", top.get("topics"))?.iter().enumerate() {
            topics.push(cx.topic_group(&format!("topics[{i}]"), value)?);
        }
        let list = |field: &str| match top.get(field) {
            None => Ok(Vec::new()),
            Some(value) => cx.phrases(field, value, false),
        };
        Ok(Lexicon {
            sets,
            entries,
            topics,
            hyperbole: list("hyperbole")?,
            negation: list("negation")?,
            reported: list("reported")?,
            media: list("media")?,
            hypothetical: list("hypothetical")?,
            question: list("question")?,
            uncertain: list("uncertain")?,
            asked: list("asked")?,
            history: list("history")?,
            present: list("present")?,
            joking: list("joking")?,
            sincere: list("sincere")?,
            imminent: list("imminent")?,
            reassurance: list("reassurance")?,
            negation_scope: cx.words("negation_scope", top.get("negation_scope"))?,
            first_person: cx.words("first_person", top.get("first_person"))?,
            spellings: cx.spellings("spellings", top.get("spellings"))?,
            language,
        })
    }
}

fn valid_set_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Parsing context: the language, for error messages.
struct Cx<'a> {
    language: &'a str,
}

impl Cx<'_> {
    fn err(&self, path: &str, problem: impl Into<String>) -> LexiconError {
        LexiconError::new(self.language, path, problem)
    }

    fn known_fields(
        &self,
        path: &str,
        object: &Map<String, Value>,
        known: &[&str],
    ) -> Result<(), LexiconError> {
        for key in object.keys() {
            if !key.starts_with('_') && !known.contains(&key.as_str()) {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                return Err(self.err(
                    &at,
                    format!(
                        "unknown field (expected one of: {}; notes start with _)",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn array<'v>(&self, path: &str, value: Option<&'v Value>) -> Result<&'v [Value], LexiconError> {
        match value {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.err(path, format!("expected a list, found {}", kind(other)))),
        }
    }

    fn string<'v>(&self, path: &str, value: Option<&'v Value>) -> Result<&'v str, LexiconError> {
        match value {
            None => Err(self.err(path, "missing")),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(self.err(path, format!("expected a string, found {}", kind(other)))),
        }
    }

    fn name<T: Copy>(
        &self,
        path: &str,
        value: Option<&Value>,
        all: &[T],
        as_str: fn(T) -> &'static str,
    ) -> Result<T, LexiconError> {
        let text = self.string(path, value)?;
        all.iter()
            .copied()
            .find(|v| as_str(*v) == text)
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
                self.err(
                    path,
                    format!(
                        "unknown value {text:?} (expected one of: {})",
                        names.join(", ")
                    ),
                )
            })
    }

    fn phrases(
        &self,
        path: &str,
        value: &Value,
        in_set: bool,
    ) -> Result<Vec<Phrase>, LexiconError> {
        let Value::Array(items) = value else {
            return Err(self.err(
                path,
                format!("expected a list of phrases, found {}", kind(value)),
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("{path}[{i}]");
                let text = self.string(&at, Some(item))?;
                let mut phrase =
                    parse_phrase(text, in_set).map_err(|problem| self.err(&at, problem))?;
                phrase.path = at;
                Ok(phrase)
            })
            .collect()
    }

    fn words(&self, path: &str, value: Option<&Value>) -> Result<BTreeSet<String>, LexiconError> {
        let mut words = BTreeSet::new();
        for (i, item) in self.array(path, value)?.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let text = self.string(&at, Some(item))?;
            let word = normalize_word(text.trim())
                .map_err(|problem| self.err(&at, format!("{text:?}: {problem}")))?;
            words.insert(word);
        }
        Ok(words)
    }

    /// Reads `spellings`: other spellings of a word (`"u": "you"`) and of a word ending
    /// (`"*in": "*ing"`).
    fn spellings(
        &self,
        path: &str,
        value: Option<&Value>,
    ) -> Result<BTreeMap<String, String>, LexiconError> {
        let mut spellings = BTreeMap::new();
        let Some(value) = value else {
            return Ok(spellings);
        };
        let Value::Object(map) = value else {
            return Err(self.err(
                path,
                format!(
                    "expected an object of spellings such as {{\"u\": \"you\"}}, found {}",
                    kind(value)
                ),
            ));
        };
        for (variant, standard) in map {
            if variant.starts_with('_') {
                continue;
            }
            let at = format!("{path}.{variant}");
            let standard = self.string(&at, Some(standard))?;
            let (variant, standard) = match (variant.strip_prefix('*'), standard.strip_prefix('*'))
            {
                (Some(from), Some(to)) => {
                    let from = normalize_word(from)
                        .map_err(|problem| self.err(&at, format!("{variant:?}: {problem}")))?;
                    let to = normalize_word(to)
                        .map_err(|problem| self.err(&at, format!("{standard:?}: {problem}")))?;
                    (format!("*{from}"), format!("*{to}"))
                }
                (None, None) => {
                    let from = normalize_word(variant)
                        .map_err(|problem| self.err(&at, format!("{variant:?}: {problem}")))?;
                    let to = normalize_word(standard)
                        .map_err(|problem| self.err(&at, format!("{standard:?}: {problem}")))?;
                    (from, to)
                }
                _ => {
                    return Err(self.err(
                        &at,
                        "a word ending is written with * on both sides (\"*in\": \"*ing\")",
                    ))
                }
            };
            spellings.insert(variant, standard);
        }
        Ok(spellings)
    }

    fn entry(&self, path: &str, value: &Value) -> Result<Entry, LexiconError> {
        let Value::Object(object) = value else {
            return Err(self.err(path, format!("expected an object, found {}", kind(value))));
        };
        self.known_fields(path, object, ENTRY_FIELDS)?;
        let category = self.name(
            &format!("{path}.category"),
            object.get("category"),
            Category::ALL,
            Category::as_str,
        )?;
        let level_path = format!("{path}.level");
        let level = self.name(&level_path, object.get("level"), Level::ALL, Level::as_str)?;
        if level == Level::None {
            return Err(self.err(
                &level_path,
                "\"none\" is not a level for an entry (expected concern or urgent)",
            ));
        }
        let red_flag_path = format!("{path}.red_flag");
        let red_flag = match (category, object.get("red_flag")) {
            (Category::RedFlag, None) => {
                return Err(self.err(
                    &red_flag_path,
                    "missing (required when category is red_flag)",
                ))
            }
            (Category::RedFlag, value) => {
                Some(self.name(&red_flag_path, value, RedFlag::ALL, RedFlag::as_str)?)
            }
            (_, None) => None,
            (_, Some(_)) => {
                return Err(self.err(&red_flag_path, "only allowed when category is red_flag"))
            }
        };
        let phrases_path = format!("{path}.phrases");
        let phrases = match object.get("phrases") {
            None => return Err(self.err(&phrases_path, "missing (expected a list of phrases)")),
            Some(value) => self.phrases(&phrases_path, value, false)?,
        };
        if phrases.is_empty() {
            return Err(self.err(&phrases_path, "empty (a group needs at least one phrase)"));
        }
        let urgent_with = match object.get("urgent_with") {
            None => Vec::new(),
            Some(value) => self.phrases(&format!("{path}.urgent_with"), value, false)?,
        };
        let only_with_path = format!("{path}.only_with");
        let only_with = match object.get("only_with") {
            None => Vec::new(),
            Some(value) => self.phrases(&only_with_path, value, false)?,
        };
        if object.contains_key("only_with") && only_with.is_empty() {
            return Err(self.err(
                &only_with_path,
                "empty (leave it out, or list the phrases one of which must also appear)",
            ));
        }
        let urgent_if_repeated = match object.get("urgent_if_repeated") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(self.err(
                    &format!("{path}.urgent_if_repeated"),
                    format!("expected true or false, found {}", kind(other)),
                ))
            }
        };
        if urgent_if_repeated && level == Level::Urgent {
            return Err(self.err(
                &format!("{path}.urgent_if_repeated"),
                "only for a group whose level is concern (an urgent group is urgent already)",
            ));
        }
        Ok(Entry {
            category,
            level,
            red_flag,
            phrases,
            urgent_with,
            only_with,
            urgent_if_repeated,
        })
    }

    fn topic_group(&self, path: &str, value: &Value) -> Result<TopicGroup, LexiconError> {
        let Value::Object(object) = value else {
            return Err(self.err(path, format!("expected an object, found {}", kind(value))));
        };
        self.known_fields(path, object, TOPIC_FIELDS)?;
        let topic = self.name(
            &format!("{path}.topic"),
            object.get("topic"),
            Topic::ALL,
            Topic::as_str,
        )?;
        let phrases_path = format!("{path}.phrases");
        let phrases = match object.get("phrases") {
            None => return Err(self.err(&phrases_path, "missing (expected a list of phrases)")),
            Some(value) => self.phrases(&phrases_path, value, false)?,
        };
        if phrases.is_empty() {
            return Err(self.err(&phrases_path, "empty (a group needs at least one phrase)"));
        }
        Ok(TopicGroup { topic, phrases })
    }
}

/// Parses one phrase; the error is the problem only (the caller adds the path).
fn parse_phrase(text: &str, in_set: bool) -> Result<Phrase, String> {
    let fail = |problem: String| format!("{text:?}: {problem}");
    let raw_items = split_items(text).map_err(fail)?;
    if raw_items.is_empty() {
        return Err("empty".to_owned());
    }
    let items = parse_items(&raw_items, in_set, false).map_err(fail)?;
    Ok(Phrase {
        text: text.trim().to_owned(),
        path: String::new(),
        items,
    })
}

/// Splits a phrase at spaces, keeping a parenthesised group such as `(lots of|a lot of)?` whole.
fn split_items(text: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut in_group = false;
    for c in text.chars() {
        match c {
            '(' if in_group => return Err("groups ( ) cannot be nested".to_owned()),
            '(' => {
                in_group = true;
                current.push(c);
            }
            ')' if !in_group => return Err("a ) without its (".to_owned()),
            ')' => {
                in_group = false;
                current.push(c);
            }
            c if c.is_whitespace() && !in_group => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if in_group {
        return Err("a ( without its )".to_owned());
    }
    if !current.is_empty() {
        items.push(current);
    }
    Ok(items)
}

/// Parses the items of a phrase, of a set member (`in_set`: no sets) or of one option of a group
/// (`in_group`: no sets, no groups, may be all optional).
fn parse_items(raw_items: &[String], in_set: bool, in_group: bool) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for raw in raw_items {
        let raw = raw.as_str();
        let item = if let Some(inner) = raw.strip_prefix('(') {
            if in_group {
                return Err(format!("{raw:?}: groups ( ) cannot be nested"));
            }
            let (inner, optional) = match inner.strip_suffix(")?") {
                Some(inner) => (inner, true),
                None => (
                    inner
                        .strip_suffix(')')
                        .ok_or_else(|| format!("{raw:?}: a group is written (a b|c d)"))?,
                    false,
                ),
            };
            let mut options = Vec::new();
            for option in inner.split('|') {
                let words: Vec<String> = option.split_whitespace().map(str::to_owned).collect();
                if words.is_empty() {
                    return Err(format!("{raw:?} has an empty alternative"));
                }
                options.push(parse_items(&words, true, true)?);
            }
            Item::Group { options, optional }
        } else if let Some(inner) = raw.strip_prefix('{') {
            let bad = || format!("{raw:?}: a gap is written {{3}} or {{1,3}}");
            let inner = inner.strip_suffix('}').ok_or_else(bad)?;
            let (min, max) = match inner.split_once(',') {
                Some((lo, hi)) => (parse_gap(lo.trim()), parse_gap(hi.trim())),
                None => (Some(0), parse_gap(inner.trim())),
            };
            let (Some(min), Some(max)) = (min, max) else {
                return Err(bad());
            };
            if min > max || max == 0 {
                return Err(format!("gap {raw} is empty or backwards"));
            }
            if max > MAX_GAP {
                return Err(format!("gap {raw} is wider than {MAX_GAP} words"));
            }
            Item::Gap { min, max }
        } else if let Some(inner) = raw.strip_prefix('<') {
            if in_set || in_group {
                return Err(format!("{raw}: a set member or a group cannot use a set"));
            }
            let (inner, optional) = match inner.strip_suffix('?') {
                Some(inner) => (inner, true),
                None => (inner, false),
            };
            let name = inner
                .strip_suffix('>')
                .ok_or_else(|| format!("{raw:?}: a set is written <name>"))?;
            if !valid_set_name(name) {
                return Err(format!(
                    "{raw:?}: a set name uses lowercase letters, digits and _ only"
                ));
            }
            Item::Set {
                name: name.to_owned(),
                optional,
            }
        } else if raw == "^" {
            Item::ClauseStart
        } else if raw == "$" {
            Item::ClauseEnd
        } else if let Some(inner) = raw.strip_prefix('!') {
            Item::NotNext(parse_alts(inner)?)
        } else {
            let (body, optional) = match raw.strip_suffix('?') {
                Some(body) => (body, true),
                None => (raw, false),
            };
            Item::Word {
                alts: parse_alts(body)?,
                optional,
            }
        };
        items.push(item);
    }
    if matches!(items.first(), Some(Item::Gap { .. }))
        || matches!(items.last(), Some(Item::Gap { .. }))
    {
        return Err("a phrase cannot start or end with a gap".to_owned());
    }
    let required = items.iter().any(|item| match item {
        Item::Word { optional, .. } | Item::Set { optional, .. } => !optional,
        Item::Group { options, optional } => !optional && options.iter().all(|o| has_required(o)),
        _ => false,
    });
    if !required && !in_group {
        return Err("needs at least one word that is not optional".to_owned());
    }
    Ok(items)
}

fn has_required(items: &[Item]) -> bool {
    items.iter().any(|item| {
        matches!(
            item,
            Item::Word {
                optional: false,
                ..
            }
        )
    })
}

fn parse_gap(s: &str) -> Option<u8> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 3 {
        return None;
    }
    s.parse().ok()
}

fn parse_alts(body: &str) -> Result<Vec<Alt>, String> {
    if body.is_empty() {
        return Err("an empty word".to_owned());
    }
    body.split('|')
        .map(|part| {
            if part.is_empty() {
                return Err(format!("{body:?} has an empty alternative"));
            }
            if let Some(range) = part.strip_prefix('#') {
                if range.is_empty() {
                    return Ok(Alt::Number {
                        lo: 0,
                        hi: u32::MAX,
                        decimal: false,
                    });
                }
                let bad = || {
                    format!("{part:?}: a number range is written #16-36 (or #38.0-42.9 for numbers written with a decimal point)")
                };
                let (lo, hi) = range.split_once('-').ok_or_else(bad)?;
                let (lo, lo_decimal) = parse_tenths(lo, false).ok_or_else(bad)?;
                let (hi, hi_decimal) = parse_tenths(hi, true).ok_or_else(bad)?;
                if lo > hi {
                    return Err(format!("{part:?}: the range is backwards"));
                }
                return Ok(Alt::Number {
                    lo,
                    hi,
                    decimal: lo_decimal || hi_decimal,
                });
            }
            if let Some(stem) = part.strip_suffix('*') {
                if stem.is_empty() {
                    return Err(format!("{part:?}: a * needs the start of a word before it"));
                }
                return Ok(Alt::Prefix(
                    normalize_word(stem).map_err(|e| format!("{part:?}: {e}"))?,
                ));
            }
            Ok(Alt::exact(
                normalize_word(part).map_err(|e| format!("{part:?}: {e}"))?,
            ))
        })
        .collect()
}

/// Reads one end of a number range in tenths, and whether it was written with a decimal point.
/// A whole number as the upper end covers its fractions (`#36` up to 36.9).
fn parse_tenths(s: &str, upper: bool) -> Option<(u32, bool)> {
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.len() <= 8 && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    match fraction {
        None => Some((whole * 10 + if upper { 9 } else { 0 }, false)),
        Some(f) if f.len() == 1 && digits(f) => Some((whole * 10 + f.parse::<u32>().ok()?, true)),
        Some(_) => None,
    }
}

/// Normalises one lexicon word exactly as message words are normalised.
fn normalize_word(word: &str) -> Result<String, String> {
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if is_emoji(c) {
            return Ok(c.to_string());
        }
    }
    let mut out = String::new();
    let (mut letters, mut digits) = (false, false);
    for c in word.chars() {
        if is_apostrophe(c) {
            continue;
        }
        if !is_word_char(c) {
            return Err(format!(
                "{c:?} is not allowed in a word (write separate words with spaces; punctuation in messages is ignored)"
            ));
        }
        if c.is_ascii_digit() {
            digits = true;
        } else if !is_combining(c) {
            letters = true;
        }
        fold_char(c, &mut out);
    }
    if letters && digits {
        return Err(
            "mixes letters and digits; messages split them, so write them as two words (\"4 cm\")"
                .to_owned(),
        );
    }
    if out.is_empty() {
        return Err("an empty word".to_owned());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// A normalised word with its place in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) text: String,
    start: usize,
    end: usize,
    pub(crate) sentence: u32,
    clause: u32,
    quoted: bool,
    pub(crate) digits: bool,
    /// For a number: its value in tenths ("38.5" → 385).
    value: Option<u32>,
    /// A number written with a decimal point or comma.
    decimal: bool,
    /// Other spellings this word stands for ("u" → "you", "sooo" → "so", "cryin" → "crying"),
    /// filled in by [`Compiled::respell`].
    forms: Vec<String>,
    /// The word with doubled letters written once, when that differs from `text`.
    loose: Option<String>,
    /// The first word after a colon: what follows a colon elaborates, it does not end a clause.
    after_colon: bool,
}

impl Token {
    /// Whether the word, or one of its other spellings, is in `words`.
    fn is_in(&self, words: &HashSet<String>) -> bool {
        words.contains(&self.text) || self.forms.iter().any(|f| words.contains(f))
    }

    /// The word with doubled letters written once.
    fn loose(&self) -> &str {
        self.loose.as_deref().unwrap_or(&self.text)
    }
}

/// A number token's value in tenths, if it fits.
fn tenths(text: &str) -> Option<u32> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction.bytes().next()),
        None => (text, None),
    };
    if whole.is_empty() || whole.len() > 8 {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let tenth = fraction.map_or(0, |b| u32::from(b - b'0'));
    Some(whole * 10 + tenth)
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | 'ʼ' | '`' | '´')
}

fn is_combining(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

/// Pictographic emoji (not skin-tone modifiers or joiners, which are dropped).
fn is_emoji(c: char) -> bool {
    matches!(c, '\u{1F300}'..='\u{1F3FA}' | '\u{1F400}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining(c)
}

/// Lowercases and folds accents, so "Está" and "esta" are the same word.
fn fold_char(c: char, out: &mut String) {
    for lower in c.to_lowercase() {
        let folded = match lower {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
            'ç' | 'ć' | 'č' => 'c',
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => 'i',
            'ñ' | 'ń' | 'ň' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
            'ý' | 'ÿ' => 'y',
            c if is_combining(c) => continue,
            other => other,
        };
        out.push(folded);
    }
}

/// Splits a message into normalised words, numbering sentences and clauses.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    struct State {
        tokens: Vec<Token>,
        current: Option<Token>,
        sentence: u32,
        clause: u32,
        quoted: bool,
        colon: bool,
    }
    impl State {
        fn flush(&mut self) {
            if let Some(mut token) = self.current.take() {
                if !token.text.is_empty() {
                    if token.digits {
                        token.value = tenths(&token.text);
                    }
                    self.tokens.push(token);
                }
            }
        }
    }
    let mut st = State {
        tokens: Vec::new(),
        current: None,
        sentence: 0,
        clause: 0,
        quoted: false,
        colon: false,
    };
    let mut chars = text.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        if is_word_char(c) {
            let digit = c.is_ascii_digit();
            if is_combining(c) {
                // A combining accent belongs to the word before it; alone it is nothing.
            } else if st.current.as_ref().is_some_and(|t| t.digits != digit) {
                st.flush();
            }
            if st.current.is_none() && !is_combining(c) {
                st.current = Some(Token {
                    text: String::new(),
                    start: at,
                    end: at,
                    sentence: st.sentence,
                    clause: st.clause,
                    quoted: st.quoted,
                    digits: digit,
                    value: None,
                    decimal: false,
                    forms: Vec::new(),
                    loose: None,
                    after_colon: std::mem::take(&mut st.colon),
                });
            }
            if let Some(token) = st.current.as_mut() {
                fold_char(c, &mut token.text);
                token.end = at + c.len_utf8();
            }
        } else if is_apostrophe(c)
            && st.current.as_ref().is_some_and(|t| !t.digits)
            && next.is_some_and(char::is_alphabetic)
        {
            // Inside a word ("don't"): dropped, so "don't" and "dont" are one word.
        } else if matches!(c, '.' | ',')
            && next.is_some_and(|n| n.is_ascii_digit())
            && st.current.as_ref().is_some_and(|t| t.digits && !t.decimal)
        {
            // A decimal number ("38.5", "38,5") is one word: a temperature is not two numbers.
            if let Some(token) = st.current.as_mut() {
                token.text.push('.');
                token.decimal = true;
                token.end = at + c.len_utf8();
            }
        } else if is_emoji(c) {
            // Each emoji is a word of its own, so a lexicon can use 😂 or 💀 as a cue.
            st.flush();
            st.tokens.push(Token {
                text: c.to_string(),
                start: at,
                end: at + c.len_utf8(),
                sentence: st.sentence,
                clause: st.clause,
                quoted: st.quoted,
                digits: false,
                value: None,
                decimal: false,
                forms: Vec::new(),
                loose: None,
                after_colon: std::mem::take(&mut st.colon),
            });
        } else {
            st.flush();
            match c {
                '.' if previous.is_some_and(|p| p.is_ascii_digit())
                    && next.is_some_and(|n| n.is_ascii_digit()) => {}
                '.' | '!' | '?' | ';' | '…' | '¡' | '¿' | '。' => {
                    st.sentence += 1;
                    st.clause += 1;
                }
                '\n' | '\r' | '\u{2028}' | '\u{2029}' => {
                    st.sentence += 1;
                    st.clause += 1;
                    st.quoted = false;
                }
                ':' => {
                    st.clause += 1;
                    st.colon = true;
                }
                ',' | '(' | ')' | '[' | ']' | '—' | '–' => st.clause += 1,
                '"' => {
                    st.quoted = !st.quoted;
                    st.clause += 1;
                }
                '“' | '«' | '„' => {
                    st.quoted = true;
                    st.clause += 1;
                }
                '”' | '»' => {
                    st.quoted = false;
                    st.clause += 1;
                }
                _ => {}
            }
        }
        previous = Some(c);
    }
    st.flush();
    st.tokens
}

// ---------------------------------------------------------------------------------------------
// Compiled patterns

/// One element of a compiled pattern (sets already expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    Word(Vec<Alt>),
    Opt(Vec<Alt>),
    Gap(u8, u8),
    Not(Vec<Alt>),
    ClauseStart,
    ClauseEnd,
    /// Alternative sequences matched in place (optional when the flag is set).
    Group(Vec<Vec<Elem>>, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Risk(usize),
    Booster(usize),
    /// A phrase of an entry's `only_with` list.
    Gate(usize),
    Topic(Topic),
    Hyperbole,
    Negation,
    Reported,
    Media,
    Hypothetical,
    Question,
    Uncertain,
    Asked,
    History,
    Present,
    Joking,
    Sincere,
    Imminent,
    Reassurance,
}

#[derive(Debug)]
struct Pattern {
    elems: Vec<Elem>,
    role: Role,
    source: usize,
}

#[derive(Debug)]
struct EntryInfo {
    category: Category,
    level: Level,
    red_flag: Option<RedFlag>,
    /// Counts only with one of its `only_with` phrases in the message.
    gated: bool,
    urgent_if_repeated: bool,
}

/// Every language's phrases, compiled once and indexed by first word.
#[derive(Debug, Default)]
struct Compiled {
    patterns: Vec<Pattern>,
    /// Phrase text per source phrase (a phrase may expand to many patterns).
    sources: Vec<String>,
    entries: Vec<EntryInfo>,
    exact: HashMap<String, Vec<usize>>,
    /// Patterns by the loose form (doubled letters once) of a first word of 6+ letters.
    loose: HashMap<String, Vec<usize>>,
    prefix: HashMap<String, Vec<usize>>,
    numeric: Vec<usize>,
    longest_prefix: usize,
    scope: HashSet<String>,
    first_person: HashSet<String>,
    /// First words of negation cues: a gap never skips one, so "I'd {gap} hurt myself" cannot
    /// match "I'd never hurt myself".
    gap_stops: HashSet<String>,
    /// Other spellings of whole words, from every lexicon's `spellings`.
    spellings: HashMap<String, Vec<String>>,
    /// Other spellings of word endings (`in` → `ing`).
    endings: Vec<(String, String)>,
}

impl Compiled {
    fn build(lexicons: &[Lexicon]) -> Result<Compiled, LexiconError> {
        let mut c = Compiled::default();
        for lexicon in lexicons {
            let cx = Cx {
                language: &lexicon.language,
            };
            let sets = &lexicon.sets;
            for entry in &lexicon.entries {
                let id = c.entries.len();
                c.entries.push(EntryInfo {
                    category: entry.category,
                    level: entry.level,
                    red_flag: entry.red_flag,
                    gated: !entry.only_with.is_empty(),
                    urgent_if_repeated: entry.urgent_if_repeated,
                });
                for phrase in &entry.phrases {
                    c.add(&cx, sets, phrase, Role::Risk(id))?;
                }
                for phrase in &entry.urgent_with {
                    c.add(&cx, sets, phrase, Role::Booster(id))?;
                }
                for phrase in &entry.only_with {
                    c.add(&cx, sets, phrase, Role::Gate(id))?;
                }
            }
            for group in &lexicon.topics {
                for phrase in &group.phrases {
                    c.add(&cx, sets, phrase, Role::Topic(group.topic))?;
                }
            }
            let lists = [
                (&lexicon.hyperbole, Role::Hyperbole),
                (&lexicon.negation, Role::Negation),
                (&lexicon.reported, Role::Reported),
                (&lexicon.media, Role::Media),
                (&lexicon.hypothetical, Role::Hypothetical),
                (&lexicon.question, Role::Question),
                (&lexicon.uncertain, Role::Uncertain),
                (&lexicon.asked, Role::Asked),
                (&lexicon.history, Role::History),
                (&lexicon.present, Role::Present),
                (&lexicon.joking, Role::Joking),
                (&lexicon.sincere, Role::Sincere),
                (&lexicon.imminent, Role::Imminent),
                (&lexicon.reassurance, Role::Reassurance),
            ];
            for (phrases, role) in lists {
                for phrase in phrases {
                    c.add(&cx, sets, phrase, role)?;
                }
            }
            c.scope.extend(lexicon.negation_scope.iter().cloned());
            c.first_person.extend(lexicon.first_person.iter().cloned());
            for (variant, standard) in &lexicon.spellings {
                match (variant.strip_prefix('*'), standard.strip_prefix('*')) {
                    (Some(from), Some(to)) => c.endings.push((from.to_owned(), to.to_owned())),
                    _ => {
                        let forms = c.spellings.entry(variant.clone()).or_default();
                        if !forms.contains(standard) {
                            forms.push(standard.clone());
                        }
                    }
                }
            }
        }
        for pattern in c.patterns.iter().filter(|p| p.role == Role::Negation) {
            if let Some(Elem::Word(alts)) = pattern.elems.iter().find(|e| !e.zero_width()) {
                for alt in alts {
                    if let Alt::Exact { word, .. } = alt {
                        c.gap_stops.insert(word.clone());
                    }
                }
            }
        }
        for (id, pattern) in c.patterns.iter().enumerate() {
            let Some(Elem::Word(alts)) = pattern.elems.iter().find(|e| !e.zero_width()) else {
                continue; // unreachable: variants are normalised to start with a word
            };
            for alt in alts {
                match alt {
                    Alt::Exact { word, loose } => {
                        c.exact.entry(word.clone()).or_default().push(id);
                        if let Some(loose) = loose {
                            c.loose.entry(loose.clone()).or_default().push(id);
                        }
                    }
                    Alt::Prefix(stem) => {
                        c.longest_prefix = c.longest_prefix.max(stem.len());
                        c.prefix.entry(stem.clone()).or_default().push(id);
                    }
                    Alt::Number { .. } => c.numeric.push(id),
                }
            }
        }
        Ok(c)
    }

    fn add(
        &mut self,
        cx: &Cx<'_>,
        sets: &BTreeMap<String, Vec<Phrase>>,
        phrase: &Phrase,
        role: Role,
    ) -> Result<(), LexiconError> {
        let source = self.sources.len();
        self.sources.push(phrase.text.clone());
        for elems in expand(cx, phrase, sets)? {
            self.patterns.push(Pattern {
                elems,
                role,
                source,
            });
        }
        Ok(())
    }

    /// Fills in each word's other spellings: texting forms and common misspellings from the
    /// lexicons' `spellings`, letters drawn out for emphasis ("sooo", "pleaseee"), and the word
    /// with doubled letters written once, for [`Alt::Exact`]'s loose match.
    fn respell(&self, tokens: &mut [Token]) {
        for token in tokens.iter_mut().filter(|t| !t.digits) {
            let text = token.text.as_str();
            let mut forms: Vec<String> = Vec::new();
            let drawn_out = collapse_runs(text, 3);
            if drawn_out != text {
                forms.push(drawn_out);
            }
            for base in std::iter::once(text).chain(forms.clone().iter().map(String::as_str)) {
                if let Some(standard) = self.spellings.get(base) {
                    forms.extend(standard.iter().cloned());
                }
            }
            for (from, to) in &self.endings {
                if let Some(stem) = text.strip_suffix(from.as_str()) {
                    if stem.chars().count() >= 2 {
                        forms.push(format!("{stem}{to}"));
                    }
                }
            }
            forms.retain(|f| f != text);
            forms.dedup();
            let loose = collapse_runs(text, 2);
            token.loose = (loose != text).then_some(loose);
            token.forms = forms;
        }
    }

    /// Every phrase occurrence in the tokens, one per phrase per overlapping region.
    fn hits(&self, tokens: &[Token]) -> Vec<Hit> {
        let mut sentence_end = vec![0; tokens.len()];
        for i in (0..tokens.len()).rev() {
            sentence_end[i] = match tokens.get(i + 1) {
                Some(next) if next.sentence == tokens[i].sentence => sentence_end[i + 1],
                _ => i + 1,
            };
        }
        let mut tried = vec![usize::MAX; self.patterns.len()];
        let mut hits = Vec::new();
        for (pos, token) in tokens.iter().enumerate() {
            let limit = sentence_end[pos];
            let mut candidates: Vec<&[usize]> = Vec::new();
            for form in std::iter::once(&token.text).chain(token.forms.iter()) {
                if let Some(ids) = self.exact.get(form) {
                    candidates.push(ids);
                }
                for (cut, _) in form.char_indices().skip(1).chain([(form.len(), ' ')]) {
                    if cut > self.longest_prefix {
                        break;
                    }
                    if let Some(ids) = self.prefix.get(&form[..cut]) {
                        candidates.push(ids);
                    }
                }
            }
            if let Some(ids) = self.loose.get(token.loose()) {
                candidates.push(ids);
            }
            if token.digits {
                candidates.push(&self.numeric);
            }
            for &id in candidates.into_iter().flatten() {
                if tried[id] == pos {
                    continue;
                }
                tried[id] = pos;
                let pattern = &self.patterns[id];
                let window = Window {
                    tokens,
                    limit,
                    stops: &self.gap_stops,
                };
                if let Some(end) = window.match_here(&pattern.elems, pos) {
                    hits.push(Hit {
                        role: pattern.role,
                        source: pattern.source,
                        start: pos,
                        end,
                    });
                }
            }
        }
        // One hit per phrase per region: variants of a phrase overlap each other.
        hits.sort_by(|a, b| {
            a.source
                .cmp(&b.source)
                .then(a.start.cmp(&b.start))
                .then(b.end.cmp(&a.end))
        });
        let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
        for hit in hits {
            if let Some(last) = kept.last() {
                if last.source == hit.source && hit.start < last.end {
                    continue;
                }
            }
            kept.push(hit);
        }
        kept
    }

    /// The assessment, and for each token whether the context rules set it aside.
    fn assess(&self, tokens: &[Token], hits: &[Hit]) -> (Assessment, Vec<bool>) {
        let spans = |want: fn(Role) -> bool| -> Vec<Span> {
            hits.iter()
                .filter(|h| want(h.role))
                .map(|h| Span {
                    start: h.start,
                    end: h.end,
                })
                .collect()
        };
        let negations = spans(|r| r == Role::Negation);
        let hyperbole = spans(|r| r == Role::Hyperbole);
        let reported = spans(|r| r == Role::Reported);
        let media = spans(|r| r == Role::Media);
        let history = spans(|r| r == Role::History);
        let uncertain = spans(|r| r == Role::Uncertain);
        let present = spans(|r| r == Role::Present);
        let asked = spans(|r| r == Role::Asked);
        let joking = spans(|r| r == Role::Joking);
        let sincere = spans(|r| r == Role::Sincere);
        let imminent = spans(|r| r == Role::Imminent);
        let reassurance = spans(|r| r == Role::Reassurance);
        let hypothetical: Vec<Span> = spans(|r| r == Role::Hypothetical)
            .into_iter()
            .filter(|h| !uncertain.iter().any(|u| u.overlaps(h)))
            .collect();
        let questions: Vec<Span> = spans(|r| r == Role::Question)
            .into_iter()
            .filter(|h| !uncertain.iter().any(|u| u.overlaps(h)))
            .collect();
        let cx = Context {
            tokens,
            compiled: self,
        };

        // Entries a live (not negated, not hyperbole) phrase of `pick` names: boosters, gates.
        let live_entries = |pick: fn(Role) -> Option<usize>| -> HashSet<usize> {
            hits.iter()
                .filter_map(|h| {
                    pick(h.role).map(|entry| {
                        (
                            entry,
                            Span {
                                start: h.start,
                                end: h.end,
                            },
                        )
                    })
                })
                .filter(|(_, span)| {
                    !cx.negated(span, &negations) && !hyperbole.iter().any(|x| x.overlaps(span))
                })
                .map(|(entry, _)| entry)
                .collect()
        };
        let boosted = live_entries(|r| match r {
            Role::Booster(entry) => Some(entry),
            _ => None,
        });
        let opened = live_entries(|r| match r {
            Role::Gate(entry) => Some(entry),
            _ => None,
        });

        // A negated statement is negated as a whole: "I have never had thoughts of harming
        // myself" also cancels the "harming myself" inside it.
        // ...unless the other match carries the negation itself: "don't think I can stop myself
        // hurting her" stands although "think ... hurting her" inside it is negated.
        let negated: Vec<(Category, Span, Span)> = hits
            .iter()
            .filter_map(|h| match h.role {
                Role::Risk(entry) => {
                    let span = Span {
                        start: h.start,
                        end: h.end,
                    };
                    cx.negation_cue(&span, &negations)
                        .map(|cue| (self.entries[entry].category, span, cue))
                }
                _ => None,
            })
            .collect();
        let stands = |entry_id: usize, span: &Span| {
            let entry = &self.entries[entry_id];
            !hyperbole.iter().any(|x| x.overlaps(span))
                && !negated.iter().any(|(category, other, cue)| {
                    *category == entry.category
                        && other.overlaps(span)
                        && !(span.start <= cue.start && cue.end <= span.end)
                })
                && (!entry.gated || opened.contains(&entry_id))
        };

        // Two separate statements of an `urgent_if_repeated` group make it urgent ("the calf is
        // hot and swollen" and "short of breath"; two veiled ways of saying she wants to go).
        let mut standing: HashMap<usize, Vec<Span>> = HashMap::new();
        for hit in hits {
            if let Role::Risk(entry) = hit.role {
                let span = Span {
                    start: hit.start,
                    end: hit.end,
                };
                if self.entries[entry].urgent_if_repeated && stands(entry, &span) {
                    standing.entry(entry).or_default().push(span);
                }
            }
        }
        let repeated: HashSet<usize> = standing
            .into_iter()
            .filter(|(_, spans)| spans.iter().any(|a| spans.iter().any(|b| !a.overlaps(b))))
            .map(|(entry, _)| entry)
            .collect();

        let mut matches = Vec::new();
        let mut topics = BTreeSet::new();
        // Words the context rules have already judged: hyperbole and look-alike phrases, and
        // risk phrases the rules set aside or lowered. The classifier does not see them.
        let mut aside = vec![false; tokens.len()];
        let mut set_aside = |span: &Span| aside[span.start..span.end].fill(true);
        hyperbole.iter().for_each(&mut set_aside);
        for hit in hits {
            let span = Span {
                start: hit.start,
                end: hit.end,
            };
            if hyperbole.iter().any(|x| x.overlaps(&span)) {
                if matches!(hit.role, Role::Risk(_)) {
                    set_aside(&span);
                }
                continue;
            }
            let entry_id = match hit.role {
                Role::Topic(topic) => {
                    topics.insert(topic);
                    continue;
                }
                Role::Risk(entry) => entry,
                _ => continue,
            };
            let entry = &self.entries[entry_id];
            if !stands(entry_id, &span) {
                if !entry.gated || opened.contains(&entry_id) {
                    set_aside(&span); // negated
                }
                continue;
            }
            let base = if boosted.contains(&entry_id) || repeated.contains(&entry_id) {
                Level::Urgent
            } else {
                entry.level
            };
            let red_flag = entry.category == Category::RedFlag;
            if cx.informational(&span, &media, &hypothetical) {
                set_aside(&span);
                continue;
            }
            // Someone else's risk, or words in quotation marks: at most concern — unless the
            // message says it is happening now and she is trying to help ("tonight", "she's not
            // answering", "what do I do", "he's banging on the door").
            let mut level = base;
            let now = !imminent.is_empty();
            if (cx.reported(&span, &reported) || cx.quoted(&span)) && !now {
                level = level.min(Level::Concern);
            }
            let mut steps = 0;
            // A question anchored in the present ("is it normal that she hasn't moved since last
            // night?") is about her, now.
            let anchored = present
                .iter()
                .any(|p| cx.same_sentence(p.start, span.start) && !p.overlaps(&span));
            if red_flag
                && (cx.hypothetical(&span, &hypothetical, false)
                    || (!anchored && cx.hypothetical(&span, &questions, true)))
            {
                steps += 1;
            }
            if cx.asked(&span, &asked) {
                steps += 2;
            }
            // A fear of harming the baby that she says she would not act on ("not because I'd do
            // anything", "intrusive thoughts") is distress to check in on, not danger now.
            if entry.category == Category::HarmToBaby
                && reassurance
                    .iter()
                    .any(|r| !(span.start <= r.start && r.end <= span.end))
            {
                steps += 1;
            }
            if cx.about_the_past(&span, &history, &present) {
                steps += if red_flag { 2 } else { 1 };
            }
            // A joke marker lowers a level, unless she turns serious after it ("jk but honestly").
            if joking.iter().any(|j| {
                cx.same_sentence(j.start, span.start)
                    && !j.overlaps(&span)
                    && !sincere.iter().any(|s| {
                        s.start >= j.start
                            && s.end <= span.start
                            && cx.same_sentence(s.start, span.start)
                    })
            }) {
                steps += 1;
            }
            let level = level.lowered(steps);
            if level < base {
                set_aside(&span);
            }
            if level == Level::None {
                continue;
            }
            matches.push(Match {
                category: entry.category,
                level,
                red_flag: entry.red_flag,
                phrase: self.sources[hit.source].clone(),
                start: tokens[hit.start].start,
                end: tokens[hit.end - 1].end,
            });
        }
        matches.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(a.end.cmp(&b.end))
                .then(a.category.cmp(&b.category))
        });

        let level = matches.iter().map(|m| m.level).max().unwrap_or(Level::None);
        let categories: BTreeSet<Category> = matches.iter().map(|m| m.category).collect();
        let red_flags: BTreeSet<RedFlag> = matches.iter().filter_map(|m| m.red_flag).collect();
        if categories.contains(&Category::LowMood) || categories.contains(&Category::SelfHarm) {
            topics.insert(Topic::LowMood);
        }
        let assessment = Assessment {
            level,
            categories: categories.into_iter().collect(),
            red_flags: red_flags.into_iter().collect(),
            topics: topics.into_iter().collect(),
            matches,
        };
        (assessment, aside)
    }
}

/// Expands a phrase's sets and groups into concrete patterns, each starting with a word.
fn expand(
    cx: &Cx<'_>,
    phrase: &Phrase,
    sets: &BTreeMap<String, Vec<Phrase>>,
) -> Result<Vec<Vec<Elem>>, LexiconError> {
    let lookup = |name: &str| {
        sets.get(name).ok_or_else(|| {
            let known: Vec<&str> = sets.keys().map(String::as_str).collect();
            cx.err(
                &phrase.path,
                format!(
                    "{:?}: unknown set <{name}> (this language has: {})",
                    phrase.text,
                    known.join(", ")
                ),
            )
        })
    };
    let variants = expand_items(&phrase.items, &lookup, false)?.ok_or_else(|| {
        cx.err(
            &phrase.path,
            format!(
                "{:?}: its sets and groups expand to more than {MAX_VARIANTS} variants; split it",
                phrase.text
            ),
        )
    })?;
    let mut out = Vec::new();
    for variant in variants {
        normalize_variant(variant, &mut out);
    }
    if out.is_empty() {
        return Err(cx.err(
            &phrase.path,
            format!("{:?}: can match without any word", phrase.text),
        ));
    }
    Ok(out)
}

/// Every sequence of elements `items` can stand for; `None` when there are too many.
///
/// Only the groups and sets that may hold a pattern's first word are expanded into separate
/// patterns (the first-word index needs a plain word); once every variant has a required word,
/// later groups and sets stay one [`Elem::Group`] matched in place, so a phrase with several
/// groups costs a few patterns, not their product. `inner` is for the options of such a group.
fn expand_items<'s, F>(
    items: &[Item],
    lookup: &F,
    inner: bool,
) -> Result<Option<Vec<Vec<Elem>>>, LexiconError>
where
    F: Fn(&str) -> Result<&'s Vec<Phrase>, LexiconError>,
{
    let mut variants: Vec<Vec<Elem>> = vec![Vec::new()];
    for item in items {
        let anchored = inner
            || variants
                .iter()
                .all(|v| v.iter().any(|e| matches!(e, Elem::Word(_))));
        let members: Option<(Vec<&[Item]>, bool)> = match item {
            Item::Group { options, optional } if anchored => {
                Some((options.iter().map(Vec::as_slice).collect(), *optional))
            }
            Item::Set { name, optional } if anchored => Some((
                lookup(name)?.iter().map(|m| m.items.as_slice()).collect(),
                *optional,
            )),
            _ => None,
        };
        if let Some((members, optional)) = members {
            let mut options = Vec::new();
            for member in members {
                let Some(expanded) = expand_items(member, lookup, true)? else {
                    return Ok(None);
                };
                options.extend(expanded);
            }
            let (mut options, optional) = merge_single_words(options, optional);
            let elems = if options.len() == 1 && !optional {
                options.remove(0)
            } else {
                vec![Elem::Group(options, optional)]
            };
            for variant in &mut variants {
                variant.extend(elems.iter().cloned());
            }
            continue;
        }
        let (choices, optional): (Vec<Vec<Elem>>, bool) = match item {
            Item::Word {
                alts,
                optional: false,
            } => (vec![vec![Elem::Word(alts.clone())]], false),
            Item::Word {
                alts,
                optional: true,
            } => (vec![vec![Elem::Opt(alts.clone())]], false),
            Item::Gap { min, max } => (vec![vec![Elem::Gap(*min, *max)]], false),
            Item::NotNext(alts) => (vec![vec![Elem::Not(alts.clone())]], false),
            Item::ClauseStart => (vec![vec![Elem::ClauseStart]], false),
            Item::ClauseEnd => (vec![vec![Elem::ClauseEnd]], false),
            Item::Group { options, optional } => {
                let mut choices = Vec::new();
                for option in options {
                    let Some(expanded) = expand_items(option, lookup, inner)? else {
                        return Ok(None);
                    };
                    choices.extend(expanded);
                }
                (choices, *optional)
            }
            Item::Set { name, optional } => {
                let mut choices = Vec::new();
                for member in lookup(name)? {
                    let Some(expanded) = expand_items(&member.items, lookup, inner)? else {
                        return Ok(None);
                    };
                    choices.extend(expanded);
                }
                (choices, *optional)
            }
        };
        let (choices, optional) = merge_single_words(choices, optional);
        let mut next = Vec::with_capacity(variants.len() * (choices.len() + usize::from(optional)));
        for variant in &variants {
            if optional {
                next.push(variant.clone());
            }
            for choice in &choices {
                let mut grown = variant.clone();
                grown.extend(choice.iter().cloned());
                next.push(grown);
            }
        }
        if next.len() > MAX_VARIANTS {
            return Ok(None);
        }
        variants = next;
    }
    Ok(Some(variants))
}

/// When every choice is one required word, the choices collapse into one word with all their
/// alternatives (`(a|b|c)` or a set of single words), so they cost one pattern, not one each.
fn merge_single_words(choices: Vec<Vec<Elem>>, optional: bool) -> (Vec<Vec<Elem>>, bool) {
    let single = choices.len() > 1
        && choices
            .iter()
            .all(|c| matches!(c.as_slice(), [Elem::Word(_)]));
    if !single {
        return (choices, optional);
    }
    let mut merged = Vec::new();
    for choice in choices {
        if let Some(Elem::Word(alts)) = choice.into_iter().next() {
            for alt in alts {
                if !merged.contains(&alt) {
                    merged.push(alt);
                }
            }
        }
    }
    let elem = if optional {
        Elem::Opt(merged)
    } else {
        Elem::Word(merged)
    };
    (vec![vec![elem]], false)
}

/// Makes every pattern begin (after lookaheads) with a required word, so a match starts on a word
/// the phrase names and the first-word index is exact: leading gaps are dropped and a leading
/// optional word becomes two variants. Trailing gaps are dropped too.
fn normalize_variant(mut elems: Vec<Elem>, out: &mut Vec<Vec<Elem>>) {
    while matches!(elems.last(), Some(Elem::Gap(..))) {
        elems.pop();
    }
    let first = elems.iter().position(|e| !e.zero_width());
    let Some(first) = first else { return };
    match &elems[first] {
        Elem::Word(_) => out.push(elems),
        Elem::Gap(..) => {
            elems.remove(first);
            normalize_variant(elems, out);
        }
        Elem::Opt(alts) => {
            let mut with = elems.clone();
            with[first] = Elem::Word(alts.clone());
            out.push(with);
            elems.remove(first);
            normalize_variant(elems, out);
        }
        Elem::Not(_) | Elem::ClauseStart | Elem::ClauseEnd | Elem::Group(..) => {}
    }
}

impl Elem {
    /// Lookaheads and anchors check a position without consuming a word.
    fn zero_width(&self) -> bool {
        matches!(self, Elem::Not(_) | Elem::ClauseStart | Elem::ClauseEnd)
    }
}

fn alt_matches(alts: &[Alt], token: &Token) -> bool {
    alts.iter().any(|alt| match alt {
        Alt::Exact { word, loose } => {
            token.text == *word
                || token.forms.iter().any(|f| f == word)
                || loose.as_deref().is_some_and(|l| l == token.loose())
        }
        Alt::Prefix(stem) => {
            token.text.starts_with(stem.as_str())
                || token.forms.iter().any(|f| f.starts_with(stem.as_str()))
        }
        Alt::Number { lo, hi, decimal } => {
            (token.decimal || !decimal) && token.value.is_some_and(|n| (*lo..=*hi).contains(&n))
        }
    })
}

/// The tokens of one sentence, for matching a pattern.
struct Window<'a> {
    tokens: &'a [Token],
    /// Matching stops here (the end of the sentence).
    limit: usize,
    stops: &'a HashSet<String>,
}

/// What is left to match after the elements in hand: the rest of an enclosing sequence.
struct Then<'e> {
    elems: &'e [Elem],
    next: Option<&'e Then<'e>>,
}

impl Window<'_> {
    /// Matches `elems` from token `pos`; returns the end (exclusive). Backtracks over gaps and
    /// optional words, shortest gap first; bounded by [`MAX_GAP`] per gap. A group tries every
    /// option and keeps the longest match, as separate patterns would.
    fn match_here(&self, elems: &[Elem], pos: usize) -> Option<usize> {
        self.match_seq(elems, None, pos)
    }

    fn match_seq(&self, elems: &[Elem], then: Option<&Then<'_>>, pos: usize) -> Option<usize> {
        let Some((first, rest)) = elems.split_first() else {
            return match then {
                None => Some(pos),
                Some(then) => self.match_seq(then.elems, then.next, pos),
            };
        };
        let here = (pos < self.limit).then(|| &self.tokens[pos]);
        match first {
            Elem::Word(alts) => match here {
                Some(token) if alt_matches(alts, token) => self.match_seq(rest, then, pos + 1),
                _ => None,
            },
            Elem::Opt(alts) => {
                if let Some(token) = here {
                    if alt_matches(alts, token) {
                        if let Some(end) = self.match_seq(rest, then, pos + 1) {
                            return Some(end);
                        }
                    }
                }
                self.match_seq(rest, then, pos)
            }
            Elem::Gap(min, max) => {
                for skip in usize::from(*min)..=usize::from(*max) {
                    if skip > 0 {
                        // The word this skip would add to the gap.
                        let skipped = pos + skip - 1;
                        if skipped >= self.limit || self.tokens[skipped].is_in(self.stops) {
                            return None;
                        }
                    }
                    if let Some(end) = self.match_seq(rest, then, pos + skip) {
                        return Some(end);
                    }
                }
                None
            }
            Elem::Not(alts) => match here {
                Some(token) if alt_matches(alts, token) => None,
                _ => self.match_seq(rest, then, pos),
            },
            Elem::ClauseStart => {
                let at_start = pos == 0
                    || pos >= self.tokens.len()
                    || self.tokens[pos - 1].clause != self.tokens[pos].clause;
                if at_start {
                    self.match_seq(rest, then, pos)
                } else {
                    None
                }
            }
            Elem::ClauseEnd => {
                let at_end = pos > 0
                    && (pos >= self.limit
                        || (self.tokens[pos - 1].clause != self.tokens[pos].clause
                            && !self.tokens[pos].after_colon));
                if at_end {
                    self.match_seq(rest, then, pos)
                } else {
                    None
                }
            }
            Elem::Group(options, optional) => {
                let after = Then {
                    elems: rest,
                    next: then,
                };
                let with = options
                    .iter()
                    .filter_map(|option| self.match_seq(option, Some(&after), pos))
                    .max();
                match (with, optional) {
                    (Some(end), _) => Some(end),
                    (None, true) => self.match_seq(rest, then, pos),
                    (None, false) => None,
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    role: Role,
    source: usize,
    start: usize,
    end: usize,
}

/// A token range `[start, end)`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Words between two spans (0 when they touch or overlap).
    fn distance(&self, other: &Span) -> usize {
        other
            .start
            .saturating_sub(self.end)
            .max(self.start.saturating_sub(other.end))
    }
}

/// The context rules, over one message's tokens.
struct Context<'a> {
    tokens: &'a [Token],
    compiled: &'a Compiled,
}

impl Context<'_> {
    fn same_sentence(&self, a: usize, b: usize) -> bool {
        self.tokens[a].sentence == self.tokens[b].sentence
    }

    /// A negation cue shortly before, in the same clause, with only scope words in between.
    fn negated(&self, span: &Span, negations: &[Span]) -> bool {
        self.negation_cue(span, negations).is_some()
    }

    /// The negation cue that negates `span`, if any.
    fn negation_cue(&self, span: &Span, negations: &[Span]) -> Option<Span> {
        negations.iter().copied().find(|cue| {
            cue.end <= span.start
                && span.start - cue.end <= NEGATION_WINDOW
                && self.tokens[cue.end - 1].clause == self.tokens[span.start].clause
                && self.tokens[cue.end..span.start]
                    .iter()
                    .all(|t| t.is_in(&self.compiled.scope))
        })
    }

    /// A reported-speech cue earlier in the sentence, with no first-person word after it (words
    /// in quotation marks are someone else's, so their "I" is not the writer).
    fn reported(&self, span: &Span, cues: &[Span]) -> bool {
        cues.iter().any(|cue| {
            cue.end <= span.start
                && self.same_sentence(cue.start, span.start)
                && !self.writer_in(cue.end, span.end)
        })
    }

    /// An information cue (an article, a song, the midwife's advice) earlier in the sentence. Her
    /// own words after it make the match hers ("I read about it and now I'm bleeding heavily"),
    /// but not inside a hypothetical: "the midwife said to call if I bleed heavily" is advice.
    fn informational(&self, span: &Span, cues: &[Span], hypothetical: &[Span]) -> bool {
        cues.iter().any(|cue| {
            let until = hypothetical
                .iter()
                .filter(|h| h.start >= cue.start && h.start < span.end)
                .map(|h| h.start.max(cue.end))
                .min()
                .unwrap_or(span.end);
            // A cue may share the phrase's first word ("I read that shaking a baby…" against
            // "I {0,3} shaking … baby"), but not come after it.
            cue.start <= span.start
                && cue.end < span.end
                && self.same_sentence(cue.start, span.start)
                && !self.writer_in(cue.end, until.max(cue.end))
        })
    }

    /// A hypothetical cue just before, in the same clause ("what if my waters break"). For
    /// question cues (`unless_writer`), not when the writer is in between: "is it normal that I
    /// haven't felt her move?" is about her, now.
    fn hypothetical(&self, span: &Span, cues: &[Span], unless_writer: bool) -> bool {
        cues.iter().any(|cue| {
            cue.end <= span.start
                && span.start - cue.end <= HYPOTHETICAL_WINDOW
                && self.tokens[cue.end - 1].clause == self.tokens[span.start].clause
                && !(unless_writer && self.writer_in(cue.end, span.end))
        })
    }

    /// A question someone asked her earlier in the sentence ("the health visitor asked if I'd
    /// had thoughts of harming myself"): not something she says is happening.
    fn asked(&self, span: &Span, cues: &[Span]) -> bool {
        cues.iter()
            .any(|cue| cue.end <= span.start && self.same_sentence(cue.start, span.start))
    }

    /// Whether a first-person word (outside quotation marks) lies in tokens `from..to`.
    fn writer_in(&self, from: usize, to: usize) -> bool {
        self.tokens[from..to]
            .iter()
            .any(|t| !t.quoted && t.is_in(&self.compiled.first_person))
    }

    /// A history cue in the sentence ("with my first"), unless a present cue ("now") is nearer.
    fn about_the_past(&self, span: &Span, history: &[Span], present: &[Span]) -> bool {
        let nearest = |cues: &[Span]| {
            // A cue inside the phrase is part of it ("can't remember the last time I felt her kick").
            cues.iter()
                .filter(|c| self.same_sentence(c.start, span.start) && !c.overlaps(span))
                .map(|c| c.distance(span))
                .min()
        };
        match (nearest(history), nearest(present)) {
            (Some(past), Some(now)) => past < now,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Every word of the match is inside quotation marks.
    fn quoted(&self, span: &Span) -> bool {
        self.tokens[span.start..span.end].iter().all(|t| t.quoted)
    }
}

// ---------------------------------------------------------------------------------------------
// Detector

/// The risk detector: all languages' lexicons, compiled once. Cheap to clone (shared) and safe
/// to use from several threads.
#[derive(Clone)]
pub struct Detector {
    lexicons: Vec<Lexicon>,
    compiled: Arc<Compiled>,
    classifier: Option<Arc<Classifier>>,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector")
            .field("languages", &self.languages())
            .field("classifier", &self.classifier.is_some())
            .field("patterns", &self.compiled.patterns.len())
            .finish()
    }
}

impl Detector {
    /// English and Spanish, from the lexicon files built into the crate, with the built-in
    /// classifier ([`crate::classify`]) alongside them.
    pub fn builtin() -> Detector {
        Detector::lexicon_only().with_classifier(Classifier::builtin())
    }

    /// The built-in lexicons alone, without the classifier.
    pub(crate) fn lexicon_only() -> Detector {
        let lexicons = [BUILTIN_EN, BUILTIN_ES]
            .iter()
            .map(|deflated| {
                Lexicon::from_json(&crate::data::inflate_text(deflated))
                    .expect("built-in lexicons are checked by the unit tests")
            })
            .collect();
        Detector::new(lexicons).expect("built-in lexicons are checked by the unit tests")
    }

    /// A detector for exactly these lexicons, without the classifier (add it with
    /// [`Detector::with_classifier`]); several lexicons of one language are merged. Fails if a
    /// phrase names a set its language does not define.
    pub fn new(lexicons: Vec<Lexicon>) -> Result<Detector, LexiconError> {
        let mut merged: Vec<Lexicon> = Vec::new();
        for lexicon in lexicons {
            match merged.iter_mut().find(|l| l.language == lexicon.language) {
                Some(existing) => existing.merge(lexicon),
                None => merged.push(lexicon),
            }
        }
        let compiled = Compiled::build(&merged)?;
        Ok(Detector {
            lexicons: merged,
            compiled: Arc::new(compiled),
            classifier: None,
        })
    }

    /// This detector plus `extra`: merged into the language of the same code (its sets can be
    /// used by `extra`'s phrases), or added as a new language. The classifier, if any, stays.
    pub fn with(self, extra: Lexicon) -> Result<Detector, LexiconError> {
        let classifier = self.classifier;
        let mut lexicons = self.lexicons;
        lexicons.push(extra);
        let mut detector = Detector::new(lexicons)?;
        detector.classifier = classifier;
        Ok(detector)
    }

    /// This detector with `classifier` alongside its lexicons (replacing any it had).
    pub fn with_classifier(mut self, classifier: Classifier) -> Detector {
        self.classifier = Some(Arc::new(classifier));
        self
    }

    /// This detector with its lexicons alone.
    pub fn without_classifier(mut self) -> Detector {
        self.classifier = None;
        self
    }

    /// The classifier alongside the lexicons, if any.
    pub fn classifier(&self) -> Option<&Classifier> {
        self.classifier.as_deref()
    }

    /// The language codes this detector scans for, in the order they were added.
    pub fn languages(&self) -> Vec<&str> {
        self.lexicons.iter().map(|l| l.language.as_str()).collect()
    }

    /// The lexicons' assessment of a message (without the classifier), its words and, for
    /// each word, whether the context rules set it aside: what the classifier sees, for
    /// training it the way it runs.
    pub(crate) fn scan_for_classifier(&self, text: &str) -> (Assessment, Vec<Token>, Vec<bool>) {
        let mut tokens = tokenize(text);
        self.compiled.respell(&mut tokens);
        let hits = self.compiled.hits(&tokens);
        let (assessment, aside) = self.compiled.assess(&tokens, &hits);
        (assessment, tokens, aside)
    }

    /// What the classifier alone says about a message, on the words the lexicon's context
    /// rules left (as it runs inside [`Detector::scan`], but with both heads computed whatever
    /// the lexicon found). `None` without a classifier.
    pub fn classifier_verdict(&self, text: &str) -> Option<Verdict> {
        let classifier = self.classifier.as_deref()?;
        let (_, tokens, aside) = self.scan_for_classifier(text);
        Some(classifier.verdict(&tokens, &aside, Level::None))
    }

    /// Assesses one message in every language at once. Never panics; empty or emoji-only text is
    /// `Level::None`.
    pub fn scan(&self, text: &str) -> Assessment {
        let mut tokens = tokenize(text);
        if tokens.is_empty() {
            return Assessment::default();
        }
        self.compiled.respell(&mut tokens);
        let hits = self.compiled.hits(&tokens);
        let (mut assessment, aside) = self.compiled.assess(&tokens, &hits);
        if let Some(classifier) = &self.classifier {
            raise(&mut assessment, &tokens, &aside, classifier);
        }
        assessment
    }
}

impl Default for Detector {
    fn default() -> Detector {
        Detector::builtin()
    }
}

/// Raises the lexicon's assessment to the classifier's level when that is higher. The match
/// added spans the message, with [`CLASSIFIER_PHRASE`] for its phrase. When the lexicon found
/// nothing, the category is the model's own (with the low-mood topic for self-harm and low
/// mood, as lexicon matches add it); when the lexicon found something at a lower level, its
/// categories stay as they are and the match takes the most serious of them, because the
/// lexicon's phrases say concretely what the message is about. The classifier never lowers
/// anything.
fn raise(assessment: &mut Assessment, tokens: &[Token], aside: &[bool], classifier: &Classifier) {
    let verdict = classifier.verdict(tokens, aside, assessment.level);
    if verdict.level <= assessment.level {
        return;
    }
    let category = match most_serious(&assessment.categories) {
        Some(category) => category,
        None => {
            let Some(category) = verdict.category else {
                return;
            };
            assessment.categories.push(category);
            if matches!(category, Category::LowMood | Category::SelfHarm) {
                if let Err(at) = assessment.topics.binary_search(&Topic::LowMood) {
                    assessment.topics.insert(at, Topic::LowMood);
                }
            }
            category
        }
    };
    assessment.level = verdict.level;
    let (first, last) = (&tokens[0], &tokens[tokens.len() - 1]);
    let at = assessment
        .matches
        .iter()
        .position(|m| m.start > first.start)
        .unwrap_or(assessment.matches.len());
    assessment.matches.insert(
        at,
        Match {
            category,
            level: verdict.level,
            red_flag: None,
            phrase: CLASSIFIER_PHRASE.to_owned(),
            start: first.start,
            end: last.end,
        },
    );
}

/// The most serious of `categories`, in the order help cards use.
pub(crate) fn most_serious(categories: &[Category]) -> Option<Category> {
    const SERIOUS_FIRST: [Category; 6] = [
        Category::SelfHarm,
        Category::HarmToBaby,
        Category::RedFlag,
        Category::Psychosis,
        Category::DomesticAbuse,
        Category::LowMood,
    ];
    SERIOUS_FIRST.into_iter().find(|c| categories.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in lexicons without the classifier, compiled once: these tests are about the
    /// lexicons' rules (the classifier's part has its own tests at the end).
    fn builtin() -> &'static Detector {
        static DETECTOR: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
        DETECTOR.get_or_init(Detector::lexicon_only)
    }

    /// The built-in detector as the app runs it: lexicons and classifier.
    fn with_classifier() -> &'static Detector {
        static DETECTOR: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
        DETECTOR.get_or_init(Detector::builtin)
    }

    fn level(text: &str) -> Level {
        builtin().scan(text).level
    }

    #[test]
    fn builtin_lexicons_load() {
        let detector = builtin();
        assert_eq!(detector.languages(), vec!["en", "es"]);
        for (deflated, file) in [
            (BUILTIN_EN, "lexicon-en.json"),
            (BUILTIN_ES, "lexicon-es.json"),
        ] {
            let json = crate::data::inflate_text(deflated);
            let source = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("data")
                    .join(file),
            )
            .unwrap();
            assert_eq!(json, source, "the built-in {file} is the file in data/");
            assert!(Lexicon::from_json(&json).expect("loads").phrase_count() > 100);
        }
    }

    #[test]
    fn tokens_fold_case_accents_apostrophes_and_keep_offsets() {
        let text = "Ya NO quiero   vivir… I DON’T know";
        let tokens = tokenize(text);
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(words, ["ya", "no", "quiero", "vivir", "i", "dont", "know"]);
        assert_eq!(&text[tokens[5].start..tokens[5].end], "DON’T");
        assert_ne!(tokens[3].sentence, tokens[4].sentence, "… ends a sentence");
        let tokens = tokenize("Está sangrando, año 4cm 32+4 1.5 38,5. 3");
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            words,
            [
                "esta",
                "sangrando",
                "ano",
                "4",
                "cm",
                "32",
                "4",
                "1.5",
                "38.5",
                "3"
            ]
        );
        let values: Vec<Option<u32>> = tokens[5..].iter().map(|t| t.value).collect();
        assert_eq!(values, [Some(320), Some(40), Some(15), Some(385), Some(30)]);
        assert!(tokens[8].decimal && !tokens[9].decimal);
        assert_ne!(
            tokens[8].sentence, tokens[9].sentence,
            "\"38,5. 3\" ends a sentence"
        );
        // Decomposed accents (e + combining acute) fold the same way.
        assert_eq!(tokenize("este\u{301}")[0].text, "este");
    }

    #[test]
    fn empty_whitespace_and_emoji_only_are_none() {
        let detector = builtin();
        for text in [
            "",
            "   \n\t ",
            "😭😭😭",
            "🤰🏽💕",
            "😂💀",
            "...!!!",
            "\u{301}\u{301}",
        ] {
            assert_eq!(detector.scan(text), Assessment::default(), "{text:?}");
        }
    }

    /// Spanish "no" negates through the English list's `no !i|im|id|ill|ive|one|longer` (cue
    /// lists are pooled); a plain "no" in the Spanish list would also negate English "no I…".
    #[test]
    fn no_negates_spanish_but_not_an_english_no_before_i() {
        assert_eq!(level("no quiero morir"), Level::None);
        assert_eq!(level("No me quiero matar"), Level::None);
        assert_eq!(level("no quiero vivir"), Level::Urgent);
        for text in [
            "no i want to die",
            "no I'm bleeding heavily",
            "no id rather die",
            "no ive been cutting again",
        ] {
            assert_eq!(level(text), Level::Urgent, "{text}");
        }
    }

    #[test]
    fn spanish_accents_are_optional_in_messages() {
        for text in [
            "Estoy sangrando muchísimo",
            "estoy sangrando muchisimo",
            "ESTOY SANGRANDO MUCHÍSIMO",
        ] {
            let assessment = builtin().scan(text);
            assert_eq!(assessment.level, Level::Urgent, "{text}");
            assert_eq!(assessment.red_flags, vec![RedFlag::HeavyBleeding]);
        }
        assert_eq!(level("no quiero seguir viviendo"), Level::Urgent);
        assert_eq!(
            level("No quiero seguir viviendo así, ya no puedo más"),
            Level::Urgent
        );
    }

    #[test]
    fn negation_before_a_phrase_cancels_it_but_not_inside_it() {
        assert_eq!(level("I'd never hurt myself"), Level::None);
        assert_eq!(level("I would never ever hurt my baby"), Level::None);
        assert_eq!(level("I'm not suicidal, just tired"), Level::None);
        assert_eq!(level("nunca le haría daño a mi bebé"), Level::None);
        // Negation that is part of the phrase.
        assert_eq!(level("I don't want to live anymore"), Level::Urgent);
        assert_eq!(level("I can't feel the baby move"), Level::Urgent);
        assert_eq!(level("no siento al bebé moverse desde ayer"), Level::Urgent);
        // A content word ends the cue's reach; a clause break too.
        assert_eq!(level("I'm not okay I want to die"), Level::Urgent);
        assert_eq!(level("No, I want to die"), Level::Urgent);
    }

    #[test]
    fn sentences_and_clauses_bound_negation_and_phrases() {
        assert_eq!(level("I don't know. I want to die"), Level::Urgent);
        assert_eq!(level("Not sleeping at all; I want to die"), Level::Urgent);
        // "want to ... die" does not match across the full stop.
        assert_eq!(level("I want to. Die Hard is on tonight"), Level::None);
    }

    #[test]
    fn reported_speech_is_at_most_concern_unless_it_is_about_her() {
        let detector = builtin();
        let friend = detector.scan("My friend said she wanted to die after her baby was born");
        assert_eq!(friend.level, Level::Concern);
        assert_eq!(friend.categories, vec![Category::SelfHarm]);
        assert_eq!(level("mi amiga dijo que quería morirse"), Level::Concern);
        assert_eq!(level("My sister told me she bled heavily"), Level::Concern);
        // Someone else's past: reported and history together leave nothing.
        assert_eq!(
            level("My friend told me she wanted to die after her first"),
            Level::None
        );
        // Witnessed now is not reported speech: the member needs help for her sister.
        assert_eq!(
            level("My sister is having a seizure, she's 38 weeks pregnant"),
            Level::Urgent
        );
        // About the member herself.
        assert_eq!(level("He said he would kill me if I leave"), Level::Urgent);
        assert_eq!(
            level("My mum said I'm bleeding heavily and must go in"),
            Level::Urgent
        );
        // Media and clinicians' advice are information, not anyone's risk.
        assert_eq!(
            level("The song goes \"I want to die\" and it's stuck in my head"),
            Level::None
        );
        assert_eq!(
            level("I read an article about women who bleed heavily after birth"),
            Level::None
        );
        assert_eq!(
            level("The midwife said heavy bleeding means call 999"),
            Level::None
        );
        // Quoted words are one level down; the "I" inside quotes is not the writer.
        assert_eq!(
            level("she keeps texting \"I want to die\" to her ex"),
            Level::Concern
        );
    }

    #[test]
    fn hyperbole_is_not_risk() {
        for text in [
            "this heartburn is killing me",
            "the baby is kicking me to death",
            "I could kill for a coffee",
            "dying to meet her!",
            "I'm dead tired",
            "me muero de ganas de conocerla",
            "me mata el calor",
            "I want to die of embarrassment, I peed a bit when I sneezed",
        ] {
            assert_eq!(level(text), Level::None, "{text}");
        }
    }

    #[test]
    fn joking_markers_and_screening_questions_lower_a_level() {
        assert_eq!(level("I want to die"), Level::Urgent);
        assert_eq!(
            level("he sang in the café and I wanted to die 😂"),
            Level::Concern
        );
        assert_eq!(level("quiero morirme jajaja qué vergüenza"), Level::Concern);
        assert_eq!(
            level(
                "The health visitor asked if I'd had thoughts of harming myself, is that standard?"
            ),
            Level::None
        );
        // A question about her own symptom still counts; a general question does not.
        assert_eq!(
            level("Is it normal that I haven't felt her move since yesterday?"),
            Level::Urgent
        );
        assert_eq!(
            level("How long does bleeding last after a c-section?"),
            Level::None
        );
    }

    #[test]
    fn emergencies_beyond_the_five_red_flags() {
        let detector = builtin();
        let cases = [
            (
                "I can't breathe properly and my chest hurts",
                RedFlag::ChestOrBreathing,
            ),
            (
                "fever of 39 and shivering, my stitches smell awful",
                RedFlag::Infection,
            ),
            (
                "she fell off the bed and now she's being sick and really sleepy",
                RedFlag::BabyUnwell,
            ),
        ];
        for (text, flag) in cases {
            let assessment = detector.scan(text);
            assert_eq!(assessment.level, Level::Urgent, "{text}");
            assert!(
                assessment.red_flags.contains(&flag),
                "{text}: {:?}",
                assessment.red_flags
            );
        }
        let voices = detector.scan("I keep hearing a voice telling me the baby isn't mine");
        assert_eq!(voices.level, Level::Urgent);
        assert!(voices.categories.contains(&Category::Psychosis));
        // Everyday look-alikes.
        assert_eq!(
            level("so out of breath walking up the stairs at 35 weeks"),
            Level::None
        );
        assert_eq!(
            level("he fell off the sofa but he's totally fine"),
            Level::None
        );
    }

    #[test]
    fn history_and_hypotheticals_lower_red_flags() {
        assert_eq!(
            level("I'm 32 weeks and my waters just broke"),
            Level::Urgent
        );
        assert_eq!(
            level("With my first my waters broke at 32 weeks"),
            Level::None
        );
        assert_eq!(
            level("What should I do if my waters break at 34 weeks?"),
            Level::Concern
        );
        assert_eq!(
            level("I'm not sure if my waters broke, I'm 34 weeks"),
            Level::Urgent
        );
    }

    #[test]
    fn urgent_with_raises_a_group() {
        assert_eq!(level("baby seems quieter today"), Level::Concern);
        assert_eq!(
            level("baby seems quieter today, no kicks since this morning"),
            Level::Urgent
        );
        assert_eq!(level("I've got a bad headache"), Level::Concern);
        assert_eq!(
            level("I've got a bad headache and my vision is blurry"),
            Level::Urgent
        );
    }

    #[test]
    fn matches_point_at_the_original_text() {
        let text = "Hola 🌸. Él me PEGÓ anoche";
        let assessment = builtin().scan(text);
        assert_eq!(assessment.level, Level::Urgent);
        let m = &assessment.matches[0];
        assert_eq!(m.category, Category::DomesticAbuse);
        assert!(
            text[m.start..m.end].contains("PEGÓ"),
            "{:?}",
            &text[m.start..m.end]
        );
    }

    #[test]
    fn topics_are_reported_and_ignore_negation() {
        let detector = builtin();
        assert!(detector
            .scan("we lost the baby at 12 weeks")
            .has_topic(Topic::Loss));
        assert!(detector
            .scan("Thankfully it wasn't a miscarriage")
            .has_topic(Topic::Loss));
        assert!(detector
            .scan("my emergency c-section was traumatic")
            .has_topic(Topic::BirthTrauma));
        assert!(detector
            .scan("feeling so low lately")
            .has_topic(Topic::LowMood));
        let medical = detector.scan("dilated 4cm, lost my mucus plug, blood pressure 150/100");
        assert!(medical.has_topic(Topic::MedicalDetail));
        assert_eq!(medical.level, Level::None);
        assert!(!detector
            .scan("what pram did everyone get?")
            .is_distressing());
    }

    #[test]
    fn lexicon_errors_name_the_field() {
        let cases = [
            ("[]", "lexicon (unknown language): expected a JSON object at the top level, found a list"),
            ("{", "lexicon (unknown language): not valid JSON"),
            ("{}", "lexicon (unknown language): language: missing"),
            (r#"{"language": 3}"#, "lexicon (unknown language): language: expected a string, found a number"),
            (r#"{"language": "es", "entrys": []}"#, "lexicon es: entrys: unknown field"),
            (
                r#"{"language": "es", "entries": [{"category": "self_harm", "level": "urgent", "phrases": ["ok", ""]}]}"#,
                "lexicon es: entries[0].phrases[1]: empty",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "self_hurm", "level": "urgent", "phrases": ["x"]}]}"#,
                "lexicon es: entries[0].category: unknown value \"self_hurm\" (expected one of: self_harm,",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "red_flag", "level": "urgent", "phrases": ["x"]}]}"#,
                "lexicon es: entries[0].red_flag: missing (required when category is red_flag)",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "low_mood", "level": "none", "phrases": ["x"]}]}"#,
                "lexicon es: entries[0].level: \"none\" is not a level",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "low_mood", "level": "concern", "phrases": ["quiero {9} morir"]}]}"#,
                "lexicon es: entries[0].phrases[0]: \"quiero {9} morir\": gap {9} is wider than 8 words",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "low_mood", "level": "concern", "phrases": ["a||b"]}]}"#,
                "lexicon es: entries[0].phrases[0]: \"a||b\": \"a||b\" has an empty alternative",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "low_mood", "level": "concern", "phrases": ["self-harm"]}]}"#,
                "lexicon es: entries[0].phrases[0]: \"self-harm\": \"self-harm\": '-' is not allowed",
            ),
            (
                r#"{"language": "es", "topics": [{"topic": "loss", "phrases": ["{2} perdida"]}]}"#,
                "lexicon es: topics[0].phrases[0]: \"{2} perdida\": a phrase cannot start or end with a gap",
            ),
            (
                r#"{"language": "es", "hyperbole": ["muero? de?"]}"#,
                "lexicon es: hyperbole[0]: \"muero? de?\": needs at least one word that is not optional",
            ),
            (r#"{"language": "es", "sets": {"Pareja": ["el"]}}"#, "lexicon es: sets.Pareja: a set name uses"),
            (r#"{"language": "es", "negation_scope": ["no puedo"]}"#, "lexicon es: negation_scope[0]: \"no puedo\": ' '"),
            (r#"{"language": "es", "spellings": ["q"]}"#, "lexicon es: spellings: expected an object of spellings"),
            (r#"{"language": "es", "spellings": {"q": 3}}"#, "lexicon es: spellings.q: expected a string, found a number"),
            (r#"{"language": "es", "spellings": {"*ao": "ado"}}"#, "lexicon es: spellings.*ao: a word ending is written with * on both sides"),
            (r#"{"language": "es", "spellings": {"x y": "z"}}"#, "lexicon es: spellings.x y: \"x y\": ' ' is not allowed"),
            (
                r#"{"language": "es", "entries": [{"category": "low_mood", "level": "concern", "only_with": [], "phrases": ["x"]}]}"#,
                "lexicon es: entries[0].only_with: empty",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "low_mood", "level": "urgent", "urgent_if_repeated": true, "phrases": ["x"]}]}"#,
                "lexicon es: entries[0].urgent_if_repeated: only for a group whose level is concern",
            ),
            (
                r#"{"language": "es", "entries": [{"category": "low_mood", "level": "concern", "urgent_if_repeated": "yes", "phrases": ["x"]}]}"#,
                "lexicon es: entries[0].urgent_if_repeated: expected true or false, found a string",
            ),
            (
                r##"{"language": "es", "entries": [{"category": "low_mood", "level": "concern", "phrases": ["#38.55-40"]}]}"##,
                "lexicon es: entries[0].phrases[0]: \"#38.55-40\": \"#38.55-40\": a number range is written #16-36",
            ),
        ];
        for (json, expected) in cases {
            let error = Lexicon::from_json(json).expect_err(json).to_string();
            assert!(
                error.starts_with(expected),
                "{json}\n  got: {error}\n want: {expected}…"
            );
        }
        let unknown_set = Lexicon::from_json(
            r#"{"language": "xx", "entries": [{"category": "domestic_abuse", "level": "urgent", "phrases": ["<pareja> me pega"]}]}"#,
        )
        .expect("parses; sets are resolved when compiled");
        let error = Detector::new(vec![unknown_set])
            .expect_err("unknown set")
            .to_string();
        assert!(
            error.starts_with(
                "lexicon xx: entries[0].phrases[0]: \"<pareja> me pega\": unknown set <pareja>"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_programme_lexicon_extends_a_language_and_can_use_its_sets() {
        let text = "he keeps the car keys so I can never leave the flat";
        assert_eq!(level(text), Level::None);
        let extra = Lexicon::from_json(
            r#"{"_note": "programme addition", "language": "EN", "entries": [
                {"category": "domestic_abuse", "level": "concern", "phrases": ["<partner> {0,2} keeps the car keys"]}
            ]}"#,
        )
        .expect("valid");
        let detector = builtin().clone().with(extra).expect("compiles");
        assert_eq!(
            detector.languages(),
            vec!["en", "es"],
            "merged into en, not added"
        );
        let assessment = detector.scan(text);
        assert_eq!(assessment.level, Level::Concern);
        assert_eq!(
            assessment.matches[0].phrase,
            "<partner> {0,2} keeps the car keys"
        );

        let french = Lexicon::from_json(
            r#"{"language": "fr", "negation": ["jamais"], "negation_scope": ["je", "ne"], "entries": [
                {"category": "self_harm", "level": "urgent", "phrases": ["envie de mourir"]}
            ]}"#,
        )
        .expect("valid");
        let detector = builtin().clone().with(french).expect("compiles");
        assert_eq!(detector.languages(), vec!["en", "es", "fr"]);
        assert_eq!(detector.scan("j'ai envie de mourir").level, Level::Urgent);
    }

    #[test]
    fn phrase_syntax_gaps_optional_numbers_and_lookahead() {
        let lexicon = Lexicon::from_json(
            r#"{"language": "xx", "entries": [
                {"category": "red_flag", "red_flag": "waters_early", "level": "urgent", "phrases": ["waters broke {0,3} #16-36 weeks?"]},
                {"category": "red_flag", "red_flag": "reduced_movements", "level": "urgent", "phrases": ["hasnt moved !much|as"]},
                {"category": "low_mood", "level": "concern", "phrases": ["very? sad* all day"]}
            ]}"#,
        )
        .expect("valid");
        let detector = Detector::new(vec![lexicon]).expect("compiles");
        assert_eq!(
            detector.scan("waters broke at 33 weeks").level,
            Level::Urgent
        );
        assert_eq!(detector.scan("waters broke at 33").level, Level::Urgent);
        assert_eq!(detector.scan("waters broke at 39 weeks").level, Level::None);
        assert_eq!(detector.scan("she hasn't moved").level, Level::Urgent);
        assert_eq!(detector.scan("she hasn't moved much").level, Level::None);
        let m = &detector.scan("so very sadly all day").matches[0];
        assert_eq!(
            &"so very sadly all day"[m.start..m.end],
            "very sadly all day",
            "starts at the optional word"
        );
    }

    fn custom(json: &str) -> Detector {
        Detector::new(vec![Lexicon::from_json(json).expect("valid")]).expect("compiles")
    }

    #[test]
    fn decimal_numbers_are_one_word_and_ranges_can_require_them() {
        let detector = custom(
            r##"{"language": "xx", "entries": [
                {"category": "red_flag", "red_flag": "baby_unwell", "level": "concern", "phrases": ["#38.0-42.9"]},
                {"category": "red_flag", "red_flag": "waters_early", "level": "urgent", "phrases": ["waters {0,3} #16-36 weeks"]}
            ]}"##,
        );
        assert_eq!(detector.scan("she's 38.5").level, Level::Concern);
        assert_eq!(detector.scan("tiene 38,6").level, Level::Concern);
        assert_eq!(detector.scan("38 weeks today").level, Level::None);
        assert_eq!(
            detector.scan("waters went at 36.5 weeks").level,
            Level::Urgent
        );
        assert_eq!(detector.scan("waters went at 37 weeks").level, Level::None);
        // Built in: a fever in the first weeks, written with a decimal point or comma.
        assert_eq!(
            level("mi bebé de 10 días tiene 38,4 de fiebre"),
            Level::Urgent
        );
        assert_eq!(
            level("baby is 9 days old and has a temperature of 38.2"),
            Level::Urgent
        );
        assert_eq!(level("I'm 38.5 weeks and so uncomfortable"), Level::None);
    }

    #[test]
    fn other_spellings_texting_forms_and_doubled_letters() {
        let detector = custom(
            r#"{"language": "xx", "spellings": {"u": "you", "r": "are", "*in": "*ing"},
                "entries": [{"category": "low_mood", "level": "concern", "phrases": ["you are crying", "disappear forever"]}]}"#,
        );
        assert_eq!(detector.scan("u r cryin").level, Level::Concern);
        assert_eq!(detector.scan("dissapear forever").level, Level::Concern);
        assert_eq!(detector.scan("disapear foreverrrr").level, Level::Concern);
        // Built in.
        assert_eq!(level("i want to dissapear permanantly"), Level::Urgent);
        assert_eq!(
            level("toy harta, kiero desaparecer para siempre"),
            Level::Urgent
        );
        assert_eq!(level("cant stop thinkin bout endin it all"), Level::Urgent);
        // Short words match exactly: a nose is not a noose.
        assert_eq!(
            level("baby's got a blocked nose, are saline drops any good?"),
            Level::None
        );
    }

    #[test]
    fn groups_after_the_first_word_are_matched_in_place() {
        // Expanded into patterns this phrase would be 5 × 5 × 5 × 5 × 5 = 3125 variants.
        let detector = custom(
            r#"{"language": "xx", "entries": [{"category": "low_mood", "level": "concern", "phrases": [
                "so (a b|c d|e f|g h|i j) (a b|c d|e f|g h|i j) (a b|c d|e f|g h|i j) (a b|c d|e f|g h|i j) (a b|c d|e f|g h|i j)?"
            ]}]}"#,
        );
        assert!(
            format!("{detector:?}").contains("patterns: 1 "),
            "{detector:?}"
        );
        let assessment = detector.scan("so e f a b i j g h and more");
        assert_eq!(assessment.level, Level::Concern);
        let m = &assessment.matches[0];
        assert_eq!(
            m.end,
            "so e f a b i j g h".len(),
            "the optional group is left out"
        );
        assert_eq!(detector.scan("so e f a b i j").level, Level::None);
    }

    #[test]
    fn only_with_and_urgent_if_repeated() {
        let detector = custom(
            r##"{"language": "xx", "negation": ["not"], "entries": [
                {"category": "red_flag", "red_flag": "reduced_movements", "level": "concern", "only_with": ["#20-42 weeks", "bump"], "phrases": ["quiet today"]},
                {"category": "red_flag", "red_flag": "chest_or_breathing", "level": "concern", "urgent_if_repeated": true, "phrases": ["calf is swollen", "short of breath", "breathless"]}
            ]}"##,
        );
        assert_eq!(
            detector.scan("she's quiet today, lovely").level,
            Level::None
        );
        assert_eq!(detector.scan("quiet today, 34 weeks").level, Level::Concern);
        assert_eq!(
            detector.scan("quiet today, not 34 weeks").level,
            Level::None,
            "a negated gate does not open"
        );
        assert_eq!(detector.scan("calf is swollen").level, Level::Concern);
        assert_eq!(
            detector
                .scan("calf is swollen and I'm short of breath")
                .level,
            Level::Urgent
        );
        assert_eq!(
            detector.scan("short of breath, so breathless").level,
            Level::Urgent
        );
    }

    #[test]
    fn end_of_clause_is_not_before_a_colon() {
        let detector = custom(
            r#"{"language": "xx", "entries": [{"category": "self_harm", "level": "concern", "phrases": ["i have a plan $"]}]}"#,
        );
        assert_eq!(detector.scan("I have a plan.").level, Level::Concern);
        assert_eq!(
            detector.scan("I have a plan, it's decided").level,
            Level::Concern
        );
        assert_eq!(
            detector.scan("I have a plan: nap when she naps").level,
            Level::None
        );
        assert_eq!(
            detector.scan("I have a plan for the birth").level,
            Level::None
        );
    }

    #[test]
    fn someone_at_risk_now_keeps_the_level_of_reported_speech() {
        // Someone else's risk is concern...
        assert_eq!(
            level("My sister told me she wants to kill herself"),
            Level::Concern
        );
        // ...unless it is happening now and she is trying to help.
        assert_eq!(
            level("my friend says she's going to end it tonight, what do I do"),
            Level::Urgent
        );
        assert_eq!(
            level(
                "mi amiga me escribió que se va a tomar todas las pastillas esta noche, qué hago??"
            ),
            Level::Urgent
        );
        assert_eq!(
            level("my friend just told me she's taken a whole packet of pills"),
            Level::Urgent
        );
        // Past or advice stays low.
        assert_eq!(
            level("my sister told me she used to self harm as a teenager"),
            Level::None
        );
        assert_eq!(
            level("the midwife told me that if I bleed heavily I should call"),
            Level::None
        );
    }

    #[test]
    fn a_disclosure_after_a_joke_is_not_lowered() {
        assert_eq!(
            level("lol dying over here. jk but honestly i don't want to be here anymore"),
            Level::Urgent
        );
        assert_eq!(
            level("jajaja estoy muerta de sueño. bueno, en serio, no quiero seguir viviendo"),
            Level::Urgent
        );
        assert_eq!(level("I want to die lol"), Level::Concern);
    }

    #[test]
    fn a_phrase_that_carries_its_negation_stands_and_reassurance_lowers_a_fear() {
        assert_eq!(
            level("don't think i can stop myself hurting her if she keeps screaming"),
            Level::Urgent
        );
        assert_eq!(
            level("no me veo capaz de no hacerle daño cuando llora así"),
            Level::Urgent
        );
        assert_eq!(level("I'd never hurt her, I just need sleep"), Level::None);
        assert_eq!(level("I'm scared to be alone with her"), Level::Urgent);
        assert_eq!(
            level("I'm scared to be alone with her, not because I'd do anything, I just feel clueless"),
            Level::Concern
        );
    }

    #[test]
    fn a_question_about_now_is_not_a_general_question() {
        assert_eq!(
            level("vos sabés si es normal que no se mueva nada desde anoche? 35 semanas"),
            Level::Urgent
        );
        assert_eq!(
            level("How long does bleeding last after a c-section?"),
            Level::None
        );
    }

    #[test]
    fn a_long_message_is_scanned_in_one_pass() {
        let detector = builtin();
        let mut text = String::new();
        while text.len() < 5_000 {
            text.push_str(
                "the baby is kicking loads today and I'm so tired, not bleeding, all fine 😊 ",
            );
        }
        assert_eq!(detector.scan(&text).level, Level::None);
        text.push_str("but now I want to die");
        assert_eq!(detector.scan(&text).level, Level::Urgent);
        // One unbroken sentence of repeated gap-prone words.
        let words = "want to to to to ".repeat(1_000);
        assert_eq!(detector.scan(&words).level, Level::None);
    }

    // -----------------------------------------------------------------------------------------
    // The classifier alongside the lexicons

    /// The examples of the context rules (docs/safety.md): the classifier sees only the words
    /// the rules left, so it does not undo them.
    #[test]
    fn the_classifier_keeps_the_context_rules() {
        for (text, expected) in [
            ("this heartburn is killing me", Level::None),
            ("I would never ever hurt my baby", Level::None),
            (
                "I read an article about women who bleed heavily after birth",
                Level::None,
            ),
            (
                "My friend said she wanted to die after her baby was born",
                Level::Concern,
            ),
            (
                "she keeps texting \"I want to die\" to her ex",
                Level::Concern,
            ),
            (
                "The health visitor asked if I'd had thoughts of harming myself, is that standard?",
                Level::None,
            ),
            (
                "What should I do if my waters break at 34 weeks?",
                Level::Concern,
            ),
            (
                "How long does bleeding last after a c-section?",
                Level::None,
            ),
            ("With my first my waters broke at 32 weeks", Level::None),
            ("he sang in the café and I wanted to die 😂", Level::Concern),
            (
                "The song goes \"I want to die\" and it's stuck in my head",
                Level::None,
            ),
            (
                "My friend told me she wanted to die after her first",
                Level::None,
            ),
            ("baby seems quieter today", Level::Concern),
            (
                "baby seems quieter today, no kicks since this morning",
                Level::Urgent,
            ),
            (
                "I'm not sure if my waters broke, I'm 34 weeks",
                Level::Urgent,
            ),
            ("He said he would kill me if I leave", Level::Urgent),
            ("My mum said I'm bleeding heavily", Level::Urgent),
            ("I'm not okay I want to die", Level::Urgent),
            ("No, I want to die", Level::Urgent),
        ] {
            assert_eq!(builtin().scan(text).level, expected, "lexicon: {text}");
            assert_eq!(
                with_classifier().scan(text).level,
                expected,
                "with the classifier: {text}"
            );
        }
    }

    #[test]
    fn the_classifier_only_raises() {
        for text in [
            "I want to die",
            "bleeding heavily at 30 weeks",
            "baby seems quieter today",
            "what's the point in any of it. the kids deserve a mum who isnt broken",
            "this heartburn is killing me",
            "will coffee hurt the baby?",
            "",
            "😭😭😭",
        ] {
            let lexicon = builtin().scan(text);
            let both = with_classifier().scan(text);
            assert!(both.level >= lexicon.level, "{text}");
            for m in &lexicon.matches {
                assert!(both.matches.contains(m), "{text}: {m:?} kept");
            }
            for c in &lexicon.categories {
                assert!(both.categories.contains(c), "{text}: {c:?} kept");
            }
        }
    }

    #[test]
    fn a_message_the_classifier_raises_says_so_and_has_a_category() {
        // Veiled: no lexicon phrase says it (from risk-fresh2.tsv, which the model trains on).
        let text = "what's the point in any of it. the kids deserve a mum who isnt broken. they'd get over it quicker than people think";
        assert_eq!(builtin().scan(text).level, Level::None);
        let assessment = with_classifier().scan(text);
        assert_eq!(assessment.level, Level::Urgent);
        assert_eq!(assessment.matches.len(), 1);
        let m = &assessment.matches[0];
        assert_eq!(m.phrase, CLASSIFIER_PHRASE);
        assert_eq!((m.start, m.end), (0, text.len()));
        assert_eq!(assessment.categories, vec![m.category]);
        let verdict = with_classifier()
            .classifier_verdict(text)
            .expect("a classifier");
        assert_eq!(verdict.category, Some(m.category));
        assert!(Detector::lexicon_only().classifier_verdict(text).is_none());
        // A lexicon extension keeps the classifier; a detector from explicit lexicons has none.
        let extended = Detector::builtin()
            .with(Lexicon::from_json(r#"{"language": "en"}"#).expect("loads"))
            .expect("compiles");
        assert!(extended.classifier().is_some());
        assert_eq!(extended.scan(text).level, Level::Urgent);
        assert!(Detector::builtin()
            .without_classifier()
            .classifier()
            .is_none());
    }

    /// When the lexicon found something at a lower level, its categories stay: its phrases say
    /// concretely what the message is about.
    #[test]
    fn a_raise_keeps_the_lexicons_categories() {
        for text in [
            "my partner came home drunk and picked the baby up and nearly dropped her down the stairs. hes still holding her now and wont give her back",
            "10 days pp and my stitches have gone red and there's yellow stuff oozing out and it stinks. gp appointment in 2 weeks",
        ] {
            let lexicon = builtin().scan(text);
            let both = with_classifier().scan(text);
            assert_eq!((lexicon.level, both.level), (Level::Concern, Level::Urgent), "{text}");
            assert_eq!(both.categories, lexicon.categories, "{text}");
            let added = both.matches.iter().find(|m| m.phrase == CLASSIFIER_PHRASE);
            assert_eq!(added.map(|m| m.category), most_serious(&lexicon.categories));
        }
    }
}
