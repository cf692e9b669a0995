"""The leftover check's reset is the run's reset (A-BENCH-RECOVER, A-LEFTOVER): with
`device.reset: {method: command}` the command runs (never FR), with `none` the run stops with
one reason and the module is not reset.

A bench without hardware (tests/plugin/benchrig.py: the simulator over RFC 2217, a
hardware-style profile) and a relay on loopback that really power-cycles it when the profile's
command asks (tests/plugin/relayrig.py). The first inner test leaves a socket open in API mode
(its server keeps every connection after answering, as a keep-alive server may), which only a
reset closes (A-LEFTOVER); the second test's set-up must deal with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.capture import read_capture
from tests.plugin.benchrig import BenchRig, start_bench
from tests.plugin.relayrig import Relay

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest", "-rs")
SUITE = """
def test_a_leaves_a_socket(xbee, http_target):
    assert xbee.get(http_target).status == 200
    assert xbee.port.module.api().at("SI").value.strip(), "no socket left open"

def test_b_starts_clean(xbee):
    assert xbee.port.module.api().at("SI").value.strip() == b""
"""
# settle() after a far end left a socket open: the leftover check had to reset, and settle
# says how the reset was really done (`{how}`), as recover() would.
SETTLE = """
def test_a_settles(xbee, http_target, xbee_faults):
    assert xbee.get(http_target).status == 200
    assert xbee_faults.settle() == {how!r}
    xbee_faults.reconfigure()
    assert xbee.get(http_target).status == 200
"""


@pytest.fixture
def relay_bench(tmp_path: Path, stubborn: None) -> Iterator[tuple[BenchRig, Relay]]:
    """The bench and its relay; the profile's reset is set by each test."""
    rig = start_bench(tmp_path / "bench", modes=("api",))
    assert rig.server is not None
    relay = Relay(rig.server)
    try:
        yield rig, relay
    finally:
        relay.stop()
        rig.close()


def _run(
    pytester: pytest.Pytester, rig: BenchRig, reset: object, suite: str = SUITE
) -> pytest.RunResult:
    import yaml

    profile = yaml.safe_load(rig.profile.read_text(encoding="utf-8"))
    profile["device"]["reset"] = reset
    rig.profile.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    pytester.makepyfile(suite)
    return pytester.runpytest(*ARGS, *rig.args("--reports-dir", str(pytester.path / "reports")))


def _resets(pytester: pytest.Pytester, test: str) -> list[str | None]:
    """The `how` of each reset note in `test`'s capture."""
    found = [p for p in (pytester.path / "reports").rglob("*.jsonl") if test in p.name]
    assert found, sorted(p.name for p in (pytester.path / "reports").rglob("*"))
    return [e.get("how") for p in found for e in read_capture(p).events if e.get("ev") == "reset"]


def test_the_leftover_check_resets_by_the_profiles_command(pytester, relay_bench):
    rig, relay = relay_bench
    result = _run(pytester, rig, {"method": "command", "command": relay.command, "timeout": 20})
    result.assert_outcomes(passed=2)
    assert relay.cycles == 1  # the command ran and switched the module, once
    assert _resets(pytester, "test_b_starts_clean") == ["external"]  # not FR


def test_the_leftover_check_with_reset_none_stops_the_run(pytester, relay_bench):
    rig, relay = relay_bench
    result = _run(pytester, rig, "none")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the module needs a reset and the profile forbids one "
                                 "(device.reset: none)*"])  # fmt: skip
    assert _resets(pytester, "test_b_starts_clean") == []
    assert relay.cycles == 0


@pytest.mark.parametrize(("switch", "how"), [(True, "power cycle"), (False, "FR")])
def test_settle_says_how_the_leftover_check_reset(pytester, relay_bench, switch, how):
    rig, relay = relay_bench
    reset = {"method": "command", "command": relay.command, "timeout": 20} if switch else "at"
    result = _run(pytester, rig, reset, SETTLE.format(how=how))
    result.assert_outcomes(passed=1)
    assert relay.cycles == (1 if switch else 0)
