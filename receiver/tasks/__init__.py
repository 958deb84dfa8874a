"""Tasks vidhook submits, polls and confirms with the providers' own APIs.

`submit` creates tasks with vidhook as their callback URL, `poller` reads the tasks of
providers that never call back, `confirm` re-reads callbacks of `confirm = true` sources,
and `provider_api` makes the calls; their HTTP face is `receiver/task_api.py`, in the API
layer above.
"""

from __future__ import annotations

from vidhook.receiver.tasks.confirm import ConfirmWorker
from vidhook.receiver.tasks.poller import Poller
from vidhook.receiver.tasks.provider_api import ProviderApi
from vidhook.receiver.tasks.query_pacing import QueryPacers
from vidhook.receiver.tasks.task_services import TaskServices

__all__ = ["task_workers"]


def task_workers(services: TaskServices) -> list[Poller | ConfirmWorker]:
    """The poller and the confirm worker, sharing one bound on each source's task reads and
    one pace per provider API key."""
    api = ProviderApi(services.http, QueryPacers(services.store))
    return [Poller(services, api), ConfirmWorker(services, api)]
