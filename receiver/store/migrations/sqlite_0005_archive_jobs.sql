-- Archive jobs: one per video of a completed event, claimed with leases like deliveries.
-- `state` is pending, archived, dead or removing (its event or its retention is gone; the
-- stored copy is deleted before the row). No foreign key to events: a job outlives its event
-- until its stored copy is deleted, so pruning never leaves an orphan file.
CREATE TABLE archive_jobs (
    id           TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL,
    n            INTEGER NOT NULL,
    url          TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      REAL NOT NULL,
    give_up_at   REAL NOT NULL,
    lease_owner  TEXT,
    lease_until  REAL,
    key          TEXT,
    size         INTEGER,
    sha256       TEXT,
    content_type TEXT,
    etag         TEXT,
    archived_at  REAL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    last_error   TEXT,
    UNIQUE (event_id, n)
);
CREATE INDEX archive_jobs_due ON archive_jobs (state, next_at);
