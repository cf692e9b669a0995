"""device.http against the simulator on a real pty, with real local servers on loopback:
GET/POST in transparent mode, over 0x20/0x23 frames and extended sockets, and the forum
thread's failure (a non-self-signed leaf as $0's CA) as a result carrying CI / TX codes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.capture import CaptureWriter
from harness.device.configure import Configurator
from harness.device.files import Files
from harness.device.http import Http
from harness.device.module import Module
from harness.device.transport import Tap, open_device
from harness.servers import HttpServer, HttpsServer, Pki
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.sim.host.server import SimServer

GOOGLE_IP = "142.250.64.78"  # what the simulated DNS answers for google.com


@dataclass
class Rig:
    server: SimServer
    tap: Tap
    module: Module
    conf: Configurator
    http: Http
    files: Files


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Any]:
    made: list[Rig] = []

    def make(
        *,
        ap: int | None = None,
        personality: str = personality_mod.DEFAULT,
        routes: dict[str, str] | None = None,
        no_route_timeout: float = 5.0,
    ) -> Rig:
        p = copy.copy(personality_mod.load(personality))  # cached and shared: change a copy
        p.registration = p.registration.model_copy(
            update={"initializing_s": 0.05, "registering_s": 0.1, "connecting_s": 0.05}
        )
        modem = Modem(p, nvm={"GT": 0x32}, ap=ap)
        net = Network(
            NetworkConfig(
                hosts={"google.com": GOOGLE_IP},
                routes=routes or {},
                no_route_timeout=no_route_timeout,
                loopback_direct=True,  # DL=127.0.0.1 in the transparent tests
            )
        )
        server = SimServer(modem, net)
        path = server.start_pty()
        cap = CaptureWriter(tmp_path / f"capture{len(made)}.jsonl", test="http", device=path)
        tap = open_device(path, capture=cap)
        module = Module(tap, guard_time=0.05)
        rig = Rig(
            server, tap, module, Configurator(module), Http(module, timeout=10), Files(module)
        )
        made.append(rig)
        rig.conf.wait_registered(timeout=10, poll=0.05)
        return rig

    yield make
    for rig in made:
        rig.module.close()
        rig.tap.close()
        rig.server.stop()


def test_get_in_transparent_mode(make_rig: Any) -> None:
    with HttpServer(body=b"plain hello") as web:
        rig = make_rig()
        rig.conf.apply({"IP": 1, "DL": "127.0.0.1", "DE": web.port}, "transparent")
        result = rig.http.get(web.url + "index.html")
        assert result.ok, result.summary()
        assert result.path == "transparent" and result.status == 200
        assert result.body == b"plain hello"
        assert result.timings.first_byte is not None
        assert 0 < result.timings.first_byte <= result.timings.total
        assert web.requests[0].path == "/index.html"
        assert result.codes == []  # CI is read only when asked or when nothing came
        again = rig.http.get(web.url, read_ci=True)
        assert again.ok and again.code("ci") is not None


def test_get_and_post_over_tx_frames(make_rig: Any) -> None:
    with HttpServer(body=b"api hello") as web:
        rig = make_rig(ap=1)
        got = rig.http.get(web.url)
        assert got.ok, got.summary()
        assert got.path == "tx-ipv4" and got.body == b"api hello"
        tx = got.code("tx_status")
        assert tx is not None and tx.value == 0 and tx.meaning == "Successful transmit"
        assert got.timings.connect is not None and got.timings.first_byte is not None
        posted = rig.http.post(web.url + "form", b"a=1&b=2")
        assert posted.ok and posted.body == b"a=1&b=2"
        assert web.requests[-1].method == "POST"


def test_get_over_escaped_api_by_host_name(make_rig: Any) -> None:
    with HttpServer(body=b"by name") as web:
        rig = make_rig(ap=2, routes={f"{GOOGLE_IP}:80": f"127.0.0.1:{web.port}"})
        result = rig.http.get("http://google.com/", resolve=GOOGLE_IP)
        assert result.ok, result.summary()
        assert result.body == b"by name"
        assert web.requests[0].headers["Host"] == "google.com"


def test_a_failed_module_lookup_is_a_result_naming_atla(make_rig: Any) -> None:
    rig = make_rig(ap=1)
    result = rig.http.get("http://nowhere.invalid/")  # 0x20 needs an IPv4: ATLA first
    assert result.status is None and not result.ok
    assert result.error is not None and result.error.startswith("ATLA nowhere.invalid")
    assert result.code("at_status") is not None


def test_get_over_an_extended_socket(make_rig: Any) -> None:
    with HttpServer(body=b"socket hello") as web:
        rig = make_rig(ap=1, personality="ltem-11415")
        result = rig.http.get(web.url, via="socket")
        assert result.ok, result.summary()
        assert result.path == "socket" and result.body == b"socket hello"
        assert result.code("socket_status") is not None


def test_https_with_the_root_as_ca_works_in_transparent_mode(make_rig: Any, pki: Pki) -> None:
    with HttpsServer(pki, body=b"secret hello") as web:
        rig = make_rig(routes={f"{GOOGLE_IP}:443": f"127.0.0.1:{web.port}"})
        rig.files.put(pki.path("root_ca"), "root.crt")
        rig.conf.apply(
            {"IP": 4, "DL": "google.com", "DE": "1BB", "$0": "root.crt;;"}, "transparent"
        )
        result = rig.http.get("https://google.com/")
        assert result.ok, result.summary()
        assert result.body == b"secret hello"
        assert web.handshakes[0].ok and web.handshakes[0].sni is None  # no SNI (D-XS p.167)


def test_forum_leaf_as_ca_in_transparent_mode_gives_ci_0x26(make_rig: Any, pki: Pki) -> None:
    """F-HTTPS: `$0=wgc.crt;;` with google.com's leaf (not self-signed) → no response,
    CI 0x26 on the Cat 1 3100C, because the module takes only a self-signed root as CA."""
    with HttpsServer(pki) as web:
        rig = make_rig(routes={f"{GOOGLE_IP}:443": f"127.0.0.1:{web.port}"})
        rig.files.put(pki.path("server_cert"), "wgc.crt")
        rig.conf.apply({"IP": 4, "DL": "google.com", "DE": "1BB", "$0": "wgc.crt;;"}, "transparent")
        result = rig.http.get("https://www.google.com/", first_byte_timeout=1)
        assert result.status is None and not result.ok
        ci = result.code("ci")
        assert ci is not None and ci.value == 0x26, result.summary()
        assert ci.meaning == "Connection refused"
        assert "ci=0x26 Connection refused" in result.summary()
        assert web.wait_for_handshakes(1)[0].ok is False  # the module hung up in the handshake


def test_forum_leaf_as_ca_over_0x23_gives_a_tx_status(make_rig: Any, pki: Pki) -> None:
    with HttpsServer(pki) as web:
        rig = make_rig(ap=1, routes={f"{GOOGLE_IP}:443": f"127.0.0.1:{web.port}"})
        rig.files.put(pki.path("server_cert"), "wgc.crt")
        rig.conf.apply({"$1": "wgc.crt;;"})
        result = rig.http.get("https://google.com/", tls_profile=1, resolve=GOOGLE_IP)
        assert result.path == "tx-tls" and result.status is None
        tx = result.code("tx_status")
        assert tx is not None and tx.value == 0x8B, result.summary()
        assert tx.meaning == "TLS Socket Authentication Error"
        assert result.error and "transmit failed" in result.error


def test_no_server_is_a_result_not_an_exception(make_rig: Any) -> None:
    rig = make_rig(ap=1, no_route_timeout=0.5)
    result = rig.http.get("http://10.255.255.1:81/", timeout=20)  # no route: never answers
    assert result.status is None and not result.ok
    tx = result.code("tx_status")
    assert tx is not None and tx.value != 0 and tx.meaning
