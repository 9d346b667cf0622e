//! Faults between devices and the relay: requests and responses dropped, duplicated, delayed
//! and reordered (a property test over seeded random schedules), the relay killed with SIGKILL
//! mid-upload and restarted, a device restarted with a full outbox, and a patchy 2G link.
//! In every case each message ends up exactly once, in the same order, on every member's
//! device.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hearth_core::{GroupId, HttpTransport, Role, Transport, TransportError};
use hearth_tests::devices::{relay, Device};
use hearth_tests::proxy::{Decision, Direction, Faults, Proxy};

/// A small deterministic generator (xorshift), so a failing schedule can be replayed by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A transport that loses, repeats, delays and reorders requests and responses.
struct Faulty {
    inner: HttpTransport,
    rng: Rng,
    /// A request held back, to be delivered late (after newer ones).
    held: Vec<(String, Vec<u8>)>,
    pub faults: BTreeMap<&'static str, u32>,
}

impl Faulty {
    fn new(url: &str, seed: u64) -> Faulty {
        Faulty {
            inner: HttpTransport::new(url),
            rng: Rng(seed | 1),
            held: Vec::new(),
            faults: BTreeMap::new(),
        }
    }
    fn count(&mut self, what: &'static str) {
        *self.faults.entry(what).or_default() += 1;
    }
}

impl Transport for Faulty {
    fn post(&mut self, path: &str, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        if !self.held.is_empty() && self.rng.below(3) == 0 {
            // A delayed request finally arrives, after newer ones: its answer goes nowhere.
            let (p, b) = self.held.remove(0);
            let _ = self.inner.post(&p, &b);
            self.count("delivered late");
        }
        match self.rng.below(100) {
            0..=14 => {
                self.count("request lost");
                Err(TransportError::Unreachable("request lost".into()))
            }
            15..=29 => {
                let _ = self.inner.post(path, body);
                self.count("response lost");
                Err(TransportError::Unreachable("response lost".into()))
            }
            30..=39 => {
                let _ = self.inner.post(path, body);
                self.count("duplicated");
                self.inner.post(path, body)
            }
            40..=49 => {
                self.held.push((path.to_string(), body.to_vec()));
                self.count("held for later");
                self.inner.post(path, body)
            }
            _ => self.inner.post(path, body),
        }
    }
}

/// A moderator and `n` mothers in one group, all admitted and synced.
fn circle(url: &str, n: usize) -> (Vec<Device>, GroupId) {
    let mut ruth = Device::new("Ruth", Role::Moderator, url);
    let g = ruth.create_group("Due in May");
    let mut devices = Vec::new();
    for i in 0..n {
        let mut d = Device::new(&format!("Mother{i}"), Role::Mother, url);
        ruth.admit(&g, &mut d, Role::Mother);
        devices.push(d);
    }
    devices.insert(0, ruth);
    settle(&mut devices);
    (devices, g)
}

fn settle(devices: &mut [Device]) {
    for _ in 0..3 {
        for d in devices.iter_mut() {
            d.sync();
        }
    }
}

/// Every device shows exactly `expected` (each once) and all in one order.
fn assert_converged(devices: &[Device], g: &GroupId, expected: &[String], context: &str) {
    let reference = devices[0].texts(g);
    for d in devices {
        let seen = d.texts(g);
        let texts: Vec<&String> = seen.iter().map(|(_, t)| t).collect();
        for want in expected {
            let n = texts.iter().filter(|t| **t == want).count();
            assert_eq!(n, 1, "{context}: {} sees {want:?} {n} times", d.name);
        }
        assert_eq!(
            seen.len(),
            expected.len(),
            "{context}: {} sees {seen:?}",
            d.name
        );
        assert_eq!(seen, reference, "{context}: {} has another order", d.name);
    }
}

#[test]
fn random_schedules_of_lost_repeated_delayed_and_reordered_requests_converge() {
    let cases: u64 = std::env::var("HEARTH_FAULT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    for case in 0..cases {
        let seed = 0x5eed_0000 + case;
        let (_dir, relay) = relay();
        let url = relay.url();
        let (mut devices, g) = circle(&url, 3);
        let mut transports: Vec<Faulty> = (0..devices.len())
            .map(|i| Faulty::new(&url, seed * 31 + i as u64))
            .collect();
        let mut rng = Rng(seed);
        let mut expected = Vec::new();
        for step in 0..40 {
            let who = rng.below(devices.len() as u64) as usize;
            if rng.below(2) == 0 {
                let text = format!("case {case} step {step} from {}", devices[who].name);
                devices[who].send(&g, &text);
                expected.push(text);
            } else {
                // A sync may give up after its retries; the next one resumes.
                let _ = devices[who].sync_over(&mut transports[who]);
            }
        }
        let faults: BTreeMap<&str, u32> = transports.iter().flat_map(|t| t.faults.clone()).fold(
            BTreeMap::new(),
            |mut acc, (k, v)| {
                *acc.entry(k).or_default() += v;
                acc
            },
        );
        // Held requests still arrive, late, after everything else.
        for t in &mut transports {
            for (p, b) in std::mem::take(&mut t.held) {
                let _ = t.inner.post(&p, &b);
            }
        }
        settle(&mut devices);
        assert_converged(
            &devices,
            &g,
            &expected,
            &format!("seed {seed:#x} ({faults:?})"),
        );
        assert!(
            faults.len() >= 4,
            "the schedule exercised few faults: {faults:?}"
        );
    }
}

/// The relay as a separate process, so it can be killed with SIGKILL.
struct RelayProcess {
    child: Child,
    url: String,
}

impl RelayProcess {
    fn start(db: &std::path::Path) -> RelayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_relay-under-test"))
            .args(["--listen", "127.0.0.1:0", "--rate", "0", "--db"])
            .arg(db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start relay-under-test");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("hearth-relay listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the relay: {line:?}"))
            .to_string();
        RelayProcess { child, url }
    }

    fn kill9(mut self) {
        // SIGKILL: no graceful shutdown, no flushing; only what was committed survives.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[test]
fn relay_killed_mid_upload_and_restarted_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = RelayProcess::start(&db);
    let (mut devices, g) = circle(&relay.url, 1);
    let mut expected = Vec::new();
    let mut relay = Some(relay);
    for (round, kill_after_ms) in [30u64, 120, 400].into_iter().enumerate() {
        let url = relay.as_ref().unwrap().url.clone();
        // A slow link, so the kill lands while the upload is on its way.
        let upstream = url.trim_start_matches("http://").parse().unwrap();
        let faults = Faults {
            bandwidth_bytes_per_sec: Some(40_000),
            ..Faults::none()
        };
        let mut proxy = Proxy::start(upstream, faults, round as u64).unwrap();
        let texts: Vec<String> = (0..200)
            .map(|i| format!("round {round} message {i}: how are you sleeping this week?"))
            .collect();
        for t in &texts {
            devices[1].send(&g, t);
        }
        expected.extend(texts);
        let proxy_url = format!("http://{}", proxy.addr());
        let mut t = HttpTransport::new(&proxy_url);
        let killer = {
            let r = relay.take().unwrap();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(kill_after_ms));
                r.kill9();
            })
        };
        let interrupted = devices[1].sync_over(&mut t);
        killer.join().unwrap();
        proxy.stop();
        let restarted = RelayProcess::start(&db);
        for d in devices.iter_mut() {
            d.set_url(&restarted.url);
        }
        relay = Some(restarted);
        settle(&mut devices);
        assert_converged(
            &devices,
            &g,
            &expected,
            &format!(
                "kill after {kill_after_ms} ms (sync said {:?})",
                interrupted.map(|r| r.round_trips)
            ),
        );
    }
    relay.unwrap().kill9();
}

#[test]
fn a_device_restarted_with_a_full_outbox_sends_everything_once() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let (mut devices, g) = circle(&url, 1);
    // Offline: nothing reaches the relay.
    devices[1].set_url("http://127.0.0.1:9");
    let mut expected = Vec::new();
    for i in 0..120 {
        let t = format!("offline note {i}");
        devices[1].send(&g, &t);
        expected.push(t);
    }
    assert!(devices[1].try_sync().is_err(), "the relay is unreachable");
    devices[1].restart();
    assert_eq!(devices[1].companion.outbox(&g).unwrap().len(), 120);
    // Back online; the request is built (envelopes stored) and sent, but the device dies
    // before reading the answer.
    devices[1].set_url(&url);
    let prepared = devices[1].companion.prepare_sync().unwrap();
    let mut t = HttpTransport::new(&url);
    t.post(hearth_protocol::api::SYNC_PATH, &prepared.body)
        .unwrap();
    devices[1].restart();
    settle(&mut devices);
    assert_converged(&devices, &g, &expected, "restart with a full outbox");
    assert!(devices[1].companion.outbox(&g).unwrap().is_empty());
}

#[test]
fn a_device_catches_up_a_thousand_messages_over_a_patchy_2g_link() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let (mut devices, g) = circle(&url, 2);
    let mut expected = Vec::new();
    // Amina is offline while the others talk.
    for i in 0..1000 {
        let who = if i % 3 == 0 { 2 } else { 0 };
        let t = format!("message {i}: the midwife said the heartbeat sounds strong and steady");
        devices[who].send(&g, &t);
        expected.push(t);
        if i % 10 == 9 {
            devices[who].sync();
        }
    }
    devices[0].sync();
    devices[2].sync();
    devices[0].sync();
    let upstream = relay.addr();
    // A seed whose first connections are cut in the middle of the answer, and one refused:
    // the worst start, picked rather than hoped for.
    let faults = Faults::patchy_2g();
    let cut_down = |d: &Decision| matches!(d, Decision::Relay { cut: Some(c) } if c.direction == Direction::Downstream && c.after_bytes > 2000);
    let seed = (0..10_000u64)
        .find(|s| {
            let plan = faults.plan(*s, 3);
            cut_down(&plan[0]) && plan[1] == Decision::Refuse && cut_down(&plan[2])
        })
        .expect("some seed starts with cut, refused, cut");
    let mut proxy = Proxy::start(upstream, faults, seed).unwrap();
    let mut t = HttpTransport::new(&format!("http://{}", proxy.addr()));
    let started = Instant::now();
    let mut syncs = 0;
    loop {
        syncs += 1;
        let done = matches!(devices[1].sync_over(&mut t), Ok(r) if r.complete);
        if done || syncs >= 40 {
            break;
        }
    }
    let stats = proxy.stats();
    proxy.stop();
    // Caught up over the patchy link itself, before any clean sync.
    assert_eq!(
        devices[1].texts(&g).len(),
        1000,
        "after {syncs} syncs over the link"
    );
    eprintln!(
        "patchy 2G catch-up: {syncs} syncs, {:.1} s, {} bytes down, {} up, {} connections cut, {} refused",
        started.elapsed().as_secs_f64(),
        stats.bytes_downstream,
        stats.bytes_upstream,
        stats.connections_cut,
        stats.connections_refused
    );
    assert!(
        stats.connections_cut + stats.connections_refused > 0,
        "the link was never patchy: {stats:?}"
    );
    settle(&mut devices);
    assert_converged(&devices, &g, &expected, "patchy 2G");
}
