"""`vidhook serve` sets the cyclic collector up for a long-running server."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc
from vidhook.receiver.cli.service import tune_gc
before = gc.get_threshold()
tune_gc()
after = gc.get_threshold()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()  # the imported modules, at least
assert after == (10_000, before[1], before[2]), after
"""


def test_tune_gc_freezes_what_exists_and_collects_the_young_less_often() -> None:
    # In a process of its own: freezing pytest's own objects would outlive this test.
    subprocess.run([sys.executable, "-c", CHECK], check=True, timeout=60)
