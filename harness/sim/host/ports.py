"""The server's ports: one attached pty or socket (`Sink`), UART pacing and back-pressure marks,
and the serial face an RFC 2217 client configures.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from collections import deque

import serial.rfc2217

log = logging.getLogger(__name__)

READ_SIZE = 4096
# Output for a port nobody reads (a pty no one opened) is kept up to this many bytes, then
# the oldest is dropped, as a UART with nothing attached loses it. A port counts as unread
# once its pending output has made no progress for UNREAD_AFTER real seconds (A-SIM-UNREAD);
# while a host reads, nothing is ever dropped: the server holds the network back instead.
MAX_PENDING_OUTPUT = 64 * 1024
UNREAD_AFTER = 5.0
# Back-pressure (A-SIM-BACKPRESSURE): when a read port has more than HIGH_WATER bytes not yet
# taken by its reader (paced or queued), the world stops reading its sockets (the far end's
# TCP window fills), and reads again once every port is under LOW_WATER.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
# The longest telnet subnegotiation an RFC 2217 client may send; real ones are a few bytes
# (a SIGNATURE is a short text). A client over it is dropped, not buffered without end.
MAX_SUBNEGOTIATION = 1024
# Over RFC 2217 the client sets a baud rate; at a rate other than BD's the module's bytes
# reach the host as garbage (`OK\r` as the forum's `1C 1C FC`), not silence, and the host's
# bytes still reach the module, whose answers the forum saw (forum 20971, D-BD;
# A-BENCH-RFC2217-BAUD). One place to turn it off.
ENFORCE_BAUD_OVER_RFC2217 = True
# Host-bound bytes leave at the module's BD rate (10 bits a byte, 8N1), in real time whatever
# the time scale: the UART is where the simulated module meets the real host. This is also
# what keeps a reply from arriving before digi-xbee waits for it (its SyncRequestSender
# misses a notify that comes first and stalls 4 s). Slices keep the first bytes early.
PACING_SLICE = 64

class Sink:
    """One attached port: where host bytes come from and modem bytes go to."""

    def __init__(self, name: str, fd: int, *, sock: socket.socket | None = None) -> None:
        self.name = name
        self.fd = fd
        self.sock = sock
        self.out = bytearray()
        self.paced: deque[tuple[float, bytes]] = deque()  # (real release time, bytes)
        self.paced_bytes = 0  # bytes in `paced`
        self.line_free = 0.0  # real time the line finishes the bytes already scheduled
        self.last_progress = time.monotonic()  # the reader last took bytes (or `out` began)
        self.dropped = 0
        self.took = 0  # host bytes fed to the engine, ever (a warping clock compares them)
        self.said = 0  # bytes written to the port, ever
        self.manager: serial.rfc2217.PortManager | None = None
        self.settings: UartSettings | None = None

    def unread(self, now: float) -> bool:
        """Output is waiting and nobody has taken a byte of it for UNREAD_AFTER seconds."""
        return bool(self.out) and now - self.last_progress >= UNREAD_AFTER

    def backlog(self, now: float) -> int:
        """Bytes a reader still has to take: paced ones always (the UART sends them at BD
        whoever listens), queued ones only while somebody reads."""
        return self.paced_bytes + (0 if self.unread(now) else len(self.out))

    def queue(self, data: bytes) -> None:
        if not self.out:
            self.last_progress = time.monotonic()
        self.out += data
        self.trim(time.monotonic())

    def trim(self, now: float) -> None:
        """Keep only the newest MAX_PENDING_OUTPUT bytes of a port nobody reads."""
        if not self.unread(now):
            return
        excess = len(self.out) - MAX_PENDING_OUTPUT
        if excess > 0:
            del self.out[:excess]
            if not self.dropped:
                log.warning("%s: nobody reads the port; dropping old output", self.name)
            self.dropped += excess

    def flush(self) -> None:
        while self.out:
            try:
                n = self.sock.send(self.out) if self.sock else os.write(self.fd, self.out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                if err.errno in (errno.EAGAIN, errno.EIO):
                    return
                raise
            if n > 0:
                self.last_progress = time.monotonic()
                self.said += n
            del self.out[:n]


class UartSettings:
    """The serial-port face `serial.rfc2217.PortManager` configures: the module's UART."""

    def __init__(self) -> None:
        self.baudrate = 9600
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.dtr = True
        self.rts = True
        self.break_condition = False
        self.cts = True
        self.dsr = True
        self.ri = False
        self.cd = False

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass


class TelnetConnection:
    """The `connection` PortManager writes telnet negotiation to."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> None:
        self._sink.queue(bytes(data))
