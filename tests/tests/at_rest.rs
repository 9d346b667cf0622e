//! What a person holding the phone's files (a backup, a lost phone, forensic copy) can read
//! without the key: none of the pseudonym, group names or message texts, in any file Hearth
//! writes, while the store is open (WAL in use) and after it is closed.

mod common;

use std::path::Path;

use common::{key, Home, KEY_HEX};
use hearth_core::{Capacity, Companion, Reaction};

const PSEUDONYM: &str = "Zephyrine Quillfeather";
const GROUP: &str = "Marigold Lantern Circle";
const TEXTS: [&str; 4] = [
    "kumquat-sapphire-7341 my midwife said the scan looked fine",
    "I was diagnosed with HIV at booking and I am scared: periwinkle-0993",
    "we lost our first at 20 weeks, juniper-ostrich-5512",
    "edited-away-original-text tangerine-4417",
];

fn secrets() -> Vec<Vec<u8>> {
    let mut needles: Vec<Vec<u8>> = vec![PSEUDONYM.into(), GROUP.into()];
    needles.extend(TEXTS.iter().map(|t| t.as_bytes().to_vec()));
    needles.push(b"replacement-text-guava-2201".to_vec());
    // Distinctive fragments too: a text split across pages or compressed must not leak either.
    needles.extend(
        [
            "kumquat-sapphire",
            "periwinkle-0993",
            "juniper-ostrich",
            "Quillfeather",
            "Lantern",
        ]
        .map(Vec::from),
    );
    needles.push(common::key_bytes().to_vec());
    needles.push(KEY_HEX.into());
    needles
}

fn assert_nothing_readable(dir: &Path, when: &str) {
    let files = common::files(dir);
    assert!(!files.is_empty());
    for needle in secrets() {
        let hits = common::files_containing(dir, &needle);
        assert!(
            hits.is_empty(),
            "{when}: {:?} found in {hits:?}",
            String::from_utf8_lossy(&needle)
        );
    }
    eprintln!(
        "{when}: scanned {:?}",
        files
            .iter()
            .map(|(p, b)| (p.file_name().unwrap().to_owned(), b.len()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn no_file_under_the_home_holds_readable_secrets_while_open_or_after_close() {
    let home = Home::with_key();
    let mut c =
        Companion::create(home.path(), key(), PSEUDONYM, hearth_core::Role::Moderator).unwrap();
    let g = c
        .create_group(GROUP, Capacity::new(None, None).unwrap())
        .unwrap();
    let mut ids = Vec::new();
    for text in TEXTS {
        ids.push(c.send(&g.id, text).unwrap());
    }
    c.edit(&g.id, &ids[3], "replacement-text-guava-2201")
        .unwrap();
    c.react(&g.id, &ids[1], Reaction::Hug, true).unwrap();
    // Enough traffic to compact the document into a snapshot, so that path is scanned too.
    let filler: Vec<String> = (0..300).map(|i| format!("filler message {i}")).collect();
    for chunk in filler.chunks(30) {
        c.send_many(&g.id, &chunk.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
    }
    let wal = home.path().join("hearth.db-wal");
    assert!(
        wal.is_file() && std::fs::metadata(&wal).unwrap().len() > 0,
        "the WAL is in use while open"
    );
    assert_nothing_readable(home.path(), "while open");

    c.close().unwrap();
    assert_nothing_readable(home.path(), "after close");

    // And the data is really there: the same home reads back through the CLI.
    let messages = home.read(GROUP);
    assert!(messages.iter().any(|m| m["text"] == TEXTS[0]));
    assert!(messages
        .iter()
        .any(|m| m["text"] == "replacement-text-guava-2201"));
}

#[test]
fn passphrase_stores_hold_neither_the_passphrase_nor_readable_text() {
    let passphrase = "blue-heron-orchard-lullaby";
    let home = Home::with_passphrase(passphrase);
    home.ok(&["init", "--name", PSEUDONYM, "--role", "moderator"]);
    home.ok(&["group", "create", "--name", GROUP]);
    home.ok(&["send", GROUP, TEXTS[0]]);
    assert_nothing_readable(home.path(), "passphrase store");
    assert!(common::files_containing(home.path(), passphrase.as_bytes()).is_empty());
}
