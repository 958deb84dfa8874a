-- The dashboard's sessions (see migration 0008). Times: `now` and `expires_at` are unix seconds.

-- name: create_ui_session
INSERT INTO ui_sessions (key, token_name, csrf, created_at, expires_at)
VALUES (:key, :token_name, :csrf, :created_at, :expires_at)

-- name: get_ui_session
SELECT token_name, csrf, expires_at FROM ui_sessions WHERE key = :key AND expires_at > :now

-- name: delete_ui_session
DELETE FROM ui_sessions WHERE key = :key

-- name: prune_ui_sessions
DELETE FROM ui_sessions WHERE expires_at <= :now
