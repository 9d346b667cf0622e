//! Shared by `tests/detect.rs` and `examples/train.rs`: the labelled sets, the figures a member
//! would notice, and leave-one-set-out runs (train on the other sets, test on the one left out).
#![allow(dead_code)]

use std::path::PathBuf;

use hearth_safety::classify::{self, Classifier, Labelled, TrainOptions};
use hearth_safety::detect::{Detector, Level, Lexicon};

/// The labelled sets, in training order; each was written by a different author. The first
/// four were written as evaluation sets and became training sets; the `risk-train-*` sets were
/// written to train on (UK and Irish English; Spanish from many regions; English from around
/// the world, with indirect phrasing; red flags and look-alikes in both languages).
pub const SETS: [&str; 8] = [
    "risk-dev.tsv",
    "risk-eval.tsv",
    "risk-fresh.tsv",
    "risk-fresh2.tsv",
    "risk-train-uk.tsv",
    "risk-train-es.tsv",
    "risk-train-world.tsv",
    "risk-train-clinical.tsv",
];

pub fn path(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect()
}

/// One labelled set; panics with the path and line on any problem.
pub fn load(name: &str) -> Vec<Labelled> {
    let path = path(name);
    let content = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the labelled set {}: {e} (it is expected at this path)",
            path.display()
        )
    });
    let examples =
        classify::parse_set(&content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!examples.is_empty(), "{} holds no examples", path.display());
    examples
}

/// Every set, in training order.
pub fn load_all() -> Vec<(&'static str, Vec<Labelled>)> {
    SETS.iter().map(|name| (*name, load(name))).collect()
}

/// Every message of every set, in training order: what the built-in weights are trained on.
pub fn training_data(sets: &[(&'static str, Vec<Labelled>)]) -> Vec<Labelled> {
    sets.iter()
        .flat_map(|(_, set)| set.iter().cloned())
        .collect()
}

/// `hit` of `of`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub hit: usize,
    pub of: usize,
}

impl Count {
    fn add(&mut self, hit: bool) {
        self.of += 1;
        self.hit += usize::from(hit);
    }

    pub fn rate(self) -> f64 {
        if self.of == 0 {
            0.0
        } else {
            self.hit as f64 / self.of as f64
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:>3}/{:<3} {:.3}", self.hit, self.of, self.rate())
    }
}

/// The figures a member would notice.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Urgent messages detected as urgent.
    pub urgent: Count,
    /// Concern messages detected as concern or urgent.
    pub concern: Count,
    /// Everyday talk (expected none) detected as concern or urgent: false alarms.
    pub everyday: Count,
    /// Look-alikes expected none (hyperbole, negation, quotes) detected as concern or urgent.
    pub look_alikes: Count,
    /// Concern messages detected as urgent (an emergency prompt for a check-in).
    pub over: Count,
}

pub fn figures(examples: &[Labelled], levels: &[Level]) -> Figures {
    let mut f = Figures::default();
    for (e, &got) in examples.iter().zip(levels) {
        match e.level {
            Level::Urgent => f.urgent.add(got == Level::Urgent),
            Level::Concern => {
                f.concern.add(got >= Level::Concern);
                f.over.add(got == Level::Urgent);
            }
            Level::None if e.kind == "everyday" => f.everyday.add(got != Level::None),
            Level::None => f.look_alikes.add(got != Level::None),
        }
    }
    f
}

/// The built-in lexicons alone (read from their files, so this works before any weights
/// exist).
pub fn lexicon() -> Detector {
    let lexicons = [
        include_str!("../../data/lexicon-en.json"),
        include_str!("../../data/lexicon-es.json"),
    ]
    .iter()
    .map(|json| Lexicon::from_json(json).expect("the built-in lexicons load"))
    .collect();
    Detector::new(lexicons).expect("the built-in lexicons compile")
}

/// One held-out set's figures for the lexicon alone, the model alone and both.
#[derive(Debug, Clone)]
pub struct Fold {
    pub held_out: &'static str,
    pub lexicon: Figures,
    pub model: Figures,
    pub combined: Figures,
}

/// The classifier trained on every set but `held_out` (in training order), alongside the
/// built-in lexicons.
pub fn train_without(
    sets: &[(&'static str, Vec<Labelled>)],
    held_out: usize,
    options: &TrainOptions,
) -> Classifier {
    train_without_with(sets, held_out, options, &lexicon())
}

/// As [`train_without`], alongside another lexicon detector.
pub fn train_without_with(
    sets: &[(&'static str, Vec<Labelled>)],
    held_out: usize,
    options: &TrainOptions,
    lexicon: &Detector,
) -> Classifier {
    let training: Vec<Labelled> = sets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != held_out)
        .flat_map(|(_, (_, set))| set.iter().cloned())
        .collect();
    classify::train_with(&training, options, lexicon)
}

/// The figures on one set for a lexicon detector, a classifier, and both together.
pub fn fold(
    name: &'static str,
    examples: &[Labelled],
    lexicon: &Detector,
    classifier: &Classifier,
) -> Fold {
    let combined = lexicon.clone().with_classifier(classifier.clone());
    let levels =
        |f: &dyn Fn(&str) -> Level| -> Vec<Level> { examples.iter().map(|e| f(&e.text)).collect() };
    Fold {
        held_out: name,
        lexicon: figures(examples, &levels(&|t| lexicon.scan(t).level)),
        model: figures(examples, &levels(&|t| classifier.assess(t).level)),
        combined: figures(examples, &levels(&|t| combined.scan(t).level)),
    }
}

/// Leave one set out, for each set in turn: train on the others, test on it.
pub fn leave_one_set_out(
    sets: &[(&'static str, Vec<Labelled>)],
    options: &TrainOptions,
) -> Vec<Fold> {
    leave_one_set_out_with(sets, options, &lexicon())
}

/// As [`leave_one_set_out`], with another lexicon detector.
pub fn leave_one_set_out_with(
    sets: &[(&'static str, Vec<Labelled>)],
    options: &TrainOptions,
    lexicon: &Detector,
) -> Vec<Fold> {
    (0..sets.len())
        .map(|i| {
            let classifier = train_without_with(sets, i, options, lexicon);
            fold(sets[i].0, &sets[i].1, lexicon, &classifier)
        })
        .collect()
}

/// Figures added over several folds.
pub fn pooled(folds: &[Fold], pick: impl Fn(&Fold) -> Figures) -> Figures {
    let mut total = Figures::default();
    for fold in folds {
        let f = pick(fold);
        for (t, c) in [
            (&mut total.urgent, f.urgent),
            (&mut total.concern, f.concern),
            (&mut total.everyday, f.everyday),
            (&mut total.look_alikes, f.look_alikes),
            (&mut total.over, f.over),
        ] {
            t.hit += c.hit;
            t.of += c.of;
        }
    }
    total
}

/// The figures as a table, one line per held-out set and detector.
pub fn table(folds: &[Fold]) -> String {
    table_titled("held-out set", folds)
}

/// The figures as a table, one line per set and detector, `first` heading the set column.
pub fn table_titled(first: &str, folds: &[Fold]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<16} {:<9} {:<16} {:<16} {:<16} {:<16} {:<16}\n",
        first,
        "detector",
        "urgent recall",
        "concern recall",
        "everyday FA",
        "look-alike FA",
        "concern→urgent"
    ));
    let mut rows: Vec<(&str, Vec<(&str, Figures)>)> = folds
        .iter()
        .map(|f| {
            (
                f.held_out,
                vec![
                    ("lexicon", f.lexicon),
                    ("model", f.model),
                    ("combined", f.combined),
                ],
            )
        })
        .collect();
    if folds.len() > 1 {
        rows.push((
            "all (pooled)",
            vec![
                ("lexicon", pooled(folds, |f| f.lexicon)),
                ("model", pooled(folds, |f| f.model)),
                ("combined", pooled(folds, |f| f.combined)),
            ],
        ));
    }
    for (name, detectors) in rows {
        for (i, (detector, f)) in detectors.into_iter().enumerate() {
            out.push_str(&format!(
                "{:<16} {:<9} {:<16} {:<16} {:<16} {:<16} {:<16}\n",
                if i == 0 { name } else { "" },
                detector,
                f.urgent.to_string(),
                f.concern.to_string(),
                f.everyday.to_string(),
                f.look_alikes.to_string(),
                f.over.to_string()
            ));
        }
    }
    out
}

/// Of the messages of `examples` the lexicon flags, how many the category head names the
/// lexicon's top category for.
pub fn category_agreement(
    examples: &[Labelled],
    lexicon: &Detector,
    classifier: &Classifier,
) -> Count {
    let always = lexicon
        .clone()
        .with_classifier(classifier.clone().with_thresholds(0.0, 0.0));
    let mut count = Count::default();
    for e in examples {
        let assessment = lexicon.scan(&e.text);
        if assessment.level == Level::None {
            continue;
        }
        let top: Vec<_> = assessment
            .matches
            .iter()
            .filter(|m| m.level == assessment.level)
            .map(|m| m.category)
            .collect();
        let named = always.classifier_verdict(&e.text).and_then(|v| v.category);
        count.add(named.is_some_and(|c| top.contains(&c)));
    }
    count
}
