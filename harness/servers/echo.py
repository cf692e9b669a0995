"""TCP and UDP echo servers on 127.0.0.1 (data-path tests: what goes out comes back)."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading

from harness.servers.http import IDLE_TIMEOUT, LOOPBACK


class TcpEchoServer:
    """TCP echo on 127.0.0.1 (data-path tests: what goes out comes back)."""

    host = LOOPBACK

    def __init__(self, *, close_after: int | None = None) -> None:
        self.close_after = close_after  # close after echoing this many bytes (remote close)
        self.received = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "TcpEchoServer is not started"
        return self._server.server_address[1]

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> TcpEchoServer:
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with owner._lock:
                    owner.connections += 1
                self.request.settimeout(IDLE_TIMEOUT)
                sent = 0
                with contextlib.suppress(OSError):
                    while chunk := self.request.recv(4096):
                        with owner._lock:
                            owner.received += chunk
                        self.request.sendall(chunk)
                        sent += len(chunk)
                        if owner.close_after is not None and sent >= owner.close_after:
                            break

        server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> TcpEchoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class UdpEchoServer:
    """UDP echo on 127.0.0.1: each datagram is sent back to its sender."""

    host = LOOPBACK

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def port(self) -> int:
        assert self._sock is not None, "UdpEchoServer is not started"
        return self._sock.getsockname()[1]

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> UdpEchoServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((LOOPBACK, 0))
        sock.settimeout(0.05)
        self._sock = sock

        def run() -> None:
            while not self._stop.is_set():
                try:
                    data, peer = sock.recvfrom(65535)
                except TimeoutError:
                    continue
                except OSError:
                    return
                self.datagrams.append((data, peer))
                with contextlib.suppress(OSError):
                    sock.sendto(data, peer)

        self._thread = threading.Thread(target=run, name="UdpEcho", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> UdpEchoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
