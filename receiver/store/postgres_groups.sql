-- PostgreSQL's statements for grouping (see migrations/*_0006_groups.sql), with the same names
-- and column aliases as sqlite_groups.sql.

-- name: join_groups
-- The event joins the open group of each (rule, sink, key) in :groups, opening it if none is:
-- a new group flushes `group_interval` after the key's last flush while that is still ahead,
-- else `group_wait` from now. DO UPDATE locks the open group to this commit, so a flush
-- (SKIP LOCKED) never takes a group while an event is joining it; a group flushed meanwhile
-- no longer conflicts, and a new one opens.
WITH g AS (
    SELECT * FROM jsonb_to_recordset(:groups::jsonb)
        AS g (id text, rule text, sink text, key text, wait double precision, every double precision)
), joined AS (
    INSERT INTO event_groups (id, rule, sink, group_key, state, flush_at, size, created_at)
    SELECT g.id, g.rule, g.sink, g.key, 'open',
           CASE WHEN last.at + g.every > :moment THEN last.at + g.every ELSE :moment + g.wait END,
           1, :now
    FROM g LEFT JOIN LATERAL (
        SELECT max(s.flushed_at) AS at FROM event_groups s
        WHERE s.rule = g.rule AND s.sink = g.sink AND s.group_key = g.key AND s.state = 'sent'
    ) last ON true
    ON CONFLICT (rule, sink, group_key) WHERE state = 'open'
    DO UPDATE SET size = event_groups.size + 1
    RETURNING id
)
INSERT INTO event_group_members (group_id, event_id) SELECT id, :event_id FROM joined

-- name: due_groups
-- SKIP LOCKED: instances flushing at once each take different groups, and a group an event
-- is joining waits for the next round.
SELECT id, sink, size FROM event_groups
WHERE state = 'open' AND flush_at <= :now ORDER BY flush_at LIMIT :limit
FOR UPDATE SKIP LOCKED

-- name: flush_groups
-- Each planned group becomes one pending delivery of its first event, carrying the group.
WITH p AS (
    SELECT * FROM jsonb_to_recordset(:plan::jsonb) AS p (group_id text, id text, webhook_id text)
), sent AS (
    UPDATE event_groups g SET state = 'sent', flushed_at = :moment, delivery_id = p.id
    FROM p WHERE g.id = p.group_id AND g.state = 'open'
    RETURNING g.id, g.rule, g.sink, p.id AS delivery_id, p.webhook_id
)
INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at, group_id)
SELECT s.delivery_id, first.event_id, s.sink, s.rule, 'pending', false, s.webhook_id, 0, :now, :now, s.id
FROM sent s JOIN LATERAL (
    SELECT min(m.event_id) AS event_id FROM event_group_members m WHERE m.group_id = s.id
) first ON first.event_id IS NOT NULL

-- name: group_batch
SELECT g.id, g.rule, g.group_key, g.size AS count,
       min(e.received_at) AS since, max(e.received_at) AS until
FROM event_groups g
LEFT JOIN event_group_members m ON m.group_id = g.id
LEFT JOIN events e ON e.id = m.event_id
WHERE g.id = :id GROUP BY g.id, g.rule, g.group_key, g.size

-- name: group_events
SELECT e.body FROM event_group_members m JOIN events e ON e.id = m.event_id
WHERE m.group_id = :id ORDER BY m.event_id LIMIT :limit

-- name: group_counts
SELECT count(*) AS open, min(flush_at) AS next_at FROM event_groups WHERE state = 'open'

-- name: prune_groups
-- Sent groups go with their time; one whose delivery is still pending stays for it.
DELETE FROM event_groups WHERE state = 'sent' AND created_at < :before
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.group_id = event_groups.id AND d.state IN ('pending', 'held'))
