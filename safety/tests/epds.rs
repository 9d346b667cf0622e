//! EPDS scoring: every item's direction, the flag boundaries, the self-harm item, content files.

use hearth_safety::epds::{
    item_score, sample_content, score, Answers, Content, Cutoffs, EpdsError, Flag,
};

/// Reverse-scored items (1-based), by the scale: top option scores 3.
const REVERSED: [usize; 7] = [3, 5, 6, 7, 8, 9, 10];

/// Answers choosing, for each item, the option that scores `scores[i]`.
fn answers_scoring(scores: [u8; 10]) -> Answers {
    let mut options = [0u8; 10];
    for (i, &s) in scores.iter().enumerate() {
        options[i] = if REVERSED.contains(&(i + 1)) {
            3 - s
        } else {
            s
        };
    }
    Answers::new(options).expect("options in range")
}

/// Answers where every item scores 0 except the listed (item, score) pairs.
fn answers_with(items: &[(usize, u8)]) -> Answers {
    let mut scores = [0u8; 10];
    for &(item, s) in items {
        scores[item - 1] = s;
    }
    answers_scoring(scores)
}

fn parse_err(s: &str) -> String {
    Answers::parse(s)
        .expect_err("should be rejected")
        .to_string()
}

#[test]
fn each_item_alone_scores_in_the_scales_direction() {
    for item in 1..=10 {
        for option in 0..4u8 {
            let expected = if REVERSED.contains(&item) {
                3 - option
            } else {
                option
            };
            assert_eq!(
                item_score(item, option),
                expected,
                "item {item} option {option}"
            );
            // The same item through a whole form: every other item at its 0-scoring option.
            let mut options = answers_with(&[]).options();
            options[item - 1] = option;
            let s = score(
                &Answers::new(options).expect("in range"),
                Cutoffs::default(),
            );
            assert_eq!(s.total, expected, "item {item} option {option}");
            assert_eq!(s.items[item - 1], expected);
            assert_eq!(
                s.items.iter().filter(|&&x| x > 0).count(),
                usize::from(expected > 0)
            );
        }
    }
}

#[test]
fn all_top_options_and_all_bottom_options() {
    // Top options: items 1, 2, 4 score 0; the other seven score 3 each.
    let top = score(
        &Answers::parse("0,0,0,0,0,0,0,0,0,0").expect("valid"),
        Cutoffs::default(),
    );
    assert_eq!(top.total, 21);
    assert_eq!(top.items, [0, 0, 3, 0, 3, 3, 3, 3, 3, 3]);
    assert_eq!(top.flags, [Flag::SelfHarm, Flag::ProbableDepression]);
    assert!(top.safety_pathway());

    // Bottom options: items 1, 2, 4 score 3; the rest 0.
    let bottom = score(
        &Answers::parse("3,3,3,3,3,3,3,3,3,3").expect("valid"),
        Cutoffs::default(),
    );
    assert_eq!(bottom.total, 9);
    assert_eq!(bottom.items, [3, 3, 0, 3, 0, 0, 0, 0, 0, 0]);
    assert!(bottom.flags.is_empty());
    assert!(!bottom.safety_pathway());
}

#[test]
fn the_extremes_score_0_and_30() {
    let none = score(&answers_scoring([0; 10]), Cutoffs::default());
    assert_eq!((none.total, none.flags.clone()), (0, vec![]));
    let all = score(&answers_scoring([3; 10]), Cutoffs::default());
    assert_eq!(all.total, 30);
    assert_eq!(all.flags, [Flag::SelfHarm, Flag::ProbableDepression]);
}

#[test]
fn flags_at_the_default_boundaries() {
    // Totals built from items 1–9 only, so item 10 stays at 0.
    let form = |total: u8| {
        let mut scores = [0u8; 10];
        let mut left = total;
        for s in scores.iter_mut().take(9) {
            *s = left.min(3);
            left -= *s;
        }
        assert_eq!(left, 0);
        score(&answers_scoring(scores), Cutoffs::default())
    };
    let cases: [(u8, &[Flag]); 5] = [
        (9, &[]),
        (10, &[Flag::PossibleDepression]),
        (12, &[Flag::PossibleDepression]),
        (13, &[Flag::ProbableDepression]),
        (27, &[Flag::ProbableDepression]),
    ];
    for (total, flags) in cases {
        let s = form(total);
        assert_eq!(s.total, total);
        assert_eq!(s.flags, flags, "total {total}");
        assert!(!s.safety_pathway());
        assert!(!s.item10_positive);
    }
}

#[test]
fn item_10_alone_triggers_the_safety_pathway_whatever_the_total() {
    for item10 in 1..=3u8 {
        let s = score(&answers_with(&[(10, item10)]), Cutoffs::default());
        assert_eq!(s.total, item10);
        assert!(s.item10_positive);
        assert!(s.safety_pathway());
        assert_eq!(s.flags, [Flag::SelfHarm]);
    }
    // "Hardly ever" (option 2 of 0–3) scores 1: still positive.
    let hardly_ever = Answers::parse("0,0,3,0,3,3,3,3,3,2").expect("valid");
    let s = score(&hardly_ever, Cutoffs::default());
    assert_eq!(s.total, 1);
    assert!(s.safety_pathway());
    // The bottom option ("never") is the only one that does not.
    let never = Answers::parse("0,0,3,0,3,3,3,3,3,3").expect("valid");
    assert!(!score(&never, Cutoffs::default()).safety_pathway());
}

#[test]
fn self_harm_and_a_depression_flag_together() {
    let s = score(
        &answers_with(&[(1, 3), (2, 3), (3, 3), (10, 1)]),
        Cutoffs::default(),
    );
    assert_eq!(s.total, 10);
    assert_eq!(s.flags, [Flag::SelfHarm, Flag::PossibleDepression]);
    assert!(s.has(Flag::SelfHarm) && !s.has(Flag::ProbableDepression));
}

#[test]
fn custom_cutoffs_from_a_content_file() {
    let json = content_json().replace(
        r#""cutoffs": {"possible": 10, "probable": 13}"#,
        r#""cutoffs": {"possible": 9, "probable": 11}"#,
    );
    let content = Content::from_json(&json).expect("valid");
    assert_eq!(
        content.cutoffs(),
        Cutoffs {
            possible: 9,
            probable: 11
        }
    );
    let nine = answers_with(&[(1, 3), (2, 3), (3, 3)]);
    assert_eq!(content.score(&nine).flags, [Flag::PossibleDepression]);
    assert!(score(&nine, Cutoffs::default()).flags.is_empty());
    let eleven = answers_with(&[(1, 3), (2, 3), (3, 3), (4, 2)]);
    assert_eq!(content.score(&eleven).flags, [Flag::ProbableDepression]);
    assert_eq!(
        score(&eleven, Cutoffs::default()).flags,
        [Flag::PossibleDepression]
    );

    // Left out, the cut-offs default to 10 and 13; one given alone keeps the other's default.
    let none = content_json().replace(r#""cutoffs": {"possible": 10, "probable": 13},"#, "");
    assert_eq!(
        Content::from_json(&none).expect("valid").cutoffs(),
        Cutoffs::default()
    );
    let one = content_json().replace(r#""possible": 10, "#, "");
    assert_eq!(
        Content::from_json(&one).expect("valid").cutoffs(),
        Cutoffs::default()
    );
}

#[test]
fn answers_parse_and_print() {
    let a = Answers::parse(" 0, 1,2 ,3,0,1,2,3,0 ,1 ").expect("spaces allowed");
    assert_eq!(a.options(), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    assert_eq!(a.option(4), Some(3));
    assert_eq!(a.option(0), None);
    assert_eq!(a.option(11), None);
    assert_eq!(a.to_string(), "0,1,2,3,0,1,2,3,0,1");
    assert_eq!("0,1,2,3,0,1,2,3,0,1".parse::<Answers>(), Ok(a));
    let json = serde_json::to_string(&a).expect("serialises");
    assert_eq!(json, "[0,1,2,3,0,1,2,3,0,1]");
    assert_eq!(serde_json::from_str::<Answers>(&json).expect("reads"), a);
    assert!(serde_json::from_str::<Answers>("[0,1,2,3,0,1,2,3,0,4]").is_err());
}

#[test]
fn bad_answers_name_the_position() {
    assert_eq!(
        parse_err("0,1,2,7,0,1,2,3,0,1"),
        "item 4: 7 is not an option (0–3)"
    );
    assert_eq!(
        parse_err("0,1,2,3,0,1,2,3,0,x"),
        "item 10: x is not an option (0–3)"
    );
    assert_eq!(
        parse_err("0,1,2,3,0,-1,2,3,0,1"),
        "item 6: -1 is not an option (0–3)"
    );
    assert_eq!(
        parse_err("0,1,2,3,0,+1,2,3,0,1"),
        "item 6: +1 is not an option (0–3)"
    );
    assert_eq!(
        parse_err("0,1,,3,0,1,2,3,0,1"),
        "item 3: missing; expected an option 0–3"
    );
    assert_eq!(
        parse_err("0,1,2,3,0,1,2,3,0"),
        "answers: expected 10 options separated by commas, found 9"
    );
    assert_eq!(
        parse_err("0,1,2,3,0,1,2,3,0,1,2"),
        "answers: expected 10 options separated by commas, found 11"
    );
    assert!(parse_err("  ").starts_with("answers: empty"));
    assert_eq!(
        Answers::new([0, 0, 0, 0, 0, 0, 0, 0, 4, 0])
            .expect_err("out of range")
            .to_string(),
        "item 9: 4 is not an option (0–3)"
    );
}

#[test]
fn score_serialises_flags_in_snake_case() {
    let s = score(&answers_scoring([3; 10]), Cutoffs::default());
    let json = serde_json::to_value(&s).expect("serialises");
    assert_eq!(json["total"], 30);
    assert_eq!(json["item10_positive"], true);
    assert_eq!(
        json["flags"],
        serde_json::json!(["self_harm", "probable_depression"])
    );
    assert_eq!(
        serde_json::to_string(&Flag::PossibleDepression).expect("serialises"),
        "\"possible_depression\""
    );
}

#[test]
fn sample_files_load_and_are_marked_sample() {
    for language in ["en", "es"] {
        let content = sample_content(language).expect("bundled");
        assert_eq!(content.language(), language);
        assert!(content.is_sample());
        let notice = content.notice().expect("a sample has a notice");
        assert!(notice.contains("NOT the wording"), "{notice}");
        assert!(
            content.title().contains("EPDS"),
            "title says it is not the EPDS"
        );
        assert_eq!(content.cutoffs(), Cutoffs::default());
        assert_eq!(content.items().len(), 10);
        for item in content.items() {
            assert!(!item.text().trim().is_empty());
            assert_eq!(item.options().len(), 4);
        }
    }
    assert_eq!(
        sample_content("es-MX").map(|c| c.language().to_owned()),
        Some("es".into())
    );
    assert!(sample_content("fr").is_none());
}

#[test]
fn a_licensed_file_is_not_a_sample_and_round_trips() {
    let content = Content::from_json(&content_json()).expect("valid");
    assert!(!content.is_sample());
    assert_eq!(content.notice(), None);
    assert_eq!(content.items()[3].options()[2], "item 4 option 2");
    let json = serde_json::to_string(&content).expect("serialises");
    assert_eq!(Content::from_json(&json).expect("reads back"), content);
    assert_eq!(
        serde_json::from_str::<Content>(&json).expect("Deserialize validates too"),
        content
    );
}

/// A valid, non-sample content file in Spanish with placeholder wording.
fn content_json() -> String {
    let items: Vec<String> = (1..=10)
        .map(|i| {
            let options: Vec<String> = (0..4).map(|o| format!("\"item {i} option {o}\"")).collect();
            format!(
                r#"{{"text": "item {i} text", "options": [{}]}}"#,
                options.join(", ")
            )
        })
        .collect();
    format!(
        r#"{{"language": "es", "title": "t", "intro": "i",
            "cutoffs": {{"possible": 10, "probable": 13}},
            "items": [{}]}}"#,
        items.join(",\n")
    )
}

fn content_err(json: &str) -> EpdsError {
    Content::from_json(json).expect_err("should be rejected")
}

#[test]
fn content_validation_names_the_field() {
    let base = content_json();
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace(r#""item 4 option 3""#, "").replace(", ]", "]"),
            "epds content es: items[3].options: expected 4, found 3",
        ),
        (
            base.replace(r#", "item 4 option 3""#, r#", "item 4 option 3", "extra""#),
            "epds content es: items[3].options: expected 4, found 5",
        ),
        (
            base.replace(r#""item 2 text""#, r#""  ""#),
            "epds content es: items[1].text: empty",
        ),
        (
            base.replace(r#""item 7 option 1""#, r#""""#),
            "epds content es: items[6].options[1]: empty",
        ),
        (
            base.replace(r#"{"text": "item 10 text", "options": ["item 10 option 0", "item 10 option 1", "item 10 option 2", "item 10 option 3"]}"#, "")
                .replace(",\n]", "]"),
            "epds content es: items: expected 10, found 9",
        ),
        (
            base.replace(r#""possible": 10"#, r#""possible": 13"#),
            "epds content es: cutoffs: possible (13) must be below probable (13)",
        ),
        (
            base.replace(r#""probable": 13"#, r#""probable": 31"#),
            "epds content es: cutoffs.probable: 31 is outside the possible totals 1–30",
        ),
        (
            base.replace(r#""possible": 10"#, r#""possible": 0"#),
            "epds content es: cutoffs.possible: 0 is outside the possible totals 1–30",
        ),
        (
            base.replace(r#""possible": 10"#, r#""possible": -5"#),
            "epds content es: cutoffs.possible: -5 is outside the possible totals 1–30",
        ),
        (
            base.replace(r#""title": "t","#, ""),
            "epds content es: title: missing",
        ),
        (
            base.replace(r#""language": "es","#, ""),
            "epds content: language: missing",
        ),
        (
            base.replace(r#""language": "es""#, r#""language": "Spanish please""#),
            "epds content: language: \"Spanish please\" is not a language tag such as en or es-MX",
        ),
        (
            base.replace(r#""language": "es","#, r#""language": "es", "sample": true,"#),
            "epds content es: notice: missing; a sample file must say it is not the licensed EPDS wording",
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(content_err(&json).to_string(), expected);
    }

    // Structural problems come from the parser, with a position.
    let misspelt = base.replace("\"cutoffs\"", "\"cutofs\"");
    let err = content_err(&misspelt).to_string();
    assert!(
        err.starts_with("epds content: not valid JSON: unknown field `cutofs`"),
        "{err}"
    );
    let err = content_err("{").to_string();
    assert!(err.starts_with("epds content: not valid JSON:"), "{err}");
}
