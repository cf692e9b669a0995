"""The one clock the device layer reads for every wait (issue 13, deliverable 2).

Every wait of the device layer (a first-byte timeout, a CI poll, the guard silence around
`+++`, a registration poll, a `read_until` deadline) reads the `Clock` its `Tap` was given.
`MonotonicClock` is real time: hardware and realistic simulator timing use it. `WarpClock`
is real time plus the time it skipped: when the harness waits and the device at the other
end of the line says it has nothing to say before some time (a replay with no timed
emission, the fast simulator between deadlines, nothing in flight either way), the wait
jumps to min(its deadline, that time) instead of sleeping (A-CLOCK-WARP). The bytes on the
wire are the same; only the waiting where nothing can happen is gone.

The far end is any `Peer` (the composition root wires the simulator's or the replay's host
server); this module imports nothing of `sim` or `replay`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

# A wait that cannot jump waits in real slices this long (a byte ends it at once).
WARP_SLICE = 0.005
# `poll(block)`: True once bytes are ready to read, having waited at most `block` real s.
Poll = Callable[[float], bool]


class Clock(Protocol):
    """Seconds on one timeline; `sleep` and `wait_bytes` are the only ways to let it pass."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def wait_bytes(self, poll: Poll, deadline: float) -> bool:
        """Wait until `poll` says bytes are ready (True) or `deadline` (clock time) passes."""
        ...


class MonotonicClock:
    """Real time (`time.monotonic`): the default, and always for hardware."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait_bytes(self, poll: Poll, deadline: float) -> bool:
        while True:
            left = deadline - time.monotonic()
            if poll(max(0.0, left)):
                return True
            if left <= 0:
                return False


REAL = MonotonicClock()


class Quiet(Protocol):
    """What the far end says about itself, or None while it is busy (work in flight)."""

    def __call__(self) -> tuple[int, int, float] | None:
        """(bytes it took from the host, bytes it sent to the host, clock time before which
        it will send nothing unprompted: `math.inf` for never)."""
        ...


class WarpClock:
    """Real time plus skipped time; skips only while both ends of the line are quiet.

    `attach(quiet, host, on_jump)` wires the far end (`quiet`), the host's byte counts
    (`host() -> (sent, received)`, the Tap's) and a callback run after each jump (to wake the
    far end's loop, whose sleep was computed before it). Unattached, it is real time.
    """

    def __init__(self) -> None:
        self._skipped = 0.0
        self._lock = threading.Lock()
        self._quiet: Quiet | None = None
        self._host: Callable[[], tuple[int, int]] | None = None
        self._on_jump: Callable[[], None] = lambda: None
        self._offset = (0, 0)
        self.jumps = 0  # how many waits were cut short (a benchmark reports it)

    def attach(
        self,
        quiet: Quiet,
        host: Callable[[], tuple[int, int]],
        on_jump: Callable[[], None] | None = None,
    ) -> None:
        """Start warping. What the far end said before the host's port was open was flushed
        by the open, so the counts are compared from here on."""
        self._quiet, self._host = quiet, host
        self._on_jump = on_jump or (lambda: None)
        far = quiet()
        sent, got = host()
        self._offset = (0, 0) if far is None else (far[0] - sent, far[1] - got)

    @property
    def skipped(self) -> float:
        return self._skipped

    def now(self) -> float:
        return time.monotonic() + self._skipped

    def quiet_until(self) -> float | None:
        """Clock time before which nothing will reach the host, or None (something may)."""
        if self._quiet is None or self._host is None:
            return None
        far = self._quiet()
        if far is None:
            return None
        took, said, until = far
        sent, got = self._host()
        if (took - sent, said - got) != self._offset:
            return None  # bytes on their way, one way or the other
        return until

    def _skip_to(self, target: float) -> bool:
        """Move the clock on to `target` (if it is ahead); True if it moved."""
        with self._lock:
            now = self.now()
            if not math.isfinite(target) or target <= now:
                return False
            self._skipped += target - now
            self.jumps += 1
        self._on_jump()
        return True

    def sleep(self, seconds: float) -> None:
        deadline = self.now() + seconds
        while (left := deadline - self.now()) > 0:
            until = self.quiet_until()
            if until is None or not self._skip_to(min(deadline, until)):
                time.sleep(min(left, WARP_SLICE))

    def wait_bytes(self, poll: Poll, deadline: float) -> bool:
        while True:
            if poll(0.0):
                return True
            left = deadline - self.now()
            if left <= 0:
                return False
            until = self.quiet_until()
            # quiet first, then ready: what was handed over before the quiet check is
            # visible to `poll` now, and nothing can arrive after it (A-CLOCK-WARP)
            if until is not None:
                if poll(0.0):
                    return True
                if self._skip_to(min(deadline, until)):
                    continue
            if poll(min(left, WARP_SLICE)):
                return True
