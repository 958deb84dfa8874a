-- SQLite's statements for grouping (see migrations/*_0006_groups.sql), with the same names and
-- column aliases as postgres_groups.sql.

-- name: join_groups
-- The event joins the open group of each (rule, sink, key) in :groups, opening it if none is:
-- a new group flushes `group_interval` after the key's last flush while that is still ahead,
-- else `group_wait` from now.
INSERT INTO event_groups (id, rule, sink, group_key, state, flush_at, size, created_at)
SELECT json_extract(g.value, '$.id'), json_extract(g.value, '$.rule'),
       json_extract(g.value, '$.sink'), json_extract(g.value, '$.key'), 'open',
       coalesce(
           (SELECT max(s.flushed_at) + json_extract(g.value, '$.every') FROM event_groups s
            WHERE s.rule = json_extract(g.value, '$.rule') AND s.sink = json_extract(g.value, '$.sink')
              AND s.group_key = json_extract(g.value, '$.key') AND s.state = 'sent'
            HAVING max(s.flushed_at) + json_extract(g.value, '$.every') > :moment),
           :moment + json_extract(g.value, '$.wait')),
       1, :now
FROM json_each(:groups) g WHERE true
ON CONFLICT (rule, sink, group_key) WHERE state = 'open' DO UPDATE SET size = size + 1;
INSERT INTO event_group_members (group_id, event_id)
SELECT o.id, :event_id FROM json_each(:groups) g
JOIN event_groups o ON o.rule = json_extract(g.value, '$.rule')
  AND o.sink = json_extract(g.value, '$.sink') AND o.group_key = json_extract(g.value, '$.key')
  AND o.state = 'open'

-- name: due_groups
-- One writer: no other flush runs meanwhile, so no row needs skipping.
SELECT id, sink, size FROM event_groups
WHERE state = 'open' AND flush_at <= :now ORDER BY flush_at LIMIT :limit

-- name: flush_groups
-- Each planned group becomes one pending delivery of its first event, carrying the group.
INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at, group_id)
SELECT json_extract(p.value, '$.id'),
       (SELECT min(m.event_id) FROM event_group_members m WHERE m.group_id = g.id),
       g.sink, g.rule, 'pending', 0, json_extract(p.value, '$.webhook_id'), 0, :now, :now, g.id
FROM json_each(:plan) p JOIN event_groups g ON g.id = json_extract(p.value, '$.group_id')
WHERE g.state = 'open' AND EXISTS (SELECT 1 FROM event_group_members m WHERE m.group_id = g.id);
UPDATE event_groups SET state = 'sent', flushed_at = :moment,
    delivery_id = (SELECT json_extract(p.value, '$.id') FROM json_each(:plan) p
                   WHERE json_extract(p.value, '$.group_id') = event_groups.id)
WHERE state = 'open' AND id IN (SELECT json_extract(value, '$.group_id') FROM json_each(:plan))

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
