"""Local HTTP and HTTPS servers on 127.0.0.1, recording what they saw (requests, TLS
handshakes with the SNI the client sent) so tests can assert on the far end."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from harness.servers.pki import DEFAULT_SERVER_CIPHERS, Pki

LOOPBACK = "127.0.0.1"
DEFAULT_BODY = b"<html><body>xbee-hil test server: hello</body></html>\n"
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0  # a keep-alive connection nobody uses is closed after this


@dataclass(frozen=True)
class Request:
    """One HTTP request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Handshake:
    """One TLS handshake as the server saw it. `sni` is None when the client sent none."""

    ok: bool
    sni: str | None
    version: str | None = None
    client_subject: str | None = None
    error: str = ""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServerCore
    timeout = IDLE_TIMEOUT  # StreamRequestHandler.setup() sets it on the connection

    def do_GET(self) -> None:
        self._answer(b"")

    def do_HEAD(self) -> None:
        self._answer(b"", head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length) if length else b"")

    def _answer(self, body_in: bytes, *, head: bool = False) -> None:
        owner = self.server.owner
        owner._record_request(
            Request(self.command, self.path, {k: v for k, v in self.headers.items()}, body_in)
        )
        body = body_in if self.command == "POST" else owner.body
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.command != "POST" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if not owner.keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HttpServerCore(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: HttpServer

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.owner._track(sock)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn = self.owner._accept(request)
        if conn is None:
            return
        try:
            super().finish_request(conn, client_address)
        except (OSError, ssl.SSLError):
            pass
        finally:
            if conn is not request:
                self.shutdown_request(conn)

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_RDWR)
        request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-request is not the server's failure


class HttpServer:
    """Plain HTTP/1.1 on 127.0.0.1: any GET gets 200 and `body`; POST echoes its body."""

    scheme: ClassVar[str] = "http"

    def __init__(self, *, body: bytes = DEFAULT_BODY, keep_alive: bool = True) -> None:
        self.body = body
        self.keep_alive = keep_alive
        self.requests: list[Request] = []
        self.handshakes: list[Handshake] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._server: _HttpServerCore | None = None
        self._thread: threading.Thread | None = None

    host = LOOPBACK

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> HttpServer:
        server = _HttpServerCore((LOOPBACK, 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every open connection (clients see the close)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # hooks for the core
    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.add(sock)

    def _accept(self, sock: socket.socket) -> socket.socket | None:
        return sock

    def _record_request(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _record_handshake(self, hs: Handshake) -> None:
        with self._lock:
            self.handshakes.append(hs)

    def wait_for_handshakes(self, count: int, timeout: float = 10.0) -> list[Handshake]:
        """Handshakes so far, once at least `count` are recorded (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.handshakes) >= count:
                    return list(self.handshakes)
            time.sleep(0.01)
        with self._lock:
            return list(self.handshakes)


class HttpsServer(HttpServer):
    """HTTPS with the PKI's chain (leaf + intermediate), or its self-signed certificate.

    `mutual=True` requires a client certificate issued by the PKI's client CA. `versions`
    pins the protocol (e.g. ("TLSv1.3",) to refuse a TLS 1.2 client). `ciphers` offers only
    those TLS 1.2 suites (`ECDHE_ONLY`: F-SNI's server); `long_cn` presents the leaf whose CN
    is `LONG_CN` (D-TLS-101); `require_sni` refuses a ClientHello without SNI (D-XS p.167).
    """

    scheme: ClassVar[str] = "https"

    def __init__(
        self,
        pki: Pki,
        *,
        mutual: bool = False,
        selfsigned: bool = False,
        versions: tuple[str, str] | tuple[str] | None = None,
        body: bytes = DEFAULT_BODY,
        keep_alive: bool = True,
        ciphers: str | None = None,
        long_cn: bool = False,
        require_sni: bool = False,
    ) -> None:
        super().__init__(body=body, keep_alive=keep_alive)
        self.pki = pki
        self.mutual = mutual
        self.require_sni = require_sni
        self._sni: dict[int, str | None] = {}
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if selfsigned:
            ctx.load_cert_chain(pki.path("selfsigned_cert"), pki.path("selfsigned_key"))
        elif long_cn:
            ctx.load_cert_chain(pki.path("long_cn_chain"), pki.path("long_cn_key"))
        else:
            ctx.load_cert_chain(pki.path("server_chain"), pki.path("server_key"))
        if mutual:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(pki.path("client_ca"))
        if versions:
            ctx.minimum_version = ssl.TLSVersion[versions[0].replace(".", "_")]
            ctx.maximum_version = ssl.TLSVersion[versions[-1].replace(".", "_")]
        # OpenSSL's DEFAULT list, as servers on the internet offer it: it keeps the RSA
        # AES-CBC suites that are all LTE-M offers (F-SNI); Python's server list drops them
        ctx.set_ciphers(DEFAULT_SERVER_CIPHERS)
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 suites ignore the list
        ctx.sni_callback = self._on_sni
        self.context = ctx

    def _on_sni(self, sslobj: Any, name: str | None, ctx: ssl.SSLContext) -> int | None:
        self._sni[id(sslobj)] = name
        if self.require_sni and name is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME  # the handshake fails
        return None

    def _accept(self, sock: socket.socket) -> socket.socket | None:
        """TLS handshake in the connection's own thread, recorded whatever its outcome."""
        sock.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except OSError as exc:
            self._record_handshake(Handshake(False, None, error=str(exc)))
            return None
        try:
            tls.do_handshake()
        except (OSError, ssl.SSLError) as exc:
            self._record_handshake(Handshake(False, self._sni.pop(id(tls), None), error=str(exc)))
            with contextlib.suppress(OSError):
                tls.close()
            return None
        peer = tls.getpeercert()
        subject = None
        if peer:
            # ssl's documented shape: a tuple of RDNs, each a tuple of (name, value) pairs
            rdns = cast("tuple[tuple[tuple[str, str], ...], ...]", peer.get("subject", ()))
            subject = ",".join(f"{k}={v}" for rdn in rdns for k, v in rdn)
        self._record_handshake(
            Handshake(True, self._sni.pop(id(tls), None), tls.version(), subject)
        )
        tls.settimeout(IDLE_TIMEOUT)
        self._track(tls)
        return tls
