-- Hearth store, schema 2: sync. A group's conversation becomes a series of chapters (one per
-- key epoch) beside a verified membership log. Groups from schema 1 had no log and no keys;
-- the store refuses to migrate a schema-1 store that holds any (see docs/decisions.md #5), so
-- dropping `doc_chunks` here drops nothing.
DROP TABLE doc_chunks;

-- Chapter documents: per chapter, the newest snapshot plus the changes since. `local_seq`
-- numbers this device's own changes (the outbox counter); NULL for changes from others.
CREATE TABLE chunks (
    id        INTEGER NOT NULL PRIMARY KEY,
    group_id  INTEGER NOT NULL REFERENCES groups (id),
    chapter   INTEGER NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('snapshot', 'change')),
    local_seq INTEGER,
    body      BLOB    NOT NULL
) STRICT;
CREATE INDEX chunks_by_chapter ON chunks (group_id, chapter, id);
CREATE UNIQUE INDEX chunks_by_local_seq ON chunks (group_id, local_seq) WHERE local_seq IS NOT NULL;

-- The group's membership log, verified before it is stored, in log order.
CREATE TABLE log_ops (
    group_id INTEGER NOT NULL REFERENCES groups (id),
    idx      INTEGER NOT NULL,
    body     BLOB    NOT NULL,
    PRIMARY KEY (group_id, idx)
) STRICT, WITHOUT ROWID;

-- Envelopes this device has built and signed but the relay has not acknowledged. They are
-- re-sent byte for byte until it does, which makes an interrupted upload idempotent.
CREATE TABLE outgoing (
    group_id INTEGER NOT NULL REFERENCES groups (id),
    seq      INTEGER NOT NULL,
    body     BLOB    NOT NULL,
    PRIMARY KEY (group_id, seq)
) STRICT, WITHOUT ROWID;
