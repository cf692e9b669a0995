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
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from harness.xbee import ymodem

_LABEL_MAX = 40  # "ENCRYPTED ", "RSA ", "EC ", "OPENSSH ": a longer label is not a PEM key
BEGIN = re.compile(rb"-----BEGIN [A-Z ]{0,%d}PRIVATE KEY-----" % _LABEL_MAX)
END = re.compile(rb"-----END [A-Z ]{0,%d}PRIVATE KEY-----" % _LABEL_MAX)
_BEGIN_HEAD = b"-----BEGIN "
_BEGIN_TAIL = b"PRIVATE KEY-----"
_LABEL_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ ")
_MARKER_MAX = len(_BEGIN_HEAD) + _LABEL_MAX + len(_BEGIN_TAIL)
_WINDOW = _MARKER_MAX  # key text kept to find an END marker cut by a read boundary
_BLOCK_SIZES = {ymodem.SOH: ymodem.BLOCK_128, ymodem.STX: ymodem.BLOCK_1K}


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


def _segments(buf: bytes, *, hold_blocks: bool) -> tuple[list[_Segment], bytes]:
    """Split into runs of plain bytes and good YMODEM blocks; return them and a held tail
    (an incomplete block, when `hold_blocks`)."""
    out: list[_Segment] = []
    run_start = i = 0
    n = len(buf)
    while i < n:
        length, more = _block_at(buf, i) if buf[i] in _BLOCK_SIZES else (0, False)
        if length:
            if run_start < i:
                out.append(_Segment(buf[run_start:i], buf[run_start:i], False))
            out.append(_Segment(buf[i : i + length], buf[i + 3 : i + length - 2], True))
            i = run_start = i + length
            continue
        if more and hold_blocks:
            break
        i += 1
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
    _size: int = 0
    _sha: Any = field(default_factory=hashlib.sha256)
    _last_block: tuple[bytes, bool] = (b"", False)  # the last block written, and if hidden

    @property
    def pending(self) -> bool:
        """Bytes are held back (or a key is open): the next clear bytes started earlier."""
        return bool(self._buf) or self._in_key

    def feed(self, data: bytes, *, final: bool = False) -> list[bytes | Secret]:
        buf = self._buf + bytes(data)
        segs, rest = _segments(buf, hold_blocks=self.armed and not final)
        if any(s.block and s.raw[1] == 0 and not any(s.content) for s in segs):
            self.armed = False  # the empty block 0 that ends a YMODEM batch
        prev = self._last_block[0]
        for seg in segs:
            if seg.block:
                seg.repeat = seg.raw == prev
                prev = seg.raw
        lead = self._window if self._in_key else b""
        text = lead + b"".join(s.content for s in segs if not s.repeat)
        secret = bytearray(len(text))  # 1 where a key's byte is
        in_key, i = self._in_key, len(lead)
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
        held = self._emit(segs, secret[len(lead) :], cut - len(lead), out)
        if in_key:
            self._window = text[max(key_from, len(text) - _WINDOW) :]
        else:
            self._window = b""
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
            self._in_key, self._window = False, b""
        return _merge(out)

    def _emit(
        self, segs: list[_Segment], secret: bytearray, decided: int, out: list[bytes | Secret]
    ) -> bytes:
        """Append decided pieces to `out`; return the raw bytes held back."""
        pos = 0
        for k, seg in enumerate(segs):
            if seg.repeat:  # hidden or shown as the first copy was
                self._piece(seg.raw, self._last_block[1], out)
                continue
            end = pos + len(seg.content)
            if seg.block:
                if end > decided:
                    return b"".join(s.raw for s in segs[k:])
                self._last_block = (seg.raw, any(secret[pos:end]))
                self._piece(seg.raw, self._last_block[1], out)
            else:
                stop = min(end, decided)
                j = pos
                while j < stop:  # runs of equal secrecy
                    flag = secret[j]
                    e = j
                    while e < stop and secret[e] == flag:
                        e += 1
                    self._piece(seg.raw[j - pos : e - pos], bool(flag), out)
                    j = e
                if end > decided:
                    later = b"".join(s.raw for s in segs[k + 1 :])
                    return seg.raw[max(decided, pos) - pos :] + later
            pos = end
        return b""

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
