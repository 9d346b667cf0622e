-- Hearth relay, schema 2: direct notes. Never edit a landed migration; add the next number instead.
-- A direct note goes from one member of a group to one other (a report to a moderator, a safety
-- alert, a nudge, a shared self-check). Its body is sealed to the recipient; `direct` is the
-- exact CBOR of the whole `Direct` as received and verified, which the relay cannot open.
--
-- A note is kept only until its recipient's device says it has stored it (its direct cursor
-- reaches `seq`), or until she leaves the group; nothing here is history.
--
-- `seq` is AUTOINCREMENT, not a plain rowid: rows are deleted all the time, and a plain rowid
-- would hand a deleted note's number to a new one, which a device whose cursor already passed
-- that number would then never receive.
CREATE TABLE directs (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    group_id    BLOB    NOT NULL REFERENCES groups (group_id),
    recipient   BLOB    NOT NULL,
    sender      BLOB    NOT NULL,
    note_id     BLOB    NOT NULL,
    direct      BLOB    NOT NULL,
    size        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (group_id, recipient, note_id)
) STRICT;

-- A device's inbox in a group, in number order: delivery, acknowledgement, removal.
CREATE INDEX directs_inbox ON directs (group_id, recipient, seq);
