"""`xbee-sim`: serve a simulated module on a pty, TCP or RFC 2217 port from the command line.

Also `python -m harness.sim`. Builds a Modem from a personality (with `--nvm` values and a
`--flash` folder), a network from `--config` and the network flags, and runs a `SimServer`
until SIGINT/SIGTERM; `--stats FILE` writes the server's time account as JSON.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from harness import __version__
from harness.sim.core import faults as faults_mod
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host import netconfig, netflags, network
from harness.sim.host.server import SimServer, World
from harness.sim.host.sms import SmsOutbox
from harness.xbee import at

log = logging.getLogger(__name__)

# How often `xbee-sim --stats FILE` rewrites the file while running (also on SIGUSR1, at exit).
STATS_INTERVAL = 2.0


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT (PORT 0 = any free)")
    return host or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="xbee-sim",
        description="Serve a simulated Digi XBee3 Cellular module on a pty, TCP or RFC 2217 "
        "port. With --pty the first line printed is the device path.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    p.add_argument("--link", metavar="PATH", help="with --pty: also make PATH a symlink to it")
    p.add_argument("--tcp", metavar="HOST:PORT", type=_hostport,
                   help="serve raw bytes on TCP, one client at a time (socket://HOST:PORT)")
    p.add_argument("--rfc2217", metavar="HOST:PORT", type=_hostport,
                   help="serve RFC 2217 on TCP (rfc2217://HOST:PORT)")
    p.add_argument("--personality", default=personality_mod.DEFAULT,
                   help=f"firmware personality, a name ({', '.join(personality_mod.available())})"
                   " or a YAML file (default %(default)s)")
    p.add_argument("--ap", type=int, choices=(0, 1, 2), help="operating mode at power-up (AP)")
    p.add_argument("--time-scale", default="1", metavar="X",
                   help="simulated time runs X times real time (0.01 = 100x faster)")
    p.add_argument("--nvm", metavar="FILE", help="JSON file where WR values persist")
    p.add_argument("--flash", metavar="DIR", help="host folder holding /flash (default: memory)")
    p.add_argument("--config", metavar="FILE", help="YAML file with a `network:` block")
    p.add_argument("--no-network", action="store_true",
                   help="no internet: every connection fails (no route)")
    p.add_argument("--stats", metavar="FILE",
                   help="write the account of imposed time (UART, guard times, registration, "
                   f"network) as JSON to FILE at exit, on SIGUSR1 and every {STATS_INTERVAL:g} s")
    p.add_argument("--fault", action="append", default=[], metavar="NAME[:ARG]",
                   help="put a named fault on the module from power-up (repeatable; "
                   "--list-faults shows them)")
    p.add_argument("--list-faults", action="store_true",
                   help="print every named fault, what it does and its source, and exit")
    p.add_argument("--sms-log", metavar="FILE",
                   help="append every SMS the module sends (0x1F) to FILE as a JSON line")
    p.add_argument("--log-level", default="WARNING",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    netflags.add_arguments(p)
    return p


def load_nvm(path: Path) -> dict[str, at.Value]:
    """An --nvm file: a JSON object of AT name → value. Errors name the file and key."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of AT name -> value")
    out: dict[str, at.Value] = {}
    for key, value in data.items():
        try:
            row = at.spec(key)
            out[row.name] = at.validate(row.name, value)
        except at.AtError as err:
            raise ValueError(f"{path}: key {key!r}: {err}") from None
    return out


def write_stats(server: SimServer, path: Path) -> None:
    """The account as a JSON object, replaced atomically so a reader never sees half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(server.stats(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _make_world(args: argparse.Namespace) -> World | None:
    if args.no_network:
        return None
    base = netconfig.load_config(args.config) if args.config else None
    config = netflags.config_from_args(args, base)
    if args.time_scale != 1.0:  # network delays are simulated time too
        scaled = {k: getattr(config, k) * args.time_scale for k in
                  ("latency", "tls_handshake_time", "no_route_timeout", "connect_timeout")}
        config = config.model_copy(update=scaled)
    return network.Network(config)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.list_faults:
        print(faults_mod.listing())
        return 0
    try:
        faults = faults_mod.parse_all(args.fault, where="--fault")
    except faults_mod.FaultError as err:
        print(f"xbee-sim: {err}", file=sys.stderr)
        return 2
    if not (args.pty or args.tcp or args.rfc2217):
        print("xbee-sim: nothing to serve on; give --pty, --tcp and/or --rfc2217",
              file=sys.stderr)
        return 2
    scale = time_scale(args.time_scale)
    if scale is None:
        print(f"xbee-sim: --time-scale {args.time_scale}: expected a finite number > 0 "
              "(0.01 = 100x faster)", file=sys.stderr)
        return 2
    args.time_scale = scale
    try:
        persona = personality_mod.load(args.personality)
        nvm = load_nvm(Path(args.nvm)) if args.nvm else {}
        flash = None
        if args.flash:
            from harness.sim.host.flashfs import FlashFS

            flash = FlashFS(root=args.flash)
        modem = Modem(persona, nvm=nvm, ap=args.ap, flash=flash)
        if faults:
            modem.set_faults([str(f) for f in faults], 0.0)
        world = _make_world(args)
    except (personality_mod.PersonalityError, ValueError, OSError) as err:
        print(f"xbee-sim: {err}", file=sys.stderr)
        return 2

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stats_path = Path(args.stats) if args.stats else None
    dump_now = threading.Event()
    if stats_path is not None:
        signal.signal(signal.SIGUSR1, lambda *_: dump_now.set())
    server = SimServer(modem, world, time_scale=args.time_scale, nvm_path=args.nvm)
    if args.sms_log:
        server.sms = SmsOutbox(args.sms_log)
    try:
        if args.pty:
            print(server.start_pty(args.link), flush=True)
        if args.tcp:
            _warn_if_public("--tcp", args.tcp[0])
            print("socket://{}:{}".format(*server.start_tcp(*args.tcp)), flush=True)
        if args.rfc2217:
            _warn_if_public("--rfc2217", args.rfc2217[0])
            print("rfc2217://{}:{}".format(*server.start_rfc2217(*args.rfc2217)), flush=True)
    except OSError as err:
        print(f"xbee-sim: {err.strerror or err}", file=sys.stderr)
        server.stop()
        return 2
    next_dump = time.monotonic()
    try:
        while not stop.wait(0.2):
            if server.error is not None:
                print(f"xbee-sim: stopped: {server.failure}", file=sys.stderr)
                return 1
            if stats_path is not None and (dump_now.is_set() or time.monotonic() >= next_dump):
                dump_now.clear()
                next_dump = time.monotonic() + STATS_INTERVAL
                _try_write_stats(server, stats_path)
    finally:
        server.stop()
        if stats_path is not None:
            _try_write_stats(server, stats_path)
    return 0


def time_scale(text: str) -> float | None:
    """An --time-scale value, or None when it is not a finite number > 0 (nan, inf, 0 …:
    a nan scale made every deadline nan and the loop spin)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _warn_if_public(option: str, host: str) -> None:
    """One line when a port is served beyond this host: whoever reaches it drives the
    simulated module, and through it the simulated network's routes."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        print(f"xbee-sim: warning: {option} {host} is not a loopback address: anyone who "
              "reaches it drives the simulated module and its routes", file=sys.stderr,
              flush=True)


def _try_write_stats(server: SimServer, path: Path) -> None:
    try:
        write_stats(server, path)
    except OSError as err:
        print(f"xbee-sim: --stats {path}: {err.strerror or err}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
