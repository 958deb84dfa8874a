-- SQLite's statements. A block may hold several statements, run in order with the same
-- parameters, where PostgreSQL does the same in one statement; its rows are those of the last
-- statement that returns rows, its count that of the first. Columns are aliased as in
-- postgres.sql, so rows map by name into the same records.

-- name: ping
SELECT 1 AS ok

-- name: readiness_probe
-- A real commit that needs room for a callback: 32 KiB of pages, given back at once.
INSERT INTO readiness (at, room) VALUES (:at, zeroblob(32768));
DELETE FROM readiness

-- name: advance_task
-- Creates the task or moves it forward; returns a row only when the status is news.
INSERT INTO tasks (source, task_id, status, rank, labels, created_at, updated_at, reports)
VALUES (:source, :task_id, :status, :rank, '{}', :now, :now, 1)
ON CONFLICT (source, task_id) DO UPDATE SET
    status = excluded.status, rank = excluded.rank, updated_at = excluded.updated_at,
    reports = tasks.reports + 1,
    poll = CASE WHEN excluded.rank >= 2 THEN 0 ELSE tasks.poll END
WHERE tasks.rank < excluded.rank;
-- the row read back only when the upsert changed it (RETURNING cost the writer more)
SELECT labels, reports, facts FROM tasks
WHERE changes() > 0 AND source = :source AND task_id = :task_id

-- name: task_and_event
SELECT t.labels AS labels, t.facts AS facts, e.body AS body, e.stale AS stale
FROM tasks t
LEFT JOIN events e ON e.source = t.source AND e.task_id = t.task_id AND e.status = :status
WHERE t.source = :source AND t.task_id = :task_id

-- name: insert_event
-- The event with its raw request, then its deliveries and labels only if the event was new
-- (its id exists).
INSERT INTO events (id, source, provider, task_id, type, status, model, received_at, stale, held, body,
    labels, duration_s, resolution, audio, credits, refunded, first_report, gen_seconds, error,
    raw_method, raw_path, raw_client, raw_headers, raw_body)
VALUES (:id, :source, :provider, :task_id, :type, :status, :model, :received_at, :stale, :held, :body,
    :labels, :duration_s, :resolution, :audio, :credits, :refunded, :first_report, :gen_seconds, :error,
    :method, :path, :client, :headers, :raw_body)
ON CONFLICT (source, task_id, status) DO NOTHING;
-- skip when empty: deliveries
INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at)
SELECT json_extract(d.value, '$.id'), :id, json_extract(d.value, '$.sink'),
       json_extract(d.value, '$.rule'), :state, 0, json_extract(d.value, '$.webhook_id'), :due, :now, :now
FROM json_each(:deliveries) d
WHERE EXISTS (SELECT 1 FROM events WHERE id = :id);
-- skip when empty: labels
INSERT INTO event_labels (key, value, event_at, event_id)
SELECT l.key, l.value, :received_at, :id FROM json_each(:labels) l
WHERE EXISTS (SELECT 1 FROM events WHERE id = :id)

-- name: event_by_key
SELECT body, stale FROM events WHERE source = :source AND task_id = :task_id AND status = :status

-- name: add_deliveries
INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at)
SELECT json_extract(d.value, '$.id'), json_extract(d.value, '$.event_id'), json_extract(d.value, '$.sink'),
       json_extract(d.value, '$.rule'), 'pending', :replay, json_extract(d.value, '$.webhook_id'), :due, :now, :now
FROM json_each(:deliveries) d

-- name: record_rejection
INSERT INTO rejected (at, source, reason, status, message, client, size, head)
VALUES (:at, :source, :reason, :status, :message, :client, :size, :head);
DELETE FROM rejected WHERE id <= (SELECT max(id) FROM rejected) - :keep

-- name: get_meta
SELECT value FROM meta WHERE key = :key

-- name: set_meta
INSERT INTO meta (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: claim
-- A paused sink's deliveries wait: only its probe (`probe`) claims one.
-- One writer: no other claim runs meanwhile, so no row needs skipping.
UPDATE deliveries SET lease_owner = :owner, lease_until = :lease_until
WHERE id IN (
    SELECT id FROM deliveries
    WHERE state = 'pending' AND sink = :sink AND next_at <= :now
      AND (lease_until IS NULL OR lease_until < :now)
      AND (:probe OR NOT EXISTS (
          SELECT 1 FROM sink_health h WHERE h.sink = :sink AND h.paused_at IS NOT NULL))
    ORDER BY next_at LIMIT :limit
)
RETURNING id, event_id, sink, webhook_id, attempts, replay, next_at, group_id, digest_id,
    (SELECT e.body FROM events e WHERE e.id = deliveries.event_id) AS event,
    (SELECT e.raw_body FROM events e WHERE e.id = deliveries.event_id) AS raw_body

-- name: finish
INSERT INTO attempts (delivery_id, number, at, outcome, status_code, latency_ms, error, response)
VALUES (:delivery_id, :number, :at, :outcome, :status_code, :latency_ms, :error, :response);
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
  AND (:sinks IS NULL OR sink IN (SELECT value FROM json_each(:sinks)))
  AND NOT EXISTS (
      SELECT 1 FROM sink_health h WHERE h.sink = deliveries.sink AND h.paused_at IS NOT NULL)

-- name: outbox_depth
-- The backlog and when its oldest delivery was stored (unix seconds): next_at would not do,
-- as it is 0 for a new delivery and in the future for one waiting to be retried.
SELECT count(*) AS depth, (julianday(min(created_at)) - 2440587.5) * 86400.0 AS oldest
FROM deliveries WHERE state = 'pending'

-- name: event_filter
-- Included by list_events and count_events; an unset parameter is NULL and matches all.
(:since IS NULL OR received_at >= :since)
  AND (:until IS NULL OR received_at < :until)
  AND (:source IS NULL OR source = :source)
  AND (:provider IS NULL OR provider = :provider)
  AND (:type IS NULL OR type = :type)
  AND (:status IS NULL OR status = :status)
  AND (:task_id IS NULL OR task_id = :task_id)
  AND (:model IS NULL OR model = :model)
  -- the cursor: the (received_at, id) of the last row shown
  AND (:before_at IS NULL OR (received_at, id) < (:before_at, :before_id))
  AND (:sink IS NULL OR EXISTS (
      SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.sink = :sink))
  -- every wanted label is among the event's (json_each, so any key works, quotes included)
  AND (:labels IS NULL OR NOT EXISTS (
      SELECT 1 FROM json_each(:labels) w WHERE NOT EXISTS (
          SELECT 1 FROM json_each(e.body, '$.labels') l WHERE l.key = w.key AND l.value = w.value)))

-- name: list_events
-- The page's ids first, from an index alone where one covers the filter, then its rows.
SELECT body, stale, held, note FROM events WHERE id IN (
    SELECT id FROM events e WHERE /* include event_filter */
    ORDER BY received_at DESC, id DESC LIMIT :limit)
ORDER BY received_at DESC, id DESC

-- name: list_events_labelled
-- As list_events with a label among the filters: one label's events newest first from
-- event_labels (CROSS JOIN keeps that the outer loop), the other filters on each.
SELECT body, stale, held, note FROM events WHERE id IN (
    SELECT e.id FROM event_labels el CROSS JOIN events e
    -- the label's key and value read by json_each, as ingest stored them (NUL included)
    WHERE el.key = (SELECT key FROM json_each(:lead)) AND el.value = (SELECT value FROM json_each(:lead))
      AND e.id = el.event_id
      AND (:before_at IS NULL OR (el.event_at, el.event_id) < (:before_at, :before_id))
      AND /* include event_filter */
    ORDER BY el.event_at DESC, el.event_id DESC LIMIT :limit)
ORDER BY received_at DESC, id DESC

-- name: event_received_at
SELECT received_at FROM events WHERE id = :id

-- name: event_ids_below
SELECT id FROM events WHERE id < :bound ORDER BY id DESC LIMIT :limit

-- name: count_events
SELECT count(*) AS count FROM events e WHERE /* include event_filter */

-- name: get_event
SELECT body, stale, held, note FROM events WHERE id = :id

-- name: get_raw
SELECT raw_method AS method, raw_path AS path, raw_client AS client, raw_headers AS headers,
    raw_body AS body
FROM events WHERE id = :id AND raw_body IS NOT NULL

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
WHERE (:state IS NULL OR state = :state) AND (:sink IS NULL OR sink = :sink)
  AND (:before_id IS NULL OR id < :before_id)
ORDER BY id DESC LIMIT :limit

-- name: retry_delivery
-- A pending delivery a worker holds right now is left alone: it is being sent.
UPDATE deliveries SET state = 'pending', next_at = :now, updated_at = :at, lease_owner = NULL, lease_until = NULL
WHERE id = :id
  AND (state = 'dead' OR (state = 'pending' AND (lease_until IS NULL OR lease_until < :now)))

-- name: retry_dead
UPDATE deliveries SET state = 'pending', next_at = :now, updated_at = :at
WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)

-- name: sink_stats
SELECT sink,
    sum(state = 'pending') AS pending, sum(state = 'dead') AS dead, sum(state = 'delivered') AS delivered,
    (SELECT max(a.at) FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome = 'delivered') AS last_success,
    (SELECT max(a.at) FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome != 'delivered') AS last_failure,
    (SELECT a.error FROM attempts a JOIN deliveries x ON x.id = a.delivery_id
        WHERE x.sink = d.sink AND a.outcome != 'delivered' ORDER BY a.id DESC LIMIT 1) AS last_error
FROM deliveries d GROUP BY sink ORDER BY sink

-- name: list_rejected
SELECT at, source, reason, status, message, client, size, head FROM rejected ORDER BY id DESC LIMIT :limit

-- name: prune_raw
-- The raw request lives in its event's row: cleared here (and counted, as PostgreSQL counts
-- the rows it deletes), gone with the row when prune_events deletes it.
UPDATE events SET raw_method = NULL, raw_path = NULL, raw_client = NULL, raw_headers = NULL, raw_body = NULL
WHERE received_at < :before AND raw_body IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state IN ('pending', 'held'))

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
DELETE FROM tasks WHERE updated_at < :before AND (rank >= 2 OR poll = 0)
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.source = tasks.source AND e.task_id = tasks.task_id)
