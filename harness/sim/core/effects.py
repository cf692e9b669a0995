"""What the pure `Modem` asks of the world, and what the world tells it back.

The Modem never does I/O. `Modem.feed`, `Modem.tick` and `Modem.handle` return a list of
effects; the server that hosts it (`sim.host.server`) carries them out with real sockets, a real
pty and a real clock, and reports outcomes back as events. Failures travel as `Failure`, a
reason, not a code: which CI / TX status / socket status a reason becomes is personality
data, because firmwares disagree (reference §3.4: 0x26 on Cat 1 3100C, 0x2F on LTE-M).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from harness.xbee.codes import IpProtocol
from harness.xbee.firmware import TlsLimits

Protocol = IpProtocol  # the effects' name for it (exported); one home: xbee.codes (D-20)


class Failure(enum.Enum):
    """Why a connection failed or ended; mapped to codes per personality (`codes:` block)."""

    NOT_REGISTERED = "not_registered"  # AI != 0 when the connection was asked for
    DNS_FAILED = "dns_failed"  # the host name is not in the simulated DNS
    NO_ROUTE = "no_route"  # address has no route: the server does not answer (times out)
    REFUSED = "refused"  # TCP RST on connect
    TIMEOUT = "timeout"  # connect did not complete in time
    TLS_CONFIG = "tls_config"  # profile names a missing/unreadable file, key not PKCS#1, …
    TLS_AUTH = "tls_auth"  # server certificate not trusted by the profile's CA
    TLS_HANDSHAKE = "tls_handshake"  # any other handshake failure (version, cipher, client cert)
    CLOSED_BY_PEER = "closed_by_peer"  # orderly close from the remote end
    RESET_BY_PEER = "reset_by_peer"  # RST after the connection was up
    INACTIVITY = "inactivity"  # TM / TS timeout
    CLOSED_BY_HOST = "closed_by_host"  # the host asked (0x43, IP/DL/DE change, TM write)


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """A resolved TLS profile: the files' bytes as the module would hand them to its TLS stack."""

    profile: int
    ca_pem: bytes | None
    cert_pem: bytes | None
    key_pem: bytes | None
    version: str | None = None  # "TLSv1.2", …; None = let both ends negotiate
    send_sni: bool = False  # reference §5.1: SNI not supported
    # the firmware family's TLS limits (ciphers, CN length, key formats…), set by the modem
    # when the connection is asked for; not part of the profile's identity (A-TLS-REUSE)
    limits: TlsLimits | None = field(default=None, compare=False)


# ----- effects: Modem → world -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToHost:
    """Bytes for the UART, in order."""

    data: bytes


@dataclass(frozen=True, slots=True)
class OpenConnection:
    """Open a connection. `host` is a dotted quad or a name for the simulated DNS."""

    conn_id: int
    protocol: Protocol
    host: str
    port: int
    local_port: int = 0
    tls: TlsSettings | None = None


@dataclass(frozen=True, slots=True)
class SendData:
    conn_id: int
    data: bytes
    dest: tuple[str, int] | None = None  # UDP sendto


@dataclass(frozen=True, slots=True)
class CloseConnection:
    conn_id: int


@dataclass(frozen=True, slots=True)
class Listen:
    """Bind (UDP) or listen (TCP) on a local port; new clients come back as `ClientAccepted`."""

    conn_id: int
    protocol: Protocol
    port: int


@dataclass(frozen=True, slots=True)
class Resolve:
    """Look a host name up in the simulated DNS (ATLA); the answer comes back as `Resolved`."""

    conn_id: int  # a request id from `new_conn_id`, so the answer finds its feature
    host: str


@dataclass(frozen=True, slots=True)
class SendSms:
    """An SMS the module sends (0x1F): the host hands it to its SMS sink (A-SMS-SINK)."""

    phone: str
    text: bytes


@dataclass(frozen=True, slots=True)
class Reset:
    """The module restarted (FR): the world drops every connection it holds for it."""


Effect = (
    ToHost | OpenConnection | SendData | CloseConnection | Listen | Resolve | SendSms | Reset
)


# ----- events: world → Modem --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionOpened:
    conn_id: int
    remote: tuple[str, int] = ("0.0.0.0", 0)
    local_port: int = 0


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    conn_id: int
    failure: Failure
    detail: str = ""  # human-readable, e.g. the ssl error text; goes to logs, never to the UART


@dataclass(frozen=True, slots=True)
class DataReceived:
    conn_id: int
    data: bytes
    source: tuple[str, int] | None = None  # UDP: who sent it


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    conn_id: int
    failure: Failure = Failure.CLOSED_BY_PEER
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ClientAccepted:
    listener_id: int
    conn_id: int
    remote: tuple[str, int] = field(default=("0.0.0.0", 0))


@dataclass(frozen=True, slots=True)
class SendBacklog:
    """The peer stopped taking a TCP/TLS connection's data (its window closed: the host's
    socket refused more), or took it all again; a module holds new data meanwhile
    (A-XS-PENDING-TX)."""

    conn_id: int
    waiting: bool


@dataclass(frozen=True, slots=True)
class Resolved:
    conn_id: int
    address: str | None  # dotted quad, or None when the name is unknown


Event = (
    Resolved
    | ConnectionOpened
    | ConnectionFailed
    | DataReceived
    | ConnectionClosed
    | ClientAccepted
    | SendBacklog
)
