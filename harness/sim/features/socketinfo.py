"""`ATSI` (Socket Info, D-SI): one socket ID space for the whole module, and its two answers.

D-SI: `SI` with no parameter lists the IDs of the open sockets in hex, ascending, each
followed by CR, then one more CR; an asterisk follows the ID of a socket that is not an
Extended API socket (one made implicitly by the 0x20 IPv4 TX frames; the guide's example:
`0x00*`, `0x01`, `0x02`). `SI<id>` answers ID, STATE, PROTOCOL, LOCAL_PORT, REMOTE_PORT,
REMOTE_ADDRESS, each followed by CR, then one more CR; "In both API and command mode the
payload (output) will have the following format". LOCAL_PORT "is 0 unless the socket is
explicitly bound to a port"; REMOTE_ADDRESS "is 0.0.0.0 for an unconnected socket".

The guide's STATE and PROTOCOL value lists were not readable in the copies we have; the
words come from xbee-python's `SocketInfoState` / `IPProtocol` descriptions, which parse this
very text (L-PY), and the numbers are written as `0x..` hex (A-SI-FORMAT).

Every IP feature (transparent, 0x20/0x23, extended sockets) reports its sockets as
`SocketRow`s through `socket_rows()`, and takes a new socket's ID from `free_id`, so
implicit and extended sockets never share an ID (the guide's example lists both kinds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.sim.core.effects import Protocol
from harness.sim.core.feature import ERROR, AtReply

FEATURES = ("transparent", "ip_frames", "extended_sockets")
MAX_ID = 0xFE  # D-SI parameter range 0x00 - 0xFE; L-C: 0xFF never names a socket

# L-PY SocketInfoState descriptions (the words xbee-python's get_socket_info matches).
STATES = {
    "new": "Allocated",
    "opening": "Connecting",
    "connecting": "Connecting",
    "open": "Connected",
    "connected": "Connected",
    "listening": "Listening",
    "bound": "Bound",
    "closing": "Closing",
}
# L-PY IPProtocol descriptions.
PROTOCOL_NAMES = {Protocol.UDP: "UDP", Protocol.TCP: "TCP", Protocol.TLS: "TLS"}


@dataclass(frozen=True, slots=True)
class SocketRow:
    """What `SI<id>` says of one socket."""

    sid: int
    state: str  # a key of STATES
    protocol: Protocol
    local_port: int = 0  # 0 unless bound (D-SI)
    remote: tuple[str, int] = ("0.0.0.0", 0)  # 0.0.0.0 for an unconnected socket (D-SI)
    implicit: bool = False  # made by 0x20/0x23 or transparent mode: listed with "*" (D-SI)


def rows(modem: Any) -> list[SocketRow]:
    """Every open socket of the module, in ID order."""
    found: list[SocketRow] = []
    for name in FEATURES:
        feature = modem.feature(name)
        found += getattr(feature, "socket_rows", list)()
    return sorted(found, key=lambda r: r.sid)


def free_id(modem: Any) -> int | None:
    """The lowest socket ID no socket of the module holds, or None when all are taken."""
    used = {r.sid for r in rows(modem)}
    return next((i for i in range(MAX_ID + 1) if i not in used), None)


def answer(modem: Any, param: bytes | None, *, api: bool) -> AtReply:
    """`ATSI` / `ATSI<id>`: the text is the same in both modes (D-SI); in API mode it is the
    0x88 value, in command mode it is printed line by line. An ID no socket holds: ERROR."""
    if not param:
        lines = [f"0x{r.sid:02X}{'*' if r.implicit else ''}" for r in rows(modem)]
    else:
        sid = _parse_id(param, api=api)
        row = next((r for r in rows(modem) if r.sid == sid), None)
        if row is None:
            return ERROR
        lines = [
            f"0x{row.sid:02X}",
            STATES.get(row.state, "Unknown"),
            PROTOCOL_NAMES[row.protocol],
            f"0x{row.local_port:X}",
            f"0x{row.remote[1]:X}",
            row.remote[0],
        ]
    text = (*lines, "")
    return AtReply(value="".join(f"{x}\r" for x in text).encode(), lines=text)


def _parse_id(param: bytes, *, api: bool) -> int | None:
    """API: the ID as binary (D-SI note: parameters as binary); command mode: hex text."""
    if api:
        return int.from_bytes(param, "big") if len(param) <= 2 else None
    try:
        return int(param.decode("ascii").strip(), 16)
    except (UnicodeDecodeError, ValueError):
        return None
