-- Hearth store, schema 3: phone-to-phone. Envelopes other members handed this device directly
-- (no relay in between), kept until this device has passed them on to the relay.
CREATE TABLE forwarding (
    group_id INTEGER NOT NULL REFERENCES groups (id),
    author   BLOB    NOT NULL,  -- keyed hash of the author device, as group ids are
    seq      INTEGER NOT NULL,
    body     BLOB    NOT NULL,
    PRIMARY KEY (group_id, author, seq)
) STRICT, WITHOUT ROWID;
