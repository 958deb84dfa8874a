"""`GET /metrics` after real traffic: received, rejected, deliveries, latency, outbox."""

from __future__ import annotations

from drive import (
    HOOK_PATH,
    SOURCE_CONFIG,
    eventually,
    http_sink,
    post_callbacks,
    rule,
    vibegen_callback,
)
from prometheus_client.parser import text_string_to_metric_families
from sink_endpoint import Endpoint
from sink_servers import free_port


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def test_metrics_show_traffic_deliveries_and_the_outbox(vidhook_factory):
    down_url = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens: refused
    async with Endpoint() as app:
        vidhook = await vidhook_factory(
            SOURCE_CONFIG
            + http_sink("app", app.url)
            + http_sink("down", down_url, (60.0,))
            + rule("all", "app", "down")
        )
        client = vidhook.client
        ids = await post_callbacks(client, 2)
        assert (await client.post(HOOK_PATH, content=vibegen_callback("task-0"))).json()[
            "duplicate"
        ]
        assert (await client.post("/hooks/vibegen/wrong-token", content=b"{}")).status_code == 401
        assert (await client.post("/hooks/nope", content=b"{}")).status_code == 404
        assert (await client.post(HOOK_PATH, content=b"not json")).status_code == 400

        async def settled() -> bool:
            tried = [a for e in ids for a in await vidhook.services.store.attempts_of(e)]
            return len(tried) == 4

        await eventually(settled)
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)

    received = "vidhook_received_total"
    assert value(found, received, source="vibegen", outcome="accepted") == 2
    assert value(found, received, source="vibegen", outcome="duplicate") == 1
    rejected = "vidhook_rejected_total"
    assert value(found, rejected, source="vibegen", reason="unauthorized") == 1
    assert value(found, rejected, source="(unknown)", reason="unknown_source") == 1
    assert sum(v for (n, _), v in found.items() if n == rejected) == 3
    deliveries = "vidhook_deliveries_total"
    assert value(found, deliveries, sink="app", outcome="delivered") == 2
    assert value(found, deliveries, sink="down", outcome="retry") == 2
    latency = "vidhook_delivery_latency_seconds"
    assert value(found, f"{latency}_count", sink="app") == 2
    assert value(found, f"{latency}_bucket", sink="app", le="+Inf") == 2
    assert value(found, f"{latency}_count", sink="down") == 2
    assert value(found, f"{latency}_sum", sink="app") > 0
    assert value(found, "vidhook_outbox_depth") == 2
    # The two deliveries to `down` have waited since they were stored.
    age = value(found, "vidhook_outbox_oldest_pending_age_seconds")
    assert age is not None and age > 0
