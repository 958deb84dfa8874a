"""Submitting a task through vidhook, and registering a task to watch.

A submit forwards the provider's own create body, with `callback_url` pointing at vidhook
where the provider calls back, then records the task with the caller's labels. A task of a
provider that never calls back, and any task registered to watch, is polled. A task of a
provider that calls back is awaited for the source's `callback_grace`; if no final status
has come by then, the safety net polls it like any other (`awaiting_callback`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from vidhook.receiver.config import Settings
from vidhook.receiver.errors import Conflict, UpstreamError, VidhookError
from vidhook.receiver.identifiers import check_labels, check_task_id, check_value, task_id_problem
from vidhook.receiver.providers.usage_facts import request_facts
from vidhook.receiver.sources import Source, callback_url
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import PollPlan, TaskRecord
from vidhook.receiver.tasks.provider_api import ProviderApi, can_query, task_api

__all__ = [
    "ProviderReply",
    "SubmitRequest",
    "Submitted",
    "WatchRequest",
    "awaiting_callback",
    "poll_plan",
    "provider_callback_url",
    "submit_task",
    "watch_task",
]


class SubmitRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A task to create: the provider's own create body, and labels for its events."""

    body: dict[str, Any]
    end_user_id: str | None = None
    labels: dict[str, str] = {}


class WatchRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A task created elsewhere for vidhook to poll, with labels for its events."""

    source: str
    task_id: str
    end_user_id: str | None = None
    labels: dict[str, str] = {}


class ProviderReply(msgspec.Struct, kw_only=True):
    """The provider's answer to a create request, its JSON passed on unchanged."""

    status_code: int
    body: msgspec.Raw


class Submitted(msgspec.Struct, kw_only=True):
    """What a submit answers: vidhook's record of the task and the provider's reply."""

    task: TaskRecord
    provider: ProviderReply


def task_labels(end_user_id: str | None, labels: dict[str, str]) -> dict[str, str]:
    """The labels a task's events carry: the caller's, with `end_user_id` when given;
    BadRequest when they are over the limits of `identifiers`."""
    check_value("end_user_id", end_user_id)
    check_labels(labels)
    return {**labels, "end_user_id": end_user_id} if end_user_id else dict(labels)


def provider_callback_url(settings: Settings, source: Source) -> str:
    """The callback URL to give the provider; refused when the provider needs HTTPS and
    `server.public_url` is not."""
    url = callback_url(settings, source.name)
    callbacks = source.provider.callbacks
    if callbacks is not None and callbacks.requires_https and not url.startswith("https://"):
        raise Conflict(
            f"{source.config.provider} calls back over HTTPS only, and server.public_url is"
            f" {settings.server.public_url!r}; set server.public_url to the https:// address"
            " where the provider can reach vidhook",
            code="callback_needs_https",
        )
    return url


def poll_plan(source: Source, now: float, interval: float | None, *, at_once: bool) -> PollPlan:
    """When to poll a task: at the provider's interval if it gave one, else the source's,
    until the source's `poll_timeout`."""
    every = interval or source.config.poll_interval
    return PollPlan(
        next_at=now if at_once else now + every,
        interval=every,
        deadline=now + source.config.poll_timeout,
    )


def awaiting_callback(source: Source, now: float) -> PollPlan:
    """The safety net's plan for a task whose provider calls back: no poll until
    `callback_grace` has passed, then polled as any task is, for up to `poll_timeout` more.
    A final status that comes first, by callback, stops it before it starts."""
    grace_until = now + source.config.callback_grace
    return PollPlan(
        next_at=grace_until,
        interval=source.config.poll_interval,
        deadline=grace_until + source.config.poll_timeout,
        grace_until=grace_until,
    )


async def submit_task(
    source: Source,
    request: SubmitRequest,
    *,
    settings: Settings,
    store: Store,
    api: ProviderApi,
    now: float,
) -> Submitted:
    """Create a task at the provider and record it; raise the provider's error as its own."""
    labels = task_labels(request.end_user_id, request.labels)  # refused before any task exists
    body = dict(request.body)
    if source.provider.calls_back:
        body["callback_url"] = provider_callback_url(settings, source)
    status, answer = await api.create(source, body)
    try:
        created = task_api(source).read_created(answer)
    except UpstreamError:
        raise
    except VidhookError as exc:
        raise UpstreamError(
            f"{source.config.provider} answered {status}, but vidhook cannot read the task in"
            f" it ({exc.message}): {answer[:300]!r}",
            status_code=502,
            code="unreadable_provider_answer",
        ) from None
    problem = task_id_problem(created.task_id)
    if problem is not None:
        raise UpstreamError(
            f"{source.config.provider} answered {status} with a task vidhook cannot keep:"
            f" {problem}",
            status_code=502,
            code="unreadable_provider_answer",
        )
    reply = ProviderReply(status_code=status, body=msgspec.Raw(answer))
    if source.provider.calls_back:
        plan = awaiting_callback(source, now)
    else:
        plan = poll_plan(source, now, created.poll_interval, at_once=False)
    facts = request_facts(request.body)
    task = await store.register_task(
        source.name, created.task_id, labels, now=now, poll=plan, facts=facts
    )
    return Submitted(task=task, provider=reply)


async def watch_task(
    source: Source, task_id: str, labels: dict[str, str], *, store: Store, now: float
) -> TaskRecord:
    """Register a task to poll from now on, whichever provider it is with."""
    if not can_query(source):
        raise Conflict(
            f"vidhook cannot read source {source.name!r}'s tasks: it needs a provider with a"
            " task API, `base_url` (where the provider has no default) and `api_key`",
            code="no_provider_api",
        )
    check_task_id(task_id)
    plan = poll_plan(source, now, None, at_once=True)
    if source.provider.calls_back:  # polled at once, and overdue if its callback is late
        plan.grace_until = now + source.config.callback_grace
    return await store.register_task(source.name, task_id, labels, now=now, poll=plan)
