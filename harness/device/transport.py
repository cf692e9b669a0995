"""Open a `--device` spec through pyserial and tap every byte into the test's capture.

A spec is a path (`/dev/ttyUSB0`, a pty from the simulator), `rfc2217://host:port` (a
ser2net bench rig) or `socket://host:port` (the simulator's TCP server). This module is the
only place that knows that; above it, the device layer sees a `Tap` and cannot tell a real
module from a simulated one. Opening failures become one-line `PortOpenError`s naming the port
and the cause (missing, held by another process and by whom, permission, refused); a read or
write failure on an open port is a `PortLost` ("lost SPEC during …: [Errno 5] …").
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import serial

from harness.capture import RX, TX, CaptureWriter
from harness.device.clock import REAL, Clock
from harness.device.errors import DeviceTimeout, PortLost, PortOpenError

URL_SCHEMES = ("rfc2217://", "socket://", "loop://")
HOST_PORT_URLS = ("rfc2217://", "socket://")
DEFAULT_BAUD = 9600  # BD=3 default (D-BD, reference §8)
WRITE_TIMEOUT = 5.0  # a write that cannot drain in this long means a stuck port
READ_POLL = 0.05  # seconds a single read may block; waits above it are loops with deadlines


def _has_port(url: str) -> bool:
    try:
        port = urllib.parse.urlsplit(url).port
    except ValueError:  # not a number, or out of range
        return False
    return port is not None and port > 0


def is_url(spec: str) -> bool:
    return "://" in spec


def open_serial(
    spec: str, baudrate: int = DEFAULT_BAUD, *, timeout: float = READ_POLL
) -> serial.SerialBase:
    """Open `spec` with pyserial (exclusively, for local ports) or raise a one-line PortError."""
    if not spec:
        raise PortOpenError(
            "''", "empty device spec (give a path, rfc2217://host:port or socket://…)"
        )
    if spec.startswith(HOST_PORT_URLS) and not _has_port(spec):
        raise PortOpenError(spec, "give HOST:PORT (a port 1-65535)")  # not pyserial's TypeError
    kwargs: dict[str, Any] = {"baudrate": baudrate, "timeout": timeout}
    if not spec.startswith("rfc2217://"):  # pyserial's RFC 2217 client has no write timeout
        kwargs["write_timeout"] = WRITE_TIMEOUT
    if not is_url(spec):
        kwargs["exclusive"] = True  # flock(LOCK_EX|LOCK_NB) on POSIX, like digi-xbee (§2a)
    url = spec
    if spec.startswith("rfc2217://") and "ign_set_control" not in spec:
        # ser2net serving a pty never acknowledges SET_CONTROL (A-RFC2217-IGN-CONTROL)
        url += ("&" if "?" in spec else "?") + "ign_set_control"
    try:
        port = serial.serial_for_url(url, do_not_open=True, **kwargs)
    except (ValueError, serial.SerialException) as exc:
        raise PortOpenError(spec, _plain(exc)) from None
    try:
        port.open()
    except (serial.SerialException, OSError) as exc:
        raise PortOpenError(spec, explain_open_error(spec, exc)) from None
    return port


def explain_open_error(spec: str, exc: BaseException) -> str:
    """The cause of an open failure in words a bench user can act on."""
    code = getattr(exc, "errno", None)
    text = _plain(exc)
    if code is None:
        m = re.search(r"\[Errno (\d+)\]", text)
        code = int(m.group(1)) if m else None
    if "exclusively lock" in text or code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
        who = holders(spec)
        return "port is in use by another process" + (f" ({who})" if who else "")
    if code == errno.ENOENT:
        return "no such port (is the module plugged in? see ls /dev/serial/by-id)"
    if code in (errno.EACCES, errno.EPERM):
        return (
            "permission denied (add your user to the 'dialout' group: "
            "sudo usermod -aG dialout $USER, then log in again)"
        )
    if code == errno.ECONNREFUSED or "refused" in text.lower():
        return "connection refused (is the simulator or ser2net listening there?)"
    if code in (errno.ETIMEDOUT, errno.EHOSTUNREACH) or "timed out" in text.lower():
        return "no answer from the host (timed out)"
    return text


def lost_cause(exc: BaseException) -> str:
    """Why an open port failed: the OS error under pyserial's wrapper (`[Errno 5]
    Input/output error`), else pyserial's own words without its "read/write failed: "."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return f"[Errno {seen.errno}] {seen.strerror or os.strerror(seen.errno)}"
        seen = seen.__cause__ or seen.__context__
    return re.sub(r"^(read|write) failed: ", "", _plain(exc))


def _plain(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def holders(path: str) -> str:
    """Who holds `path`: pids and names from /proc/locks (flock) and /proc/*/fd. Best effort."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    pids: list[int] = []
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    wanted = {f"{major:02x}:{minor:02x}:{st.st_ino}", f"{major}:{minor}:{st.st_ino}"}
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()
            # "1: FLOCK  ADVISORY  WRITE 1234 00:19:5 0 EOF"
            if len(parts) >= 6 and parts[5] in wanted and parts[4].isdigit():
                pids.append(int(parts[4]))
    if not pids:
        pids = _fd_holders(os.path.realpath(path))
    seen: list[str] = []
    for pid in dict.fromkeys(pids):
        seen.append(f"pid {pid} {_proc_name(pid)}".rstrip())
    return ", ".join(seen)


def _fd_holders(real: str) -> list[int]:
    out = []
    me = os.getpid()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            with contextlib.suppress(OSError):
                for fd in os.scandir(f"/proc/{entry.name}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(fd.path) == real:
                            out.append(int(entry.name))
                            break
    return out


def _proc_name(pid: int) -> str:
    try:
        return "(" + Path(f"/proc/{pid}/comm").read_text().strip() + ")"
    except OSError:
        return ""


class Tap:
    """A byte port that records every byte both ways, with monotonic timestamps.

    Wraps a pyserial port. `write`/`read*` are the only ways bytes move, so nothing escapes
    the capture. With no capture, it is a plain bounded-wait port. `redact_upload()` marks a
    secret upload (XPUT): the capture keeps only its size and SHA-256. Every wait reads
    `clock` (`harness.device.clock`: real time unless the composition root gives another),
    and so does everything above the tap: one clock for the device layer.
    """

    def __init__(
        self,
        port: serial.SerialBase,
        capture: CaptureWriter | None = None,
        spec: str = "",
        *,
        clock: Clock = REAL,
    ) -> None:
        self.port = port
        self.capture = capture
        self.spec = spec or str(port.port)
        self.clock = clock
        self.sent = 0  # bytes written to the port, ever (a warping clock compares them)
        self.received = 0  # bytes read from the port and handled, ever
        self._holding = 0  # readers inside `handing_over()`
        self._in_hand = 0  # bytes they read and have not handed over yet
        self.last_rx = 0.0  # clock time of the last byte received
        # Opening a port can glitch the line: count the open as activity, so a `+++` right
        # after it still gets its guard time of silence (D-ENTER).
        self.last_tx = clock.now()
        self._unread = bytearray()  # read from the port (and recorded) but not yet consumed
        self.during = ""  # what the port is in use for (a test), for a `PortLost` message
        self._wake_r, self._wake_w = os.pipe()  # `wake()`: ends a poll at once (issue 13)
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # --- recording ---
    def _rx(self, data: bytes) -> bytes:
        if data:
            if self._holding:
                self._in_hand += len(data)
            else:
                self.received += len(data)
            self.last_rx = self.clock.now()
            if self.capture is not None:
                self.capture.wire(RX, data)
        return data

    def note(self, ev: str, **fields: Any) -> None:
        if self.capture is not None:
            self.capture.note(ev, **fields)

    @contextlib.contextmanager
    def redact_upload(self, what: str, content: bytes | None = None) -> Iterator[None]:
        """Inside this block, host→module bytes are recorded as size + SHA-256 only."""
        if self.capture is None:
            yield
            return
        with self.capture.redact_upload(what, content):
            yield

    @contextlib.contextmanager
    def handing_over(self) -> Iterator[None]:
        """For a background reader: bytes read inside count as received (for a warping
        clock) only once the block ends, i.e. once the reader has handed them on, so the
        clock cannot skip while a frame is between the port and its waiter."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
            if not self._holding:
                self.received += self._in_hand
                self._in_hand = 0

    # --- bytes ---
    def write(self, data: bytes) -> int:
        data = bytes(data)
        if self.capture is not None:
            self.capture.wire(TX, data)
        try:
            n = self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise self._lost(exc, "a write") from None
        self.sent += len(data)
        self.last_tx = self.clock.now()
        return len(data) if n is None else n

    def _read_port(self, size: int) -> bytes:
        try:
            return self._rx(self.port.read(size))
        except (serial.SerialException, OSError) as exc:
            raise self._lost(exc, "a read") from None

    def _lost(self, exc: BaseException, what: str) -> PortLost:
        """A failure on the open port: `during` (a test, set by the harness) or the operation."""
        return PortLost(self.spec, lost_cause(exc), self.during or what)  # A-PORT-LOST

    def _take(self, size: int) -> bytes:
        out = bytes(self._unread[:size])
        del self._unread[:size]
        return out

    def read(self, size: int = 1) -> bytes:
        """Up to `size` bytes, blocking at most the port's short poll timeout."""
        if self._unread:
            return self._take(size)
        return self._read_port(size)

    def read_available(self, wait: float = 0.0, *, warp: bool = True) -> bytes:
        """Whatever is buffered now (waiting up to `wait` clock seconds for the first byte).
        `warp=False`: wait in real time whatever the clock (a background reader's poll is
        not the harness waiting: only its waiters may let the clock skip)."""
        if not self._unread and not self._waiting() and wait > 0:
            clock = self.clock if warp else REAL
            clock.wait_bytes(self._poll, clock.now() + wait)
        out = self._take(len(self._unread))
        n = self._waiting()
        return out + self._read_port(n) if n else out

    def _waiting(self) -> int:
        try:
            # every serial_for_url class has `in_waiting`; pyserial's base class declares none
            return int(self.port.in_waiting)  # type: ignore[attr-defined]
        except (serial.SerialException, OSError) as exc:
            raise self._lost(exc, "a read") from None

    def _poll(self, block: float) -> bool:
        """True once bytes are ready; waits at most `block` real seconds (at most one short
        port poll): the primitive the clock's `wait_bytes` drives."""
        if self._unread or self._waiting():
            return True
        if block <= 0:
            return False
        fd = self._fileno()
        if fd is not None:
            try:
                ready, _, _ = select.select([fd, self._wake_r], [], [], min(block, READ_POLL))
            except (OSError, ValueError, serial.SerialException):
                ready = []
            if self._wake_r in ready:
                self.clear_wake()
                return True  # look now: the reader's stop flag, or bytes
            return bool(ready) and bool(self._waiting())
        if block < READ_POLL:  # no descriptor (rfc2217://, socket://): no short wait either
            return False
        chunk = self._read_port(1)  # blocks up to the port's timeout (READ_POLL)
        self._unread += chunk
        return bool(chunk)

    def _fileno(self) -> int | None:
        """The port's descriptor to select on, or None (pyserial's URL ports have none: their
        `fileno` raises)."""
        try:
            fd = self.port.fileno()
        except (OSError, ValueError, AttributeError, serial.SerialException):
            return None
        return fd if isinstance(fd, int) and fd >= 0 else None

    def wake(self) -> None:
        """End the current (or next) poll at once: a background reader told to stop sees its
        flag now, not after its poll (each API-mode close waited 50 ms for it; issue 13)."""
        with contextlib.suppress(OSError):  # full (a wake is pending already) or closed
            os.write(self._wake_w, b"w")

    def clear_wake(self) -> None:
        """Forget a wake nobody's poll took (the reader stopped between two polls)."""
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 64):
                pass

    def unread(self, data: bytes) -> None:
        """Give bytes back: the next read returns them first (they are recorded already)."""
        self._unread[:0] = data

    def read_until(
        self, expected: bytes | tuple[bytes, ...], timeout: float, *, what: str
    ) -> bytes:
        """Bytes up to and including the first of `expected`; the rest stays for the next read.

        DeviceTimeout names `what` and shows the last bytes that did come.
        """
        ends = (expected,) if isinstance(expected, bytes) else expected
        deadline = self.clock.now() + timeout
        buf = bytearray()
        while True:
            hits = [(i + len(e)) for e in ends if (i := buf.find(e)) >= 0]
            if hits:
                cut = min(hits)
                self.unread(bytes(buf[cut:]))
                return bytes(buf[:cut])
            left = deadline - self.clock.now()
            if left <= 0:
                self.unread(bytes(buf))
                got = bytes(buf[-64:])
                raise DeviceTimeout(
                    f"{self.spec}: no {what} within {timeout:g} s (last bytes: {got!r})"
                )
            buf += self.read_available(min(left, READ_POLL))

    def drain(self, quiet: float = 0.05, limit: float = 1.0) -> bytes:
        """Read and return what arrives until `quiet` s pass with nothing (at most `limit` s)."""
        end = self.clock.now() + limit
        out = bytearray()
        while self.clock.now() < end:
            chunk = self.read_available(quiet)
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def reset_input_buffer(self) -> None:
        """Discard unread input, but record it first: nothing the module said is lost."""
        self._unread.clear()
        self.read_available(0.0)

    # --- lifecycle ---
    @property
    def timeout(self) -> float | None:
        return self.port.timeout

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.port.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def __del__(self) -> None:  # a tap nobody closed keeps no pipe open
        for fd in (getattr(self, "_wake_r", -1), getattr(self, "_wake_w", -1)):
            with contextlib.suppress(OSError):
                if fd >= 0:
                    os.close(fd)

    def __enter__(self) -> Tap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Tap({self.spec!r})"


def open_device(
    spec: str,
    baudrate: int = DEFAULT_BAUD,
    capture: CaptureWriter | None = None,
    *,
    clock: Clock = REAL,
) -> Tap:
    """Open a `--device` spec and wrap it in a `Tap` recording into `capture`, its waits
    on `clock` (real time unless told)."""
    return Tap(open_serial(spec, baudrate), capture, spec, clock=clock)
