-- A table the readiness probe commits to: ready means the store can commit now.
CREATE TABLE readiness (
    id   INTEGER PRIMARY KEY,
    at   TEXT NOT NULL,
    room BLOB
);
