"""The capture: one JSON Lines file per test, every byte both ways plus annotations.

`harness.capture` is the import path for all of it; the parts live in:

- `events`: event names (`TX`, `RX`), `CaptureError`, `Capture` (a file as read);
- `format`: `CaptureWriter` and the reader (`read_capture`, `iter_capture`);
- `redact`: `Redactor` and the secret rules; `keystream`: PEM keys whatever the chunking;
- `units`: a stream cut into text lines and API frames (frames by the xbee `Deframer`);
- `render`: the readable view (`render`, `decode_frame`, `frame_codes`).
"""

from harness.capture.events import FORMAT, RX, TX, WIRE_EVENTS, Capture, CaptureError
from harness.capture.format import CaptureWriter, iter_capture, read_capture
from harness.capture.redact import (
    IDENTITY_QUERIES,
    REDACTED,
    SECRET_WRITES,
    Redactor,
    WireRecord,
    redact_frame_data,
    split_at_line,
)
from harness.capture.render import ARROW, decode_frame, frame_codes, render, render_header
from harness.capture.units import Unit, split_units

__all__ = [
    "ARROW",
    "FORMAT",
    "IDENTITY_QUERIES",
    "REDACTED",
    "RX",
    "SECRET_WRITES",
    "TX",
    "WIRE_EVENTS",
    "Capture",
    "CaptureError",
    "CaptureWriter",
    "Redactor",
    "Unit",
    "WireRecord",
    "decode_frame",
    "frame_codes",
    "iter_capture",
    "read_capture",
    "redact_frame_data",
    "render",
    "render_header",
    "split_at_line",
    "split_units",
]
