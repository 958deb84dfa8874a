CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    provider    TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,
    model       TEXT,
    received_at TEXT NOT NULL,
    stale       INTEGER NOT NULL DEFAULT 0,
    held        INTEGER NOT NULL DEFAULT 0,
    note        TEXT,
    body        BLOB NOT NULL,
    UNIQUE (source, task_id, status)
);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_task ON events (task_id);

CREATE TABLE raw_requests (
    event_id  TEXT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    method    TEXT NOT NULL,
    path      TEXT NOT NULL,
    client    TEXT NOT NULL,
    headers   BLOB NOT NULL,
    body      BLOB NOT NULL
);

CREATE TABLE tasks (
    source        TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    status        TEXT NOT NULL,
    rank          INTEGER NOT NULL,
    labels        BLOB NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    poll          INTEGER NOT NULL DEFAULT 0,
    poll_next_at  REAL,
    poll_deadline REAL,
    poll_interval REAL,
    poll_errors   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, task_id)
);
CREATE INDEX tasks_poll ON tasks (poll, poll_next_at);

CREATE TABLE deliveries (
    id           TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    sink         TEXT NOT NULL,
    rule         TEXT,
    state        TEXT NOT NULL,
    replay       INTEGER NOT NULL DEFAULT 0,
    webhook_id   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      REAL NOT NULL,
    lease_owner  TEXT,
    lease_until  REAL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    last_error   TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, sink, next_at);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    at          TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    status_code INTEGER,
    latency_ms  REAL NOT NULL,
    error       TEXT,
    response    TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

CREATE TABLE rejected (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    source   TEXT,
    reason   TEXT NOT NULL,
    status   INTEGER NOT NULL,
    message  TEXT NOT NULL,
    client   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    head     BLOB NOT NULL
);
