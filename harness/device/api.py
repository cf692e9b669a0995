"""API-mode client (AP=1 and AP=2) over a `Tap`, plus digi-xbee through the same tap.

`ApiClient` writes frames, reads them on a reader thread through the `Deframer`, matches
responses to requests by frame ID, and queues unsolicited frames (0x8A, 0xB0, 0xCC-0xCF …)
for whoever waits on them. Status codes stay raw integers (never collapsed to "unknown", as
digi-xbee does); their meanings come from `harness.xbee.codes`. Every wait is bounded and a
timeout names the frame it was waiting for.

`TapSerialPort` / `open_cellular_device` let digi-xbee's `CellularDevice` (what most users'
applications run) use a tapped serial port, so its bytes land in the capture too
(digi-xbee-notes.md §2b, §2f.3).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from harness.capture import RX, TX, CaptureWriter
from harness.device.errors import ApiError, CommandError, DeviceTimeout, PortError
from harness.device.frame_errors import MAX_KEPT as MAX_KEPT_FRAME_ERRORS
from harness.device.frame_errors import BadFrame, FrameErrorLog
from harness.device.transport import DEFAULT_BAUD, Tap, explain_open_error
from harness.xbee import api, at, codes, frames
from harness.xbee.at import Value as AtValue  # `at` is also a method name in ApiClient

DEFAULT_TIMEOUT = 5.0  # per request; digi-xbee uses 4 s (§2a "Timeouts")
# Responses that echo the request's frame ID (D-88, D-89, D-BB, D-SF). 0xCD/0xCE carry a
# reserved frame ID (0 in examples) and are unsolicited, as are 0x8A, 0xB0, 0xCC, 0xCF.
RESPONSE_TYPES = frozenset({0x88, 0x89, 0xBB, 0xC0, 0xC1, 0xC2, 0xC3, 0xC6})
UNSOLICITED_TYPES = frozenset({0x8A, 0x9F, 0xB0, 0xCC, 0xCD, 0xCE, 0xCF, 0xFE})

Predicate = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class Received:
    """One frame off the wire: parsed frame, its frame data, and when it arrived."""

    frame: Any  # api.Frame | api.GenericFrame | api.BadFrame
    data: bytes
    t: float

    @property
    def type(self) -> int:
        return self.data[0]


@dataclass(frozen=True, slots=True)
class AtResult:
    """An 0x88 answer: the raw status byte (D-88) and the binary value."""

    command: str
    status: int
    value: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    def meaning(self) -> str:
        return codes.describe("AT", self.status)

    def parsed(self) -> Any:
        """The value by the AT catalogue (int, dotted IP, text); raw bytes if unknown."""
        try:
            return at.from_binary(self.command, self.value)
        except at.AtError:
            return self.value


class ApiClient:
    """Frames in and out of a module in API mode (AP=1, or AP=2 with `escaped=True`).

    Use as a context manager (starts and stops the reader thread). `request()` is the
    general form: send a frame with a frame ID, wait for the response with that ID.
    """

    def __init__(self, tap: Tap, *, escaped: bool = False, timeout: float = DEFAULT_TIMEOUT):
        self.tap = tap
        self.escaped = escaped
        self.timeout = timeout
        self._errors = FrameErrorLog(MAX_KEPT_FRAME_ERRORS)  # bounded (issue 10 #10)
        self._deframer = frames.Deframer(escaped=escaped)
        self._cond = threading.Condition()
        self._pending: dict[int, Received | None] = {}
        self._queue: deque[Received] = deque()
        self._next_id = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader_error: BaseException | None = None

    # --- lifecycle ---
    def start(self) -> Self:
        if self._thread is None:
            self.tap.note("mode", mode="api-escaped" if self.escaped else "api")
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="xbee-api-reader", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the reader (the port stays open: the caller owns it)."""
        self._stop.set()
        if self._thread is not None:
            self.tap.wake()  # its poll ends now, not after READ_POLL (issue 13)
            self._thread.join(timeout=2.0)
            self._thread = None
            self.tap.clear_wake()
        if self._errors.dropped:
            self.tap.note("frame_error", dir=RX, **self._errors.tally())

    @property
    def frame_errors(self) -> list[BadFrame]:
        """The first broken frames seen (bounded: first bytes, length, SHA-256 each)."""
        return self._errors.kept

    @property
    def frame_errors_dropped(self) -> int:
        """Broken frames seen beyond those kept."""
        return self._errors.dropped

    def __enter__(self) -> ApiClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_escaped(self, escaped: bool) -> None:
        """Follow an AP change (1 ↔ 2) made after the reply to it arrived."""
        self.escaped = escaped
        self._deframer.escaped = escaped
        self.tap.note("mode", mode="api-escaped" if escaped else "api")

    # --- reader ---
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.tap.handing_over():  # A-CLOCK-WARP: skip only once dispatched
                    chunk = self.tap.read_available(0.05, warp=False)
                    for item in self._deframer.feed(chunk):
                        self._dispatch(item)
            except PortError as exc:
                with self._cond:
                    self._reader_error = exc
                    self._cond.notify_all()
                return

    def _dispatch(self, item: frames.RawFrame | frames.FrameError) -> None:
        if isinstance(item, frames.FrameError):
            note = self._errors.add(item)
            if note is not None:
                self.tap.note("frame_error", dir=RX, **note)
            return
        rec = Received(api.parse(item.data), item.data, self.tap.clock.now())
        self._annotate(RX, item.data)
        with self._cond:
            fid = item.data[1] if len(item.data) > 1 else 0
            if rec.type in RESPONSE_TYPES and fid in self._pending:
                self._pending[fid] = rec
            else:
                self._queue.append(rec)
            self._cond.notify_all()

    def _annotate(self, direction: str, data: bytes) -> None:
        cap: CaptureWriter | None = self.tap.capture
        if cap is not None:
            cap.frame(direction, data)

    # --- sending ---
    def next_frame_id(self) -> int:
        """1…255, skipping 0 (0 means "no response", D-08) and IDs still awaited."""
        with self._cond:
            for _ in range(255):
                self._next_id = self._next_id % 255 + 1
                if self._next_id not in self._pending:
                    return self._next_id
        raise ApiError("all 255 frame IDs are awaiting responses")

    def send(self, frame: Any) -> None:
        """Write one frame (a frame object or frame data bytes); no wait."""
        data = frame if isinstance(frame, bytes | bytearray) else frame.to_bytes()
        data = bytes(data)
        self._annotate(TX, data)
        self.tap.write(frames.encode(data, escaped=self.escaped))

    def request(self, frame: Any, *, timeout: float | None = None) -> Received:
        """Send a frame whose byte 1 is a non-zero frame ID; return the response with that ID."""
        data = bytes(frame if isinstance(frame, bytes | bytearray) else frame.to_bytes())
        if len(data) < 2 or data[1] == 0:
            raise ApiError(f"frame 0x{data[0]:02X} has no frame ID: no response would come")
        fid = data[1]
        wait = self.timeout if timeout is None else timeout
        with self._cond:
            self._pending[fid] = None
        try:
            self.send(data)
            self._await(lambda: self._pending.get(fid) is not None, wait)
            with self._cond:
                self._raise_reader_error()
                rec = self._pending.get(fid)
                if rec is None:
                    raise DeviceTimeout(
                        f"{self.tap.spec}: no response to {_name(data)} frame ID {fid} "
                        f"within {wait:g} s ({self._queue_summary()})"
                    )
                return rec
        finally:
            with self._cond:
                self._pending.pop(fid, None)

    def _raise_reader_error(self) -> None:
        if self._reader_error is not None:
            raise ApiError(f"reader stopped: {self._reader_error}")

    def _queue_summary(self) -> str:
        if not self._queue:
            return "nothing else arrived" if not self._errors.total else "only broken frames"
        kinds = ", ".join(f"0x{r.type:02X}" for r in list(self._queue)[-5:])
        return f"unclaimed frames: {kinds}"

    # --- unsolicited frames ---
    def wait_for(
        self,
        types: int | set[int] | frozenset[int],
        *,
        timeout: float | None = None,
        where: Predicate | None = None,
    ) -> Received:
        """The oldest queued frame of `types` (and matching `where(frame)`), waiting if needed."""
        wanted = {types} if isinstance(types, int) else set(types)
        wait = self.timeout if timeout is None else timeout

        def find() -> Received | None:
            for rec in self._queue:
                if rec.type in wanted and (where is None or where(rec.frame)):
                    return rec
            return None

        self._await(lambda: find() is not None, wait)
        with self._cond:
            self._raise_reader_error()
            rec = find()
            if rec is None:
                names = "/".join(f"0x{t:02X}" for t in sorted(wanted))
                raise DeviceTimeout(
                    f"{self.tap.spec}: no {names} frame within {wait:g} s "
                    f"({self._queue_summary()})"
                )
            self._queue.remove(rec)
            return rec

    def _await(self, ready: Callable[[], bool], wait: float) -> None:
        """Wait on the tap's clock until `ready()` (checked under the lock), the reader
        fails, or `wait` clock seconds pass: with a warping clock, this is the harness
        waiting, so the clock may skip here (A-CLOCK-WARP)."""

        def poll(block: float) -> bool:
            with self._cond:
                if ready() or self._reader_error is not None:
                    return True
                if block > 0:
                    self._cond.wait(block)
                return ready() or self._reader_error is not None

        self.tap.clock.wait_bytes(poll, self.tap.clock.now() + wait)

    def discard(self, types: int | set[int], where: Predicate | None = None) -> int:
        """Drop queued frames of `types` (matching `where(frame)`); how many were dropped.
        For answers that came before a request was sent: they cannot be its (A-STALE-CLOSE)."""
        wanted = {types} if isinstance(types, int) else set(types)
        with self._cond:
            stale = [r for r in self._queue
                     if r.type in wanted and (where is None or where(r.frame))]
            for r in stale:
                self._queue.remove(r)
        return len(stale)

    def take_unsolicited(self) -> list[Received]:
        """Everything queued so far, oldest first; the queue is emptied."""
        with self._cond:
            out = list(self._queue)
            self._queue.clear()
            return out

    # --- AT commands (0x08 / 0x09, D-08, D-09, D-88) ---
    def at(
        self,
        name: str,
        value: AtValue | bytes | None = None,
        *,
        queue: bool = False,
        timeout: float | None = None,
    ) -> AtResult:
        """Run an AT command; `value` None queries. Returns the raw status, never raises on it."""
        param = b""
        if isinstance(value, bytes | bytearray):
            param = bytes(value)
        elif value is not None:
            param = at.encode_value(name, value, api=True)
        cls = api.ATCommandQueue if queue else api.ATCommand
        frame = cls(self.next_frame_id(), name.upper(), param)
        if timeout is None:  # a slow command waits its catalogue time (A-AT-REPLY-TIME)
            timeout = at.reply_timeout(name, self.timeout)
        rec = self.request(frame, timeout=timeout)
        f = rec.frame
        if not isinstance(f, api.ATCommandResponse):
            raise ApiError(f"AT{name}: expected an 0x88 response, got {f.to_dict()}")
        return AtResult(f.command, f.status, f.value)

    def get(self, name: str, *, timeout: float | None = None) -> Any:
        """Query and parse by the AT catalogue; a non-zero status raises CommandError."""
        res = self.at(name, timeout=timeout)
        if not res.ok:
            raise CommandError(name, f"status {res.meaning()}")
        return res.parsed()

    def set(self, name: str, value: AtValue | bytes, *, timeout: float | None = None) -> None:
        res = self.at(name, value, timeout=timeout)
        if not res.ok:
            raise CommandError(name, f"status {res.meaning()}")

    def execute(self, name: str, *, timeout: float | None = None) -> None:
        """A command without a value (AC, WR, FR …)."""
        res = self.at(name, timeout=timeout)
        if not res.ok:
            raise CommandError(name, f"status {res.meaning()}")

    # --- IP data (0x20, 0x23 → 0x89, D-20, D-23, D-89) ---
    def send_ip(
        self,
        dest: str,
        port: int,
        payload: bytes,
        *,
        protocol: int = 1,
        src_port: int = 0,
        close: bool = False,
        timeout: float | None = None,
    ) -> int:
        """0x20 TX Request; returns the raw 0x89 status (0 = success)."""
        frame = api.TXRequestIPv4(
            self.next_frame_id(), dest, port, src_port, protocol, 2 if close else 0, payload
        )
        return self._tx_status(frame, timeout)

    def send_tls(
        self,
        dest: str,
        port: int,
        payload: bytes,
        *,
        profile: int = 0,
        src_port: int = 0,
        close: bool = False,
        timeout: float | None = None,
    ) -> int:
        """0x23 TX Request with TLS Profile (digi-xbee has no class for it); raw 0x89 status."""
        frame = api.TXRequestTLSProfile(
            self.next_frame_id(), dest, port, src_port, profile, 2 if close else 0, payload
        )
        return self._tx_status(frame, timeout)

    def _tx_status(self, frame: Any, timeout: float | None) -> int:
        rec = self.request(frame, timeout=timeout)
        if rec.type != 0x89:
            raise ApiError(f"expected 0x89 TX Status, got {rec.frame.to_dict()}")
        status = rec.data[2]
        self.tap.note("code", table="TX", value=status, meaning=codes.describe("TX", status))
        return status

    def receive_ip(self, *, timeout: float | None = None, where: Predicate | None = None) -> Any:
        """The next 0xB0 RX IPv4 frame (D-B0)."""
        return self.wait_for(0xB0, timeout=timeout, where=where).frame

    # --- extended sockets (0x40-0x46 → 0xC0-0xCF, D-SF, L-C) ---
    def socket_create(self, protocol: int, *, timeout: float | None = None) -> tuple[int, int]:
        """0x40 → (socket ID, raw status); socket ID 0xFF on failure.

        Socket IDs are reused once closed, so frames still queued for an earlier socket with
        the new ID (a late 0xCF "transport closed", a last 0xCD) are dropped here: they must
        not be taken for the new socket's answers."""
        rec = self.request(api.SocketCreate(self.next_frame_id(), protocol), timeout=timeout)
        sid = rec.frame.socket_id
        if rec.frame.status == 0:
            with self._cond:
                stale = [r for r in self._queue if getattr(r.frame, "socket_id", None) == sid]
                for r in stale:
                    self._queue.remove(r)
        return sid, rec.frame.status

    def socket_option(
        self, socket_id: int, option: int, value: bytes = b"", *, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """0x41 (empty value = query) → (raw status, option data)."""
        frame = api.SocketOption(self.next_frame_id(), socket_id, option, value)
        rec = self.request(frame, timeout=timeout)
        return rec.frame.status, getattr(rec.frame, "option_data", b"")

    def socket_connect(
        self, socket_id: int, host: str, port: int, *, timeout: float | None = None
    ) -> tuple[int, int | None]:
        """0x42 → 0xC2 status, then the 0xCF socket status (None if the connect failed at once)."""
        frame = api.SocketConnect(self.next_frame_id(), socket_id, port, api.ADDRESS_STRING, host)
        rec = self.request(frame, timeout=timeout)
        status = rec.frame.status
        if status != 0:
            return status, None
        state = self.wait_for(
            0xCF, timeout=timeout, where=lambda f: getattr(f, "socket_id", None) == socket_id
        )
        return status, state.frame.status

    def socket_send(self, socket_id: int, payload: bytes, *, timeout: float | None = None) -> int:
        """0x44 → raw 0x89 status."""
        return self._tx_status(api.SocketSend(self.next_frame_id(), socket_id, 0, payload), timeout)

    def socket_receive(self, socket_id: int, *, timeout: float | None = None) -> bytes:
        """Payload of the next 0xCD for `socket_id`."""
        rec = self.wait_for(
            0xCD, timeout=timeout, where=lambda f: getattr(f, "socket_id", None) == socket_id
        )
        return rec.frame.payload

    def socket_bind(self, socket_id: int, port: int, *, timeout: float | None = None) -> int:
        """0x46 Bind/Listen → raw 0xC6 status."""
        rec = self.request(
            api.SocketBindListen(self.next_frame_id(), socket_id, port), timeout=timeout
        )
        return rec.frame.status

    def socket_close(self, socket_id: int, *, timeout: float | None = None) -> int:
        """0x43 → raw 0xC3 status."""
        rec = self.request(api.SocketClose(self.next_frame_id(), socket_id), timeout=timeout)
        return rec.frame.status


def _name(data: bytes) -> str:
    cls = api.REGISTRY.get(data[0])
    name = cls.NAME if cls is not None else "frame"
    return f"0x{data[0]:02X} {name}"


# ----- digi-xbee through the tap -------------------------------------------------------------


def _tap_serial_port_class() -> type:
    from digi.xbee.serial import XBeeSerialPort

    class TapSerialPort(XBeeSerialPort):  # type: ignore[misc, valid-type]
        """digi-xbee's serial port with every byte recorded into a capture (notes §2b, §2f.3).

        Because it *is* an `XBeeSerialPort`, `CellularDevice` keeps its serial-only features
        (the `+++` fallback of `open()`), and the capture gets `+++`, `ATAP`, `ATCN` and
        every frame, from the first byte of `open()`.
        """

        def __init__(
            self, baud_rate: int, port: str, capture: CaptureWriter | None = None, **kw: Any
        ) -> None:
            super().__init__(baud_rate, port, **kw)
            self.capture = capture

        def open(self) -> None:
            try:
                super().open()
            except Exception as exc:  # serial.SerialException, OSError
                raise PortError(str(self.port), explain_open_error(str(self.port), exc)) from None

        def read(self, size: int = 1) -> bytes:
            data = super().read(size)
            if data and self.capture is not None:
                self.capture.wire(RX, bytes(data))
            return data

        def write(self, data: Any) -> int | None:
            if self.capture is not None:
                self.capture.wire(TX, bytes(data))
            return super().write(data)

        @contextlib.contextmanager
        def redact_upload(self, what: str, content: bytes | None = None) -> Iterator[None]:
            if self.capture is None:
                yield
                return
            with self.capture.redact_upload(what, content):
                yield

    return TapSerialPort


def __getattr__(name: str) -> Any:
    # `TapSerialPort` is built on first use, so importing this module does not import digi.
    if name == "TapSerialPort":
        cls = _tap_serial_port_class()
        globals()["TapSerialPort"] = cls
        return cls
    raise AttributeError(name)


def open_cellular_device(
    spec: str,
    capture: CaptureWriter | None = None,
    *,
    baudrate: int = DEFAULT_BAUD,
    timeout: float = 4.0,
) -> Any:
    """A digi-xbee `CellularDevice` opened through a `TapSerialPort` on a local port (a path).

    digi-xbee cannot open pyserial URLs (notes §2b); for `rfc2217://` / `socket://` use
    `ApiClient`. The caller must `close()` the device even when `open()` fails (notes §2a:
    a failed `read_device_info` leaves the port locked).
    """
    from digi.xbee.devices import CellularDevice

    if "://" in spec:
        raise PortError(spec, "digi-xbee opens local serial ports only; use ApiClient for URLs")
    port_cls = globals().get("TapSerialPort") or __getattr__("TapSerialPort")
    port = port_cls(baudrate, spec, capture, timeout=0.1)
    device = CellularDevice(comm_iface=port, _sync_ops_timeout=timeout)
    try:
        device.open()
    except BaseException:
        with contextlib.suppress(Exception):
            device.close()
        raise
    return device
