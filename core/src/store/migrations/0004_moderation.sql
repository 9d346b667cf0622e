-- Hearth store, schema 4: moderation. Every moderation record this device holds (its own and
-- those that arrived, checked), one row per record id, sealed. The chapters stay the truth;
-- this is what the group's moderation state, review queue and audit log are folded from
-- without loading a document.
CREATE TABLE moderation (
    group_id INTEGER NOT NULL REFERENCES groups (id),
    id       BLOB    NOT NULL,  -- the record's random id
    carried  INTEGER NOT NULL,  -- 1: a copy carried into a newer chapter, 0: as written
    body     BLOB    NOT NULL,
    PRIMARY KEY (group_id, id)
) STRICT, WITHOUT ROWID;
