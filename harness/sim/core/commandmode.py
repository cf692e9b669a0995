"""Command-mode entry by guard times, and command-line assembly. Pure; time is an argument.

The `+++` rule (D-ENTER, D-GT, D-CC): silence of at least GT before the first CC character,
the three CC characters within one GT, then silence of at least GT after, and only then does
the module answer `OK`. CC characters that turn out not to be an escape are ordinary data
and go on, in order, to the data path (transparent mode) or the frame parser (API mode).
"""

from __future__ import annotations

from dataclasses import dataclass

ESCAPE_LENGTH = 3  # "+++": three CC characters (D-ENTER)

# Longest command line kept; a longer one is answered ERROR and dropped.
# ASSUMPTION A-CMD-LINE-MAX: the real limit is not in the reference.
MAX_LINE = 256


@dataclass(slots=True)
class EscapeResult:
    data: bytes  # bytes that are data after all (pass them on)
    entered: bool  # the escape completed: enter command mode now


class EscapeDetector:
    """Watches host bytes for a guarded `+++`; holds the CC characters while undecided.

    Edges (one place to change): the silence before must be >= GT; the third CC character
    must come less than GT after the first; the silence after must be >= GT.
    """

    def __init__(self, now: float = float("-inf")) -> None:
        self.last_rx = now
        self._held = bytearray()
        self._first = 0.0

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def reset(self, now: float) -> None:
        self._held.clear()
        self.last_rx = now

    def feed(self, data: bytes, now: float, *, gt: float, cc: int, can_start: bool = True,
             ) -> bytes:
        """Bytes received at `now`; returns the bytes that are data. `can_start` False keeps
        a new escape from starting (in API mode: inside a frame)."""
        if not self._held and (cc not in data):
            self.last_rx = now
            return bytes(data)
        out = bytearray()
        for b in data:
            silence = now - self.last_rx
            if self._held:
                if b == cc and len(self._held) < ESCAPE_LENGTH and now - self._first < gt:
                    self._held.append(b)
                    self.last_rx = now
                    continue
                out += self._held
                self._held.clear()
            if b == cc and can_start and silence >= gt:
                self._held.append(b)
                self._first = now
            else:
                out.append(b)
            self.last_rx = now
        return bytes(out)

    def deadline(self, gt: float) -> float | None:
        """When `tick` has to decide: enter (three held) or give the held bytes up as data."""
        if not self._held:
            return None
        if len(self._held) == ESCAPE_LENGTH:
            return self.last_rx + gt
        return self._first + gt

    def tick(self, now: float, *, gt: float) -> EscapeResult:
        due = self.deadline(gt)
        if due is None or now < due:
            return EscapeResult(b"", False)
        if len(self._held) == ESCAPE_LENGTH:
            self._held.clear()
            return EscapeResult(b"", True)
        data = bytes(self._held)
        self._held.clear()
        return EscapeResult(data, False)


class LineBuffer:
    """Collects command-mode characters into CR-terminated lines (D-CMD)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.overflowed = False

    def clear(self) -> None:
        self._buf.clear()
        self.overflowed = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """Complete lines, without CR; None stands for a line that was too long."""
        out: list[bytes | None] = []
        for b in data:
            if b == 0x0D:
                out.append(None if self.overflowed else bytes(self._buf))
                self.clear()
            elif b == 0x0A and not self._buf:
                continue  # LF after CR from a terminal: not part of the next command
            elif len(self._buf) >= MAX_LINE:
                self.overflowed = True
            else:
                self._buf.append(b)
        return out
