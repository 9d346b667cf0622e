-- Hearth store, schema 6: messages the on-device risk detector flagged for a moderator.
-- Only a moderator's device scans what it receives, and only it keeps these rows; the author
-- is never told. `message` is a keyed hash of the message id; the body is sealed.
CREATE TABLE detections (
    group_id INTEGER NOT NULL REFERENCES groups (id),
    message  BLOB    NOT NULL,
    body     BLOB    NOT NULL,
    PRIMARY KEY (group_id, message)
) STRICT, WITHOUT ROWID;
