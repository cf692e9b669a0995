"""The `xbee-hil` command: a thin dispatcher over sub-commands that live in their own modules.

Each sub-command module exposes `register(subparsers)`, which adds its parser and sets
`func` (a callable taking the parsed namespace and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__

# Sub-command modules, in the order `--help` lists them. Add a line to add a command.
COMMAND_MODULES: tuple[str, ...] = (
    "harness.commands.decode",
    "harness.commands.codes",
    "harness.commands.profile",
    "harness.commands.capture",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xbee-hil", description="Tools for testing Digi XBee3 Cellular modems."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `xbee-hil decode … | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
