"""Prometheus metrics, on a registry of their own so several apps can share a process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


@dataclass
class Metrics:
    """Every metric vidhook exports."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.received = Counter(
            "vidhook_received",
            "Callbacks and poll results received",
            ["source", "outcome"],
            registry=r,
        )
        self.rejected = Counter(
            "vidhook_rejected", "Requests refused, by reason", ["source", "reason"], registry=r
        )
        self.deliveries = Counter(
            "vidhook_deliveries",
            "Delivery attempts by sink and outcome",
            ["sink", "outcome"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "vidhook_delivery_latency_seconds",
            "Time one delivery attempt took",
            ["sink"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.outbox_depth = Gauge(
            "vidhook_outbox_depth", "Deliveries waiting to be sent", registry=r
        )
        self.oldest_pending_age = Gauge(
            "vidhook_outbox_oldest_pending_age_seconds",
            "How long the oldest due delivery has waited",
            registry=r,
        )
        self.confirms = Counter(
            "vidhook_confirm",
            "Callbacks checked against the provider's API: confirmed, contradicted or unconfirmed",
            ["source", "outcome"],
            registry=r,
        )
        self.tasks_open = Gauge(
            "vidhook_tasks_open", "Tasks vidhook knows that have no final status yet", registry=r
        )
        self.tasks_overdue = Gauge(
            "vidhook_tasks_overdue",
            "Open tasks whose final callback has not come within callback_grace",
            registry=r,
        )
        self.safety_net_events = Counter(
            "vidhook_safety_net_events",
            "Events found by polling a task whose callback did not come, by source",
            ["source"],
            registry=r,
        )
        self.sink_paused = Gauge(
            "vidhook_sink_paused",
            "1 while a sink is paused (by its circuit breaker or by hand), else 0",
            ["sink"],
            registry=r,
        )
        self.sink_probes = Counter(
            "vidhook_sink_probes",
            "Probes sent to paused sinks, by outcome: succeeded (resumed) or failed",
            ["sink", "outcome"],
            registry=r,
        )
        self.polls = Counter(
            "vidhook_polls",
            "Provider task queries by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.groups_open = Gauge(
            "vidhook_groups_open",
            "Groups of a grouped rule waiting for group_wait or group_interval to pass",
            registry=r,
        )
        self.group_events = Counter(
            "vidhook_group_events",
            "Events sent in groups (one message per group), by sink",
            ["sink"],
            registry=r,
        )
        self.digests = Counter(
            "vidhook_digests",
            "Digests recorded and queued to their sinks, by digest",
            ["digest"],
            registry=r,
        )
        self.archive = Counter(
            "vidhook_archive",
            "Archive tries by outcome: archived, retry, dead, removed",
            ["outcome"],
            registry=r,
        )
        self.archive_bytes = Counter("vidhook_archive_bytes", "Bytes of video archived", registry=r)
        self.archive_duration = Histogram(
            "vidhook_archive_duration_seconds",
            "Time one archive try took, download and store",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.archive_backlog = Gauge(
            "vidhook_archive_backlog", "Videos waiting to be archived", registry=r
        )
