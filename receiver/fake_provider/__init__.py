"""A fake of every provider's API, for tests and demos: `python -m vidhook.receiver.fake_provider`.

It creates tasks, answers task queries in each provider's own shapes, ends each task after a
set delay, and calls back where that provider does. Point a source's `base_url` at
`{fake}/{provider}`.
"""

from __future__ import annotations

from vidhook.receiver.fake_provider.app import Failure, FakeProvider, Seen

__all__ = ["Failure", "FakeProvider", "Seen"]
