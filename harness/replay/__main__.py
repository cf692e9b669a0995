"""`python -m harness.replay`: serve a cassette on a pty, or diff two cassettes.

    python -m harness.replay serve FILE --pty [--speed X] [--until-done]
    python -m harness.replay serve DIR --test NODEID --pty     # one test's cassette of a deck
    python -m harness.replay diff A B [--ignore-addresses] [--keep-repeats] [--bytes]

`serve` prints the device path first (with --pty); exit 0 when the host did exactly what the
cassette recorded, 1 when it did not (the report goes to stderr), 2 on bad input. `diff` is
`xbee-hil capture diff`: exit 0 equivalent, 1 different, 2 bad input.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from harness.capture import CaptureError
from harness.replay.matchers import Matchers

PROG = "python -m harness.replay"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Serve or compare cassettes.")
    actions = parser.add_subparsers(dest="action", required=True)
    p = actions.add_parser(
        "serve",
        description="Serve a cassette (a capture) back as a module would, strictly. With --pty "
        "the first line printed is the device path. Exit 0 when the host did exactly what the "
        "cassette recorded, 1 when it did not (the report goes to stderr), 2 on bad input.",
    )
    p.add_argument("cassette", metavar="FILE|DIR", help="a .jsonl capture, or a deck of them")
    p.add_argument("--test", metavar="NODEID", help="with a DIR: the test whose cassette to serve")
    p.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    p.add_argument("--link", metavar="PATH", help="with --pty: also make PATH a symlink to it")
    p.add_argument("--tcp", metavar="HOST:PORT", help="serve raw bytes on TCP (socket://…)")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        metavar="X",
        help="recorded gaps times X (0 = as fast as order allows, 1 = real time)",
    )
    p.add_argument(
        "--ignore-addresses",
        action="store_true",
        help="ignore server addresses and ports (DL/DE, 0x20/0x23/0x42, Host:)",
    )
    p.add_argument(
        "--until-done",
        action="store_true",
        help="exit when the cassette is used up or fails (else run until Ctrl-C)",
    )
    p.set_defaults(func=serve)
    d = actions.add_parser(
        "diff",
        description="Where the module's behaviour changed between two cassettes of one test "
        "(as `xbee-hil capture diff`). Exit 0 equivalent, 1 different, 2 bad input.",
    )
    d.add_argument("a", metavar="A", help="the reference capture")
    d.add_argument("b", metavar="B", help="the capture to compare")
    d.add_argument(
        "--ignore-addresses",
        action="store_true",
        help="also ignore server addresses and ports (DL/DE, 0x20/0x23, Host:)",
    )
    d.add_argument(
        "--keep-repeats",
        action="store_true",
        help="compare runs of identical exchanges (AI polling) one by one",
    )
    d.add_argument(
        "--bytes",
        "--strict",
        dest="strict",
        action="store_true",
        help="compare byte for byte: upload blocks, SHA-256s, payload frames as cut",
    )
    d.set_defaults(func=diff)
    return parser  # fmt: skip


def _cassette(args: argparse.Namespace) -> Path:
    """The file to serve: FILE itself, or DIR's cassette for --test (ValueError: why not)."""
    from harness.replay.cassette import Deck

    target = Path(args.cassette)
    if not target.is_dir():
        return target  # a missing file is the loader's error (NoCassette)
    if not args.test:
        raise ValueError(f"{target} is a deck: name the test to serve with --test NODEID")
    path, why = Deck(target).for_test(args.test)
    if path is None:
        raise ValueError(why)
    return path


def serve(args: argparse.Namespace) -> int:
    from harness.replay.device import ReplayServer
    from harness.replay.player import ReplayError

    prog = "replay"
    if not (args.pty or args.tcp):
        print(f"{prog}: nothing to serve on; give --pty and/or --tcp", file=sys.stderr)
        return 2
    if args.speed < 0:
        print(f"{prog}: --speed must be >= 0", file=sys.stderr)
        return 2
    matchers = Matchers(addresses=args.ignore_addresses)
    try:
        server = ReplayServer(_cassette(args), speed=args.speed, matchers=matchers)
    except (ReplayError, CaptureError, ValueError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.pty:
            print(server.start_pty(args.link), flush=True)
        if args.tcp:
            host, _, port = args.tcp.rpartition(":")
            if not port.isdigit():
                print(f"{prog}: --tcp {args.tcp!r}: expected HOST:PORT", file=sys.stderr)
                return 2
            print("socket://{}:{}".format(*server.start_tcp(host or "127.0.0.1", int(port))),
                  flush=True)  # fmt: skip
        while not stop.wait(0.1):
            if args.until_done and server.done:
                break
        verdict = server.finish()
    except OSError as err:
        print(f"{prog}: {err.strerror or err}", file=sys.stderr)
        return 2
    finally:
        server.stop()
    print(verdict.report, file=sys.stderr)
    return 0 if verdict.ok else 1


def diff(args: argparse.Namespace) -> int:
    from harness.replay.diff import run

    return run(args.a, args.b, prog=f"{PROG} diff", ignore_addresses=args.ignore_addresses,
               keep_repeats=args.keep_repeats, strict=args.strict)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
