//! `kill -9` at random moments: during `hearth send` (one message or a batch) and during
//! `hearth init`. Afterwards the store opens, and each message is present exactly once if the
//! command reported success, at most once otherwise; a batch is all there or not at all.

mod common;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{key, Home, Rng};
use hearth_core::Companion;

/// Kills `child` after `delay` (or lets it finish first) and returns what it printed.
fn kill_after(mut child: Child, delay: Duration) -> String {
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL: no destructors, no flushing, no checkpoint
    child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// How long an uninterrupted `send` takes here, to spread the kills over its whole life.
fn typical_send(home: &Home) -> Duration {
    let mut times: Vec<Duration> = (0..3)
        .map(|i| {
            let start = Instant::now();
            home.ok(&["send", "Crash test", &format!("warm-up {i}")]);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[1]
}

#[test]
fn killed_sends_never_lose_or_duplicate_a_reported_message() {
    let mut rng = Rng::from_env("crash");
    let home = Home::with_key();
    home.ok(&["init", "--name", "Ada", "--role", "moderator"]);
    home.ok(&["group", "create", "--name", "Crash test"]);
    let typical = typical_send(&home);
    let window = typical.as_micros() as u64 * 3 / 2;
    eprintln!("typical send {typical:?}; killing within {window} µs");

    let (mut reported, mut unreported_present, mut absent) = (0, 0, 0);
    for round in 0..40 {
        let batch = rng.below(3) == 0;
        let texts: Vec<String> = if batch {
            (0..20)
                .map(|i| format!("round {round} batch line {i}"))
                .collect()
        } else {
            vec![format!("round {round} single")]
        };
        let mut cmd = if batch {
            home.command(&["send", "Crash test", "--stdin"])
        } else {
            home.command(&["send", "Crash test", &texts[0]])
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            if batch {
                stdin.write_all(texts.join("\n").as_bytes()).unwrap();
            }
        }
        let delay = Duration::from_micros(rng.below(window));
        let printed = kill_after(child, delay);
        let ids: Vec<&str> = printed.lines().collect();
        let success = ids.len() == texts.len() && ids.iter().all(|l| l.len() == 32);

        // The store must open after every kill.
        let c = Companion::open(home.path(), key())
            .unwrap_or_else(|e| panic!("round {round}: store does not open: {e}"));
        let g = c.find_group("Crash test").unwrap();
        let all = c.timeline(&g.id, None, 1000).unwrap().items;
        let counts: Vec<usize> = texts
            .iter()
            .map(|t| all.iter().filter(|i| &i.text == t).count())
            .collect();
        c.close().unwrap();

        assert!(
            counts.iter().all(|&n| n <= 1),
            "round {round}: duplicated: {counts:?}"
        );
        let present = counts.iter().sum::<usize>();
        assert!(
            present == 0 || present == texts.len(),
            "round {round}: batch half-written: {present} of {}",
            texts.len()
        );
        if success {
            assert_eq!(
                present,
                texts.len(),
                "round {round}: reported sent but missing (killed after {delay:?})"
            );
            reported += 1;
        } else if present > 0 {
            unreported_present += 1;
        } else {
            absent += 1;
        }
    }
    eprintln!("reported and present: {reported}; present, not reported: {unreported_present}; not stored: {absent}");
    // The kills must have landed on both sides of the commit, or the test proved nothing.
    assert!(
        reported > 0,
        "no send completed before its kill; the window is too short"
    );
    assert!(
        absent + unreported_present > 0,
        "every send finished before its kill; the window is too long"
    );
}

#[test]
fn a_killed_init_leaves_either_nothing_or_a_whole_store() {
    let mut rng = Rng::from_env("crash-init");
    let mut outcomes = (0, 0);
    for round in 0..10 {
        let home = Home::with_key();
        let start = Instant::now();
        home.ok(&["init", "--name", "Timing", "--role", "mother"]);
        let typical = start.elapsed();
        let fresh = Home::with_key();
        let child = fresh
            .command(&["init", "--name", "Ada", "--role", "moderator"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let printed = kill_after(
            child,
            Duration::from_micros(rng.below(typical.as_micros() as u64 * 3 / 2)),
        );
        if fresh.path().join("hearth.db").exists() {
            let c = Companion::open(fresh.path(), key())
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(c.profile().name, "Ada");
            outcomes.0 += 1;
        } else {
            assert!(
                !printed.contains("created"),
                "round {round}: init reported success without a store"
            );
            // Leftovers of the interrupted attempt do not stop a new one.
            fresh.ok(&["init", "--name", "Ada", "--role", "moderator"]);
            fresh.ok(&["whoami"]);
            outcomes.1 += 1;
        }
    }
    eprintln!("whole store: {}; nothing: {}", outcomes.0, outcomes.1);
}
