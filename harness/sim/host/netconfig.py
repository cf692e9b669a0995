"""The simulated network's configuration: DNS names, routes, timing, and its YAML loading.

`NetworkConfig` is what `Network` (the selector world in `network`) runs from; `load_config`
reads the `network:` block of a YAML file, errors naming the file, line and key. The
command-line flags that override it are in `netflags`.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from harness import yamlmarks

# How long a connect to an address with no route takes to fail. The real module's TCP
# connect timeout is not in the reference (CI 0x24 "No server - timed out on connection",
# D-CI): ASSUMPTION A-NET-NOROUTE, one place to change (or `no_route_timeout` in config).
DEFAULT_NO_ROUTE_TIMEOUT = 5.0
DEFAULT_CONNECT_TIMEOUT = 10.0  # a routed server that accepts but never finishes TLS

class NetworkConfigError(ValueError):
    """A network config that cannot be used; the message names the file, line and key."""


def ipv4(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a dotted-quad IPv4 address") from None


def _port(text: str, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"{what} port {text!r} is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{what} port {port} is not in 1..65535")
    return port


def parse_route(key: str, target: str) -> tuple[tuple[str, int | None], tuple[str, int]]:
    """`"IP[:PORT]"`, `"HOST:PORT"` → ((ip, port or None), (host, port)). ValueError if bad."""
    ip_text, _, port_text = key.strip().partition(":")
    ip = ipv4(ip_text, "route source")
    port = _port(port_text, "route source") if port_text else None
    host, sep, tport = target.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"route target {target!r} must be HOST:PORT")
    return (ip, port), (host, _port(tport, "route target"))


def _check_ip(value: str) -> str:
    return ipv4(str(value), "address")


def _check_route_key(value: str) -> str:
    parse_route(str(value), "127.0.0.1:1")
    return str(value)


def _check_route_target(value: str) -> str:
    parse_route("127.0.0.1", str(value))
    return str(value)


HostIp = Annotated[str, BeforeValidator(str), AfterValidator(_check_ip)]
RouteKey = Annotated[str, BeforeValidator(str), AfterValidator(_check_route_key)]
RouteTarget = Annotated[str, BeforeValidator(str), AfterValidator(_check_route_target)]


class NetworkConfig(BaseModel):
    """The `network:` block of `xbee-sim --config FILE` (all keys optional)."""

    model_config = ConfigDict(extra="forbid")

    hosts: dict[str, HostIp] = Field(default_factory=dict)  # DNS: name → IPv4
    routes: dict[RouteKey, RouteTarget] = Field(default_factory=dict)  # "IP[:PORT]" → "HOST:PORT"
    latency: float = Field(0.0, ge=0.0, le=30.0)  # round trip, seconds
    tls_handshake_time: float = Field(0.0, ge=0.0, le=60.0)  # on top of the real handshake
    no_route_timeout: float = Field(DEFAULT_NO_ROUTE_TIMEOUT, gt=0.0, le=600.0)
    connect_timeout: float = Field(DEFAULT_CONNECT_TIMEOUT, gt=0.0, le=600.0)
    # 127.0.0.0/8 reaches the host's real loopback without a route: off unless asked
    # (A-NET-ROUTES-ONLY), routes are the network's only way out
    loopback_direct: bool = False

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for name, ip in value.items():
            if not name or any(c.isspace() for c in name):
                raise ValueError(f"host name {name!r} is empty or has spaces")
            out[name.lower().rstrip(".")] = ip
        return out

    def route_table(self) -> dict[tuple[str, int | None], tuple[str, int]]:
        return dict(parse_route(k, v) for k, v in self.routes.items())


def load_config(path: str | Path, *, section: str = "network") -> NetworkConfig:
    """Read the `network:` block of a YAML config; errors name the file, line and key."""
    p = Path(path)
    try:  # no aliases, bounded nesting, NUL and non-UTF-8 named (A-YAML-SAFE)
        data, root = yamlmarks.read(p, syntax="not valid YAML")
    except yamlmarks.YamlInputError as exc:
        raise NetworkConfigError(str(exc)) from None
    if data is None:
        return NetworkConfig()
    if not isinstance(data, dict):
        raise NetworkConfigError(f"{p}:1: the config must be a mapping with a {section!r} key")
    block = data.get(section, {}) or {}
    node = _child(root, section)
    try:
        return NetworkConfig.model_validate(block)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(x) for x in err["loc"]]
        line = _line_of(node, loc) or (node.start_mark.line + 1 if node else 1)
        key = ".".join([section, *loc])
        raise NetworkConfigError(f"{p}:{line}: {key}: {err['msg']}") from None


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if str(k.value) == key:
                return v
    return None


def _line_of(node: Any, loc: list[str]) -> int | None:
    """1-based line of the key at `loc` inside a composed YAML node, best effort."""
    return yamlmarks.line_of(node, loc) if loc else None
