"""device.http blames the module only for what the device layer reports (issue 10, defect 12):
a bug in the harness (here a TypeError injected in a collaborator) surfaces as an error of
the test, not as an `HttpResult` whose error text would point at the module. What the
device layer raises (a timeout, a refused command) still becomes the result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.device.api import ApiClient
from harness.device.command import CommandMode
from harness.device.configure import Configurator
from harness.device.errors import DeviceTimeout
from harness.device.http import Http
from harness.device.module import Module
from harness.device.transport import open_device
from harness.servers import HttpServer
from harness.sim.core import personality as personality_mod


class HarnessBug(TypeError):
    """Stands for any mistake in the harness's own code."""


@pytest.fixture
def rig(request: pytest.FixtureRequest, start_sim: Any) -> Iterator[tuple[Http, Configurator]]:
    ap, name = request.param
    sim = start_sim(name, registering_s=0.1, nvm={"GT": 0x32}, ap=ap, loopback_direct=True)
    tap = open_device(sim.path)
    module = Module(tap, guard_time=0.05)
    conf = Configurator(module)
    conf.wait_registered(timeout=10, poll=0.05)
    yield Http(module, timeout=3), conf
    module.close()
    tap.close()


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise HarnessBug("harness bug")


API = (1, personality_mod.DEFAULT)
SOCKETS = (1, "ltem-11415")
TRANSPARENT = (0, personality_mod.DEFAULT)


@pytest.mark.parametrize(
    ("rig", "where", "call"),
    [
        (API, (ApiClient, "request"), {}),  # 0x20 TX status
        (API, (ApiClient, "wait_for"), {}),  # 0xB0 receive
        (API, (ApiClient, "at"), {"host": "example.invalid"}),  # ATLA lookup
        (SOCKETS, (ApiClient, "socket_create"), {"via": "socket"}),
        (TRANSPARENT, (CommandMode, "get"), {"read_ci": True}),  # CI poll
    ],
    indirect=["rig"],
    ids=["tx-status", "rx-frames", "lookup", "socket-create", "ci-poll"],
)
def test_a_harness_bug_is_an_error_not_a_module_result(
    rig: tuple[Http, Configurator], where: tuple[type, str], call: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    http, conf = rig
    with HttpServer(body=b"hello") as web:
        if conf.module.ensure_mode() == "transparent":
            conf.apply({"IP": 1, "DL": "127.0.0.1", "DE": web.port}, "transparent")
        host = call.pop("host", None)
        url = f"http://{host}/" if host else web.url
        monkeypatch.setattr(*where, _boom)
        with pytest.raises(HarnessBug):
            http.get(url, **call)


@pytest.mark.parametrize("rig", [API], indirect=True)
def test_a_device_timeout_is_still_a_result(
    rig: tuple[Http, Configurator], monkeypatch: pytest.MonkeyPatch
) -> None:
    http, _ = rig

    def timeout(*args: Any, **kwargs: Any) -> Any:
        raise DeviceTimeout("no 0x89 within 3 s")

    monkeypatch.setattr(ApiClient, "request", timeout)
    with HttpServer(body=b"hello") as web:
        result = http.get(web.url)
    assert not result.ok and result.error == "no TX status: no 0x89 within 3 s"
