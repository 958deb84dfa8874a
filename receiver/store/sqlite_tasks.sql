-- Tasks vidhook submitted or watches: registration, polling and confirmation of held events.

-- name: task_row
SELECT source, task_id, status, labels, created_at, updated_at,
       poll, poll_next_at, poll_deadline, poll_interval, poll_errors, grace_until
FROM tasks WHERE source = :source AND task_id = :task_id

-- name: lock_task
-- One writer: reading the row inside the write transaction is lock enough.
SELECT labels FROM tasks WHERE source = :source AND task_id = :task_id

-- name: insert_registered_task
INSERT INTO tasks (source, task_id, status, rank, labels, created_at, updated_at,
                   poll, poll_next_at, poll_deadline, poll_interval, poll_errors, grace_until, facts)
VALUES (:source, :task_id, 'registered', -1, :labels, :now, :now,
        :poll, :next_at, :deadline, :interval, 0, :grace_until, :facts)
ON CONFLICT (source, task_id) DO NOTHING
RETURNING source, task_id, status, labels, created_at, updated_at,
          poll, poll_next_at, poll_deadline, poll_interval, poll_errors, grace_until

-- name: update_registered_task
UPDATE tasks SET labels = :labels, updated_at = :now,
    poll = CASE WHEN :poll = 1 AND rank < 2 THEN 1 ELSE poll END,
    poll_next_at = CASE WHEN :poll = 1 AND rank < 2 THEN :next_at ELSE poll_next_at END,
    poll_deadline = CASE WHEN :poll = 1 AND rank < 2 THEN :deadline ELSE poll_deadline END,
    poll_interval = CASE WHEN :poll = 1 AND rank < 2 THEN :interval ELSE poll_interval END,
    poll_errors = CASE WHEN :poll = 1 AND rank < 2 THEN 0 ELSE poll_errors END,
    grace_until = coalesce(grace_until, :grace_until), facts = coalesce(:facts, facts)
WHERE source = :source AND task_id = :task_id
RETURNING source, task_id, status, labels, created_at, updated_at,
          poll, poll_next_at, poll_deadline, poll_interval, poll_errors, grace_until

-- name: list_tasks
SELECT source, task_id, status, labels, created_at, updated_at,
       poll, poll_next_at, poll_deadline, poll_interval, poll_errors, grace_until
FROM tasks
WHERE (:source IS NULL OR source = :source) AND CASE :state
    WHEN 'open' THEN rank < 2
    WHEN 'done' THEN rank >= 2
    WHEN 'overdue' THEN rank < 2 AND grace_until <= :now
    WHEN 'polling' THEN poll = 1 AND (grace_until IS NULL OR grace_until <= :now)
    ELSE 1 END
ORDER BY updated_at DESC, source, task_id LIMIT :limit

-- name: claim_polls
UPDATE tasks SET poll_next_at = :lease_until
WHERE rowid IN (
    SELECT rowid FROM tasks
    WHERE poll = 1 AND source = :source AND poll_next_at <= :now
    ORDER BY poll_next_at LIMIT :limit
)
RETURNING source, task_id, status, labels, created_at, updated_at,
          poll, poll_next_at, poll_deadline, poll_interval, poll_errors, grace_until

-- name: schedule_poll
UPDATE tasks SET poll_next_at = :next_at, poll_errors = :errors,
    poll_interval = coalesce(:interval, poll_interval)
WHERE source = :source AND task_id = :task_id

-- name: stop_poll
UPDATE tasks SET poll = 0, poll_next_at = NULL, poll_errors = :errors
WHERE source = :source AND task_id = :task_id

-- name: task_counts
-- Open tasks (no final status yet), and those of them past their callback grace.
SELECT count(*) AS open,
       coalesce(sum(CASE WHEN grace_until <= :now THEN 1 ELSE 0 END), 0) AS overdue
FROM tasks WHERE rank < 2

-- name: next_poll_at
SELECT min(poll_next_at) AS at FROM tasks WHERE poll = 1

-- name: held_events
SELECT body, stale, held, note FROM events WHERE held = 1 ORDER BY id LIMIT :limit

-- name: held_event
SELECT source, task_id, body FROM events WHERE id = :id AND held = 1

-- name: lock_held_event
SELECT body FROM events WHERE id = :id AND held = 1

-- name: release_event
UPDATE events SET held = 0, body = :body, model = coalesce(:model, model),
    duration_s = coalesce(:duration_s, duration_s), resolution = coalesce(:resolution, resolution),
    audio = coalesce(:audio, audio), credits = coalesce(:credits, credits),
    refunded = coalesce(:refunded, refunded), gen_seconds = coalesce(:gen_seconds, gen_seconds),
    error = coalesce(:error, error)
WHERE id = :id

-- name: drop_held_deliveries
-- The held deliveries were routed by the callback's word; the provider's account is routed anew.
DELETE FROM deliveries WHERE event_id = :id AND state = 'held'

-- name: reject_event
-- The status column no longer holds the reported status, so the (source, task_id, status)
-- slot is free for the genuine report; the event's body keeps what the callback said.
UPDATE events SET held = 0, note = :note, status = 'rejected:' || id WHERE id = :id

-- name: reject_deliveries
UPDATE deliveries SET state = 'rejected', updated_at = :now, last_error = :note
WHERE event_id = :id AND state = 'held'

-- name: task_statuses
SELECT status FROM events
WHERE source = :source AND task_id = :task_id AND stale = 0 AND status NOT LIKE 'rejected:%'

-- name: reset_task
UPDATE tasks SET status = :status, rank = :rank, updated_at = :now,
    poll = CASE WHEN :rank >= 2 THEN 0 WHEN poll_deadline IS NOT NULL THEN 1 ELSE poll END,
    poll_next_at = CASE WHEN :rank < 2 AND poll_deadline IS NOT NULL THEN :at ELSE poll_next_at END
WHERE source = :source AND task_id = :task_id

-- name: take_query_turn
-- The key's next turn, at `now` or later, unless it is more than `max_wait` away (no row).
INSERT INTO query_pace (key, next_at) VALUES (:key, :now + :spacing)
ON CONFLICT (key) DO UPDATE SET next_at = max(query_pace.next_at, :now) + :spacing
WHERE query_pace.next_at <= :now + :max_wait
RETURNING next_at - :spacing AS turn

-- name: pause_queries
INSERT INTO query_pace (key, next_at) VALUES (:key, :until)
ON CONFLICT (key) DO UPDATE SET next_at = max(query_pace.next_at, excluded.next_at)
