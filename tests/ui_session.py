"""Logging in to the dashboard over plain HTTP, as a browser's form would."""

from __future__ import annotations

import re

import httpx

__all__ = ["csrf_of", "log_in"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Log `client` in with an API token; return the login POST's answer (303 on success)."""
    form = await client.get("/ui/login")
    assert form.status_code == 200, form.text
    return await client.post(
        "/ui/login", data={"token": token, "csrf_token": csrf_of(form.text), "next": ""}
    )
