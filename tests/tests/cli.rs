//! The `hearth` command line as a script uses it: output shapes, exit codes, and bad input
//! that is refused with a clear message and leaves the store as it was.

mod common;

use common::Home;
use serde_json::Value;

fn moderator_with_group(home: &Home) -> String {
    home.ok(&["init", "--name", "Midwife Ada", "--role", "moderator"]);
    let out = home.ok(&["group", "create", "--name", "Due in March", "--json"]);
    let group: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(group["name"], "Due in March");
    group["id"].as_str().unwrap().to_string()
}

#[test]
fn a_moderator_creates_a_group_and_messages_come_back_in_order() {
    let home = Home::with_key();
    let id = moderator_with_group(&home);
    assert_eq!(id.len(), 32);
    let groups: Value = serde_json::from_str(&home.ok(&["groups", "--json"])).unwrap();
    assert_eq!(groups[0]["id"], id.as_str());
    assert_eq!(groups[0]["name"], "Due in March");

    let first = home.ok(&["send", "Due in March", "Welcome, everyone"]);
    assert_eq!(first.trim().len(), 32, "send prints the message id");
    let out = home.run(
        &["send", &id, "--stdin"],
        Some("How are you sleeping?\r\nBadly, thanks for asking\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);

    let messages = home.read("due in march");
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Welcome, everyone",
            "How are you sleeping?",
            "Badly, thanks for asking"
        ]
    );
    let m = &messages[0];
    assert_eq!(m["id"], first.trim());
    assert_eq!(m["author"], "Midwife Ada");
    assert_eq!(m["state"], "pending");
    let sent_at = m["sent_at"].as_str().unwrap();
    assert!(
        sent_at.ends_with('Z') && sent_at.contains('T'),
        "RFC 3339: {sent_at}"
    );

    // --limit gives the newest N, still oldest first.
    let last_two: Vec<Value> =
        serde_json::from_str(&home.ok(&["read", &id, "--json", "--limit", "2"])).unwrap();
    assert_eq!(last_two[0]["text"], "How are you sleeping?");
    assert_eq!(last_two[1]["text"], "Badly, thanks for asking");
    // The cursor of the oldest shown message pages further back.
    let cursor = last_two[0]["cursor"].as_str().unwrap();
    let older: Vec<Value> =
        serde_json::from_str(&home.ok(&["read", &id, "--json", "--before", cursor])).unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0]["text"], "Welcome, everyone");
}

#[test]
fn edits_deletes_and_reactions_show_in_the_timeline() {
    let home = Home::with_key();
    let id = moderator_with_group(&home);
    let msg = home
        .ok(&["send", &id, "Drink water, it helps wiht cramps"])
        .trim()
        .to_string();
    home.ok(&["edit", &id, &msg, "Drink water, it helps with cramps"]);
    home.ok(&["react", &id, &msg, "helpful"]);
    home.ok(&["react", &id, &msg, "hug"]);
    home.ok(&["react", &id, &msg, "hug", "--remove"]);
    let m = &home.read(&id)[0];
    assert_eq!(m["text"], "Drink water, it helps with cramps");
    assert_eq!(m["edited"], true);
    assert_eq!(
        m["reactions"],
        serde_json::json!([{"reaction": "helpful", "count": 1, "mine": true}])
    );
    home.ok(&["delete", &id, &msg]);
    let m = &home.read(&id)[0];
    assert_eq!(
        (m["deleted"].as_bool(), m["text"].as_str()),
        (Some(true), Some(""))
    );
    let err = home.fails(&["edit", &id, &msg, "back again"], None, 2);
    assert!(err.contains("deleted"), "{err}");
    let err = home.fails(&["react", &id, &msg, "like"], None, 2);
    assert!(err.contains("hug"), "names the reactions there are: {err}");
}

#[test]
fn bad_input_is_refused_clearly_and_writes_nothing() {
    let home = Home::with_key();
    let id = moderator_with_group(&home);
    home.ok(&["send", &id, "the only message"]);
    let before = common::files(home.path());
    let too_long = "a".repeat(8 * 1024 + 1);
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["send", &id, ""], None, "empty"),
        (vec!["send", &id, "  \t "], None, "empty"),
        (vec!["send", &id, &too_long], None, "at most 8192 bytes"),
        (
            vec!["send", &id, "--stdin"],
            Some("fine\n\nalso fine\n"),
            "line 2",
        ),
        (
            vec!["send", &id, "--stdin"],
            Some("fine\nring \u{7}\n"),
            "line 2",
        ),
        (vec!["send", &id, "--stdin"], Some(""), "empty"),
        (vec!["send", &id], None, "--stdin"),
        (
            vec!["send", "Due in April", "hello"],
            None,
            "no group matches \"Due in April\"",
        ),
        (
            vec!["read", &id, "--limit", "0"],
            None,
            "between 1 and 1000",
        ),
        (vec!["read", &id, "--before", "zz"], None, "cursor"),
        (
            vec!["group", "create", "--name", "due in march"],
            None,
            "already have a group",
        ),
        (
            vec!["group", "create", "--name", "Big", "--capacity", "45"],
            None,
            "--reason",
        ),
        (
            vec![
                "group",
                "create",
                "--name",
                "Huge",
                "--capacity",
                "500",
                "--reason",
                "x",
            ],
            None,
            "100",
        ),
        (vec!["group", "create", "--name", "   "], None, "empty"),
        (vec!["edit", &id, "not-an-id", "x"], None, "message id"),
    ];
    for (args, stdin, expected) in cases {
        let err = home.fails(&args, stdin, 2);
        assert!(err.starts_with("hearth: "), "{err}");
        assert!(
            err.contains(expected),
            "hearth {args:?}: expected {expected:?} in {err:?}"
        );
    }
    // Invalid UTF-8 on stdin names its line too.
    let mut cmd = home.command(&["send", &id, "--stdin"]);
    let out = {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"ok\n\xff\xfe\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: is not valid UTF-8"));
    common::assert_same_files(
        &before,
        &common::files(home.path()),
        "a refused command changed the store",
    );
    assert_eq!(home.read(&id).len(), 1);
}

#[test]
fn a_group_over_thirty_needs_a_reason_that_is_kept() {
    let home = Home::with_key();
    moderator_with_group(&home);
    let out = home.ok(&[
        "group",
        "create",
        "--name",
        "Regional circle",
        "--capacity",
        "40",
        "--reason",
        "two facilitators share it",
        "--json",
    ]);
    let g: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(g["capacity"], 40);
    assert_eq!(g["capacity_reason"], "two facilitators share it");
}

#[test]
fn only_moderators_create_groups() {
    let home = Home::with_key();
    home.ok(&["init", "--name", "Bea", "--role", "mother"]);
    let err = home.fails(&["group", "create", "--name", "My circle"], None, 2);
    assert!(
        err.contains("only moderators can create groups; this profile is a mother"),
        "{err}"
    );
    assert_eq!(home.ok(&["groups", "--json"]).trim(), "[]");
}

#[test]
fn missing_secret_profile_or_bad_key_say_what_to_do() {
    let home = Home::with_key();
    let err = home.fails(&["groups"], None, 1);
    assert!(err.contains("hearth init"), "{err}");

    let mut cmd = home.command(&["groups"]);
    let out = cmd.env_remove("HEARTH_KEY").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("HEARTH_KEY") && err.contains("HEARTH_PASSPHRASE"),
        "{err}"
    );

    let out = home
        .command(&["groups"])
        .env("HEARTH_PASSPHRASE", "also set")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("both"));

    let out = home
        .command(&["groups"])
        .env("HEARTH_KEY", "abc")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex characters"));

    let err = home.fails(&["init", "--name", "Ada", "--role", "midwife"], None, 2);
    assert!(err.contains("mother, volunteer or moderator"), "{err}");
    let err = home.fails(
        &["init", "--name", "ada@example.org", "--role", "mother"],
        None,
        2,
    );
    assert!(err.contains("e-mail"), "{err}");
    let err = home.fails(
        &["init", "--name", "+44 7700 900123", "--role", "mother"],
        None,
        2,
    );
    assert!(err.contains("phone"), "{err}");
    assert!(
        common::files(home.path()).is_empty(),
        "refused init left files behind"
    );

    home.ok(&["init", "--name", "Ada", "--role", "mother"]);
    let err = home.fails(&["init", "--name", "Ada", "--role", "mother"], None, 1);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn passphrase_profiles_work_end_to_end() {
    let home = Home::with_passphrase("correct horse battery");
    home.ok(&["init", "--name", "Cleo", "--role", "moderator"]);
    home.ok(&["group", "create", "--name", "Night feeds"]);
    home.ok(&["send", "Night feeds", "Anyone else up at 3am?"]);
    assert_eq!(
        home.read("Night feeds")[0]["text"],
        "Anyone else up at 3am?"
    );
    let out = home
        .command(&["groups"])
        .env("HEARTH_PASSPHRASE", "wrong horse battery")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    let err = home.fails(&["init", "--name", "Dee", "--role", "mother"], None, 1);
    assert!(err.contains("already exists"));
    let short = Home::with_passphrase("short");
    let err = short.fails(&["init", "--name", "Dee", "--role", "mother"], None, 2);
    assert!(err.contains("at least 8"), "{err}");
}

#[test]
fn home_defaults_to_hearth_home_then_the_data_directory() {
    let base = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &std::path::Path)]| {
        let mut cmd = std::process::Command::new(common::hearth_bin());
        cmd.args(["init", "--name", "Ada", "--role", "mother"])
            .env("HEARTH_KEY", common::KEY_HEX);
        cmd.env_remove("HEARTH_HOME")
            .env_remove("HEARTH_PASSPHRASE")
            .env_remove("XDG_DATA_HOME");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // An empty HEARTH_HOME is ignored; an empty --home is refused (by the argument parser).
    let mut cmd = std::process::Command::new(common::hearth_bin());
    let out = cmd
        .args(["--home", "", "groups"])
        .env("HEARTH_KEY", common::KEY_HEX)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a value is required for '--home"));
    let explicit = base.path().join("explicit");
    run(&[("HEARTH_HOME", &explicit), ("HOME", base.path())]);
    assert!(explicit.join("hearth.db").is_file());
    run(&[
        ("HOME", base.path()),
        ("HEARTH_HOME", std::path::Path::new("")),
    ]);
    assert!(base.path().join(".local/share/hearth/hearth.db").is_file());
}
