-- Digests' runs, reports and deliveries (migration 0015).

-- name: ensure_digest_run
INSERT INTO digest_runs (name) VALUES (:digest) ON CONFLICT (name) DO NOTHING

-- name: claim_digest_run
-- A row only when this owner now holds the run's lease.
UPDATE digest_runs SET lease_owner = :owner, lease_until = :lease_until
WHERE name = :digest AND (lease_owner IS NULL OR lease_until < :now OR lease_owner = :owner)
RETURNING last_until

-- name: finish_digest_run
UPDATE digest_runs SET last_until = :until, lease_owner = NULL, lease_until = NULL
WHERE name = :digest AND lease_owner = :owner
RETURNING name

-- name: release_digest_run
UPDATE digest_runs SET lease_owner = NULL, lease_until = NULL
WHERE name = :digest AND lease_owner = :owner

-- name: digest_last_run
SELECT last_until FROM digest_runs WHERE name = :digest

-- name: insert_digest
INSERT INTO digests (id, name, since, until, body, created_at)
VALUES (:id, :digest, :since, :until, :body, :now)

-- name: add_digest_deliveries
INSERT INTO deliveries (id, event_id, sink, rule, state, replay, webhook_id, next_at, created_at, updated_at, digest_id)
SELECT json_extract(d.value, '$.id'), :event_id, json_extract(d.value, '$.sink'), NULL, 'pending', 0,
       json_extract(d.value, '$.webhook_id'), 0, :now, :now, :digest_id
FROM json_each(:deliveries) d

-- name: get_digest
SELECT body FROM digests WHERE id = :id
