//! Store benchmarks for the figures issue targets name. Run: `cargo bench -p hearth-core`
//! (add `-- --messages N` for a quicker, smaller run). Prints figures; compares the big and the
//! small group in the same run as a ratio, because this machine is shared and noisy.
//!
//! - cold open → first page of 50, raw key: a 20,000-message group vs a 50-message group
//!   (fresh `Companion::open` each time; the OS page cache stays warm, as on a phone that was
//!   just using the app — this bench cannot drop it without root);
//! - append one message durably (`send`, one fsynced transaction): median and p95;
//! - store size against the plaintext bytes of the messages.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_core::{Capacity, Companion, GroupId, ManualClock, Role, SecretKey, StoreSecret};

const PAGE: usize = 50;

fn key() -> StoreSecret {
    StoreSecret::RawKey(SecretKey::from_bytes([0x5a; 32]))
}

/// Deterministic text that looks like chat: ~100 characters of words drawn with a skewed
/// distribution from a 2,000-word vocabulary, so compression sees realistic repetition rather
/// than the best or worst case.
struct Chatter {
    state: u64,
    words: Vec<String>,
}

impl Chatter {
    fn new() -> Self {
        let mut c = Chatter {
            state: 0x2545_F491_4F6C_DD1D,
            words: Vec::new(),
        };
        const SYLLABLES: [&str; 24] = [
            "ba", "by", "ma", "mo", "sle", "ep", "fe", "ed", "ing", "ni", "ght", "ti", "red", "he",
            "lp", "we", "ek", "do", "ct", "or", "mi", "dw", "if", "e",
        ];
        for _ in 0..2000 {
            let n = 1 + c.below(3) as usize;
            let word: String = (0..n)
                .map(|_| SYLLABLES[c.below(SYLLABLES.len() as u64) as usize])
                .collect();
            c.words.push(word);
        }
        c
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn message(&mut self) -> String {
        let target = 80 + self.below(41) as usize;
        let mut text = String::new();
        while text.len() < target {
            // Skewed: squaring a uniform pick favours the first (common) words.
            let r = self.below(1 << 16) as f64 / 65536.0;
            let word = self.words[(r * r * self.words.len() as f64) as usize].clone();
            if !text.is_empty() {
                text.push(if self.below(12) == 0 { ',' } else { ' ' });
                if text.ends_with(',') {
                    text.push(' ');
                }
            }
            text.push_str(&word);
        }
        text.push(if self.below(4) == 0 { '?' } else { '.' });
        text
    }
}

/// Creates a profile with one group of `count` messages; returns its id and plaintext bytes.
fn build(home: &Path, count: usize, chatter: &mut Chatter) -> (GroupId, usize) {
    let clock = ManualClock::new(1_767_225_600_000);
    let mut c = Companion::create_with_clock(
        home,
        key(),
        "Bench Moderator",
        Role::Moderator,
        Arc::new(clock.clone()),
    )
    .expect("create profile");
    let g = c
        .create_group("Due in March", Capacity::new(None, None).unwrap())
        .unwrap();
    let mut plain = 0;
    let mut left = count;
    while left > 0 {
        // Arrivals in small batches, as after a sync; own messages come one at a time below.
        let n = left.min(20);
        let texts: Vec<String> = (0..n).map(|_| chatter.message()).collect();
        plain += texts.iter().map(String::len).sum::<usize>();
        c.send_many(&g.id, &texts.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        clock.advance(45_000);
        left -= n;
    }
    c.close().unwrap();
    (g.id, plain)
}

fn open_first_page(home: &Path, group: &GroupId) -> Duration {
    let start = Instant::now();
    let c = Companion::open(home, key()).unwrap();
    let page = c.timeline(group, None, PAGE).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(page.items.len(), PAGE);
    c.close().unwrap();
    elapsed
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// Where the bytes are: sealed payload per table, and SQLite's own overhead.
fn breakdown(db: &Path) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    let vacuum: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        .unwrap();
    print!("  breakdown: {pages} pages of {page_size} B, {free} free (auto_vacuum {vacuum});");
    for (table, column) in [
        ("chunks", "body"),
        ("timeline_blocks", "body"),
        ("groups", "body"),
    ] {
        let (rows, bytes): (i64, i64) = conn
            .query_row(
                &format!("SELECT count(*), coalesce(sum(length({column})), 0) FROM {table}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        print!(" {table} {rows} rows {:.2} MB;", bytes as f64 / 1e6);
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let messages: usize = args
        .iter()
        .position(|a| a == "--messages")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--messages takes a number"))
        .unwrap_or(20_000);
    let rounds = 15;
    let mut chatter = Chatter::new();
    let big = tempfile::tempdir().unwrap();
    let small = tempfile::tempdir().unwrap();

    let start = Instant::now();
    let (big_group, plain) = build(big.path(), messages, &mut chatter);
    println!(
        "built {messages} messages in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let (small_group, _) = build(small.path(), PAGE, &mut chatter);

    // Store size, with everything checkpointed into the main file.
    let stored = dir_size(big.path());
    println!(
        "store size: {:.2} MB for {:.2} MB of message text = {:.2}x plaintext (target <= 2.5x once synced; \
         nothing here is acknowledged by a relay, so every message is also kept as its own outgoing change)",
        stored as f64 / 1e6,
        plain as f64 / 1e6,
        stored as f64 / plain as f64
    );

    breakdown(&big.path().join(hearth_core::STORE_FILE));

    // Cold open to first page, interleaved so both see the same machine conditions.
    let (mut big_t, mut small_t) = (Vec::new(), Vec::new());
    open_first_page(big.path(), &big_group);
    open_first_page(small.path(), &small_group);
    for _ in 0..rounds {
        big_t.push(open_first_page(big.path(), &big_group));
        small_t.push(open_first_page(small.path(), &small_group));
    }
    big_t.sort();
    small_t.sort();
    let (b, s) = (percentile(&big_t, 0.5), percentile(&small_t, 0.5));
    println!(
        "open + first page of {PAGE}: {messages} msgs median {:.2} ms (p90 {:.2}); {PAGE} msgs median {:.2} ms; ratio {:.2} (targets <= 50 ms, ratio <= 1.5)",
        ms(b),
        ms(percentile(&big_t, 0.9)),
        ms(s),
        b.as_secs_f64() / s.as_secs_f64()
    );

    // Durable append into the big group.
    let mut c = Companion::open(big.path(), key()).unwrap();
    let first = Instant::now();
    c.send(&big_group, &chatter.message()).unwrap();
    println!(
        "first send after open (loads the group document): {:.1} ms",
        ms(first.elapsed())
    );
    let mut appends: Vec<Duration> = (0..300)
        .map(|_| {
            let text = chatter.message();
            let t = Instant::now();
            c.send(&big_group, &text).unwrap();
            t.elapsed()
        })
        .collect();
    appends.sort();
    println!(
        "append one message durably: median {:.3} ms, p95 {:.3} ms, max {:.3} ms over {} sends (target median <= 2 ms)",
        ms(percentile(&appends, 0.5)),
        ms(percentile(&appends, 0.95)),
        ms(*appends.last().unwrap()),
        appends.len()
    );
    c.close().unwrap();
}
