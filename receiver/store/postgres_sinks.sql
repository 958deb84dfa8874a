-- Sink health, the circuit breaker, as in sqlite_sinks.sql (see store_health.py).
-- Times are unix seconds.

-- name: sink_health
SELECT sink, failures, paused_at, paused_by, actor, next_probe_at, last_error, updated_at
FROM sink_health ORDER BY sink

-- name: sink_failed
INSERT INTO sink_health (sink, failures, last_error, updated_at)
VALUES (:sink, 1, :error, :now)
ON CONFLICT (sink) DO UPDATE SET
    failures = sink_health.failures + 1, last_error = excluded.last_error,
    updated_at = excluded.updated_at
RETURNING sink, failures, paused_at, paused_by, actor, next_probe_at, last_error, updated_at

-- name: pause_automatically
UPDATE sink_health SET paused_at = :now, paused_by = 'automatic', next_probe_at = :next_probe_at
WHERE sink = :sink AND paused_at IS NULL
RETURNING sink, failures, paused_at, paused_by, actor, next_probe_at, last_error, updated_at

-- name: sink_succeeded
-- A success resumes an automatic pause; a pause by hand stays until it is lifted by hand.
UPDATE sink_health SET
    failures = 0, updated_at = :now,
    paused_at = CASE WHEN paused_by = 'automatic' THEN NULL ELSE paused_at END,
    next_probe_at = CASE WHEN paused_by = 'automatic' THEN NULL ELSE next_probe_at END,
    paused_by = CASE WHEN paused_by = 'automatic' THEN NULL ELSE paused_by END
WHERE sink = :sink AND (failures > 0 OR paused_by = 'automatic')

-- name: pause_by_hand
INSERT INTO sink_health (sink, failures, paused_at, paused_by, actor, updated_at)
VALUES (:sink, 0, :now, 'hand', :actor, :now)
ON CONFLICT (sink) DO UPDATE SET
    paused_at = coalesce(sink_health.paused_at, excluded.paused_at), paused_by = 'hand',
    actor = excluded.actor, next_probe_at = NULL, updated_at = excluded.updated_at

-- name: resume_sink
UPDATE sink_health SET
    failures = 0, paused_at = NULL, paused_by = NULL, actor = NULL, next_probe_at = NULL,
    updated_at = :now
WHERE sink = :sink

-- name: take_probe_turn
-- The row lock makes this the one probe of its interval: an instance taking it at the same
-- moment waits for the lock, then finds next_probe_at moved and takes nothing.
UPDATE sink_health SET next_probe_at = :next_probe_at
WHERE sink = :sink AND paused_by = 'automatic' AND next_probe_at <= :now
  AND EXISTS (
      SELECT 1 FROM deliveries
      WHERE state = 'pending' AND sink = :sink AND next_at <= :now
        AND (lease_until IS NULL OR lease_until < :now))
RETURNING sink
