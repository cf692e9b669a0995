"""`xbee-hil capture show FILE`: a capture as a readable transcript.

AT lines print as text, API frames decoded with their codes' meanings, redacted secrets as
size and hash. Exit status: 0 good, 1 the file is unreadable or has a bad line (printed as
`file:line: problem` on stderr, after the events before it), 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.capture import CaptureError, iter_capture, render


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "capture",
        help="work with capture files (JSON Lines, one per test)",
        description="Work with capture files written by the harness (reports/captures/…).",
    )
    actions = parser.add_subparsers(dest="capture_command", required=True)
    show = actions.add_parser(
        "show",
        help="print a capture as a readable transcript",
        description="Print a capture: AT lines as text, frames decoded with their codes.",
    )
    show.add_argument("file", metavar="FILE", help="a .jsonl capture file")
    show.add_argument("--notes", action="store_true", help="also print AT and frame annotations")
    show.set_defaults(func=run_show)


def run_show(args: argparse.Namespace) -> int:
    header: dict[str, Any] | None = None
    events: list[dict[str, Any]] = []
    error: CaptureError | None = None
    try:
        for item in iter_capture(args.file):
            if header is None:
                header = item
            else:
                events.append(item)
    except CaptureError as exc:
        error = exc
    if header is not None:
        for line in render(events, header, notes=args.notes):
            print(line)
    if error is not None:
        print(f"xbee-hil capture show: {error}", file=sys.stderr)
        return 1
    return 0
