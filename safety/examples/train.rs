//! Trains the classifier that runs alongside the lexicon (`hearth_safety::classify`), and
//! measures it on sets it has not seen.
//!
//! ```sh
//! # Train on the eight labelled sets, write safety/data/classifier.bin and print the training
//! # figures (then run the crate's tests: one retrains and compares the bytes).
//! cargo run -p hearth-safety --release --example train
//! # Leave one set out: train on the others, test on it, for each set in turn.
//! cargo run -p hearth-safety --release --example train -- --cross
//! # The same, listing every held-out message whose level the model changed.
//! cargo run -p hearth-safety --release --example train -- --cross --show
//! # Choose thresholds from the leave-one-set-out runs, and check the choice by nesting it.
//! cargo run -p hearth-safety --release --example train -- --tune
//! # Exit non-zero if data/classifier.bin is not what the sets train.
//! cargo run -p hearth-safety --release --example train -- --check
//! # Time a scan per message, lexicons alone and with the classifier (use --release).
//! cargo run -p hearth-safety --release --example train -- --time
//! ```
//!
//! For `--cross` and `--tune` only (the written weights always use `TrainOptions::default()`,
//! which the crate's test retrains with): `--bits N`, `--category-bits N`, `--epochs N`,
//! `--l2 X`, `--rate X`, `--urgent P`, `--concern P` change the training options; `--cap X`
//! the pooled everyday false-alarm rate `--tune` allows (default 0.03); `--lexicon FILE`
//! (repeatable) replaces the built-in lexicons and `--set NAME=FILE` one of the labelled sets,
//! to replay an earlier state of the detector (see docs/safety.md).
//!
//! The figures take the debug build a while; `--release` makes every mode a few seconds.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;

use hearth_safety::classify::{self, Classifier, Labelled, TrainOptions};
use hearth_safety::detect::{Detector, Level, Lexicon};

use support::Fold;

const WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/classifier.bin");

type Sets = [(&'static str, Vec<Labelled>)];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut options = TrainOptions::default();
    let mut mode = "write";
    let mut show = false;
    let mut cap = 0.03;
    let mut lexicons: Vec<String> = Vec::new();
    let mut replaced: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = || -> String {
            args.get(i + 1)
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .clone()
        };
        let number = |what: &str| -> f64 {
            value()
                .parse()
                .unwrap_or_else(|_| panic!("{flag} needs {what}"))
        };
        match flag {
            "--cross" => mode = "cross",
            "--tune" => mode = "tune",
            "--check" => mode = "check",
            "--time" => mode = "time",
            "--show" => show = true,
            "--bits" => options.bits = number("a whole number") as u8,
            "--category-bits" => options.category_bits = number("a whole number") as u8,
            "--epochs" => options.epochs = number("a whole number") as u32,
            "--l2" => options.l2 = number("a number"),
            "--rate" => options.learning_rate = number("a number"),
            "--urgent" => options.urgent_threshold = number("a probability") as f32,
            "--concern" => options.concern_threshold = number("a probability") as f32,
            "--cap" => cap = number("a rate"),
            "--lexicon" => lexicons.push(value()),
            "--set" => {
                let v = value();
                let (name, file) = v.split_once('=').expect("--set NAME=FILE");
                replaced.push((name.to_owned(), file.to_owned()));
            }
            other => {
                eprintln!("unknown argument {other:?} (see the top of safety/examples/train.rs)");
                return ExitCode::from(2);
            }
        }
        let takes_value = !matches!(flag, "--cross" | "--tune" | "--check" | "--time" | "--show");
        i += if takes_value { 2 } else { 1 };
    }

    let mut sets = support::load_all();
    for (name, file) in &replaced {
        let set = sets
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("--set: no labelled set is named {name}"));
        let content = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        set.1 = classify::parse_set(&content).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let lexicon = if lexicons.is_empty() {
        support::lexicon()
    } else {
        let parsed = lexicons
            .iter()
            .map(|file| {
                let json = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
                Lexicon::from_json(&json).unwrap_or_else(|e| panic!("{file}: {e}"))
            })
            .collect();
        Detector::new(parsed).unwrap_or_else(|e| panic!("{e}"))
    };

    match mode {
        "cross" => cross(&sets, &options, &lexicon, show),
        "tune" => tune(&sets, &options, &lexicon, cap),
        "time" => time(&sets),
        "check" => {
            let trained = classify::train(&support::training_data(&sets), &TrainOptions::default());
            if std::fs::read(WEIGHTS).ok() != Some(trained.to_bytes()) {
                eprintln!(
                    "{WEIGHTS} is not what the labelled sets train: run this example without flags"
                );
                return ExitCode::FAILURE;
            }
            println!("{WEIGHTS} is what the labelled sets train");
        }
        _ => write(&sets),
    }
    ExitCode::SUCCESS
}

fn write(sets: &Sets) {
    let options = TrainOptions::default();
    let started = std::time::Instant::now();
    let classifier = classify::train(&support::training_data(sets), &options);
    let took = started.elapsed();
    let bytes = classifier.to_bytes();
    std::fs::write(WEIGHTS, &bytes).unwrap_or_else(|e| panic!("cannot write {WEIGHTS}: {e}"));
    println!(
        "trained on {} messages in {took:.2?}; wrote {WEIGHTS} ({} bytes)\n{options:?}\n",
        sets.iter().map(|(_, s)| s.len()).sum::<usize>(),
        bytes.len()
    );
    println!("Training figures: the final model on the sets it was trained on (high by construction; they measure nothing about new text).");
    let lexicon = support::lexicon();
    let folds: Vec<Fold> = sets
        .iter()
        .map(|(name, set)| support::fold(name, set, &lexicon, &classifier))
        .collect();
    print!("{}", support::table_titled("training set", &folds));
}

fn cross(sets: &Sets, options: &TrainOptions, lexicon: &Detector, show: bool) {
    println!("Leave one set out: each row is a set the model did not see, trained on the others.");
    println!("{options:?}");
    let classifiers: Vec<Classifier> = (0..sets.len())
        .map(|i| support::train_without_with(sets, i, options, lexicon))
        .collect();
    let folds: Vec<Fold> = sets
        .iter()
        .zip(&classifiers)
        .map(|((name, set), c)| support::fold(name, set, lexicon, c))
        .collect();
    print!("{}", support::table(&folds));
    println!("Categories: of the held-out messages the lexicon flags, how often the category head names the lexicon's category:");
    for ((name, set), c) in sets.iter().zip(&classifiers) {
        println!(
            "  {name:16} {}",
            support::category_agreement(set, lexicon, c)
        );
    }
    if show {
        for ((name, set), c) in sets.iter().zip(&classifiers) {
            let both = lexicon.clone().with_classifier(c.clone());
            println!(
                "\n== {name}: held-out messages the model raised (expected, lexicon -> combined)"
            );
            for e in set {
                let alone = lexicon.scan(&e.text).level;
                let combined = both.scan(&e.text);
                if combined.level != alone {
                    println!(
                        "  {:7} {:7} -> {:7} {:?} [{} {}] {}",
                        e.level.as_str(),
                        alone.as_str(),
                        combined.level.as_str(),
                        combined.categories,
                        e.lang,
                        e.kind,
                        e.text
                    );
                }
            }
        }
    }
}

/// One held-out message: the expected level, what the lexicon says, the model's probabilities.
#[derive(Clone, Copy)]
struct Scored {
    expected: Level,
    everyday: bool,
    lexicon: Level,
    urgent: f64,
    concern: f64,
}

/// Held-out scores of `examples` under a classifier trained without them. The probabilities
/// are those of the combined detector (the model sees what the lexicon's context rules left).
fn score(examples: &[Labelled], lexicon: &Detector, classifier: &Classifier) -> Vec<Scored> {
    // Thresholds above 1 never fire, so both heads are always computed.
    let both = lexicon
        .clone()
        .with_classifier(classifier.clone().with_thresholds(2.0, 2.0));
    examples
        .iter()
        .map(|e| {
            let verdict = both.classifier_verdict(&e.text).expect("a classifier");
            Scored {
                expected: e.level,
                everyday: e.level == Level::None && e.kind == "everyday",
                lexicon: lexicon.scan(&e.text).level,
                urgent: verdict.urgent,
                concern: verdict.concern,
            }
        })
        .collect()
}

fn model_level(s: &Scored, urgent: f64, concern: f64) -> Level {
    if s.urgent >= urgent {
        Level::Urgent
    } else if s.concern >= concern {
        Level::Concern
    } else {
        Level::None
    }
}

/// At these thresholds: the model's pooled urgent recall and concern recall, the combined
/// detector's pooled everyday false-alarm rate and its worst set's.
fn rates(folds: &[Vec<Scored>], urgent: f64, concern: f64) -> (f64, f64, f64, f64) {
    let (mut u, mut un, mut c, mut cn, mut fa, mut n) = (0, 0, 0, 0, 0, 0);
    let mut worst = 0.0f64;
    for fold in folds {
        let (mut fold_fa, mut fold_n) = (0, 0);
        for s in fold {
            let model = model_level(s, urgent, concern);
            match s.expected {
                Level::Urgent => {
                    un += 1;
                    u += usize::from(model == Level::Urgent);
                }
                Level::Concern => {
                    cn += 1;
                    c += usize::from(model >= Level::Concern);
                }
                Level::None if s.everyday => {
                    fold_n += 1;
                    fold_fa += usize::from(model.max(s.lexicon) != Level::None);
                }
                Level::None => {}
            }
        }
        fa += fold_fa;
        n += fold_n;
        worst = worst.max(fold_fa as f64 / fold_n.max(1) as f64);
    }
    let rate = |a: usize, b: usize| a as f64 / b.max(1) as f64;
    (rate(u, un), rate(c, cn), rate(fa, n), worst)
}

/// The thresholds (on a 0.01 grid) with the best pooled urgent recall of the model, then
/// concern recall, whose combined everyday false alarms are within `cap` pooled and 0.05 on
/// every set. Ties go to the lowest thresholds. `None` when no pair on the grid keeps within
/// the cap (the lexicons alone may already exceed it).
fn choose(folds: &[Vec<Scored>], cap: f64) -> Option<(f64, f64)> {
    let mut best = None;
    let mut best_key = (-1.0, -1.0);
    for ui in 5..=95 {
        for ci in 5..=95 {
            let (urgent, concern) = (f64::from(ui) / 100.0, f64::from(ci) / 100.0);
            let (u, c, fa, worst) = rates(folds, urgent, concern);
            if fa <= cap && worst <= 0.05 && (u, c) > best_key {
                best_key = (u, c);
                best = Some((urgent, concern));
            }
        }
    }
    best
}

fn tune(sets: &Sets, options: &TrainOptions, lexicon: &Detector, cap: f64) {
    println!("{options:?}");
    let outer: Vec<Classifier> = (0..sets.len())
        .map(|i| support::train_without_with(sets, i, options, lexicon))
        .collect();
    let scored: Vec<Vec<Scored>> = sets
        .iter()
        .zip(&outer)
        .map(|((_, set), c)| score(set, lexicon, c))
        .collect();
    println!("Pooled leave-one-set-out: thresholds chosen under each cap -> model urgent recall, model concern recall, combined everyday FA (pooled, worst set)");
    for each in [0.01, 0.02, 0.03, 0.04, 0.05] {
        match choose(&scored, each) {
            Some((urgent, concern)) => {
                let (u, c, fa, worst) = rates(&scored, urgent, concern);
                println!("  cap {each:.2}: urgent {urgent:.2} concern {concern:.2} -> {u:.3} {c:.3} {fa:.3} {worst:.3}");
            }
            None => println!("  cap {each:.2}: no thresholds keep within it"),
        }
    }
    println!("The urgent head alone (concern head off):");
    for ui in [30, 40, 50, 60, 70, 80] {
        let urgent = f64::from(ui) / 100.0;
        let (u, _, fa, worst) = rates(&scored, urgent, 2.0);
        println!(
            "  at {urgent:.2}: urgent recall {u:.3}, everyday FA {fa:.3} (worst set {worst:.3})"
        );
    }
    let Some((urgent, concern)) = choose(&scored, cap) else {
        println!("\nNo thresholds on the grid keep the everyday false alarms within cap {cap} (and 0.05 on every set): nothing chosen.");
        return;
    };
    println!("\nChosen for cap {cap}: urgent threshold {urgent:.2}, concern threshold {concern:.2}. With them:");
    let folds: Vec<Fold> = sets
        .iter()
        .zip(&outer)
        .map(|((name, set), c)| {
            let c = c.clone().with_thresholds(urgent as f32, concern as f32);
            support::fold(name, set, lexicon, &c)
        })
        .collect();
    print!("{}", support::table(&folds));

    // Nested: each held-out set's thresholds are chosen from leave-one-out runs over the other
    // sets only, so the held-out set plays no part in choosing them.
    println!("\nNested (each set's thresholds chosen without it):");
    let mut nested = Vec::new();
    for i in 0..sets.len() {
        let inner_sets: Vec<(&'static str, Vec<Labelled>)> = sets
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| s.clone())
            .collect();
        let inner: Vec<Vec<Scored>> = (0..inner_sets.len())
            .map(|j| {
                let c = support::train_without_with(&inner_sets, j, options, lexicon);
                score(&inner_sets[j].1, lexicon, &c)
            })
            .collect();
        let Some((urgent, concern)) = choose(&inner, cap) else {
            println!(
                "  {}: no thresholds keep within cap {cap} without it; left out",
                sets[i].0
            );
            continue;
        };
        println!("  {}: urgent {urgent:.2} concern {concern:.2}", sets[i].0);
        let c = outer[i]
            .clone()
            .with_thresholds(urgent as f32, concern as f32);
        nested.push(support::fold(sets[i].0, &sets[i].1, lexicon, &c));
    }
    print!("{}", support::table(&nested));
}

/// Scan time per message over every labelled message, lexicons alone and with the classifier.
fn time(sets: &Sets) {
    use std::time::Instant;
    let texts: Vec<&str> = sets
        .iter()
        .flat_map(|(_, set)| set.iter().map(|e| e.text.as_str()))
        .collect();
    let chars = texts.iter().map(|t| t.chars().count()).sum::<usize>() / texts.len();
    let started = Instant::now();
    let builtin = Detector::builtin();
    println!("Detector::builtin() in {:.1?}", started.elapsed());
    let lexicon = builtin.clone().without_classifier();
    for (name, detector) in [("lexicons alone", &lexicon), ("with classifier", &builtin)] {
        let rounds = 20;
        let mut slowest = std::time::Duration::ZERO;
        let started = Instant::now();
        for _ in 0..rounds {
            for text in &texts {
                let one = Instant::now();
                std::hint::black_box(detector.scan(std::hint::black_box(text)));
                slowest = slowest.max(one.elapsed());
            }
        }
        let each = started.elapsed() / (rounds * texts.len()) as u32;
        println!(
            "{name:16} {each:>8.1?} per message on average ({} messages of {chars} characters on average, {rounds} rounds), slowest {slowest:.1?}",
            texts.len()
        );
    }
    let classifier = builtin.classifier().expect("built in");
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        for text in &texts {
            std::hint::black_box(classifier.assess(std::hint::black_box(text)));
        }
    }
    println!(
        "{:16} {:>8.1?} per message on average (the classifier by itself, both heads)",
        "classifier alone",
        started.elapsed() / (rounds * texts.len()) as u32
    );
    let draft = "I'm 34 weeks and the baby has been really quiet since this morning, I had a cold drink and lay on my side but nothing. Is that normal or should I call?";
    for (name, detector) in [("lexicons alone", &lexicon), ("with classifier", &builtin)] {
        let rounds = 20_000;
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(detector.scan(std::hint::black_box(draft)));
        }
        println!(
            "{name:16} {:>8.1?} for a {}-character draft",
            started.elapsed() / rounds,
            draft.chars().count()
        );
    }
}
