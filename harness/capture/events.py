"""The capture's event names and what a read capture is, shared by the writer, the redactor,
the reader and the view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "xbee-hil-capture/1"
TX = "tx"  # host → module
RX = "rx"  # module → host
WIRE_EVENTS = (TX, RX)


class CaptureError(Exception):
    """A capture file that cannot be read; the message names the file and line."""


@dataclass
class Capture:
    """A capture file as read: its header and its events, in order."""

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
