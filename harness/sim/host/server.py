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

The engine's contract is `harness.sim.host.engine.Engine`; the ports and UART pacing live
in `ports`, the time account in `account`, and `xbee-sim` (the command line) in `harness.sim.cli`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import selectors
import socket
import threading
import time
import tty
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import serial.rfc2217

from harness.sim.core import faults as faults_mod
from harness.sim.core.effects import (
    ConnectionFailed,
    DataReceived,
    Effect,
    Event,
    Failure,
    OpenConnection,
    Resolve,
    Resolved,
    SendSms,
    ToHost,
)
from harness.sim.host.account import IMPOSED_KEYS, TimeAccount, baud_rate
from harness.sim.host.engine import Engine
from harness.sim.host.ports import (
    ENFORCE_BAUD_OVER_RFC2217,
    HIGH_WATER,
    LOW_WATER,
    MAX_SUBNEGOTIATION,
    PACING_SLICE,
    READ_SIZE,
    Sink,
    TelnetConnection,
    UartSettings,
)
from harness.sim.host.sms import SmsOutbox

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Engine)

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

    def idle(self) -> bool:
        """Nothing in flight: every answer is posted at once."""
        return True

    def perform(self, effect: Effect) -> None:
        if isinstance(effect, OpenConnection):
            self._post(ConnectionFailed(effect.conn_id, Failure.NO_ROUTE,
                                        "no internet (simulator started without a network)"))
        elif isinstance(effect, Resolve):
            self._post(Resolved(effect.conn_id, None))

    def close(self) -> None:
        pass


class SimServer(Generic[E]):
    """An engine (a Modem, a replay) on a thread, reachable over a pty, TCP and/or RFC 2217."""

    def __init__(self, modem: E, world: World | None = None, *, time_scale: float = 1.0,
                 nvm_path: str | Path | None = None, uart_pacing: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(time_scale) and time_scale > 0):
            raise ValueError(f"time_scale must be a finite number > 0, got {time_scale}")
        self.modem = modem
        self.world: World = world if world is not None else NoInternet()
        self.time_scale = time_scale
        self.uart_pacing = uart_pacing
        self.nvm_path = Path(nvm_path) if nvm_path else None
        self.lock = threading.RLock()  # held while the loop talks to the Modem
        # simulated time reads this clock (a host's warping clock can share it: `quiet`)
        self.clock = clock
        self._t0 = clock()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self._calls: deque[Callable[[], object]] = deque()
        self._events: deque[Event] = deque()
        self._sinks: list[Sink] = []
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
        self.account = TimeAccount(modem, time_scale)
        self.sms = SmsOutbox()  # what the module sent by SMS (A-SMS-SINK)

    # ----- time ---------------------------------------------------------------------------

    def sim_now(self) -> float:
        """Simulated seconds since the server started: real time / time_scale."""
        return (self.clock() - self._t0) / self.time_scale

    def quiet(self) -> tuple[int, int, float] | None:
        """(host bytes the engine took, bytes sent to the host, clock time of the engine's
        next deadline or inf) while nothing is in flight here: no event, call or output
        waiting, no paced byte, the world idle, no deadline already due. None otherwise.
        A host's warping clock may skip to that time (A-CLOCK-WARP)."""
        idle = getattr(self.world, "idle", None)
        if not callable(idle) or self.uart_pacing:
            return None
        with self.lock:
            if self._calls or self._events or self.error is not None or not idle():
                return None
            if any(s.out or s.paced for s in self._sinks):
                return None
            deadline = self.modem.next_deadline()
            if deadline is not None and deadline <= self.sim_now():
                return None  # due: the loop has not ticked it yet
            until = math.inf if deadline is None else self._t0 + deadline * self.time_scale
            took = sum(s.took for s in self._sinks)
            said = sum(s.said for s in self._sinks)
        return took, said, until

    def nudge(self) -> None:
        """Wake the loop (its sleep was computed before a warping clock jumped)."""
        self._wake()

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
        sink = Sink(f"pty {path}", master)
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
        out: dict[str, float] = self.account.imposed.snapshot()
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

    def call(self, fn: Callable[[E], Any]) -> Any:
        """Run `fn(modem)` safely while the server runs (e.g. read `modem.nvm`)."""
        with self.lock:
            result = fn(self.modem)
        self._wake()  # what `fn` queued (a fault's 0x8A, …) goes out now, not at the next tick
        return result

    def deliver_sms(self, phone: str, text: bytes) -> bool:
        """An SMS from the simulated network to the module (0x9F when it can take it;
        A-SMS-SINK). False when the module has no SMS feature or cannot take it now."""

        def give(modem: E) -> bool:
            feature = getattr(modem, "features", {}).get("sms")
            return bool(feature is not None and feature.receive(phone, text))

        return bool(self.call(give))

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

    def _in_loop(self, fn: Callable[[], object]) -> None:
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
                self.account.power_on(now)
                self._perform(self.modem.power_on(now))
                self.account.observe(now)
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
                    self.account.observe(now)
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
            with self.lock:  # popped and handled as one step: `quiet` never sees it between
                event = self._events.popleft()
                if isinstance(event, DataReceived):
                    with self._bp_lock:
                        self._inbound -= len(event.data)
                self.account.event(event)
                now = self.sim_now()
                self._perform(self.modem.handle(event, now))
                self.account.observe(now)
            self._backpressure()

    def _perform(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, ToHost):
                self.account.uart("host", len(effect.data))
                for sink in self._sinks:
                    self._send(sink, effect.data)
            elif isinstance(effect, SendSms):
                self.sms.record(effect.phone, effect.text)
            else:
                self.account.effect(effect)
                self.world.perform(effect)

    def _bd(self) -> int:
        return int(self.modem.param("BD"))

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

    def _add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)
        self._sel.register(sink.fd, selectors.EVENT_READ, self._on_sink)

    def _close_sink(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._sel.unregister(sink.fd)
        if sink.sock is not None:
            with contextlib.suppress(OSError):
                sink.sock.close()

    def _send(self, sink: Sink, data: bytes) -> None:
        if sink.manager is not None:
            if not self._baud_ok(sink):  # re-clocked: garbage, not silence (A-BENCH-RFC2217-BAUD)
                data = faults_mod.garble(data)
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

    def _flush(self, sink: Sink) -> None:
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
            cooked = self._telnet(sink, data)
            if cooked is None:
                return
            data = cooked
            self._flush(sink)  # negotiation answers
            if not data:  # at a wrong rate too: the module still reads them (forum 20971,
                return  # A-BENCH-RFC2217-BAUD); its answers go back as garbage (`_send`)
        with self.lock:
            self.account.uart("module", len(data))
            now = self.sim_now()
            self._perform(self.modem.feed(data, now))
            self.account.observe(now)
            sink.took += len(data)

    def _telnet(self, sink: Sink, data: bytes) -> bytes | None:
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

    def _baud_ok(self, sink: Sink) -> bool:
        if not ENFORCE_BAUD_OVER_RFC2217 or sink.settings is None:
            return True
        want = baud_rate(int(self.modem.param("BD")))
        if sink.settings.baudrate == want:
            return True
        log.debug("%s: client at %d baud, module at %d: its answers are garbage", sink.name,
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
            sink = Sink(f"{kind} {peer[0]}:{peer[1]}", conn.fileno(), sock=conn)
            if rfc2217:
                sink.settings = UartSettings()
                # PortManager duck-types its port and connection; pyserial's stubs say Serial
                sink.manager = serial.rfc2217.PortManager(
                    sink.settings,  # type: ignore[arg-type]
                    TelnetConnection(sink),  # type: ignore[arg-type]
                )
            self._add_sink(sink)
            self._flush(sink)

        self._in_loop(lambda: self._sel.register(lsock, selectors.EVENT_READ, accept))
        addr = lsock.getsockname()
        return addr[0], addr[1]


