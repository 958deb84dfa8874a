-- SQLite's usage statements: aggregation over the usage columns of events (migration 0009).
-- Group keys come in three slots: `:f1`..`:f3` name a column (or `label`, with the label's
-- key in `:l1`..`:l3`); an empty name is no key. Values are text in both dialects.

-- name: usage_key_1
CASE :f1 WHEN 'source' THEN source WHEN 'provider' THEN provider WHEN 'type' THEN type
    WHEN 'status' THEN status WHEN 'model' THEN model WHEN 'task_id' THEN task_id
    WHEN 'resolution' THEN resolution WHEN 'duration_s' THEN CAST(duration_s AS TEXT)
    WHEN 'audio' THEN CASE audio WHEN 1 THEN 'true' WHEN 0 THEN 'false' END
    WHEN 'error' THEN error WHEN 'label' THEN labels ->> :l1 END

-- name: usage_key_2
CASE :f2 WHEN 'source' THEN source WHEN 'provider' THEN provider WHEN 'type' THEN type
    WHEN 'status' THEN status WHEN 'model' THEN model WHEN 'task_id' THEN task_id
    WHEN 'resolution' THEN resolution WHEN 'duration_s' THEN CAST(duration_s AS TEXT)
    WHEN 'audio' THEN CASE audio WHEN 1 THEN 'true' WHEN 0 THEN 'false' END
    WHEN 'error' THEN error WHEN 'label' THEN labels ->> :l2 END

-- name: usage_key_3
CASE :f3 WHEN 'source' THEN source WHEN 'provider' THEN provider WHEN 'type' THEN type
    WHEN 'status' THEN status WHEN 'model' THEN model WHEN 'task_id' THEN task_id
    WHEN 'resolution' THEN resolution WHEN 'duration_s' THEN CAST(duration_s AS TEXT)
    WHEN 'audio' THEN CASE audio WHEN 1 THEN 'true' WHEN 0 THEN 'false' END
    WHEN 'error' THEN error WHEN 'label' THEN labels ->> :l3 END

-- name: usage
-- Per group and price bucket (provider, model, resolution, duration, audio): tasks (first
-- reports), completed, failed, credits reported and not refunded, and completed tasks whose
-- provider reported no credits (priced from the table). Stale and held reports do not count.
SELECT /* include usage_key_1 */ AS g1, /* include usage_key_2 */ AS g2,
    /* include usage_key_3 */ AS g3,
    provider, model, resolution, duration_s, audio,
    sum(first_report) AS tasks,
    sum(status = 'completed') AS completed,
    sum(status IN ('failed', 'cancelled', 'expired')) AS failed,
    sum(CASE WHEN type != 'task.progress' AND coalesce(refunded, 0) = 0 THEN credits END) AS credits,
    sum(status = 'completed' AND credits IS NULL) AS unreported
FROM events
WHERE received_at >= :since AND received_at < :until AND stale = 0 AND held = 0
GROUP BY g1, g2, g3, provider, model, resolution, duration_s, audio

-- name: usage_baseline
-- The benchmark's yardstick: the cheapest scan of the same range.
SELECT count(*) AS count FROM events WHERE received_at >= :since AND received_at < :until
