//! The cohort planner: windows, sizes, languages, explanations, determinism, and invariants
//! over many generated inputs.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use hearth_care::cohorts::{plan, plan_json, Plan, PlanRequest, WaitingMother};
use serde_json::{json, Value};

fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, 1)
        .and_then(|d| d.checked_add_days(Days::new(n)))
        .expect("test date")
}

fn mother(id: &str, due: u64, languages: &[&str]) -> WaitingMother {
    WaitingMother {
        id: id.to_owned(),
        due_date: day(due),
        languages: languages.iter().map(|l| l.to_string()).collect(),
        preferences: Vec::new(),
        region: None,
    }
}

/// `count` mothers `prefix0`, `prefix1`, … due every `every` days from day `from`.
fn mothers(
    prefix: &str,
    count: u64,
    from: u64,
    every: u64,
    languages: &[&str],
) -> Vec<WaitingMother> {
    (0..count)
        .map(|i| mother(&format!("{prefix}{i:02}"), from + i * every, languages))
        .collect()
}

fn planned(mothers: Vec<WaitingMother>) -> Plan {
    plan(&PlanRequest {
        mothers,
        ..PlanRequest::default()
    })
    .expect("valid request")
}

fn sizes(plan: &Plan) -> Vec<(String, usize)> {
    plan.groups
        .iter()
        .map(|g| (g.language.clone(), g.members.len()))
        .collect()
}

fn unplaced(plan: &Plan) -> Vec<&str> {
    plan.unplaced.iter().map(|u| u.mother.as_str()).collect()
}

#[test]
fn mothers_due_together_who_share_a_language_form_one_explained_group() {
    let mut waiting = mothers("s", 12, 0, 2, &["Somali"]);
    waiting[0].preferences = vec!["first_time".to_owned()];
    waiting[1].preferences = vec!["First_time".to_owned(), "twins".to_owned()];
    waiting[2].region = Some("Leeds".to_owned());
    let plan = planned(waiting);
    assert!(plan.unplaced.is_empty());
    assert_eq!(plan.groups.len(), 1);
    let g = &plan.groups[0];
    assert_eq!(
        (g.language.as_str(), g.due_from, g.due_to),
        ("Somali", day(0), day(22))
    );
    assert_eq!(g.members.first().map(String::as_str), Some("s00"));
    assert_eq!(
        g.reasons,
        [
            "12 mothers who all speak Somali, the first language of all of them",
            "due 2026-05-01 to 2026-05-23, within a 4-week window",
            "formed from the 12 mothers not yet placed who speak Somali and are due in the 4 weeks from 2026-05-01",
            "12 members: target 12, minimum 7, capacity 30",
            "preferences: first_time (2), twins (1)",
            "regions: Leeds (1)",
        ]
    );
}

#[test]
fn due_dates_further_apart_than_the_window_go_to_different_groups() {
    let mut waiting = mothers("a", 8, 0, 1, &["English"]);
    waiting.extend(mothers("b", 8, 40, 1, &["English"]));
    let plan = planned(waiting);
    assert_eq!(
        sizes(&plan),
        [("English".to_owned(), 8), ("English".to_owned(), 8)]
    );
    assert_eq!(plan.groups[0].members[7], "a07");
    assert_eq!(plan.groups[1].members[0], "b00");
}

#[test]
fn a_mother_who_fits_no_window_is_told_how_many_are_left() {
    // Every 3 days for 40 days: days 0–27 make a group; days 30–39 are 4, too few.
    let plan = planned(mothers("m", 14, 0, 3, &["English"]));
    assert_eq!(sizes(&plan), [("English".to_owned(), 10)]);
    assert_eq!(unplaced(&plan), ["m10", "m11", "m12", "m13"]);
    assert_eq!(
        plan.unplaced[0].reasons,
        [
            "10 mothers (her included) due within a 4-week window speak English, but some are in \
          groups she cannot join (full, another language, or due dates too far from hers), and \
          at most 4 not yet placed (her included) fall within one 4-week window: below the \
          minimum group size of 7"
        ]
    );
}

#[test]
fn too_few_speakers_of_a_language_are_explained_per_language() {
    let mut waiting = mothers("e", 8, 0, 1, &["English"]);
    waiting.extend(mothers("s", 3, 0, 5, &["Somali"]));
    waiting.push(mother("x", 30, &["Tigrinya", "Amharic"]));
    let plan = planned(waiting);
    assert_eq!(sizes(&plan), [("English".to_owned(), 8)]);
    assert_eq!(unplaced(&plan), ["s00", "s01", "s02", "x"]);
    assert_eq!(
        plan.unplaced[1].reasons,
        [
            "only 3 mothers (her included) due within a 4-week window speak Somali; below the \
          minimum group size of 7"
        ]
    );
    assert_eq!(plan.unplaced[3].reasons.len(), 2);
    assert!(plan.unplaced[3].reasons[1].contains("speaks Amharic"));
}

#[test]
fn one_group_one_language_and_her_first_language_first() {
    let mut waiting = mothers("a", 7, 0, 1, &["Arabic"]);
    waiting.extend(mothers("s", 7, 0, 1, &["Somali"]));
    waiting.push(mother("both", 3, &["Somali", "Arabic"]));
    let plan = planned(waiting);
    assert_eq!(
        sizes(&plan),
        [("Arabic".to_owned(), 7), ("Somali".to_owned(), 8)]
    );
    assert!(plan.groups[1].members.contains(&"both".to_owned()));
    assert_eq!(
        plan.groups[1].reasons[0],
        "8 mothers who all speak Somali, the first language of all of them"
    );
}

#[test]
fn a_mother_falls_back_to_another_language_when_her_first_has_too_few() {
    let mut waiting = mothers("e", 6, 0, 1, &["English"]);
    waiting.extend(mothers("s", 3, 2, 1, &["somali", "english"]));
    let plan = planned(waiting);
    assert!(plan.unplaced.is_empty());
    assert_eq!(sizes(&plan), [("English".to_owned(), 9)]);
    assert_eq!(
        plan.groups[0].reasons[0],
        "9 mothers who all speak English, the first language of 6 of them"
    );
}

#[test]
fn a_large_cluster_splits_into_balanced_groups() {
    let balanced = planned(mothers("m", 25, 0, 0, &["English"]));
    assert_eq!(
        sizes(&balanced),
        [("English".to_owned(), 13), ("English".to_owned(), 12)]
    );
    assert!(balanced.groups[0].reasons[2]
        .ends_with(", split by due date into 2 groups of similar size near the target of 12"));

    // Capacity binds before the target does.
    let request = PlanRequest {
        mothers: mothers("m", 61, 0, 0, &["English"]),
        target_size: 30,
        ..PlanRequest::default()
    };
    let capped = plan(&request).expect("valid");
    assert_eq!(
        capped
            .groups
            .iter()
            .map(|g| g.members.len())
            .collect::<Vec<_>>(),
        [21, 20, 20]
    );
}

#[test]
fn a_straggler_joins_a_group_whose_window_has_room() {
    // Round 0 forms the English group; in round 1, mothers whose first language (Somali) has
    // too few speakers fall back to English and join it if their due dates fit.
    let mut waiting = mothers("m", 7, 0, 1, &["English"]);
    waiting.push(mother("late", 20, &["Somali", "English"]));
    waiting.push(mother("too-late", 40, &["Somali", "English"]));
    let plan = planned(waiting);
    assert_eq!(sizes(&plan), [("English".to_owned(), 8)]);
    assert_eq!(
        plan.groups[0].members.last().map(String::as_str),
        Some("late")
    );
    assert!(plan.groups[0].reasons.contains(
        &"joined after it formed (too few for a group of their own; due dates fit and it had room): late"
            .to_owned()
    ));
    assert_eq!(unplaced(&plan), ["too-late"]);
}

#[test]
fn json_in_and_out_has_the_cli_shape() {
    let input = json!({
        "mothers": [
            {"id": "m1", "due_date": "2026-05-01", "languages": ["Somali"]},
            {"id": "m2", "due_date": "2026-05-03", "languages": ["Somali"], "region": "Leeds"},
            {"id": "m3", "due_date": "2026-05-09", "languages": ["Somali", "English"]},
            {"id": "m4", "due_date": "2026-07-01", "languages": ["Somali"]}
        ],
        "target_size": 3, "capacity": 4, "window_days": 14, "min_size": 2
    });
    let output: Value =
        serde_json::from_str(&plan_json(&input.to_string()).expect("valid")).expect("JSON");
    assert_eq!(
        output,
        json!({
            "groups": [{
                "language": "Somali",
                "due_from": "2026-05-01",
                "due_to": "2026-05-09",
                "members": ["m1", "m2", "m3"],
                "reasons": [
                    "3 mothers who all speak Somali, the first language of all of them",
                    "due 2026-05-01 to 2026-05-09, within a 2-week window",
                    "formed from the 3 mothers not yet placed who speak Somali and are due in the 2 weeks from 2026-05-01",
                    "3 members: target 3, minimum 2, capacity 4",
                    "regions: Leeds (1)"
                ]
            }],
            "unplaced": [{
                "mother": "m4",
                "reasons": ["only 1 mother (her included) due within a 2-week window speaks Somali; below the minimum group size of 2"]
            }]
        })
    );
}

#[test]
fn bad_requests_name_the_field() {
    let ok = json!({"id": "m1", "due_date": "2026-05-01", "languages": ["Somali"]});
    let err = |doc: Value| {
        plan_json(&doc.to_string())
            .expect_err("rejected")
            .to_string()
    };
    let bad_date = json!({"id": "m3", "due_date": "2026-02-30", "languages": ["Somali"]});
    assert_eq!(
        err(json!({"mothers": [ok, ok.clone(), bad_date]})),
        "mothers[2].due_date: 2026-02-30 is not a date (expected YYYY-MM-DD)"
    );
    assert_eq!(
        err(json!({"mothers": [ok, ok]})),
        "mothers[1].id: \"m1\" repeats mothers[0]"
    );
    assert_eq!(
        err(json!({"mothers": [], "window_days": 0})),
        "window_days: must be at least 1"
    );
    assert_eq!(
        err(json!({"mothers": [], "target_size": 0})),
        "target_size: must be at least 1"
    );
    assert_eq!(
        err(json!({"mothers": [], "target_size": 20, "capacity": 16})),
        "target_size: 20 is above capacity 16"
    );
    assert_eq!(
        err(json!({"mothers": [], "capacity": 40})),
        "capacity: 40 is above 30, the largest group size that works"
    );
    assert_eq!(
        err(json!({"mothers": [], "target_size": 5})),
        "min_size: 7 is above target_size 5"
    );
    assert_eq!(
        err(json!({"mothers": [{"id": "m1", "due_date": "2026-05-01", "languages": []}]})),
        "mothers[0].languages: empty; list at least one"
    );
    assert!(err(json!({"mothers": [], "target": 12})).starts_with("target: unknown field `target`"));
    assert_eq!(err(json!({"target_size": 12})), "mothers: missing");
}

#[test]
fn the_plan_is_the_same_whatever_the_input_order() {
    let mut waiting = mothers("a", 20, 0, 2, &["English", "Somali"]);
    waiting.extend(mothers("b", 9, 10, 3, &["Somali"]));
    waiting.extend(mothers("c", 5, 5, 1, &["Arabic", "English"]));
    let expected = planned(waiting.clone());
    let mut rng = Lcg(7);
    for _ in 0..20 {
        rng.shuffle(&mut waiting);
        assert_eq!(planned(waiting.clone()), expected);
    }
}

/// A small seeded generator (PCG-style LCG), so generated cases are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform enough in `lo..=hi` for tests.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.range(0, i as u64) as usize;
            items.swap(i, j);
        }
    }
}

fn generate(rng: &mut Lcg) -> PlanRequest {
    let languages = ["English", "Somali", "Arabic", "Urdu", "Polish"];
    let count = rng.range(0, 90);
    let spread = rng.range(1, 200);
    let mothers = (0..count)
        .map(|i| {
            let mut langs: Vec<&str> = languages.to_vec();
            rng.shuffle(&mut langs);
            let keep = rng.range(1, 3) as usize;
            mother(&format!("m{i}"), rng.range(0, spread), &langs[..keep])
        })
        .collect();
    let capacity = rng.range(1, 30) as u32;
    let target_size = rng.range(1, u64::from(capacity)) as u32;
    PlanRequest {
        mothers,
        target_size,
        capacity,
        window_days: rng.range(1, 60) as u32,
        min_size: rng.range(1, u64::from(target_size)) as u32,
    }
}

#[test]
fn invariants_hold_over_generated_requests() {
    let mut rng = Lcg(2026);
    let (mut groups, mut unplaced, mut joined, mut split) = (0, 0, 0, 0);
    for case in 0..400 {
        let mut request = generate(&mut rng);
        let result = plan(&request).expect("generated requests are valid");
        let by_id: BTreeMap<&str, &WaitingMother> =
            request.mothers.iter().map(|m| (m.id.as_str(), m)).collect();
        let window = i64::from(request.window_days);

        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for g in &result.groups {
            let size = g.members.len();
            assert!(
                size <= request.capacity as usize,
                "case {case}: above capacity"
            );
            assert!(
                size >= request.min_size as usize,
                "case {case}: below minimum"
            );
            let members: Vec<&WaitingMother> =
                g.members.iter().map(|id| by_id[id.as_str()]).collect();
            for m in &members {
                *seen.entry(m.id.as_str()).or_default() += 1;
                assert!(
                    m.languages
                        .iter()
                        .any(|l| l.eq_ignore_ascii_case(&g.language)),
                    "case {case}: {} does not speak {}",
                    m.id,
                    g.language
                );
            }
            let dues: Vec<NaiveDate> = members.iter().map(|m| m.due_date).collect();
            assert_eq!(dues.iter().min(), Some(&g.due_from), "case {case}");
            assert_eq!(dues.iter().max(), Some(&g.due_to), "case {case}");
            assert!(
                (g.due_to - g.due_from).num_days() < window,
                "case {case}: window"
            );
            let sorted = members
                .windows(2)
                .all(|p| (p[0].due_date, &p[0].id) <= (p[1].due_date, &p[1].id));
            assert!(sorted, "case {case}: members out of order");
        }
        groups += result.groups.len();
        unplaced += result.unplaced.len();
        joined += result
            .groups
            .iter()
            .filter(|g| g.reasons.iter().any(|r| r.starts_with("joined")))
            .count();
        split += result
            .groups
            .iter()
            .filter(|g| g.reasons.iter().any(|r| r.contains("split by due date")))
            .count();
        for u in &result.unplaced {
            *seen.entry(u.mother.as_str()).or_default() += 1;
            assert_eq!(u.reasons.len(), by_id[u.mother.as_str()].languages.len());
        }
        assert_eq!(
            seen.len(),
            request.mothers.len(),
            "case {case}: someone missing"
        );
        assert!(
            seen.values().all(|&n| n == 1),
            "case {case}: someone placed twice"
        );

        // Nobody is left out who could have started a group: in every language, no window
        // holds `min_size` unplaced speakers.
        for lang in ["English", "Somali", "Arabic", "Urdu", "Polish"] {
            let mut dues: Vec<NaiveDate> = result
                .unplaced
                .iter()
                .map(|u| by_id[u.mother.as_str()])
                .filter(|m| m.languages.iter().any(|l| l == lang))
                .map(|m| m.due_date)
                .collect();
            dues.sort();
            for (i, from) in dues.iter().enumerate() {
                let within = dues[i..]
                    .iter()
                    .filter(|d| (**d - *from).num_days() < window)
                    .count();
                assert!(
                    within < request.min_size as usize,
                    "case {case}: {lang} could form a group"
                );
            }
        }

        rng.shuffle(&mut request.mothers);
        assert_eq!(
            plan(&request),
            Ok(result),
            "case {case}: order changed the plan"
        );
    }
    // The generator must reach every path, or the invariants above prove little.
    assert!(
        groups > 1000 && unplaced > 1000 && joined > 50 && split > 500,
        "groups {groups}, unplaced {unplaced}, joined {joined}, split {split}"
    );
}
