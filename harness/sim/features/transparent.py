"""The transparent (AP=0) IP data path: serial bytes in, one socket to DL:DE, bytes out.

What the guide says the module does (reference §4, D-TRANSP): IP picks UDP/TCP/TLS and DL/DE
the destination; the connection is opened by the first serial data; received data goes out
the serial port (held while in command mode, D-ENTER: the core does that); CI reports 0 when
the connection was made and otherwise why it failed, with no in-band error (D-TRANSP); the
connection closes when the far end closes, after TM of silence, or when IP, DL or DE are
changed and applied; writing TM closes it even when unchanged (L-TG). TLS uses `$0` (D-TLS
p.101), whose files are read from /flash when the connection opens.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from harness.sim.core import tlsfiles
from harness.sim.core.effects import (
    CloseConnection,
    ConnectionClosed,
    ConnectionFailed,
    ConnectionOpened,
    DataReceived,
    Event,
    Failure,
    OpenConnection,
    Protocol,
    SendData,
    TlsSettings,
)
from harness.sim.core.feature import Feature
from harness.sim.features import socketinfo
from harness.xbee import at, codes
from harness.xbee.codes import CiStatus

log = logging.getLogger(__name__)

IP_PROTOCOLS = codes.IP_PROTOCOLS  # D-CI, D-20 (2 = SMS)
CI_OPEN = CiStatus.SOCKET_OPEN  # D-CI "The socket is open."
CI_INVALID_PARAMS = CiStatus.INVALID_PARAMETERS  # empty DL, port 0
CI_NO_STATUS = CiStatus.NO_KNOWN_STATUS  # D-CI "No known status."
NO_DESTINATION = "0.0.0.0"  # D-OD: no transparent connection

# Largest chunk sent as one packet (D-RO: "transmission also starts when the max packet size
# is buffered"). Sizes from the 0x20 payload limits (D-20: 1500, UDP 512); that transparent
# mode uses the same ones is ASSUMPTION A-TRANSP-PACKET.
MAX_PACKET = {Protocol.UDP: 512, Protocol.TCP: 1500, Protocol.TLS: 1500}
TM_UNIT_S = 0.1  # TM is in 100 ms units (L-MS "TM 64 = 10 s"); TM=0: never (A-TRANSP-TM0)
# Writes that close the transparent connection: IP/DL/DE when their value changes (D-TRANSP);
# TM whenever written (L-TG); AP when leaving transparent mode (A-TRANSP-AP).
CLOSE_ON_CHANGE = ("IP", "DL", "DE")
# The forum's claim that transparent TLS needs a client cert and key (F-HTTPS reply,
# UNVERIFIED; D-TLS says the opposite). With the personality quirk on, a profile without
# them fails as this reason, before connecting.
QUIRK = "transparent_tls_requires_client_cert"
QUIRK_FAILURE = Failure.TLS_CONFIG
# F-HTTPS reply 1: a transparent TLS failure that writes no CI code, so CI stays 0xFF. With
# this personality quirk on, the failures the firmware family lists in `ci_unwritten`
# (harness/xbee/firmware.py) leave CI at 0xFF (A-CI-TLS-FF).
CI_UNWRITTEN_QUIRK = "transparent_tls_failure_leaves_ci"


class Transparent(Feature):
    """One lazily opened connection per the transparent-mode rules; owns CI and OD."""

    name = "transparent"

    def __init__(self) -> None:
        self._conn: int | None = None
        self._state = "idle"  # idle, opening, open
        self._target: tuple[Any, Any, Any] | None = None  # (IP, DL, DE) it was opened with
        self._protocol = Protocol.TCP
        self._sid = 0  # its ATSI ID (socketinfo.free_id)
        self._buffer = bytearray()  # serial data not yet packetized
        self._buffer_due: float | None = None  # RO expiry
        self._waiting = bytearray()  # packets waiting for the connection to open
        self._idle_due: float | None = None  # TM expiry
        self._tls: TlsSettings | None = None  # the $0 it was opened with (A-TLS-REUSE)

    # ----- serial side -------------------------------------------------------------------

    def on_transparent_data(self, data: bytes, now: float) -> None:
        self._buffer += data
        protocol = IP_PROTOCOLS.get(int(self.modem.param("IP")), Protocol.TCP)
        ro = int(self.modem.param("RO"))
        if ro == 0 or len(self._buffer) >= MAX_PACKET[protocol]:
            self._packetize(now)  # D-RO: RO=0 sends as characters arrive; full packet sends
        else:
            self._buffer_due = now + ro * self._char_time()

    def _char_time(self) -> float:
        bd = int(self.modem.param("BD"))
        return at.BITS_PER_CHAR / at.baud_rate(bd)

    def _packetize(self, now: float) -> None:
        self._buffer_due = None
        while self._buffer:
            limit = MAX_PACKET[self._current_protocol()]
            packet = bytes(self._buffer[:limit])
            del self._buffer[:limit]
            self._send(packet, now)

    def _current_protocol(self) -> Protocol:
        if self._state != "idle":
            return self._protocol
        return IP_PROTOCOLS.get(int(self.modem.param("IP")), Protocol.TCP)

    def _send(self, packet: bytes, now: float) -> None:
        if self._state != "idle" and not self._profile_current():
            log.info("transparent: $0 or its files changed: a new connection (A-TLS-REUSE)")
            self._close(Failure.CLOSED_BY_HOST)
        if self._state == "open":
            assert self._conn is not None
            self.modem.emit(SendData(self._conn, packet))
            self._touch(now)
        elif self._state == "opening":
            self._waiting += packet
        else:
            self._waiting = bytearray(packet)
            self._open(now)

    # ----- opening -----------------------------------------------------------------------

    def _open(self, now: float) -> None:
        ip = int(self.modem.param("IP"))
        host = str(self.modem.param("DL") or "").strip()
        port = int(self.modem.param("DE"))
        protocol = IP_PROTOCOLS.get(ip)
        if protocol is None:
            log.info("transparent data dropped: IP=%d is not a socket protocol", ip)
            self._waiting.clear()
            return
        if not self.modem.registered:
            self._fail(Failure.NOT_REGISTERED, "not registered (AI != 0)")
            return
        if not host or port == 0:
            self._waiting.clear()
            self._set_ci(CI_INVALID_PARAMS)  # D-CI 0x02
            log.info("transparent: DL=%r DE=%d is no destination", host, port)
            return
        tls = None
        if protocol is Protocol.TLS:
            try:
                tls = tlsfiles.load_profile(
                    self.modem.flash, 0, str(self.modem.param("$0")), int(self.modem.param("TL"))
                )  # D-TLS p.101: transparent mode uses $0
            except tlsfiles.TlsConfigError as exc:
                self._fail(exc.failure, exc.detail)
                return
            if self.modem.personality.quirk(QUIRK, False) and not (tls.cert_pem and tls.key_pem):
                self._fail(QUIRK_FAILURE, f"quirk {QUIRK}: $0 has no client certificate and key")
                return
        if not _socket_free(self.modem, protocol):
            self._fail(Failure.TIMEOUT, "no free socket")  # A-TRANSP-NOSOCKET
            return
        self._conn = self.modem.new_conn_id()
        self._sid = socketinfo.free_id(self.modem) or 0
        self._state = "opening"
        self._protocol = protocol
        self._target = (ip, host, port)
        self._tls = tls
        self.modem.emit(OpenConnection(self._conn, protocol, host, port, tls=tls))

    def _fail(self, failure: Failure, detail: str) -> None:
        """The attempt failed: data is lost, CI says why (D-TRANSP: no in-band error)."""
        log.info("transparent connection failed: %s (%s)", failure.value, detail)
        self._waiting.clear()
        self._forget()
        personality = self.modem.personality
        if personality.quirk(CI_UNWRITTEN_QUIRK, False) and (
            failure.value in personality.family.ci_unwritten
        ):
            self._set_ci(CI_NO_STATUS)  # A-CI-TLS-FF: no code written, "however long you poll"
            return
        self._set_ci(self.modem.code_for(failure, "ci"))

    # ----- network side ------------------------------------------------------------------

    def on_event(self, event: Event, now: float) -> None:
        if event.conn_id != self._conn:
            return
        if isinstance(event, ConnectionOpened):
            self._state = "open"
            self._set_ci(CI_OPEN)
            self.modem.set_status("OD", event.remote[0])  # D-OD
            self._touch(now)
            if self._waiting:
                waiting, self._waiting = bytes(self._waiting), bytearray()
                self.modem.emit(SendData(event.conn_id, waiting))
        elif isinstance(event, ConnectionFailed):
            self._fail(event.failure, event.detail)
        elif isinstance(event, DataReceived):
            self.modem.deliver(event.data)  # D-TRANSP; held in command mode by the core
            self._touch(now)
        elif isinstance(event, ConnectionClosed):
            log.info("transparent connection closed: %s %s", event.failure.value, event.detail)
            self._forget()
            self._set_ci(self.modem.code_for(event.failure, "ci"))

    def _touch(self, now: float) -> None:
        tm = int(self.modem.param("TM"))
        self._idle_due = now + tm * TM_UNIT_S if tm else None

    # ----- closing -----------------------------------------------------------------------

    def _close(self, failure: Failure) -> None:
        if self._conn is None:
            return
        self.modem.emit(CloseConnection(self._conn))
        self._waiting.clear()
        self._forget()
        self._set_ci(self.modem.code_for(failure, "ci"))

    def _profile_current(self) -> bool:
        """The open TLS connection's `$0`, TL and files are still what it was made with."""
        return tlsfiles.still_current(
            self.modem.flash, self._tls, str(self.modem.param("$0")), int(self.modem.param("TL"))
        )

    def _forget(self) -> None:
        self._tls = None
        self._conn = None
        self._state = "idle"
        self._target = None
        self._idle_due = None
        self.modem.set_status("OD", NO_DESTINATION)

    def on_params_applied(self, changed: set[str], now: float) -> None:
        if self._conn is None:
            return
        if "TM" in changed:
            self._close(Failure.CLOSED_BY_HOST)  # L-TG: writing TM closes, even unchanged
            return
        if "AP" in changed and self.modem.api_mode:
            self._close(Failure.CLOSED_BY_HOST)  # A-TRANSP-AP
            return
        if changed & {"$0", "TL"} and not self._profile_current():
            self._close(Failure.CLOSED_BY_HOST)  # A-TLS-REUSE: a changed $0 closes it
            return
        if self._target is not None and changed & set(CLOSE_ON_CHANGE):
            now_target = (
                int(self.modem.param("IP")),
                str(self.modem.param("DL") or "").strip(),
                int(self.modem.param("DE")),
            )
            if now_target != self._target:
                self._close(Failure.CLOSED_BY_HOST)  # D-TRANSP

    def on_registration(self, registered: bool, now: float) -> None:
        if not registered and self._conn is not None:
            self._close(Failure.NOT_REGISTERED)

    def on_reset(self) -> None:
        self._tls = None
        self._conn = None
        self._state = "idle"
        self._target = None
        self._buffer.clear()
        self._waiting.clear()
        self._buffer_due = None
        self._idle_due = None

    # ----- time --------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        if self._buffer_due is not None and self._buffer_due <= now:
            self._packetize(now)
        if self._idle_due is not None and self._idle_due <= now and self._state == "open":
            log.info("transparent connection idle for TM: closing")
            self._close(Failure.INACTIVITY)  # D-TRANSP: TM of no data either way

    def next_deadline(self) -> float | None:
        due = [d for d in (self._buffer_due, self._idle_due) if d is not None]
        return min(due) if due else None

    # ----- shared accounting -------------------------------------------------------------

    def sockets_in_use(self) -> Counter[Protocol]:
        return Counter({self._protocol: 1}) if self._conn is not None else Counter()

    def socket_rows(self) -> list[socketinfo.SocketRow]:
        """ATSI's row for this feature's connection: not an Extended API socket, so "*"
        (D-SI; A-SI-IDS)."""
        if self._conn is None or self._target is None:
            return []
        port = int(self._target[2])
        remote = str(self.modem.param("OD"))  # D-OD: the dotted quad in use; 0.0.0.0 before
        return [socketinfo.SocketRow(self._sid, self._state, self._protocol, 0,
                                     (remote, port), implicit=True)]

    def _set_ci(self, value: int) -> None:
        self.modem.set_status("CI", value)


def _socket_free(modem: Any, protocol: Protocol) -> bool:
    from harness.sim.features.ipframes import socket_available

    return socket_available(modem, protocol)
