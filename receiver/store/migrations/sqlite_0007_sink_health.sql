-- Sink health (the circuit breaker): a sink that failed `pause_after` attempts in a row is
-- paused; its deliveries wait unclaimed and one probe goes out per `probe_interval`.
-- `failures` counts consecutive failed attempts; `paused_at` (unix time) is NULL while the
-- sink is active; `paused_by` is 'automatic' or 'hand', with `actor` naming who paused it by
-- hand; `next_probe_at` (unix time) is when the next probe may go (NULL: none, as by hand).
CREATE TABLE sink_health (
    sink          TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL DEFAULT 0,
    paused_at     REAL,
    paused_by     TEXT,
    actor         TEXT,
    next_probe_at REAL,
    last_error    TEXT,
    updated_at    REAL NOT NULL
);
