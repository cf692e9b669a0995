"""Host a simulated module behind a pseudo-terminal, a TCP port or an RFC 2217 port.

`SimServer` runs one thread with a `selectors` loop: host bytes go to `Modem.feed`, the Modem
is ticked at its `next_deadline()`, `ToHost` bytes go back to every attached port, and every
other effect goes to the `world` (the simulated network). Simulated time is the monotonic
clock divided by `time_scale`, converted in one place (`sim_now`), so `--time-scale 0.01`
makes guard times, CT and registration 100 times faster without touching the Modem.

The world (docs/design.md, "The world"): any object with `start(post)`, `perform(effect)` and
`close()`; it hands events back by calling `post(event)` from any thread. `world=None` means
no internet: every `OpenConnection` fails with `Failure.NO_ROUTE`.

The server also keeps an account of the time it imposed on the host (`stats()`): UART time
of the bytes both ways at BD, the guard-time silences around each `+++` that entered command
mode, registration and reset time, plus the world's network and handshake delays, all in
real seconds, so a benchmark can tell the harness's overhead from what a module needs anyway.

`xbee-sim` is the command line around it (`--stats FILE` writes the account as JSON).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import errno
import ipaddress
import json
import logging
import math
import os
import selectors
import signal
import socket
import sys
import threading
import time
import tty
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import serial.rfc2217

from harness.sim.core import personality as personality_mod
from harness.sim.core.effects import (
    ConnectionClosed,
    ConnectionFailed,
    ConnectionOpened,
    DataReceived,
    Effect,
    Event,
    Failure,
    OpenConnection,
    Reset,
    Resolve,
    Resolved,
    SendData,
    ToHost,
)
from harness.sim.core.modem import Modem
from harness.xbee import at

log = logging.getLogger(__name__)

READ_SIZE = 4096
# Output for a port nobody reads (a pty no one opened) is kept up to this many bytes, then
# the oldest is dropped, as a UART with nothing attached loses it. A port counts as unread
# once its pending output has made no progress for UNREAD_AFTER real seconds (A-SIM-UNREAD);
# while a host reads, nothing is ever dropped: the server holds the network back instead.
MAX_PENDING_OUTPUT = 64 * 1024
UNREAD_AFTER = 5.0
# Back-pressure (A-SIM-BACKPRESSURE): when a read port has more than HIGH_WATER bytes not yet
# taken by its reader (paced or queued), the world stops reading its sockets (the far end's
# TCP window fills), and reads again once every port is under LOW_WATER.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
# The longest telnet subnegotiation an RFC 2217 client may send; real ones are a few bytes
# (a SIGNATURE is a short text). A client over it is dropped, not buffered without end.
MAX_SUBNEGOTIATION = 1024
# Over RFC 2217 the client sets a baud rate; bytes at a rate other than BD's are line noise
# to a real module, so they are dropped (D-BD). One place to turn it off.
ENFORCE_BAUD_OVER_RFC2217 = True
# Host-bound bytes leave at the module's BD rate (10 bits a byte, 8N1), in real time whatever
# the time scale: the UART is where the simulated module meets the real host. This is also
# what keeps a reply from arriving before digi-xbee waits for it (its SyncRequestSender
# misses a notify that comes first and stalls 4 s). Slices keep the first bytes early.
PACING_SLICE = 64
# UART frame of one byte: start bit, 8 data bits, stop bit (8N1, D-BD: NB=0, SB=0 defaults).
BITS_PER_BYTE = at.BITS_PER_CHAR
# Guard-time silences per `+++` that entered command mode: GT before and GT after (D-ENTER).
GUARDS_PER_ESCAPE = 2
# How often `xbee-sim --stats FILE` rewrites the file while running (also on SIGUSR1, at exit).
STATS_INTERVAL = 2.0
# Keys of `SimServer.stats()` that are imposed seconds and add up to `imposed_s`.
IMPOSED_KEYS = ("uart_s", "guard_time_s", "registration_s", "reset_s", "network_delay_s",
                "tls_handshake_delay_s")


class World(Protocol):
    """What the server needs of the simulated network (harness.sim.host.network.Network)."""

    def start(self, post: Callable[[Event], None]) -> Any: ...

    def perform(self, effect: Effect) -> None: ...

    def close(self) -> None: ...


class NoInternet:
    """`world=None`: nothing answers. A connect fails as an unreachable server would."""

    def __init__(self) -> None:
        self._post: Callable[[Event], None] = lambda event: None

    def start(self, post: Callable[[Event], None]) -> NoInternet:
        self._post = post
        return self

    def perform(self, effect: Effect) -> None:
        if isinstance(effect, OpenConnection):
            self._post(ConnectionFailed(effect.conn_id, Failure.NO_ROUTE,
                                        "no internet (simulator started without a network)"))
        elif isinstance(effect, Resolve):
            self._post(Resolved(effect.conn_id, None))

    def close(self) -> None:
        pass


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


class _Sink:
    """One attached port: where host bytes come from and modem bytes go to."""

    def __init__(self, name: str, fd: int, *, sock: socket.socket | None = None) -> None:
        self.name = name
        self.fd = fd
        self.sock = sock
        self.out = bytearray()
        self.paced: deque[tuple[float, bytes]] = deque()  # (real release time, bytes)
        self.paced_bytes = 0  # bytes in `paced`
        self.line_free = 0.0  # real time the line finishes the bytes already scheduled
        self.last_progress = time.monotonic()  # the reader last took bytes (or `out` began)
        self.dropped = 0
        self.manager: serial.rfc2217.PortManager | None = None
        self.settings: _UartSettings | None = None

    def unread(self, now: float) -> bool:
        """Output is waiting and nobody has taken a byte of it for UNREAD_AFTER seconds."""
        return bool(self.out) and now - self.last_progress >= UNREAD_AFTER

    def backlog(self, now: float) -> int:
        """Bytes a reader still has to take: paced ones always (the UART sends them at BD
        whoever listens), queued ones only while somebody reads."""
        return self.paced_bytes + (0 if self.unread(now) else len(self.out))

    def queue(self, data: bytes) -> None:
        if not self.out:
            self.last_progress = time.monotonic()
        self.out += data
        self.trim(time.monotonic())

    def trim(self, now: float) -> None:
        """Keep only the newest MAX_PENDING_OUTPUT bytes of a port nobody reads."""
        if not self.unread(now):
            return
        excess = len(self.out) - MAX_PENDING_OUTPUT
        if excess > 0:
            del self.out[:excess]
            if not self.dropped:
                log.warning("%s: nobody reads the port; dropping old output", self.name)
            self.dropped += excess

    def flush(self) -> None:
        while self.out:
            try:
                n = self.sock.send(self.out) if self.sock else os.write(self.fd, self.out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                if err.errno in (errno.EAGAIN, errno.EIO):
                    return
                raise
            if n > 0:
                self.last_progress = time.monotonic()
            del self.out[:n]


class _UartSettings:
    """The serial-port face `serial.rfc2217.PortManager` configures: the module's UART."""

    def __init__(self) -> None:
        self.baudrate = 9600
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.dtr = True
        self.rts = True
        self.break_condition = False
        self.cts = True
        self.dsr = True
        self.ri = False
        self.cd = False

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass


class _Connection:
    """The `connection` PortManager writes telnet negotiation to."""

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> None:
        self._sink.queue(bytes(data))


class SimServer:
    """A Modem on a thread, reachable over a pty, TCP and/or RFC 2217."""

    def __init__(self, modem: Modem, world: World | None = None, *, time_scale: float = 1.0,
                 nvm_path: str | Path | None = None, uart_pacing: bool = True) -> None:
        if not (math.isfinite(time_scale) and time_scale > 0):
            raise ValueError(f"time_scale must be a finite number > 0, got {time_scale}")
        self.modem = modem
        self.world: World = world if world is not None else NoInternet()
        self.time_scale = time_scale
        self.uart_pacing = uart_pacing
        self.nvm_path = Path(nvm_path) if nvm_path else None
        self.lock = threading.RLock()  # held while the loop talks to the Modem
        self._t0 = time.monotonic()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self._calls: deque[Callable[[], None]] = deque()
        self._events: deque[Event] = deque()
        self._sinks: list[_Sink] = []
        self._listeners: list[socket.socket] = []
        self._ptys: list[tuple[int, int, str | None]] = []  # master, slave, link
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._saved_nvm = modem.nvm
        self.error: BaseException | None = None
        # back-pressure (A-SIM-BACKPRESSURE): the world is told to stop reading while the
        # network data not yet handled plus the most behind read port exceed the marks
        self._bp_lock = threading.Lock()
        self._holding = False
        self._inbound = 0  # bytes of DataReceived posted and not yet handled
        self._sink_backlog = 0  # the largest backlog of a read port (loop thread's view)
        self.account = ImposedTime()
        self._was_command_mode = False
        self._unregistered_since: float | None = None  # sim time AI left 0x00 (or power-up)
        self._uart_free = {"host": 0.0, "module": 0.0}  # when each direction's wire is idle
        self._net_waits: dict[tuple[str, int], float] = {}  # (open|reply, conn) -> since

    # ----- time ---------------------------------------------------------------------------

    def sim_now(self) -> float:
        """Simulated seconds since the server started: real time / time_scale."""
        return (time.monotonic() - self._t0) / self.time_scale

    def _real_delay(self, sim_deadline: float) -> float:
        return max(0.0, (sim_deadline - self.sim_now()) * self.time_scale)

    # ----- public -------------------------------------------------------------------------

    def start_pty(self, link: str | Path | None = None) -> str:
        """A pseudo-terminal; returns the slave path a client opens (and makes `link` point
        to it). The server keeps a slave fd open so the port works before and between
        clients."""
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        path = os.ttyname(slave)
        if link is not None:
            link = str(link)
            try:
                if os.path.islink(link):
                    os.unlink(link)
                os.symlink(path, link)
            except OSError as err:
                for fd in (master, slave):
                    os.close(fd)
                raise OSError(err.errno, f"--link {link}: cannot make the link: "
                              f"{err.strerror or err}") from None
        sink = _Sink(f"pty {path}", master)
        self._ptys.append((master, slave, link))
        self._in_loop(lambda: self._add_sink(sink))
        return path

    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """A raw TCP port, one client at a time (like ser2net); returns the bound address."""
        return self._listen(host, port, rfc2217=False)

    def start_rfc2217(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """An RFC 2217 port (pyserial `rfc2217://host:port`), one client at a time."""
        return self._listen(host, port, rfc2217=True)

    def stats(self) -> dict[str, float]:
        """The time imposed so far, in real seconds (see `ImposedTime`), plus the world's
        own `stats()` (network and handshake delays, traffic) when it has one, and
        `imposed_s`, the sum of the imposed parts (`IMPOSED_KEYS`). Counters only grow:
        subtract two snapshots for what happened in between."""
        out: dict[str, float] = self.account.snapshot()
        get = getattr(self.world, "stats", None)
        if callable(get):
            out.update(get())
        out["imposed_s"] = sum(float(out.get(k, 0.0)) for k in IMPOSED_KEYS)
        out["time_scale"] = self.time_scale
        return out

    @property
    def failure(self) -> str | None:
        """Why the simulator stopped serving, in one line (the exception and where it was
        raised), or None while it runs. The host shows this as the run's stop reason."""
        err = self.error
        if err is None:
            return None
        where = ""
        tb = err.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            where = f" (at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno})"
        text = " ".join(str(err).split()) or "no message"
        return f"simulator failed: {type(err).__name__}: {text}{where}"

    def call(self, fn: Callable[[Modem], Any]) -> Any:
        """Run `fn(modem)` safely while the server runs (e.g. read `modem.nvm`)."""
        with self.lock:
            return fn(self.modem)

    def wait_output_drained(self, timeout: float = 5.0) -> bool:
        """Wait until every byte the module has said so far has left for its ports (in the
        kernel's buffers), e.g. before a host opens the port and flushes stale input."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if all(not s.out and not s.paced for s in self._sinks):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        with contextlib.suppress(Exception):
            self.world.close()
        for sink in list(self._sinks):
            self._close_sink(sink)
        for lsock in self._listeners:
            with contextlib.suppress(OSError):
                lsock.close()
        self._listeners.clear()
        for master, slave, link in self._ptys:
            for fd in (master, slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
            if link is not None:
                with contextlib.suppress(OSError):
                    os.unlink(link)
        self._ptys.clear()
        with contextlib.suppress(OSError):
            self._sel.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._save_nvm()

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- the loop -------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self.world.start(self._post)
            self._thread = threading.Thread(target=self._run, name="xbee-sim", daemon=True)
            self._thread.start()

    def _in_loop(self, fn: Callable[[], None]) -> None:
        self._calls.append(fn)
        self._ensure_thread()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")

    def _post(self, event: Event) -> None:
        """The world's way back in (any thread)."""
        self._events.append(event)
        if isinstance(event, DataReceived):
            with self._bp_lock:
                self._inbound += len(event.data)
            self._hold_if_behind()  # at once, on the world's thread, before it reads more
        self._wake()

    def _run(self) -> None:
        try:
            while self._calls:  # ports first, so they see the power-up output
                self._calls.popleft()()
            with self.lock:
                now = self.sim_now()
                self._unregistered_since = now
                self._perform(self.modem.power_on(now))
                self._observe(now)
            while not self._stopping:
                deadline = self.modem.next_deadline()
                timeout = 1.0 if deadline is None else min(1.0, self._real_delay(deadline))
                release = [s.paced[0][0] for s in self._sinks if s.paced]
                if release:
                    timeout = min(timeout, max(0.0, min(release) - time.monotonic()))
                for key, mask in self._sel.select(timeout):
                    key.data(key, mask)
                    if self._stopping:
                        return
                with self.lock:
                    now = self.sim_now()
                    self._perform(self.modem.tick(now))
                    self._observe(now)
                self._release()
                self._backpressure()
                self._save_nvm()
        except Exception as err:  # a bug: keep the reason for the host, stop serving
            log.exception("simulator loop failed")
            self.error = err

    def _on_wake(self, key: selectors.SelectorKey, mask: int) -> None:
        with contextlib.suppress(OSError):
            os.read(self._wake_r, 4096)
        while self._calls:
            self._calls.popleft()()
        while self._events:
            event = self._events.popleft()
            if isinstance(event, DataReceived):
                with self._bp_lock:
                    self._inbound -= len(event.data)
            self._account_event(event)
            with self.lock:
                now = self.sim_now()
                self._perform(self.modem.handle(event, now))
                self._observe(now)
            self._backpressure()

    def _perform(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, ToHost):
                self._account_uart("host", len(effect.data))
                for sink in self._sinks:
                    self._send(sink, effect.data)
            else:
                self._account_effect(effect)
                self.world.perform(effect)

    def _bd(self) -> int:
        return int(self.modem.param("BD"))

    def _account_uart(self, direction: str, n: int) -> None:
        """n bytes on the wire toward `direction`, one after the other at BD (8N1)."""
        seconds = uart_seconds(n, self._bd())
        start = max(time.monotonic(), self._uart_free[direction])
        self._uart_free[direction] = start + seconds
        self.account.add((start, start + seconds), **{f"bytes_to_{direction}": n,
                                                      f"uart_to_{direction}_s": seconds})

    def _account_effect(self, effect: Effect) -> None:
        """Start the network waits an effect begins; account a reset's boot delay."""
        now = time.monotonic()
        if isinstance(effect, Reset):  # FR: the delay from its OK to the reset (A-FR-DELAY)
            took = self.modem.personality.reset_s * self.time_scale
            self.account.add((now - took, now), resets=1, reset_s=took)
            self._net_waits.clear()  # the world drops every connection
        elif isinstance(effect, OpenConnection):
            self._net_waits[("open", effect.conn_id)] = now
        elif isinstance(effect, SendData):
            self._net_waits.setdefault(("reply", effect.conn_id), now)

    def _account_event(self, event: Event) -> None:
        """End the network wait an event answers: a connect (opened or failed) or the first
        data after the host sent some (the round trip and the server's answer)."""
        conn = getattr(event, "conn_id", None)
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
            self.account.add((since, now), network_wait_s=now - since)

    def _observe(self, now_sim: float) -> None:
        """After a Modem call at simulated time `now_sim` (lock held): account an escape that
        entered command mode (GT before and after, D-ENTER) and a registration that completed
        (AI 0x00, §3.3). Registration is timed on the Modem's own clock (the `now` of the
        calls that lost and regained it), never shorter than the module's timers."""
        modem = self.modem
        entered = modem.in_command_mode
        if entered and not self._was_command_mode:
            guards = GUARDS_PER_ESCAPE * int(modem.param("GT")) / 1000.0 * self.time_scale  # D-GT
            now = time.monotonic()
            self.account.add((now - guards, now), escapes=1, guard_time_s=guards)
        self._was_command_mode = entered
        registered = modem.registered
        if not registered and self._unregistered_since is None:
            self._unregistered_since = now_sim
        elif registered and self._unregistered_since is not None:
            waited = (now_sim - self._unregistered_since) * self.time_scale
            self._unregistered_since = None
            now = time.monotonic()
            self.account.add((now - waited, now), registrations=1, registration_s=waited)

    def _save_nvm(self) -> None:
        if self.nvm_path is None:
            return
        with self.lock:
            nvm = self.modem.nvm
        if nvm == self._saved_nvm:
            return
        tmp = self.nvm_path.with_name(self.nvm_path.name + ".tmp")
        tmp.write_text(json.dumps(nvm, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.nvm_path)
        self._saved_nvm = nvm

    # ----- ports ----------------------------------------------------------------------------

    def _add_sink(self, sink: _Sink) -> None:
        self._sinks.append(sink)
        self._sel.register(sink.fd, selectors.EVENT_READ, self._on_sink)

    def _close_sink(self, sink: _Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._sel.unregister(sink.fd)
        if sink.sock is not None:
            with contextlib.suppress(OSError):
                sink.sock.close()

    def _send(self, sink: _Sink, data: bytes) -> None:
        if sink.manager is not None:
            if not self._baud_ok(sink):
                return
            data = b"".join(sink.manager.escape(data))
        if not self.uart_pacing:
            sink.queue(data)
            self._flush(sink)
            return
        byte_time = 10.0 / baud_rate(int(self.modem.param("BD")))
        t = max(time.monotonic(), sink.line_free)
        for i in range(0, len(data), PACING_SLICE):
            piece = data[i:i + PACING_SLICE]
            t += len(piece) * byte_time
            sink.paced.append((t, piece))
        sink.paced_bytes += len(data)
        sink.line_free = t

    def _release(self) -> None:
        """Move paced bytes whose time has come to the ports."""
        now = time.monotonic()
        for sink in list(self._sinks):
            if not sink.paced or sink.paced[0][0] > now:
                continue
            while sink.paced and sink.paced[0][0] <= now:
                piece = sink.paced.popleft()[1]
                sink.paced_bytes -= len(piece)
                sink.queue(piece)
            self._flush(sink)

    def _backpressure(self) -> None:
        """Hold the world's reading while a read port is behind (A-SIM-BACKPRESSURE): the
        host gets every byte at any size, and memory stays bounded by the water marks."""
        now = time.monotonic()
        for sink in self._sinks:
            sink.trim(now)
        self._sink_backlog = max((s.backlog(now) for s in self._sinks), default=0)
        self._hold_if_behind()

    def _hold_if_behind(self) -> None:
        """Tell the world to stop or resume reading (any thread), with hysteresis."""
        with self._bp_lock:
            mark = LOW_WATER if self._holding else HIGH_WATER
            hold = self._inbound + self._sink_backlog > mark
            if hold == self._holding:
                return
            self._holding = hold
            log.debug("port behind: network reading %s", "held" if hold else "resumed")
            setter = getattr(self.world, "set_reading", None)
            if callable(setter):
                setter(not hold)

    def _flush(self, sink: _Sink) -> None:
        try:
            sink.flush()
        except OSError as err:
            log.info("%s: write failed (%s); client gone", sink.name, err.strerror)
            if sink.sock is not None:
                self._close_sink(sink)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if sink.out else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.modify(sink.fd, events, self._on_sink)

    def _on_sink(self, key: selectors.SelectorKey, mask: int) -> None:
        sink = next((s for s in self._sinks if s.fd == key.fd), None)
        if sink is None:
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(sink)
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = sink.sock.recv(READ_SIZE) if sink.sock else os.read(sink.fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            if err.errno == errno.EIO:  # pty with no slave open (we hold one; defensive)
                return
            data = b""
        if not data:
            if sink.sock is not None:
                log.info("%s: client disconnected", sink.name)
                self._close_sink(sink)
            return
        if sink.manager is not None:
            data = self._telnet(sink, data)
            if data is None:
                return
            self._flush(sink)  # negotiation answers
            if not data or not self._baud_ok(sink):
                return
        with self.lock:
            self._account_uart("module", len(data))
            now = self.sim_now()
            self._perform(self.modem.feed(data, now))
            self._observe(now)

    def _telnet(self, sink: _Sink, data: bytes) -> bytes | None:
        """Take the telnet/RFC 2217 negotiation out of a client's bytes. A malformed or
        endless negotiation is that client's fault: it loses its connection (None), the
        simulator goes on serving the next client."""
        manager = sink.manager
        assert manager is not None
        try:
            out = b"".join(manager.filter(data))
        except Exception as err:  # pyserial raises struct.error, TypeError … on bad input
            why = f"{type(err).__name__}: {err}"
        else:
            suboption = manager.suboption
            if suboption is None or len(suboption) <= MAX_SUBNEGOTIATION:
                return out
            why = f"subnegotiation longer than {MAX_SUBNEGOTIATION} bytes"
        log.warning("%s: bad telnet negotiation (%s); dropping this client", sink.name, why)
        self._close_sink(sink)
        return None

    def _baud_ok(self, sink: _Sink) -> bool:
        if not ENFORCE_BAUD_OVER_RFC2217 or sink.settings is None:
            return True
        want = baud_rate(int(self.modem.param("BD")))
        if sink.settings.baudrate == want:
            return True
        log.debug("%s: client at %d baud, module at %d: bytes lost", sink.name,
                  sink.settings.baudrate, want)
        return False

    def _listen(self, host: str, port: int, *, rfc2217: bool) -> tuple[str, int]:
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lsock.bind((host, port))
        except OSError as err:
            lsock.close()
            raise OSError(err.errno, f"cannot listen on {host}:{port}: {err.strerror}") from None
        lsock.listen(1)
        lsock.setblocking(False)
        self._listeners.append(lsock)
        kind = "rfc2217" if rfc2217 else "tcp"

        def accept(key: selectors.SelectorKey, mask: int) -> None:
            try:
                conn, peer = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            if any(s.name.startswith(f"{kind} ") for s in self._sinks if s.sock is not None):
                log.info("%s: refusing %s:%d, a client is connected", kind, *peer)
                conn.close()
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sink = _Sink(f"{kind} {peer[0]}:{peer[1]}", conn.fileno(), sock=conn)
            if rfc2217:
                sink.settings = _UartSettings()
                sink.manager = serial.rfc2217.PortManager(sink.settings, _Connection(sink))
            self._add_sink(sink)
            self._flush(sink)

        self._in_loop(lambda: self._sel.register(lsock, selectors.EVENT_READ, accept))
        addr = lsock.getsockname()
        return addr[0], addr[1]


# ----- xbee-sim ---------------------------------------------------------------------------


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT (PORT 0 = any free)")
    return host or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="xbee-sim",
        description="Serve a simulated Digi XBee3 Cellular module on a pty, TCP or RFC 2217 "
        "port. With --pty the first line printed is the device path.")
    p.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    p.add_argument("--link", metavar="PATH", help="with --pty: also make PATH a symlink to it")
    p.add_argument("--tcp", metavar="HOST:PORT", type=_hostport,
                   help="serve raw bytes on TCP, one client at a time (socket://HOST:PORT)")
    p.add_argument("--rfc2217", metavar="HOST:PORT", type=_hostport,
                   help="serve RFC 2217 on TCP (rfc2217://HOST:PORT)")
    p.add_argument("--personality", default=personality_mod.DEFAULT,
                   help=f"firmware personality, a name ({', '.join(personality_mod.available())})"
                   " or a YAML file (default %(default)s)")
    p.add_argument("--ap", type=int, choices=(0, 1, 2), help="operating mode at power-up (AP)")
    p.add_argument("--time-scale", default="1", metavar="X",
                   help="simulated time runs X times real time (0.01 = 100x faster)")
    p.add_argument("--nvm", metavar="FILE", help="JSON file where WR values persist")
    p.add_argument("--flash", metavar="DIR", help="host folder holding /flash (default: memory)")
    p.add_argument("--config", metavar="FILE", help="YAML file with a `network:` block")
    p.add_argument("--no-network", action="store_true",
                   help="no internet: every connection fails (no route)")
    p.add_argument("--stats", metavar="FILE",
                   help="write the account of imposed time (UART, guard times, registration, "
                   f"network) as JSON to FILE at exit, on SIGUSR1 and every {STATS_INTERVAL:g} s")
    p.add_argument("--log-level", default="WARNING",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    from harness.sim.host import network

    network.add_arguments(p)
    return p


def load_nvm(path: Path) -> dict[str, at.Value]:
    """An --nvm file: a JSON object of AT name → value. Errors name the file and key."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of AT name -> value")
    out: dict[str, at.Value] = {}
    for key, value in data.items():
        try:
            row = at.spec(key)
            out[row.name] = at.validate(row.name, value)
        except at.AtError as err:
            raise ValueError(f"{path}: key {key!r}: {err}") from None
    return out


def write_stats(server: SimServer, path: Path) -> None:
    """The account as a JSON object, replaced atomically so a reader never sees half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(server.stats(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _make_world(args: argparse.Namespace) -> World | None:
    if args.no_network:
        return None
    from harness.sim.host import network

    base = network.load_config(args.config) if args.config else None
    config = network.config_from_args(args, base)
    if args.time_scale != 1.0:  # network delays are simulated time too
        scaled = {k: getattr(config, k) * args.time_scale for k in
                  ("latency", "tls_handshake_time", "no_route_timeout", "connect_timeout")}
        config = config.model_copy(update=scaled)
    return network.Network(config)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not (args.pty or args.tcp or args.rfc2217):
        print("xbee-sim: nothing to serve on; give --pty, --tcp and/or --rfc2217",
              file=sys.stderr)
        return 2
    scale = time_scale(args.time_scale)
    if scale is None:
        print(f"xbee-sim: --time-scale {args.time_scale}: expected a finite number > 0 "
              "(0.01 = 100x faster)", file=sys.stderr)
        return 2
    args.time_scale = scale
    try:
        persona = personality_mod.load(args.personality)
        nvm = load_nvm(Path(args.nvm)) if args.nvm else {}
        flash = None
        if args.flash:
            from harness.sim.host.flashfs import FlashFS

            flash = FlashFS(root=args.flash)
        modem = Modem(persona, nvm=nvm, ap=args.ap, flash=flash)
        world = _make_world(args)
    except (personality_mod.PersonalityError, ValueError, OSError) as err:
        print(f"xbee-sim: {err}", file=sys.stderr)
        return 2

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stats_path = Path(args.stats) if args.stats else None
    dump_now = threading.Event()
    if stats_path is not None:
        signal.signal(signal.SIGUSR1, lambda *_: dump_now.set())
    server = SimServer(modem, world, time_scale=args.time_scale, nvm_path=args.nvm)
    try:
        if args.pty:
            print(server.start_pty(args.link), flush=True)
        if args.tcp:
            _warn_if_public("--tcp", args.tcp[0])
            print("socket://{}:{}".format(*server.start_tcp(*args.tcp)), flush=True)
        if args.rfc2217:
            _warn_if_public("--rfc2217", args.rfc2217[0])
            print("rfc2217://{}:{}".format(*server.start_rfc2217(*args.rfc2217)), flush=True)
    except OSError as err:
        print(f"xbee-sim: {err.strerror or err}", file=sys.stderr)
        server.stop()
        return 2
    next_dump = time.monotonic()
    try:
        while not stop.wait(0.2):
            if server.error is not None:
                print(f"xbee-sim: stopped: {server.failure}", file=sys.stderr)
                return 1
            if stats_path is not None and (dump_now.is_set() or time.monotonic() >= next_dump):
                dump_now.clear()
                next_dump = time.monotonic() + STATS_INTERVAL
                _try_write_stats(server, stats_path)
    finally:
        server.stop()
        if stats_path is not None:
            _try_write_stats(server, stats_path)
    return 0


def time_scale(text: str) -> float | None:
    """An --time-scale value, or None when it is not a finite number > 0 (nan, inf, 0 …:
    a nan scale made every deadline nan and the loop spin)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _warn_if_public(option: str, host: str) -> None:
    """One line when a port is served beyond this host: whoever reaches it drives the
    simulated module, and through it the simulated network's routes."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        print(f"xbee-sim: warning: {option} {host} is not a loopback address: anyone who "
              "reaches it drives the simulated module and its routes", file=sys.stderr,
              flush=True)


def _try_write_stats(server: SimServer, path: Path) -> None:
    try:
        write_stats(server, path)
    except OSError as err:
        print(f"xbee-sim: --stats {path}: {err.strerror or err}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
