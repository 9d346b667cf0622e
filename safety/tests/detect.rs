//! The risk detector against the labelled sets in `tests/data/` (one message per line,
//! `expected_level<TAB>lang<TAB>kind<TAB>text`; `#` lines are comments), each written by a
//! different author:
//!
//! - `risk-dev.tsv`, written with the lexicon, to develop it;
//! - `risk-eval.tsv`, `risk-fresh.tsv` and `risk-fresh2.tsv`, each written by a new author who
//!   had not seen the detector or the other sets;
//! - `risk-train-uk.tsv`, `risk-train-es.tsv`, `risk-train-world.tsv` and
//!   `risk-train-clinical.tsv`, each written by another author to train on.
//!
//! The detector is two parts: the lexicons (tuned on the first three sets) and a classifier
//! trained on all eight (`hearth_safety::classify`, trained by `examples/train.rs`). The bars a
//! member would notice: urgent messages are caught (recall ≥ 0.95) and everyday pregnancy talk
//! is left alone (false alarms ≤ 5%). Figures on a set something was tuned or trained on
//! measure nothing about new text, so the honest figures here are **leave-one-set-out**: train
//! the classifier on the other sets, test on the one left out.
//!
//! Run with `--nocapture` to see every table and disagreement.
//!
//! Four further sets, `risk-train-*.tsv`, were written to train on. Three fresh sets,
//! `risk-fresh3.tsv`, `risk-fresh4.tsv` and `risk-fresh5.tsv`, each written blind by another
//! new author, are held out from everything: `held_out_third_fresh_set`,
//! `held_out_fourth_fresh_set` and `held_out_fifth_fresh_set` record them.

mod support;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hearth_safety::classify::{self, Classifier, Labelled, TrainOptions};
use hearth_safety::detect::{Detector, Level};

use support::{Figures, Fold, SETS};

const URGENT_RECALL: f64 = 0.95;
const EVERYDAY_FALSE_ALARMS: f64 = 0.05;

/// The eight training sets, read once.
fn sets() -> &'static [(&'static str, Vec<Labelled>)] {
    static SETS: OnceLock<Vec<(&'static str, Vec<Labelled>)>> = OnceLock::new();
    SETS.get_or_init(support::load_all)
}

fn set(name: &str) -> &'static [Labelled] {
    &sets()
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no labelled set {name}"))
        .1
}

/// Prints a detector's confusion table, figures per kind and language, and disagreements on
/// one set; returns its figures.
fn report(title: &str, examples: &[Labelled], detector: &Detector) -> Figures {
    let levels: Vec<Level> = examples
        .iter()
        .map(|e| detector.scan(&e.text).level)
        .collect();
    let mut confusion: BTreeMap<(Level, Level), usize> = BTreeMap::new();
    // (kind, lang) -> (count, exact, flagged (not none), urgent missed)
    let mut kinds: BTreeMap<(&str, &str), [usize; 4]> = BTreeMap::new();
    let mut misses = Vec::new();
    for (e, &got) in examples.iter().zip(&levels) {
        *confusion.entry((e.level, got)).or_default() += 1;
        let row = kinds.entry((&e.kind, &e.lang)).or_default();
        row[0] += 1;
        row[1] += usize::from(got == e.level);
        row[2] += usize::from(got != Level::None);
        row[3] += usize::from(e.level == Level::Urgent && got != Level::Urgent);
        if got != e.level {
            misses.push(format!(
                "  expected {:7} got {:7} [{} {}] {}",
                e.level.as_str(),
                got.as_str(),
                e.lang,
                e.kind,
                e.text
            ));
        }
    }
    println!("\n== {title}: {} messages", examples.len());
    println!("confusion (rows: expected, columns: detected)");
    println!("{:>10} {:>8} {:>8} {:>8}", "", "none", "concern", "urgent");
    for expected in Level::ALL {
        let cells: Vec<String> = Level::ALL
            .iter()
            .map(|got| format!("{:>8}", confusion.get(&(*expected, *got)).unwrap_or(&0)))
            .collect();
        println!("{:>10} {}", expected.as_str(), cells.join(" "));
    }
    println!("per kind and language: count, exact, flagged (not none), urgent missed");
    for ((kind, lang), [count, exact, flagged, missed]) in &kinds {
        println!("  {kind:10} {lang:3} {count:4} {exact:4} {flagged:4} {missed:4}");
    }
    let figures = support::figures(examples, &levels);
    println!("urgent recall {}", figures.urgent);
    println!("everyday false alarms {}", figures.everyday);
    println!("disagreements ({}):", misses.len());
    for miss in &misses {
        println!("{miss}");
    }
    figures
}

fn assert_bars(name: &str, figures: &Figures) {
    assert!(
        figures.urgent.rate() >= URGENT_RECALL,
        "{name}: urgent recall {} is below {URGENT_RECALL} (run with --nocapture for the misses)",
        figures.urgent
    );
    assert!(
        figures.everyday.rate() <= EVERYDAY_FALSE_ALARMS,
        "{name}: false alarms on everyday talk {} are above {EVERYDAY_FALSE_ALARMS} (run with --nocapture)",
        figures.everyday
    );
}

// ---------------------------------------------------------------------------------------------
// The lexicons alone

/// The lexicons alone on the three sets they were tuned on: regression guards, not measures.
///
/// `risk-eval.tsv` (369 messages), written by someone else without seeing the detector: its
/// first (only clean) run caught 56 of 99 urgent messages (recall 0.566) with 2 of 129 everyday
/// false alarms; the lexicons were then widened for the families of risk that run missed
/// (suicide planning, psychosis, sepsis and clots, threats of leaving).
///
/// `risk-fresh.tsv` (506 messages), written by a new author without seeing the detector, its
/// lexicons or the earlier sets. Its first, clean run (2026-11-23), rows expected, columns
/// detected:
///
/// ```text
///            none  concern  urgent
///   none      245        8       3
///   concern    40       38       0
///   urgent     56        9     107     urgent recall 107/172 = 0.622
///                                      everyday false alarms 2/175 = 0.011
/// ```
///
/// The lexicons were then widened by families of risk after reading that run's misses (each
/// family also written out afresh, positives and look-alikes, in `risk-dev.tsv`), to 172/172
/// and 0/175. Those figures were tuned with the set in view, so they measure nothing.
#[test]
fn lexicons_on_the_sets_they_were_tuned_on() {
    let lexicon = support::lexicon();
    for name in ["risk-dev.tsv", "risk-eval.tsv", "risk-fresh.tsv"] {
        let figures = report(&format!("{name}, lexicons alone"), set(name), &lexicon);
        assert_bars(name, &figures);
    }
}

/// The second fresh set (505 messages, another new author), run after the lexicons were tuned
/// on every earlier set. Its first run (2026-11-23), rows expected, columns detected:
///
/// ```text
///            none  concern  urgent
///   none      229        2       2
///   concern    30       52       1
///   urgent     48       21     120     urgent recall 120/189 = 0.635
///                                      everyday false alarms 1/166 = 0.006
/// ```
///
/// It has never been used to tune the lexicons, but since the classifier arrived it is one of
/// its four training sets, so it is no longer held out from the detector as a whole: the honest
/// figures for the detector are the leave-one-set-out ones below. This guards the lexicons'
/// figure above against regressions.
#[test]
fn lexicons_on_the_second_fresh_set() {
    let figures = report(
        "risk-fresh2.tsv, lexicons alone",
        set("risk-fresh2.tsv"),
        &support::lexicon(),
    );
    assert!(
        figures.urgent.rate() >= 0.60,
        "risk-fresh2.tsv: urgent recall {} fell below its recorded 0.635 (floor 0.60)",
        figures.urgent
    );
    assert!(
        figures.everyday.rate() <= EVERYDAY_FALSE_ALARMS,
        "risk-fresh2.tsv: false alarms on everyday talk {} are above {EVERYDAY_FALSE_ALARMS}",
        figures.everyday
    );
}

/// **The third fresh set, held out** (`risk-fresh3.tsv`, 501 messages): written blind by a new
/// author who saw neither the detector, its lexicons, its model nor earlier sets, and never
/// trained or tuned on. Its first run (2026-11-23), rows expected, columns detected:
///
/// ```text
/// lexicons alone           none  concern  urgent
///   none                    218        4       4
///   concern                  39       44       2
///   urgent                   52       15     123    urgent recall 123/190 = 0.647
///                                                  everyday false alarms 2/164 = 0.012
/// lexicons and classifier  none  concern  urgent
///   none                    215        4       7
///   concern                  20       52      13
///   urgent                   23       10     157    urgent recall 157/190 = 0.826
///                                                  everyday false alarms 5/164 = 0.030
/// ```
///
/// The shipped detector misses about one urgent message in six from a new author: short of the
/// 0.95 bar. Retrained on eight sets (2026-11-23): urgent 163/190 = 0.858, everyday false alarms
/// 4/164 = 0.024. The floors below sit just under the first run, so a regression fails; they
/// are not the bar. Keep this set out of training and tuning, or it stops measuring anything.
#[test]
fn held_out_third_fresh_set() {
    held_out("risk-fresh3.tsv", 0.80, "its first run's 0.826");
}

/// Runs a held-out set through the lexicons alone and the shipped detector, and holds the
/// shipped detector to an urgent-recall floor and the everyday false-alarm bar.
fn held_out(name: &str, urgent_floor: f64, recorded: &str) {
    let examples = support::load(name);
    report(
        &format!("{name}, lexicons alone"),
        &examples,
        &support::lexicon(),
    );
    let shipped = report(
        &format!("{name}, lexicons and classifier (as shipped)"),
        &examples,
        &Detector::builtin(),
    );
    assert!(
        shipped.urgent.rate() >= urgent_floor,
        "{name}: urgent recall {} fell below {recorded} (floor {urgent_floor})",
        shipped.urgent
    );
    assert!(
        shipped.everyday.rate() <= EVERYDAY_FALSE_ALARMS,
        "{name}: false alarms on everyday talk {} are above {EVERYDAY_FALSE_ALARMS}",
        shipped.everyday
    );
}

/// **The fourth fresh set, held out** (`risk-fresh4.tsv`, 500 messages: 290 English, 210
/// Spanish): written blind by a sixth author who saw nothing of the detector, its data or the
/// earlier sets, and never trained or tuned on. Its first run (2026-11-23), on the detector
/// then shipped (classifier trained on four sets), and its run after the classifier was
/// retrained on eight sets (a choice made without looking at this set), rows expected, columns
/// detected:
///
/// ```text
/// first run (four sets)    none  concern  urgent
///   none                    204        7      14
///   concern                  30       35      20
///   urgent                   52        5     133    urgent recall 133/190 = 0.700
///                                                  everyday false alarms 8/150 = 0.053
/// retrained (eight sets)   none  concern  urgent
///   none                    210        6       9
///   concern                  33       41      11
///   urgent                   44        6     140    urgent recall 140/190 = 0.737
///                                                  everyday false alarms 5/150 = 0.033
/// ```
///
/// English 89/110 = 0.809, Spanish 51/80 = 0.637. Far short of the 0.95 bar; the floors sit
/// just under the retrained run so a regression fails. Keep this set out of training and
/// tuning.
#[test]
fn held_out_fourth_fresh_set() {
    held_out("risk-fresh4.tsv", 0.72, "its recorded 0.737");
}

/// **The fifth fresh set, held out** (`risk-fresh5.tsv`, 500 messages: 290 English, 210
/// Spanish): written blind by a seventh author, a perinatal mental-health nurse persona, who saw
/// nothing of the detector, its data or the earlier sets. Its first run (2026-11-24), on the
/// detector as shipped (classifier trained on eight sets), rows expected, columns detected:
///
/// ```text
/// lexicons alone           none  concern  urgent
///   none                    211        5       9
///   concern                  43       39       3
///   urgent                   85       12      93    urgent recall 93/190 = 0.489
///                                                  everyday false alarms 4/150 = 0.027
/// lexicons and classifier  none  concern  urgent
///   none                    208        5      12
///   concern                  22       53      10
///   urgent                   30       12     148    urgent recall 148/190 = 0.779
///                                                  everyday false alarms 5/150 = 0.033
/// ```
///
/// English 90/110 = 0.818, Spanish 58/80 = 0.725. A check of whether more data of the same kind
/// closes the gap, with no option changed: the classifier retrained on ten sets (the eight
/// plus `risk-fresh3.tsv` and `risk-fresh4.tsv`) scored 144/190 = 0.758 here, everyday false
/// alarms 6/150 = 0.040, no better, so the shipped weights stayed on eight. The floor sits just
/// under the first run so a regression fails. Keep this set out of training and tuning.
#[test]
fn held_out_fifth_fresh_set() {
    held_out("risk-fresh5.tsv", 0.75, "its first run's 0.779");
}

// ---------------------------------------------------------------------------------------------
// The detector as it ships: lexicons and classifier

/// **Training figures**: the built-in detector (lexicons and the final classifier) on each of
/// the sets the classifier was trained on. They are high by construction and say nothing about
/// text from a new author; they are shown so a change in them is visible. The bars are checked
/// on the three sets the lexicons were tuned on; the others (never used to tune the lexicons)
/// have floors a little under what was recorded (2026-11-23), so a regression fails:
///
/// ```text
/// training set             urgent recall     everyday false alarms
/// risk-fresh2.tsv          160/189 0.847     1/166 0.006
/// risk-train-uk.tsv        178/220 0.809     4/160 0.025
/// risk-train-es.tsv        165/220 0.750     6/160 0.037
/// risk-train-world.tsv     169/230 0.735     4/150 0.027
/// risk-train-clinical.tsv  206/230 0.896     9/150 0.060   (all nine from the lexicons)
/// ```
#[test]
fn training_figures() {
    let detector = Detector::builtin();
    let lexicon = support::lexicon();
    let classifier = Classifier::builtin();
    let folds: Vec<Fold> = sets()
        .iter()
        .map(|(name, examples)| support::fold(name, examples, &lexicon, &classifier))
        .collect();
    println!("\nTRAINING figures (the final classifier on the sets it was trained on):");
    print!("{}", support::table_titled("training set", &folds));
    // (urgent recall floor, everyday false-alarm ceiling) for sets the lexicons never saw.
    let floors = [
        ("risk-fresh2.tsv", 0.82, EVERYDAY_FALSE_ALARMS),
        ("risk-train-uk.tsv", 0.78, EVERYDAY_FALSE_ALARMS),
        ("risk-train-es.tsv", 0.72, EVERYDAY_FALSE_ALARMS),
        ("risk-train-world.tsv", 0.70, EVERYDAY_FALSE_ALARMS),
        ("risk-train-clinical.tsv", 0.86, 0.07),
    ];
    for (name, examples) in sets() {
        let figures = report(
            &format!("{name}, built-in detector (TRAINING figures)"),
            examples,
            &detector,
        );
        match floors.iter().find(|(set, _, _)| set == name) {
            Some((_, urgent, everyday)) => {
                assert!(
                    figures.urgent.rate() >= *urgent,
                    "{name}: training urgent recall {} fell below its floor {urgent}",
                    figures.urgent
                );
                assert!(
                    figures.everyday.rate() <= *everyday,
                    "{name}: everyday false alarms {} are above {everyday}",
                    figures.everyday
                );
            }
            None => assert_bars(name, &figures),
        }
    }
}

/// Leave one set out, for each set: the classifier trained on the others (with
/// `TrainOptions::default()`, the built-in thresholds), tested on it. Computed once.
fn leave_one_set_out() -> &'static [Fold] {
    static FOLDS: OnceLock<Vec<Fold>> = OnceLock::new();
    FOLDS.get_or_init(|| support::leave_one_set_out(sets(), &TrainOptions::default()))
}

/// Floors for one held-out set: a little under what was measured (2026-11-23), so that a
/// regression fails. `everyday` is a ceiling on the combined detector's false alarms.
struct Floors {
    set: &'static str,
    model_urgent: f64,
    combined_urgent: f64,
    combined_concern: f64,
    everyday: f64,
}

/// The honest figures. Measured (2026-11-23; `cargo run -p hearth-safety --release --example
/// train -- --cross`, recorded in docs/safety.md):
///
/// ```text
/// held-out set     detector  urgent recall    concern recall   everyday FA      look-alike FA    concern→urgent
/// risk-dev.tsv     lexicon   303/303 1.000     66/66  1.000      0/169 0.000      0/78  0.000      0/66  0.000
///                  model      98/303 0.323     11/66  0.167      5/169 0.030      4/78  0.051      3/66  0.045
///                  combined  303/303 1.000     66/66  1.000      5/169 0.030      0/78  0.000      3/66  0.045
/// risk-eval.tsv    lexicon    99/99  1.000     63/63  1.000      0/129 0.000      1/78  0.013      3/63  0.048
///                  model      76/99  0.768     28/63  0.444      3/129 0.023      3/78  0.038      5/63  0.079
///                  combined   99/99  1.000     63/63  1.000      3/129 0.023      1/78  0.013      4/63  0.063
/// risk-fresh.tsv   lexicon   172/172 1.000     76/78  0.974      0/175 0.000      1/81  0.012      0/78  0.000
///                  model     108/172 0.628     36/78  0.462      6/175 0.034      8/81  0.099      6/78  0.077
///                  combined  172/172 1.000     77/78  0.987      5/175 0.029      3/81  0.037      6/78  0.077
/// risk-fresh2.tsv  lexicon   120/189 0.635     53/83  0.639      1/166 0.006      3/67  0.045      1/83  0.012
///                  model     103/189 0.545     33/83  0.398      6/166 0.036      9/67  0.134      7/83  0.084
///                  combined  142/189 0.751     60/83  0.723      6/166 0.036      9/67  0.134      7/83  0.084
/// ```
///
/// The `lexicon` and `combined` rows are clean only for `risk-fresh2.tsv`: the lexicons were
/// written with `risk-dev.tsv` and tuned on `risk-eval.tsv` and `risk-fresh.tsv`, so those rows
/// show 1.000 whatever the classifier does. The `model` rows for `risk-eval.tsv` and
/// `risk-fresh.tsv` are a little flattering too: `risk-dev.tsv` was widened with new examples of
/// the families those sets' first runs missed (see docs/safety.md for a replay). On text from a
/// new author the combined detector catches about three urgent messages in four, not 95%.
#[test]
fn leave_one_set_out_figures() {
    let folds = leave_one_set_out();
    println!("\nLeave one set out (the classifier never saw the row's set):");
    print!("{}", support::table(folds));
    let floors = [
        Floors {
            set: "risk-dev.tsv",
            model_urgent: 0.28,
            combined_urgent: 0.95,
            combined_concern: 0.95,
            everyday: 0.05,
        },
        Floors {
            set: "risk-eval.tsv",
            model_urgent: 0.72,
            combined_urgent: 0.95,
            combined_concern: 0.95,
            everyday: 0.05,
        },
        Floors {
            set: "risk-fresh.tsv",
            model_urgent: 0.58,
            combined_urgent: 0.95,
            combined_concern: 0.95,
            everyday: 0.05,
        },
        Floors {
            set: "risk-fresh2.tsv",
            model_urgent: 0.50,
            combined_urgent: 0.72,
            combined_concern: 0.68,
            everyday: 0.05,
        },
    ];
    assert_eq!(
        folds.iter().map(|f| f.held_out).collect::<Vec<_>>(),
        SETS,
        "one fold per set"
    );
    for (fold, floor) in folds.iter().zip(&floors) {
        assert_eq!(fold.held_out, floor.set);
        let name = fold.held_out;
        assert!(
            fold.model.urgent.rate() >= floor.model_urgent,
            "{name} held out: the model's urgent recall {} is below its floor {}",
            fold.model.urgent,
            floor.model_urgent
        );
        assert!(
            fold.combined.urgent.rate() >= floor.combined_urgent,
            "{name} held out: combined urgent recall {} is below its floor {}",
            fold.combined.urgent,
            floor.combined_urgent
        );
        assert!(
            fold.combined.concern.rate() >= floor.combined_concern,
            "{name} held out: combined concern recall {} is below its floor {}",
            fold.combined.concern,
            floor.combined_concern
        );
        assert!(
            fold.combined.everyday.rate() <= floor.everyday,
            "{name} held out: combined everyday false alarms {} are above {}",
            fold.combined.everyday,
            floor.everyday
        );
        // The classifier only raises: the combined detector catches at least what the lexicons
        // catch.
        assert!(fold.combined.urgent.hit >= fold.lexicon.urgent.hit);
        assert!(fold.combined.concern.hit >= fold.lexicon.concern.hit);
    }
}

/// The committed weights are exactly what the four sets train (in `support::SETS` order, with
/// `TrainOptions::default()`): the model can never drift from its data. If this fails after a
/// change to a set, a lexicon or the features, retrain: `cargo run -p hearth-safety --release
/// --example train`, and look at its output and `-- --cross` before committing.
#[test]
fn the_weights_are_what_the_sets_train() {
    let trained = classify::train(&support::training_data(sets()), &TrainOptions::default());
    let builtin = Classifier::builtin();
    assert!(
        trained == builtin,
        "safety/data/classifier.bin is not what the labelled sets train \
         ({:?} vs {:?}); retrain with `cargo run -p hearth-safety --release --example train`",
        trained,
        builtin
    );
    assert!(
        builtin.to_bytes().len() <= 300 * 1024,
        "the weights must stay small"
    );
}
