"""The API frame envelope: start delimiter, length, frame data, checksum (reference §1.1, §1.2).

Pure and allocation-light, because every byte of every test goes through it. `encode` builds
a frame for AP=1 or AP=2; `Deframer` takes bytes in arbitrary chunks and hands back whole
frames and error events (never exceptions), so a capture of a broken line still decodes.
"""

from __future__ import annotations

from dataclasses import dataclass

START = 0x7E  # D-FMT-C1
ESCAPE = 0x7D  # D-ESC
XON = 0x11  # D-ESC
XOFF = 0x13  # D-ESC
ESCAPE_XOR = 0x20  # D-ESC: "the byte XOR 0x20"
SPECIAL = frozenset((START, ESCAPE, XON, XOFF))

# Longest frame-data field the Deframer accepts before it calls a length bad. The largest
# documented frame is a 1500-byte payload plus a 13-byte header (0x20, 0xB0); 0x3B file
# writes are smaller. ASSUMPTION (docs/assumptions.md A-FRAME-MAX): a real module rejects
# longer frames too; the exact limit is not in the reference.
MAX_FRAME_DATA = 0x0800

_ESCAPE_TABLE = {b: bytes((ESCAPE, b ^ ESCAPE_XOR)) for b in SPECIAL}
_ESCAPE_ORDER = (bytes((ESCAPE,)), bytes((START,)), bytes((XON,)), bytes((XOFF,)))


def checksum(frame_data: bytes) -> int:
    """0xFF minus the 8-bit sum of the frame data (type byte … last data byte). D-88, L-PY."""
    return 0xFF - (sum(frame_data) & 0xFF)


def escape(data: bytes) -> bytes:
    """Escape 0x7E 0x7D 0x11 0x13 as 0x7D, byte ^ 0x20 (AP=2). D-ESC.

    0x7D goes first, so the 0x7D bytes the later replacements insert are not escaped again;
    `bytes.replace` keeps the work in C, which matters for 1500-byte payloads.
    """
    data = bytes(data)
    for special in _ESCAPE_ORDER:
        if special in data:
            data = data.replace(special, _ESCAPE_TABLE[special[0]])
    return data


def unescape(data: bytes) -> bytes:
    """Undo `escape`. A trailing lone 0x7D is kept as it is (the caller decides it is short)."""
    data = bytes(data)
    i = data.find(ESCAPE)
    if i < 0:
        return data
    out = bytearray()
    pos = 0
    n = len(data)
    while i >= 0:
        out += data[pos:i]
        if i + 1 >= n:
            out.append(ESCAPE)
            return bytes(out)
        out.append(data[i + 1] ^ ESCAPE_XOR)
        pos = i + 2
        i = data.find(ESCAPE, pos)
    out += data[pos:]
    return bytes(out)


def encode(frame_data: bytes, *, escaped: bool = False) -> bytes:
    """Wrap frame data (type byte + fields) in the envelope; AP=2 escapes all but the delimiter."""
    n = len(frame_data)
    if not 1 <= n <= 0xFFFF:
        raise ValueError(f"frame data must be 1..65535 bytes, got {n}")
    body = bytes((n >> 8, n & 0xFF)) + bytes(frame_data) + bytes((checksum(frame_data),))
    return bytes((START,)) + (escape(body) if escaped else body)


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One whole frame off the wire: its frame data (type first) and the bytes it came in."""

    data: bytes
    raw: bytes

    @property
    def type(self) -> int:
        return self.data[0]


@dataclass(frozen=True, slots=True)
class FrameError:
    """Bytes that looked like a frame and were not one. `kind`: checksum, length or truncated."""

    kind: str
    raw: bytes
    detail: str

    def describe(self) -> str:
        return f"{self.kind}: {self.detail} in {self.raw.hex(' ')}"


class Deframer:
    """Streaming frame splitter for AP=1 (`escaped=False`) and AP=2 (`escaped=True`).

    Bytes before a start delimiter are discarded (and counted in `discarded`), as the module
    does (D-FMT-C1). After a bad checksum or a bad length the search restarts one byte after
    the delimiter, so a valid frame that the bad one seemed to cover is still found. In AP=2
    every 0x7E starts a new frame (D-FMT-C1 p.121), which ends a short one as truncated.
    `escaped` may be changed between calls, as the module's AP changes.
    """

    def __init__(self, *, escaped: bool = False, max_frame_data: int = MAX_FRAME_DATA) -> None:
        self.escaped = escaped
        self.max_frame_data = max_frame_data
        self.discarded = 0
        self._buf = bytearray()
        # Bytes the buffer must hold before splitting again can produce anything (0 = always
        # split), and the mode it was worked out for. Lets small reads skip the splitter.
        self._wait = 0
        self._wait_escaped = escaped

    @property
    def pending(self) -> bytes:
        """Bytes held back waiting for the rest of a frame."""
        return bytes(self._buf)

    def feed(self, chunk: bytes) -> list[RawFrame | FrameError]:
        buf = self._buf
        if (
            len(buf) + len(chunk) < self._wait
            and self._wait_escaped == self.escaped
            and not (self.escaped and START in chunk)
        ):
            buf += chunk  # still inside the frame the splitter is waiting for
            return []
        buf += chunk
        self._wait = 0
        self._wait_escaped = self.escaped
        if self.escaped:
            return self._split_escaped(final=False)
        return self._split_plain(final=False)

    def flush(self) -> list[RawFrame | FrameError]:
        """End of stream: whatever is held back is reported as truncated (then rescanned)."""
        self._wait = 0
        if self.escaped:
            return self._split_escaped(final=True)
        return self._split_plain(final=True)

    def _split_plain(self, *, final: bool) -> list[RawFrame | FrameError]:
        buf = self._buf
        out: list[RawFrame | FrameError] = []
        pos = 0
        n = len(buf)
        find = buf.find
        limit = self.max_frame_data
        while True:
            start = find(0x7E, pos)
            if start < 0:
                self.discarded += n - pos
                pos = n
                break
            self.discarded += start - pos
            if n - start < 3:
                if final:
                    out.append(_truncated(bytes(buf[start:])))
                    pos = start + 1
                    continue
                pos = start
                self._wait = 3
                break
            length = (buf[start + 1] << 8) | buf[start + 2]
            if length == 0 or length > limit:
                out.append(FrameError("length", bytes(buf[start : start + 3]), _bad_len(length)))
                pos = start + 1
                continue
            end = start + length + 4
            if end > n:
                if final:
                    out.append(_truncated(bytes(buf[start:])))
                    pos = start + 1
                    continue
                pos = start
                self._wait = end - start
                break
            data = bytes(buf[start + 3 : end - 1])
            if (sum(data) + buf[end - 1]) & 0xFF != 0xFF:
                out.append(_bad_checksum(bytes(buf[start:end]), data, buf[end - 1]))
                pos = start + 1
                continue
            out.append(RawFrame(data, bytes(buf[start:end])))
            pos = end
        del buf[:pos]
        return out

    def _split_escaped(self, *, final: bool) -> list[RawFrame | FrameError]:
        buf = self._buf
        out: list[RawFrame | FrameError] = []
        pos = 0
        n = len(buf)
        find = buf.find
        limit = self.max_frame_data
        while True:
            start = find(0x7E, pos)
            if start < 0:
                self.discarded += n - pos
                pos = n
                break
            self.discarded += start - pos
            nxt = find(0x7E, start + 1)
            closed = nxt >= 0 or final
            seg_end = nxt if nxt >= 0 else n
            # The length field: at most 4 wire bytes after the delimiter (both bytes escaped).
            head_end = min(start + 5, seg_end)
            head = unescape(bytes(buf[start + 1 : head_end]))
            if len(head) < 2 or (len(head) == 2 and _dangling(buf, start + 1, head_end)):
                if not closed:
                    pos = start
                    break
                out.append(_truncated(bytes(buf[start:seg_end])))
                pos = seg_end
                continue
            length = (head[0] << 8) | head[1]
            if length == 0 or length > limit:
                out.append(FrameError("length", bytes(buf[start:head_end]), _bad_len(length)))
                pos = seg_end if nxt >= 0 else start + 1
                continue
            need = length + 3  # length field, frame data, checksum, all unescaped
            if not closed and seg_end - start - 1 < need:
                pos = start  # escapes only add bytes: the frame cannot be complete yet
                self._wait = need + 1
                break
            body = unescape(bytes(buf[start + 1 : seg_end]))
            if len(body) < need or (len(body) == need and _dangling(buf, start + 1, seg_end)):
                if not closed:
                    pos = start
                    self._wait = seg_end - start + max(need - len(body), 1)
                    break
                out.append(_truncated(bytes(buf[start:seg_end])))
                pos = seg_end
                continue
            data = body[2 : 2 + length]
            cks = body[2 + length]
            if len(body) == need:  # the usual case: the frame fills its segment
                frame_end = seg_end
            else:
                frame_end = start + _wire_len(buf, start + 1, seg_end, need)
            frame_wire = bytes(buf[start:frame_end])
            if (sum(data) + cks) & 0xFF != 0xFF:
                out.append(_bad_checksum(frame_wire, data, cks))
            else:
                out.append(RawFrame(data, frame_wire))
            # Bytes after a whole frame and before the next delimiter are noise (D-FMT-C1).
            self.discarded += seg_end - frame_end
            pos = seg_end
        del buf[:pos]
        return out


def _dangling(buf: bytearray, begin: int, end: int) -> bool:
    """Whether wire bytes buf[begin:end] end with an escape byte still waiting for its pair.

    A run of 0x7D bytes starts on a pair boundary (the byte before it is plain or the second
    of a pair), so the last one is unpaired exactly when the run is odd.
    """
    run = 0
    i = end - 1
    while i >= begin and buf[i] == ESCAPE:
        run += 1
        i -= 1
    return run % 2 == 1


def _wire_len(buf: bytearray, begin: int, end: int, unescaped_len: int) -> int:
    """How many wire bytes from `begin` carry `unescaped_len` bytes, plus 1 (the delimiter)."""
    if buf.find(ESCAPE, begin, min(end, begin + unescaped_len)) < 0:
        return unescaped_len + 1
    i, got = begin, 0
    while got < unescaped_len and i < end:
        i += 2 if buf[i] == ESCAPE else 1
        got += 1
    return min(i, end) - begin + 1


def _truncated(raw: bytes) -> FrameError:
    return FrameError("truncated", raw, f"frame cut off after {len(raw)} bytes")


def _bad_len(length: int) -> str:
    return f"bad length 0x{length:04X}"


def _bad_checksum(raw: bytes, data: bytes, got: int) -> FrameError:
    want = checksum(data)
    return FrameError("checksum", raw, f"bad checksum 0x{got:02X}, expected 0x{want:02X}")
