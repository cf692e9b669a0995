"""What may differ between a recording and a live run, and how units are masked to compare.

`Matchers` names the volatile fields a replay (and `capture diff`) looks past: frame IDs
(renumbered consistently), dates in payloads, redacted secrets (the live bytes are redacted by
the capture's own rules first), optionally server addresses and ports, and `+++` re-entries
the harness's CT clock decided otherwise. A new matcher goes here: a flag on `Matchers` and
its masking in `normalize_frame` / `normalize_text`. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.capture import TX, Redactor, redact_frame_data
from harness.xbee import api

# RFC 9110 IMF-fixdate (HTTP Date:, Last-Modified:) and ISO 8601 date-times.
_DATES = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" \d{4} \d{2}:\d{2}:\d{2} GMT"
    rb"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_HOST_HEADER = re.compile(rb"(?im)^(Host:[ \t]*)[^\r\n]*")
# DL / DE in a command-mode line (D-CMD: `ATDL…,DE…`); their values name the server.
_AT_ADDRESS = re.compile(rb"(?i)((?:^\s*AT|,)\s*(?:DL|DE))[^,\r]*")
_ADDRESS_COMMANDS = ("DL", "DE")


@dataclass(frozen=True)
class Matchers:
    """Which volatile fields a replay (and `capture diff`) ignores."""

    frame_ids: bool = True  # renumbered consistently (D-08: any non-zero ID; 0 = no response)
    dates: bool = True  # HTTP dates and ISO 8601 timestamps in payloads and lines
    redacted: bool = True  # live secrets are redacted by the capture's rules before comparing
    addresses: bool = False  # 0x20/0x23/0x42 destination, DL/DE values, Host: header
    # `+++` re-entries into command mode that the harness's own CT clock decided otherwise
    # (A-REPLAY-ESCAPES): an extra one is answered OK, a recorded one it skipped is passed.
    escapes: bool = False


ESCAPE = b"+++"  # D-ENTER: three CC characters (CC default "+")
ESCAPE_OK = b"OK\r"  # D-ENTER: the module's answer
AT_LINE = re.compile(rb"^\s*AT", re.IGNORECASE)


def frame_id_of(data: bytes) -> int | None:
    """The frame ID, if this frame type has one: byte 1 of every such layout (api `_LAYOUT`)."""
    frame = api.parse(data)
    if isinstance(frame, api.Frame) and hasattr(frame, "frame_id"):
        return data[1]
    return None


def with_frame_id(data: bytes, fid: int) -> bytes:
    return data[:1] + bytes((fid,)) + data[2:]


def redact_live_frame(data: bytes) -> bytes:
    return redact_frame_data(data)[0]


def redact_live_text(raw: bytes) -> bytes:
    """A host line as the capture would have stored it (CU/CW values hidden, keys hashed)."""
    red = Redactor()
    records = red.feed(TX, raw, 0.0) + red.flush()
    return b"".join(r.data if r.data is not None else b"<redacted>" for r in records)


def _mask_addresses_frame(data: bytes) -> bytes:
    frame = api.parse(data)
    if isinstance(frame, api.TXRequestIPv4 | api.TXRequestTLSProfile):
        return data[:2] + bytes(8) + data[10:]  # dest_addr(4) dest_port(2) src_port(2): D-20, D-23
    if isinstance(frame, api.SocketConnect):
        return data[:3] + bytes(2) + data[5:6]  # port, type; the address dropped: D-SF p.270
    if isinstance(frame, api.ATCommand | api.ATCommandQueue) and frame.command.upper() in (
        _ADDRESS_COMMANDS
    ):
        return data[:4]
    return data


def normalize_frame(data: bytes, m: Matchers, fid: int | None = None) -> bytes:
    """Frame data with the volatile fields `m` ignores masked; the frame ID becomes `fid`."""
    if m.redacted:
        data = redact_live_frame(data)
    if m.addresses:
        data = _mask_addresses_frame(data)
        data = _HOST_HEADER.sub(rb"\1<host>", data)
    if fid is not None and frame_id_of(data) is not None:
        data = with_frame_id(data, fid)
    if m.dates:
        data = _DATES.sub(b"<date>", data)
    return data


def normalize_text(raw: bytes, m: Matchers, *, host: bool = True) -> bytes:
    if m.redacted and host:
        raw = redact_live_text(raw)
    if m.addresses:
        raw = _AT_ADDRESS.sub(rb"\1<addr>", raw)
        raw = _HOST_HEADER.sub(rb"\1<host>", raw)
    if m.dates:
        raw = _DATES.sub(b"<date>", raw)
    return raw
