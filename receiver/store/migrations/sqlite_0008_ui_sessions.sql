-- Dashboard sessions, kept here so every instance on the database knows them and a restart
-- keeps people logged in. `key` is the SHA-256 of the cookie's value, never the value itself;
-- `token_name` names the API token that logged in (its scopes are read from the config at
-- each request, so removing a token ends its sessions); `csrf` is the forms' token.
CREATE TABLE ui_sessions (
    key        TEXT PRIMARY KEY,
    token_name TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
