-- Archive jobs: one per video of a completed event, claimed with leases like deliveries.
-- `state` is pending, archived, dead or removing (its event or its retention is gone; the
-- stored copy is deleted before the row). No foreign key to events: a job outlives its event
-- until its stored copy is deleted, so pruning never leaves an orphan file.
CREATE TABLE archive_jobs (
    id           text PRIMARY KEY,
    event_id     text NOT NULL,
    n            integer NOT NULL,
    url          text NOT NULL,
    state        text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    next_at      double precision NOT NULL,
    give_up_at   double precision NOT NULL,
    lease_owner  text,
    lease_until  double precision,
    key          text,
    size         bigint,
    sha256       text,
    content_type text,
    etag         text,
    archived_at  double precision,
    created_at   text NOT NULL,
    updated_at   text NOT NULL,
    last_error   text,
    UNIQUE (event_id, n)
);
CREATE INDEX archive_jobs_due ON archive_jobs (state, next_at);
