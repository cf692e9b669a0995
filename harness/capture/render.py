"""The readable view of a capture: frames decoded with their codes, text by line, secrets
as they were written (redacted)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from harness.capture.events import RX, TX, WIRE_EVENTS, Capture
from harness.capture.units import split_units
from harness.xbee import at as _at
from harness.xbee import codes as _codes


def decode_frame(data: bytes) -> dict[str, Any]:
    """`{"fields": to_dict(), "codes": {table: meaning}}` for frame data; never raises."""
    out: dict[str, Any] = {}
    try:
        from harness.xbee import api  # late: capture must not need the frame classes to load
    except ImportError:  # pragma: no cover - only while api.py is being written
        return out
    try:
        frame = api.parse(data)
        fields = frame.to_dict()
    except Exception as exc:  # a capture of a broken frame must still print
        return {"error": f"cannot decode: {exc}"}
    out["fields"] = fields
    cds = frame_codes(data)
    if cds:
        out["codes"] = cds
    return out


# Which byte of which frame carries a code, and its table (reference §2.4-§2.12).
_CODE_AT: dict[int, tuple[int, str]] = {
    0x88: (4, "AT"),  # D-88
    0x89: (2, "TX"),  # D-89
    0x8A: (1, "MODEM"),  # D-8A
    0xC0: (3, "SOCKET-CREATE"),  # D-SF p.267
    0xC1: (4, "SOCKET-OPTION"),  # D-SF p.269
    0xC2: (3, "SOCKET-CONNECT"),  # D-SF p.271
    0xC3: (3, "SOCKET-CLOSE"),  # D-XS p.174
    0xC6: (3, "SOCKET-LISTEN"),  # D-SF p.277
    0xCF: (2, "SOCKET"),  # D-SF p.281
    0xBB: (3, "FS"),  # D-BB
    0xFE: (1, "FRAME-ERROR"),  # L-PY FrameError
}


def frame_codes(data: bytes) -> dict[str, str]:
    """The code bytes a frame carries, with Digi's meaning (the raw value is always kept)."""
    spot = _CODE_AT.get(data[0]) if data else None
    if spot is None or len(data) <= spot[0]:
        return {}
    value = data[spot[0]]
    return {spot[1]: _codes.describe(spot[1], value)}


def _text(raw: bytes) -> str:
    out = []
    for b in raw:
        if b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _frame_line(data: bytes) -> str:
    dec = decode_frame(data)
    fields = dict(dec.get("fields") or {})
    name = fields.pop("name", "frame")
    fields.pop("type", None)
    fields.pop("status_name", None)  # the code's meaning follows, from codes.py
    hexvalue = _is_hex_command(fields.get("command"))
    body = " ".join(f"{k}={_show_value(k, v, hexvalue)}" for k, v in fields.items()) or data.hex(
        " "
    )
    codes_ = "; ".join(dec.get("codes", {}).values())
    return f"[0x{data[0]:02X} {name}] {body}" + (f"  => {codes_}" if codes_ else "")


def _is_hex_command(name: Any) -> bool:
    row = _at.CATALOGUE.get(str(name).upper()) if name else None
    return row is not None and row.kind is _at.Kind.HEX


def _show_value(key: str, v: Any, hexvalue: bool = False) -> str:
    """Payloads and AT values as text when they are printable, else hex; numbers as 0x…."""
    if hexvalue and key in ("value", "parameter") and isinstance(v, str):
        return f"0x{v.upper()}" if v else "''"
    if isinstance(v, str) and key in ("value", "parameter", "payload", "data", "option_data"):
        try:
            raw = bytes.fromhex(v)
        except ValueError:
            return _short(v)
        if raw and all(0x20 <= b < 0x7F or b in (0x0D, 0x0A) for b in raw):
            return _short(repr(raw.decode("ascii")))
        return _short(v) if v else "''"
    return _short(v)


def _short(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return s if len(s) <= 120 else s[:117] + "..."


ARROW = {TX: "->", RX: "<-"}


_TEXT_GAP = 0.1  # s: pieces of one line closer than this print as one line


def render(
    events: list[dict[str, Any]] | Capture,
    header: dict[str, Any] | None = None,
    *,
    notes: bool = False,
) -> Iterator[str]:
    """A readable transcript: AT lines as text, frames decoded with their codes' meanings.

    `frame` and `at` annotations repeat what the wire shows, so they are printed only with
    `notes=True` (or when the capture holds no wire bytes at all). A text line is whole: it
    ends with its CR, and with the LF after it when one follows (`GET / HTTP/1.1\\r\\n`),
    even when the LF was written after the other direction's bytes.
    """
    if isinstance(events, Capture):
        header, events = events.header, events.events
    if header is not None:
        yield render_header(header)
    has_wire = any(e["ev"] in WIRE_EVENTS for e in events)
    held = {TX: b"", RX: b""}
    text = {TX: (0.0, b""), RX: (0.0, b"")}  # an unfinished text line: (first t, bytes)
    out: list[str] = []
    open_cr: dict[str, int | None] = {TX: None, RX: None}  # a printed line ending in a bare CR

    def flush_text(direction: str) -> None:
        t0, raw = text[direction]
        if raw:
            text[direction] = (0.0, b"")
            open_cr[direction] = len(out) if raw.endswith(b"\r") else None
            out.append(f"{t0:10.3f} {ARROW[direction]} {_text(raw)}")

    def add_text(direction: str, piece: bytes, now: float) -> None:
        """A CR ends a line; an LF right after it joins that line (A-NIGHTLY-CRLF)."""
        t0, raw = text[direction]
        if piece.startswith(b"\n") and (raw.endswith(b"\r") or not raw):
            line = open_cr[direction] if not raw else None
            if line is not None:  # the LF of a line already printed: it goes there
                out[line] += _text(b"\n")
                open_cr[direction] = None
                piece = piece[1:]
            elif raw:
                text[direction] = (t0, raw + b"\n")
                flush_text(direction)
                piece = piece[1:]
        elif raw.endswith(b"\r"):
            flush_text(direction)
        if piece:
            t0, raw = text[direction]
            text[direction] = (t0 if raw else now, raw + piece)
            open_cr[direction] = None

    for ev in events:
        kind = ev["ev"]
        now = float(ev.get("t", 0.0))
        t = f"{now:10.3f}"
        for d in WIRE_EVENTS:
            t0, raw = text[d]
            if raw and (d != kind or now - t0 > _TEXT_GAP):
                flush_text(d)
        if kind in WIRE_EVENTS:
            arrow = ARROW[kind]
            if "hex" not in ev:
                what = ", ".join(ev.get("redacted", [])) or "secret"
                label = f" {ev['what']}" if ev.get("what") else ""
                open_cr[kind] = None
                out.append(
                    f"{t} {arrow} <{what} redacted{label}: {ev.get('size')} bytes,"
                    f" sha256 {ev.get('sha256')}>"
                )
                continue
            units, held[kind] = split_units(
                held[kind] + bytes.fromhex(ev["hex"]), final=False, hold_text=lambda _t: False
            )
            for unit in units:
                if unit.kind == "frame":
                    flush_text(kind)
                    open_cr[kind] = None
                    esc = " (escaped)" if unit.escaped else ""
                    out.append(f"{t} {arrow} {_frame_line(unit.data)}{esc}")
                    continue
                add_text(kind, unit.raw, now)
            continue
        rest = {k: v for k, v in ev.items() if k not in ("ev", "t")}
        if kind == "mode":
            out.append(f"{t} ~~ mode: {rest.get('mode')}")
        elif kind in ("at", "frame") and has_wire and not notes:
            continue
        elif kind == "at":
            out.append(
                f"{t} ~~ AT{rest.get('cmd', '')}{rest.get('param') or ''} => {rest.get('reply')}"
            )
        elif kind == "frame":
            out.append(f"{t} ~~ frame {rest.get('dir')} {_frame_line(bytes.fromhex(rest['data']))}")
        else:
            out.append(f"{t} ~~ {kind}: " + " ".join(f"{k}={_short(v)}" for k, v in rest.items()))
    for d in WIRE_EVENTS:
        flush_text(d)
    yield from out
    for direction, rest_bytes in held.items():
        if rest_bytes:
            yield f"{'end':>10} {ARROW[direction]} {_text(rest_bytes)} (incomplete)"


def render_header(h: dict[str, Any]) -> str:
    fw = " ".join(f"{k}={v}" for k, v in (h.get("firmware") or {}).items()) or "unknown"
    return (
        f"# {h.get('test')}  device={h.get('device')}  personality={h.get('personality')}"
        f"  firmware {fw}  profile={h.get('profile')}  started {h.get('started')}"
        f"  harness {h.get('harness')}"
    )
