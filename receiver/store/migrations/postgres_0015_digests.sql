-- Digests: each digest's last run (`last_until`, unix time: the end of the period it covered)
-- and a lease, so one instance runs it at a time and a restart neither resends nor skips a
-- period; each run's report (`body`, JSON), which its deliveries (`deliveries.digest_id`) send.
CREATE TABLE digest_runs (
    name        text PRIMARY KEY,
    last_until  double precision,
    lease_owner text,
    lease_until double precision
);
CREATE TABLE digests (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    since      text NOT NULL,
    until      text NOT NULL,
    body       bytea NOT NULL,
    created_at text NOT NULL
);
ALTER TABLE deliveries ADD COLUMN digest_id text;
