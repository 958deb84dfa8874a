"""The dashboard over HTTP: login and sessions, CSRF, scopes, escaping, the events list and the
event page (the browser drives the same pages in test_ui_browser.py)."""

from __future__ import annotations

import json

import pytest
import structlog
from ui_session import csrf_of, log_in

from tests.stored_events import ADMIN, CONFIG, RAW, READER, SUBMITTER, make_event
from vidhook.receiver.store.records import RawRequest
from vidhook.receiver.ui.login import safe_next
from vidhook.receiver.ui.templating import relative


async def test_pages_send_anyone_not_logged_in_to_the_login_page(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    answer = await vidhook.client.get("/ui/events?status=failed")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Fevents%3Fstatus%3Dfailed"
    live = await vidhook.client.get("/ui/live", headers={"HX-Request": "true"})
    assert live.status_code == 401 and live.headers["hx-redirect"].startswith("/ui/login")
    page = await vidhook.client.get("/ui/login")
    assert page.status_code == 200 and 'name="token"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_a_session_cookie_is_httponly_strict_and_scoped_to_ui(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    answer = await log_in(vidhook.client, ADMIN)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/events"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("vidhook_session=")
    )
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= flags and "secure" not in flags
    assert (
        "samesite=strict" in cookie.lower() and "Path=/ui" in cookie and "Max-Age=43200" in cookie
    )
    assert (await vidhook.client.get("/ui/events")).status_code == 200


async def test_the_session_cookie_is_secure_when_public_url_is_https(vidhook_factory):
    vidhook = await vidhook_factory(
        '[server]\npublic_url = "https://hooks.example.com"\n' + CONFIG, run_workers=False
    )
    form = await vidhook.client.get("/ui/login")
    login_cookie = form.headers["set-cookie"]
    assert "Secure" in login_cookie and "HttpOnly" in login_cookie
    # A Secure cookie is not sent back over http, so the test sends it as a browser on https.
    answer = await vidhook.client.post(
        "/ui/login",
        data={"token": READER, "csrf_token": csrf_of(form.text)},
        headers={"Cookie": login_cookie.split(";")[0]},
    )
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("vidhook_session="))
    assert "Secure" in session and "HttpOnly" in session and "samesite=strict" in session.lower()


async def test_wrong_tokens_are_refused_and_locked_out_as_on_the_admin_api(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    wrong = await log_in(vidhook.client, "not-a-token-at-all")
    assert wrong.status_code == 401 and "not a configured API token" in wrong.text
    submit_only = await log_in(vidhook.client, SUBMITTER)
    assert submit_only.status_code == 403
    for _ in range(9):
        await log_in(vidhook.client, "still-wrong")
    locked = await log_in(vidhook.client, ADMIN)
    assert locked.status_code == 429 and "retry-after" in locked.headers
    # The same lockout holds on the admin API: one count per address.
    admin = await vidhook.client.get("/admin/events", headers={"Authorization": f"Bearer {ADMIN}"})
    assert admin.status_code == 429


async def test_login_without_its_csrf_token_is_refused(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    await vidhook.client.get("/ui/login")
    answer = await vidhook.client.post("/ui/login", data={"token": ADMIN})
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert "vidhook_session" not in answer.headers.get("set-cookie", "")


async def test_logout_ends_the_session_in_the_store(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    await log_in(vidhook.client, ADMIN)
    session = vidhook.client.cookies["vidhook_session"]
    page = await vidhook.client.get("/ui/events")
    refused = await vidhook.client.post("/ui/logout", data={})
    assert refused.status_code == 403
    bye = await vidhook.client.post("/ui/logout", data={"csrf_token": csrf_of(page.text)})
    assert bye.status_code == 303 and bye.headers["location"] == "/ui/login?bye=true"
    # The old cookie, sent again, opens nothing: the session is gone from the store.
    vidhook.client.cookies.set("vidhook_session", session, path="/ui")
    assert (await vidhook.client.get("/ui/events")).status_code == 303


async def test_a_read_token_sees_no_replay_button_and_a_forged_replay_is_refused(
    vidhook_factory,
):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(1)
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get(f"/ui/events/{event.id}")
    assert page.status_code == 200 and "Replay" not in page.text and "read only" in page.text
    forged = await vidhook.client.post(
        f"/ui/events/{event.id}/replay", data={"csrf_token": csrf_of(page.text)}
    )
    assert forged.status_code == 403 and "admin" in forged.text
    assert len(await vidhook.services.store.deliveries_of(event.id)) == 1


async def test_an_admin_replays_with_csrf_and_sees_the_new_deliveries(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(1)
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    await log_in(vidhook.client, ADMIN)
    page = await vidhook.client.get(f"/ui/events/{event.id}")
    assert "Replay" in page.text
    url = f"/ui/events/{event.id}/replay"
    assert (await vidhook.client.post(url, data={"sink": "ops"})).status_code == 403
    wrong = await vidhook.client.post(url, data={"sink": "ops", "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    with structlog.testing.capture_logs() as logs:
        done = await vidhook.client.post(
            url, data={"sink": ["ops", "out"], "csrf_token": csrf_of(page.text)}
        )
    assert done.status_code == 303
    made = [d for d in await vidhook.services.store.deliveries_of(event.id) if d.replay]
    assert sorted(d.sink for d in made) == ["ops", "out"]
    assert done.headers["location"].startswith(f"/ui/events/{event.id}?replayed=")
    shown = await vidhook.client.get(done.headers["location"])
    assert shown.text.count('class="tag new"') == 2
    (record,) = [r for r in logs if r["event"] == "dashboard replay"]
    assert record["token"] == "ops" and record["sinks"] == ["ops", "out"]


async def test_provider_strings_render_as_text_and_only_web_urls_link(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    event = make_event(
        1,
        task_id=evil,
        model='"><b>bold</b>',
        video_urls=["javascript:alert(document.cookie)"],
        labels={"team": "<i>growth</i>"},
    )
    raw = RawRequest(
        method="POST", path="/hooks/vibegen", client="127.0.0.1",
        headers={"x-evil": "<svg onload=alert(1)>"},
        body=json.dumps({"task_id": evil, "url": "javascript:alert(1)"}).encode(),
    )  # fmt: skip
    await vidhook.services.store.ingest(event, raw, vidhook.services.route)
    await log_in(vidhook.client, ADMIN)
    for path in ("/ui/events", f"/ui/events/{event.id}"):
        html = (await vidhook.client.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
        assert "<b>bold</b>" not in html and "<i>growth</i>" not in html
        assert 'href="javascript:' not in html and 'src="javascript:' not in html
    page = (await vidhook.client.get(f"/ui/events/{event.id}")).text
    assert "<svg onload" not in page and "not an http(s) link" in page


async def test_the_event_page_plays_archived_copies_and_warns_of_old_provider_links(
    vidhook_factory,
):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    old = make_event(1, received_at="2020-01-01T00:00:00.000Z")
    archived = make_event(
        2, received_at="2020-01-01T00:00:00.000Z", archived_urls=["https://files.example/a.mp4"]
    )
    for event in (old, archived):
        await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    await log_in(vidhook.client, READER)
    old_page = (await vidhook.client.get(f"/ui/events/{old.id}")).text
    assert '<video controls preload="metadata" src="https://cdn.example.com/v/1.mp4"' in old_page
    assert "may have expired" in old_page
    kept = (await vidhook.client.get(f"/ui/events/{archived.id}")).text
    assert 'src="https://files.example/a.mp4"' in kept and "may have expired" not in kept
    assert "archived copy" in kept


async def test_the_events_list_filters_pages_and_sends_only_newer_rows_live(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    store = vidhook.services.store
    events = [make_event(n, status="failed" if n % 2 else "completed") for n in range(60)]
    for event in events:
        await store.ingest(event, RAW, vidhook.services.route)
    await log_in(vidhook.client, READER)
    first = (await vidhook.client.get("/ui/events")).text
    assert first.count('<tr id="event-') == 50 and "Older" in first
    assert first.index(events[-1].id) < first.index(events[-2].id)  # newest first
    failed = (await vidhook.client.get("/ui/events?status=failed&task_id=task-3")).text
    assert failed.count('<tr id="event-') == 1 and "task-3" in failed
    labelled = await vidhook.client.get("/ui/events?label=nonsense")
    assert labelled.status_code == 400 and "key=value" in labelled.text
    bad_time = await vidhook.client.get("/ui/events?since=yesterday")
    assert bad_time.status_code == 400 and "not a time" in bad_time.text
    nothing = await vidhook.client.get(f"/ui/live?after={events[-1].id}&status=failed")
    assert nothing.status_code == 204
    newer = make_event(99, status="failed")
    other = make_event(100, status="completed")
    for event in (newer, other):
        await store.ingest(event, RAW, vidhook.services.route)
    live = await vidhook.client.get(f"/ui/live?after={events[-1].id}&status=failed")
    assert live.status_code == 200
    assert newer.id in live.text and other.id not in live.text
    assert f"after={newer.id}" in live.text and "status=failed" in live.text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/events?status=failed", "/ui/events?status=failed"),
        ("https://evil.example/", "/ui/events"),
        ("//evil.example/ui", "/ui/events"),
        ("/ui\\@evil", "/ui/events"),
        (None, "/ui/events"),
    ],
)
def test_after_login_only_dashboard_paths_are_followed(target, expected):
    assert safe_next(target) == expected


def test_relative_times_read_as_words():
    assert [relative(s) for s in (0.2, 5, 180, 7200, 4 * 86400, -3)] == [
        "just now", "5 s ago", "3 min ago", "2 h ago", "4 d ago", "in the future",
    ]  # fmt: skip
