//! Matching: hard rules, weights, tie-breaks, time zones, and the JSON a coordinator sends.

use chrono::{DateTime, Utc};
use hearth_care::matching::{match_json, rank, MatchRequest, MatchResult};
use hearth_care::Error;
use serde_json::{json, Value};

/// A Wednesday in January: London on GMT, New York on EST.
fn january() -> DateTime<Utc> {
    "2026-01-14T12:00:00Z".parse().expect("test instant")
}

fn mother() -> Value {
    json!({
        "id": "amina",
        "languages": ["Somali", "English"],
        "background": "Somali",
        "interests": ["cooking", "walking"],
        "experiences": ["loss"],
        "first_time": true,
        "time_zone": "Europe/London",
        "free": [{"day": "wed", "from": "19:00", "to": "21:00"}]
    })
}

fn volunteer(id: &str, languages: &[&str]) -> Value {
    json!({
        "id": id,
        "name": format!("Volunteer {id}"),
        "languages": languages,
        "time_zone": "Europe/London",
        "caseload": 1,
        "cap": 4,
        "on_duty": true
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn run(mother: Value, volunteers: Vec<Value>) -> MatchResult {
    let request: MatchRequest =
        serde_json::from_value(json!({"mother": mother, "volunteers": volunteers}))
            .expect("test request");
    rank(&request, january()).expect("valid request")
}

fn ids(result: &MatchResult) -> Vec<&str> {
    result
        .candidates
        .iter()
        .map(|c| c.volunteer.as_str())
        .collect()
}

fn error(doc: Value) -> String {
    match_json(&doc.to_string(), january())
        .expect_err("should be rejected")
        .to_string()
}

#[test]
fn never_proposes_a_volunteer_at_cap_off_duty_unshared_or_asked_away() {
    let result = run(
        with(mother(), "excluded", json!(["asked-away"])),
        vec![
            volunteer("ok", &["English"]),
            with(volunteer("full", &["Somali"]), "caseload", json!(4)),
            with(volunteer("off", &["Somali"]), "on_duty", json!(false)),
            volunteer("french", &["French"]),
            volunteer("asked-away", &["Somali"]),
            with(
                with(
                    volunteer("everything", &["Arabic"]),
                    "on_duty",
                    json!(false),
                ),
                "caseload",
                json!(5),
            ),
        ],
    );
    assert_eq!(ids(&result), ["ok"]);
    let excluded: Vec<(&str, Vec<&str>)> = result
        .excluded
        .iter()
        .map(|e| {
            (
                e.volunteer.as_str(),
                e.reasons.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        excluded,
        [
            (
                "asked-away",
                vec!["she asked not to be matched with this volunteer again"]
            ),
            (
                "everything",
                vec![
                    "off duty",
                    "at cap: 5 of 4 places taken",
                    "no shared language: she speaks Somali, English; the volunteer speaks Arabic"
                ]
            ),
            (
                "french",
                vec!["no shared language: she speaks Somali, English; the volunteer speaks French"]
            ),
            ("full", vec!["at cap: 4 of 4 places taken"]),
            ("off", vec!["off duty"]),
        ]
    );
}

#[test]
fn lived_experience_she_asked_for_outweighs_language_and_background() {
    let close = with(
        with(
            volunteer("close", &["Somali"]),
            "background",
            json!("somali"),
        ),
        "interests",
        json!(["Cooking", "walking"]),
    );
    let lived = with(
        volunteer("lived", &["English"]),
        "experiences",
        json!(["Loss"]),
    );
    let trained = with(
        volunteer("trained", &["English"]),
        "trained_for",
        json!(["loss"]),
    );
    let result = run(mother(), vec![close, trained, lived]);
    assert_eq!(ids(&result), ["lived", "close", "trained"]);

    let lived = &result.candidates[0];
    assert_eq!(lived.score, 30 + 10);
    assert_eq!(
        lived.reasons,
        [
            "lived experience: loss",
            "speaks English (not her first language)",
            "no overlap with her free times",
            "3 of 4 places free"
        ]
    );
    let close = &result.candidates[1];
    assert_eq!(close.score, 20 + 10 + 2 * 3);
    assert!(close
        .reasons
        .contains(&"speaks Somali (her first language)".to_owned()));
    assert!(close
        .reasons
        .contains(&"same background: Somali".to_owned()));
    assert!(close
        .reasons
        .contains(&"no lived experience or training for: loss".to_owned()));
    assert!(close
        .reasons
        .contains(&"shared interests: cooking, walking".to_owned()));
    assert_eq!(result.candidates[2].score, 15 + 10);
    assert_eq!(
        result.candidates[2].reasons[0],
        "trained for: loss (not lived)"
    );
}

#[test]
fn a_first_time_mother_gets_credit_for_a_volunteer_who_was_one() {
    let was = with(
        volunteer("was", &["English"]),
        "first_time_parent",
        json!(true),
    );
    let result = run(mother(), vec![volunteer("not", &["English"]), was.clone()]);
    assert_eq!(ids(&result), ["was", "not"]);
    assert!(result.candidates[0]
        .reasons
        .contains(&"was a first-time mother too".to_owned()));
    // She did not say it is her first baby: no credit, so the tie goes to the id.
    let result = run(
        with(mother(), "first_time", Value::Null),
        vec![was, volunteer("not", &["English"])],
    );
    assert_eq!(ids(&result), ["not", "was"]);
}

#[test]
fn ties_go_to_the_lighter_caseload_share_then_the_id() {
    let result = run(
        mother(),
        vec![
            with(
                with(volunteer("c", &["English"]), "caseload", json!(2)),
                "cap",
                json!(8),
            ),
            with(
                with(volunteer("b", &["English"]), "caseload", json!(1)),
                "cap",
                json!(2),
            ),
            with(
                with(volunteer("a", &["English"]), "caseload", json!(1)),
                "cap",
                json!(2),
            ),
            with(
                with(volunteer("d", &["English"]), "caseload", json!(0)),
                "cap",
                json!(1),
            ),
        ],
    );
    // Shares in use: d 0, c 1/4, a and b 1/2.
    assert_eq!(ids(&result), ["d", "c", "a", "b"]);
}

#[test]
fn free_times_overlap_across_time_zones_and_read_in_her_time() {
    // 15:00–18:00 in New York is 20:00–23:00 in London in January.
    let new_york = with(
        with(
            volunteer("ny", &["English"]),
            "time_zone",
            json!("America/New_York"),
        ),
        "available",
        json!([{"day": "Wednesday", "from": "15:00", "to": "18:00"}]),
    );
    let result = run(mother(), vec![new_york.clone()]);
    assert!(result.candidates[0].reasons.contains(
        &"1 hour a week overlap with her free times (her time: Wed 20:00–21:00)".to_owned()
    ));
    assert_eq!(result.candidates[0].score, 10 + 2);

    // The week after New York springs forward (London has not yet), they are 4 hours apart.
    let request: MatchRequest =
        serde_json::from_value(json!({"mother": mother(), "volunteers": [new_york]}))
            .expect("test request");
    let march = "2026-03-11T12:00:00Z".parse().expect("test instant");
    let result = rank(&request, march).expect("valid");
    assert!(result.candidates[0].reasons.contains(
        &"2 hours a week overlap with her free times (her time: Wed 19:00–21:00)".to_owned()
    ));
}

#[test]
fn the_same_volunteers_in_any_order_rank_the_same() {
    let volunteers = vec![
        volunteer("v1", &["English"]),
        with(
            volunteer("v2", &["Somali"]),
            "interests",
            json!(["walking"]),
        ),
        volunteer("v3", &["Somali", "English"]),
        with(volunteer("v4", &["English"]), "caseload", json!(0)),
        with(volunteer("v5", &["Arabic"]), "on_duty", json!(false)),
    ];
    let expected = run(mother(), volunteers.clone());
    let mut reversed = volunteers.clone();
    reversed.reverse();
    assert_eq!(run(mother(), reversed), expected);
    let mut rotated = volunteers;
    rotated.rotate_left(2);
    assert_eq!(run(mother(), rotated), expected);
    assert_eq!(ids(&expected), ["v2", "v3", "v4", "v1"]);
}

#[test]
fn json_in_and_out_has_the_cli_shape() {
    let input = json!({
        "mother": mother(),
        "volunteers": [volunteer("jo", &["Somali"]), with(volunteer("ruth", &["English"]), "on_duty", json!(false))]
    });
    let output: Value =
        serde_json::from_str(&match_json(&input.to_string(), january()).expect("valid"))
            .expect("output is JSON");
    assert_eq!(
        output,
        json!({
            "candidates": [{
                "volunteer": "jo",
                "name": "Volunteer jo",
                "score": 20,
                "reasons": [
                    "no lived experience or training for: loss",
                    "speaks Somali (her first language)",
                    "no overlap with her free times",
                    "3 of 4 places free"
                ]
            }],
            "excluded": [{"volunteer": "ruth", "name": "Volunteer ruth", "reasons": ["off duty"]}]
        })
    );
}

#[test]
fn bad_input_names_the_field() {
    let doc = |m: Value, vs: Vec<Value>| json!({"mother": m, "volunteers": vs});
    let ok = volunteer("jo", &["Somali"]);

    let zero_cap = with(ok.clone(), "cap", json!(0));
    assert_eq!(
        error(doc(mother(), vec![ok.clone(), zero_cap])),
        "volunteers[1].cap: must be at least 1"
    );
    assert_eq!(
        error(doc(with(mother(), "languages", json!([])), vec![])),
        "mother.languages: empty; list at least one"
    );
    assert_eq!(
        error(doc(with(mother(), "time_zone", json!("Europe/Lodnon")), vec![])),
        "mother.time_zone: unknown time zone \"Europe/Lodnon\" (expected an IANA name such as \"Europe/London\")"
    );
    let mut typo = mother();
    typo["langauges"] = json!(["Somali"]);
    assert!(error(doc(typo, vec![])).starts_with("mother.langauges: unknown field `langauges`"));
    assert_eq!(
        error(doc(
            mother(),
            vec![ok.clone(), with(ok.clone(), "cap", json!("four"))]
        )),
        "volunteers[1].cap: invalid type: string \"four\", expected u32"
    );
    let mut no_cap = ok.clone();
    no_cap.as_object_mut().expect("object").remove("cap");
    assert_eq!(
        error(doc(mother(), vec![ok.clone(), no_cap])),
        "volunteers[1].cap: missing"
    );
    assert_eq!(
        error(doc(
            with(mother(), "free", json!([{"day": "wed", "from": "19:00", "to": "21:00"}, {"day": "Wedn", "from": "19:00", "to": "21:00"}])),
            vec![]
        )),
        "mother.free[1].day: \"Wedn\" is not a day of the week (expected mon, tue, wed, thu, fri, sat or sun)"
    );
    assert_eq!(
        error(doc(
            with(mother(), "free", json!([{"day": "wed", "from": "19:00", "to": "19:00"}])),
            vec![]
        )),
        "mother.free[0].to: same as from; a window needs a length (use 00:00–23:59 for a whole day)"
    );
    assert_eq!(
        error(doc(
            mother(),
            vec![ok.clone(), volunteer("jo", &["English"])]
        )),
        "volunteers[1].id: \"jo\" repeats volunteers[0]"
    );
    assert!(matches!(
        match_json("{\"mother\": ", january()),
        Err(Error::Json { .. })
    ));
}
