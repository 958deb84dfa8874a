-- Fewer b-trees for each ingest to write. The raw request moves into its event's row (the
-- `raw_*` columns, after every column the listing and usage read, so neither walks past
-- it): one insert less per callback, and the raw_requests table and its key index go. Only
-- tasks being polled are indexed for polling: a task that is not is no entry to write.
ALTER TABLE events ADD COLUMN raw_method TEXT;
ALTER TABLE events ADD COLUMN raw_path TEXT;
ALTER TABLE events ADD COLUMN raw_client TEXT;
ALTER TABLE events ADD COLUMN raw_headers BLOB;
ALTER TABLE events ADD COLUMN raw_body BLOB;
UPDATE events SET (raw_method, raw_path, raw_client, raw_headers, raw_body) = (
    SELECT r.method, r.path, r.client, r.headers, r.body FROM raw_requests r WHERE r.event_id = events.id)
WHERE id IN (SELECT event_id FROM raw_requests);
DROP TABLE raw_requests;
DROP INDEX tasks_poll;
CREATE INDEX tasks_polled ON tasks (poll_next_at) WHERE poll = 1;
