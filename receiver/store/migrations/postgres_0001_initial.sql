-- The same tables as SQLite's first migration in PostgreSQL's types. Event bodies, headers and
-- task labels are the exact JSON bytes vidhook encoded (bytea), because text and jsonb cannot hold
-- the NUL characters a callback may carry; events.labels is a copy for filtering, with NUL
-- replaced. Times the store compares are epoch seconds.

CREATE TABLE IF NOT EXISTS meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE events (
    id          text PRIMARY KEY,
    source      text NOT NULL,
    provider    text NOT NULL,
    task_id     text NOT NULL,
    type        text NOT NULL,
    status      text NOT NULL,
    model       text,
    received_at text NOT NULL,
    stale       boolean NOT NULL DEFAULT false,
    held        boolean NOT NULL DEFAULT false,
    note        text,
    labels      jsonb NOT NULL DEFAULT '{}',
    body        bytea NOT NULL,
    UNIQUE (source, task_id, status)
);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_task ON events (task_id);

CREATE TABLE raw_requests (
    event_id  text PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    method    text NOT NULL,
    path      text NOT NULL,
    client    text NOT NULL,
    headers   bytea NOT NULL,
    body      bytea NOT NULL
);

CREATE TABLE tasks (
    source        text NOT NULL,
    task_id       text NOT NULL,
    status        text NOT NULL,
    rank          integer NOT NULL,
    labels        bytea NOT NULL DEFAULT '{}',
    created_at    text NOT NULL,
    updated_at    text NOT NULL,
    poll          boolean NOT NULL DEFAULT false,
    poll_next_at  double precision,
    poll_deadline double precision,
    poll_interval double precision,
    poll_errors   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (source, task_id)
);
CREATE INDEX tasks_poll ON tasks (poll, poll_next_at);

CREATE TABLE deliveries (
    id           text PRIMARY KEY,
    event_id     text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    sink         text NOT NULL,
    rule         text,
    state        text NOT NULL,
    replay       boolean NOT NULL DEFAULT false,
    webhook_id   text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    next_at      double precision NOT NULL,
    lease_owner  text,
    lease_until  double precision,
    created_at   text NOT NULL,
    updated_at   text NOT NULL,
    last_error   text
);
CREATE INDEX deliveries_due ON deliveries (state, sink, next_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_lease ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number      integer NOT NULL,
    at          text NOT NULL,
    outcome     text NOT NULL,
    status_code integer,
    latency_ms  double precision NOT NULL,
    error       text,
    response    text
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
CREATE INDEX attempts_at ON attempts (at);

CREATE TABLE rejected (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       text NOT NULL,
    source   text,
    reason   text NOT NULL,
    status   integer NOT NULL,
    message  text NOT NULL,
    client   text NOT NULL,
    size     integer NOT NULL,
    head     bytea NOT NULL
);
