-- The safety net: a task whose provider calls back is awaited until `grace_until` (unix
-- time); past it with no final status it is overdue and polled. Open tasks are counted and
-- listed by it, so a partial index over open tasks keeps that cheap however many have ended.
ALTER TABLE tasks ADD COLUMN grace_until REAL;
CREATE INDEX tasks_open ON tasks (grace_until) WHERE rank < 2;

-- The pace of task queries per provider API key, shared by every vidhook on this database:
-- `next_at` (unix time) is the key's next free turn. `key` is a hash, never the API key.
CREATE TABLE query_pace (
    key     TEXT PRIMARY KEY,
    next_at REAL NOT NULL
);
