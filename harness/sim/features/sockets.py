"""Extended sockets: 0x40–0x46 from the host, 0xC0–0xC6 and 0xCC–0xCF back (reference §2.11).

"For use with XBee Cellular firmware versions ending in x15 or later" (L-C): a personality
lists `extended_sockets` only for such firmware. Sockets are explicit: create (0xC0 answers
whatever the frame ID), option 0x00 = TLS profile, connect (0xC2 at once, then 0xCF with
the outcome; a non-zero 0xCF closes the socket for good), send / sendto (0x89), bind/listen
(0xC6; accepted clients as 0xCC, data as 0xCD / 0xCE), close (0xC3). Socket IDs are never
0xFF but in a failed create (L-C); they share one space with the implicit sockets ATSI lists
(D-SI example: `0x00*`, `0x01`).

A peer's close after data is reported as 0xCF no sooner than the personality's
`close_after_data_s` after the last 0xCD (A-SIM-CLOSE-SPACING): a deadline of the Modem's
clock, so a warping clock skips it and a real one waits it.

0x89 for a 0x44 (or a 0x45 on a connected socket) reports "acceptance of the data for
transmit" (D-XS): at once while the network takes the data; while the peer takes no more
(its TCP window closed: `SendBacklog`), the data waits in the module and its 0x89 comes when
the network takes it again. A socket holds at most the personality's `pending_tx` such
requests; one more gets 0x89 0x32 (D-SOCKLIM-147; A-XS-PENDING-TX).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
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
    SendBacklog,
    SendData,
)
from harness.sim.core.feature import Feature
from harness.sim.features import socketinfo
from harness.sim.features.ipframes import MAX_PAYLOAD, socket_available
from harness.xbee import api, codes
from harness.xbee.codes import SocketStatus, TxStatus

log = logging.getLogger(__name__)

PROTOCOLS = codes.IP_PROTOCOLS  # D-C0-3G, L-C
NO_SOCKET = 0xFF  # L-C: socket ID 0xFF only in a failed create
ALL_SOCKETS = 0xFF  # D-43: close all extended API sockets
RX_CHUNK = 1500  # D-SF p.279: payload ≤ 1500

# Status values (L-C shared socket codes; D-SF per frame).
OK = SocketStatus.SUCCESS
INVALID_PARAMETERS = SocketStatus.INVALID_PARAM  # 0xC1, 0xC2 (address type), 0xC6 (invalid port)
FAILED = SocketStatus.FAILED_TO_READ  # 0xC1 read; 0xC2 address or port; 0xC6 error
IN_PROGRESS = SocketStatus.CONNECTION_IN_PROGRESS  # 0xC2; 0xC6 already bound or listening
ALREADY = SocketStatus.ALREADY_CONNECTED  # 0xC2 already connected
BAD_SOCKET = SocketStatus.BAD_SOCKET  # D-SF: invalid socket ID
NOT_REGISTERED = SocketStatus.NOT_REGISTERED  # D-SF p.267
RESOURCE = SocketStatus.RESOURCE_ERROR  # D-SF p.267, D-SOCKLIM
INVALID_PROTOCOL = SocketStatus.INVALID_PROTOCOL  # D-SF p.267
# 0x89 statuses for 0x44 / 0x45 (D-89).
TX_SUCCESS = TxStatus.SUCCESS
TX_CONNECTION_NOT_FOUND = TxStatus.CONNECTION_NOT_FOUND  # unknown socket ID
TX_TOO_LONG = TxStatus.PAYLOAD_TOO_LARGE
TX_NOT_CONNECTED = TxStatus.SOCKET_NOT_CONNECTED  # D-89 "Socket not connected"
TX_NOT_BOUND = TxStatus.SOCKET_NOT_BOUND  # D-SF p.275: sendto needs 0x46
TX_RESOURCE = TxStatus.RESOURCE_ERROR  # D-SOCKLIM-147: too many pending TX requests

OPTION_TLS_PROFILE = 0x00  # D-SF p.268 (byte, default 0, valid only for TLS sockets)
PROFILES = 3


@dataclass
class _Sock:
    sid: int
    protocol: Protocol
    conn_id: int | None = None
    state: str = "new"  # new, connecting, connected, bound, listening
    profile: int = 0
    remote: tuple[str, int] | None = None
    bound_port: int = 0
    last_data: float | None = None  # when its last 0xCD / 0xCE went out
    close_due: float | None = None  # a peer close held back until then (A-SIM-CLOSE-SPACING)
    close_failure: Failure | None = None
    backlog: bool = False  # the peer takes no more data for now (A-XS-PENDING-TX)
    waiting: list[tuple[int, bytes]] | None = None  # (frame ID, payload) held back


class ExtendedSockets(Feature):
    """The socket frames of x15-and-later firmware."""

    name = "extended_sockets"
    frame_types = (0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46)

    def __init__(self) -> None:
        self._socks: dict[int, _Sock] = {}
        self._by_conn: dict[int, _Sock] = {}

    # ----- frames ------------------------------------------------------------------------

    def on_frame(self, frame: Any, now: float) -> None:
        handlers: dict[type, Callable[[Any], None]] = {  # each takes its own frame class
            api.SocketCreate: self._create,
            api.SocketOption: self._option,
            api.SocketConnect: self._connect,
            api.SocketClose: self._close,
            api.SocketSend: self._send,
            api.SocketSendTo: self._sendto,
            api.SocketBindListen: self._bind,
        }
        handler = handlers.get(type(frame))
        if handler is None:
            log.info("socket frame dropped: %s", getattr(frame, "error", frame))
            return
        handler(frame)

    def _create(self, f: api.SocketCreate) -> None:
        def answer(sid: int, status: int) -> None:
            # D-C0-3G: "A response is required and will be sent regardless of the frame ID."
            self.modem.send_frame(api.SocketCreateResponse(f.frame_id, sid, status))

        protocol = PROTOCOLS.get(f.protocol)
        if protocol is None:
            answer(NO_SOCKET, INVALID_PROTOCOL)
        elif not self.modem.registered:
            answer(NO_SOCKET, NOT_REGISTERED)
        elif not socket_available(self.modem, protocol) or (
            sid := socketinfo.free_id(self.modem)
        ) is None:
            answer(NO_SOCKET, RESOURCE)  # D-SOCKLIM
        else:
            self._socks[sid] = _Sock(sid, protocol)
            answer(sid, OK)

    def _option(self, f: api.SocketOption) -> None:
        def answer(status: int, data: bytes = b"") -> None:
            if f.frame_id:  # D-SF p.268: frame ID 0 ⇒ no response
                self.modem.send_frame(
                    api.SocketOptionResponse(f.frame_id, f.socket_id, f.option_id, status, data)
                )

        sock = self._socks.get(f.socket_id)
        if sock is None:
            answer(BAD_SOCKET)
        elif f.option_id != OPTION_TLS_PROFILE or sock.protocol is not Protocol.TLS:
            answer(INVALID_PARAMETERS)  # "valid only for TLS sockets" (D-SF p.268)
        elif not f.option_data:
            answer(OK, bytes((sock.profile,)))  # a query
        elif len(f.option_data) != 1 or f.option_data[0] >= PROFILES:
            answer(INVALID_PARAMETERS)
        else:
            sock.profile = f.option_data[0]
            answer(OK)

    def _connect(self, f: api.SocketConnect) -> None:
        def answer(status: int) -> None:
            if f.frame_id:
                self.modem.send_frame(api.SocketConnectResponse(f.frame_id, f.socket_id, status))

        sock = self._socks.get(f.socket_id)
        if sock is None:
            answer(BAD_SOCKET)
            return
        if f.address_type not in (0, 1):
            answer(INVALID_PARAMETERS)  # D-SF p.271: invalid destination address type
            return
        if f.dest_port == 0 or not f.dest_addr.strip():
            answer(FAILED)  # D-SF p.271: invalid parameter (address or port)
            return
        if sock.state == "connecting":
            answer(IN_PROGRESS)
            return
        if sock.state in ("connected", "listening") or (sock.state == "bound" and sock.remote):
            answer(ALREADY)
            return
        tls = None
        if sock.protocol is Protocol.TLS:
            try:
                tls = tlsfiles.load_profile(
                    self.modem.flash,
                    sock.profile,
                    str(self.modem.param(f"${sock.profile}")),
                    int(self.modem.param("TL")),
                )
            except tlsfiles.TlsConfigError as exc:
                answer(OK)  # the connect starts; it fails as the socket's status (A-XS-TLSCONFIG)
                self._fatal(sock, exc.failure, exc.detail)
                return
        answer(OK)  # D-42-LTEM: 0xC2 at once, the outcome as 0xCF
        host = f.dest_addr.strip()
        sock.conn_id = self.modem.new_conn_id()
        sock.state = "connecting"
        sock.remote = (host, f.dest_port)
        self._by_conn[sock.conn_id] = sock
        self.modem.emit(
            OpenConnection(
                sock.conn_id, sock.protocol, host, f.dest_port, local_port=sock.bound_port, tls=tls
            )
        )

    def _close(self, f: api.SocketClose) -> None:
        def answer(sid: int, status: int) -> None:
            if f.frame_id:  # D-43: frame ID 0 ⇒ no response
                self.modem.send_frame(api.SocketCloseResponse(f.frame_id, sid, status))

        if f.socket_id == ALL_SOCKETS:
            for each in list(self._socks.values()):
                self._release(each)
            answer(ALL_SOCKETS, OK)
            return
        sock = self._socks.get(f.socket_id)
        if sock is None:
            answer(f.socket_id, BAD_SOCKET)
            return
        self._release(sock)
        answer(sock.sid, OK)

    def _send(self, f: api.SocketSend) -> None:
        sock = self._socks.get(f.socket_id)
        if sock is None:
            self._tx(f.frame_id, TX_CONNECTION_NOT_FOUND)
        elif len(f.payload) > MAX_PAYLOAD:
            self._tx(f.frame_id, TX_TOO_LONG)  # D-SF p.274: payload ≤ 1500
        elif sock.state != "connected":
            self._tx(f.frame_id, TX_NOT_CONNECTED)  # D-SF p.274: needs a successful connect
        else:
            self._stream(sock, f.frame_id, bytes(f.payload))

    def _stream(self, sock: _Sock, frame_id: int, payload: bytes) -> None:
        """Hand data to the network and acknowledge it, or hold it while the peer takes no
        more (A-XS-PENDING-TX)."""
        assert sock.conn_id is not None
        if not sock.backlog and not sock.waiting:
            self.modem.emit(SendData(sock.conn_id, payload))
            self._tx(frame_id, TX_SUCCESS)
        elif len(sock.waiting or ()) >= self._pending_limit():
            self._tx(frame_id, TX_RESOURCE)  # D-SOCKLIM-147: too many pending TX requests
        else:
            sock.waiting = [*(sock.waiting or ()), (frame_id, payload)]

    def _pending_limit(self) -> int:
        """TX requests one socket may hold unsent (personality `sockets.pending_tx`)."""
        row = self.modem.personality.sockets.pending_tx
        return int(row.value) if row is not None else 1 << 30

    def _release_waiting(self, sock: _Sock) -> None:
        """The peer takes data again: what waited goes out, each with its 0x89."""
        held, sock.waiting = sock.waiting or [], None
        assert sock.conn_id is not None
        for frame_id, payload in held:
            self.modem.emit(SendData(sock.conn_id, payload))
            self._tx(frame_id, TX_SUCCESS)

    def _fail_waiting(self, sock: _Sock, failure: Failure) -> None:
        held, sock.waiting = sock.waiting or [], None
        if held:
            code = self.modem.code_for(failure, "tx_status")
            for frame_id, _ in held:
                self._tx(frame_id, code)

    def _sendto(self, f: api.SocketSendTo) -> None:
        sock = self._socks.get(f.socket_id)
        if sock is None:
            self._tx(f.frame_id, TX_CONNECTION_NOT_FOUND)
            return
        if len(f.payload) > MAX_PAYLOAD:
            self._tx(f.frame_id, TX_TOO_LONG)
            return
        if sock.protocol is not Protocol.UDP or sock.remote is not None:
            # D-SF p.275: address and port ignored for TCP, SSL or connected UDP
            if sock.state != "connected":
                self._tx(f.frame_id, TX_NOT_CONNECTED)
            else:
                self._stream(sock, f.frame_id, bytes(f.payload))
            return
        elif sock.state != "bound":
            self._tx(f.frame_id, TX_NOT_BOUND)  # D-SF p.275: bind with 0x46 first
            return
        else:
            assert sock.conn_id is not None
            dest = (f.dest_addr, f.dest_port)
            self.modem.emit(SendData(sock.conn_id, bytes(f.payload), dest=dest))
        self._tx(f.frame_id, TX_SUCCESS)

    def _bind(self, f: api.SocketBindListen) -> None:
        def answer(status: int) -> None:
            if f.frame_id:
                self.modem.send_frame(api.SocketListenResponse(f.frame_id, f.socket_id, status))

        sock = self._socks.get(f.socket_id)
        if sock is None:
            answer(BAD_SOCKET)
        elif f.src_port == 0:
            answer(INVALID_PARAMETERS)  # D-SF p.277: invalid port
        elif sock.state != "new":
            answer(IN_PROGRESS)  # D-SF p.277: already bound or listening
        elif sock.protocol is Protocol.TLS:
            answer(FAILED)  # D-APIBEH: no TLS for incoming connections
        else:
            sock.conn_id = self.modem.new_conn_id()
            sock.state = "bound" if sock.protocol is Protocol.UDP else "listening"
            sock.bound_port = f.src_port
            self._by_conn[sock.conn_id] = sock
            self.modem.emit(Listen(sock.conn_id, sock.protocol, f.src_port))
            answer(OK)

    def _tx(self, frame_id: int, status: int) -> None:
        if frame_id:  # D-SF p.274: frame ID 0 ⇒ no 0x89
            self.modem.send_frame(api.TXStatus(frame_id, status))

    # ----- network -----------------------------------------------------------------------

    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, ClientAccepted):
            self._accepted(event)
            return
        sock = self._by_conn.get(event.conn_id)
        if sock is None:
            return
        if isinstance(event, ConnectionOpened):
            if sock.state == "connecting":
                sock.state = "connected"
                sock.remote = event.remote  # the address DNS gave (ATSI's REMOTE_ADDRESS)
                self.modem.send_frame(api.SocketStatus(sock.sid, OK))  # D-SF p.281
        elif isinstance(event, ConnectionFailed):
            self._fatal(sock, event.failure, event.detail)
        elif isinstance(event, SendBacklog):
            sock.backlog = event.waiting
            if not event.waiting:
                self._release_waiting(sock)
        elif isinstance(event, DataReceived):
            self._received(sock, event)
            sock.last_data = now
        elif isinstance(event, ConnectionClosed):
            spacing = self.modem.personality.close_after_data_s
            if sock.last_data is not None and now < sock.last_data + spacing:
                sock.close_due = sock.last_data + spacing  # A-SIM-CLOSE-SPACING
                sock.close_failure = event.failure
                sock.state = "closing"
                return
            self._fatal(sock, event.failure, event.detail)

    def _accepted(self, event: ClientAccepted) -> None:
        listener = self._by_conn.get(event.listener_id)
        sid = socketinfo.free_id(self.modem)
        if listener is None or sid is None or not socket_available(self.modem, listener.protocol):
            self.modem.emit(CloseConnection(event.conn_id))
            return
        sock = _Sock(sid, listener.protocol, event.conn_id, "connected", remote=event.remote)
        self._socks[sock.sid] = sock
        self._by_conn[event.conn_id] = sock
        # D-SF p.278: Cat 1 presents the client only after it sends data; this feature is on
        # x15-and-later LTE-M firmware, which presents it at once.
        self.modem.send_frame(
            api.SocketNewIPv4Client(listener.sid, sock.sid, event.remote[0], event.remote[1])
        )

    def _received(self, sock: _Sock, event: DataReceived) -> None:
        data = event.data
        for i in range(0, len(data), RX_CHUNK):
            chunk = data[i : i + RX_CHUNK]
            if sock.protocol is Protocol.UDP and sock.state == "bound" and event.source:
                src = event.source  # D-SF p.280: 0xCE for UDP sockets not connected
                self.modem.send_frame(api.SocketReceiveFrom(0, sock.sid, src[0], src[1], 0, chunk))
            else:
                self.modem.send_frame(api.SocketReceive(0, sock.sid, 0, chunk))  # D-SF p.279

    def _fatal(self, sock: _Sock, failure: Failure, detail: str) -> None:
        """D-SF p.281: any non-zero 0xCF closes the socket; its ID is invalid afterwards."""
        log.info("socket %d: %s (%s)", sock.sid, failure.value, detail)
        self._fail_waiting(sock, failure)
        self._forget(sock)
        self.modem.send_frame(
            api.SocketStatus(sock.sid, self.modem.code_for(failure, "socket_status"))
        )

    def _release(self, sock: _Sock) -> None:
        self._fail_waiting(sock, Failure.CLOSED_BY_HOST)
        if sock.conn_id is not None:
            self.modem.emit(CloseConnection(sock.conn_id))
        self._forget(sock)

    def _forget(self, sock: _Sock) -> None:
        self._socks.pop(sock.sid, None)
        if sock.conn_id is not None:
            self._by_conn.pop(sock.conn_id, None)

    # ----- lifecycle ---------------------------------------------------------------------

    def tick(self, now: float) -> None:
        for sock in list(self._socks.values()):
            if sock.close_due is not None and sock.close_due <= now:
                assert sock.close_failure is not None
                self._fatal(sock, sock.close_failure, "peer closed (reported after its data)")

    def next_deadline(self) -> float | None:
        due = [s.close_due for s in self._socks.values() if s.close_due is not None]
        return min(due) if due else None

    def on_registration(self, registered: bool, now: float) -> None:
        if registered:
            return
        for sock in list(self._socks.values()):
            if sock.conn_id is not None:
                self.modem.emit(CloseConnection(sock.conn_id))
                self._fatal(sock, Failure.NOT_REGISTERED, "registration lost")

    def on_reset(self) -> None:
        self._socks.clear()
        self._by_conn.clear()

    def sockets_in_use(self) -> Counter[Protocol]:
        return Counter(s.protocol for s in self._socks.values())

    def socket_rows(self) -> list[socketinfo.SocketRow]:
        """ATSI rows (D-SI): Extended API sockets, without "*"."""
        return [
            socketinfo.SocketRow(s.sid, s.state, s.protocol, s.bound_port,
                                 s.remote or ("0.0.0.0", 0))
            for s in self._socks.values()
        ]
