"""Digi's certificate rules as real handshakes against real servers on loopback (reference §5)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.servers import HttpsServer, Pki
from harness.sim.core.effects import Failure, TlsSettings
from harness.sim.host import tlsrules


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https(pki: Pki) -> Iterator[HttpsServer]:
    with HttpsServer(pki) as server:
        yield server


@pytest.fixture(scope="module")
def mtls(pki: Pki) -> Iterator[HttpsServer]:
    with HttpsServer(pki, mutual=True) as server:
        yield server


def settings(
    ca: bytes | None = None,
    cert: bytes | None = None,
    key: bytes | None = None,
    version: str | None = "TLSv1.2",
) -> TlsSettings:
    return TlsSettings(0, ca, cert, key, version)


def exchange(server: HttpsServer, st: TlsSettings) -> Failure | bytes:
    """One GET through a context built by the rules: the response, or the Failure."""
    client = tlsrules.client_context(st)
    with socket.create_connection(server.address, timeout=10) as raw:
        tls = client.wrap(raw)
        try:
            tls.do_handshake()
            tls.sendall(b"GET / HTTP/1.1\r\nHost: google.com\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(4096):
                data += chunk
            return data
        except (ssl.SSLError, OSError) as exc:
            return tlsrules.classify(exc)
        finally:
            tls.close()


def test_no_ca_is_encrypted_but_unauthenticated(pki: Pki, https: HttpsServer) -> None:
    ctx = tlsrules.client_context(settings())
    assert ctx.context.verify_mode == ssl.CERT_NONE  # D-TLS p.100 ";;"
    assert not ctx.authenticated
    assert exchange(https, settings()).startswith(b"HTTP/1.1 200 OK")


def test_root_ca_authenticates_the_chain(pki: Pki, https: HttpsServer) -> None:
    ctx = tlsrules.client_context(settings(pki.read("root_ca")))
    assert ctx.authenticated
    assert exchange(https, settings(pki.read("root_ca"))).endswith(https.body)


@pytest.mark.parametrize("name", ["server_cert", "intermediate_ca"])
def test_non_self_signed_ca_fails_the_real_handshake_as_auth(
    pki: Pki, https: HttpsServer, name: str
) -> None:
    """D-TLS p.100: the forum's leaf (wgc.crt) or an intermediate as CA → verify fails."""
    ctx = tlsrules.client_context(settings(pki.read(name)))
    assert not ctx.authenticated and "not self-signed" in ctx.trust_note
    before = len(https.handshakes)
    assert exchange(https, settings(pki.read(name))) is Failure.TLS_AUTH
    # the server really saw a handshake that the client aborted (unknown CA alert)
    seen = https.wait_for_handshakes(before + 1)[before]
    assert not seen.ok and "unknown ca" in seen.error.lower()


def test_wrong_root_fails_as_auth(pki: Pki, https: HttpsServer) -> None:
    assert exchange(https, settings(pki.read("wrong_ca"))) is Failure.TLS_AUTH


def test_self_signed_server_cert_works_as_its_own_ca(pki: Pki) -> None:
    """L-MP ussl: a self-signed server certificate in ca_certs authenticates that server."""
    with HttpsServer(pki, selfsigned=True) as server:
        assert exchange(server, settings(pki.read("selfsigned_cert"))).startswith(b"HTTP/1.1 200")
        assert exchange(server, settings(pki.read("root_ca"))) is Failure.TLS_AUTH


def test_no_sni_is_sent(pki: Pki, https: HttpsServer) -> None:
    before = len(https.handshakes)
    exchange(https, settings(pki.read("root_ca")))
    seen = https.wait_for_handshakes(before + 1)[before]
    assert seen.ok and seen.sni is None  # D-XS p.167: SNI not supported


def test_tl_pins_the_version(pki: Pki) -> None:
    with HttpsServer(pki, versions=("TLSv1.3",)) as tls13_only:
        assert exchange(tls13_only, settings(version="TLSv1.2")) is Failure.TLS_HANDSHAKE
        assert exchange(tls13_only, settings(version="TLSv1.3")).startswith(b"HTTP/1.1 200")
    ctx = tlsrules.client_context(settings(version="TLSv1.2")).context
    assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_2


def test_mutual_tls_needs_cert_and_key(pki: Pki, mtls: HttpsServer) -> None:
    ca = pki.read("root_ca")
    assert exchange(mtls, settings(ca)) is Failure.TLS_HANDSHAKE
    ok = exchange(mtls, settings(ca, pki.read("client_cert"), pki.read("client_key")))
    assert isinstance(ok, bytes) and ok.startswith(b"HTTP/1.1 200")
    assert (
        mtls.handshakes[-1].client_subject
        and "xbee3-sim-device" in mtls.handshakes[-1].client_subject
    )


def test_client_cert_from_another_ca_is_rejected_by_the_server(pki: Pki, mtls: HttpsServer) -> None:
    st = settings(pki.read("root_ca"), pki.read("other_client_cert"), pki.read("other_client_key"))
    assert exchange(mtls, st) is Failure.TLS_HANDSHAKE


def test_mismatched_key_presents_nothing_so_client_auth_fails(pki: Pki, mtls: HttpsServer) -> None:
    """A-TLS-KEYMISMATCH: a key not matching the cert → client authentication fails (D-TLS)."""
    st = settings(pki.read("root_ca"), pki.read("client_cert"), pki.read("other_client_key"))
    assert not tlsrules.client_context(st).presents_client_cert
    assert exchange(mtls, st) is Failure.TLS_HANDSHAKE


@pytest.mark.parametrize(
    ("ca", "cert", "key", "why"),
    [
        (None, "client_cert", "client_key_pkcs8", "not PKCS#1"),
        (None, "client_cert", "client_key_encrypted", "encrypted"),
        (None, None, "client_key", "without a client certificate"),
        (None, "client_cert", None, "without a client key"),
        ("server_key", None, None, "no PEM certificate"),
        ("server_chain", None, None, "2 certificates"),
        (None, "server_chain", "server_key", "2 certificates"),
    ],
)
def test_refused_profiles_are_tls_config_before_connecting(
    pki: Pki, ca: str | None, cert: str | None, key: str | None, why: str
) -> None:
    st = settings(*(pki.read(n) if n else None for n in (ca, cert, key)))
    with pytest.raises(tlsrules.TlsConfigError, match=why) as info:
        tlsrules.client_context(st)
    assert info.value.failure is Failure.TLS_CONFIG
    assert "MII" not in str(info.value)  # no PEM body (key material) in the message


def test_garbled_pem_is_tls_config(pki: Pki) -> None:
    broken = pki.read("root_ca").replace(b"A", b"*", 40)
    with pytest.raises(tlsrules.TlsConfigError) as info:
        tlsrules.client_context(settings(broken))
    assert info.value.failure is Failure.TLS_CONFIG


def test_no_key_file_left_behind(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    tlsrules.client_context(settings(None, pki.read("client_cert"), pki.read("client_key")))
    assert list(tmp_path.iterdir()) == []


def test_unknown_version_is_tls_config() -> None:
    with pytest.raises(tlsrules.TlsConfigError, match="TLSv9"):
        tlsrules.client_context(settings(version="TLSv9"))


def test_classify_other_errors_as_handshake() -> None:
    assert tlsrules.classify(ConnectionResetError()) is Failure.TLS_HANDSHAKE
    assert (
        tlsrules.classify(ssl.SSLError(1, "sslv3 alert handshake failure")) is Failure.TLS_HANDSHAKE
    )
