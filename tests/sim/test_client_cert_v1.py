"""X.509 v1 client certificates (issue 11 item 2, D-TLS-101: LTE-M takes no v3 client
certificate): the PKI's v1 certificate is real (openssl and cryptography read and verify it),
and against `openssl s_server` demanding a client certificate, LTE-M's v3 certificate fails
with the firmware's code while the same key's v1 certificate answers 200; Cat 1 takes v3."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness import variants
from harness.device.configure import Configurator
from harness.device.http import Http
from harness.device.module import Module
from harness.device.transport import open_device
from harness.servers import OpenSslServer, Pki, openssl_path, skip_unless_openssl
from harness.servers.x509v1 import _integer, _time, _tlv, build_v1
from harness.sim.core.modem import Modem
from harness.sim.host import server as serve
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.xbee import firmware

SCALE = 0.02
GOOGLE = "203.0.113.10"
URL = "https://google.com/"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_the_pki_v1_certificate_is_v1_and_verifies(pki):
    v1 = x509.load_pem_x509_certificate(pki.read("client_cert_v1"))
    v3 = x509.load_pem_x509_certificate(pki.read("client_cert"))
    ca = x509.load_pem_x509_certificate(pki.read("client_ca"))
    assert v1.version is x509.Version.v1 and len(v1.extensions) == 0
    assert v3.version is x509.Version.v3
    assert _spki(v1) == _spki(v3) and v1.subject == v3.subject  # the same key: client.key
    v1.verify_directly_issued_by(ca)
    if openssl_path():
        done = subprocess.run([openssl_path(), "verify", "-CAfile", str(pki.path("client_ca")),
                               str(pki.path("client_cert_v1"))],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert done.returncode == 0 and done.stdout.strip().endswith(": OK"), done


def test_der_pieces():
    assert _tlv(0x04, b"x" * 200)[:3] == b"\x04\x81\xc8"  # long form length
    assert _integer(0x80) == b"\x02\x02\x00\x80"  # positive: a leading zero
    assert _time(dt.datetime(2049, 1, 2, tzinfo=dt.UTC))[0] == 0x17  # UTCTime
    assert _time(dt.datetime(2050, 1, 2, tzinfo=dt.UTC))[0] == 0x18  # GeneralizedTime
    with pytest.raises(ValueError, match="positive"):
        _integer(-1)


def test_build_v1_keeps_the_validity_and_serial(pki):
    from harness.servers.pki import _name, _rsa

    key = _rsa()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = build_v1(_name("a", "b"), key.public_key(), _name("a", "b"), key, start,
                    start + dt.timedelta(days=1), serial=12345)  # fmt: skip
    assert cert.serial_number == 12345 and cert.not_valid_before_utc == start
    cert.verify_directly_issued_by(cert)  # self-signed


@contextmanager
def module_against(pki: Pki, target: tuple[str, int], persona: str) -> Iterator[Http]:
    """A simulated module whose google.com:443 is `target`, in API mode, both client
    certificates and the PKCS#1 key on its /flash/cert."""
    flash = FlashFS()
    flash.write("/flash/cert/root.crt", pki.read("root_ca"))
    flash.write("/flash/cert/client.crt", pki.read("client_cert"))
    flash.write("/flash/cert/client1.crt", pki.read("client_cert_v1"))
    flash.write("/flash/cert/client.key", pki.read("client_key"), secure=True)
    config = NetworkConfig(
        hosts={"google.com": GOOGLE}, routes={f"{GOOGLE}:443": f"{target[0]}:{target[1]}"}
    )
    server = serve.SimServer(Modem(persona, flash=flash, nvm={"CT": 0x3E8}), Network(config),
                             time_scale=SCALE)  # fmt: skip
    tap = open_device(server.start_pty(), 9600)
    module = Module(tap, guard_time=SCALE, command_timeout=10.0 * SCALE,
                    max_guard_time=1.747 * SCALE)  # fmt: skip
    try:
        Configurator(module).wait_registered(20)
        yield Http(module)
    finally:
        module.close()
        tap.close()
        server.stop()


@pytest.mark.parametrize(
    ("persona", "family"),
    [("ltem-11415", firmware.LTEM_114), ("cat1-3100C", firmware.CAT1_3100)],
    ids=["ltem", "cat1"],
)
@pytest.mark.parametrize("name", ["client-cert", "client-cert-v1"])
def test_client_certificates_against_openssl_s_server_demanding_one(pki, persona, family, name):
    skip_unless_openssl()
    variant = variants.get(name)
    expect = variant.expect_for(family)
    with OpenSslServer(pki, mutual=True) as ossl, module_against(pki, ossl.address, persona) as h:
        Configurator(h.module).apply({"TL": 3, "$0": variant.profile}, "api")
        result = h.get(URL, first_byte_timeout=3.0)
    tx = result.code("tx_status")
    if expect == variants.OK:
        assert result.status == 200, result.summary()
    else:
        assert result.status is None, result.summary()
        assert tx is not None and tx.value == family.code(expect, "tx_status"), result.summary()
    if family is firmware.LTEM_114:
        assert expect == ("tls_config" if name == "client-cert" else variants.OK)  # D-TLS-101
