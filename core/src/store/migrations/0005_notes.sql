-- Hearth store, schema 5: direct notes and private safety records.
-- Notes this device sent or received (reports, their progress, safety alerts, nudges, shared
-- self-checks), one row per sender and note id, sealed. `sender` is a keyed hash.
CREATE TABLE notes (
    group_id INTEGER NOT NULL REFERENCES groups (id),
    sender   BLOB    NOT NULL,
    note_id  BLOB    NOT NULL,
    body     BLOB    NOT NULL,
    PRIMARY KEY (group_id, sender, note_id)
) STRICT, WITHOUT ROWID;

-- Sealed direct notes waiting for the relay, one per recipient; re-sent byte for byte until
-- the relay answers for them. `recipient` is a keyed hash.
CREATE TABLE direct_out (
    group_id  INTEGER NOT NULL REFERENCES groups (id),
    note_id   BLOB    NOT NULL,
    recipient BLOB    NOT NULL,
    body      BLOB    NOT NULL,
    PRIMARY KEY (group_id, note_id, recipient)
) STRICT, WITHOUT ROWID;

-- Self-check results (EPDS): private to this device, never synced. Shared only by a direct
-- note the mother sends herself, with her consent each time.
CREATE TABLE self_checks (
    id   INTEGER NOT NULL PRIMARY KEY,
    body BLOB    NOT NULL
) STRICT;

-- Small per-profile settings (content filters, help-card region, nudge templates), sealed.
CREATE TABLE settings (
    key  TEXT NOT NULL PRIMARY KEY,
    body BLOB NOT NULL
) STRICT, WITHOUT ROWID;
