//! Opening a store with the wrong key or passphrase, or opening a damaged or foreign file:
//! a clear error, never a panic, and every file byte-identical afterwards.

mod common;

use std::path::Path;

use common::{key_bytes, Home};
use hearth_core::{Companion, Error, SecretKey, StoreError, StoreSecret};

fn populated(home: &Home) {
    home.ok(&["init", "--name", "Ada", "--role", "moderator"]);
    home.ok(&["group", "create", "--name", "Due in May"]);
    home.ok(&["send", "Due in May", "first"]);
}

fn open_err(dir: &Path, secret: StoreSecret) -> Error {
    match Companion::open(dir, secret) {
        Ok(_) => panic!("opened with a bad secret or file"),
        Err(e) => e,
    }
}

#[test]
fn a_wrong_key_is_refused_and_changes_nothing() {
    let home = Home::with_key();
    populated(&home);
    let before = common::files(home.path());
    let wrong = StoreSecret::RawKey(SecretKey::from_bytes([0x42; 32]));
    let err = open_err(home.path(), wrong);
    assert!(
        matches!(err, Error::Store(StoreError::WrongSecret { .. })),
        "{err}"
    );
    assert_eq!(err.to_string(), "wrong key: it does not open this store");
    let out = home
        .command(&["groups"])
        .env("HEARTH_KEY", "00".repeat(32))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "hearth: wrong key: it does not open this store"
    );
    // A passphrase for a store that has only a raw key names what it does open with.
    let err = open_err(
        home.path(),
        StoreSecret::Passphrase("some passphrase".into()),
    );
    assert!(err.to_string().contains("opens with: raw-key"), "{err}");
    common::assert_same_files(&before, &common::files(home.path()), "after");
}

#[test]
fn a_wrong_passphrase_is_refused_and_changes_nothing() {
    let home = Home::with_passphrase("the right passphrase");
    populated(&home);
    let before = common::files(home.path());
    let err = open_err(
        home.path(),
        StoreSecret::Passphrase("the wrong passphrase".into()),
    );
    assert_eq!(
        err.to_string(),
        "wrong passphrase: it does not open this store"
    );
    common::assert_same_files(&before, &common::files(home.path()), "after");
}

#[test]
fn a_wrong_key_does_not_touch_a_store_left_mid_write() {
    // A store whose last writer died: its WAL still holds committed data not yet folded into
    // the main file. A wrong key must neither fold it in nor delete it.
    let home = Home::with_key();
    populated(&home);
    // A live writer has committed "second" into the WAL; copying the files now is what a
    // crash (or a backup taken mid-session) leaves behind.
    let mut holder = Companion::open(
        home.path(),
        StoreSecret::RawKey(SecretKey::from_bytes(key_bytes())),
    )
    .unwrap();
    let group = holder.find_group("Due in May").unwrap();
    holder.send(&group.id, "second").unwrap();
    let crashed = tempfile::tempdir().unwrap();
    for (path, bytes) in common::files(home.path()) {
        std::fs::write(crashed.path().join(path.file_name().unwrap()), bytes).unwrap();
    }
    holder.close().unwrap();
    let before = common::files(crashed.path());
    assert!(
        before
            .iter()
            .any(|(p, b)| p.ends_with("hearth.db-wal") && !b.is_empty()),
        "{:?}",
        before.iter().map(|(p, b)| (p, b.len())).collect::<Vec<_>>()
    );
    let err = open_err(
        crashed.path(),
        StoreSecret::RawKey(SecretKey::from_bytes([9; 32])),
    );
    assert!(
        matches!(err, Error::Store(StoreError::WrongSecret { .. })),
        "{err}"
    );
    common::assert_same_files(
        &before,
        &common::files(crashed.path()),
        "a wrong key changed a crashed store",
    );
    // The right key recovers everything that was committed.
    let c = Companion::open(
        crashed.path(),
        StoreSecret::RawKey(SecretKey::from_bytes(key_bytes())),
    )
    .unwrap();
    let g = c.find_group("Due in May").unwrap();
    let texts: Vec<String> = c
        .timeline(&g.id, None, 10)
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.text)
        .collect();
    assert_eq!(texts, ["first", "second"]);
}

#[test]
fn truncated_foreign_and_empty_files_are_clear_errors() {
    let home = Home::with_key();
    populated(&home);
    let db = home.path().join("hearth.db");
    let full = std::fs::read(&db).unwrap();
    let key = || StoreSecret::RawKey(SecretKey::from_bytes(key_bytes()));

    for cut in [full.len() / 2, full.len() - 1, 4096 + 17, 100, 40] {
        std::fs::write(&db, &full[..cut]).unwrap();
        let before = common::files(home.path());
        let err = open_err(home.path(), key());
        let text = err.to_string();
        assert!(
            matches!(err, Error::Store(StoreError::Corrupt { .. })),
            "cut at {cut}: {text}"
        );
        assert!(
            text.contains("damaged") && text.contains("truncated"),
            "cut at {cut}: {text}"
        );
        let out = home.command(&["read", "Due in May"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "cut at {cut}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
        common::assert_same_files(
            &before,
            &common::files(home.path()),
            &format!("cut at {cut}: opening changed the files"),
        );
    }

    let cases: [(&[u8], &str); 3] = [
        (b"", "the file is empty"),
        (b"hello, this is a text file that happens to be called hearth.db, not a database at all. It is long enough to have a header.", "not an SQLite database"),
        (&[0u8; 8192], "not an SQLite database"),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&db, bytes).unwrap();
        let err = open_err(home.path(), key()).to_string();
        assert!(
            err.contains("is not a Hearth store") && err.contains(expected),
            "{err}"
        );
        assert_eq!(std::fs::read(&db).unwrap(), bytes);
    }

    // Another application's SQLite database.
    std::fs::remove_file(&db).unwrap();
    {
        let other = rusqlite_free_sqlite_file(&db);
        let err = open_err(home.path(), key()).to_string();
        assert!(err.contains("another application"), "{err}");
        assert_eq!(std::fs::read(&db).unwrap(), other);
    }
}

/// A minimal valid SQLite file of no particular application: a header page with an empty
/// schema, written by hand so the test needs no SQLite of its own.
fn rusqlite_free_sqlite_file(path: &Path) -> Vec<u8> {
    let mut page = vec![0u8; 4096];
    page[..16].copy_from_slice(b"SQLite format 3\0");
    page[16..18].copy_from_slice(&4096u16.to_be_bytes());
    page[18] = 1; // file format write version (legacy)
    page[19] = 1; // read version
    page[21] = 64;
    page[22] = 32;
    page[23] = 32;
    page[24..28].copy_from_slice(&1u32.to_be_bytes()); // change counter
    page[28..32].copy_from_slice(&1u32.to_be_bytes()); // one page
    page[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format
    page[56..60].copy_from_slice(&1u32.to_be_bytes()); // UTF-8
    page[68..72].copy_from_slice(&0x1234_5678u32.to_be_bytes()); // someone else's application id
    page[92..96].copy_from_slice(&1u32.to_be_bytes()); // version-valid-for
    page[96..100].copy_from_slice(&3_046_000u32.to_be_bytes());
    page[100] = 0x0d; // empty table b-tree leaf (sqlite_schema)
    page[105..107].copy_from_slice(&4096u16.to_be_bytes()[..]);
    std::fs::write(path, &page).unwrap();
    page
}

#[test]
fn a_store_killed_mid_checkpoint_opens_and_keeps_everything() {
    // The state a kill during a checkpoint leaves: the main file already carries the new page 1
    // (whose header counts pages not yet copied), while the WAL still holds every commit.
    let home = Home::with_key();
    populated(&home);
    let key = || StoreSecret::RawKey(SecretKey::from_bytes(key_bytes()));
    let mut live = Companion::open(home.path(), key()).unwrap();
    let group = live.find_group("Due in May").unwrap();
    let lines: Vec<String> = (0..400)
        .map(|i| format!("growing the store, message {i}"))
        .collect();
    live.send_many(
        &group.id,
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .unwrap();
    let crashed = tempfile::tempdir().unwrap();
    for (path, bytes) in common::files(home.path()) {
        std::fs::write(crashed.path().join(path.file_name().unwrap()), bytes).unwrap();
    }
    live.close().unwrap();

    let db = crashed.path().join("hearth.db");
    let wal = std::fs::read(crashed.path().join("hearth.db-wal")).unwrap();
    let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
    let newest_page_one = wal[32..]
        .chunks_exact(24 + page_size)
        .rfind(|frame| u32::from_be_bytes(frame[..4].try_into().unwrap()) == 1)
        .expect("the WAL holds a newer page 1")[24..]
        .to_vec();
    let mut main = std::fs::read(&db).unwrap();
    main[..page_size].copy_from_slice(&newest_page_one);
    std::fs::write(&db, &main).unwrap();
    let described = u32::from_be_bytes(main[28..32].try_into().unwrap()) as usize * page_size;
    assert!(
        described > main.len(),
        "the main file now looks truncated: {described} > {}",
        main.len()
    );

    // A wrong key is still refused and leaves the database and its WAL as they were.
    let before = common::files(crashed.path());
    let err = open_err(
        crashed.path(),
        StoreSecret::RawKey(SecretKey::from_bytes([3; 32])),
    );
    assert!(
        matches!(err, Error::Store(StoreError::WrongSecret { .. })),
        "{err}"
    );
    let data_files = |files: Vec<(std::path::PathBuf, Vec<u8>)>| -> Vec<_> {
        files
            .into_iter()
            .filter(|(p, _)| !p.to_string_lossy().ends_with("-shm"))
            .collect()
    };
    common::assert_same_files(
        &data_files(before),
        &data_files(common::files(crashed.path())),
        "wrong key",
    );

    let c = Companion::open(crashed.path(), key()).unwrap();
    let page = c.timeline(&group.id, None, 1000).unwrap();
    assert_eq!(page.items.len(), 401);
    assert_eq!(
        page.items.last().unwrap().text,
        "growing the store, message 399"
    );
}
