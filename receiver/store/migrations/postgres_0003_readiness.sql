-- A table the readiness probe commits to: ready means the store can commit now.
CREATE TABLE readiness (
    id integer PRIMARY KEY,
    at text NOT NULL
);
