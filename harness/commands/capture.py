"""`xbee-hil capture show FILE` and `xbee-hil capture diff A B`.

`show`: a capture as a readable transcript. AT lines print as text, API frames decoded with
their codes' meanings, redacted secrets as size and hash. Exit status: 0 good, 1 the file is
unreadable or has a bad line (printed as `file:line: problem` on stderr, after the events
before it), 2 usage error (argparse).

`diff`: where the module's behaviour changed between two cassettes of one test (last night's
and a month-old one): exchanges (a host request and the module's answers) are aligned, and a
changed code, value, or a missing or extra frame or line is printed with its cassette lines.
Timing is ignored, and so are the volatile fields the replay device ignores (frame IDs,
dates; addresses with --ignore-addresses). Runs of identical exchanges count once (polling
AI until registered takes as many rounds as it takes). By default it compares behaviour:
uploads by the role of their file, SHA-256s by the file they name, YMODEM ACKs as counts,
0xB0/0xCD/0xCE payloads as streams per socket (A-DIFFQ-BEHAVIOUR); `--bytes` compares the
bytes. Exit 0 equivalent, 1 different, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.capture import CaptureError, iter_capture, render
from harness.replay import diff


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
    diff = actions.add_parser(
        "diff",
        help="compare two cassettes of the same test: where did the module's behaviour change",
        description="Align two captures by exchange (host request -> module answers) and print "
        "changed codes and values, and missing or extra frames and lines. Timing, frame IDs "
        "and dates are ignored; uploads, SHA-256s and payload frames are compared by "
        "behaviour unless --bytes. Exit 0 equivalent, 1 different, 2 bad input.",
    )
    diff.add_argument("a", metavar="A", help="the reference capture (e.g. last month's)")
    diff.add_argument("b", metavar="B", help="the capture to compare (e.g. last night's)")
    diff.add_argument("--ignore-addresses", action="store_true",
                      help="also ignore server addresses and ports (DL/DE, 0x20/0x23, Host:)")
    diff.add_argument("--keep-repeats", action="store_true",
                      help="compare runs of identical exchanges (AI polling) one by one")
    diff.add_argument("--bytes", "--strict", dest="strict", action="store_true",
                      help="compare byte for byte: upload blocks, SHA-256s, payload frames as "
                      "cut (default: by behaviour, A-DIFFQ-BEHAVIOUR)")
    diff.set_defaults(func=run_diff)


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


def run_diff(args: argparse.Namespace) -> int:
    return diff.run(args.a, args.b, prog="xbee-hil capture diff",
                    ignore_addresses=args.ignore_addresses, keep_repeats=args.keep_repeats,
                    strict=args.strict)
