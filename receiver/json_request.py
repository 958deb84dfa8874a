"""The request class of every Litestar handler: JSON bodies are measured before decoding.

Every handler that takes a JSON body (`data`) has it decoded through `Request.json()`, so
checking there covers the submit, task and replay endpoints and any added later. The body's
size is bounded by `request_max_body_size` (`server.max_body_bytes`) when it is read.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.types import Empty

from vidhook.receiver.json_depth import refuse_deep_json

__all__ = ["MAX_JSON_DEPTH_KEY", "JsonLimitedRequest"]

# Where the app's state keeps `server.max_json_depth` for this class to read.
MAX_JSON_DEPTH_KEY = "max_json_depth"


class JsonLimitedRequest(Request[Any, Any, Any]):
    """A Litestar request whose JSON body is refused (400) when it nests too deep."""

    async def json(self) -> Any:
        """The decoded JSON body, once it is known not to nest past the limit."""
        if self._json is Empty and self._connection_state.json is Empty:
            refuse_deep_json(await self.body(), self.app.state[MAX_JSON_DEPTH_KEY])
        return await super().json()
