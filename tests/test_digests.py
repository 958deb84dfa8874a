"""Digests: the schedule across DST changes, the config, the renderers' escaping, and a digest
that reaches a Slack fake and aiosmtpd through the outbox, from `vidhook digest run`."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sink_servers import HttpServer, RecordingHandler, start_smtp

from tests.stored_events import RAW, make_event
from vidhook.receiver.cli import main
from vidhook.receiver.config import parse_settings
from vidhook.receiver.digest_config import DigestConfig, next_fire
from vidhook.receiver.digest_loop import run_digest_now
from vidhook.receiver.digest_report import DigestGroup, DigestReport, ErrorCount
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import ErrorInfo
from vidhook.routes.digest_render import digest_email, digest_slack

BERLIN = ZoneInfo("Europe/Berlin")


def fires(schedule: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every time the schedule fires in (start, end], in its zone."""
    digest = DigestConfig(name="d", schedule=schedule, timezone=zone, sinks=["s"])
    found, moment = [], start.timestamp()
    while (moment := next_fire(digest, moment)) <= end.timestamp():
        found.append(datetime.fromtimestamp(moment, ZoneInfo(zone)))
    return found


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (30, "2025-03-30T03:00:00+02:00"),  # spring forward: 02:30 does not exist, fires at 03:00
        (26, "2025-10-26T02:30:00+02:00"),  # fall back: 02:30 happens twice, fires at the first
    ],
)
def test_a_daily_schedule_fires_once_across_a_dst_change(day, expected):
    month = 3 if day == 30 else 10
    start = datetime(2025, month, day - 1, 12, tzinfo=BERLIN)
    found = fires("30 2 * * *", "Europe/Berlin", start, start.replace(day=day, hour=23))
    assert [f.isoformat() for f in found] == [expected]
    hourly = fires("30 * * * *", "Europe/Berlin", start, start.replace(day=day + 1))
    assert len({f.timestamp() for f in hourly}) == len(hourly)  # never the same instant twice


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('schedule = "61 * * * *"', "schedule"),
        ('schedule = "0 9 * * *"\ntimezone = "Mars/Olympus"', "Mars/Olympus"),
        ('schedule = "0 9 * * *"\ncolour = "red"', "colour"),
    ],
)
def test_a_digest_config_refuses_what_it_cannot_run(table, message):
    with pytest.raises(ConfigError, match=message):
        parse_settings(f'[[digests]]\nname = "d"\nsinks = ["s"]\n{table}\n')


REPORT = DigestReport(
    name="daily", since="2025-03-09T08:00:00.000Z", until="2025-03-10T08:00:00.000Z",
    group_by=["labels.end_user_id"], unit="credits", currency="USD",
    groups=[DigestGroup(
        group={"labels.end_user_id": "<b>alice</b> & *bob*"}, tasks=4, completed=3, failed=1,
        failure_rate=0.25, top_errors=[ErrorCount(message="<script>x</script> <!here>", count=1)],
        p50_seconds=60.0, p95_seconds=120.0, credits=0.0, estimated=90.0, cost=0.9,
    )],
)  # fmt: skip


def test_the_renderers_escape_what_providers_and_users_wrote():
    slack = json.dumps(digest_slack(REPORT))
    assert "<!here>" not in slack and "&lt;!here&gt;" in slack
    subject, text, html = digest_email(REPORT)
    assert subject == "vidhook digest daily: 4 tasks, 1 failed (2025-03-09 to 2025-03-10)"
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;alice&lt;/b&gt; &amp; *bob*" in html
    assert "tasks 4, completed 3, failed 1 (25%)" in text
    assert "p50 1m 00s, p95 2m 00s" in text


CONFIG = """
[sinks.ops-slack]
type = "slack"
webhook_url = "{slack}"

[sinks.ops-email]
type = "email"
host = "127.0.0.1"
port = {smtp}
sender = "vidhook@example.com"
starttls = false
to = ["ops@example.com"]

[[digests]]
name = "daily"
schedule = "0 9 * * *"
timezone = "Europe/Berlin"
group_by = ["labels.end_user_id"]
when = {{ type = "task.failed" }}
sinks = ["ops-slack", "ops-email"]
"""


async def test_a_digest_reaches_slack_and_email_through_the_outbox(vidhook_factory):
    handler = RecordingHandler()
    smtp = start_smtp(handler)
    try:
        async with HttpServer() as slack:
            vidhook = await vidhook_factory(CONFIG.format(slack=slack.url, smtp=smtp.port))
            store = vidhook.services.store
            for n, user in enumerate(["alice", "alice", "bob"]):
                failed = make_event(n, status="failed", labels={"end_user_id": user},
                                    error=ErrorInfo(message="blocked"))  # fmt: skip
                await store.ingest(failed, RAW, lambda _: [])
            await store.ingest(make_event(9, labels={"end_user_id": "carol"}), RAW, lambda _: [])
            [planned] = vidhook.services.digests.digests
            now = vidhook.services.clock()
            report, digest_id = await run_digest_now(
                store, planned, vidhook.services.settings.pricing, now=now,
                default_since=now - 3600, send=True,
            )  # fmt: skip
            assert digest_id is not None
            assert [(g.group["labels.end_user_id"], g.failed) for g in report.groups] == [
                ("alice", 2), ("bob", 1),
            ]  # fmt: skip
            for _ in range(500):
                if slack.received and handler.envelopes:
                    break
                await asyncio.sleep(0.02)
    finally:
        smtp.stop()
    [posted] = slack.received
    message = json.loads(posted.body)
    assert message["blocks"][0]["text"]["text"] == "Digest daily"
    assert "alice" in json.dumps(message) and "carol" not in json.dumps(message)
    [envelope] = handler.envelopes
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"].startswith("vidhook digest daily: 3 tasks, 3 failed")
    assert "<table" in mail.get_body(("html",)).get_content()


def test_digest_run_dry_run_prints_and_sends_nothing(tmp_path, capsys):
    config = tmp_path / "vidhook.toml"
    text = CONFIG.format(slack="http://127.0.0.1:9/hook", smtp=2525)
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "d.db"}"\n{text}')
    assert main(["migrate", "--config", str(config)]) == 0
    assert main(["digest", "run", "daily", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "--- ops-slack (slack)" in out and "Subject: vidhook digest daily" in out
    assert "dry run: nothing was sent" in out
    assert main(["digest", "run", "weekly", "--dry-run", "--config", str(config)]) == 4
    assert "daily" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sinks", "message"),
    [('["nowhere"]', "no sink named 'nowhere'"), ('["bell"]', "'bell' is of type apprise")],
)
async def test_a_digest_names_sinks_that_can_send_it(vidhook_factory, sinks, message):
    text = (
        '[sinks.bell]\ntype = "apprise"\nurls = ["json://127.0.0.1:9/"]\n'
        f'[[digests]]\nname = "d"\nschedule = "0 9 * * *"\nsinks = {sinks}\n'
    )
    with pytest.raises(ConfigError, match=message):
        await vidhook_factory(text)
