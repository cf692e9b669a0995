"""The profile's APN reaches the module (issue 9, observation 3).

`network.apn`, `apn_user` and `apn_password` are applied when the port opens, like any
other parameter: only what differs, AN read back, a registration wait after the change, and
the values hidden in the session's capture file. The simulator re-attaches on an APN change
(A-SIM-APN-REATTACH), so the wait is real.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness.device.configure import Configurator, network_params
from harness.device.module import Module
from harness.device.transport import open_device
from harness.profiles import BUILTIN_PROFILE_DIR
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest")
PASSWORD = "s3cret-Pw9"
USER = "apn-user-77"
SIM_PROFILE = BUILTIN_PROFILE_DIR / "sim.yaml"


def test_network_params_come_from_the_profile_block() -> None:
    assert network_params("private.apn", USER, PASSWORD) == {
        "AN": "private.apn", "CU": USER, "CW": PASSWORD,
    }  # fmt: skip
    assert network_params(None, None, None) == {}
    assert network_params("only.apn", None, None) == {"AN": "only.apn"}


def test_the_simulator_reattaches_after_an_apn_change(tmp_path: Path) -> None:
    p = copy.copy(personality_mod.load())
    p.registration = p.registration.model_copy(
        update={"initializing_s": 0.05, "registering_s": 0.05, "connecting_s": 0.6}
    )
    server = SimServer(Modem(p, nvm={"GT": 0x32}, ap=1))
    tap = open_device(server.start_pty())
    module = Module(tap, guard_time=0.05)
    conf = Configurator(module)
    try:
        conf.wait_registered(timeout=10, poll=0.05)
        report = conf.apply({"AN": "private.apn"})
        assert [c.name for c in report.changes] == ["AN"]
        assert report.network_changed
        assert module.read(["AI"])["AI"] == 0x23  # connecting again: a new data context
        assert conf.wait_registered(timeout=10, poll=0.05) > 0
        assert server.call(lambda m: m.param("AN")) == "private.apn"
        again = conf.apply({"AN": "private.apn"})  # diff-only: nothing to write
        assert again.changes == [] and not again.network_changed
    finally:
        module.close()
        tap.close()
        server.stop()


SUITE = """
def test_the_module_has_the_profiles_apn(xbee_port):
    assert xbee_port.module.read(["AN"]) == {"AN": "private.apn"}
    sent = xbee_port.device.rig.server.call(lambda m: (m.param("CU"), m.param("CW")))
    assert sent == ({USER!r}, {PASSWORD!r})
""".replace("{USER!r}", repr(USER)).replace("{PASSWORD!r}", repr(PASSWORD))


def test_a_run_writes_the_profiles_apn_and_hides_the_secrets(pytester: pytest.Pytester) -> None:
    (pytester.path / "apn.yaml").write_text(
        f"extends: {SIM_PROFILE}\nname: apn\n"
        f"network:\n  apn: private.apn\n  apn_user: {USER}\n  apn_password: {PASSWORD}\n",
        encoding="utf-8",
    )
    pytester.makepyfile(SUITE)
    reports = pytester.path / "reports"
    result = pytester.runpytest(*ARGS, "--profile", "apn.yaml", "--reports-dir", str(reports))
    result.assert_outcomes(passed=1)
    session_caps = sorted((reports / "captures").glob("session-*.jsonl"))
    assert session_caps, "the session's own traffic (open, APN, restore) has a capture file"
    text = session_caps[0].read_text(encoding="utf-8")
    events = [json.loads(line) for line in text.splitlines()]
    sent = b"".join(
        bytes.fromhex(e["hex"]) for e in events if e.get("ev") == "tx" and "hex" in e
    )
    assert b"ANprivate.apn" in sent  # the APN itself is not a secret
    assert any("CW" in (e.get("redacted") or []) for e in events), "CW write marked redacted"
    assert any("CU" in (e.get("redacted") or []) for e in events), "CU write marked redacted"
    for path in reports.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            assert PASSWORD.encode() not in body, f"password in {path}"
            assert PASSWORD.encode().hex().encode() not in body, f"password (hex) in {path}"
            assert USER.encode() not in body, f"APN user in {path}"
