"""The archive's downloader against a real loopback CDN: what it fetches, what it refuses, and
whether each failure is final or worth retrying."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import AsyncIterator

import pytest

from tests.archive_cdn import CDN_HOST, HUGE, Cdn, running_cdn, small_mp4
from vidhook.receiver.archive.fetch import MAX_REDIRECTS, FetchPolicy, fetch
from vidhook.receiver.errors import ArchiveFinal, ArchiveRetryable, ArchiveTooLarge

VIDEO = small_mp4()
OPEN = FetchPolicy(max_bytes=10 * 1024**2, allow_private=True, read_timeout=0.5)
# Loopback refused as in production, except the CDN's own address.
STRICT = FetchPolicy(
    max_bytes=10 * 1024**2, trusted_networks=(ipaddress.ip_network(f"{CDN_HOST}/32"),)
)


@pytest.fixture
async def cdn() -> AsyncIterator[Cdn]:
    async for running in running_cdn(VIDEO):
        yield running


async def _download(url: str, policy: FetchPolicy) -> tuple[bytes, str, int | None]:
    async with fetch(url, policy) as download:
        body = b"".join([chunk async for chunk in download.chunks()])
        return body, download.content_type, download.length


async def test_downloads_the_video_byte_for_byte(cdn: Cdn) -> None:
    body, content_type, length = await _download(cdn.url(), OPEN)
    assert hashlib.sha256(body).hexdigest() == cdn.sha256
    assert (content_type, length) == ("video/mp4", len(VIDEO))


async def test_an_expired_link_is_a_final_failure(cdn: Cdn) -> None:
    cdn.mode = "gone"
    with pytest.raises(ArchiveFinal, match="expired or is gone") as caught:
        await _download(cdn.url(), OPEN)
    assert caught.value.code == "link_gone"
    assert not caught.value.retryable


async def test_a_server_error_is_retryable(cdn: Cdn) -> None:
    cdn.mode = "error"
    with pytest.raises(ArchiveRetryable, match="HTTP 503"):
        await _download(cdn.url(), OPEN)


async def test_a_trickling_cdn_times_out_retryably(cdn: Cdn) -> None:
    cdn.mode = "trickle"
    with pytest.raises(ArchiveRetryable, match="timed out") as caught:
        await _download(cdn.url(), OPEN)
    assert caught.value.retryable


async def test_nothing_listening_is_retryable(cdn: Cdn) -> None:
    url = cdn.url().replace(CDN_HOST, "127.0.0.3")  # same port, nobody there
    with pytest.raises(ArchiveRetryable, match="will retry"):
        await _download(url, OPEN)


async def test_a_huge_content_length_is_refused_without_downloading(cdn: Cdn) -> None:
    cdn.mode = "huge"
    with pytest.raises(ArchiveTooLarge, match=f"{HUGE} bytes.*without downloading"):
        await _download(cdn.url(), OPEN)
    await cdn.answered.wait()  # the server's writes fail once the connection is closed
    assert cdn.sent < 64 * 1024**2  # a few socket buffers, not 3 GiB


async def test_a_body_longer_than_max_bytes_is_cut_off(cdn: Cdn) -> None:
    cdn.mode = "unsized"
    policy = FetchPolicy(max_bytes=len(VIDEO) - 1, allow_private=True)
    with pytest.raises(ArchiveTooLarge, match="while downloading"):
        await _download(cdn.url(), policy)


async def test_an_html_page_is_not_a_video(cdn: Cdn) -> None:
    cdn.mode = "html"
    with pytest.raises(ArchiveFinal, match="'text/html', not a video") as caught:
        await _download(cdn.url(), OPEN)
    assert caught.value.code == "not_video"


async def test_an_octet_stream_passes_only_with_a_video_name(cdn: Cdn) -> None:
    cdn.mode = "octet"
    body, content_type, _ = await _download(cdn.url("/v/clip.MP4"), OPEN)
    assert (body, content_type) == (VIDEO, "application/octet-stream")
    with pytest.raises(ArchiveFinal, match="not a video"):
        await _download(cdn.url("/v/clip.bin"), OPEN)


async def test_a_redirect_to_an_allowed_path_is_followed(cdn: Cdn) -> None:
    cdn.redirect_to = "/v/moved.mp4"  # relative, as CDNs often write it
    body, _, _ = await _download(cdn.url("/redirect"), STRICT)
    assert body == VIDEO
    assert cdn.hits == ["/redirect", "/v/moved.mp4"]


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/v.mp4", "http://localhost:{port}/v.mp4"]
)
async def test_a_redirect_to_loopback_is_refused(cdn: Cdn, target: str) -> None:
    cdn.redirect_to = target.format(port=cdn.base.rsplit(":", 1)[1])
    with pytest.raises(ArchiveFinal, match="loopback address") as caught:
        await _download(cdn.url("/redirect"), STRICT)
    assert caught.value.code == "address_refused"
    assert cdn.hits == ["/redirect"]


async def test_a_redirect_to_another_scheme_is_refused(cdn: Cdn) -> None:
    cdn.redirect_to = "file:///etc/passwd"
    with pytest.raises(ArchiveFinal, match="only http:// and https://"):
        await _download(cdn.url("/redirect"), STRICT)


async def test_redirects_are_followed_at_most_five_times(cdn: Cdn) -> None:
    cdn.redirect_to = "/redirect"
    with pytest.raises(ArchiveFinal, match=f"more than {MAX_REDIRECTS} redirects"):
        await _download(cdn.url("/redirect"), OPEN)
    assert len(cdn.hits) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254"]
)
async def test_loopback_and_metadata_hosts_are_refused_before_connecting(host: str) -> None:
    policy = FetchPolicy(max_bytes=1024)
    with pytest.raises(ArchiveFinal, match="refused to download") as caught:
        await _download(f"http://{host}:9/v.mp4", policy)
    assert caught.value.code == "address_refused"


async def test_metadata_is_refused_even_when_private_is_allowed() -> None:
    with pytest.raises(ArchiveFinal, match="cloud metadata address"):
        await _download("http://[::ffff:169.254.169.254]/latest/meta-data/", OPEN)


async def test_allow_hosts_limits_every_hop(cdn: Cdn) -> None:
    policy = FetchPolicy(max_bytes=10 * 1024**2, allow_private=True, allow_hosts=("127.0.0.*",))
    body, _, _ = await _download(cdn.url(), policy)
    assert body == VIDEO
    cdn.redirect_to = "http://localhost/v.mp4"
    with pytest.raises(ArchiveFinal, match=r"not in \[archive\].allow_hosts") as caught:
        await _download(cdn.url("/redirect"), policy)
    assert caught.value.code == "host_refused"


async def test_messages_leave_out_the_links_signature(cdn: Cdn) -> None:
    cdn.mode = "gone"
    with pytest.raises(ArchiveFinal) as caught:
        await _download(cdn.url("/v/video.mp4?X-Signature=s3cr3t"), OPEN)
    assert "/v/video.mp4" in caught.value.message and "s3cr3t" not in caught.value.message
