#![allow(dead_code)] // each test file uses a different part of this module
//! Helpers shared by the scenario tests: a profile home with the `hearth` command
//! line pointed at it, and file-level checks (snapshots, scans).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A raw store key as `HEARTH_KEY` takes it.
pub const KEY_HEX: &str = "1f8e4c2a9b7d6e5f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071";

/// [`KEY_HEX`] as bytes.
pub fn key_bytes() -> [u8; 32] {
    *hearth_core::SecretKey::from_hex(KEY_HEX)
        .unwrap()
        .as_bytes()
}

/// [`KEY_HEX`] as the core takes it.
pub fn key() -> hearth_core::StoreSecret {
    hearth_core::StoreSecret::RawKey(hearth_core::SecretKey::from_bytes(key_bytes()))
}

/// The `hearth` binary built from this workspace (see `src/bin/hearth-under-test.rs`).
pub fn hearth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hearth-under-test"))
}

/// A temporary profile home and the secret to open it with.
pub struct Home {
    pub dir: tempfile::TempDir,
    secret: (&'static str, String),
}

impl Home {
    pub fn with_key() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            secret: ("HEARTH_KEY", KEY_HEX.to_string()),
        }
    }

    pub fn with_passphrase(passphrase: &str) -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            secret: ("HEARTH_PASSPHRASE", passphrase.to_string()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `hearth --home DIR ARGS…` with this home's secret and nothing else from the caller's
    /// environment that Hearth reads.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(hearth_bin());
        cmd.arg("--home").arg(self.path()).args(args);
        cmd.env_remove("HEARTH_HOME")
            .env_remove("HEARTH_KEY")
            .env_remove("HEARTH_PASSPHRASE");
        cmd.env(self.secret.0, &self.secret.1);
        cmd
    }

    /// Runs `hearth ARGS…`, optionally feeding `stdin`.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start hearth");
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// Runs `hearth ARGS…` and returns its standard output, failing the test if it failed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "hearth {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `hearth ARGS…` expecting exit code `code`; returns standard error.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>, code: i32) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "hearth {args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "a failed command printed a result: {:?}",
            out.stdout
        );
        stderr
    }

    /// `hearth read GROUP --json --limit 1000`, parsed.
    pub fn read(&self, group: &str) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["read", group, "--json", "--limit", "1000"])).unwrap()
    }
}

/// Every file under `dir` (recursively) with its bytes, sorted by path.
pub fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Asserts two [`files`] listings are identical, naming the files that differ (not dumping
/// their bytes).
pub fn assert_same_files(
    before: &[(PathBuf, Vec<u8>)],
    after: &[(PathBuf, Vec<u8>)],
    context: &str,
) {
    if before == after {
        return;
    }
    let sizes = |list: &[(PathBuf, Vec<u8>)]| -> Vec<(PathBuf, usize)> {
        list.iter().map(|(p, b)| (p.clone(), b.len())).collect()
    };
    let changed: Vec<&PathBuf> = before
        .iter()
        .filter(|(p, b)| {
            after
                .iter()
                .find(|(q, _)| q == p)
                .is_none_or(|(_, c)| c != b)
        })
        .map(|(p, _)| p)
        .collect();
    panic!(
        "{context}: files changed.\nbefore: {:?}\nafter:  {:?}\nchanged or removed: {changed:?}",
        sizes(before),
        sizes(after)
    );
}

/// Where `needle` occurs in any file under `dir`: the files that contain it.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(path, _)| path)
        .collect()
}

/// A small deterministic generator (SplitMix64) so a failing randomised test can be replayed
/// from the seed it prints.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `HEARTH_TEST_SEED` if set, else from the clock. Prints the seed.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("HEARTH_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: seed {seed} (replay with HEARTH_TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
