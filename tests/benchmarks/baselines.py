"""The two baselines vidhook's ingest is measured against, each served like `vidhook serve`.

    bare   a Litestar endpoint that decodes the JSON body and answers: the framework ceiling.
    naive  what a user writes by hand: the same endpoint plus one INSERT and one COMMIT per
           request with the standard library's sqlite3 (WAL, synchronous=FULL), on the event
           loop's thread.

Run: `python baselines.py bare|naive --port PORT [--db FILE]`.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from typing import Any

import uvicorn
from litestar import Litestar, post

from vidhook.receiver.cli.service import tune_gc
from vidhook.receiver.config import ServerConfig
from vidhook.receiver.edge_protocol import EdgeConfig, EdgeLimits

PATHS = ["/hooks/{source:str}", "/hooks/{source:str}/{token:str}"]


@post(PATHS, status_code=200)
async def bare_hook(data: dict[str, Any]) -> dict[str, Any]:
    """Decode and answer; nothing is stored."""
    return {"id": str(data.get("task_id")), "duplicate": False}


def naive_app(db: str) -> Litestar:
    """One connection, one INSERT and COMMIT per callback, as a hand-written receiver does."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL,"
        " status TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (task_id, status))"
    )

    @post(PATHS, status_code=200)
    async def naive_hook(data: dict[str, Any]) -> dict[str, Any]:
        task_id, status = str(data.get("task_id")), str(data.get("status"))
        conn.execute("BEGIN")
        cursor = conn.execute(
            "INSERT INTO events (task_id, status, body) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (task_id, status, json.dumps(data)),
        )
        row = cursor.fetchone()
        conn.execute("COMMIT")
        return {"id": str(row[0]) if row else task_id, "duplicate": row is None}

    return Litestar(route_handlers=[naive_hook], debug=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["bare", "naive"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", default="naive.db")
    args = parser.parse_args()
    app = Litestar(route_handlers=[bare_hook], debug=False) if args.kind == "bare" else None
    app = app or naive_app(args.db)
    tune_gc()  # the same collector settings as `vidhook serve`, so they help all alike
    # The same server as `vidhook serve`: uvicorn with vidhook's connection limits.
    config = EdgeConfig(
        app, EdgeLimits.from_config(ServerConfig()), host="127.0.0.1", port=args.port,
        log_config=None, access_log=False, server_header=False, proxy_headers=False,
        lifespan="on", timeout_graceful_shutdown=15,
    )  # fmt: skip
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
