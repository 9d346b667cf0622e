//! The shipped `hearth-relay` binary: announces where it listens, serves, logs one JSON line
//! per request, and stops cleanly (exit 0) on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use hearth_protocol::ids::Signer;
use hearth_protocol::GroupId;

#[test]
fn the_binary_serves_logs_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth-relay"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json", "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().map(|l| l.unwrap());
        line_tx.send(first).unwrap();
        // Anything more on stdout is a defect: collect it.
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        line_tx.send(Some(rest.join("\n"))).unwrap();
    });
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });

    let line = line_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the relay printed nothing within a minute")
        .expect("stdout closed without the listening line");
    let url = line
        .strip_prefix("hearth-relay listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let addr: std::net::SocketAddr = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("the line names a URL, not {url:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{url:?} is not http://HOST:PORT: {e}"));
    assert_ne!(addr.port(), 0, "the line names the real port");
    assert_eq!(
        line,
        format!("hearth-relay listening on http://127.0.0.1:{}", addr.port()),
        "exactly this form, so a test or supervisor can take the URL as it is"
    );

    let client = Client::new(url);
    let (status, body) = client.get("/health").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"ok\""), "{body}");
    let device = key(7);
    let reply = client.sync1(&device, ask(GroupId([1; 16]), 0, 0));
    assert!(reply.refused.is_some());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    let rest = line_rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(rest, "", "stdout holds exactly one line");

    // One JSON object per line on stderr, one of them per request, without bodies.
    let logs = logs.join().unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["target"] == "hearth_relay::request")
        .collect();
    assert_eq!(requests.len(), 2, "{logs}");
    assert_eq!(requests[0]["path"], "/health");
    assert_eq!(requests[0]["status"], 200);
    let sync = requests[1];
    assert_eq!(sync["path"], "/v1/sync");
    assert_eq!(sync["device"], device.device().short());
    assert_eq!(sync["groups"], 1);
    assert!(sync["bytes_in"].as_u64().unwrap() > 0);
    assert!(sync["bytes_out"].as_u64().unwrap() > 0);
    assert!(sync["latency_ms"].is_number());

    // The database was closed cleanly: its WAL folded back, and it opens again.
    let wal = dir.path().join("relay.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL left behind"
    );
    let again = hearth_relay::spawn_for_tests(&db);
    again.shutdown().unwrap();
}
