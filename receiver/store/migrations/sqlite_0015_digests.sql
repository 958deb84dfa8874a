-- Digests: each digest's last run (`last_until`, unix time: the end of the period it covered)
-- and a lease, so one instance runs it at a time and a restart neither resends nor skips a
-- period; each run's report (`body`, JSON), which its deliveries (`deliveries.digest_id`) send.
CREATE TABLE digest_runs (
    name        TEXT PRIMARY KEY,
    last_until  REAL,
    lease_owner TEXT,
    lease_until REAL
);
CREATE TABLE digests (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    since      TEXT NOT NULL,
    until      TEXT NOT NULL,
    body       BLOB NOT NULL,
    created_at TEXT NOT NULL
);
ALTER TABLE deliveries ADD COLUMN digest_id TEXT;
