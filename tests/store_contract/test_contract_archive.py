"""Store contract, archive jobs: filed with the event, claimed with leases, archived with the
event's links, retried, dead, released deliveries, and removed with their event."""

from __future__ import annotations

import msgspec

from tests.store_contract.samples import RAW, T0, make_event, route_to
from vidhook.receiver.store.records import ArchiveCopy, ArchivePlan

PLAN = ArchivePlan(wait=0.0)


def _two_videos(task_id: str):
    event = make_event(task_id)
    return msgspec.structs.replace(
        event, video_urls=["https://cdn.example.com/a.mp4", "https://cdn.example.com/b.mp4"]
    )


def _copy(n: int) -> ArchiveCopy:
    return ArchiveCopy(
        key=f"k/{n}.mp4", size=10 + n, sha256="ab" * 32, content_type="video/mp4", etag=f'"e{n}"'
    )


def _links(event, jobs):
    by_n = {job.n: job for job in jobs if job.state == "archived"}
    return [
        f"https://keep/{by_n[n].key}" if n in by_n else "" for n in range(len(event.video_urls))
    ]


async def test_a_completed_event_with_videos_gets_one_job_per_video(store):
    result = await store.ingest(_two_videos("t1"), RAW, route_to("ops"), archive=PLAN)
    jobs = await store.archive_jobs_of(result.event.id)
    assert [(j.n, j.url, j.state, j.attempts) for j in jobs] == [
        (0, "https://cdn.example.com/a.mp4", "pending", 0),
        (1, "https://cdn.example.com/b.mp4", "pending", 0),
    ]
    assert jobs[0].give_up_at > jobs[0].next_at


async def test_no_jobs_without_a_plan_videos_or_completion(store):
    plain = await store.ingest(make_event("t1"), RAW, route_to("ops"))
    failed = await store.ingest(make_event("t2", "failed"), RAW, route_to("ops"), archive=PLAN)
    held = await store.ingest(make_event("t3"), RAW, route_to("ops"), archive=PLAN, hold=True)
    for result in (plain, failed, held):
        assert await store.archive_jobs_of(result.event.id) == []
    assert (await store.archive_counts()).pending == 0


async def test_a_duplicate_files_no_second_job(store):
    event = make_event("t1")
    await store.ingest(event, RAW, route_to("ops"), archive=PLAN)
    again = msgspec.structs.replace(event, id="other")
    assert (await store.ingest(again, RAW, route_to("ops"), archive=PLAN)).duplicate
    assert (await store.archive_counts()).pending == 1


async def test_jobs_are_claimed_with_leases(store):
    await store.ingest(_two_videos("t1"), RAW, route_to("ops"), archive=PLAN)
    first = await store.claim_archive_jobs("w1", T0, 60, 1)
    rest = await store.claim_archive_jobs("w2", T0, 60, 10)
    assert (len(first), len(rest)) == (1, 1)
    assert await store.claim_archive_jobs("w3", T0 + 59, 60, 10) == []
    assert await store.next_archive_due(T0 + 59) is None
    assert await store.archive_lease_owners() in (["w1", "w2"], ["w2", "w1"])
    await store.release_archive_leases("w1")
    [again] = await store.claim_archive_jobs("w3", T0 + 1, 60, 10)
    assert again.id == first[0].id


async def test_archiving_writes_the_links_and_releases_waiting_deliveries(store):
    plan = ArchivePlan(wait=600.0)
    result = await store.ingest(_two_videos("t1"), RAW, route_to("ops"), archive=plan)
    event_id = result.event.id
    now = (await store.deliveries_of(event_id))[0].next_at - 600.0
    assert await store.claim("ops", "d", now + 1, 30, 10) == []  # waits for the archive
    one, two = await store.claim_archive_jobs("w", now, 60, 10)
    assert await store.archived(one, _copy(one.n), _links, now + 2)
    stored = (await store.get_event(event_id)).event
    assert stored.archived_urls == ["https://keep/k/0.mp4", ""]
    assert stored.video_urls == result.event.video_urls
    assert await store.claim("ops", "d", now + 3, 30, 10) == []  # the second is pending
    assert await store.archived(two, _copy(two.n), _links, now + 4)
    [due] = await store.claim("ops", "d", now + 5, 30, 10)
    assert due.event.archived_urls == ["https://keep/k/0.mp4", "https://keep/k/1.mp4"]
    copy = await store.archived_copy(event_id, 1)
    assert (copy.key, copy.size, copy.sha256, copy.content_type, copy.etag) == (
        "k/1.mp4",
        11,
        "ab" * 32,
        "video/mp4",
        '"e1"',
    )
    assert await store.archived_copy(event_id, 2) is None
    assert (await store.archive_counts()).archived == 2


async def test_a_retry_is_due_later_and_a_dead_job_releases_deliveries(store):
    result = await store.ingest(
        make_event("t1"), RAW, route_to("ops"), archive=ArchivePlan(wait=600)
    )
    now = (await store.deliveries_of(result.event.id))[0].next_at - 600.0
    [job] = await store.claim_archive_jobs("w", now, 60, 10)
    await store.archive_failed(job, "HTTP 503", now + 30, now)
    assert await store.claim_archive_jobs("w", now + 29, 60, 10) == []
    [job] = await store.claim_archive_jobs("w", now + 31, 60, 10)
    assert (job.attempts, job.last_error) == (1, "HTTP 503")
    await store.archive_failed(job, "HTTP 403: the link has expired", None, now + 31)
    [dead] = await store.list_archive_jobs("dead", None, None, 10)
    assert (dead.state, dead.attempts, dead.last_error) == (
        "dead",
        2,
        "HTTP 403: the link has expired",
    )
    [due] = await store.claim("ops", "d", now + 32, 30, 10)
    assert due.event.archived_urls == []
    assert (await store.archive_counts()).dead == 1


async def test_dead_jobs_are_retried_one_or_all(store):
    for task_id in ("t1", "t2"):
        await store.ingest(make_event(task_id), RAW, route_to("ops"), archive=PLAN)
    for job in await store.claim_archive_jobs("w", T0, 60, 10):
        await store.archive_failed(job, "HTTP 404", None, T0)
    first, second = await store.list_archive_jobs("dead", None, None, 10)
    assert await store.retry_archive(first.id, T0 + 10)
    assert await store.retry_dead_archives(T0 + 20) == 1
    jobs = await store.claim_archive_jobs("w", T0 + 20, 60, 10)
    assert {j.id for j in jobs} == {first.id, second.id}
    assert not await store.retry_archive(first.id, T0 + 21)  # leased: being fetched


async def test_listing_filters_by_state_and_event_newest_first(store):
    one = await store.ingest(_two_videos("t1"), RAW, route_to("ops"), archive=PLAN)
    await store.ingest(make_event("t2"), RAW, route_to("ops"), archive=PLAN)
    everything = await store.list_archive_jobs(None, None, None, 10)
    assert len(everything) == 3
    assert [j.id for j in everything] == sorted((j.id for j in everything), reverse=True)
    mine = await store.list_archive_jobs(None, one.event.id, None, 10)
    assert [j.n for j in mine] == [1, 0]
    page = await store.list_archive_jobs(None, None, everything[0].id, 10)
    assert [j.id for j in page] == [j.id for j in everything[1:]]
    assert await store.get_archive_job(everything[0].id) == everything[0]


async def test_pruned_events_leave_their_jobs_for_removal(store):
    result = await store.ingest(make_event("t1", received_at="2024-01-01T00:00:00.000Z"), RAW,
                                route_to(), archive=PLAN)  # fmt: skip
    [job] = await store.claim_archive_jobs("w", T0, 60, 10)
    assert await store.archived(job, _copy(0), _links, T0)
    await store.prune("2024-02-01T00:00:00.000Z")
    assert await store.get_event(result.event.id) is None
    [removing] = await store.claim_archive_jobs("w", T0 + 1, 60, 10)
    assert (removing.id, removing.state, removing.key) == (job.id, "removing", "k/0.mp4")
    await store.forget_archive(removing.id)
    assert await store.list_archive_jobs(None, None, None, 10) == []


async def test_a_copy_of_a_job_removed_meanwhile_is_not_recorded(store):
    await store.ingest(make_event("t1", received_at="2024-01-01T00:00:00.000Z"), RAW,
                       route_to(), archive=PLAN)  # fmt: skip
    [job] = await store.claim_archive_jobs("w", T0, 60, 10)
    await store.prune("2024-02-01T00:00:00.000Z")
    assert not await store.archived(job, _copy(0), _links, T0)


async def test_retention_marks_old_copies_for_removal(store):
    await store.ingest(_two_videos("t1"), RAW, route_to(), archive=PLAN)
    old, new = await store.claim_archive_jobs("w", T0, 60, 10)
    await store.archived(old, _copy(0), _links, T0)
    await store.archived(new, _copy(1), _links, T0 + 100)
    assert await store.expire_archives(T0 + 50) == 1
    [removing] = await store.claim_archive_jobs("w", T0 + 1, 60, 10)
    assert (removing.id, removing.state) == (old.id, "removing")
    assert await store.archived_copy(old.event_id, 0) is None


async def test_relink_writes_fresh_links(store):
    result = await store.ingest(make_event("t1"), RAW, route_to(), archive=PLAN)
    [job] = await store.claim_archive_jobs("w", T0, 60, 10)
    await store.archived(job, _copy(0), _links, T0)

    def fresh(event, jobs):
        return [f"https://keep/{jobs[0].key}?fresh"]

    relinked = await store.relink(result.event.id, fresh)
    assert relinked.archived_urls == ["https://keep/k/0.mp4?fresh"]
    assert (await store.get_event(result.event.id)).event == relinked
    assert await store.relink("no-such-event", fresh) is None
