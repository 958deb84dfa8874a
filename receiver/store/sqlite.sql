-- name: insert_event
INSERT INTO events (id, source, provider, task_id, type, status, model, received_at, stale, held, body)
VALUES (:id, :source, :provider, :task_id, :type, :status, :model, :received_at, :stale, :held, :body)
ON CONFLICT (source, task_id, status) DO NOTHING
RETURNING id

-- name: event_by_key
SELECT body, stale, held, note FROM events WHERE source = :source AND task_id = :task_id AND status = :status

-- name: insert_raw
INSERT INTO raw_requests (event_id, method, path, client, headers, body)
VALUES (:event_id, :method, :path, :client, :headers, :body)

-- name: task_state
SELECT status, rank, labels FROM tasks WHERE source = :source AND task_id = :task_id

-- name: upsert_task
INSERT INTO tasks (source, task_id, status, rank, labels, created_at, updated_at)
VALUES (:source, :task_id, :status, :rank, '{}', :now, :now)
ON CONFLICT (source, task_id) DO UPDATE SET
    status = excluded.status, rank = excluded.rank, updated_at = excluded.updated_at,
    poll = CASE WHEN excluded.rank >= 2 THEN 0 ELSE tasks.poll END

-- name: insert_delivery
INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at)
VALUES (:id, :event_id, :sink, :rule, :state, :replay, :webhook_id, :next_at, :now, :now)

-- name: insert_rejection
INSERT INTO rejected (at, source, reason, status, message, client, size, head)
VALUES (:at, :source, :reason, :status, :message, :client, :size, :head)

-- name: trim_rejections
DELETE FROM rejected WHERE id <= (SELECT max(id) FROM rejected) - :keep

-- name: get_meta
SELECT value FROM meta WHERE key = :key

-- name: set_meta
INSERT INTO meta (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: claim_deliveries
UPDATE deliveries SET lease_owner = :owner, lease_until = :lease_until
WHERE id IN (
    SELECT id FROM deliveries
    WHERE state = 'pending' AND sink = :sink AND next_at <= :now
      AND (lease_until IS NULL OR lease_until < :now)
    ORDER BY next_at LIMIT :limit
)
RETURNING id

-- name: claimed_details
SELECT d.id, d.event_id, d.sink, d.webhook_id, d.attempts, d.replay, e.body, r.body
FROM deliveries d JOIN events e ON e.id = d.event_id
LEFT JOIN raw_requests r ON r.event_id = d.event_id
WHERE d.id IN (SELECT value FROM json_each(:ids))

-- name: insert_attempt
INSERT INTO attempts (delivery_id, number, at, outcome, status_code, latency_ms, error, response)
VALUES (:delivery_id, :number, :at, :outcome, :status_code, :latency_ms, :error, :response)

-- name: finish_delivery
UPDATE deliveries SET
    state = CASE :outcome WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead' ELSE 'pending' END,
    attempts = :number, next_at = coalesce(:next_at, next_at), lease_owner = NULL, lease_until = NULL,
    updated_at = :at, last_error = :error
WHERE id = :delivery_id

-- name: release_leases
UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = :owner

-- name: lease_owners
SELECT DISTINCT lease_owner FROM deliveries WHERE lease_owner IS NOT NULL

-- name: next_due
SELECT min(next_at) FROM deliveries WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < :now)
  AND (:sinks IS NULL OR sink IN (SELECT value FROM json_each(:sinks)))

-- name: get_event
SELECT body, stale, held, note FROM events WHERE id = :id

-- name: get_raw
SELECT method, path, client, headers, body FROM raw_requests WHERE event_id = :id

-- name: deliveries_of_event
SELECT id, event_id, sink, rule, state, replay, webhook_id, attempts, next_at, created_at, updated_at, last_error
FROM deliveries WHERE event_id = :id ORDER BY id

-- name: attempts_of_event
SELECT a.delivery_id, a.number, a.at, a.outcome, a.latency_ms, a.status_code, a.error, a.response
FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
WHERE d.event_id = :id ORDER BY a.id

-- name: list_deliveries
SELECT id, event_id, sink, rule, state, replay, webhook_id, attempts, next_at, created_at, updated_at, last_error
FROM deliveries
WHERE (:state IS NULL OR state = :state) AND (:sink IS NULL OR sink = :sink)
  AND (:before_id IS NULL OR id < :before_id)
ORDER BY id DESC LIMIT :limit

-- name: get_delivery
SELECT id, event_id, sink, rule, state, replay, webhook_id, attempts, next_at, created_at, updated_at, last_error
FROM deliveries WHERE id = :id

-- name: retry_delivery
-- A pending delivery a worker holds right now is left alone: it is being sent.
UPDATE deliveries SET state = 'pending', next_at = :now, updated_at = :at, lease_owner = NULL, lease_until = NULL
WHERE id = :id
  AND (state = 'dead' OR (state = 'pending' AND (lease_until IS NULL OR lease_until < :now)))
RETURNING id

-- name: retry_dead
UPDATE deliveries SET state = 'pending', next_at = :now, updated_at = :at
WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)

-- name: sink_stats
SELECT sink,
    sum(state = 'pending'), sum(state = 'dead'), sum(state = 'delivered'),
    (SELECT max(a.at) FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome = 'delivered'),
    (SELECT max(a.at) FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome != 'delivered'),
    (SELECT a.error FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome != 'delivered' ORDER BY a.id DESC LIMIT 1)
FROM deliveries d GROUP BY sink ORDER BY sink

-- name: list_rejected
SELECT at, source, reason, status, message, client, size, head FROM rejected ORDER BY id DESC LIMIT :limit

-- name: outbox_depth
-- The backlog and when its oldest delivery was stored (unix seconds): next_at would not do,
-- as it is 0 for a new delivery and in the future for one waiting to be retried.
SELECT count(*), (julianday(min(created_at)) - 2440587.5) * 86400.0
FROM deliveries WHERE state = 'pending'

-- name: prune_events
DELETE FROM events WHERE received_at < :before
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state IN ('pending', 'held'))

-- name: prune_tasks
-- Run after prune_events: a task goes only when none of its events is left, so the events
-- kept still find their task's rank (what makes a late report stale). Polled tasks stay.
DELETE FROM tasks WHERE updated_at < :before AND (rank >= 2 OR poll = 0)
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.source = tasks.source AND e.task_id = tasks.task_id)

-- name: prune_attempts
DELETE FROM attempts WHERE at < :before

-- name: prune_raw
DELETE FROM raw_requests WHERE event_id IN (SELECT id FROM events WHERE received_at < :before)
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = raw_requests.event_id AND d.state IN ('pending', 'held'))
