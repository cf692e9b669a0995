"""Finds PEM private keys in one direction of the wire, whatever the chunking (issue 10 #3;
A-REDACT-KEY-SPAN).

Sans-IO: `KeyStream.feed(data)` returns the pieces that may be written, in order: clear bytes,
or a key as one `Secret` (size and SHA-256 of the raw span that carried it). A key whose
`-----BEGIN … PRIVATE KEY-----` marker crosses a read boundary was written in clear before;
so a tail that could still be the start of a marker is held back (a bounded number of bytes)
until the next read decides it, or until `feed(b"", final=True)` at close.

YMODEM blocks (`ATFS GET` / `ATFS PUT` of a cert+key bundle) put three header and two CRC
bytes into the key text every 128 or 1024 bytes, so a marker can be cut by a block edge. A
complete block with a good CRC is therefore read through: its payload is what is searched,
and a block holding any byte of a key is hidden whole. While `armed` (a
transfer is expected), an incomplete block is held until it is complete.

API frames (AP=1) that carry data (0x20/0x23/0x44/0x45 out, 0xB0/0xCD/0xCE in) are read
through the same way: a key in an HTTP body split over two 0xB0 frames is found, and the
frames holding it are hidden whole. Other complete frames add nothing to the searched text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from harness.xbee import api, frames, ymodem

_LABEL_MAX = 40  # "ENCRYPTED ", "RSA ", "EC ", "OPENSSH ": a longer label is not a PEM key
BEGIN = re.compile(rb"-----BEGIN [A-Z ]{0,%d}PRIVATE KEY-----" % _LABEL_MAX)
END = re.compile(rb"-----END [A-Z ]{0,%d}PRIVATE KEY-----" % _LABEL_MAX)
_BEGIN_HEAD = b"-----BEGIN "
_BEGIN_TAIL = b"PRIVATE KEY-----"
_LABEL_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ ")
_MARKER_MAX = len(_BEGIN_HEAD) + _LABEL_MAX + len(_BEGIN_TAIL)
_WINDOW = _MARKER_MAX  # key text kept to find an END marker cut by a read boundary
_BLOCK_SIZES = {ymodem.SOH: ymodem.BLOCK_128, ymodem.STX: ymodem.BLOCK_1K}
_FIELD_SIZES = {"u8": 1, "u16": 2, "ip4": 4}
_SEGMENT_START = re.compile(rb"[\x01\x02\x7e]")  # SOH, STX (YMODEM), 0x7E (API frame)


def _payload_offsets() -> dict[int, int]:
    """Where the payload starts in the frame data of each frame type that carries one."""
    out = {}
    for ftype, cls in api.REGISTRY.items():
        layout = getattr(cls, "_LAYOUT", ())
        if getattr(cls, "_REST", None) == "payload" and all(k in _FIELD_SIZES for _, k in layout):
            out[ftype] = 1 + sum(_FIELD_SIZES[k] for _, k in layout)
    return out


PAYLOAD_AT = _payload_offsets()  # 0x20: 12, 0x23: 12, 0xB0: 11, 0x44: 4, 0xCD: 4, …


def could_begin_marker(tail: bytes) -> bool:
    """True when `tail` is the start of a BEGIN marker (more bytes could complete it)."""
    if len(tail) <= len(_BEGIN_HEAD):
        return _BEGIN_HEAD.startswith(tail)
    if not tail.startswith(_BEGIN_HEAD):
        return False
    rest = tail[len(_BEGIN_HEAD) :]
    for k in range(min(len(rest), _LABEL_MAX) + 1):
        if k and rest[k - 1] not in _LABEL_CHARS:
            break
        if _BEGIN_TAIL.startswith(rest[k:]):
            return True
    return False


def _undecided_from(text: bytes, start: int) -> int:
    """Where the longest suffix of `text[start:]` that could begin a marker starts."""
    for j in range(max(start, len(text) - _MARKER_MAX), len(text)):
        if text[j] == 0x2D and could_begin_marker(text[j:]):  # "-"
            return j
    return len(text)


@dataclass(frozen=True, slots=True)
class Secret:
    """A key, hidden: the size and SHA-256 of the wire bytes that carried it."""

    size: int
    sha256: str


@dataclass
class _Segment:
    raw: bytes
    content: bytes  # raw bytes, or a YMODEM block's payload
    block: bool
    repeat: bool = False  # the block again (a retransmission): its payload is not new text


def _block_at(buf: bytes, i: int) -> tuple[int, bool]:
    """(length of a good YMODEM block at `buf[i]`, or 0; whether more bytes could make one)."""
    size = _BLOCK_SIZES.get(buf[i])
    if size is None:
        return 0, False
    have = len(buf) - i
    if have >= 3 and buf[i + 1] + buf[i + 2] != 0xFF:
        return 0, False
    total = 3 + size + 2
    if have < total:
        return 0, True
    payload = buf[i + 3 : i + 3 + size]
    crc = int.from_bytes(buf[i + 3 + size : i + total], "big")
    return (total, False) if ymodem.crc16(payload) == crc else (0, False)


def _frame_at(buf: bytes, i: int) -> tuple[int, bool]:
    """(length of a good AP=1 frame at `buf[i]`, or 0; whether more bytes could make one)."""
    have = len(buf) - i
    if have < 3:
        return 0, True
    length = (buf[i + 1] << 8) | buf[i + 2]
    if not 0 < length <= frames.MAX_FRAME_DATA:
        return 0, False
    total = length + 4
    if have < total:
        return 0, True  # any type: a frame cut by a read inside a key must stay whole
    ok = (sum(buf[i + 3 : i + total]) & 0xFF) == 0xFF
    return (total, False) if ok else (0, False)


def _escaped_frame_at(buf: bytes, i: int) -> tuple[int, bool, bytes]:
    """(length of a good AP=2 frame at `buf[i]`, or 0; whether more bytes could make one; its
    frame data). An escaped length byte (0x7D 0x33 for 0x13) would read as an AP=1 length of
    0x7D and hold the host's bytes back long after they were sent (A-REDACT-ESCAPED)."""
    end = buf.find(frames.START, i + 1)  # in AP=2 every 0x7E starts a new frame
    wire = buf[i + 1 : len(buf) if end < 0 else end]
    body = frames.unescape(wire)
    dangling = (len(wire) - len(wire.rstrip(b"\x7d"))) % 2 == 1
    if len(body) < 2:
        return 0, end < 0, b""
    length = (body[0] << 8) | body[1]
    if not 0 < length <= frames.MAX_FRAME_DATA:
        return 0, False, b""
    need = length + 3
    if len(body) < need or (len(body) == need and dangling):
        return 0, end < 0, b""
    if (sum(body[2:need]) & 0xFF) != 0xFF:
        return 0, False, b""
    j = got = 0
    while got < need:  # wire bytes that carry the frame (text may follow before a 0x7E)
        j += 2 if wire[j] == frames.ESCAPE else 1
        got += 1
    return 1 + j, False, body[2 : need - 1]


def _segments(buf: bytes, *, hold_blocks: bool, final: bool) -> tuple[list[_Segment], bytes]:
    """Split into runs of plain bytes, good YMODEM blocks and good API frames; return them
    and a held tail (an incomplete block when `hold_blocks`, an incomplete data frame)."""
    out: list[_Segment] = []
    run_start = i = 0
    n = len(buf)
    while i < n:
        byte = buf[i]
        if byte in _BLOCK_SIZES:
            length, more = _block_at(buf, i)
            more = more and hold_blocks
            head, tail = 3, 2
        elif byte == frames.START:
            length, more = _frame_at(buf, i)
            data = buf[i + 3 : i + length - 1]
            if not length:
                esc_length, esc_more, esc_data = _escaped_frame_at(buf, i)
                if esc_length or esc_more:
                    length, more, data = esc_length, more or esc_more, esc_data
            more = more and not final
        else:
            length, more = 0, False
        if length:
            if run_start < i:
                out.append(_Segment(buf[run_start:i], buf[run_start:i], False))
            raw = buf[i : i + length]
            if byte == frames.START:
                at = PAYLOAD_AT.get(data[0])
                content = data[at:] if at is not None else b""
            else:
                content = raw[head:-tail]
            out.append(_Segment(raw, content, True))
            i = run_start = i + length
            continue
        if more:
            break
        found = _SEGMENT_START.search(buf, i + 1)
        i = found.start() if found else n
    if run_start < i:
        out.append(_Segment(buf[run_start:i], buf[run_start:i], False))
    return out, buf[i:]


@dataclass
class KeyStream:
    """One direction's key finder. `armed`: a YMODEM transfer is expected in this direction."""

    armed: bool = False
    _buf: bytes = b""
    _in_key: bool = False
    _window: bytes = b""  # the last key text seen, to find an END cut by a read boundary
    # Text already written (inside a hidden block or frame) that could begin a marker: the
    # next read is searched after it, so a key starting at the end of a hidden frame is found.
    _carry: bytes = b""
    _size: int = 0
    _sha: Any = field(default_factory=hashlib.sha256)
    _last_block: tuple[bytes, bool] = (b"", False)  # the last block written, and if hidden

    @property
    def pending(self) -> bool:
        """Bytes are held back (or a key is open): the next clear bytes started earlier."""
        return bool(self._buf) or self._in_key

    def feed(self, data: bytes, *, final: bool = False) -> list[bytes | Secret]:
        buf = self._buf + bytes(data)
        segs, rest = _segments(buf, hold_blocks=self.armed and not final, final=final)
        if any(s.block and s.raw[1] == 0 and not any(s.content) for s in segs):
            self.armed = False  # the empty block 0 that ends a YMODEM batch
        prev = self._last_block[0]
        for seg in segs:
            if seg.block and seg.raw[0] in _BLOCK_SIZES:  # YMODEM resends; frames do not
                seg.repeat = seg.raw == prev
                prev = seg.raw
        lead = self._window if self._in_key else self._carry
        text = lead + b"".join(s.content for s in segs if not s.repeat)
        secret = bytearray(len(text))  # 1 where a key's byte is
        in_key = self._in_key
        i = len(lead) if in_key else 0  # a carried marker start is searched again
        key_from = 0  # where the open key's text starts (after its BEGIN marker)
        while True:
            if in_key:
                m = END.search(text, key_from)
                if m is None:
                    secret[i:] = b"\1" * (len(text) - i)
                    break
                secret[i : m.end()] = b"\1" * (m.end() - i)
                in_key, i = False, m.end()
            else:
                m = BEGIN.search(text, i)
                if m is None:
                    break
                in_key, i, key_from = True, m.start(), m.end()
        cut = len(text) if in_key or final else _undecided_from(text, i)
        out: list[bytes | Secret] = []
        held, carry = self._emit(segs, secret[len(lead) :], cut - len(lead), out)
        if in_key:
            self._window = text[max(key_from, len(text) - _WINDOW) :]
            self._carry = b""
        else:
            self._window = b""
            self._carry = carry or (text[cut : len(lead)] if cut < len(lead) else b"")
            if self._size:
                out.append(self._close())
        self._in_key = in_key
        self._buf = held + rest
        if final:
            if self._buf:  # an incomplete block at close: plain bytes now
                out.append(self._buf)
                self._buf = b""
            if self._size:
                out.append(self._close())
            self._in_key, self._window, self._carry = False, b"", b""
        return _merge(out)

    def _emit(
        self, segs: list[_Segment], secret: bytearray, decided: int, out: list[bytes | Secret]
    ) -> tuple[bytes, bytes]:
        """Append decided pieces to `out`; return the raw bytes held back, and the undecided
        text of a hidden block written anyway (it held key bytes before `decided`)."""
        pos = 0
        for k, seg in enumerate(segs):
            if seg.repeat:  # hidden or shown as the first copy was
                self._piece(seg.raw, self._last_block[1], out)
                continue
            end = pos + len(seg.content)
            if seg.block:
                if end > decided:
                    if not (pos < decided and any(secret[pos:decided])):
                        return b"".join(s.raw for s in segs[k:]), b""
                    if seg.raw[0] in _BLOCK_SIZES:
                        self._last_block = (seg.raw, True)
                    self._piece(seg.raw, True, out)  # a key ends in it: hidden whatever follows
                    later = b"".join(s.raw for s in segs[k + 1 :])
                    return later, seg.content[decided - pos :]
                hidden = any(secret[pos:end])
                if seg.raw[0] in _BLOCK_SIZES:
                    self._last_block = (seg.raw, hidden)
                self._piece(seg.raw, hidden, out)
            else:
                stop = min(end, decided)
                j = pos
                while j < stop:  # runs of equal secrecy
                    flag = secret[j]
                    e = secret.find(b"\0" if flag else b"\1", j, stop)
                    e = stop if e < 0 else e
                    self._piece(seg.raw[j - pos : e - pos], bool(flag), out)
                    j = e
                if end > decided:
                    later = b"".join(s.raw for s in segs[k + 1 :])
                    return seg.raw[max(decided, pos) - pos :] + later, b""
            pos = end
        return b"", b""

    def _piece(self, raw: bytes, is_secret: bool, out: list[bytes | Secret]) -> None:
        if is_secret:
            self._size += len(raw)
            self._sha.update(raw)
            return
        if self._size:
            out.append(self._close())
        out.append(raw)

    def _close(self) -> Secret:
        done = Secret(self._size, self._sha.hexdigest())
        self._size, self._sha = 0, hashlib.sha256()
        return done


def _merge(pieces: list[bytes | Secret]) -> list[bytes | Secret]:
    out: list[bytes | Secret] = []
    for p in pieces:
        if isinstance(p, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += p
        elif not (isinstance(p, bytes) and not p):
            out.append(p)
    return out
