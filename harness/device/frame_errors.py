"""Broken frames off the wire, kept bounded (issue 10, defect 10).

After a bad checksum the Deframer rescans from the byte after the delimiter (the module does
the same, D-FMT-C1), so noise full of `7E 07 FF` gives one ~2 KB error every 3 bytes. Keeping
each error whole, and writing each as a note, made 300 KB of noise a 624 MB capture. Here an
error is its first bytes, its length and a SHA-256; the first `MAX_KEPT` are kept and noted,
the rest only counted, with a tally note each time the count doubles and one at close
(A-FRAME-ERROR-BOUND).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from harness.xbee import frames

MAX_KEPT = 100  # errors kept (and written as notes) per client
HEAD = 32  # bytes of a broken frame kept: delimiter, length, type and the first fields


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A broken frame, bounded: its kind, the Deframer's detail, first bytes, length, hash."""

    kind: str
    detail: str
    raw: bytes  # the first HEAD bytes only
    size: int
    sha256: str

    @classmethod
    def of(cls, err: frames.FrameError) -> BadFrame:
        return cls(err.kind, err.detail, bytes(err.raw[:HEAD]), len(err.raw),
                   hashlib.sha256(err.raw).hexdigest())

    def describe(self) -> str:
        more = f" … ({self.size} bytes, sha256 {self.sha256[:16]}…)" if self.size > HEAD else ""
        return f"{self.kind}: {self.detail} in {self.raw.hex(' ')}{more}"

    def note(self) -> dict[str, Any]:
        """The fields of a `frame_error` capture event."""
        return {"kind": self.kind, "detail": self.detail, "head": self.raw.hex(),
                "size": self.size, "sha256": self.sha256}


class FrameErrorLog:
    """The first `MAX_KEPT` errors, and a count of all of them."""

    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self.max_kept = max_kept
        self.kept: list[BadFrame] = []
        self.total = 0
        self._next_tally = 2 * max_kept

    @property
    def dropped(self) -> int:
        return self.total - len(self.kept)

    def add(self, err: frames.FrameError) -> dict[str, Any] | None:
        """Count `err`; return the note to write for it, if any."""
        self.total += 1
        if len(self.kept) < self.max_kept:
            bad = BadFrame.of(err)
            self.kept.append(bad)
            return bad.note()
        if self.total >= self._next_tally:
            self._next_tally *= 2
            return self.tally()
        return None

    def tally(self) -> dict[str, Any]:
        return {"total": self.total, "dropped": self.dropped,
                "detail": f"{self.dropped} more broken frames not kept"}
