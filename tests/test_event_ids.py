"""Event ids: UUIDv7 text, ordered by time, unique within a process and across a fork."""

from __future__ import annotations

import os
import uuid

import pytest

from vidhook.receiver.event import new_id


def test_ids_are_uuid_version_7_with_the_rfc_variant() -> None:
    for _ in range(2000):
        value = uuid.UUID(new_id())
        assert value.version == 7
        assert value.variant == uuid.RFC_4122


def test_ids_sort_as_text_in_the_order_they_were_made() -> None:
    ids = [new_id() for _ in range(20_000)]  # crosses random-block refills many times
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


# Newer Pythons warn about fork() in a process with threads; this child runs no thread.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forked_child_does_not_repeat_the_ids_its_parent_makes_next() -> None:
    new_id()  # the parent holds a partly used block of random bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write 50 ids and leave without running pytest's teardown
        os.close(read)
        os.write(write, " ".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    parent = [new_id() for _ in range(50)]
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    assert len(child) == 50
    # The time part may match; the random part after it must not.
    assert not {i[19:] for i in parent} & {i[19:] for i in child}
