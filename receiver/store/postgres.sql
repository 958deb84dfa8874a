-- PostgreSQL's statements, with the same names and column aliases as sqlite.sql.

-- name: ping
SELECT 1 AS ok

-- name: readiness_probe
-- A real commit: a read-only database (a standby, a full disk's emergency mode) fails it.
INSERT INTO readiness (id, at) VALUES (1, :at) ON CONFLICT (id) DO UPDATE SET at = excluded.at

-- name: advance_task
-- Locks the task row (creating it if new) for the rest of the ingest transaction, so instances
-- ingesting the same task take turns. Returns a row only when the status moves the task forward.
INSERT INTO tasks (source, task_id, status, rank, labels, created_at, updated_at, reports)
VALUES (:source, :task_id, :status, :rank, '{}', :now, :now, 1)
ON CONFLICT (source, task_id) DO UPDATE SET
    status = excluded.status, rank = excluded.rank, updated_at = excluded.updated_at,
    reports = tasks.reports + 1,
    poll = CASE WHEN excluded.rank >= 2 THEN false ELSE tasks.poll END
WHERE tasks.rank < excluded.rank
RETURNING labels, reports, facts

-- name: task_and_event
-- Read after advance_task took the lock, so a concurrent ingest of the same key has committed.
SELECT t.labels, t.facts, e.body, e.stale
FROM tasks t
LEFT JOIN events e ON e.source = t.source AND e.task_id = t.task_id AND e.status = :status
WHERE t.source = :source AND t.task_id = :task_id

-- name: insert_event
-- The event, its raw request and its deliveries in one statement.
WITH ev AS (
    INSERT INTO events (id, source, provider, task_id, type, status, model, received_at, stale, held, labels, body,
        duration_s, resolution, audio, credits, refunded, first_report, gen_seconds, error)
    VALUES (:id, :source, :provider, :task_id, :type, :status, :model, :received_at, :stale, :held,
        replace(:labels, '\u0000', '\ufffd')::jsonb, :body,
        :duration_s, :resolution, :audio, :credits, :refunded, :first_report, :gen_seconds, :error)
    ON CONFLICT (source, task_id, status) DO NOTHING
    RETURNING id
), raw AS (
    INSERT INTO raw_requests (event_id, method, path, client, headers, body)
    SELECT id, :method, :path, :client, :headers, :raw_body FROM ev
), dl AS (
    INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at)
    SELECT d.id, ev.id, d.sink, d.rule, :state, false, d.webhook_id, :due, :now, :now
    FROM ev, jsonb_to_recordset(:deliveries::jsonb) AS d (id text, sink text, rule text, webhook_id text)
)
SELECT id FROM ev

-- name: event_by_key
SELECT body, stale FROM events WHERE source = :source AND task_id = :task_id AND status = :status

-- name: add_deliveries
INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at)
SELECT d.id, d.event_id, d.sink, d.rule, 'pending', :replay, d.webhook_id, :due, :now, :now
FROM jsonb_to_recordset(:deliveries::jsonb) AS d (id text, event_id text, sink text, rule text, webhook_id text)

-- name: record_rejection
WITH ins AS (
    INSERT INTO rejected (at, source, reason, status, message, client, size, head)
    VALUES (:at, :source, :reason, :status, :message, :client, :size, :head)
    RETURNING id
)
DELETE FROM rejected WHERE id <= (SELECT id FROM ins) - :keep

-- name: get_meta
SELECT value FROM meta WHERE key = :key

-- name: set_meta
INSERT INTO meta (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: claim
-- A paused sink's deliveries wait: only its probe (`probe`) claims one.
-- SKIP LOCKED: instances claiming at the same moment each take different rows, never waiting.
WITH claimed AS (
    UPDATE deliveries d SET lease_owner = :owner, lease_until = :lease_until
    FROM (
        SELECT id FROM deliveries
        WHERE state = 'pending' AND sink = :sink AND next_at <= :now
          AND (lease_until IS NULL OR lease_until < :now)
          AND (:probe::boolean OR NOT EXISTS (
              SELECT 1 FROM sink_health h WHERE h.sink = :sink AND h.paused_at IS NOT NULL))
        ORDER BY next_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) due
    WHERE d.id = due.id
    RETURNING d.id, d.event_id, d.sink, d.webhook_id, d.attempts, d.replay, d.next_at, d.group_id,
        d.digest_id
)
SELECT c.id, c.event_id, c.sink, c.webhook_id, c.attempts, c.replay, c.next_at, c.group_id, c.digest_id,
       e.body AS event, r.body AS raw_body
FROM claimed c JOIN events e ON e.id = c.event_id
LEFT JOIN raw_requests r ON r.event_id = c.event_id
ORDER BY c.next_at

-- name: finish
WITH attempt AS (
    INSERT INTO attempts (delivery_id, number, at, outcome, status_code, latency_ms, error, response)
    VALUES (:delivery_id, :number, :at, :outcome, :status_code, :latency_ms, :error, :response)
)
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
SELECT min(next_at) AS at FROM deliveries
WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < :now)
  AND (:sinks::jsonb IS NULL OR sink IN (SELECT jsonb_array_elements_text(:sinks::jsonb)))
  AND NOT EXISTS (
      SELECT 1 FROM sink_health h WHERE h.sink = deliveries.sink AND h.paused_at IS NOT NULL)

-- name: outbox_depth
-- The backlog and when its oldest delivery was stored (unix seconds): next_at would not do,
-- as it is 0 for a new delivery and in the future for one waiting to be retried.
SELECT count(*) AS depth, extract(epoch FROM min(created_at)::timestamptz)::double precision AS oldest
FROM deliveries WHERE state = 'pending'

-- name: event_filter
-- Included by list_events and count_events; an unset parameter is NULL and matches all.
(:since::text IS NULL OR received_at >= :since)
  AND (:until::text IS NULL OR received_at < :until)
  AND (:source::text IS NULL OR source = :source)
  AND (:provider::text IS NULL OR provider = :provider)
  AND (:type::text IS NULL OR type = :type)
  AND (:status::text IS NULL OR status = :status)
  AND (:task_id::text IS NULL OR task_id = :task_id)
  AND (:model::text IS NULL OR model = :model)
  -- the cursor: the (received_at, id) of the last row shown
  AND (:before_at::text IS NULL OR (received_at, id) < (:before_at::text, :before_id::text))
  AND (:sink::text IS NULL OR EXISTS (
      SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.sink = :sink))
  -- jsonb cannot hold NUL: it is U+FFFD here, as in the stored copy
  AND (:labels::text IS NULL OR labels @> replace(:labels, '\u0000', '\ufffd')::jsonb)

-- name: list_events
SELECT body, stale, held, note FROM events e WHERE /* include event_filter */
ORDER BY received_at DESC, id DESC LIMIT :limit

-- name: list_events_labelled
-- The GIN index over labels serves every label filter: the same as list_events.
SELECT body, stale, held, note FROM events e
WHERE labels @> replace(:lead, '\u0000', '\ufffd')::jsonb AND /* include event_filter */
ORDER BY received_at DESC, id DESC LIMIT :limit

-- name: event_received_at
SELECT received_at FROM events WHERE id = :id

-- name: event_ids_below
SELECT id FROM events WHERE id < :bound ORDER BY id DESC LIMIT :limit

-- name: count_events
SELECT count(*) AS count FROM events e WHERE /* include event_filter */

-- name: get_event
SELECT body, stale, held, note FROM events WHERE id = :id

-- name: get_raw
SELECT method, path, client, headers, body FROM raw_requests WHERE event_id = :id

-- name: deliveries_of_event
SELECT id, event_id, sink, rule, state, replay, webhook_id, attempts, next_at, created_at, updated_at, last_error
FROM deliveries WHERE event_id = :id ORDER BY id

-- name: get_delivery
SELECT id, event_id, sink, rule, state, replay, webhook_id, attempts, next_at, created_at, updated_at, last_error
FROM deliveries WHERE id = :id

-- name: attempts_of_event
SELECT a.delivery_id, a.number, a.at, a.outcome, a.latency_ms, a.status_code, a.error, a.response
FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
WHERE d.event_id = :id ORDER BY a.id

-- name: list_deliveries
SELECT id, event_id, sink, rule, state, replay, webhook_id, attempts, next_at, created_at, updated_at, last_error
FROM deliveries
WHERE (:state::text IS NULL OR state = :state) AND (:sink::text IS NULL OR sink = :sink)
  AND (:before_id::text IS NULL OR id < :before_id)
ORDER BY id DESC LIMIT :limit

-- name: retry_delivery
-- A pending delivery a worker holds right now is left alone, because it is being sent.
UPDATE deliveries SET state = 'pending', next_at = :now, updated_at = :at,
    lease_owner = NULL, lease_until = NULL
WHERE id = :id
  AND (state = 'dead' OR (state = 'pending' AND (lease_until IS NULL OR lease_until < :now)))

-- name: retry_dead
UPDATE deliveries SET state = 'pending', next_at = :now, updated_at = :at
WHERE state = 'dead' AND (:sink::text IS NULL OR sink = :sink)

-- name: sink_stats
SELECT sink,
    count(*) FILTER (WHERE state = 'pending') AS pending,
    count(*) FILTER (WHERE state = 'dead') AS dead,
    count(*) FILTER (WHERE state = 'delivered') AS delivered,
    (SELECT max(a.at) FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome = 'delivered') AS last_success,
    (SELECT max(a.at) FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome != 'delivered') AS last_failure,
    (SELECT a.error FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome != 'delivered' ORDER BY a.id DESC LIMIT 1) AS last_error
FROM deliveries d GROUP BY sink ORDER BY sink

-- name: list_rejected
SELECT at, source, reason, status, message, client, size, head
FROM rejected ORDER BY id DESC LIMIT :limit

-- name: prune_raw
DELETE FROM raw_requests r USING events e
WHERE e.id = r.event_id AND e.received_at < :before
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = r.event_id AND d.state IN ('pending', 'held'))

-- name: prune_attempts
DELETE FROM attempts WHERE at < :before

-- name: prune_events
DELETE FROM events WHERE received_at < :before
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state IN ('pending', 'held'))
  AND NOT EXISTS (SELECT 1 FROM event_group_members m JOIN event_groups g ON g.id = m.group_id
      WHERE m.event_id = events.id AND g.state = 'open')

-- name: prune_tasks
-- Run after prune_events: a task goes only when none of its events is left, so the events
-- kept still find their task's rank (what makes a late report stale). Polled tasks stay.
DELETE FROM tasks WHERE updated_at < :before AND (rank >= 2 OR NOT poll)
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.source = tasks.source AND e.task_id = tasks.task_id)
