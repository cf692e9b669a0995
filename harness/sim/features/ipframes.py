"""API-mode IP frames: 0x20 TX Request IPv4 and 0x23 TX Request with TLS Profile → 0x89,
incoming data as 0xB0 (reference §2.6–§2.9).

Sockets are implicit (D-20): a frame with source port 0 uses an open socket to the same
destination or opens one; a non-zero source port must name an existing TCP/TLS socket
(else 0x89 0x77) or, for UDP, is the local port the datagram leaves from. A frame is
answered with 0x89 once its data is handed to the network (D-XS: "report acceptance of the
data for transmit"), or with the personality's TX status for the failure. Option bit 1
closes a TCP/TLS socket after the send (D-20, L-C `XBEE_IPV4_TX_OPT_TCP_CLOSE`).

A UDP frame's non-zero source port must be C0 (the socket "created by C0", which "allows
unlimited destinations", D-SOCKLIM-147) or the port of an open UDP socket; otherwise 0x89
0x78 "Invalid UDP port" (D-20: "If there is no matching socket, the TX Status frame returns
an error"; A-IPF-UDP-SRCPORT). A socket holds at most the personality's `pending_tx`
requests waiting to be sent; one more gets 0x89 0x32 (D-SOCKLIM-147; A-IPF-PENDING-TX).

Incoming (D-SOCKLIM-147 "Enable incoming TCP sockets in API mode", D-APIBEH): in API mode,
registered, the module listens on C0: with IP=1 it accepts TCP clients, each a socket whose
data comes out as 0xB0 (destination port C0) and which a 0x20 with source port C0 answers;
with IP=0 datagrams to C0 come out as 0xB0. No TLS listener (D-APIBEH). The listener itself
is neither counted nor listed by ATSI (A-IPF-C0-LISTEN); an accepted client is both.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.sim.core import tlsfiles
from harness.sim.core.effects import (
    ClientAccepted,
    CloseConnection,
    ConnectionClosed,
    ConnectionFailed,
    ConnectionOpened,
    DataReceived,
    Event,
    Failure,
    Listen,
    OpenConnection,
    Protocol,
    SendData,
    TlsSettings,
)
from harness.sim.core.feature import AtReply, Feature
from harness.sim.features import socketinfo
from harness.xbee import api, codes
from harness.xbee.codes import TxStatus

log = logging.getLogger(__name__)

# 0x89 statuses this feature decides itself (D-89); failures of the network come from the
# personality's `codes:` block instead.
TX_SUCCESS = TxStatus.SUCCESS  # D-89
TX_NOT_REGISTERED = TxStatus.NOT_JOINED_NETWORK  # D-89 "Not registered to cell network"
TX_INVALID_FRAME_VALUES = TxStatus.INVALID_ENDPOINT  # for a bad protocol: A-IPF-PROTO
TX_RESOURCE = TxStatus.RESOURCE_ERROR  # D-89, D-SOCKLIM: out of sockets
TX_TOO_LONG = TxStatus.PAYLOAD_TOO_LARGE  # D-89 "Message too long"
TX_NO_CONNECTION = TxStatus.IP_PORT_NOT_EXIST  # source port set, no such TCP connection
TX_INVALID_UDP_PORT = TxStatus.UDP_SRC_PORT_NOT_MATCH_LISTENING_PORT  # D-89
TX_INVALID_TCP_PORT = TxStatus.TCP_SRC_PORT_NOT_MATCH_LISTENING_PORT  # D-89
TX_INVALID_HOST = TxStatus.INVALID_IP_ADDRESS  # D-89 "Invalid host address"
TX_INVALID_TLS = TxStatus.INVALID_TLS_CONFIGURATION  # L-PY: 0x23 names no profile

MAX_PAYLOAD = 1500  # D-20 "may be up to 1500 bytes", L-C XBEE_IPV4_MAX_PAYLOAD
MAX_UDP_PAYLOAD = 512  # D-20 "UDP is limited to 512 bytes" (LTE-M/NB-IoT guide)
RX_CHUNK = 1500  # D-B0: payload "max 1500 bytes"
OPT_CLOSE = 0x02  # D-20 bit 1: terminate the TCP socket after the transmission
PROFILES = 3  # D-23: 0→$0, 1→$1, 2→$2
TM_UNIT_S = 0.1  # TM ×100 ms (L-MS); 0 = never (A-TRANSP-TM0); TS the same for servers
LISTEN_IP = {0: Protocol.UDP, 1: Protocol.TCP}  # IP=4: no incoming TLS (D-APIBEH)
PROTOCOLS = codes.IP_PROTOCOLS  # D-20 protocol byte


def sockets_in_use(modem: Any) -> Counter[Protocol]:
    """Sockets held by every IP feature of the module, by protocol (one pool: D-SOCKNUM)."""
    total: Counter[Protocol] = Counter()
    for name in ("transparent", "ip_frames", "extended_sockets"):
        feature = modem.feature(name)
        counter = getattr(feature, "sockets_in_use", None)
        if counter is not None:
            total.update(counter())
    return total


def socket_available(modem: Any, protocol: Protocol) -> bool:
    """Room for one more socket of `protocol` within the personality's limits (D-SOCKNUM)."""
    limits = modem.personality.sockets
    used = sockets_in_use(modem)
    per = {Protocol.UDP: limits.max_udp, Protocol.TCP: limits.max_tcp, Protocol.TLS: limits.max_tls}
    return sum(used.values()) < limits.max_total and used[protocol] < per[protocol]


@dataclass
class _Pending:
    frame_id: int
    payload: bytes
    close_after: bool
    dest: tuple[str, int] | None = None


@dataclass
class _Socket:
    conn_id: int
    protocol: Protocol
    dest: tuple[str, int]  # (dotted quad, port); for a UDP socket, the first destination
    local_port: int = 0  # the source port the host named (TCP/TLS: the bound one once open)
    bound_port: int = 0  # the local port 0xB0 reports as its destination port
    state: str = "opening"  # opening, open
    wire_protocol: int = 1  # the protocol byte 0xB0 reports (0 UDP, 1 TCP, 4 TLS)
    profile: int = 0  # TLS profile the socket was made with (0 for UDP/TCP)
    pending: list[_Pending] = field(default_factory=list)
    idle_due: float | None = None
    tls: TlsSettings | None = None  # the profile it was made with (A-TLS-REUSE)
    sid: int = 0  # its ATSI ID (socketinfo.free_id)
    server: bool = False  # accepted on the C0 listener: TS, not TM, closes it when idle
    listener: bool = False  # the C0 UDP socket of IP=0: not counted, not listed


@dataclass
class _Listener:
    conn_id: int
    protocol: Protocol
    port: int


class IpFrames(Feature):
    """0x20 / 0x23 with implicit sockets, 0x89 statuses and 0xB0 receive frames."""

    name = "ip_frames"
    frame_types = (0x20, 0x23)

    def __init__(self) -> None:
        self._sockets: dict[int, _Socket] = {}
        self._listener: _Listener | None = None

    # ----- frames ------------------------------------------------------------------------

    def on_frame(self, frame: Any, now: float) -> None:
        if isinstance(frame, api.TXRequestIPv4):
            protocol = PROTOCOLS.get(frame.protocol)
            if protocol is None:
                self._status(frame.frame_id, TX_INVALID_FRAME_VALUES)  # A-IPF-PROTO
                return
            self._request(frame, protocol, profile=0, wire=frame.protocol, now=now)
        elif isinstance(frame, api.TXRequestTLSProfile):
            if frame.tls_profile >= PROFILES:
                self._status(frame.frame_id, TX_INVALID_TLS)  # L-PY INVALID_TLS_CONFIGURATION
                return
            self._request(frame, Protocol.TLS, profile=frame.tls_profile, wire=4, now=now)
        else:
            log.info("IP frame dropped: %s", getattr(frame, "error", frame))

    def _request(
        self, frame: Any, protocol: Protocol, *, profile: int, wire: int, now: float
    ) -> None:
        fid = frame.frame_id
        payload = bytes(frame.payload)
        limit = MAX_UDP_PAYLOAD if protocol is Protocol.UDP else MAX_PAYLOAD
        if len(payload) > limit:
            self._status(fid, TX_TOO_LONG)  # D-20 payload limits
            return
        if not self.modem.registered:
            self._status(fid, self.modem.code_for(Failure.NOT_REGISTERED, "tx_status"))
            return
        if frame.dest_port == 0:
            self._status(
                fid, TX_INVALID_UDP_PORT if protocol is Protocol.UDP else TX_INVALID_TCP_PORT
            )
            return
        addr = ipaddress.IPv4Address(frame.dest_addr)
        broadcast = addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255")
        if addr.is_unspecified or (broadcast and protocol is not Protocol.UDP):
            self._status(fid, TX_INVALID_HOST)  # D-89 0x7A "Invalid host address"
            return
        dest = (str(addr), frame.dest_port)
        close_after = bool(frame.options & OPT_CLOSE) and protocol is not Protocol.UDP
        pending = _Pending(fid, payload, close_after, dest)
        sock = self._find(protocol, dest, frame.src_port, profile)
        if sock is not None and not frame.src_port and not self._profile_current(sock):
            log.info("IP socket %s:%d: $%d or its files changed: a new connection "
                     "(A-TLS-REUSE)", *sock.dest, profile)
            self.modem.emit(CloseConnection(sock.conn_id))
            self._drop(sock, Failure.CLOSED_BY_HOST, "TLS profile changed")
            sock = None
        if sock is None and frame.src_port and protocol is not Protocol.UDP:
            self._status(fid, TX_NO_CONNECTION)  # D-20: non-zero source port must match
            return
        if sock is None and frame.src_port and frame.src_port != int(self.modem.param("C0")):
            self._status(fid, TX_INVALID_UDP_PORT)  # D-20 no matching socket: A-IPF-UDP-SRCPORT
            return
        if sock is None:
            sock = self._open(protocol, dest, frame.src_port, profile, wire, fid)
            if sock is None:
                return
        if sock.state == "open":
            self._transmit(sock, pending, now)
        elif len(sock.pending) >= self._pending_limit():
            self._status(fid, TX_RESOURCE)  # D-SOCKLIM-147: too many pending TX requests
        else:
            sock.pending.append(pending)

    def _pending_limit(self) -> int:
        """TX requests one socket may hold unsent (personality `sockets.pending_tx`)."""
        row = self.modem.personality.sockets.pending_tx
        return int(row.value) if row is not None else 1 << 30

    def _find(
        self, protocol: Protocol, dest: tuple[str, int], src_port: int, profile: int
    ) -> _Socket | None:
        for sock in self._sockets.values():
            if sock.protocol is not protocol or sock.profile != profile:
                continue  # a TLS socket is made with one profile (A-IPF-PROFILE-SOCKET)
            if protocol is Protocol.UDP:
                # UDP: the socket is the local port; it sends anywhere (D-APIBEH)
                if src_port and sock.local_port == src_port:
                    return sock
                if not src_port and sock.local_port == 0 and sock.dest == dest:
                    return sock
            elif sock.dest == dest and (not src_port or sock.local_port == src_port):
                return sock
        return None

    def _open(
        self,
        protocol: Protocol,
        dest: tuple[str, int],
        src_port: int,
        profile: int,
        wire: int,
        fid: int,
    ) -> _Socket | None:
        tls = None
        if protocol is Protocol.TLS:
            try:
                tls = tlsfiles.load_profile(
                    self.modem.flash,
                    profile,
                    str(self.modem.param(f"${profile}")),
                    int(self.modem.param("TL")),
                )  # D-20: protocol 4 uses $0; D-23: the frame's profile
            except tlsfiles.TlsConfigError as exc:
                log.info("0x%02X frame %d: %s", 0x20 if wire != 4 else 0x23, fid, exc.detail)
                self._status(fid, self.modem.code_for(exc.failure, "tx_status"))
                return None
        sid = socketinfo.free_id(self.modem)
        if not socket_available(self.modem, protocol) or sid is None:
            self._status(fid, TX_RESOURCE)  # D-SOCKLIM: 0x32 when out of sockets
            return None
        conn_id = self.modem.new_conn_id()
        sock = _Socket(conn_id, protocol, dest, src_port, wire_protocol=wire, profile=profile,
                       tls=tls, sid=sid)
        self._sockets[conn_id] = sock
        self.modem.emit(
            OpenConnection(conn_id, protocol, dest[0], dest[1], local_port=src_port, tls=tls)
        )
        return sock

    def _profile_current(self, sock: _Socket) -> bool:
        return tlsfiles.still_current(
            self.modem.flash, sock.tls, str(self.modem.param(f"${sock.profile}")),
            int(self.modem.param("TL")),
        )

    def _transmit(self, sock: _Socket, pending: _Pending, now: float) -> None:
        dest = pending.dest if sock.protocol is Protocol.UDP else None
        self.modem.emit(SendData(sock.conn_id, pending.payload, dest=dest))
        self._status(pending.frame_id, TX_SUCCESS)
        self._touch(sock, now)
        if pending.close_after:
            self.modem.emit(CloseConnection(sock.conn_id))
            self._sockets.pop(sock.conn_id, None)

    def _status(self, frame_id: int, status: int) -> None:
        if frame_id:  # D-20: frame ID 0 disables the TX Status frame
            self.modem.send_frame(api.TXStatus(frame_id, status))

    # ----- network -----------------------------------------------------------------------

    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, ClientAccepted):
            self._accepted(event, now)
            return
        listener = self._listener
        if listener is not None and event.conn_id == listener.conn_id and not isinstance(
            event, DataReceived | ConnectionOpened
        ):
            log.info("C0 listener on port %d ended: %s", listener.port, event)
            self._listener = None
            self._sockets.pop(event.conn_id, None)
            return
        sock = self._sockets.get(event.conn_id)
        if sock is None:
            return
        if isinstance(event, ConnectionOpened):
            sock.state = "open"
            sock.bound_port = sock.local_port or event.local_port
            if sock.protocol is not Protocol.UDP:
                sock.local_port = sock.bound_port  # a reply may name it as source port (D-APIBEH)
            pending, sock.pending = sock.pending, []
            for item in pending:
                if sock.conn_id not in self._sockets:
                    self._status(
                        item.frame_id, self.modem.code_for(Failure.CLOSED_BY_HOST, "tx_status")
                    )
                    continue
                self._transmit(sock, item, now)
        elif isinstance(event, ConnectionFailed):
            self._drop(sock, event.failure, event.detail)
        elif isinstance(event, DataReceived):
            self._touch(sock, now)
            src = event.source or sock.dest
            local = sock.bound_port
            data = event.data
            for i in range(0, len(data), RX_CHUNK):  # D-B0: payload max 1500 bytes
                self.modem.send_frame(
                    api.RXIPv4(src[0], local, src[1], sock.wire_protocol, 0, data[i : i + RX_CHUNK])
                )
        elif isinstance(event, ConnectionClosed):
            self._drop(sock, event.failure, event.detail)

    def _drop(self, sock: _Socket, failure: Failure, detail: str) -> None:
        log.info("IP socket %s:%d %s: %s", *sock.dest, failure.value, detail)
        self._sockets.pop(sock.conn_id, None)
        code = self.modem.code_for(failure, "tx_status")
        for item in sock.pending:
            self._status(item.frame_id, code)
        sock.pending = []

    def _touch(self, sock: _Socket, now: float) -> None:
        if sock.protocol is Protocol.UDP:
            return
        # D-20: "closed by TM timeout"; an incoming one by TS (D-SOCKLIM-147, D-APIBEH)
        tm = int(self.modem.param("TS" if sock.server else "TM"))
        sock.idle_due = now + tm * TM_UNIT_S if tm else None

    # ----- incoming on C0 (D-SOCKLIM-147, D-APIBEH) ----------------------------------------

    def _accepted(self, event: ClientAccepted, now: float) -> None:
        listener = self._listener
        sid = socketinfo.free_id(self.modem)
        if (listener is None or event.listener_id != listener.conn_id or sid is None
                or not socket_available(self.modem, Protocol.TCP)):
            # "up to the limit of the maximum number of sockets" (D-SOCKLIM-147)
            self.modem.emit(CloseConnection(event.conn_id))
            return
        sock = _Socket(event.conn_id, Protocol.TCP, event.remote, listener.port,
                       bound_port=listener.port, state="open", wire_protocol=1, sid=sid,
                       server=True)
        self._sockets[event.conn_id] = sock
        self._touch(sock, now)
        log.info("C0 listener: client %s:%d accepted as socket %d", *event.remote, sid)

    def _wanted_listener(self) -> tuple[Protocol, int] | None:
        port = int(self.modem.param("C0"))
        protocol = LISTEN_IP.get(int(self.modem.param("IP")))
        if protocol is None or not (self.modem.api_mode and self.modem.registered and port):
            return None
        return protocol, port

    def _sync_listener(self) -> None:
        """Listen on C0 while API mode, registration, C0 and IP say so; else stop."""
        wanted = self._wanted_listener()
        current = self._listener
        if current is not None and (current.protocol, current.port) == wanted:
            return
        if current is not None:
            self.modem.emit(CloseConnection(current.conn_id))
            self._sockets.pop(current.conn_id, None)
            self._listener = None
        if wanted is None:
            return
        protocol, port = wanted
        conn_id = self.modem.new_conn_id()
        self._listener = _Listener(conn_id, protocol, port)
        if protocol is Protocol.UDP:  # the C0 socket: datagrams to C0 as 0xB0, replies from it
            self._sockets[conn_id] = _Socket(conn_id, protocol, ("0.0.0.0", 0), port,
                                             bound_port=port, wire_protocol=0, listener=True)
        self.modem.emit(Listen(conn_id, protocol, port))

    def on_params_applied(self, changed: set[str], now: float) -> None:
        if changed & {"C0", "IP", "AP"}:
            self._sync_listener()

    # ----- lifecycle ---------------------------------------------------------------------

    def tick(self, now: float) -> None:
        for sock in list(self._sockets.values()):
            if sock.idle_due is not None and sock.idle_due <= now and sock.state == "open":
                log.info("IP socket %s:%d idle for TM: closing", *sock.dest)
                self.modem.emit(CloseConnection(sock.conn_id))
                self._sockets.pop(sock.conn_id, None)

    def next_deadline(self) -> float | None:
        due = [s.idle_due for s in self._sockets.values() if s.idle_due is not None]
        return min(due) if due else None

    def on_registration(self, registered: bool, now: float) -> None:
        if registered:
            self._sync_listener()
            return
        for sock in list(self._sockets.values()):
            self.modem.emit(CloseConnection(sock.conn_id))
            self._drop(sock, Failure.NOT_REGISTERED, "registration lost")
        if self._listener is not None:
            self.modem.emit(CloseConnection(self._listener.conn_id))
            self._listener = None

    def on_reset(self) -> None:
        self._sockets.clear()
        self._listener = None

    def sockets_in_use(self) -> Counter[Protocol]:
        return Counter(s.protocol for s in self._sockets.values() if not s.listener)

    def socket_rows(self) -> list[socketinfo.SocketRow]:
        """ATSI rows: implicit sockets, marked "*" (D-SI)."""
        return [
            socketinfo.SocketRow(  # LOCAL_PORT "is 0 unless ... explicitly bound" (D-SI)
                s.sid, s.state, s.protocol,
                s.local_port if s.server or s.protocol is Protocol.UDP else 0,
                s.dest, implicit=True)
            for s in self._sockets.values() if not s.listener
        ]

    # ----- ATSI --------------------------------------------------------------------------

    at_commands = ("SI",)

    def on_at(self, command: str, param: bytes | None, *, api: bool, now: float) -> AtReply:
        """`ATSI` / `ATSI<id>` for every socket of the module (D-SI; harness.sim.features.
        socketinfo)."""
        return socketinfo.answer(self.modem, param, api=api)
