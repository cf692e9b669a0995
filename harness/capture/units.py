"""One direction's byte stream cut into units: text lines, API frames and the bytes between.

The frames are found by `harness.xbee.frames.Deframer`, the one frame splitter; this module
only adds what a capture needs and a module's own framing does not: the text between the
frames is kept (cut into lines at CR), and the mode is not known (a capture may hold AP=0, 1
and 2 in one file), so at each 0x7E both readings are asked of a Deframer, AP=1 first. A
0x7E that starts no whole frame in either reading is kept as opaque bytes up to the next
0x7E (the Deframer's resync: the search goes on one byte after the delimiter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.xbee import frames as _frames

_MAX_HELD = 4096  # a held-back tail longer than this cannot be a line or a frame
_START = bytes((_frames.START,))
# The most wire bytes an AP=2 frame can take (every byte after the delimiter escaped): the
# Deframer is shown no more than this, so a stray 0x7E before a long run costs no more.
_MAX_ESCAPED_WIRE = 1 + 2 * (2 + _frames.MAX_FRAME_DATA + 1) + 1


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of one direction's stream: a text line (`kind="text"`), an API frame
    (`kind="frame"`, `data` = frame data, `escaped` = AP=2 form) or opaque bytes."""

    kind: str
    raw: bytes
    data: bytes = b""
    escaped: bool = False


def _first_frame(chunk: bytes, *, escaped: bool) -> tuple[Unit | None, bool]:
    """What a Deframer makes of the frame at `chunk[0]` (a 0x7E): (the frame, need_more).

    `chunk` holds only that frame's bytes (and for AP=2 the next 0x7E, which closes it), so
    the Deframer does no work past it."""
    deframer = _frames.Deframer(escaped=escaped)
    got = deframer.feed(chunk)
    if not got:  # the Deframer holds the frame back: it needs more bytes
        return None, True
    first = got[0]
    if isinstance(first, _frames.RawFrame):
        return Unit("frame", first.raw, first.data, escaped), False
    return None, False  # a FrameError: not a frame in this reading


def _try_frame(buf: bytes, pos: int) -> tuple[Unit | None, bool]:
    """A whole API frame at `buf[pos]` (a 0x7E), in AP=1 or AP=2 form. Returns (unit, need_more)."""
    if len(buf) - pos >= 3:  # AP=1: the frame is exactly its length + 4 bytes
        length = (buf[pos + 1] << 8) | buf[pos + 2]
        plain_end = pos + 3 + (length + 1 if 0 < length <= _frames.MAX_FRAME_DATA else 0)
    else:
        plain_end = len(buf)
    plain, need_more = _first_frame(buf[pos:plain_end], escaped=False)
    if plain is not None and plain.raw[-1] != _frames.ESCAPE:
        return plain, False
    # An AP=2 frame whose checksum is escaped (7D 5D) also reads as a good AP=1 frame ending
    # in 7D: the AP=2 reading, when there is one, is the frame.
    nxt = buf.find(_START, pos + 1, pos + _MAX_ESCAPED_WIRE)
    end = min(len(buf), pos + _MAX_ESCAPED_WIRE) if nxt < 0 else nxt + 1
    escaped, more = _first_frame(buf[pos:end], escaped=True)
    if escaped is not None:
        return escaped, False
    if plain is not None:
        return plain, False
    return None, need_more or more


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
    i = buf.find(_START, pos)
    return len(buf) if i < 0 else i
