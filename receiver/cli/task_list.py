"""`vidhook tasks`: the tasks vidhook knows, and which of them are overdue or polled."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from vidhook.receiver.cli.connect import connected
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.event import is_terminal
from vidhook.receiver.store.records import TaskRecord, TaskState

__all__ = ["run_tasks", "task_rows"]

TASK_COLUMNS = (
    Column("source"), Column("task id"), Column("status"), Column("state"),
    Column("next poll", drop=1), Column("created", "time", 2),
)  # fmt: skip


def run_tasks(args: argparse.Namespace) -> int:
    """List tasks by state."""
    state: TaskState | None = "overdue" if args.overdue else args.state
    now = time.time()

    async def work() -> list[TaskRecord]:
        async with connected(args) as services:
            return await services.store.list_tasks(args.source, state, args.limit, now=now)

    found = asyncio.run(work())
    if args.json:
        emit_json(found)
    else:
        print_table("tasks", TASK_COLUMNS, task_rows(found, now), empty="no tasks match")
    return 0


def task_rows(tasks: list[TaskRecord], now: float) -> list[list[Any]]:
    """Table rows: where each task stands, and when it is next polled."""
    return [
        [
            t.source,
            t.task_id,
            t.status,
            _state(t, now),
            f"in {max(0.0, t.poll_next_at - now):.0f} s" if t.poll and t.poll_next_at else None,
            t.created_at,
        ]
        for t in tasks
    ]


def _state(task: TaskRecord, now: float) -> str:
    if is_terminal(task.status):
        return "done"
    if task.grace_until is not None and now >= task.grace_until:
        return "overdue, polled" if task.poll else "overdue, not polled"
    if task.grace_until is not None:
        return "awaiting callback"
    return "polling" if task.poll else "open"
