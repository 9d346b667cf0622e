//! The `hearth` command line syncing through a real relay on loopback, as two people would use
//! it: a moderator invites, a mother joins, both write, both read; removal, phone-to-phone
//! bundles, and the errors a person meets when there is no relay or it is down.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::Home;
use serde_json::Value;

const GROUP: &str = "Due in March";

fn relay() -> (tempfile::TempDir, hearth_relay::RelayHandle) {
    let dir = tempfile::tempdir().unwrap();
    let handle = hearth_relay::spawn_for_tests(&dir.path().join("relay.db"));
    (dir, handle)
}

/// `hearth ARGS…` in `home`, with `HEARTH_RELAY` only if `envs` sets it, feeding `stdin`.
fn run(home: &Home, args: &[&str], envs: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = home.command(args);
    cmd.env_remove("HEARTH_RELAY");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hearth");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and expects success; returns (stdout, stderr).
fn ok_env(home: &Home, args: &[&str], envs: &[(&str, &str)]) -> (String, String) {
    let out = run(home, args, envs, b"");
    assert!(
        out.status.success(),
        "hearth {args:?} failed ({}): {}",
        out.status,
        stderr(&out)
    );
    let err = stderr(&out);
    (String::from_utf8(out.stdout).unwrap(), err)
}

fn ok(home: &Home, args: &[&str]) -> String {
    ok_env(home, args, &[]).0
}

fn json(home: &Home, args: &[&str]) -> Value {
    let out = ok(home, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("hearth {args:?}: {e}: {out}"))
}

/// Runs expecting exit `code` and nothing on standard output; returns standard error.
fn fails_env(home: &Home, args: &[&str], envs: &[(&str, &str)], code: i32) -> String {
    let out = run(home, args, envs, b"");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "hearth {args:?}: {err}");
    assert!(
        out.stdout.is_empty(),
        "hearth {args:?} failed but printed a result: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.starts_with("hearth: "), "{err}");
    err
}

fn fails(home: &Home, args: &[&str], code: i32) -> String {
    fails_env(home, args, &[], code)
}

fn read(home: &Home, group: &str) -> Vec<Value> {
    match json(home, &["read", group, "--json", "--limit", "1000"]) {
        Value::Array(items) => items,
        other => panic!("read --json printed {other}"),
    }
}

/// The state `read --json` shows for the message with this text.
fn state_of(home: &Home, text: &str) -> String {
    read(home, GROUP)
        .iter()
        .find(|m| m["text"] == text)
        .unwrap_or_else(|| panic!("no message {text:?}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn init(name: &str, role: &str, url: &str) -> Home {
    let home = Home::with_key();
    let p = json(
        &home,
        &[
            "init", "--name", name, "--role", role, "--relay", url, "--json",
        ],
    );
    assert_eq!(p["relay"], url);
    home
}

fn invite_code(home: &Home) -> String {
    let invite = json(home, &["invite", GROUP, "--json"]);
    invite["code"].as_str().unwrap().to_string()
}

/// A moderator with a group and a mother admitted to it, each having synced since, so both
/// know the other's pseudonym.
fn moderator_and_mother(url: &str) -> (Home, Home) {
    let ada = init("Midwife Ada", "moderator", url);
    ok(&ada, &["group", "create", "--name", GROUP]);
    let code = invite_code(&ada);
    let bea = init("Bea", "mother", url);
    ok(&bea, &["join", &code]);
    for home in [&ada, &bea, &ada] {
        ok(home, &["sync"]);
    }
    (ada, bea)
}

#[test]
fn invite_join_and_chat_both_ways_through_the_relay() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let ada = init("Midwife Ada", "moderator", &url);
    ok(&ada, &["group", "create", "--name", GROUP]);

    let before = chrono_now_ms();
    let invite = json(
        &ada,
        &[
            "invite",
            GROUP,
            "--role",
            "mother",
            "--valid-for",
            "2d",
            "--json",
        ],
    );
    assert_eq!(invite["role"], "mother");
    assert_eq!(invite["synced"], true, "the invite went out at once");
    let expires = rfc3339_ms(invite["expires_at"].as_str().unwrap());
    let two_days = 2 * 24 * 3600 * 1000;
    assert!(
        (before + two_days - 60_000..=chrono_now_ms() + two_days).contains(&expires),
        "{invite}"
    );
    let code = invite["code"].as_str().unwrap();

    let bea = init("Bea", "mother", &url);
    let joined = json(&bea, &["join", code, "--json"]);
    assert_eq!(joined["group"]["name"], GROUP);
    assert_eq!(
        joined["standing"], "waiting",
        "no moderator has synced since"
    );
    assert_eq!(
        json(&bea, &["members", GROUP, "--json"])["standing"],
        "waiting"
    );
    let err = fails(&bea, &["send", GROUP, "hello?"], 2);
    assert!(err.contains("not a member of this group"), "{err}");

    // The moderator's sync admits her; the report says what travelled.
    let report = json(&ada, &["sync", "--json"]);
    for field in [
        "bytes_sent",
        "bytes_received",
        "round_trips",
        "failed_attempts",
        "envelopes_sent",
        "envelopes_received",
        "messages_updated",
        "pending",
        "complete",
        "notes",
    ] {
        assert!(
            report.get(field).is_some(),
            "sync --json lacks {field}: {report}"
        );
    }
    assert!(report["bytes_sent"].as_u64().unwrap() > 0, "{report}");
    assert!(report["bytes_received"].as_u64().unwrap() > 0, "{report}");
    assert!(report["round_trips"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["failed_attempts"], 0, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["pending"], 0, "{report}");
    assert_eq!(report["relay"], url.as_str());

    let out = ok(&bea, &["sync"]);
    assert!(
        out.contains(&format!("you were admitted to {GROUP:?}")),
        "{out}"
    );
    assert_eq!(
        json(&bea, &["members", GROUP, "--json"])["standing"],
        "member"
    );

    ok(&ada, &["send", GROUP, "Welcome, Bea"]);
    ok(&bea, &["send", GROUP, "Thank you! Due on the 14th"]);
    assert_eq!(state_of(&ada, "Welcome, Bea"), "pending");
    assert_eq!(state_of(&bea, "Thank you! Due on the 14th"), "pending");
    for home in [&bea, &ada, &bea] {
        let r = json(home, &["sync", "--json"]);
        assert_eq!(r["pending"], 0, "{r}");
    }
    assert_eq!(state_of(&ada, "Welcome, Bea"), "sent");
    assert_eq!(state_of(&bea, "Thank you! Due on the 14th"), "sent");

    for home in [&ada, &bea] {
        let seen: Vec<(String, String)> = read(home, GROUP)
            .iter()
            .map(|m| {
                (
                    m["author"].as_str().unwrap().to_string(),
                    m["text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for want in [
            ("Midwife Ada", "Welcome, Bea"),
            ("Bea", "Thank you! Due on the 14th"),
        ] {
            assert!(
                seen.iter().any(|(a, t)| (a.as_str(), t.as_str()) == want),
                "{want:?} missing from {seen:?}"
            );
        }
    }

    let members = json(&ada, &["members", GROUP, "--json"]);
    assert_eq!(members["standing"], "member");
    assert_eq!(members["waiting"], serde_json::json!([]));
    let list: Vec<(&str, &str, bool)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["id"].as_str().unwrap().len(), 64, "{m}");
            (
                m["name"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
                m["you"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        list,
        [("Midwife Ada", "moderator", true), ("Bea", "mother", false)]
    );
    let bea_view = json(&bea, &["members", GROUP, "--json"]);
    assert_eq!(bea_view["members"][1]["you"], true, "{bea_view}");
}

#[test]
fn a_moderator_removes_a_member_by_pseudonym() {
    let (_dir, relay) = relay();
    let (ada, bea) = moderator_and_mother(&relay.url());
    let err = fails(&ada, &["remove", GROUP, "Cleo"], 2);
    assert!(
        err.contains("no member of this group is called \"Cleo\""),
        "{err}"
    );
    let err = fails(&bea, &["remove", GROUP, "Midwife Ada"], 2);
    assert!(err.contains("moderators"), "{err}");

    let removed = json(&ada, &["remove", GROUP, "bea", "--json"]);
    assert_eq!(removed["name"], "Bea");
    assert_eq!(removed["removed"], true, "{removed}");
    let members = json(&ada, &["members", GROUP, "--json"]);
    assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");

    // Whatever her device still lets her write no longer reaches the group, and her sync
    // tells her. (The relay refuses her the group outright rather than handing her device the
    // log with her removal in it, so her device cannot yet show "removed": see the report.)
    let _ = run(&bea, &["send", GROUP, "still here?"], &[], b"");
    let out = ok(&bea, &["sync"]);
    assert!(
        out.contains("a moderator removed you") || out.contains("not a member of this group"),
        "{out}"
    );
    ok(&ada, &["sync"]);
    assert!(!read(&ada, GROUP).iter().any(|m| m["text"] == "still here?"));
}

#[test]
fn bundles_carry_messages_from_phone_to_phone() {
    let (_dir, relay) = relay();
    let (ada, bea) = moderator_and_mother(&relay.url());
    ok(
        &bea,
        &["send", GROUP, "No signal here, sending through Ada"],
    );
    let file = bea.path().join("to-ada.bundle");
    let out = ok(
        &bea,
        &["bundle", "export", GROUP, "--out", file.to_str().unwrap()],
    );
    assert!(out.contains("wrote"), "{out}");

    let report = json(
        &ada,
        &["bundle", "import", file.to_str().unwrap(), "--json"],
    );
    assert!(
        report["envelopes_accepted"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["messages_updated"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(read(&ada, GROUP)
        .iter()
        .any(|m| m["text"] == "No signal here, sending through Ada" && m["author"] == "Bea"));

    // The same bundle again, through standard output and input: nothing new, nothing broken.
    let exported = run(&bea, &["bundle", "export", GROUP, "--out", "-"], &[], b"");
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(!exported.stdout.is_empty());
    let again = run(
        &ada,
        &["bundle", "import", "-", "--json"],
        &[],
        &exported.stdout,
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["messages_updated"], 0, "{again}");

    let garbage = ada.path().join("garbage.bundle");
    std::fs::write(&garbage, b"not a bundle").unwrap();
    let err = fails(&ada, &["bundle", "import", garbage.to_str().unwrap()], 2);
    assert!(err.contains("bundle"), "{err}");
    let err = fails(&ada, &["bundle", "import", "/nonexistent/x.bundle"], 2);
    assert!(err.contains("cannot read"), "{err}");

    // Ada's device passes it on; Bea's own upload is then acknowledged as a duplicate.
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    assert_eq!(
        state_of(&bea, "No signal here, sending through Ada"),
        "sent"
    );
}

#[test]
fn without_a_relay_or_with_it_down_errors_say_what_to_do_and_nothing_is_lost() {
    // No relay configured.
    let solo = Home::with_key();
    ok(&solo, &["init", "--name", "Cleo", "--role", "moderator"]);
    ok(&solo, &["group", "create", "--name", GROUP]);
    for args in [vec!["sync"], vec!["join", "anything"]] {
        let err = fails(&solo, &args, 2);
        assert!(
            err.contains("no relay configured") && err.contains("hearth relay URL"),
            "{args:?}: {err}"
        );
    }
    // An invite without a relay is still made, and says when it will go out.
    let (out, err) = ok_env(&solo, &["invite", GROUP], &[]);
    assert!(!out.lines().next().unwrap_or("").is_empty(), "{out}");
    assert!(err.contains("no relay configured"), "{err}");
    assert!(ok(&solo, &["relay"]).contains("no relay configured"));

    // A bad relay address is refused before anything is written.
    let fresh = Home::with_key();
    let err = fails(
        &fresh,
        &[
            "init",
            "--name",
            "Dee",
            "--role",
            "mother",
            "--relay",
            "relay.example:7878",
        ],
        2,
    );
    assert!(err.contains("--relay") && err.contains("http://"), "{err}");
    assert!(
        common::files(fresh.path()).is_empty(),
        "refused init wrote files"
    );
    let err = fails(&solo, &["relay", "ftp://relay.example"], 2);
    assert!(err.contains("http://"), "{err}");
    let err = fails_env(&solo, &["sync"], &[("HEARTH_RELAY", "not a url")], 2);
    assert!(err.contains("HEARTH_RELAY"), "{err}");

    // The relay goes down: sync fails clearly, the message stays pending, an invite is kept.
    let (_dead_dir, dead) = relay();
    let dead_url = dead.url();
    dead.shutdown().unwrap();
    let ada = init("Midwife Ada", "moderator", &dead_url);
    ok(&ada, &["group", "create", "--name", GROUP]);
    ok(&ada, &["send", GROUP, "Anyone awake?"]);
    let err = fails(&ada, &["sync"], 1);
    assert!(
        err.contains(&dead_url) && err.contains("could not be reached"),
        "{err}"
    );
    assert!(err.contains("nothing was lost"), "{err}");
    assert_eq!(state_of(&ada, "Anyone awake?"), "pending");
    let (out, err) = ok_env(&ada, &["invite", GROUP, "--json"], &[]);
    let invite: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(invite["synced"], false);
    assert!(
        err.contains("could not be reached") && err.contains("next `hearth sync`"),
        "{err}"
    );
    let code = invite["code"].as_str().unwrap();

    // Another relay: HEARTH_RELAY for one run, then stored with `hearth relay URL`.
    let (_dir, live) = relay();
    let url = live.url();
    let (out, _) = ok_env(&ada, &["sync", "--json"], &[("HEARTH_RELAY", &url)]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["relay"], url.as_str());
    assert_eq!(state_of(&ada, "Anyone awake?"), "sent");
    assert_eq!(
        json(&ada, &["relay", "--json"])["relay"],
        dead_url.as_str(),
        "HEARTH_RELAY is not stored"
    );
    ok(&ada, &["relay", &url]);
    assert_eq!(ok(&ada, &["relay"]).trim(), url);

    // Joining: a code that is not one, then the invite made while the relay was down (it
    // went out with that sync), then the same code a second time.
    let bea = init("Bea", "mother", &url);
    let err = fails(&bea, &["join", "not-a-code"], 2);
    assert!(err.contains("invite code"), "{err}");
    ok(&bea, &["join", code]);
    let cleo = init("Cleo", "mother", &url);
    let err = fails(&cleo, &["join", code], 2);
    assert!(
        err.contains("refused to let you join") && err.contains("new invite code"),
        "{err}"
    );
    assert_eq!(ok(&cleo, &["groups", "--json"]).trim(), "[]");

    // A member that is not there, and invite durations that make no sense.
    let err = fails(&ada, &["remove", GROUP, "Nobody"], 2);
    assert!(err.contains("Nobody"), "{err}");
    for (valid_for, expected) in [
        ("7x", "like 30m, 12h or 7d"),
        ("91d", "90 days"),
        ("0h", "90 days"),
    ] {
        let err = fails(&ada, &["invite", GROUP, "--valid-for", valid_for], 2);
        assert!(
            err.contains("--valid-for") && err.contains(expected),
            "{valid_for}: {err}"
        );
    }
    let err = fails(&ada, &["invite", GROUP, "--role", "midwife"], 2);
    assert!(err.contains("--role"), "{err}");
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Milliseconds since the epoch from the RFC 3339 UTC form the CLI prints
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`), without a date library in this crate.
fn rfc3339_ms(s: &str) -> i64 {
    let n = |range: std::ops::Range<usize>| s[range].parse::<i64>().unwrap();
    assert!(s.len() == 24 && s.ends_with('Z'), "{s}");
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + n(11..13)) * 60 + n(14..16)) * 60_000 + n(17..19) * 1000 + n(20..23)
}

#[test]
fn moderation_from_the_command_line() {
    let (_dir, relay) = relay();
    let (ada, bea) = moderator_and_mother(&relay.url());

    // Rules first: Bea cannot post until she accepts them.
    ok(&ada, &["rules", GROUP, "--set", "Be kind; share sources."]);
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    let rules = json(&bea, &["rules", GROUP, "--json"]);
    assert_eq!(rules["must_accept"], true, "{rules}");
    let err = fails(&bea, &["send", GROUP, "hello"], 2);
    assert!(err.contains("accept the group's rules"), "{err}");
    ok(&bea, &["rules", GROUP, "--accept"]);
    let ids = json(
        &bea,
        &["send", GROUP, "Eat liver, it's full of iron", "--json"],
    );
    let claim = ids[0].as_str().unwrap().to_string();
    json(&bea, &["send", GROUP, "Anyone tried yoga?", "--json"]);
    ok(&bea, &["sync"]);
    ok(&ada, &["sync"]);

    // Bad input names the problem and changes nothing.
    let err = fails(&ada, &["hide", GROUP, "not-an-id", "--reason", "x"], 2);
    assert!(err.contains("MESSAGE_ID"), "{err}");
    let err = fails(&ada, &["hide", GROUP, &"ab".repeat(16), "--reason", "x"], 2);
    assert!(err.contains("no message"), "{err}");
    let err = fails(&ada, &["mute", GROUP, "Bea", "--for", "forever"], 2);
    assert!(err.contains("--for"), "{err}");
    let err = fails(&bea, &["hide", GROUP, &claim, "--reason", "x"], 2);
    assert!(err.contains("moderators"), "{err}");

    let hidden = json(
        &ada,
        &[
            "hide",
            GROUP,
            &claim,
            "--reason",
            "liver is not advised in pregnancy",
            "--json",
        ],
    );
    assert_eq!(hidden["action"], "hide");
    let yoga = read(&ada, GROUP)
        .iter()
        .find(|m| m["text"] == "Anyone tried yoga?")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &ada,
        &[
            "correct",
            GROUP,
            &yoga,
            "Pregnancy yoga classes are safe; tell the teacher your weeks.",
        ],
    );
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);

    let items = read(&bea, GROUP);
    let by_id = |id: &str| items.iter().find(|m| m["id"] == id).unwrap().clone();
    let mine = by_id(&claim);
    assert_eq!(mine["hidden"], true);
    assert_eq!(
        mine["moderation_note"],
        "removed by a moderator: liver is not advised in pregnancy"
    );
    let corrected = by_id(&yoga);
    assert_eq!(corrected["hidden"], false);
    assert!(corrected["correction"]
        .as_str()
        .unwrap()
        .contains("tell the teacher"));
    assert_eq!(corrected["correction_by"], "Midwife Ada");

    let audit = json(&ada, &["audit", GROUP, "--json"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["rules", "hide", "correct"]);
    let err = fails(&bea, &["audit", GROUP], 2);
    assert!(err.contains("moderators"), "{err}");
    let activity = json(&ada, &["activity", GROUP, "--json"]);
    let bea_row = activity
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["member"] == "Bea")
        .unwrap()
        .clone();
    assert_eq!(bea_row["posts_7d"], 2, "{activity}");
    let view = json(&bea, &["moderation", GROUP, "--json"]);
    assert_eq!(view["nobody_on_duty"], true, "{view}");

    // A report from the command line reaches the moderator's queue; its state reaches Bea.
    let err = fails(&bea, &["report", GROUP, &yoga, "--reason", "rude"], 2);
    assert!(
        err.contains("--reason") && err.contains("misinformation"),
        "{err}"
    );
    let r = json(
        &bea,
        &[
            "report",
            GROUP,
            &yoga,
            "--reason",
            "distress",
            "--note",
            "she sounds low",
            "--json",
        ],
    );
    assert_eq!(r["state"], "open");
    ok(&bea, &["sync"]);
    ok(&ada, &["sync"]);
    let queue = json(&ada, &["queue", "--json"]);
    let item = &queue.as_array().unwrap()[0];
    for field in ["id", "group", "message_id", "reason", "state"] {
        assert!(
            item.get(field).is_some(),
            "queue --json lacks {field}: {queue}"
        );
    }
    assert_eq!(
        (item["message_id"].as_str(), item["reason"].as_str()),
        (Some(yoga.as_str()), Some("distress"))
    );
    let id = item["id"].as_str().unwrap().to_string();
    ok(&ada, &["resolve", &id[..8], "spoke with her privately"]);
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    let mine = json(&bea, &["reports", GROUP, "--json"]);
    assert_eq!(mine[0]["state"], "resolved", "{mine}");
    assert!(json(&bea, &["queue", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn epds_scores_from_the_command_line_without_a_profile() {
    let home = Home::with_key();
    // Items 1, 2 and 4 score from the top option down; the others are reverse-scored.
    let s = json(&home, &["epds", "score", "3,3,0,3,0,0,0,0,0,3"]);
    assert_eq!(s["total"], 3 * 3 + 3 * 6); // item 10 at its bottom option scores 0
    assert_eq!(s["item10_positive"], false);
    let s = json(&home, &["epds", "score", "0,0,3,0,3,3,3,3,3,2"]);
    assert_eq!(
        (s["total"].as_u64(), s["item10_positive"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(s["flags"], serde_json::json!(["self_harm"]));
    let err = fails(&home, &["epds", "score", "0,1,2"], 2);
    assert!(err.contains("answers"), "{err}");
    let err = fails(&home, &["epds", "score", "0,1,2,3,4,0,0,0,0,0"], 2);
    assert!(err.contains("item 5"), "{err}");
}

#[test]
fn safety_scan_reads_one_message_per_line_without_a_profile() {
    let home = Home::with_key();
    let out = run(
        &home,
        &["safety", "scan"],
        &[],
        "I want to die\nthis heartburn is killing me\nno quiero seguir viviendo\n".as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["level"], "urgent");
    assert_eq!(lines[0]["categories"], serde_json::json!(["self_harm"]));
    assert_eq!(lines[1]["level"], "none", "hyperbole");
    assert_eq!(lines[2]["level"], "urgent", "Spanish");
    let out = run(&home, &["safety", "scan"], &[], b"\xff\xfe\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));
}

#[test]
fn drafts_filters_and_flagged_messages_from_the_command_line() {
    let (_dir, relay) = relay();
    let (ada, bea) = moderator_and_mother(&relay.url());

    // A worrying draft: the supportive word and the card; nothing is sent.
    let check = json(
        &bea,
        &[
            "check-draft",
            GROUP,
            "I can't feel the baby moving since last night, 34 weeks",
            "--json",
        ],
    );
    assert_eq!(check["level"], "urgent", "{check}");
    assert_eq!(check["help"]["situation"], "red_flag", "{check}");
    assert_eq!(check["can_alert"], true);
    let text = ok(&bea, &["check-draft", GROUP, "Which pram did you all get?"]);
    assert!(text.contains("nothing worrying"), "{text}");
    assert!(read(&bea, GROUP).is_empty(), "checking sends nothing");

    // Filters: bad input names the problem; a chosen filter shows in read --json.
    let err = fails(&bea, &["filters", "--set", "loss"], 2);
    assert!(err.contains("TOPIC=MODE"), "{err}");
    let err = fails(&bea, &["filters", "--set", "loss=maybe"], 2);
    assert!(err.contains("show, blur or hide"), "{err}");
    let filters = json(&bea, &["filters", "--set", "loss=hide", "--json"]);
    assert_eq!(filters["topics"]["loss"], "hide", "{filters}");

    ok(
        &ada,
        &[
            "send",
            GROUP,
            "Thinking of everyone who has had a miscarriage this week",
        ],
    );
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    let items = read(&bea, GROUP);
    assert_eq!(items[0]["filter"]["mode"], "hide", "{items:?}");
    assert_eq!(items[0]["filter"]["reasons"], serde_json::json!(["loss"]));
    let plain = ok(&bea, &["read", GROUP]);
    assert!(plain.contains("hidden by your filters: loss"), "{plain}");

    // Bea's message the detector flags reaches Ada's queue as "detected".
    ok(
        &bea,
        &[
            "send",
            GROUP,
            "I don't want to be here anymore, everyone would be better off",
        ],
    );
    ok(&bea, &["sync"]);
    ok(&ada, &["sync"]);
    let queue = json(&ada, &["queue", "--json"]);
    let item = &queue.as_array().unwrap()[0];
    assert_eq!(item["kind"], "detected", "{queue}");
    assert_eq!(item["state"], "open");
    ok(
        &ada,
        &["resolve", item["id"].as_str().unwrap(), "spoke with her"],
    );
    let queue = json(&ada, &["queue", "--json"]);
    assert_eq!(queue, serde_json::json!([]));
}

#[test]
fn export_from_the_command_line() {
    let (_dir, relay) = relay();
    let (ada, bea) = moderator_and_mother(&relay.url());
    ok(&bea, &["send", GROUP, "My own words"]);
    ok(&ada, &["send", GROUP, "Ada's words"]);
    ok(&bea, &["sync"]);
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    let text = ok(&bea, &["export", GROUP]);
    assert!(
        text.contains("My own words") && !text.contains("Ada's words"),
        "{text}"
    );
    let err = fails(&bea, &["export", GROUP, "--format", "pdf"], 2);
    assert!(err.contains("text or automerge"), "{err}");
    let file = bea.dir.path().join("group.automerge");
    ok(
        &bea,
        &[
            "export",
            GROUP,
            "--format",
            "automerge",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 100, "an Automerge document");
    let err = fails(&bea, &["export", "No such group"], 2);
    assert!(err.contains("No such group"), "{err}");
}

#[test]
fn planners_read_json_and_name_the_bad_field() {
    let home = Home::with_key();
    let request = br#"{"mother":{"id":"amina","languages":["Somali","English"],"experiences":["loss"],
        "time_zone":"Europe/London","free":[{"day":"wed","from":"19:00","to":"21:00"}]},
      "volunteers":[
        {"id":"jo","name":"Jo","languages":["Somali"],"experiences":["loss"],"time_zone":"Europe/London",
         "available":[{"day":"wed","from":"18:00","to":"22:00"}],"caseload":1,"cap":4,"on_duty":true},
        {"id":"kim","name":"Kim","languages":["English"],"time_zone":"Europe/London","caseload":4,"cap":4,"on_duty":true},
        {"id":"ruth","name":"Ruth","languages":["Somali"],"time_zone":"Europe/London","caseload":0,"cap":3,"on_duty":false}]}"#;
    let out = run(&home, &["match", "--json"], &[], request);
    assert!(out.status.success(), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = result["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{result}");
    assert_eq!(candidates[0]["volunteer"], "jo");
    assert!(!candidates[0]["reasons"].as_array().unwrap().is_empty());
    let excluded: Vec<&str> = result["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["volunteer"].as_str().unwrap())
        .collect();
    assert_eq!(excluded.len(), 2, "{result}");
    assert!(excluded.contains(&"kim") && excluded.contains(&"ruth"));

    let bad = br#"{"mother":{"id":"a","languages":["Somali"],"time_zone":"Europe/London"},
      "volunteers":[{"id":"jo","name":"Jo","languages":["Somali"],"time_zone":"Europe/London","caseload":0,"cap":0,"on_duty":true}]}"#;
    let out = run(&home, &["match", "--json"], &[], bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("volunteers[0].cap"),
        "{}",
        stderr(&out)
    );

    let waiting = br#"{"mothers":[
        {"id":"m1","due_date":"2026-05-01","languages":["Somali"]},
        {"id":"m2","due_date":"2026-05-03","languages":["Somali"]},
        {"id":"m3","due_date":"2026-05-09","languages":["Somali","English"]},
        {"id":"m4","due_date":"2026-07-01","languages":["Somali"]}],
      "target_size":3,"capacity":4,"window_days":14,"min_size":2}"#;
    let out = run(&home, &["cohorts", "plan", "--json"], &[], waiting);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        plan["groups"][0]["members"],
        serde_json::json!(["m1", "m2", "m3"])
    );
    assert_eq!(plan["unplaced"][0]["mother"], "m4");
    let out = run(
        &home,
        &["cohorts", "plan", "--json"],
        &[],
        br#"{"mothers":[{"id":"m1","due_date":"2026-02-30","languages":["Somali"]}]}"#,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("mothers[0].due_date"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_ins_from_the_command_line() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let jo = init("Jo", "volunteer", &url);
    let bea = init("Bea", "mother", &url);
    let convo = "Jo and Bea";
    ok(&jo, &["group", "conversation", "--name", convo]);
    let invite = json(&jo, &["invite", convo, "--json"]);
    ok(&bea, &["join", invite["code"].as_str().unwrap()]);
    for home in [&jo, &bea, &jo, &bea] {
        ok(home, &["sync"]);
    }

    // Bad input names the flag or field; nothing is planned.
    let err = fails(
        &jo,
        &[
            "checkin",
            "plan",
            convo,
            "--day",
            "tuesday",
            "--at",
            "25:00",
            "--tz",
            "Europe/London",
        ],
        2,
    );
    assert!(err.contains("at"), "{err}");
    let err = fails(
        &jo,
        &[
            "checkin",
            "plan",
            convo,
            "--day",
            "tuesday",
            "--at",
            "19:00",
            "--tz",
            "Nowhere/Town",
        ],
        2,
    );
    assert!(err.contains("time_zone"), "{err}");
    let err = fails(&jo, &["volunteer", "--cap", "0"], 2);
    assert!(err.contains("cap"), "{err}");

    let plan = json(
        &jo,
        &[
            "checkin",
            "plan",
            convo,
            "--day",
            "tuesday",
            "--at",
            "19:00",
            "--tz",
            "Europe/London",
            "--json",
        ],
    );
    assert!(plan["plan"].as_str().unwrap().contains("19:00"), "{plan}");
    let v = json(&jo, &["checkins", "--json"]);
    assert_eq!(
        (v["caseload"].as_u64(), v["on_duty"].as_bool()),
        (Some(1), Some(true))
    );
    ok(&jo, &["sync"]);
    ok(&bea, &["sync"]);
    let mine = json(&bea, &["checkin", "mine", "--json"]);
    assert_eq!(mine[0]["volunteer"], "Jo", "{mine}");
    let skipped = json(&bea, &["checkin", "skip", convo, "--json"]);
    assert_eq!(skipped["date"], mine[0]["next_date"], "{skipped}");

    let err = fails(&jo, &["checkin", "record", convo, "--outcome", "fine"], 2);
    assert!(err.contains("--outcome"), "{err}");
    let err = fails(&jo, &["supervision", "send", "A heavy week"], 2);
    assert!(err.contains("debrief"), "{err}");
    let off = json(&jo, &["volunteer", "--off", "--json"]);
    assert_eq!(off["on_duty"], false);
    assert_eq!(
        json(&jo, &["checkins", "--json"])["due"],
        serde_json::json!([])
    );
}

#[test]
fn stages_and_quiet_offers_from_the_command_line() {
    let (_dir, relay) = relay();
    let (ada, bea) = moderator_and_mother(&relay.url());
    let err = fails(&ada, &["stage", GROUP, "newborn"], 2);
    assert!(err.contains("antenatal or postnatal"), "{err}");
    let err = fails(&bea, &["stage", GROUP, "postnatal"], 2);
    assert!(err.contains("moderator"), "{err}");
    ok(
        &ada,
        &["stage", GROUP, "postnatal", "--rename", "March babies"],
    );
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    let groups = json(&bea, &["groups", "--json"]);
    assert_eq!(groups[0]["name"], "March babies", "{groups}");

    let err = fails(
        &ada,
        &[
            "offer",
            "send",
            "March babies",
            "Bea",
            "--kind",
            "hug",
            "--text",
            "x",
        ],
        2,
    );
    assert!(err.contains("--kind"), "{err}");
    let sent = json(
        &ada,
        &[
            "offer",
            "send",
            "March babies",
            "Bea",
            "--kind",
            "loss-support",
            "--text",
            "There is a loss-support group if you would like it",
            "--json",
        ],
    );
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    let offers = json(&bea, &["offer", "list", "March babies", "--json"]);
    assert_eq!(offers[0]["kind"], "loss_support", "{offers}");
    ok(
        &bea,
        &[
            "offer",
            "answer",
            "March babies",
            sent["id"].as_str().unwrap(),
            "--decline",
        ],
    );
    ok(&bea, &["checkin", "change-volunteer", "March babies"]);
    ok(&bea, &["sync"]);
    ok(&ada, &["sync"]);
    assert_eq!(
        json(&ada, &["offer", "list", "March babies", "--json"])[0]["accepted"],
        false
    );
    let queue = json(&ada, &["queue", "--json"]);
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["kind"] == "volunteer_change"),
        "{queue}"
    );
}

#[test]
fn a_coordinator_confirms_a_cohort_plan_before_invites_go_out() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let ada = init("Midwife Ada", "moderator", &url);
    let waiting = br#"{"mothers":[
        {"id":"m1","due_date":"2027-03-01","languages":["Somali"]},
        {"id":"m2","due_date":"2027-03-03","languages":["Somali"]},
        {"id":"m3","due_date":"2027-03-09","languages":["English"]},
        {"id":"m4","due_date":"2027-03-10","languages":["English"]}],
      "target_size":2,"capacity":4,"window_days":14,"min_size":2}"#;
    let out = run(&ada, &["cohorts", "plan", "--json"], &[], waiting);
    assert!(out.status.success(), "{}", stderr(&out));
    // Planning created nothing.
    assert_eq!(json(&ada, &["groups", "--json"]), serde_json::json!([]));

    // A plan that puts a mother in two groups creates nothing.
    let mut plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let good = plan.clone();
    plan["groups"][1]["members"][0] = plan["groups"][0]["members"][0].clone();
    let bad = run(
        &ada,
        &["cohorts", "confirm"],
        &[],
        plan.to_string().as_bytes(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("in two groups"), "{}", stderr(&bad));
    assert_eq!(json(&ada, &["groups", "--json"]), serde_json::json!([]));

    let done = run(
        &ada,
        &["cohorts", "confirm", "--json"],
        &[],
        good.to_string().as_bytes(),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    let confirmed: Value = serde_json::from_slice(&done.stdout).unwrap();
    let groups = confirmed.as_array().unwrap();
    assert_eq!(groups.len(), 2, "{confirmed}");
    assert_eq!(groups[0]["name"], "Due Mar 2027 (Somali)");
    let invited: Vec<&str> = groups
        .iter()
        .flat_map(|g| g["invites"].as_array().unwrap())
        .map(|i| i["mother"].as_str().unwrap())
        .collect();
    assert_eq!(invited, ["m1", "m2", "m3", "m4"]);

    // A mother joins with her code after the coordinator syncs.
    ok(&ada, &["sync"]);
    let m1 = init("Hodan", "mother", &url);
    ok(
        &m1,
        &["join", groups[0]["invites"][0]["code"].as_str().unwrap()],
    );
    ok(&ada, &["sync"]);
    ok(&m1, &["sync"]);
    assert_eq!(
        json(&m1, &["groups", "--json"])[0]["name"],
        "Due Mar 2027 (Somali)"
    );

    // Mothers cannot confirm plans.
    let bad = run(
        &m1,
        &["cohorts", "confirm"],
        &[],
        good.to_string().as_bytes(),
    );
    assert_ne!(bad.status.code(), Some(0));
    assert!(stderr(&bad).contains("moderators"), "{}", stderr(&bad));
}

#[test]
fn a_match_from_confirmation_to_conversation_on_the_command_line() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let (ada, bea) = moderator_and_mother(&url);
    let jo = init("Jo", "volunteer", &url);
    let vols = "Volunteers";
    ok(&ada, &["group", "create", "--name", vols]);
    let err = fails(&ada, &["audience", vols, "mothers"], 2);
    assert!(err.contains("volunteers or everyone"), "{err}");
    let set = json(&ada, &["audience", vols, "volunteers", "--json"]);
    assert_eq!(set["volunteers_only"], true);
    let err = fails(&ada, &["invite", vols, "--role", "mother"], 2);
    assert!(err.contains("volunteers and coordinators only"), "{err}");
    let code = json(&ada, &["invite", vols, "--role", "volunteer", "--json"])["code"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&jo, &["join", &code]);
    for home in [&ada, &jo, &ada] {
        ok(home, &["sync"]);
    }
    ok(&jo, &["volunteer", "--debrief", vols]);

    let err = fails(
        &ada,
        &[
            "match",
            "confirm",
            vols,
            "Jo",
            "--mother-group",
            GROUP,
            "--mother",
            "Nobody",
            "--text",
            "x",
        ],
        2,
    );
    assert!(err.contains("Nobody"), "{err}");
    let matched = json(
        &ada,
        &[
            "match",
            "confirm",
            vols,
            "Jo",
            "--mother-group",
            GROUP,
            "--mother",
            "Bea",
            "--text",
            "Both speak Somali",
            "--json",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&ada, &["sync"]);
    ok(&jo, &["sync"]);
    let offers = json(&jo, &["offer", "list", vols, "--json"]);
    assert_eq!(
        (offers[0]["kind"].as_str(), offers[0]["mother"].as_str()),
        (Some("match"), Some("Bea")),
        "{offers}"
    );
    let accepted = json(
        &jo,
        &["offer", "answer", vols, &matched, "--accept", "--json"],
    );
    assert_eq!(accepted["conversation"]["name"], "Jo and Bea", "{accepted}");
    ok(&jo, &["sync"]);
    ok(&ada, &["sync"]);
    ok(&ada, &["match", "introduce", vols, &matched]);
    ok(&ada, &["sync"]);
    ok(&bea, &["sync"]);
    let offers = json(&bea, &["offer", "list", GROUP, "--json"]);
    assert_eq!(offers[0]["joins_conversation"], true, "{offers}");
    let joined = json(
        &bea,
        &[
            "offer",
            "answer",
            GROUP,
            offers[0]["id"].as_str().unwrap(),
            "--accept",
            "--json",
        ],
    );
    assert_eq!(joined["conversation"]["name"], "Jo and Bea", "{joined}");
    for home in [&jo, &bea] {
        ok(home, &["sync"]);
    }
    ok(&jo, &["send", "Jo and Bea", "Hello Bea, I'm Jo"]);
    ok(&jo, &["sync"]);
    ok(&bea, &["sync"]);
    let read = json(&bea, &["read", "Jo and Bea", "--json"]);
    assert!(read.to_string().contains("I'm Jo"), "{read}");
}
