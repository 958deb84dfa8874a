-- The confirm worker looks for events held until the provider confirms them; few are held
-- at a time, so a partial index keeps that look-up cheap however many events are stored.
CREATE INDEX events_held ON events (id) WHERE held = 1;
