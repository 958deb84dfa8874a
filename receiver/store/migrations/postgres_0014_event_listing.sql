-- The events listing on a large store: newest first by (received_at, id), the next page after
-- the last row's (received_at, id). Each index below holds a filtered column then those two,
-- so a page, with or without a time range, is a short walk down one index from the cursor.
-- Label filters (`labels @>`) use a GIN index over the labels' key-value pairs.
DROP INDEX events_received;
CREATE INDEX events_received_id ON events (received_at, id);
CREATE INDEX events_source_received ON events (source, received_at, id);
CREATE INDEX events_type_received ON events (type, received_at, id);
CREATE INDEX events_status_received ON events (status, received_at, id);
CREATE INDEX events_labels ON events USING gin (labels jsonb_path_ops);
