"""`xbee-hil codes TABLE [VALUE…]`: what a status or indication code means.

`xbee-hil codes CI 0x26` prints `0x26 Connection refused (CONNECTION_REFUSED, D-CI)`. Values
are hex, with or without `0x`, as the module prints them in Command mode (D-CMD). With no
value the whole table is listed; with no table, the table names. Exit status: 0 every value
known, 1 a value is not in the table (it is printed as `unknown (0xNN)`), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.xbee import codes


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "codes",
        help="explain a status code (TX, CI, AI, MODEM, SOCKET, AT, FS, …)",
        description=(
            "Explain XBee3 Cellular status codes. Tables: " + ", ".join(codes.TABLES) + ". "
            "CI is the TCP/TLS table; CI-UDP and CI-SMS are the others. Values are hex."
        ),
    )
    parser.add_argument("table", nargs="?", metavar="TABLE", help="table name, e.g. CI or TX")
    parser.add_argument("values", nargs="*", metavar="VALUE", help="code in hex, e.g. 0x26 or 26")
    parser.set_defaults(func=run)


def parse_value(text: str) -> int:
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        value = int(digits, 16)
    except ValueError:
        raise ValueError(f"not a hex code: {text!r}") from None
    if not 0 <= value <= 0xFF:
        raise ValueError(f"code out of range 0x00-0xFF: {text!r}")
    return value


def line(code: codes.Code) -> str:
    if not code.known:
        return code.describe()
    return f"{code.describe()} ({code.name}, {code.source})"


def run(args: argparse.Namespace) -> int:
    if args.table is None:
        for name, table in codes.TABLES.items():
            print(f"{name}: {len(table)} codes")
        return 0
    name = args.table.upper()
    if name not in codes.TABLES:
        print(
            f"xbee-hil codes: no table {args.table!r}; tables: {', '.join(codes.TABLES)}",
            file=sys.stderr,
        )
        return 2
    if not args.values:
        for code in codes.TABLES[name].values():
            print(line(code))
        return 0
    try:
        values = [parse_value(v) for v in args.values]
    except ValueError as err:
        print(f"xbee-hil codes: {err}", file=sys.stderr)
        return 2
    status = 0
    for value in values:
        code = codes.lookup(name, value)
        status = status if code.known else 1
        print(line(code))
    return status
