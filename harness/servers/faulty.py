"""Servers that fail the way a bench's far end fails, for the resilience suite's host-side
faults (suites/test_faults.py): a port nothing listens on, a server that resets the
connection mid-response, and a server that answers later than anyone waits.

They are real loopback sockets (the simulator's routes reach them, as do the bench
rehearsal's); on a bench the profile's `fault_targets:` name such endpoints, and
`python -m harness.servers.faulty --bind 0.0.0.0` serves them from a host the module can
reach. Each counts what it saw, so a test knows the fault was really met.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Sequence
from typing import ClassVar

from harness.servers.http import IDLE_TIMEOUT, LOOPBACK

# What the reset server sends before the RST: a 200 head that promises more body than comes.
PROMISED_BODY = 4096
PARTIAL_BODY = b"<html><body>xbee-hil: this response is cut by a reset"
RESET_AFTER_LIMIT = 2.0  # longest wait for the part to be acknowledged before the RST, s
# How long the slow server holds a request before it answers, seconds: longer than any
# timeout of the module (TM) or the harness (first_byte_timeout) in the shipped profiles.
SLOW_DELAY = 120.0


class ClosedPort:
    """A TCP port nothing listens on: bound (so no one else takes it) but not listening, so
    a connection is refused at once (an RST to the SYN), as by a host whose server is down."""

    name: ClassVar[str] = "server-down"

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self._want = port
        self._sock: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("ClosedPort is not started")
        return int(self._sock.getsockname()[1])

    def start(self) -> ClosedPort:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, self._want))
        self._sock = sock
        return self

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> ClosedPort:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _OneShotServer:
    """A threaded TCP server that reads one HTTP request head a connection and hands the
    socket to `_answer`; it counts connections and requests."""

    name: ClassVar[str] = ""

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self._want = port
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._listener.getsockname()[1])

    def start(self) -> _OneShotServer:
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((self.host, self._want))
        lsock.listen(8)
        lsock.settimeout(0.05)
        self._listener = lsock
        threading.Thread(target=self._serve, name=f"{type(self).__name__}:{self.port}",
                         daemon=True).start()  # fmt: skip
        return self

    def stop(self) -> None:
        self._stopped.set()
        lsock, self._listener = self._listener, None
        if lsock is not None:
            lsock.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> _OneShotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            lsock = self._listener
            if lsock is None:
                return
            try:
                conn, _ = lsock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.add(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(IDLE_TIMEOUT)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            with self._lock:
                self.requests += 1
            self._answer(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _answer(self, conn: socket.socket) -> None:
        raise NotImplementedError


def _unacknowledged(conn: socket.socket) -> int:
    """Bytes sent but not yet acknowledged by the peer (Linux SIOCOUTQ); 0 where unknown."""
    try:
        import fcntl
        import termios

        raw = fcntl.ioctl(conn.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (ImportError, AttributeError, OSError):
        return 0
    return int(struct.unpack("i", raw)[0])


def _wait_delivered(conn: socket.socket, limit: float) -> None:
    """Until the peer has acknowledged what was sent (an RST discards what it has not), at
    most `limit` seconds; the reset then follows the part with no gap in which a client's
    inactivity timeout could close the connection first."""
    deadline = time.monotonic() + limit
    while _unacknowledged(conn) and time.monotonic() < deadline:
        time.sleep(0.001)


class ResetServer(_OneShotServer):
    """Sends the head of a 200 and part of its body, then resets the connection (RST, by a
    zero linger), as a server that crashes or a middlebox that drops mid-response."""

    name: ClassVar[str] = "server-reset"

    def _answer(self, conn: socket.socket) -> None:
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                b"Content-Length: %d\r\n\r\n" % PROMISED_BODY)  # fmt: skip
        conn.sendall(head + PARTIAL_BODY)
        _wait_delivered(conn, RESET_AFTER_LIMIT)  # the part is the client's, then at once:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class SlowServer(_OneShotServer):
    """Reads the request and answers `delay` seconds later (a whole 200), or never when the
    client leaves or the server stops first: a far end slower than any timeout."""

    name: ClassVar[str] = "slow-server"

    def __init__(self, host: str = LOOPBACK, port: int = 0, *, delay: float = SLOW_DELAY) -> None:
        super().__init__(host, port)
        self.delay = delay

    def _answer(self, conn: socket.socket) -> None:
        if self._stopped.wait(self.delay):
            return
        body = b"<html><body>xbee-hil: a slow answer</body></html>\n"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (len(body), body))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the three on a host a bench module can reach; print where each one is."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.servers.faulty",
        description="Serve the resilience suite's failing endpoints (a closed port, a server "
        "that resets mid-response, a slow server) for a bench profile's fault_targets.",
    )
    parser.add_argument("--bind", default=LOOPBACK, help="address to bind (default %(default)s)")
    parser.add_argument("--ports", default="0,0,0", metavar="DOWN,RESET,SLOW",
                        help="ports for the three, 0 = any free (default %(default)s)")
    parser.add_argument("--delay", type=float, default=SLOW_DELAY,
                        help="the slow server's delay, seconds (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        down, reset, slow = (int(p) for p in args.ports.split(","))
    except ValueError:
        parser.error(f"--ports {args.ports!r}: three port numbers separated by commas")
    servers: list[ClosedPort | _OneShotServer] = [
        ClosedPort(args.bind, down),
        ResetServer(args.bind, reset),
        SlowServer(args.bind, slow, delay=args.delay),
    ]
    try:
        for srv in servers:
            srv.start()
            print(f"{srv.name}: {srv.host}:{srv.port}", flush=True)
    except OSError as exc:
        parser.exit(1, f"python -m harness.servers.faulty: cannot bind: {exc}\n")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        for srv in servers:
            srv.stop()


if __name__ == "__main__":
    raise SystemExit(main())
