"""`recover()` resets the module the way the profile's `device.reset` says (issue 11, item 6;
A-BENCH-RECOVER): FR while it answers, the profile's power switch (`power`, a `command`) when
it is silent, and one reason that stops the run when the profile forbids a reset (`none`) or
has no switch for a silent module (`at`). A real simulated module on a pty, inner pytest runs.
"""

from __future__ import annotations

import pytest

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest",
        "-rs", "--device", "sim:cat1-3100C")  # fmt: skip
FROZEN = """
import pytest
from harness.device.errors import DeviceError

@pytest.mark.xbee_fault("freeze-after:0")
def test_a_frozen(xbee, xbee_faults):
    with pytest.raises(DeviceError):
        xbee.port.module.api().at("AI", timeout=0.3)
    assert xbee_faults.recover() == "power cycle"

def test_b_next(xbee):
    assert xbee.port.module.read(["AI"])["AI"] == 0
"""
ANSWERING = """
def test_a_answering(xbee, xbee_faults):
    assert xbee_faults.recover() == "FR"

def test_b_next(xbee):
    assert xbee.port.module.read(["AI"])["AI"] == 0
"""


def _run(pytester: pytest.Pytester, reset: str, suite: str) -> pytest.RunResult:
    pytester.makefile(".yaml", p=f"name: p\ndevice:\n  personality: cat1-3100C\n"
                                 f"  reset: {reset}\nmodes: [api]\n")  # fmt: skip
    pytester.makepyfile(suite)
    return pytester.runpytest(*ARGS, "--profile", "p.yaml")


def test_power_cycles_a_frozen_module_and_the_next_test_passes(pytester: pytest.Pytester):
    result = _run(pytester, "power", FROZEN)
    result.assert_outcomes(passed=2)


def test_at_only_stops_the_run_for_a_frozen_module(pytester: pytest.Pytester):
    result = _run(pytester, "at", FROZEN)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "run stopped: module broken: module does not answer (*) and the profile resets it "
        "by ATFR only (device.reset: at)*",
    ])  # fmt: skip


def test_none_stops_the_run_without_touching_the_module(pytester: pytest.Pytester):
    result = _run(pytester, "none", ANSWERING)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "run stopped: module broken: the module needs a reset and the profile forbids one "
        "(device.reset: none)",
    ])  # fmt: skip


def test_a_command_switch_is_run_for_a_frozen_module(pytester: pytest.Pytester):
    """The command is really run: one that fails names itself and its exit status."""
    result = _run(pytester, "{method: command, command: 'false', timeout: 5}", FROZEN)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "run stopped: module broken: module does not answer (*), not even after a power "
        "cycle: reset command 'false' exited with 1*",
    ])  # fmt: skip


def test_a_command_switch_still_uses_fr_while_the_module_answers(pytester: pytest.Pytester):
    result = _run(pytester, "{method: command, command: 'false', timeout: 5}", ANSWERING)
    result.assert_outcomes(passed=2)
