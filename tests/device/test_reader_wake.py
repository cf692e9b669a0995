"""A background reader's wait ends when it is told to stop (issue 13: each API-mode close
waited out the reader's 50 ms poll; 63 closes were 3 s of a 5 s replay run)."""

from __future__ import annotations

import os
import threading
import tty

import pytest

from harness.device.api import ApiClient
from harness.device.transport import open_device


@pytest.fixture
def quiet_tap():
    """A tap on a real pty whose far end never says anything."""
    master, slave = os.openpty()
    tty.setraw(slave)
    tap = open_device(os.ttyname(slave), 9600)
    yield tap
    tap.close()
    for fd in (master, slave):
        os.close(fd)


def test_wake_ends_a_long_real_time_wait(quiet_tap):
    got: list[bytes] = []
    reader = threading.Thread(
        target=lambda: got.append(quiet_tap.read_available(3600, warp=False)), daemon=True
    )
    reader.start()
    quiet_tap.wake()
    reader.join(timeout=30)  # the wait was an hour: only the wake can end it
    assert not reader.is_alive(), "the wait did not end on wake()"
    assert got == [b""], "a wake is not data"


def test_a_closed_reader_leaves_no_wake_behind(quiet_tap):
    client = ApiClient(quiet_tap).start()
    client.close()
    assert client._thread is None
    # a wake left over would end the next waiter's wait early, as if bytes had come
    assert quiet_tap._poll(0.02) is False


def test_wake_before_the_wait_still_ends_it(quiet_tap):
    """The reader may be between two polls when it is stopped: the wake waits for it."""
    quiet_tap.wake()
    assert quiet_tap._poll(3600) is True
    assert quiet_tap._poll(0.02) is False
