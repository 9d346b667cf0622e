//! A small statistical classifier that runs alongside the lexicon in [`Detector`]: it catches
//! risk worded in ways no lexicon phrase covers (veiled, misspelt, differently put), and it can
//! only ever *raise* a message's level, never lower it.
//!
//! # The model
//!
//! Three linear heads over the same hashed features:
//!
//! - **urgent**: logistic regression, urgent against everything else;
//! - **concern**: logistic regression, concern or urgent against none;
//! - **category**: a softmax over the six [`Category`] values, used only to name what a message
//!   the model raised is about. The labelled sets carry levels, not categories, so this head
//!   learns from the categories the *lexicon* gives the training messages it flags (messages the
//!   lexicon does not flag are left out of this head).
//!
//! The model's level is urgent when the urgent head's probability reaches its threshold,
//! otherwise concern when the concern head's does, otherwise none. The thresholds were chosen
//! from leave-one-set-out runs (see `docs/safety.md` and `safety/examples/train.rs`).
//!
//! # Features
//!
//! Words come from the detector's own tokeniser (lowercase, accents folded, apostrophes inside
//! words removed, numbers kept whole). For every word: the word itself, the word with the next
//! one in the same sentence (a bigram), and, for words that are not numbers, its character
//! 3-, 4- and 5-grams with the word's start and end marked (`^dy`, `ing$`), which carry
//! misspellings and Spanish inflections to the forms the model has seen. Each feature is hashed
//! (32-bit FNV-1a) into a fixed table; a message's features are deduplicated and each counts
//! `1/√n`, so long messages are not louder than short ones.
//!
//! Inside [`Detector::scan`] the model does not see the words the lexicon's context rules have
//! already judged: hyperbole and look-alike phrases ("killing me", "bleeding gums"), and risk
//! phrases the rules set aside or lowered (negated, reported, quoted, asked, hypothetical, in
//! the past, joking, media). So "The song goes \"I want to die\"" stays none: the model reads
//! "The song goes and it's stuck in my head". It is trained the same way.
//!
//! # Weights
//!
//! `data/classifier.bin`, compiled in (deflated, by build.rs), is written by the training program
//! (`cargo run -p hearth-safety --release --example train`) from the eight labelled sets in
//! `tests/data/`. Weights are 8-bit integers with one scale per head; training is plain
//! stochastic gradient descent with a fixed seed, a fixed order and a deterministic `exp`, so
//! the same data always gives the same bytes — a test retrains and compares.
//!
//! Nothing here learns on the phone: the weights are fixed at build time.

use std::fmt;

use crate::detect::{most_serious, tokenize, Assessment, Category, Detector, Level, Token};

/// The built-in weights, written by `examples/train.rs` (`data/classifier.bin`, deflated by
/// build.rs).
const BUILTIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/classifier.bin.deflate"));

const MAGIC: &[u8; 4] = b"HSC1";
/// The feature set the weights were trained with; bumped when feature extraction changes.
const FEATURES_VERSION: u8 = 1;
const CATEGORIES: usize = 6;
const HEADER: usize = 36 + 4 * CATEGORIES;

/// The [`crate::detect::Match::phrase`] of a match the classifier added: no lexicon phrase
/// matched, the model raised the message.
pub const CLASSIFIER_PHRASE: &str = "(classifier)";

const TAG_WORD: u8 = b'w';
const TAG_BIGRAM: u8 = b'b';
const TAG_CHARS: u8 = b'c';
/// Character n-grams within words, from this length…
const CHAR_MIN: usize = 3;
/// …to this one.
const CHAR_MAX: usize = 5;

/// A weights file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("classifier weights: {0}")]
pub struct ClassifierError(String);

/// What the model says about one message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The model's level under its thresholds.
    pub level: Level,
    /// What the message is most likely about (`None` when the level is `None`).
    pub category: Option<Category>,
    /// The urgent head's probability that the message is urgent.
    pub urgent: f64,
    /// The concern head's probability that the message is at least concern (0 when the urgent
    /// head already decided: the concern head is then not computed).
    pub concern: f64,
}

/// One binary head's quantisation scale and bias.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Head {
    scale: f32,
    bias: f32,
}

/// The classifier: its thresholds, heads and weight tables. Cheap to clone when built in
/// (the weights are borrowed from the binary).
#[derive(Clone, PartialEq)]
pub struct Classifier {
    bits: u8,
    category_bits: u8,
    urgent_threshold: f32,
    concern_threshold: f32,
    urgent: Head,
    concern: Head,
    category_scale: f32,
    category_bias: [f32; CATEGORIES],
    /// The whole weights file; the tables follow the header.
    data: Vec<u8>,
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("bits", &self.bits)
            .field("category_bits", &self.category_bits)
            .field("urgent_threshold", &self.urgent_threshold)
            .field("concern_threshold", &self.concern_threshold)
            .field("bytes", &self.data.len())
            .finish()
    }
}

fn read_f32(data: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

impl Classifier {
    /// The weights built into the crate (`data/classifier.bin`).
    pub fn builtin() -> Classifier {
        Classifier::parse(crate::data::inflate(BUILTIN))
            .expect("the built-in weights are checked by the crate's tests")
    }

    /// Reads a weights file as written by [`Classifier::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ClassifierError> {
        Classifier::parse(bytes.to_vec())
    }

    fn parse(data: Vec<u8>) -> Result<Classifier, ClassifierError> {
        let err = |s: &str| Err(ClassifierError(s.to_owned()));
        if data.len() < HEADER || &data[..4] != MAGIC {
            return err("not a Hearth classifier weights file");
        }
        if data[4] != FEATURES_VERSION {
            return Err(ClassifierError(format!(
                "feature version {} (this build reads {FEATURES_VERSION}); retrain",
                data[4]
            )));
        }
        let (bits, category_bits) = (data[5], data[6]);
        if !(8..=20).contains(&bits) || !(8..=20).contains(&category_bits) {
            return err("table sizes out of range");
        }
        if usize::from(data[7]) != CATEGORIES {
            return err("wrong number of categories");
        }
        let expected = HEADER + 2 * (1 << bits) + CATEGORIES * (1 << category_bits);
        if data.len() != expected {
            return Err(ClassifierError(format!(
                "{} bytes, expected {expected}",
                data.len()
            )));
        }
        let mut category_bias = [0.0; CATEGORIES];
        for (k, bias) in category_bias.iter_mut().enumerate() {
            *bias = read_f32(&data, 36 + 4 * k);
        }
        let classifier = Classifier {
            bits,
            category_bits,
            urgent_threshold: read_f32(&data, 8),
            concern_threshold: read_f32(&data, 12),
            urgent: Head {
                scale: read_f32(&data, 16),
                bias: read_f32(&data, 20),
            },
            concern: Head {
                scale: read_f32(&data, 24),
                bias: read_f32(&data, 28),
            },
            category_scale: read_f32(&data, 32),
            category_bias,
            data,
        };
        let numbers = [
            classifier.urgent_threshold,
            classifier.concern_threshold,
            classifier.urgent.scale,
            classifier.urgent.bias,
            classifier.concern.scale,
            classifier.concern.bias,
            classifier.category_scale,
        ];
        if numbers.iter().chain(&category_bias).any(|x| !x.is_finite()) {
            return err("a number in the header is not finite");
        }
        Ok(classifier)
    }

    /// The weights file: a 60-byte header, then the urgent, concern and category tables.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.data.to_vec()
    }

    /// The probability thresholds `(urgent, concern)` at or above which the model raises a
    /// message.
    pub fn thresholds(&self) -> (f32, f32) {
        (self.urgent_threshold, self.concern_threshold)
    }

    /// These weights with other thresholds (for choosing them from cross-validation runs).
    pub fn with_thresholds(mut self, urgent: f32, concern: f32) -> Classifier {
        self.data[8..12].copy_from_slice(&urgent.to_le_bytes());
        self.data[12..16].copy_from_slice(&concern.to_le_bytes());
        self.urgent_threshold = urgent;
        self.concern_threshold = concern;
        self
    }

    /// The model's verdict on a message.
    pub fn assess(&self, text: &str) -> Verdict {
        let tokens = tokenize(text);
        self.verdict(&tokens, &vec![false; tokens.len()], Level::None)
    }

    /// The verdict on tokenised text, without the words set `aside`. Heads that cannot raise
    /// the level above `floor` are not computed (their probability is reported as 0).
    pub(crate) fn verdict(&self, tokens: &[Token], aside: &[bool], floor: Level) -> Verdict {
        let mut none = Verdict {
            level: Level::None,
            category: None,
            urgent: 0.0,
            concern: 0.0,
        };
        if tokens.is_empty() || floor == Level::Urgent {
            return none;
        }
        let mut hashes = Vec::with_capacity(tokens.len() * 16);
        feature_hashes(tokens, aside, &mut hashes);
        if hashes.is_empty() {
            return none;
        }
        let x = 1.0 / (hashes.len() as f64).sqrt();
        let tables = &self.data[HEADER..];
        let size = 1usize << self.bits;
        let mask = (size - 1) as u32;
        let head = |table: &[u8], head: Head| {
            let sum: i32 = hashes
                .iter()
                .map(|&h| i32::from(table[(h & mask) as usize] as i8))
                .sum();
            sigmoid(f64::from(head.bias) + f64::from(head.scale) * f64::from(sum) * x)
        };
        none.urgent = head(&tables[..size], self.urgent);
        let level = if none.urgent >= f64::from(self.urgent_threshold) {
            Level::Urgent
        } else if floor == Level::None {
            none.concern = head(&tables[size..2 * size], self.concern);
            if none.concern >= f64::from(self.concern_threshold) {
                Level::Concern
            } else {
                Level::None
            }
        } else {
            Level::None
        };
        if level <= floor {
            return none;
        }
        let table = &tables[2 * size..];
        let category_mask = (1u32 << self.category_bits) - 1;
        let mut sums = [0i32; CATEGORIES];
        for &h in &hashes {
            let at = (h & category_mask) as usize * CATEGORIES;
            for (sum, &w) in sums.iter_mut().zip(&table[at..at + CATEGORIES]) {
                *sum += i32::from(w as i8);
            }
        }
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for (k, sum) in sums.iter().enumerate() {
            let score = f64::from(self.category_bias[k])
                + f64::from(self.category_scale) * f64::from(*sum) * x;
            if score > best_score {
                best = k;
                best_score = score;
            }
        }
        Verdict {
            level,
            category: Some(Category::ALL[best]),
            ..none
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Features

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv(mut hash: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// The message's feature hashes, sorted and deduplicated, into `out`; words set `aside` are
/// left out (and no bigram reaches over them).
pub(crate) fn feature_hashes(tokens: &[Token], aside: &[bool], out: &mut Vec<u32>) {
    out.clear();
    let mut word = Vec::with_capacity(32);
    let mut bounds = Vec::with_capacity(32);
    for (i, token) in tokens.iter().enumerate() {
        if aside[i] {
            continue;
        }
        let text = token.text.as_bytes();
        out.push(fnv(fnv(FNV_OFFSET, &[TAG_WORD]), text));
        if let Some(next) = tokens
            .get(i + 1)
            .filter(|n| n.sentence == token.sentence && !aside[i + 1])
        {
            let h = fnv(fnv(FNV_OFFSET, &[TAG_BIGRAM]), text);
            out.push(fnv(fnv(h, b" "), next.text.as_bytes()));
        }
        if token.digits {
            continue;
        }
        word.clear();
        word.push(b'^');
        word.extend_from_slice(text);
        word.push(b'$');
        bounds.clear();
        bounds.push(0);
        bounds.extend(token.text.char_indices().map(|(at, _)| at + 1));
        bounds.push(text.len() + 1);
        bounds.push(word.len());
        // bounds: where each character of "^word$" starts, and the end.
        let chars = bounds.len() - 1;
        let tag = fnv(FNV_OFFSET, &[TAG_CHARS]);
        for n in CHAR_MIN..=CHAR_MAX.min(chars) {
            if chars < 4 {
                break; // a one-letter word (or an emoji) has no useful n-grams
            }
            for start in 0..=chars - n {
                out.push(fnv(tag, &word[bounds[start]..bounds[start + n]]));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

// ---------------------------------------------------------------------------------------------
// Deterministic arithmetic

/// `e^x` from basic arithmetic only (no platform `libm`), so training gives the same bytes on
/// every machine. Relative error below 1e-15.
fn exp(x: f64) -> f64 {
    let x = x.clamp(-700.0, 700.0);
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = x - k * std::f64::consts::LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=14 {
        term *= r / f64::from(i);
        sum += term;
    }
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + exp(-z))
}

/// xorshift64*: a fixed, portable sequence for shuffling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Labelled sets and training

/// One labelled message from a set in `tests/data/` (`level<TAB>lang<TAB>kind<TAB>text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    /// The level a safeguarding lead would want.
    pub level: Level,
    /// `en` or `es`.
    pub lang: String,
    /// `urgent`, `concern`, `everyday`, `hyperbole`, `negation` or `quote`.
    pub kind: String,
    /// The message.
    pub text: String,
}

/// Reads a labelled set: one message per line, `level<TAB>lang<TAB>kind<TAB>text`; blank lines
/// and lines starting with `#` are skipped. An error names the line.
pub fn parse_set(content: &str) -> Result<Vec<Labelled>, String> {
    let mut examples = Vec::new();
    for (n, line) in content.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        let [level, lang, kind, text] = fields[..] else {
            return Err(format!(
                "line {}: expected 4 tab-separated fields, found {}: {line:?}",
                n + 1,
                fields.len()
            ));
        };
        let level = Level::from_name(level.trim()).ok_or_else(|| {
            format!(
                "line {}: unknown level {level:?} (expected none, concern or urgent)",
                n + 1
            )
        })?;
        examples.push(Labelled {
            level,
            lang: lang.trim().to_owned(),
            kind: kind.trim().to_owned(),
            text: text.to_owned(),
        });
    }
    Ok(examples)
}

/// How to train. [`TrainOptions::default`] is what the built-in weights were trained with.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// log2 of the urgent and concern tables' size.
    pub bits: u8,
    /// log2 of the category table's size (six weights per slot).
    pub category_bits: u8,
    /// Passes over the data.
    pub epochs: u32,
    /// L2 regularisation.
    pub l2: f64,
    /// Initial learning rate (decays as `1 / (1 + rate · l2 · step)`).
    pub learning_rate: f64,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Urgent head probability at or above which the model says urgent.
    pub urgent_threshold: f32,
    /// Concern head probability at or above which the model says concern.
    pub concern_threshold: f32,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            bits: 16,
            category_bits: 14,
            epochs: 20,
            // Decay is applied per training step, so its strength grows with the data: halved
            // when the training data doubled (four sets to eight), to keep it as it was.
            l2: 5e-5,
            learning_rate: 0.5,
            seed: 0x4865_6172_7468, // "Hearth"
            // Chosen by `examples/train.rs --tune` from the leave-one-set-out runs: the best
            // pooled urgent recall of the model with combined everyday false alarms at most 3%
            // pooled and 5% on any one set.
            urgent_threshold: 0.65,
            concern_threshold: 0.87,
        }
    }
}

/// The category the lexicon gives a message: that of its highest-level match, the most serious
/// category first among equals (the order help cards use).
fn lexicon_category(assessment: &Assessment) -> Option<usize> {
    let top: Vec<Category> = assessment
        .matches
        .iter()
        .filter(|m| m.level == assessment.level)
        .map(|m| m.category)
        .collect();
    let category = most_serious(&top)?;
    Category::ALL.iter().position(|c| *c == category)
}

/// One training message: its feature hashes, the value each carries, and the category the
/// lexicon gives it.
struct Sample {
    hashes: Vec<u32>,
    x: f64,
    category: Option<usize>,
}

fn sample(lexicon: &Detector, text: &str) -> Sample {
    let (assessment, tokens, aside) = lexicon.scan_for_classifier(text);
    let mut hashes = Vec::new();
    feature_hashes(&tokens, &aside, &mut hashes);
    let x = if hashes.is_empty() {
        0.0
    } else {
        1.0 / (hashes.len() as f64).sqrt()
    };
    Sample {
        hashes,
        x,
        category: lexicon_category(&assessment),
    }
}

/// Logistic regression by SGD with the weight vector kept as `scale · v`, so L2 decay costs
/// nothing per step. Returns the weights and the bias.
fn train_binary(
    samples: &[Sample],
    labels: &[bool],
    bits: u8,
    options: &TrainOptions,
    seed: u64,
) -> (Vec<f64>, f64) {
    let mask = (1u32 << bits) - 1;
    let mut v = vec![0.0f64; 1 << bits];
    let mut scale = 1.0f64;
    let mut bias = 0.0f64;
    let mut rng = Rng(seed | 1);
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let mut step = 0u64;
    for _ in 0..options.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let s = &samples[i];
            let rate =
                options.learning_rate / (1.0 + options.learning_rate * options.l2 * step as f64);
            let dot: f64 = s.hashes.iter().map(|&h| v[(h & mask) as usize]).sum();
            let p = sigmoid(scale * dot * s.x + bias);
            let g = p - if labels[i] { 1.0 } else { 0.0 };
            scale *= 1.0 - rate * options.l2;
            let delta = rate * g * s.x / scale;
            for &h in &s.hashes {
                v[(h & mask) as usize] -= delta;
            }
            bias -= rate * g;
            if scale < 1e-6 {
                v.iter_mut().for_each(|w| *w *= scale);
                scale = 1.0;
            }
            step += 1;
        }
    }
    v.iter_mut().for_each(|w| *w *= scale);
    (v, bias)
}

/// Softmax regression over the categories, trained the same way. Weights are laid out slot by
/// slot (`slot · CATEGORIES + k`).
fn train_categories(
    samples: &[(&Sample, usize)],
    bits: u8,
    options: &TrainOptions,
    seed: u64,
) -> (Vec<f64>, [f64; CATEGORIES]) {
    let mask = (1u32 << bits) - 1;
    let mut v = vec![0.0f64; CATEGORIES << bits];
    let mut scale = 1.0f64;
    let mut bias = [0.0f64; CATEGORIES];
    let mut rng = Rng(seed | 1);
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let mut step = 0u64;
    for _ in 0..options.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let (s, label) = samples[i];
            let rate =
                options.learning_rate / (1.0 + options.learning_rate * options.l2 * step as f64);
            let mut z = bias;
            for &h in &s.hashes {
                let at = (h & mask) as usize * CATEGORIES;
                for (zk, w) in z.iter_mut().zip(&v[at..at + CATEGORIES]) {
                    *zk += scale * w * s.x;
                }
            }
            let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut p = z.map(|zk| exp(zk - top));
            let total: f64 = p.iter().sum();
            p.iter_mut().for_each(|pk| *pk /= total);
            scale *= 1.0 - rate * options.l2;
            let mut g = p;
            g[label] -= 1.0;
            for &h in &s.hashes {
                let at = (h & mask) as usize * CATEGORIES;
                for (w, gk) in v[at..at + CATEGORIES].iter_mut().zip(&g) {
                    *w -= rate * gk * s.x / scale;
                }
            }
            for (b, gk) in bias.iter_mut().zip(&g) {
                *b -= rate * gk;
            }
            if scale < 1e-6 {
                v.iter_mut().for_each(|w| *w *= scale);
                scale = 1.0;
            }
            step += 1;
        }
    }
    v.iter_mut().for_each(|w| *w *= scale);
    (v, bias)
}

/// Weights to signed bytes with one scale: the largest weight becomes ±127.
fn quantize(weights: &[f64], out: &mut Vec<u8>) -> f32 {
    let largest = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    let scale = (largest / 127.0) as f32;
    for w in weights {
        let q = if scale > 0.0 {
            (w / f64::from(scale)).round().clamp(-127.0, 127.0) as i8
        } else {
            0
        };
        out.push(q as u8);
    }
    scale
}

/// Trains a classifier on labelled messages, in the order given, alongside the built-in
/// lexicons. Deterministic: the same messages and options give the same bytes.
pub fn train(examples: &[Labelled], options: &TrainOptions) -> Classifier {
    train_with(examples, options, &Detector::lexicon_only())
}

/// As [`train`], alongside another lexicon detector: the words its context rules set aside are
/// left out of training as they are left out when it runs, and the category head learns the
/// categories it gives the messages it flags. Its own classifier, if any, plays no part.
pub fn train_with(examples: &[Labelled], options: &TrainOptions, lexicon: &Detector) -> Classifier {
    let lexicon = &lexicon.clone().without_classifier();
    let samples: Vec<Sample> = examples.iter().map(|e| sample(lexicon, &e.text)).collect();
    let urgent: Vec<bool> = examples.iter().map(|e| e.level == Level::Urgent).collect();
    let concern: Vec<bool> = examples.iter().map(|e| e.level >= Level::Concern).collect();
    let categorised: Vec<(&Sample, usize)> = examples
        .iter()
        .zip(&samples)
        .filter(|(e, _)| e.level >= Level::Concern)
        .filter_map(|(_, s)| s.category.map(|k| (s, k)))
        .collect();
    let (urgent_w, urgent_b) = train_binary(&samples, &urgent, options.bits, options, options.seed);
    let (concern_w, concern_b) =
        train_binary(&samples, &concern, options.bits, options, options.seed ^ 1);
    let (category_w, category_b) = train_categories(
        &categorised,
        options.category_bits,
        options,
        options.seed ^ 2,
    );

    let mut tables = Vec::new();
    let urgent_scale = quantize(&urgent_w, &mut tables);
    let concern_scale = quantize(&concern_w, &mut tables);
    let category_scale = quantize(&category_w, &mut tables);
    let mut data = Vec::with_capacity(HEADER + tables.len());
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&[FEATURES_VERSION, options.bits, options.category_bits]);
    data.push(CATEGORIES as u8);
    for number in [
        options.urgent_threshold,
        options.concern_threshold,
        urgent_scale,
        urgent_b as f32,
        concern_scale,
        concern_b as f32,
        category_scale,
    ]
    .into_iter()
    .chain(category_b.map(|b| b as f32))
    {
        data.extend_from_slice(&number.to_le_bytes());
    }
    data.extend_from_slice(&tables);
    Classifier::parse(data).expect("training writes a valid weights file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        for x in [-30.0, -5.5, -1.0, -0.1, 0.0, 0.3, 1.0, 2.5, 10.0, 30.0] {
            let (ours, std) = (exp(x), f64::exp(x));
            assert!(((ours - std) / std).abs() < 1e-14, "{x}: {ours} vs {std}");
        }
        assert!(sigmoid(-1000.0) >= 0.0 && sigmoid(1000.0) <= 1.0);
    }

    fn feature_hashes(tokens: &[Token], out: &mut Vec<u32>) {
        super::feature_hashes(tokens, &vec![false; tokens.len()], out);
    }

    #[test]
    fn features_hold_words_bigrams_and_character_ngrams() {
        let mut hashes = Vec::new();
        feature_hashes(&tokenize("Quiero morir"), &mut hashes);
        let word = |w: &str| fnv(fnv(FNV_OFFSET, &[TAG_WORD]), w.as_bytes());
        let chars = |w: &str| fnv(fnv(FNV_OFFSET, &[TAG_CHARS]), w.as_bytes());
        let bigram = fnv(
            fnv(fnv(fnv(FNV_OFFSET, &[TAG_BIGRAM]), b"quiero"), b" "),
            b"morir",
        );
        for h in [
            word("quiero"),
            word("morir"),
            bigram,
            chars("^mo"),
            chars("rir$"),
        ] {
            assert!(hashes.contains(&h));
        }
        // "^quiero$" has 6 3-grams, 5 4-grams and 4 5-grams; "^morir$" 5, 4 and 3.
        assert_eq!(hashes.len(), 2 + 1 + 15 + 12);
        // Accents are folded and multibyte letters are one character.
        let mut folded = Vec::new();
        feature_hashes(&tokenize("Quiero MORÍR"), &mut folded);
        assert_eq!(hashes, folded);
        feature_hashes(&tokenize("niña"), &mut folded);
        assert!(folded.contains(&chars("^nin")));
        // No bigram across a sentence end.
        feature_hashes(&tokenize("quiero. morir"), &mut folded);
        assert!(!folded.contains(&bigram));
    }

    #[test]
    fn the_builtin_weights_load_and_round_trip() {
        let classifier = Classifier::builtin();
        let again = Classifier::from_bytes(&classifier.to_bytes()).expect("round trip");
        assert_eq!(classifier, again);
        assert!(Classifier::from_bytes(b"nonsense").is_err());
        let mut truncated = classifier.to_bytes();
        truncated.pop();
        assert!(Classifier::from_bytes(&truncated).is_err());
        assert_eq!(classifier.assess("").level, Level::None);
        assert_eq!(classifier.assess("😂💀").level, Level::None);
    }

    #[test]
    fn thresholds_can_be_changed() {
        let classifier = Classifier::builtin().with_thresholds(0.25, 0.75);
        assert_eq!(classifier.thresholds(), (0.25, 0.75));
        let again = Classifier::from_bytes(&classifier.to_bytes()).expect("round trip");
        assert_eq!(again.thresholds(), (0.25, 0.75));
    }
}
