-- Usage: the facts usage and digests aggregate, as columns the store can group and sum
-- without decoding event bodies. `first_report` marks a task's first report (so each task
-- counts once), `gen_seconds` is finished_at - created_at, `error` the failure's message.
ALTER TABLE events ADD COLUMN duration_s double precision;
ALTER TABLE events ADD COLUMN resolution text;
ALTER TABLE events ADD COLUMN audio boolean;
ALTER TABLE events ADD COLUMN credits double precision;
ALTER TABLE events ADD COLUMN refunded boolean;
ALTER TABLE events ADD COLUMN first_report boolean NOT NULL DEFAULT false;
ALTER TABLE events ADD COLUMN gen_seconds double precision;
ALTER TABLE events ADD COLUMN error text;
-- How many reports moved the task forward (1: its first), and what its submit request asked
-- for (JSON: model, duration_s, resolution, audio), which its events carry where the
-- provider says nothing.
ALTER TABLE tasks ADD COLUMN reports integer NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN facts text;
