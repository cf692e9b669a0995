"""The simulator's internet: a throwaway PKI and local servers on 127.0.0.1.

`Pki.create(dir)` makes, with `cryptography`, the chain the forum thread met (F-HTTPS): a
self-signed root (like GlobalSign) → an intermediate (like Google's issuing CA) → a leaf for
`google.com`; the HTTPS server presents leaf + intermediate, as google.com does. Also a second
unrelated root ("wrong CA"), a self-signed server certificate, and a client CA with a client
certificate and a PKCS#1 key (D-TLS p.101), plus keys in the forms the module refuses.

Servers run in threads on ephemeral ports, are context managers, and record what they saw
(requests, handshakes with the SNI the client sent) so tests can assert on the far end.
`OpenSslServer` runs `openssl s_server -www`, a TLS server nobody here wrote.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
DEFAULT_BODY = b"<html><body>xbee-hil test server: hello</body></html>\n"
SERVER_NAMES = ("google.com", "www.google.com")  # F-HTTPS: DL=google.com
KEY_BITS = 2048
VALID_DAYS = 30
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0  # a keep-alive connection nobody uses is closed after this


# ----- PKI ----------------------------------------------------------------------------------

# File names inside the PKI directory; tests upload them to /flash/cert under any name.
FILES = {
    "root_ca": "root-ca.crt",  # self-signed root: "the top of its certification path" (F-HTTPS)
    "intermediate_ca": "intermediate-ca.crt",
    "server_cert": "server.crt",  # the leaf for google.com (the forum's wgc.crt)
    "server_key": "server.key",
    "server_chain": "server-chain.crt",  # leaf + intermediate, what the server presents
    "wrong_ca": "wrong-ca.crt",  # a self-signed root that signed nothing here
    "selfsigned_cert": "selfsigned.crt",  # a server outside any PKI (L-MP ussl: usable as CA)
    "selfsigned_key": "selfsigned.key",
    "client_ca": "client-ca.crt",
    "client_cert": "client.crt",
    "client_key": "client.key",  # PKCS#1, unencrypted: what the module takes (D-TLS p.101)
    # same key as PKCS#8: D-TLS-101 guarantees only PKCS#1; whether a firmware reads PKCS#8
    # is its family's `key_formats` (A-TLS-KEY-PKCS1)
    "client_key_pkcs8": "client-pkcs8.key",
    "client_key_encrypted": "client-encrypted.key",  # same key, encrypted: refused (D-TLS p.101)
    "other_client_cert": "other-client.crt",  # a client certificate from the wrong CA
    "other_client_key": "other-client.key",
    # a leaf for google.com whose CN is over 31 characters (D-TLS-101: SARA-R410 fails)
    "long_cn_cert": "long-cn.crt",
    "long_cn_key": "long-cn.key",
    "long_cn_chain": "long-cn-chain.crt",
}
DEFAULT_SERVER_CIPHERS = "DEFAULT"
LONG_CN = "www.a-long-common-name.google.com"  # 33 characters: over D-TLS-101's 31
# A server that offers only ECDHE suites (F-SNI's server: "none of the server's ECDHE/DHE
# suites" are the LTE-M's), TLS 1.2 (TLS 1.3 suites are not set by a cipher list).
ECDHE_ONLY = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
ENCRYPTED_KEY_PASSWORD = b"xbee-hil-test"


@dataclass(frozen=True)
class Pki:
    """Paths of a PKI written by `create`; `read(name)` gives a file's bytes."""

    dir: Path
    hostnames: tuple[str, ...] = SERVER_NAMES

    @classmethod
    def create(cls, directory: str | Path, hostnames: Iterable[str] = SERVER_NAMES) -> Pki:
        """Generate every key and certificate into `directory` (created if needed)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        names = tuple(hostnames)
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        files: dict[str, bytes] = {}

        root_key, root = _ca("xbee-hil Sim Root R1", "xbee-hil Trust Services", now)
        inter_key = _rsa()
        inter = _cert(
            _name("xbee-hil Sim Issuing CA 1C3", "xbee-hil Trust Services"),
            inter_key,
            root.subject,
            root_key,
            now,
            ca=True,
            path_length=0,
        )
        leaf_key = _rsa()
        leaf = _cert(
            _name(names[0], "xbee-hil Test Server"),
            leaf_key,
            inter.subject,
            inter_key,
            now,
            sans=names,
            eku=ExtendedKeyUsageOID.SERVER_AUTH,
        )
        wrong_key, wrong = _ca("xbee-hil Unrelated Root", "Nobody Here", now)
        del wrong_key
        ss_key = _rsa()
        ss = _cert(
            _name(names[0], "xbee-hil Self-Signed"),
            ss_key,
            None,
            ss_key,
            now,
            sans=names,
            eku=ExtendedKeyUsageOID.SERVER_AUTH,
        )
        cca_key, cca = _ca("xbee-hil Client CA", "xbee-hil Devices", now)
        client_key = _rsa()
        client = _cert(
            _name("xbee3-sim-device", "xbee-hil Devices"),
            client_key,
            cca.subject,
            cca_key,
            now,
            eku=ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        other_key = _rsa()
        other = _cert(
            _name("stranger-device", "Nobody Here"),
            other_key,
            None,
            other_key,
            now,
            eku=ExtendedKeyUsageOID.CLIENT_AUTH,
        )

        files["root_ca"] = _pem(root)
        files["intermediate_ca"] = _pem(inter)
        files["server_cert"] = _pem(leaf)
        files["server_key"] = _key_pem(leaf_key)
        files["server_chain"] = _pem(leaf) + _pem(inter)
        files["wrong_ca"] = _pem(wrong)
        files["selfsigned_cert"] = _pem(ss)
        files["selfsigned_key"] = _key_pem(ss_key)
        files["client_ca"] = _pem(cca)
        files["client_cert"] = _pem(client)
        files["client_key"] = _key_pem(client_key)
        files["client_key_pkcs8"] = _key_pem(client_key, pkcs8=True)
        files["client_key_encrypted"] = _key_pem(client_key, password=ENCRYPTED_KEY_PASSWORD)
        lc_key = _rsa()
        long_cn = _cert(
            _name(LONG_CN, "xbee-hil Test Server"), lc_key, inter.subject, inter_key, now,
            sans=(LONG_CN, *names), eku=ExtendedKeyUsageOID.SERVER_AUTH,
        )  # fmt: skip
        files["long_cn_cert"] = _pem(long_cn)
        files["long_cn_key"] = _key_pem(lc_key)
        files["long_cn_chain"] = _pem(long_cn) + _pem(inter)
        files["other_client_cert"] = _pem(other)
        files["other_client_key"] = _key_pem(other_key)
        for key, data in files.items():
            path = d / FILES[key]
            path.write_bytes(data)
            if key.endswith("key") or "_key" in key:
                path.chmod(0o600)
        return cls(d, names)

    def path(self, name: str) -> Path:
        """Path of a PKI file by its key in `FILES` (e.g. "root_ca")."""
        try:
            return self.dir / FILES[name]
        except KeyError:
            raise KeyError(f"no PKI file {name!r}; known: {', '.join(FILES)}") from None

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def __getattr__(self, name: str) -> Path:
        if name in FILES:
            return self.dir / FILES[name]
        raise AttributeError(name)


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca(cn: str, org: str, now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _rsa()
    return key, _cert(_name(cn, org), key, None, key, now, ca=True)


def _cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name | None,
    issuer_key: rsa.RSAPrivateKey,
    now: dt.datetime,
    *,
    ca: bool = False,
    path_length: int | None = None,
    sans: Iterable[str] = (),
    eku: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=True)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=not ca,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    names = list(sans)
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(
    key: rsa.RSAPrivateKey, *, pkcs8: bool = False, password: bytes | None = None
) -> bytes:
    fmt = (
        serialization.PrivateFormat.PKCS8
        if pkcs8
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


# ----- servers ------------------------------------------------------------------------------


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

    def setup(self) -> None:
        self.timeout = IDLE_TIMEOUT
        super().setup()

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
            subject = ",".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn)
        self._record_handshake(
            Handshake(True, self._sni.pop(id(tls), None), tls.version(), subject)
        )
        tls.settimeout(IDLE_TIMEOUT)
        self._track(tls)
        return tls


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


# ----- openssl s_server ---------------------------------------------------------------------

OPENSSL_START_TIMEOUT = 10.0


def openssl_path() -> str | None:
    return shutil.which("openssl")


def openssl_skip_reason() -> str | None:
    """None when `openssl s_server` can run here, else why a test using it must skip."""
    return (
        None
        if openssl_path()
        else "openssl is not on PATH: no third-party TLS server to test against"
    )


def skip_unless_openssl() -> None:
    """Skip the calling test (with the reason) when openssl is missing."""
    reason = openssl_skip_reason()
    if reason:
        import pytest

        pytest.skip(reason)


@dataclass
class OpenSslServer:
    """`openssl s_server -www` with the PKI's chain; `mutual=True` demands a client certificate
    from the client CA (`-Verify 1 -verify_return_error`)."""

    pki: Pki
    mutual: bool = False
    selfsigned: bool = False
    extra_args: tuple[str, ...] = ()
    host: str = LOOPBACK
    port: int = 0
    output: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def command(self) -> list[str]:
        exe = openssl_path()
        if exe is None:
            raise RuntimeError(openssl_skip_reason())
        if self.selfsigned:
            cert = [
                "-cert",
                str(self.pki.path("selfsigned_cert")),
                "-key",
                str(self.pki.path("selfsigned_key")),
            ]
        else:
            cert = [
                "-cert",
                str(self.pki.path("server_cert")),
                "-key",
                str(self.pki.path("server_key")),
                "-cert_chain",
                str(self.pki.path("intermediate_ca")),
            ]
        args = [exe, "s_server", "-accept", f"{LOOPBACK}:0", "-www", *cert]
        if self.mutual:
            args += [
                "-Verify",
                "1",
                "-CAfile",
                str(self.pki.path("client_ca")),
                "-verify_return_error",
            ]
        return args + list(self.extra_args)

    def start(self) -> OpenSslServer:
        proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._proc = proc
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                self.output.append(line)
                if line.startswith("ACCEPT") and not ready.is_set():
                    self.port = int(line.rsplit(":", 1)[1])
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, name="openssl-s_server", daemon=True)
        self._reader.start()
        if not ready.wait(OPENSSL_START_TIMEOUT) or not self.port:
            self.stop()
            raise RuntimeError(f"openssl s_server did not start: {' | '.join(self.output[-5:])}")
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=2)

    def __enter__(self) -> OpenSslServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
