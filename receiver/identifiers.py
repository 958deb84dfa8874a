"""Limits on the identifiers vidhook stores, indexes and puts in URLs, checked at the edge.

PostgreSQL cannot index a key of more than about 2,700 bytes, and a task id of `.` or `..`
would leave its URL segment when vidhook asks the provider about it. Every way in (callbacks,
polls, submit, the admin API, the CLI, the config) checks with these functions before any
store or provider sees the value, so both stores keep the same limits.

    task id                        1-512 characters, not "." or ".." (the event model's rule)
    source and sink names          1-64 characters (letters, digits, '-', '_', '.')
    API token names                1-64 characters
    rule names                     1-128 characters
    label keys                     1-64 characters; at most 32 labels on a task
    label values, end_user_id      at most 512 characters
    other filter values            at most 512 characters (model, ...)
"""

from __future__ import annotations

from collections.abc import Mapping

from vidhook.receiver.errors import BadRequest
from vidhook.receiver.event import MAX_TASK_ID, task_id_problem

__all__ = [
    "MAX_LABELS",
    "MAX_LABEL_KEY",
    "MAX_NAME",
    "MAX_RULE_NAME",
    "MAX_TASK_ID",
    "MAX_VALUE",
    "check_labels",
    "check_task_id",
    "check_value",
    "task_id_problem",
]

MAX_NAME = 64
MAX_RULE_NAME = 128
MAX_LABEL_KEY = 64
MAX_VALUE = 512
MAX_LABELS = 32


def check_task_id(task_id: str) -> str:
    """The task id, or BadRequest (`invalid_task_id`) saying what is wrong with it."""
    problem = task_id_problem(task_id)
    if problem is not None:
        raise BadRequest(problem, code="invalid_task_id")
    return task_id


def check_value(field: str, value: str | None, limit: int = MAX_VALUE) -> None:
    """BadRequest (`value_too_long`) when a value is over its length limit."""
    if value is not None and len(value) > limit:
        raise BadRequest(
            f"{field} is {len(value)} characters long; the limit is {limit}",
            code="value_too_long",
        )


def check_labels(labels: Mapping[str, str], field: str = "labels") -> None:
    """BadRequest when labels are too many, or a key or value is empty or too long."""
    if len(labels) > MAX_LABELS:
        raise BadRequest(
            f"{field} has {len(labels)} entries; the limit is {MAX_LABELS}",
            code="too_many_labels",
        )
    for key, value in labels.items():
        if not key:
            raise BadRequest(f"{field} has an empty key", code="invalid_label")
        check_value(f"{field} key {key[:64]!r}...", key, MAX_LABEL_KEY)
        check_value(f"{field}.{key}", value)
