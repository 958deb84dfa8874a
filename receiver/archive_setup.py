"""An instance's archive, built from `[archive]`: the store of copies, the signed links, the
worker and the plan ingest files jobs by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vidhook.receiver.archive.backends import ArchiveBackend, open_backend
from vidhook.receiver.archive_config import ArchiveConfig
from vidhook.receiver.archive_worker import ArchiveWorker
from vidhook.receiver.media_links import MediaLinks
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import ArchivePlan

__all__ = ["Archive", "build_archive"]

# How long after its event a video is still fetched: the providers keep them about a day.
LINK_LIFETIME = 86400.0


@dataclass
class Archive:
    """What one vidhook instance archives with."""

    config: ArchiveConfig
    backend: ArchiveBackend
    links: MediaLinks
    worker: ArchiveWorker
    plan: ArchivePlan


def build_archive(
    config: ArchiveConfig,
    store: Store,
    *,
    public_url: str,
    metrics: Metrics,
    clock: Callable[[], float],
) -> Archive:
    """The archive `config` describes; ConfigError when its store cannot be used."""
    backend = open_backend(config)
    links = MediaLinks(
        store, public_url, config.seconds("link_expiry"), backend.public_url, clock=clock
    )
    worker = ArchiveWorker(store, config, backend, links, metrics, clock)
    wait = config.seconds("wait") if config.before_routing else 0.0
    plan = ArchivePlan(wait=wait, window=LINK_LIFETIME)
    return Archive(config=config, backend=backend, links=links, worker=worker, plan=plan)
