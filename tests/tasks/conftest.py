"""Fixtures for the task tests: the fake provider, and vidhook knowing its public URL."""

from tests.provider_harness import fake, start_vidhook, tls_dir

__all__ = ["fake", "start_vidhook", "tls_dir"]
