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

Secrets never reach the file in clear: `Redactor` filters the wire before it is written,
and `CaptureWriter.note` filters annotations. Which AT parameters are secret is decided
in one place, `SECRET_WRITES` / `IDENTITY_QUERIES` below. Redaction does not depend on how
the reads split the stream: a tail that may still become a secret (an AT line cut after its
"A", an unfinished frame or reply, the start of a PEM marker: `harness.keystream`) is held
until it is decided, and written at close at the latest (issue 10 #3).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import __version__, atomicio
from harness.keystream import PAYLOAD_AT, KeyStream, Secret
from harness.xbee import at as _at
from harness.xbee import codes as _codes
from harness.xbee import frames as _frames

FORMAT = "xbee-hil-capture/1"
TX = "tx"  # host → module
RX = "rx"  # module → host
WIRE_EVENTS = (TX, RX)

# Which AT parameters are secret is decided in one place: the AT catalogue's `secret` flag
# (harness/xbee/at.py). Writable secrets (CU/CW, the APN user and password, L-TG) are hidden
# when the host writes them; read-only ones (IM, S#, II: IMEI, ICCID, IMSI) when the module
# answers them. AN, the APN name, is published by operators and stays readable.
SECRET_WRITES = frozenset(r.name for r in _at.CATALOGUE.values() if r.secret and not r.readonly)
IDENTITY_QUERIES = frozenset(r.name for r in _at.CATALOGUE.values() if r.secret and r.readonly)
REDACTED = b"<redacted>"

# Lines that look like an IMEI (15 digits), IMSI (15) or ICCID (18-22 digits, maybe an F
# filler) are redacted even when the query that asked for them was not seen.
_IDENTITY_LINE = re.compile(rb"^\s*(\d{14,15}|89\d{16,20}F?)\s*$")
_KEY_BEGIN = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# An AT line; "+++" written with it (in any pieces) is not a guard-time escape, but the
# line still carries its secret.
_AT_PREFIX = re.compile(rb"^[\s+]*AT", re.IGNORECASE)
# A text tail that may still become an AT line ("A" alone, cut by a read boundary): held.
# "+++" alone is not held, so the guard-time gaps around it stay visible.
_AT_START = re.compile(rb"\s*(?:[\s+]*(?:A|AT.*))?", re.IGNORECASE | re.DOTALL)
# A YMODEM transfer follows these lines: the module sends (GET) or receives (PUT, XPUT).
_FS_GET = re.compile(rb"^\s*AT\s*FS\s+GET\b", re.IGNORECASE)
_FS_PUT = re.compile(rb"^\s*AT\s*FS\s+X?PUT\b", re.IGNORECASE)
_MAX_HELD = 4096  # a held-back tail longer than this cannot be a line or a frame


class CaptureError(Exception):
    """A capture file that cannot be read; the message names the file and line."""


# ----- splitting a byte stream into text lines and API frames ------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of one direction's stream: a text line (`kind="text"`), an API frame
    (`kind="frame"`, `data` = frame data, `escaped` = AP=2 form) or opaque bytes."""

    kind: str
    raw: bytes
    data: bytes = b""
    escaped: bool = False


def _try_frame(buf: bytes, pos: int) -> tuple[Unit | None, bool]:
    """A whole API frame at `buf[pos]` (a 0x7E), in AP=1 or AP=2 form. Returns (unit, need_more)."""
    plain, need_more = _try_plain_frame(buf, pos)
    if plain is not None and plain.raw[-1] != _frames.ESCAPE:
        return plain, False
    # An AP=2 frame whose checksum is escaped (7D 5D) also reads as a good AP=1 frame ending
    # in 7D: the AP=2 reading, when there is one, is the frame.
    escaped, more = _try_escaped_frame(buf, pos, need_more)
    if escaped is not None:
        return escaped, False
    if plain is not None:
        return plain, False
    return None, more


def _try_plain_frame(buf: bytes, pos: int) -> tuple[Unit | None, bool]:
    n = len(buf)
    if n - pos < 3:
        return None, True
    length = (buf[pos + 1] << 8) | buf[pos + 2]
    if not 0 < length <= _frames.MAX_FRAME_DATA:
        return None, False
    end = pos + length + 4
    if end > n:
        return None, True
    data = buf[pos + 3 : end - 1]
    if (sum(data) + buf[end - 1]) & 0xFF == 0xFF:
        return Unit("frame", buf[pos:end], data, False), False
    return None, False


def _try_escaped_frame(buf: bytes, pos: int, need_more: bool) -> tuple[Unit | None, bool]:
    n = len(buf)
    # AP=2: unescape after the delimiter until length + 3 bytes are known
    body = bytearray()
    i = pos + 1
    want = 2
    while len(body) < want:
        if i >= n or buf[i] == _frames.START:
            return None, need_more or i >= n
        if buf[i] == _frames.ESCAPE:
            if i + 1 >= n:
                return None, True
            body.append(buf[i + 1] ^ _frames.ESCAPE_XOR)
            i += 2
        else:
            body.append(buf[i])
            i += 1
        if len(body) == 2:
            length = (body[0] << 8) | body[1]
            if not 0 < length <= _frames.MAX_FRAME_DATA:
                return None, need_more
            want = length + 3
    data, cks = bytes(body[2:-1]), body[-1]
    if (sum(data) + cks) & 0xFF == 0xFF:
        return Unit("frame", bytes(buf[pos:i]), data, True), False
    return None, need_more


def split_units(
    buf: bytes, *, final: bool, hold_text: Callable[[bytes], bool]
) -> tuple[list[Unit], bytes]:
    """Split `buf` into units; return them and the tail held back for more bytes.

    A tail is held when it may be the start of a frame, or when `hold_text(tail)` says an
    unfinished text line must wait for its CR (because it may carry a secret).
    """
    out: list[Unit] = []
    pos = 0
    n = len(buf)
    while pos < n:
        if buf[pos] == _frames.START:
            unit, need_more = _try_frame(buf, pos)
            if unit is not None:
                out.append(unit)
                pos += len(unit.raw)
                continue
            if need_more and not final and n - pos < _MAX_HELD:
                break
            nxt = _next_boundary(buf, pos + 1)
            out.append(Unit("opaque", buf[pos:nxt]))
            pos = nxt
            continue
        nxt = _next_boundary(buf, pos)
        cr = buf.find(b"\r", pos, nxt)
        if cr >= 0:
            out.append(Unit("text", buf[pos : cr + 1]))
            pos = cr + 1
            continue
        tail = buf[pos:nxt]
        if nxt == n and not final and len(tail) < _MAX_HELD and hold_text(tail):
            break
        out.append(Unit("text", tail))
        pos = nxt
    return out, bytes(buf[pos:])


def _next_boundary(buf: bytes, pos: int) -> int:
    i = buf.find(bytes((_frames.START,)), pos)
    return len(buf) if i < 0 else i


def split_at_line(line: bytes) -> list[tuple[str, bytes]]:
    """`ATDL1.2.3.4,DE1BB,AC\\r` → [("DL", b"1.2.3.4"), ("DE", b"1BB"), ("AC", b"")].

    Only what redaction needs (the command names); formatting and value parsing belong to
    `harness.xbee.at`. Syntax: D-CMD (comma-separated commands after one AT).
    """
    m = _AT_PREFIX.match(line)
    if not m:
        return []
    body = line[m.end() :].rstrip(b"\r\n")
    out = []
    for seg in body.split(b","):
        seg = seg.lstrip()
        if len(seg) >= 2:
            out.append((seg[:2].decode("latin-1").upper(), seg[2:]))
    return out


def _reencode(unit: Unit, data: bytes) -> bytes:
    return _frames.encode(data, escaped=unit.escaped)


def redact_frame_data(data: bytes) -> tuple[bytes, list[str]]:
    """Hide secret AT parameters (0x08/0x09 sets, D-08) and identity values (0x88, D-88)."""
    if len(data) >= 4 and data[0] in (0x08, 0x09):
        cmd = data[2:4].decode("latin-1").upper()
        if cmd in SECRET_WRITES and len(data) > 4:
            return data[:4] + REDACTED, [cmd]
    if len(data) >= 5 and data[0] == 0x88:
        cmd = data[2:4].decode("latin-1").upper()
        if cmd in IDENTITY_QUERIES and len(data) > 5:
            return data[:5] + REDACTED, [cmd]
    return data, []


@dataclass
class WireRecord:
    """One chunk to write: bytes (maybe redacted) or, for a whole secret, its size and hash."""

    direction: str
    t: float
    data: bytes | None
    redacted: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_event(self) -> dict[str, Any]:
        ev: dict[str, Any] = {"ev": self.direction, "t": round(self.t, 6)}
        if self.data is not None:
            ev["hex"] = self.data.hex()
        if self.redacted:
            ev["redacted"] = self.redacted
        ev.update(self.extra)
        return ev


@dataclass
class _Upload:
    what: str
    t: float
    auto: bool = False  # started by an ATFS XPUT line, ends with the YMODEM batch end
    size: int = 0
    sha: Any = field(default_factory=hashlib.sha256)
    tail: bytes = b""


# The end of a YMODEM batch: an empty block 0 (SOH 00 FF, 128 zero bytes, CRC 0000), and an
# abort (CAN CAN) - reference §6.3, L-PY util/xmodem.py.
_YMODEM_END = b"\x01\x00\xff" + bytes(130)
_CANCEL = b"\x18\x18"
_XPUT = re.compile(rb"^\s*AT\s*FS\s+XPUT\s+(\S+)", re.IGNORECASE)


def _is_command_line(data: bytes) -> bool:
    """One whole AT line (`ATFS XPUT name\\r`): shown even at the start of a hidden upload."""
    return (
        len(data) < 256
        and data.endswith(b"\r")
        and data.count(b"\r") == 1
        and bool(_AT_PREFIX.match(data))
        and _KEY_BEGIN.search(data) is None
    )


# Frames whose fields redaction reads (D-08, D-09, D-88). A held tail that starts another
# frame type, or bytes that only look like a frame (a 0x7E inside a YMODEM block), is
# written at once: held, it would swallow later lines into one late event that replay
# cannot put back in order.
_REDACTED_FRAME_TYPES = frozenset((0x08, 0x09, 0x88))


def _may_be_redacted_frame(tail: bytes) -> bool:
    """False only for a tail that starts with 0x7E and, read as AP=1 or as AP=2, already
    shows a frame type redaction ignores; text tails and short tails stay held."""
    if tail[:1] != bytes((_frames.START,)):
        return True
    plain = tail[3:4]
    escaped = _frames.unescape(tail[1:8])[2:3]
    if not plain or not escaped or escaped[0] == _frames.ESCAPE:  # not known yet
        return True
    return plain[0] in _REDACTED_FRAME_TYPES or escaped[0] in _REDACTED_FRAME_TYPES


class Redactor:
    """Sans-IO filter between the wire and the capture: bytes in, `WireRecord`s out.

    Knows just enough of the protocol to find secrets: AT command lines and 0x08/0x09 frames
    that set a `SECRET_WRITES` parameter, replies to `IDENTITY_QUERIES` (text lines after the
    query, 0x88 frames) and PEM private keys. An unfinished line or frame that may hold a
    secret is held back until it is complete; everything else passes at once, so guard-time
    gaps around `+++` stay visible. During `begin_upload` … `end_upload` the host's bytes are
    only counted and hashed.
    """

    def __init__(self) -> None:
        self._held: dict[str, bytes] = {TX: b"", RX: b""}
        self._held_t: dict[str, float] = {TX: 0.0, RX: 0.0}
        self._expect: list[str] = []  # commands of the last AT line, in reply order
        self._keys = {TX: KeyStream(), RX: KeyStream()}  # PEM keys, whatever the chunking
        self._upload: _Upload | None = None
        self._auto_what: str | None = None

    # --- public ---
    def feed(self, direction: str, data: bytes, now: float) -> list[WireRecord]:
        up = self._upload
        if direction == TX and up is not None and not (up.size == 0 and _is_command_line(data)):
            up.size += len(data)
            up.sha.update(data)
            up.tail = (up.tail + bytes(data))[-len(_YMODEM_END) :]
            if up.auto and (up.tail.endswith(_YMODEM_END) or up.tail.endswith(_CANCEL)):
                return self.end_upload()
            return []
        if not self._held[direction] and not self._keys[direction].pending:
            self._held_t[direction] = now
        out = self._pieces(direction, self._keys[direction].feed(data), final=False)
        if self._auto_what is not None and direction == TX:
            if self._upload is None:
                # ATFS XPUT seen without redact_upload(): treat what follows as the upload
                self._upload = _Upload(self._auto_what, now, auto=True)
            self._auto_what = None
        return out

    def flush(self) -> list[WireRecord]:
        out = []
        for direction in WIRE_EVENTS:
            pieces = self._keys[direction].feed(b"", final=True)
            out += self._pieces(direction, pieces, final=True)
            if self._held[direction]:
                out += self._process(direction, self._held[direction], final=True)
        return out

    def begin_upload(self, what: str, now: float) -> list[WireRecord]:
        if self._upload is not None:  # already counting (an XPUT line was seen): keep it
            self._upload.what, self._upload.auto = what, False
            return []
        out = self._pieces(TX, self._keys[TX].feed(b"", final=True), final=True)
        out += self._process(TX, self._held[TX], final=True) if self._held[TX] else []
        self._auto_what = None
        self._upload = _Upload(what, now)
        return out

    def end_upload(self, content: bytes | None = None) -> list[WireRecord]:
        up, self._upload = self._upload, None
        if up is None:
            return []
        extra: dict[str, Any] = {"what": up.what}
        if content is not None:
            extra.update(size=len(content), sha256=hashlib.sha256(content).hexdigest())
        else:
            extra.update(size=up.size, sha256=up.sha.hexdigest())
        extra.update(wire_size=up.size, wire_sha256=up.sha.hexdigest())
        return [WireRecord(TX, up.t, None, ["upload"], extra)]

    @property
    def uploading(self) -> bool:
        return self._upload is not None

    # --- internals ---
    def _pieces(
        self, direction: str, pieces: list[bytes | Secret], *, final: bool
    ) -> list[WireRecord]:
        """Clear bytes go through the line and frame rules; a key is written as its size and
        hash, after the bytes held before it (so the file keeps the wire's order)."""
        out: list[WireRecord] = []
        for piece in pieces:
            if isinstance(piece, Secret):
                if self._held[direction]:
                    out += self._process(direction, self._held[direction], final=True)
                extra = {"size": piece.size, "sha256": piece.sha256}
                out.append(WireRecord(direction, self._held_t[direction], None,
                                      ["private-key"], extra))
            else:
                out += self._process(direction, self._held[direction] + piece, final=final)
        return out

    def _hold_text(self, direction: str) -> Callable[[bytes], bool]:
        if direction == TX:
            return lambda tail: _AT_START.fullmatch(tail) is not None
        return lambda tail: bool(self._expect) or tail.strip().isdigit()

    def _process(self, direction: str, buf: bytes, *, final: bool) -> list[WireRecord]:
        units, held = split_units(buf, final=final, hold_text=self._hold_text(direction))
        if held and not _may_be_redacted_frame(held):  # e.g. a 0x7E in a YMODEM block
            more, held = split_units(held, final=True, hold_text=lambda _t: False)
            units += more
        t = self._held_t[direction]
        self._held[direction] = held
        out: list[WireRecord] = []
        raw = bytearray()
        labels: list[str] = []
        for unit in units:
            piece, why = self._redact_unit(direction, unit)
            if piece is None:  # a whole secret: flush what came before, then its summary
                if raw:
                    out.append(WireRecord(direction, t, bytes(raw), labels))
                    raw, labels = bytearray(), []
                out.append(
                    WireRecord(
                        direction,
                        t,
                        None,
                        why,
                        {"size": len(unit.raw), "sha256": hashlib.sha256(unit.raw).hexdigest()},
                    )
                )
                continue
            raw += piece
            labels += why
        if raw:
            out.append(WireRecord(direction, t, bytes(raw), labels))
        return out

    def _redact_unit(self, direction: str, unit: Unit) -> tuple[bytes | None, list[str]]:
        if unit.kind == "frame":
            data, why = redact_frame_data(unit.data)
            return (_reencode(unit, data) if why else unit.raw), why
        if unit.kind != "text":
            return unit.raw, []
        if direction == TX:
            return self._redact_at_line(unit.raw)
        return self._redact_reply_line(unit.raw)

    def _redact_at_line(self, line: bytes) -> tuple[bytes, list[str]]:
        cmds = split_at_line(line)
        if not cmds:
            return line, []
        self._keys[RX].armed = _FS_GET.match(line) is not None
        self._keys[TX].armed = _FS_PUT.match(line) is not None
        xput = _XPUT.match(line)
        if xput is not None:
            self._auto_what = "XPUT " + xput.group(1).decode("latin-1")
        self._expect = [name for name, _ in cmds]
        if not any(name in SECRET_WRITES and value.strip() for name, value in cmds):
            return line, []
        m = _AT_PREFIX.match(line)
        assert m is not None
        segs = []
        why = []
        for seg in line[m.end() :].rstrip(b"\r\n").split(b","):
            stripped = seg.lstrip()
            name = stripped[:2].decode("latin-1").upper()
            if name in SECRET_WRITES and stripped[2:].strip():
                seg = seg[: len(seg) - len(stripped) + 2] + REDACTED
                why.append(name)
            segs.append(seg)
        ending = line[len(line.rstrip(b"\r\n")) :]
        return line[: m.end()] + b",".join(segs) + ending, why

    def _redact_reply_line(self, line: bytes) -> tuple[bytes, list[str]]:
        cmd = self._expect.pop(0) if self._expect and line.endswith(b"\r") else None
        body = line.rstrip(b"\r\n")
        if body in (b"OK", b"ERROR") or not body:
            return line, []
        if cmd in IDENTITY_QUERIES:
            return REDACTED + line[len(body) :], [cmd]
        if _IDENTITY_LINE.match(body):
            return REDACTED + line[len(body) :], ["identity"]
        return line, []


# ----- writing ------------------------------------------------------------------------------


def _redact_note(ev: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Annotations pass the same rules as the wire: secret AT values never reach the file."""
    if ev == "at":
        cmd = str(fields.get("cmd", "")).upper()
        if cmd in SECRET_WRITES and fields.get("param") not in (None, ""):
            fields["param"] = REDACTED.decode()
        if cmd in IDENTITY_QUERIES and fields.get("reply") not in (None, "", "OK", "ERROR"):
            fields["reply"] = REDACTED.decode()
    return fields


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
        # the run stops at its end (harness.fixtures._write_stats).
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


@dataclass
class Capture:
    path: Path
    header: dict[str, Any]
    events: list[dict[str, Any]]

    def wire(self, direction: str | None = None) -> bytes:
        """All recorded bytes of one direction (or both, interleaved), redactions as written."""
        return b"".join(
            bytes.fromhex(e["hex"])
            for e in self.events
            if e["ev"] in WIRE_EVENTS and "hex" in e and direction in (None, e["ev"])
        )


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


# ----- the readable view --------------------------------------------------------------------


def decode_frame(data: bytes) -> dict[str, Any]:
    """`{"fields": to_dict(), "codes": {table: meaning}}` for frame data; never raises."""
    out: dict[str, Any] = {}
    try:
        from harness.xbee import api  # late: capture must not need the frame classes to load
    except ImportError:  # pragma: no cover - only while api.py is being written
        return out
    try:
        frame = api.parse(data)
        fields = frame.to_dict()
    except Exception as exc:  # a capture of a broken frame must still print
        return {"error": f"cannot decode: {exc}"}
    out["fields"] = fields
    cds = frame_codes(data)
    if cds:
        out["codes"] = cds
    return out


# Which byte of which frame carries a code, and its table (reference §2.4-§2.12).
_CODE_AT: dict[int, tuple[int, str]] = {
    0x88: (4, "AT"),  # D-88
    0x89: (2, "TX"),  # D-89
    0x8A: (1, "MODEM"),  # D-8A
    0xC0: (3, "SOCKET-CREATE"),  # D-SF p.267
    0xC1: (4, "SOCKET-OPTION"),  # D-SF p.269
    0xC2: (3, "SOCKET-CONNECT"),  # D-SF p.271
    0xC3: (3, "SOCKET-CLOSE"),  # D-XS p.174
    0xC6: (3, "SOCKET-LISTEN"),  # D-SF p.277
    0xCF: (2, "SOCKET"),  # D-SF p.281
    0xBB: (3, "FS"),  # D-BB
    0xFE: (1, "FRAME-ERROR"),  # L-PY FrameError
}


def frame_codes(data: bytes) -> dict[str, str]:
    """The code bytes a frame carries, with Digi's meaning (the raw value is always kept)."""
    spot = _CODE_AT.get(data[0]) if data else None
    if spot is None or len(data) <= spot[0]:
        return {}
    value = data[spot[0]]
    return {spot[1]: _codes.describe(spot[1], value)}


def _text(raw: bytes) -> str:
    out = []
    for b in raw:
        if b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _frame_line(data: bytes) -> str:
    dec = decode_frame(data)
    fields = dict(dec.get("fields") or {})
    name = fields.pop("name", "frame")
    fields.pop("type", None)
    fields.pop("status_name", None)  # the code's meaning follows, from codes.py
    hexvalue = _is_hex_command(fields.get("command"))
    body = " ".join(f"{k}={_show_value(k, v, hexvalue)}" for k, v in fields.items()) or data.hex(
        " "
    )
    codes_ = "; ".join(dec.get("codes", {}).values())
    return f"[0x{data[0]:02X} {name}] {body}" + (f"  => {codes_}" if codes_ else "")


def _is_hex_command(name: Any) -> bool:
    row = _at.CATALOGUE.get(str(name).upper()) if name else None
    return row is not None and row.kind is _at.Kind.HEX


def _show_value(key: str, v: Any, hexvalue: bool = False) -> str:
    """Payloads and AT values as text when they are printable, else hex; numbers as 0x…."""
    if hexvalue and key in ("value", "parameter") and isinstance(v, str):
        return f"0x{v.upper()}" if v else "''"
    if isinstance(v, str) and key in ("value", "parameter", "payload", "data", "option_data"):
        try:
            raw = bytes.fromhex(v)
        except ValueError:
            return _short(v)
        if raw and all(0x20 <= b < 0x7F or b in (0x0D, 0x0A) for b in raw):
            return _short(repr(raw.decode("ascii")))
        return _short(v) if v else "''"
    return _short(v)


def _short(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return s if len(s) <= 120 else s[:117] + "..."


ARROW = {TX: "->", RX: "<-"}


_TEXT_GAP = 0.1  # s: pieces of one line closer than this print as one line


def render(
    events: list[dict[str, Any]] | Capture,
    header: dict[str, Any] | None = None,
    *,
    notes: bool = False,
) -> Iterator[str]:
    """A readable transcript: AT lines as text, frames decoded with their codes' meanings.

    `frame` and `at` annotations repeat what the wire shows, so they are printed only with
    `notes=True` (or when the capture holds no wire bytes at all).
    """
    if isinstance(events, Capture):
        header, events = events.header, events.events
    if header is not None:
        yield render_header(header)
    has_wire = any(e["ev"] in WIRE_EVENTS for e in events)
    held = {TX: b"", RX: b""}
    text = {TX: (0.0, b""), RX: (0.0, b"")}  # an unfinished text line: (first t, bytes)

    def flush_text(direction: str) -> Iterator[str]:
        t0, raw = text[direction]
        if raw:
            text[direction] = (0.0, b"")
            yield f"{t0:10.3f} {ARROW[direction]} {_text(raw)}"

    for ev in events:
        kind = ev["ev"]
        now = float(ev.get("t", 0.0))
        t = f"{now:10.3f}"
        for d in WIRE_EVENTS:
            t0, raw = text[d]
            if raw and (d != kind or now - t0 > _TEXT_GAP):
                yield from flush_text(d)
        if kind in WIRE_EVENTS:
            arrow = ARROW[kind]
            if "hex" not in ev:
                what = ", ".join(ev.get("redacted", [])) or "secret"
                label = f" {ev['what']}" if ev.get("what") else ""
                yield (
                    f"{t} {arrow} <{what} redacted{label}: {ev.get('size')} bytes,"
                    f" sha256 {ev.get('sha256')}>"
                )
                continue
            units, held[kind] = split_units(
                held[kind] + bytes.fromhex(ev["hex"]), final=False, hold_text=lambda _t: False
            )
            for unit in units:
                if unit.kind == "frame":
                    yield from flush_text(kind)
                    esc = " (escaped)" if unit.escaped else ""
                    yield f"{t} {arrow} {_frame_line(unit.data)}{esc}"
                    continue
                t0, raw = text[kind]
                text[kind] = (t0 if raw else now, raw + unit.raw)
                if unit.raw.endswith(b"\r"):
                    yield from flush_text(kind)
            continue
        rest = {k: v for k, v in ev.items() if k not in ("ev", "t")}
        if kind == "mode":
            yield f"{t} ~~ mode: {rest.get('mode')}"
        elif kind in ("at", "frame") and has_wire and not notes:
            continue
        elif kind == "at":
            yield f"{t} ~~ AT{rest.get('cmd', '')}{rest.get('param') or ''} => {rest.get('reply')}"
        elif kind == "frame":
            yield f"{t} ~~ frame {rest.get('dir')} {_frame_line(bytes.fromhex(rest['data']))}"
        else:
            yield f"{t} ~~ {kind}: " + " ".join(f"{k}={_short(v)}" for k, v in rest.items())
    for d in WIRE_EVENTS:
        yield from flush_text(d)
    for direction, rest_bytes in held.items():
        if rest_bytes:
            yield f"{'end':>10} {ARROW[direction]} {_text(rest_bytes)} (incomplete)"


def render_header(h: dict[str, Any]) -> str:
    fw = " ".join(f"{k}={v}" for k, v in (h.get("firmware") or {}).items()) or "unknown"
    return (
        f"# {h.get('test')}  device={h.get('device')}  personality={h.get('personality')}"
        f"  firmware {fw}  profile={h.get('profile')}  started {h.get('started')}"
        f"  harness {h.get('harness')}"
    )
