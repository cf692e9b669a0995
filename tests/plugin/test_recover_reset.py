"""`recover()` resets the module the way every reset of the run is done, by the profile's
`device.reset` (issue 11, item 6; A-BENCH-RECOVER): FR with `at` while the module answers; the
profile's power switch with `power` or a `command`, whether it answers or not, never FR first;
one reason that stops the run when the profile forbids a reset (`none`) or has no switch for a
silent module (`at`). A real simulated module on a pty, inner pytest runs.
"""

from __future__ import annotations

import pytest

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest",
        "-rs", "--device", "sim:cat1-3100C")  # fmt: skip
# The inner suites: test_a needs a recovery (`{how}`: what recover() must say it did),
# test_b must find the module back and registered. The capture's reset notes say which way
# the harness really reset (FR, or "power" for the device's own switch).
FROZEN = """
import pytest
from harness.device.errors import DeviceError

@pytest.mark.xbee_fault("freeze-after:0")
def test_a_frozen(xbee, xbee_faults):
    with pytest.raises(DeviceError):
        xbee.port.module.api().at("AI", timeout=0.3)
    assert xbee_faults.recover() == {how!r}
"""
ANSWERING = """
from harness.capture import read_capture

def test_a_answering(xbee, xbee_faults, xbee_capture):
    assert xbee_faults.recover() == {how!r}
    notes = [e.get("how") for e in read_capture(xbee_capture.path).events
             if e.get("ev") == "reset"]
    assert notes == [{note!r}], notes
"""
NEXT = """
def test_b_next(xbee):
    assert xbee.port.module.read(["AI"])["AI"] == 0
"""
FAILING = "{method: command, command: 'false', timeout: 5}"
STOPPED = "run stopped: module broken: "


@pytest.fixture
def run(pytester: pytest.Pytester):
    """`run(reset, suite, **fields)`: the suite (formatted with `fields`) then test_b, with a
    profile whose `device.reset` is `reset`."""

    def go(reset: str, suite: str, **fields: str) -> pytest.RunResult:
        pytester.makefile(".yaml", p=f"name: p\ndevice:\n  personality: cat1-3100C\n"
                                     f"  reset: {reset}\nmodes: [api]\n")  # fmt: skip
        pytester.makepyfile(suite.format(**fields) + NEXT)
        return pytester.runpytest(*ARGS, "--profile", "p.yaml")

    return go


@pytest.mark.parametrize(("reset", "suite", "fields"), [
    pytest.param("power", FROZEN, {"how": "power cycle"}, id="power-frozen"),
    # the module answers: the switch all the same, not FR (the capture says power)
    pytest.param("power", ANSWERING, {"how": "power cycle", "note": "power"}, id="power-answering"),
    pytest.param("at", ANSWERING, {"how": "FR", "note": "FR"}, id="at-answering"),
])  # fmt: skip
def test_recovered_the_profiles_way_and_the_next_test_passes(run, reset, suite, fields):
    result = run(reset, suite, **fields)
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(("reset", "suite", "line"), [
    pytest.param("at", FROZEN,
                 "module does not answer (*) and the profile resets it by ATFR only "
                 "(device.reset: at)*", id="at-frozen"),
    pytest.param("none", ANSWERING,
                 "the module needs a reset and the profile forbids one (device.reset: none)",
                 id="none-answering"),
    # the command is really run: one that fails names itself and its exit status, for a
    # silent module and for one that answers (no FR first)
    pytest.param(FAILING, FROZEN,
                 "module not back after a power cycle (device.reset: command): reset command "
                 "'false' exited with 1*", id="command-frozen"),
    pytest.param(FAILING, ANSWERING,
                 "module not back after a power cycle (device.reset: command): reset command "
                 "'false' exited with 1*", id="command-answering"),
])  # fmt: skip
def test_a_recovery_the_profile_cannot_make_stops_the_run(run, reset, suite, line):
    result = run(reset, suite, how="-", note="-")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines([STOPPED + line])
