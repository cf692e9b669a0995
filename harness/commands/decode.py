"""`xbee-hil decode [--escaped] HEX…`: API frames from hex, one JSON object per line.

For reading a capture or a forum post by eye: the bytes go through the same Deframer and
frame classes as the harness, so what this prints is what the harness saw. Exit status: 0 all
frames good, 1 a frame was broken (its line has an `error` key naming the problem and the
bytes) or bytes outside any frame were skipped, 2 the input is not hex.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from harness.xbee import api
from harness.xbee.frames import Deframer, FrameError

_SEPARATORS = re.compile(r"[\s:,]+")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "decode",
        help="decode API frames given as hex (one JSON object per frame)",
        description=(
            "Decode XBee API frames from hex. Spaces, colons and commas between bytes are "
            "ignored; several frames may follow each other. With no HEX, read stdin."
        ),
    )
    parser.add_argument(
        "--escaped",
        action="store_true",
        help="the bytes are API mode with escapes (AP=2)",
    )
    parser.add_argument(
        "hex", nargs="*", metavar="HEX", help="bytes as hex, e.g. 7E 00 02 8A 00 75"
    )
    parser.set_defaults(func=run)


class HexError(ValueError):
    """Input that is not a sequence of hex bytes."""


def parse_hex(text: str) -> bytes:
    """Bytes from hex with optional separators and `0x` prefixes; errors name the offending text."""
    tokens = [t for t in _SEPARATORS.split(text.strip()) if t]
    cleaned = "".join(t[2:] if t[:2].lower() == "0x" else t for t in tokens)
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        at = bad.start()
        raise HexError(f"not hex: {cleaned[at : at + 8]!r} at hex digit {at}")
    if len(cleaned) % 2:
        raise HexError(f"odd number of hex digits ({len(cleaned)}): the last byte is incomplete")
    return bytes.fromhex(cleaned)


def decode(data: bytes, *, escaped: bool = False) -> list[dict[str, Any]]:
    """One dict per frame or broken frame found in `data`, in order."""
    deframer = Deframer(escaped=escaped)
    events = deframer.feed(data) + deframer.flush()
    out: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, FrameError):
            out.append({"error": event.describe(), "kind": event.kind, "raw": event.raw.hex(" ")})
        else:
            out.append(api.parse(event.data).to_dict())
    # After a broken frame the Deframer rescans its bytes and counts them as discarded; only
    # report noise when no frame was broken, so the same bytes are not blamed twice.
    if deframer.discarded and not any(isinstance(e, FrameError) for e in events):
        out.append(
            {
                "error": f"{deframer.discarded} byte(s) outside any frame were skipped "
                "(no 0x7E start delimiter before them)",
                "kind": "noise",
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    text = " ".join(args.hex) if args.hex else sys.stdin.read()
    try:
        data = parse_hex(text)
    except HexError as err:
        print(f"xbee-hil decode: {err}", file=sys.stderr)
        return 2
    if not data:
        print("xbee-hil decode: no bytes given", file=sys.stderr)
        return 2
    status = 0
    for obj in decode(data, escaped=args.escaped):
        if "error" in obj:
            status = 1
        print(json.dumps(obj))
    return status
