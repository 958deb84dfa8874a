-- The events listing on a large store: newest first by (received_at, id), the next page after
-- the last row's (received_at, id). Each index below holds a filtered column then those two,
-- so a page, with or without a time range, is a short walk down one index from the cursor, and
-- the ids are found in the index alone before the page's rows are read.
DROP INDEX events_received;
CREATE INDEX events_received_id ON events (received_at, id);
CREATE INDEX events_source_received ON events (source, received_at, id);
CREATE INDEX events_type_received ON events (type, received_at, id);
CREATE INDEX events_status_received ON events (status, received_at, id);
-- Labels live in the event body's JSON, which no index reaches; this table holds each label of
-- each event, ordered so that a label filter walks one label's events newest first.
CREATE TABLE event_labels (
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    event_at    TEXT NOT NULL,
    event_id    TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (key, value, event_at, event_id)
) WITHOUT ROWID;
CREATE INDEX event_labels_event ON event_labels (event_id);
INSERT INTO event_labels (key, value, event_at, event_id)
SELECT l.key, l.value, e.received_at, e.id FROM events e, json_each(e.body, '$.labels') l;
