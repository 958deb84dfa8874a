-- Usage: the facts usage and digests aggregate, as columns the store can group and sum
-- without decoding event bodies. `first_report` marks a task's first report (so each task
-- counts once), `gen_seconds` is finished_at - created_at, `error` the failure's message.
-- `labels` is a copy of the event's labels for grouping, as PostgreSQL's events.labels is.
ALTER TABLE events ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE events ADD COLUMN duration_s REAL;
ALTER TABLE events ADD COLUMN resolution TEXT;
ALTER TABLE events ADD COLUMN audio INTEGER;
ALTER TABLE events ADD COLUMN credits REAL;
ALTER TABLE events ADD COLUMN refunded INTEGER;
ALTER TABLE events ADD COLUMN first_report INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN gen_seconds REAL;
ALTER TABLE events ADD COLUMN error TEXT;
-- How many reports moved the task forward (1: its first), and what its submit request asked
-- for (JSON: model, duration_s, resolution, audio), which its events carry where the
-- provider says nothing.
ALTER TABLE tasks ADD COLUMN reports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN facts TEXT;
