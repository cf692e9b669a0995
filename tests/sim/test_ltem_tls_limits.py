"""LTE-M's TLS limits (field-evidence §2; D-TLS-101, F-SNI) applied by the simulator to real
TLS servers on loopback: `openssl s_server` (nobody here wrote it) and `harness.servers`.

F-SNI (Digi staff): the LTE-M offers only RSA AES-CBC suites, so a server with only ECDHE
suites fails the handshake (TX 0x85); with AES256-SHA it answers. The request is a 0x23 frame
(API mode, TLS profile 0), as in the forum's reply 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.device.configure import Configurator
from harness.device.http import Http, HttpResult
from harness.device.module import Module
from harness.device.transport import open_device
from harness.servers import ECDHE_ONLY, HttpsServer, OpenSslServer, Pki, skip_unless_openssl
from harness.sim.core.effects import Failure, TlsSettings
from harness.sim.core.modem import Modem
from harness.sim.core.tlsfiles import TlsConfigError
from harness.sim.host import server as serve
from harness.sim.host import tlsrules
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.xbee import firmware

SCALE = 0.02  # module time runs 50x faster (registration, guard times)
GOOGLE = "203.0.113.10"
URL = "https://google.com/"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@contextmanager
def module_against(
    pki: Pki, target: tuple[str, int], persona: str = "ltem-11415"
) -> Iterator[Http]:
    """A simulated module whose google.com:443 is `target`, in API mode, registered."""
    flash = FlashFS()
    flash.write("/flash/cert/root.crt", pki.read("root_ca"))
    flash.write("/flash/cert/client.crt", pki.read("client_cert"))
    flash.write("/flash/cert/client8.key", pki.read("client_key_pkcs8"), secure=True)
    config = NetworkConfig(
        hosts={"google.com": GOOGLE}, routes={f"{GOOGLE}:443": f"{target[0]}:{target[1]}"}
    )
    modem = Modem(persona, flash=flash, nvm={"CT": 0x3E8})
    server = serve.SimServer(modem, Network(config), time_scale=SCALE)
    path = server.start_pty()
    tap = open_device(path, 9600)
    module = Module(tap, guard_time=SCALE, command_timeout=10.0 * SCALE,
                    max_guard_time=1.747 * SCALE)  # fmt: skip
    try:
        conf = Configurator(module)
        conf.wait_registered(20)
        conf.apply({"TL": 3, "$0": "root.crt;;"}, "api")
        yield Http(module)
    finally:
        module.close()
        tap.close()
        server.stop()


def _tx(result: HttpResult) -> int | None:
    code = result.code("tx_status")
    return code.value if code is not None else None


@pytest.mark.parametrize(
    ("suites", "answers"), [(ECDHE_ONLY, False), ("AES256-SHA", True)], ids=["ecdhe", "aes256"]
)
def test_ltem_0x23_against_openssl_s_server_cipher_suites(pki, suites, answers):
    skip_unless_openssl()
    handshake = firmware.LTEM_114.code(Failure.TLS_HANDSHAKE.value, "tx_status")  # 0x85
    extra = ("-cipher", suites, "-no_tls1_3")
    with OpenSslServer(pki, extra_args=extra) as ossl, module_against(pki, ossl.address) as http:
        result = http.get(URL, first_byte_timeout=3.0)
    assert result.path == "tx-tls", f"sent via {result.path}, not frame 0x23"
    if answers:
        assert result.status == 200 and _tx(result) == 0x00, result.summary()
    else:
        assert result.status is None and _tx(result) == handshake, result.summary()


def test_cat1_has_no_cipher_limit_against_the_ecdhe_only_server(pki):
    with (
        HttpsServer(pki, ciphers=ECDHE_ONLY) as srv,
        module_against(pki, srv.address, "cat1-3100C") as http,
    ):
        assert http.get(URL, first_byte_timeout=3.0).status == 200


@pytest.mark.parametrize(
    ("server", "why"),
    [({"long_cn": True}, "CN over 31"), ({"require_sni": True}, "no SNI")],
    ids=["long-cn", "sni-required"],
)
def test_ltem_fails_the_handshake(pki, server, why):
    handshake = firmware.LTEM_114.code(Failure.TLS_HANDSHAKE.value, "tx_status")
    with HttpsServer(pki, **server) as srv, module_against(pki, srv.address) as http:
        result = http.get(URL, first_byte_timeout=3.0)
    assert result.status is None and _tx(result) == handshake, f"{why}: {result.summary()}"
    if server.get("require_sni"):
        assert [h.sni for h in srv.handshakes] == [None] and not srv.handshakes[0].ok
    else:  # the server completed the handshake: the module refused its certificate's CN
        assert srv.wait_for_handshakes(1)[0].ok, srv.handshakes


def test_long_cn_is_fine_without_the_limit(pki):
    with (
        HttpsServer(pki, long_cn=True) as srv,
        module_against(pki, srv.address, "cat1-3100C") as http,
    ):
        assert http.get(URL, first_byte_timeout=3.0).status == 200


def _settings(pki: Pki, key: str, limits: firmware.TlsLimits) -> TlsSettings:
    return TlsSettings(0, pki.read("root_ca"), pki.read("client_cert"), pki.read(key),
                       "TLSv1.2", limits=limits)  # fmt: skip


def test_key_formats_and_v3_client_certificates_per_family(pki):
    cat1, ltem = firmware.CAT1_3100.tls, firmware.LTEM_114.tls
    assert tlsrules.client_context(_settings(pki, "client_key", cat1)).presents_client_cert
    with pytest.raises(TlsConfigError, match="PKCS#1"):  # PKCS#8 not claimed (A-TLS-KEY-PKCS1)
        tlsrules.client_context(_settings(pki, "client_key_pkcs8", cat1))
    reads_pkcs8 = firmware.TlsLimits(key_formats=("pkcs1", "pkcs8"))
    took = tlsrules.client_context(_settings(pki, "client_key_pkcs8", reads_pkcs8))
    assert took.presents_client_cert
    with pytest.raises(TlsConfigError, match="v3") as info:  # D-TLS-101, A-TLS-CLIENT-V3
        tlsrules.client_context(_settings(pki, "client_key", ltem))
    assert info.value.failure is tlsrules.CLIENT_V3_FAILURE
    with pytest.raises(ValueError, match="PKCS#1 is guaranteed"):
        firmware.TlsLimits(key_formats=("pkcs8",))
