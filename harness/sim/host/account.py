"""The time account: what the simulated module made the host wait, in real seconds.

UART time of the bytes both ways at BD, the guard-time silences around each `+++` that
entered command mode, registration and reset time, and the network waits, so a benchmark
can tell the harness's overhead from what a module needs anyway (A-STATS-ACCOUNT). The
server calls `TimeAccount` after each Engine call; it reads only what the `Engine` protocol
offers (BD, GT, command mode, registration, reset time).
"""

from __future__ import annotations

import bisect
import threading
import time

from harness.sim.core.effects import (
    ConnectionClosed,
    ConnectionFailed,
    ConnectionOpened,
    DataReceived,
    Effect,
    Event,
    OpenConnection,
    Reset,
    SendData,
)
from harness.sim.host.engine import Engine
from harness.xbee import at

# UART frame of one byte: start bit, 8 data bits, stop bit (8N1, D-BD: NB=0, SB=0 defaults).
BITS_PER_BYTE = at.BITS_PER_CHAR
# Guard-time silences per `+++` that entered command mode: GT before and GT after (D-ENTER).
GUARDS_PER_ESCAPE = 2
# Keys of `SimServer.stats()` that are imposed seconds and add up to `imposed_s`.
IMPOSED_KEYS = ("uart_s", "guard_time_s", "registration_s", "reset_s", "network_delay_s",
                "tls_handshake_delay_s")



def baud_rate(bd: int) -> int:
    """The UART rate of a BD value (D-BD), from the AT catalogue's one table."""
    return at.baud_rate(bd)


class IntervalUnion:
    """The total length of a union of time intervals, added in any order (mostly in order)."""

    def __init__(self) -> None:
        self._starts: list[float] = []
        self._ends: list[float] = []
        self.total = 0.0

    def add(self, start: float, end: float) -> None:
        if end <= start:
            return
        starts, ends = self._starts, self._ends
        if not starts or start > ends[-1]:  # the usual case: after everything so far
            starts.append(start)
            ends.append(end)
            self.total += end - start
            return
        # merge with every interval it touches: those with start <= end and end >= start
        lo = bisect.bisect_left(ends, start)
        hi = bisect.bisect_right(starts, end)
        if lo < hi:
            start, end = min(start, starts[lo]), max(end, ends[hi - 1])
            self.total -= sum(e - s for s, e in zip(starts[lo:hi], ends[lo:hi], strict=True))
        starts[lo:hi] = [start]
        ends[lo:hi] = [end]
        self.total += end - start


class ImposedTime:
    """The account of what the simulated module made the host wait, in real seconds.

    Updated from the server's loop thread, read from any thread (`snapshot`). Each part is
    summed on its own (`uart_s`, `guard_time_s` …), and each wait is also an interval of
    real time: `imposed_wall_s` is the length of their union, because waits overlap (a
    guard silence may pass while the module registers or a handshake runs). The union is
    what a host that added nothing would still have spent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._union = IntervalUnion()
        self._v: dict[str, float] = {
            "uart_to_module_s": 0.0, "uart_to_host_s": 0.0,
            "bytes_to_module": 0, "bytes_to_host": 0,
            "guard_time_s": 0.0, "escapes": 0,
            "registration_s": 0.0, "registrations": 0,
            "reset_s": 0.0, "resets": 0,
            "network_wait_s": 0.0,
        }  # fmt: skip

    def add(self, span: tuple[float, float] | None = None, **amounts: float) -> None:
        """Add to counters; `span` is the (start, end) of real time the wait took."""
        with self._lock:
            for key, value in amounts.items():
                self._v[key] += value
            if span is not None:
                self._union.add(*span)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            out = dict(self._v)
            out["imposed_wall_s"] = self._union.total
        out["uart_s"] = out["uart_to_module_s"] + out["uart_to_host_s"]
        return out


def uart_seconds(n_bytes: int, bd: int) -> float:
    """Wire time of `n_bytes` at BD (a code 0-0xA or a rate), 8N1."""
    return n_bytes * BITS_PER_BYTE / baud_rate(bd)


class TimeAccount:
    """The server's running account (`imposed`), fed by the loop thread after each Engine
    call and each effect or event; `time_scale` turns simulated seconds into real ones."""

    def __init__(self, engine: Engine, time_scale: float) -> None:
        self.engine = engine
        self.time_scale = time_scale
        self.imposed = ImposedTime()
        self._was_command_mode = False
        self._unregistered_since: float | None = None  # sim time AI left 0x00 (or power-up)
        self._uart_free = {"host": 0.0, "module": 0.0}  # when each direction's wire is idle
        self._net_waits: dict[tuple[str, int], float] = {}  # (open|reply, conn) -> since

    def power_on(self, now_sim: float) -> None:
        """Registration is timed from power-up (§3.3)."""
        self._unregistered_since = now_sim

    def uart(self, direction: str, n: int) -> None:
        """n bytes on the wire toward `direction`, one after the other at BD (8N1)."""
        seconds = uart_seconds(n, int(self.engine.param("BD")))
        start = max(time.monotonic(), self._uart_free[direction])
        self._uart_free[direction] = start + seconds
        self.imposed.add((start, start + seconds), **{f"bytes_to_{direction}": n,
                                                      f"uart_to_{direction}_s": seconds})

    def effect(self, effect: Effect) -> None:
        """Start the network waits an effect begins; account a reset's boot delay."""
        now = time.monotonic()
        if isinstance(effect, Reset):  # FR: the delay from its OK to the reset (A-FR-DELAY)
            took = self.engine.reset_s * self.time_scale
            self.imposed.add((now - took, now), resets=1, reset_s=took)
            self._net_waits.clear()  # the world drops every connection
        elif isinstance(effect, OpenConnection):
            self._net_waits[("open", effect.conn_id)] = now
        elif isinstance(effect, SendData):
            self._net_waits.setdefault(("reply", effect.conn_id), now)

    def event(self, event: Event) -> None:
        """End the network wait an event answers: a connect (opened or failed) or the first
        data after the host sent some (the round trip and the server's answer)."""
        conn = getattr(event, "conn_id", None)
        kinds: tuple[str, ...]
        if conn is None:
            return
        if isinstance(event, ConnectionOpened):
            kinds = ("open",)
        elif isinstance(event, DataReceived):
            kinds = ("reply",)
        elif isinstance(event, ConnectionFailed | ConnectionClosed):
            kinds = ("open", "reply")
        else:
            return
        found = [t for k in kinds if (t := self._net_waits.pop((k, conn), None)) is not None]
        if found:
            now = time.monotonic()
            since = min(found)
            self.imposed.add((since, now), network_wait_s=now - since)

    def observe(self, now_sim: float) -> None:
        """After a Modem call at simulated time `now_sim` (lock held): account an escape that
        entered command mode (GT before and after, D-ENTER) and a registration that completed
        (AI 0x00, §3.3). Registration is timed on the Modem's own clock (the `now` of the
        calls that lost and regained it), never shorter than the module's timers."""
        modem = self.engine
        entered = modem.in_command_mode
        if entered and not self._was_command_mode:
            guards = GUARDS_PER_ESCAPE * int(modem.param("GT")) / 1000.0 * self.time_scale  # D-GT
            now = time.monotonic()
            self.imposed.add((now - guards, now), escapes=1, guard_time_s=guards)
        self._was_command_mode = entered
        registered = modem.registered
        if not registered and self._unregistered_since is None:
            self._unregistered_since = now_sim
        elif registered and self._unregistered_since is not None:
            waited = (now_sim - self._unregistered_since) * self.time_scale
            self._unregistered_since = None
            now = time.monotonic()
            self.imposed.add((now - waited, now), registrations=1, registration_s=waited)
