-- Hearth relay, schema 1. Never edit a landed migration; add the next number instead.
-- The relay holds no key that opens any of these blobs: envelopes, snapshots and the sealed
-- parts of operations and registrations are ciphertext to it. Blobs named `op`, `envelope`,
-- `snapshot` and `signed_join` are the exact CBOR that was received and verified.

-- Groups this relay serves. Created by the group's first (creation) operation.
CREATE TABLE groups (
    group_id   BLOB    NOT NULL PRIMARY KEY,
    creator    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Each group's membership log, in order: `idx` 0 is the creation.
CREATE TABLE log_ops (
    group_id    BLOB    NOT NULL REFERENCES groups (group_id),
    idx         INTEGER NOT NULL,
    author      BLOB    NOT NULL,
    op          BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, idx)
) STRICT;

-- Which group's log made each invite, so a join finds its group without scanning logs.
CREATE TABLE invites (
    invite   BLOB NOT NULL PRIMARY KEY,
    group_id BLOB NOT NULL REFERENCES groups (group_id)
) STRICT, WITHOUT ROWID;

-- Envelopes, by the per-group cursor the relay assigns (1, 2, 3, ... in arrival order).
-- `chapters` is the header's chapter list ("2,3"); `sole_chapter` is its only chapter, or 0
-- when it touches several (what a snapshot of one chapter can replace); `last_chapter` is its
-- newest chapter (what counts towards asking for a snapshot).
CREATE TABLE envelopes (
    group_id     BLOB    NOT NULL REFERENCES groups (group_id),
    cursor       INTEGER NOT NULL,
    author       BLOB    NOT NULL,
    seq          INTEGER NOT NULL,
    epoch        INTEGER NOT NULL,
    chapters     TEXT    NOT NULL,
    sole_chapter INTEGER NOT NULL DEFAULT 0,
    last_chapter INTEGER NOT NULL,
    envelope_id  BLOB    NOT NULL,
    envelope     BLOB    NOT NULL,
    size         INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, cursor),
    UNIQUE (group_id, author, seq)
) STRICT;

-- The newest snapshot of each chapter (by the cursor it covers).
CREATE TABLE snapshots (
    group_id    BLOB    NOT NULL REFERENCES groups (group_id),
    chapter     INTEGER NOT NULL,
    epoch       INTEGER NOT NULL,
    covers      INTEGER NOT NULL,
    maker       BLOB    NOT NULL,
    snapshot_id BLOB    NOT NULL,
    snapshot    BLOB    NOT NULL,
    size        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, chapter)
) STRICT;

-- Registrations waiting for a moderator's admission; one per invite (invites are single use).
CREATE TABLE pending_joins (
    group_id    BLOB    NOT NULL REFERENCES groups (group_id),
    invite      BLOB    NOT NULL,
    device      BLOB    NOT NULL,
    signed_join BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, invite)
) STRICT;

CREATE INDEX pending_joins_by_device ON pending_joins (group_id, device);
