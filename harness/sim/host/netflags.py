"""`xbee-sim`'s network flags (--host, --route, --latency …) over a config file's block."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from harness.sim.host.netconfig import NetworkConfig, NetworkConfigError, ipv4, parse_route


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The network's options for `xbee-sim` (`harness.sim.cli` calls this once)."""
    g = parser.add_argument_group("simulated network")
    g.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME=IP",
        type=_host_arg,
        help="DNS entry of the simulated network (repeatable), e.g. google.com=142.250.72.14",
    )
    g.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="IP[:PORT]=HOST:PORT",
        type=_route_arg,
        help="where a simulated address really goes (repeatable), e.g. "
        "142.250.72.14:443=127.0.0.1:8443",
    )
    g.add_argument("--latency", type=float, metavar="SECONDS", help="network round-trip time")
    g.add_argument(
        "--tls-handshake-time", type=float, metavar="SECONDS", help="added per TLS handshake"
    )
    g.add_argument(
        "--no-route-timeout",
        type=float,
        metavar="SECONDS",
        help="connect to an unrouted address fails after",
    )
    g.add_argument(
        "--loopback-direct",
        action="store_true",
        default=None,
        help="let 127.0.0.0/8 reach this host's loopback without a route (off: routes are "
        "the only way out; the host's local services are out of reach)",
    )


def _host_arg(text: str) -> tuple[str, str]:
    name, sep, ip = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--host {text!r}: expected NAME=IP")
    try:
        return name.strip(), ipv4(ip, f"--host {name}")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _route_arg(text: str) -> tuple[str, str]:
    key, sep, target = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--route {text!r}: expected IP[:PORT]=HOST:PORT")
    try:
        parse_route(key, target)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--route {text!r}: {exc}") from None
    return key.strip(), target.strip()


def config_from_args(args: argparse.Namespace, base: NetworkConfig | None = None) -> NetworkConfig:
    """Command-line options over a config file's block (the command line wins)."""
    data = (base or NetworkConfig()).model_dump()
    data["hosts"].update(dict(getattr(args, "host", []) or []))
    data["routes"].update(dict(getattr(args, "route", []) or []))
    for name in ("latency", "tls_handshake_time", "no_route_timeout", "loopback_direct"):
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    try:
        return NetworkConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise NetworkConfigError(
            f"command line: {'.'.join(map(str, err['loc']))}: {err['msg']}"
        ) from None
