"""Issue 10, defect 6: a connection left open by a keep-alive server must not carry into the
next test. Through the device layer against the simulator on a real pty, with a real TLS
server that keeps every connection open after its response (whatever `Connection: close`
says): root-ca then wrong-ca must give wrong-ca its own verdict (a TLS authentication
failure), and `close_leftover_connections` leaves the module with no connection."""

from __future__ import annotations

import time

import pytest

from harness.device.configure import Configurator
from harness.device.files import Files
from harness.device.http import Http
from harness.device.leftovers import close_leftover_connections
from harness.device.module import Module
from harness.device.transport import open_device
from harness.profiles import BUILTIN_PROFILE_DIR
from harness.pytest_plugin.simrig import start_rig
from harness.sim.core.effects import Failure
from harness.sim.core.personality import load

LTEM = "ltem-11415"
URL = "https://google.com/"


@pytest.fixture
def bench(tmp_path, stubborn):
    with start_rig(LTEM, tmp_path) as rig:
        tap = open_device(rig.path, rig.baud)
        module = Module(tap, guard_time=rig.guard_time, **rig.command_timing)
        try:
            conf = Configurator(module)
            conf.wait_registered(10)
            files = Files(module)
            files.put(rig.pki.read("root_ca"), "root.crt")
            files.put(rig.pki.read("wrong_ca"), "other.crt")
            yield rig, conf
        finally:
            module.close()
            tap.close()


def run_variant(rig, conf: Configurator, mode: str, profile: str):
    wanted = {"$0": profile}
    if mode == "transparent":
        wanted |= {"IP": 4, "DL": "google.com", "DE": 443}
    conf.apply(wanted, mode)
    return Http(conf.module).get(URL, first_byte_timeout=rig.first_byte_timeout,
                                 read_ci=mode == "transparent")


def open_connections(rig) -> int:
    """Connections the HTTPS server still holds (a closed socket's fileno is -1)."""
    return sum(c.fileno() != -1 for c in list(rig.servers["https"]._conns))


@pytest.mark.parametrize("mode", ["transparent", "api"])
def test_wrong_ca_after_root_ca_fails_for_its_own_reason(bench, mode):
    """The original report: wrong-ca ran over root-ca's session and passed. The simulator
    now opens a new connection when `$0` changed (A-TLS-REUSE), so wrong-ca fails its
    handshake with the TLS-authentication code of its firmware."""
    rig, conf = bench
    first = run_variant(rig, conf, mode, "root.crt;;")
    assert first.status == 200, first.summary()
    second = run_variant(rig, conf, mode, "other.crt;;")
    assert second.status is None, second.summary()
    kind = "ci" if mode == "transparent" else "tx_status"
    want = load(LTEM).code(Failure.TLS_AUTH, kind)
    if kind == "ci" and load(LTEM).quirk("transparent_tls_failure_leaves_ci"):
        want = 0xFF  # A-CI-TLS-FF: no code written (F-HTTPS reply 1)
    assert second.code(kind) is not None and second.code(kind).value == want, second.summary()
    hs = rig.servers["https"].wait_for_handshakes(2)
    assert [h.ok for h in hs[:2]] == [True, False]


@pytest.mark.parametrize("mode", ["transparent", "api"])
def test_same_profile_changed_file_is_a_new_connection(bench, mode):
    """The same `$0` text naming a file whose content changed (an upload between tests) is
    not the same profile (A-TLS-REUSE): the next request makes a new handshake."""
    rig, conf = bench
    assert run_variant(rig, conf, mode, "root.crt;;").status == 200
    Files(conf.module).put(rig.pki.read("wrong_ca"), "root.crt")  # same name, other CA
    second = run_variant(rig, conf, mode, "root.crt;;")
    assert second.status is None, second.summary()


@pytest.mark.parametrize("mode", ["transparent", "api"])
def test_close_leftover_connections_leaves_none(bench, mode):
    """After a keep-alive exchange the module holds a connection; the device layer closes
    it and checks, bounded, and a second call finds nothing to close."""
    rig, conf = bench
    assert run_variant(rig, conf, mode, "root.crt;;").status == 200
    assert open_connections(rig) == 1  # the server kept it
    assert close_leftover_connections(conf) == 1
    deadline = time.monotonic() + 10  # a bound for the server thread to see the close
    while open_connections(rig) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_connections(rig) == 0
    assert close_leftover_connections(conf) == 0
    again = run_variant(rig, conf, mode, "root.crt;;")  # the module still works after
    assert again.status == 200, again.summary()


# ----- the `xbee` fixture: each test starts with no connection of an earlier one ------------


INNER_CONFTEST = '''
import pytest
from harness.servers import http as http_servers

@pytest.fixture(autouse=True)
def stubborn(monkeypatch):
    answer = http_servers._Handler._answer
    def keep_open(self, body_in, *, head=False):
        answer(self, body_in, head=head)
        self.close_connection = False
    monkeypatch.setattr(http_servers._Handler, "_answer", keep_open)
'''

INNER_TEST = '''
from harness import variants

import time

def held(xbee):
    https = xbee.port.device.rig.servers["https"]
    return sum(c.fileno() != -1 for c in list(https._conns))

def held_after_close(xbee, bound=5.0):
    """The server's thread sees the module's close a moment later (its own recv); TM is 0,
    so a connection the fixture did not close stays held past any bound."""
    deadline = time.monotonic() + bound
    while held(xbee) and time.monotonic() < deadline:
        time.sleep(0.02)
    return held(xbee)

def test_https_get(xbee, https_target, tls_variant):
    assert held_after_close(xbee) == 0, "a connection of an earlier test is still open"
    result = xbee.get(https_target)
    if variants.get(tls_variant).expects_success:
        assert result.status == 200, result.summary()
        assert held(xbee) == 1  # the keep-alive server kept it for the next test
    else:
        assert result.status is None, result.summary()
'''


@pytest.mark.parametrize("mode", ["transparent", "api"])
def test_xbee_fixture_starts_each_test_with_no_connection(pytester, mode):
    """root-ca then wrong-ca through the plugin: the second test starts with the server
    holding nothing (the fixture closed the first test's connection) and fails for its own
    reason."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(INNER_TEST)
    profile = (BUILTIN_PROFILE_DIR / "sim.yaml").read_text()
    # TM 0: the module never closes an idle connection (A-TRANSP-TM0), as a long TM on a
    # bench; with the profile's 10 s the fast timing closes it between tests by itself
    (pytester.path / "keep.yaml").write_text(profile.replace("TM: 0x64", "TM: 0"))
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest",
        "--profile", "keep.yaml", "--device", f"sim:{LTEM}", "--mode", mode,
        # (the profile's order) root-ca, wrong-ca, path-absolute, path-relative: the last two
        # name root-ca's file by other paths, the same profile to the module (A-TLS-REUSE),
        # so only the fixture's close keeps path-relative apart from path-absolute
        "--tls-variant", "root-ca", "--tls-variant", "wrong-ca",
        "--tls-variant", "path-absolute", "--tls-variant", "path-relative",
        "--reports-dir", str(pytester.path / "reports"),
    )
    result.assert_outcomes(passed=4)
