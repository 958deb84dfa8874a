"""Tasks vidhook submits, polls and confirms with the providers' own APIs.

`submit` creates tasks with vidhook as their callback URL, `poller` reads the tasks of
providers that never call back, `confirm` re-reads callbacks of `confirm = true` sources,
`api` is their HTTP face, and `provider_api` makes the calls.
"""

from __future__ import annotations

from receiver.services import Services
from receiver.tasks.confirm import ConfirmWorker
from receiver.tasks.poller import Poller
from receiver.tasks.provider_api import ProviderApi

__all__ = ["task_workers"]


def task_workers(services: Services) -> list[Poller | ConfirmWorker]:
    """The poller and the confirm worker, sharing one bound on each source's task reads."""
    api = ProviderApi(services.http)
    return [Poller(services, api), ConfirmWorker(services, api)]
