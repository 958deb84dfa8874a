-- Grouping: the events a rule batches for a slack or email sink wait in an open group (one per
-- rule, sink and group key) until `flush_at` (unix time); the group flusher then turns the
-- group into one delivery (`deliveries.group_id`). A sent group stays as its key's last flush
-- (`flushed_at`), which puts the key's next group `group_interval` after it.
CREATE TABLE event_groups (
    id          text PRIMARY KEY,
    rule        text NOT NULL,
    sink        text NOT NULL,
    group_key   text NOT NULL,
    state       text NOT NULL,
    flush_at    double precision NOT NULL,
    size        integer NOT NULL DEFAULT 0,
    delivery_id text,
    flushed_at  double precision,
    created_at  text NOT NULL
);
CREATE UNIQUE INDEX event_groups_open ON event_groups (rule, sink, group_key) WHERE state = 'open';
CREATE INDEX event_groups_due ON event_groups (flush_at) WHERE state = 'open';
CREATE INDEX event_groups_key ON event_groups (rule, sink, group_key, flushed_at);

CREATE TABLE event_group_members (
    group_id text NOT NULL REFERENCES event_groups (id) ON DELETE CASCADE,
    event_id text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, event_id)
);
CREATE INDEX event_group_members_event ON event_group_members (event_id);

ALTER TABLE deliveries ADD COLUMN group_id text;
