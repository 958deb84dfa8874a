"""The dashboard's usage page over HTTP: per group of a field or label, tasks, outcomes,
credits; a group key that does not read is a 400 page naming it."""

from __future__ import annotations

from ui_session import log_in

from tests.stored_events import CONFIG, RAW, READER, make_event
from vidhook.receiver.event import Credits


async def test_usage_groups_by_a_label_and_refuses_an_unknown_field(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    store = vidhook.services.store
    for number, user in ((1, "ana"), (2, "ana"), (3, "bo")):
        event = make_event(number, labels={"end_user_id": user}, credits=Credits(reserved=10.0))
        await store.ingest(event, RAW, vidhook.services.route)
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get("/ui/usage?group_by=labels.end_user_id&since=1d")
    assert page.status_code == 200, page.text
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert "ana" in rows[0] and ">2<" in rows[0] and "bo" in rows[1]
    bad = await vidhook.client.get("/ui/usage?group_by=colour")
    assert bad.status_code == 400 and "colour" in bad.text
    assert 'href="/ui/usage" aria-current="page"' in page.text
