"""The shipped deployment as an operator runs it, on loopback: deploy/haproxy.cfg in front of two
`vidhook serve` replicas on deploy/vidhook.postgres.toml and a fresh PostgreSQL database
(127.0.0.2 and 127.0.0.3 stand in for the containers vidhook-1 and vidhook-2), a loopback
receiver as the app.

The drill sends 300 callbacks at a fixed 20 a second, each on its own connection and none
waiting for another's answer (as providers send), SIGKILLs one replica a third of the way in
and restarts it three seconds later. Every callback must end in a 2xx, at once or after a
provider's retries (1, 3 and 7 s after the first send); every 2xx must be stored once and
delivered; the killed replica must come back into rotation. The other test holds the proxy to
its allowlist of public paths and the replicas to the shipped proxy trust."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from tests.drive import eventually, vibegen_callback
from tests.edge_proxy import EdgeProxy, render_haproxy, require_haproxy
from tests.pg import postgres_database
from tests.serve_process import ServeProcess
from tests.sink_servers import free_port

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).parent.parent / "deploy"
PROXY_SOURCE = "127.0.0.4"  # HAProxy's own address, as compose.yaml pins the container's
ALLOWED_CLIENT, STRANGER = "127.0.0.5", "127.0.0.6"
HOOK_TOKEN = "drill-vibegen-url-token"
ADMIN_TOKEN = "drill-admin-token-0123456789"
CALLBACKS, RATE, KILL_AT, RESTART_AFTER = 300, 20.0, 100, 3.0
RETRIES = (1.0, 3.0, 7.0)  # seconds after the first send, as evolink retries
# A source that takes callbacks only from ALLOWED_CLIENT, judged through the shipped trust.
ALLOWLISTED = f"""
[sources.allowlisted]
provider = "vibegen"
allow_ips = ["{ALLOWED_CLIENT}/32"]
"""


class RecordingReceiver:
    """The app behind the http sink: notes each delivery's `webhook-id`, answers 200."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.received.append(dict(scope["headers"])[b"webhook-id"].decode())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Edge:
    """The running deployment."""

    db: str
    receiver: RecordingReceiver
    replicas: list[ServeProcess]
    internal: list[str]  # each replica's internal listener (admin API, metrics)
    proxy: EdgeProxy
    url: str


def _replica_config(tmp_path: Path, n: int, host: str, internal_port: int) -> Path:
    """The shipped replica config with its internal listener on the replica's own loopback
    address (in a container, every interface); deliveries a killed replica held are resent
    after 3 + 5 s instead of 15 + 30, to keep the drill short."""
    text = (DEPLOY / "vidhook.postgres.toml").read_text()
    for old, new in (
        ("timeout = 15\n", "timeout = 3\n"),
        ("lease_margin = 30", "lease_margin = 5"),
        ('internal_host = "0.0.0.0"', f'internal_host = "{host}"'),
        ("internal_port = 8091", f"internal_port = {internal_port}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    config = tmp_path / f"vidhook-{n}.toml"
    config.write_text(text + ALLOWLISTED)
    return config


async def _start_receiver() -> tuple[RecordingReceiver, uvicorn.Server, asyncio.Task[None]]:
    receiver = RecordingReceiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, within=10)
    return receiver, server, serving


@pytest.fixture
async def edge(tmp_path):
    require_haproxy()
    receiver, server, serving = await _start_receiver()
    port = server.servers[0].sockets[0].getsockname()[1]
    replicas: list[ServeProcess] = []
    proxy: EdgeProxy | None = None
    try:
        async with postgres_database() as db:
            env = {
                "VIDHOOK_DOMAIN": "hooks.example.com",
                "VIDHOOK_DATABASE_URL": db,
                "VIDHOOK_PROXY_ADDRESS": PROXY_SOURCE,
                "VIDHOOK_ADMIN_TOKEN": ADMIN_TOKEN,
                "VIBEGEN_HOOK_TOKEN": HOOK_TOKEN,
                "ARK_HOOK_TOKEN": "drill-ark-url-token",
                "APP_WEBHOOK_URL": f"http://127.0.0.1:{port}/video-events",
                "APP_WHSEC": "whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz",
            }
            internal = []
            for n, host in ((1, "127.0.0.2"), (2, "127.0.0.3")):
                internal_port = free_port(host)
                config = _replica_config(tmp_path, n, host, internal_port)
                log = tmp_path / f"vidhook-{n}.log"
                replicas.append(ServeProcess(config, log, host=host, env=env))
                internal.append(f"http://{host}:{internal_port}")
            await asyncio.gather(*(replica.start() for replica in replicas))
            public = f"127.0.0.1:{free_port()}"
            socket = tmp_path / "haproxy.sock"
            rendered = tmp_path / "haproxy.cfg"
            addresses = {f"vidhook-{n}": f"{r.host}:{r.port}" for n, r in enumerate(replicas, 1)}
            rendered.write_text(
                render_haproxy(public, addresses, source=PROXY_SOURCE, admin_socket=socket)
            )
            proxy = EdgeProxy(rendered, tmp_path / "haproxy.log", socket)
            proxy.start()

            async def both_up() -> bool:
                try:
                    return set((await proxy.server_states()).values()) == {"UP"}
                except OSError:
                    return False

            await eventually(both_up, within=20, step=0.1)
            yield Edge(db, receiver, replicas, internal, proxy, f"http://{public}")
    finally:
        if proxy is not None:
            proxy.stop()
        for replica in replicas:
            replica.stop()
        server.should_exit = True
        await serving


@dataclass
class Outcome:
    """One callback as its provider saw it: the answer to each attempt."""

    task_id: str
    sent_at: float
    attempts: list[int | str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        last = self.attempts[-1]
        return isinstance(last, int) and 200 <= last < 300


async def _provider_send(client: httpx.AsyncClient, url: str, outcome: Outcome) -> None:
    """Send one callback; on a 5xx or a failed connection retry as the provider would."""
    body = vibegen_callback(outcome.task_id)
    for delay in (0.0, *RETRIES):
        await asyncio.sleep(max(0.0, outcome.sent_at + delay - time.monotonic()))
        try:
            answer = await client.post(f"{url}/hooks/vibegen/{HOOK_TOKEN}", content=body)
            outcome.attempts.append(answer.status_code)
        except httpx.TransportError as exc:
            outcome.attempts.append(type(exc).__name__)
        if outcome.answered or (
            isinstance(outcome.attempts[-1], int) and outcome.attempts[-1] < 500
        ):
            return


@dataclass
class Watch:
    """When HAProxy took the killed replica out of rotation and put it back."""

    down_at: float | None = None
    up_at: float | None = None


async def _watch(proxy: EdgeProxy, name: str, killed: asyncio.Event, watch: Watch) -> None:
    await killed.wait()
    while watch.up_at is None:
        state = (await proxy.server_states())[name]
        if watch.down_at is None and state.startswith("DOWN"):
            watch.down_at = time.monotonic()
        elif watch.down_at is not None and state == "UP":
            watch.up_at = time.monotonic()
        await asyncio.sleep(0.05)


async def _victim_leases(conn: asyncpg.Connection, pid: int) -> set[str]:
    rows = await conn.fetch(
        "SELECT webhook_id FROM deliveries WHERE state = 'pending' AND lease_owner LIKE $1",
        f"%/{pid}/%",
    )
    return {row[0] for row in rows}


async def test_callbacks_survive_a_replica_killed_under_load(edge: Edge):
    victim = edge.replicas[1]
    outcomes = [Outcome(f"drill-{n:03d}", 0.0) for n in range(CALLBACKS)]
    killed, watch = asyncio.Event(), Watch()
    watcher = asyncio.create_task(_watch(edge.proxy, "vidhook-2", killed, watch))
    limits = httpx.Limits(max_keepalive_connections=0, max_connections=None)
    conn = await asyncpg.connect(edge.db)
    try:
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            start = time.monotonic()
            sends = []
            for n, outcome in enumerate(outcomes):
                outcome.sent_at = start + n / RATE
                await asyncio.sleep(max(0.0, outcome.sent_at - time.monotonic()))
                if n == KILL_AT:
                    pid = victim.process.pid
                    victim.kill()
                    killed_at = time.monotonic()
                    killed.set()
                    orphaned = await _victim_leases(conn, pid)
                    restart = asyncio.create_task(_restart(victim, RESTART_AFTER))
                sends.append(asyncio.create_task(_provider_send(client, edge.url, outcome)))
            await asyncio.gather(*sends)
            restarted_at = await restart
            await asyncio.wait_for(watcher, 30)
            # Once back in rotation the restarted replica takes callbacks again.
            for n in range(6):
                extra = Outcome(f"drill-after-{n}", time.monotonic())
                await _provider_send(client, edge.url, extra)
                assert extra.attempts == [200], extra
        received_by_victim = await _received(edge.internal[1])
        assert received_by_victim > 0, "the restarted replica took no callback through the proxy"

        unanswered = [o for o in outcomes if not o.answered]
        assert unanswered == [], unanswered
        # What the providers need is above; the shipped proxy does better, and is held to it:
        # it resends to the live replica itself, so no provider has to retry. (Without its
        # retry-on and redispatch, the callbacks that met the dead replica answer 503.)
        retried = [o for o in outcomes if len(o.attempts) > 1]
        assert retried == [], retried
        total = CALLBACKS + 6
        stored = await conn.fetch("SELECT task_id, count(*) FROM events GROUP BY task_id")
        assert len(stored) == total and {row[1] for row in stored} == {1}

        async def all_delivered() -> bool:
            done = await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
            return bool(done == total)

        await eventually(all_delivered, within=60, step=0.2)
        webhook_ids = {row[0] for row in await conn.fetch("SELECT webhook_id FROM deliveries")}
        assert len(webhook_ids) == total
        assert set(edge.receiver.received) == webhook_ids
        twice = {w for w, count in Counter(edge.receiver.received).items() if count > 1}
        assert twice <= orphaned  # only a delivery the killed replica had in hand may come twice
    finally:
        await conn.close()
        watcher.cancel()

    in_window = [o for o in outcomes if killed_at <= o.sent_at <= watch.up_at]
    first = Counter(str(o.attempts[0]) for o in outcomes)
    print(
        f"\ndrill: {CALLBACKS} callbacks at {RATE:g}/s, replica killed at #{KILL_AT}: "
        f"first answers {dict(first)}, {len(retried)} needed a provider retry, "
        f"{sum(o.answered for o in outcomes)} answered 2xx in the end; "
        f"{sum(o.attempts[0] == 200 for o in in_window)} of {len(in_window)} sent while the "
        f"replica was dead or rejoining answered 200 at once; "
        f"out of rotation {watch.down_at - killed_at:.1f} s after the kill, "
        f"back {watch.up_at - restarted_at:.1f} s after its restart; "
        f"{len(twice)} deliveries resent; {received_by_victim} callbacks reached it after"
    )


async def _restart(replica: ServeProcess, after: float) -> float:
    """Start the killed replica again `after` seconds from now; return when it started."""
    await asyncio.sleep(after)
    started = time.monotonic()
    await replica.start()
    return started


async def _received(internal_url: str) -> int:
    """Callbacks a replica has stored since it started, from its own metrics."""
    async with httpx.AsyncClient(base_url=internal_url) as client:
        text = (await client.get("/metrics")).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("vidhook_received_total{") and 'outcome="accepted"' in line
        )
    )


async def _raw_get(url: str, path: str, headers: str = "") -> tuple[int, bytes]:
    """The status and body of a GET of `path` sent exactly as written (no client normalises
    it)."""
    host, _, port = url.removeprefix("http://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = f"GET {path} HTTP/1.1\r\nHost: hooks.example.com\r\n{headers}"
        writer.write(f"{head}Connection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


PRIVATE = [
    "/metrics", "/metrics/", "/metrics%2F", "/METRICS", "//metrics", "/readyz",
    "/admin/events", "/admin/rejected/", "/admin%2Fevents", "/schema", "/schema/openapi.json",
    "/v1/submit/vibegen", "/hooks/../metrics", "/hooks/%2e%2e/metrics", "/hooks/..%2Fadmin/events",
    "/healthz/../metrics", "/media/../schema",
]  # fmt: skip


async def test_the_proxy_publishes_only_hooks_media_and_healthz_and_trust_holds(edge: Edge):
    token = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
    for path in PRIVATE:
        status, body = await _raw_get(edge.url, path, token)
        assert (status, b"not served on the public address" in body) == (404, True), path
    direct, internal = edge.replicas[0].url, edge.internal[0]
    # The replica's public port does not have them either; its internal listener does.
    for path in ("/metrics", "/metrics/", "/admin/events", "/schema"):
        assert (await _raw_get(direct, path, token))[0] == 404, path
    assert (await _raw_get(internal, "/metrics"))[0] == 200
    assert (await _raw_get(internal, "/admin/events", token))[0] == 200
    assert (await _raw_get(edge.url, "/healthz")) == (200, b'{"status":"ok"}')
    async with httpx.AsyncClient(base_url=edge.url) as client:
        answer = await client.post(
            f"/hooks/vibegen/{HOOK_TOKEN}", content=vibegen_callback("public-1")
        )
        assert answer.status_code == 200, answer.text
    # allow_ips through the proxy, with the shipped trust (the proxy's own address only).
    body = vibegen_callback("allowlisted-1")
    assert await _post_from(ALLOWED_CLIENT, edge.url, body) == 200
    assert await _post_from(STRANGER, edge.url, body, forged=ALLOWED_CLIENT) == 401
    assert await _post_from(STRANGER, edge.url, body) == 401
    # Straight to a replica, a forged X-Forwarded-For is not believed: the peer is no proxy.
    assert await _post_from(STRANGER, direct, body, forged=ALLOWED_CLIENT) == 401
    async with httpx.AsyncClient(base_url=internal) as client:
        rows = (
            await client.get("/admin/rejected", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        ).json()
    clients = sorted(row["client"] for row in rows["items"] if row["source"] == "allowlisted")
    assert set(clients) <= {STRANGER}  # the client's address, never the proxy's


async def _post_from(address: str, url: str, body: bytes, forged: str | None = None) -> int:
    """POST to the allowlisted source from a given loopback address."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    headers = {"X-Forwarded-For": forged} if forged else {}
    async with httpx.AsyncClient(base_url=url, transport=transport) as client:
        answer = await client.post("/hooks/allowlisted", content=body, headers=headers)
    return answer.status_code
