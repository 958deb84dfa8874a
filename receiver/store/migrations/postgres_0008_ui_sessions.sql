-- Dashboard sessions, kept here so every instance on the database knows them and a restart
-- keeps people logged in. `key` is the SHA-256 of the cookie's value, never the value itself;
-- `token_name` names the API token that logged in (its scopes are read from the config at
-- each request, so removing a token ends its sessions); `csrf` is the forms' token.
CREATE TABLE ui_sessions (
    key        text PRIMARY KEY,
    token_name text NOT NULL,
    csrf       text NOT NULL,
    created_at text NOT NULL,
    expires_at double precision NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
