"""vidhook: the callback endpoint and event router for AI video generation APIs.

`vidhook.receiver` takes callbacks in (receive, verify, normalise, store, admin API);
`vidhook.routes` sends events out (rules and sinks).
"""
