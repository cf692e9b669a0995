"""The local servers and PKI that are the simulator's internet (harness.servers)."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator

import pytest
from cryptography import x509

from harness.servers import (
    DEFAULT_BODY,
    FILES,
    HttpServer,
    HttpsServer,
    OpenSslServer,
    Pki,
    TcpEchoServer,
    UdpEchoServer,
    skip_unless_openssl,
)
from harness.sim.host.tlsrules import is_self_signed


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


def cert(pki: Pki, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.read(name))


def test_pki_writes_every_file(pki: Pki) -> None:
    for name, filename in FILES.items():
        assert (pki.dir / filename).is_file(), name
    assert pki.root_ca == pki.dir / FILES["root_ca"]
    assert oct(pki.path("client_key").stat().st_mode & 0o777) == "0o600"


def test_chain_mimics_the_forum(pki: Pki) -> None:
    root, inter, leaf = (cert(pki, n) for n in ("root_ca", "intermediate_ca", "server_cert"))
    assert is_self_signed(root) and not is_self_signed(inter) and not is_self_signed(leaf)
    inter.verify_directly_issued_by(root)
    leaf.verify_directly_issued_by(inter)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "google.com" in san.get_values_for_type(x509.DNSName)
    chain = x509.load_pem_x509_certificates(pki.read("server_chain"))
    assert [c.subject for c in chain] == [leaf.subject, inter.subject]
    assert is_self_signed(cert(pki, "wrong_ca")) and is_self_signed(cert(pki, "selfsigned_cert"))


def test_client_key_forms(pki: Pki) -> None:
    assert b"BEGIN RSA PRIVATE KEY" in pki.read("client_key")  # PKCS#1 (D-TLS p.101)
    assert b"BEGIN PRIVATE KEY" in pki.read("client_key_pkcs8")
    assert b"ENCRYPTED" in pki.read("client_key_encrypted")
    cert(pki, "client_cert").verify_directly_issued_by(cert(pki, "client_ca"))


def test_unknown_pki_file_name_is_clear(pki: Pki) -> None:
    with pytest.raises(KeyError, match="no PKI file 'nope'"):
        pki.path("nope")


def get(host: str, port: int, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    conn: http.client.HTTPConnection
    if context is None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
    else:
        conn = http.client.HTTPSConnection(host, port, timeout=10, context=context)
    try:
        conn.request("GET", "/", headers={"Host": "google.com"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_http_server_answers_get_and_records_it() -> None:
    with HttpServer() as server:
        address = server.address
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert get(server.host, server.port) == (200, DEFAULT_BODY)
        assert (
            server.requests[0].method == "GET"
            and server.requests[0].headers["Host"] == "google.com"
        )
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=2).close()


def test_http_server_stop_closes_keepalive_connections() -> None:
    server = HttpServer().start()
    sock = socket.create_connection(server.address, timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    server.stop()
    sock.settimeout(5)
    rest = b""
    while chunk := sock.recv(4096):
        rest += chunk
    sock.close()  # reached EOF: the server closed the idle keep-alive connection


def test_https_server_presents_the_chain(pki: Pki) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.root_ca)
    with HttpsServer(pki) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert get(server.host, server.port, ctx_no_host(ctx)) == (200, DEFAULT_BODY)
        hs = server.wait_for_handshakes(1)[0]
        assert hs.ok and hs.sni is None


def ctx_no_host(ctx: ssl.SSLContext) -> ssl.SSLContext:
    ctx.check_hostname = False
    return ctx


def test_mutual_server_rejects_a_client_without_cert(pki: Pki) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.root_ca)
    ctx.check_hostname = False
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with HttpsServer(pki, mutual=True) as server:
        with pytest.raises(ssl.SSLError):
            get(server.host, server.port, ctx)
        ctx.load_cert_chain(pki.client_cert, pki.client_key)
        assert get(server.host, server.port, ctx)[0] == 200
        outcomes = [h.ok for h in server.wait_for_handshakes(2)]
        assert outcomes == [False, True]


def test_echo_servers() -> None:
    with TcpEchoServer() as tcp, socket.create_connection(tcp.address, timeout=5) as s:
        s.sendall(b"ping")
        assert s.recv(16) == b"ping"
    with UdpEchoServer() as udp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"dgram", udp.address)
        assert s.recvfrom(64)[0] == b"dgram"


@pytest.fixture
def openssl_pki(pki: Pki) -> Iterator[Pki]:
    skip_unless_openssl()
    yield pki


def test_openssl_s_server_serves_the_chain(openssl_pki: Pki) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(openssl_pki.root_ca)
    ctx.check_hostname = False
    with OpenSslServer(openssl_pki) as server:
        assert server.port > 0 and server.url == f"https://127.0.0.1:{server.port}/"
        status, body = get(server.host, server.port, ctx)
        assert status == 200 and b"s_server" in body


def test_openssl_s_server_mutual(openssl_pki: Pki) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(openssl_pki.root_ca)
    ctx.check_hostname = False
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with OpenSslServer(openssl_pki, mutual=True) as server:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            get(server.host, server.port, ctx)
        ctx.load_cert_chain(openssl_pki.client_cert, openssl_pki.client_key)
        assert get(server.host, server.port, ctx)[0] == 200
