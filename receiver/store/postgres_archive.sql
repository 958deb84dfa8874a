-- PostgreSQL's archive job statements, with the same names and column aliases as sqlite_archive.sql.

-- name: archive_job_columns
id, event_id, n, url, state, attempts, next_at, give_up_at, key, size, sha256, content_type,
    etag, archived_at, created_at, updated_at, last_error

-- name: add_archive_jobs
INSERT INTO archive_jobs (id, event_id, n, url, state, next_at, give_up_at, created_at, updated_at)
SELECT j.id, :event_id, j.n, j.url, 'pending', 0, :give_up_at, :now, :now
FROM jsonb_to_recordset(:jobs::jsonb) AS j (id text, n integer, url text)
ON CONFLICT (event_id, n) DO NOTHING

-- name: next_archive_due
SELECT min(next_at) AS at FROM archive_jobs
WHERE state IN ('pending', 'removing') AND (lease_until IS NULL OR lease_until < :now)

-- name: claim_archive_jobs
-- SKIP LOCKED: instances claiming at the same moment each take different rows, never waiting.
UPDATE archive_jobs a SET lease_owner = :owner, lease_until = :lease_until
FROM (
    SELECT id FROM archive_jobs
    WHERE state IN ('pending', 'removing') AND next_at <= :now
      AND (lease_until IS NULL OR lease_until < :now)
    ORDER BY next_at LIMIT :limit
    FOR UPDATE SKIP LOCKED
) due
WHERE a.id = due.id
RETURNING a.id, a.event_id, a.n, a.url, a.state, a.attempts, a.next_at, a.give_up_at, a.key,
    a.size, a.sha256, a.content_type, a.etag, a.archived_at, a.created_at, a.updated_at,
    a.last_error

-- name: lock_event_body
-- Locked to the commit: two videos of one event finishing at once write its links in turn.
SELECT body FROM events WHERE id = :id FOR UPDATE

-- name: set_event_body
UPDATE events SET body = :body WHERE id = :id

-- name: archive_stored
UPDATE archive_jobs SET state = 'archived', key = :key, size = :size, sha256 = :sha256,
    content_type = :content_type, etag = :etag, attempts = attempts + 1, archived_at = :now,
    lease_owner = NULL, lease_until = NULL, updated_at = :at, last_error = NULL
WHERE id = :id AND state = 'pending'

-- name: archive_failed
UPDATE archive_jobs SET state = :state, attempts = attempts + 1,
    next_at = coalesce(:next_at::double precision, next_at),
    lease_owner = NULL, lease_until = NULL, updated_at = :at, last_error = :error
WHERE id = :id AND state = 'pending'

-- name: archive_jobs_of_event
SELECT /* include archive_job_columns */ FROM archive_jobs WHERE event_id = :event_id ORDER BY n

-- name: release_waiting_deliveries
-- Deliveries held back for the archive (due later, never tried) go out now.
UPDATE deliveries SET next_at = :now
WHERE event_id = :event_id AND state = 'pending' AND attempts = 0 AND next_at > :now

-- name: list_archive_jobs
SELECT /* include archive_job_columns */ FROM archive_jobs
WHERE (:state::text IS NULL OR state = :state) AND (:event_id::text IS NULL OR event_id = :event_id)
  AND (:before_id::text IS NULL OR id < :before_id)
ORDER BY id DESC LIMIT :limit

-- name: get_archive_job
SELECT /* include archive_job_columns */ FROM archive_jobs WHERE id = :id

-- name: archived_copy
SELECT /* include archive_job_columns */ FROM archive_jobs
WHERE event_id = :event_id AND n = :n AND state = 'archived'

-- name: retry_archive
-- A job a worker holds right now is left alone; a retry past the give-up time gets one try.
UPDATE archive_jobs SET state = 'pending', next_at = :now, give_up_at = greatest(give_up_at, :now),
    lease_owner = NULL, lease_until = NULL, updated_at = :at
WHERE id = :id
  AND (state = 'dead' OR (state = 'pending' AND (lease_until IS NULL OR lease_until < :now)))

-- name: retry_dead_archives
UPDATE archive_jobs SET state = 'pending', next_at = :now, give_up_at = greatest(give_up_at, :now),
    updated_at = :at
WHERE state = 'dead'

-- name: archive_counts
SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
    count(*) FILTER (WHERE state = 'dead') AS dead,
    count(*) FILTER (WHERE state = 'archived') AS archived
FROM archive_jobs

-- name: prune_archive
-- Run before prune_events, with its condition: the jobs of the events about to go are
-- marked for removal, so their stored copies are deleted before their rows.
UPDATE archive_jobs SET state = 'removing', next_at = 0, lease_owner = NULL, lease_until = NULL
WHERE event_id IN (
    SELECT id FROM events WHERE received_at < :before
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state IN ('pending', 'held')))

-- name: expire_archives
UPDATE archive_jobs SET state = 'removing', next_at = 0 WHERE state = 'archived' AND archived_at < :before

-- name: forget_archive
DELETE FROM archive_jobs WHERE id = :id AND state = 'removing'

-- name: release_archive_leases
UPDATE archive_jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = :owner

-- name: archive_lease_owners
SELECT DISTINCT lease_owner FROM archive_jobs WHERE lease_owner IS NOT NULL

-- name: add_meta
-- The first writer wins: instances starting at once all keep the value stored first.
INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING
