"""The capture format: one JSON Lines file per test, every byte both ways plus annotations.

Line 1 is a header (test, device spec, personality/firmware, profile, start time, harness
version). Every later line is one event, written whole or not at all as it comes, so a crash
or a full disk keeps everything up to it (`harness.atomicio.LineFile`):

- ``{"ev": "tx"|"rx", "t": s, "hex": "…"}`` raw bytes, host→module (tx) or module→host (rx);
  ``t`` is seconds since the header's monotonic ``t0``. A redacted chunk adds
  ``"redacted": [what…]``; a chunk that was a secret as a whole has no ``hex`` but
  ``size`` and ``sha256`` (a private key, an XPUT upload).
- annotations: ``mode``, ``at``, ``frame``, ``code``, ``http``, ``identity``, ``note``
  (any other ``ev`` is kept and shown as it is).

Secrets never reach the file in clear: `harness.capture.redact.Redactor` filters the wire
before it is written, and `CaptureWriter.note` filters annotations the same way.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import __version__, atomicio
from harness.capture.events import FORMAT, RX, TX, WIRE_EVENTS, Capture, CaptureError
from harness.capture.keystream import PAYLOAD_AT, KeyStream
from harness.capture.redact import Redactor, WireRecord, _redact_note, redact_frame_data
from harness.capture.render import _short, decode_frame
from harness.xbee import frames as _frames


class CaptureWriter:
    """Writes one capture file; thread-safe, one flushed line per event.

    `wire()` is what a tap calls for every chunk; `note()` adds annotations. Use as a context
    manager or call `close()`; held-back bytes are written on close.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        test: str,
        device: str,
        personality: str | None = None,
        firmware: dict[str, str] | None = None,
        profile: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        self._redactor = Redactor()
        # Frame annotations repeat the wire's payloads: keys in them are found the same way
        # (issue 10 #3), over the frames in the order they are annotated.
        self._note_keys = {TX: KeyStream(), RX: KeyStream()}
        self.t0 = clock()
        # Whole lines or nothing, each written at once (issue 10 #8). A write that fails (a
        # full disk) is kept in `error` and ends the file there, whole; the test goes on and
        # the run stops at its end (harness.pytest_plugin.stats.write_stats).
        self.error: atomicio.ReportWriteError | None = None
        self.dropped = 0  # events not written after `error`
        self._fh: atomicio.LineFile | None = None
        try:
            self._fh = atomicio.LineFile(self.path)
        except atomicio.ReportWriteError as exc:
            self.error = exc
        self._line(
            {
                "ev": "header",
                "format": FORMAT,
                "test": test,
                "device": device,
                "personality": personality,
                "firmware": dict(firmware or {}),
                "profile": profile,
                "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
                "harness": __version__,
                "clock": "monotonic",
                "t0": self.t0,
            }
        )

    def now(self) -> float:
        return self._clock() - self.t0

    def _line(self, obj: dict[str, Any]) -> None:
        if self._fh is None:
            self.dropped += self.error is not None
            return
        try:
            self._fh.write_line(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
        except atomicio.ReportWriteError as exc:
            self.error, self.dropped = exc, 1
            self._fh.close()
            self._fh = None

    def _records(self, records: list[WireRecord]) -> None:
        for rec in records:
            self._line(rec.to_event())

    def wire(self, direction: str, data: bytes) -> None:
        """Record bytes seen on the wire in `direction` (TX host→module, RX module→host)."""
        if direction not in WIRE_EVENTS:
            raise ValueError(f"direction must be 'tx' or 'rx', got {direction!r}")
        if not data:
            return
        with self._lock:
            self._records(self._redactor.feed(direction, data, self.now()))

    def note(self, ev: str, **fields: Any) -> None:
        """An annotation (mode, at, frame, code, http, identity, note …) at the current time."""
        if ev in WIRE_EVENTS or ev == "header":
            raise ValueError(f"{ev!r} is not an annotation")
        with self._lock:
            self._line({"ev": ev, "t": round(self.now(), 6), **_redact_note(ev, fields)})

    def frame(self, direction: str, data: bytes) -> None:
        """Annotate a decoded API frame (frame data), its fields and its codes' meanings."""
        data, why = redact_frame_data(data)
        extra: dict[str, Any] = {}
        at = PAYLOAD_AT.get(data[0]) if data else None
        if at is not None and direction in WIRE_EVENTS:
            with self._lock:
                raw = _frames.encode(data)
                shown = self._note_keys[direction].feed(raw)
            if not b"".join(p for p in shown if isinstance(p, bytes)).endswith(raw):
                # the payload holds (or may begin) a key: the frame's header only
                extra = {"payload_size": len(data) - at,
                         "payload_sha256": hashlib.sha256(data[at:]).hexdigest()}
                data, why = data[:at], [*why, "private-key"]
        fields: dict[str, Any] = {"dir": direction, "type": data[0], "data": data.hex()}
        fields.update(decode_frame(data))
        fields.update(extra)
        if why:
            fields["redacted"] = why
        self.note("frame", **fields)

    @contextlib.contextmanager
    def redact_upload(self, what: str, content: bytes | None = None) -> Iterator[None]:
        """Record the host's bytes inside the block as one size+SHA-256 event (XPUT, keys).

        `content`, when given, is the file being sent: the event then carries its size and
        hash (what `ATFS HASH` prints), plus the wire's byte count and hash.
        """
        with self._lock:
            self._records(self._redactor.begin_upload(what, self.now()))
        try:
            yield
        finally:
            with self._lock:
                self._records(self._redactor.end_upload(content))

    def close(self) -> None:
        with self._lock:
            if self._fh is None:
                return
            self._records(self._redactor.end_upload())
            self._records(self._redactor.flush())
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----- reading ------------------------------------------------------------------------------


def iter_capture(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the header, then each event; a bad line raises `CaptureError` naming file:line
    and what is wrong (binary or non-UTF-8 bytes, bad JSON, a field of the wrong type)."""
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read capture: {exc.strerror or exc}") from None
    lineno = 0
    with fh:
        for lineno, raw in enumerate(_lines(fh, path), 1):
            where = f"{path}:{lineno}"
            if not raw.endswith(b"\n"):
                raise CaptureError(f"{where}: truncated line (file cut off mid-event)")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CaptureError(
                    f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column"
                    f" {exc.start + 1}): not a capture, or a damaged one"
                ) from None
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CaptureError(
                    f"{where}: corrupt line: {exc.msg} at column {exc.colno}"
                ) from None
            except RecursionError:
                raise CaptureError(f"{where}: corrupt line: JSON nested too deeply") from None
            _check_event(obj, where, first=lineno == 1)
            yield obj
    if lineno == 0:
        raise CaptureError(f"{path}:1: empty capture (no header)")


def _lines(fh: Any, path: Path) -> Iterator[bytes]:
    try:
        yield from fh
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read capture: {exc.strerror or exc}") from None


# The type each field must have where it is present (header, wire events, annotations);
# the readers (render, diff, replay) rely on these, so a file breaking them is refused here.
_NUMBER = (int, float)
_FIELD_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "header": {"firmware": (dict,), "t0": _NUMBER},
    "tx": {"hex": (str,), "size": (int,), "wire_size": (int,), "sha256": (str,),
           "wire_sha256": (str,), "what": (str,), "redacted": (list,)},
    "frame": {"data": (str,), "dir": (str,), "redacted": (list,)},
    "cassette": {"firmware": (dict,)},
    "mode": {"mode": (str,)},
    "at": {"cmd": (str,), "param": (str, type(None)), "reply": (str, type(None))},
}
_FIELD_TYPES["rx"] = _FIELD_TYPES["tx"]
_TYPE_NAMES = {dict: "an object", str: "a string", int: "an integer", float: "a number",
               list: "a list", type(None): "null"}


def _check_fields(obj: dict[str, Any], where: str) -> None:
    for key, types in _FIELD_TYPES.get(obj["ev"], {}).items():
        value = obj.get(key)
        if key in obj and (not isinstance(value, types) or isinstance(value, bool)):
            want = " or ".join(dict.fromkeys(_TYPE_NAMES[t] for t in types))
            raise CaptureError(
                f"{where}: {obj['ev']} event: {key!r} must be {want}, not {_short(value)}"
            )
    if "redacted" in obj and not all(isinstance(x, str) for x in obj["redacted"]):
        raise CaptureError(f"{where}: {obj['ev']} event: 'redacted' must be a list of strings")


def _check_event(obj: Any, where: str, *, first: bool) -> None:
    if not isinstance(obj, dict) or not isinstance(obj.get("ev"), str):
        raise CaptureError(f"{where}: not an event (a JSON object with an 'ev' key)")
    if first:
        if obj["ev"] != "header" or obj.get("format") != FORMAT:
            raise CaptureError(f"{where}: not an xbee-hil capture (header with format {FORMAT})")
        _check_fields(obj, where)
        return
    if obj["ev"] == "header":
        raise CaptureError(f"{where}: second header")
    if not isinstance(obj.get("t"), int | float) or isinstance(obj.get("t"), bool):
        raise CaptureError(f"{where}: event {obj['ev']!r} has no number 't'")
    _check_fields(obj, where)
    if obj["ev"] in WIRE_EVENTS:
        if "hex" in obj:
            try:
                bytes.fromhex(obj["hex"])
            except ValueError:
                raise CaptureError(f"{where}: 'hex' is not hex bytes") from None
        elif "sha256" not in obj:
            raise CaptureError(f"{where}: {obj['ev']} event has neither 'hex' nor 'sha256'")
    elif obj["ev"] == "frame":
        if "data" not in obj:
            raise CaptureError(f"{where}: frame event has no 'data' (the frame's bytes in hex)")
        try:
            data = bytes.fromhex(obj["data"])
        except ValueError:
            raise CaptureError(f"{where}: frame event: 'data' is not hex bytes") from None
        if not data:
            raise CaptureError(f"{where}: frame event: 'data' is empty (no frame type)")


def read_capture(path: str | Path) -> Capture:
    items = iter(iter_capture(path))
    header = next(items)
    return Capture(Path(path), header, list(items))
