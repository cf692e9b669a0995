"""Redaction: secrets never reach a capture file in clear.

`Redactor` is a sans-IO filter between the wire and the file: bytes in, `WireRecord`s out.
Which AT parameters are secret is decided in one place, `SECRET_WRITES` /
`IDENTITY_QUERIES` below. Redaction does not depend on how the reads split the stream: a
tail that may still become a secret (an AT line cut after its "A", an unfinished frame or
reply, the start of a PEM marker: `harness.capture.keystream`) is held until it is decided,
and written at close at the latest (issue 10 #3). The stream is cut into lines and frames by
`harness.capture.units` (frames by the `Deframer`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.capture.events import RX, TX, WIRE_EVENTS
from harness.capture.keystream import KeyStream, Secret
from harness.capture.units import Unit, split_units
from harness.xbee import at as _at
from harness.xbee import frames as _frames

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


def _redact_note(ev: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Annotations pass the same rules as the wire: secret AT values never reach the file."""
    if ev == "at":
        cmd = str(fields.get("cmd", "")).upper()
        if cmd in SECRET_WRITES and fields.get("param") not in (None, ""):
            fields["param"] = REDACTED.decode()
        if cmd in IDENTITY_QUERIES and fields.get("reply") not in (None, "", "OK", "ERROR"):
            fields["reply"] = REDACTED.decode()
    return fields
