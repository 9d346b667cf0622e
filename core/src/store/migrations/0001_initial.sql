-- Hearth store, schema 1. Never edit a landed migration; add the next number instead.
-- Every column named `body` holds a value sealed with the store cipher (see crypto.rs); the
-- associated data names the table and row, so sealed values cannot be moved between rows.

-- Ways to open the store: each slot wraps the random data key under one secret.
CREATE TABLE key_slots (
    kind            TEXT    NOT NULL PRIMARY KEY CHECK (kind IN ('raw-key', 'passphrase')),
    kdf_algorithm   TEXT    NOT NULL DEFAULT '',
    kdf_memory_kib  INTEGER NOT NULL DEFAULT 0,
    kdf_iterations  INTEGER NOT NULL DEFAULT 0,
    kdf_parallelism INTEGER NOT NULL DEFAULT 0,
    kdf_salt        BLOB    NOT NULL DEFAULT x'',
    wrapped_key     BLOB    NOT NULL
) STRICT;

-- The one person on this device: pseudonym, role, device keys.
CREATE TABLE profile (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    body BLOB    NOT NULL
) STRICT;

-- Groups this device belongs to. `group_hash` is a keyed hash of the group id, for lookups
-- that do not reveal the id; `body` caches what the list and timeline screens need.
CREATE TABLE groups (
    id          INTEGER NOT NULL PRIMARY KEY,
    group_hash  BLOB    NOT NULL UNIQUE,
    body        BLOB    NOT NULL,
    doc_version INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Each group's Automerge document: the newest snapshot plus the changes made since.
CREATE TABLE doc_chunks (
    id       INTEGER NOT NULL PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups (id),
    kind     TEXT    NOT NULL CHECK (kind IN ('snapshot', 'change')),
    body     BLOB    NOT NULL
) STRICT;
CREATE INDEX doc_chunks_by_group ON doc_chunks (group_id, id);

-- The timeline, materialised from the document in blocks of consecutive messages so the first
-- screen reads two or three rows instead of the group's history. `first_key` is the sort key
-- of the block's first message (order stamp and message id, no text).
CREATE TABLE timeline_blocks (
    group_id  INTEGER NOT NULL REFERENCES groups (id),
    first_key BLOB    NOT NULL,
    body      BLOB    NOT NULL,
    PRIMARY KEY (group_id, first_key)
) STRICT, WITHOUT ROWID;
