-- Sink health (the circuit breaker): a sink that failed `pause_after` attempts in a row is
-- paused; its deliveries wait unclaimed and one probe goes out per `probe_interval`.
-- `failures` counts consecutive failed attempts; `paused_at` (unix time) is NULL while the
-- sink is active; `paused_by` is 'automatic' or 'hand', with `actor` naming who paused it by
-- hand; `next_probe_at` (unix time) is when the next probe may go (NULL: none, as by hand).
CREATE TABLE sink_health (
    sink          text PRIMARY KEY,
    failures      integer NOT NULL DEFAULT 0,
    paused_at     double precision,
    paused_by     text,
    actor         text,
    next_probe_at double precision,
    last_error    text,
    updated_at    double precision NOT NULL
);
