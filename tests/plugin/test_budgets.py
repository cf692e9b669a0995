"""Session-level waits have their own budgets (issue 9, observation 5): a registration longer
than the per-test timeout is waited for within the profile's budget, with the AI transitions
on the terminal; one longer than its budget is the one-reason stop, the rest skipped.

The module is `xbee-sim` on a pty, driven as a bench module (no personality in the profile),
with a personality whose registration takes 8 s: longer than the 3 s per-test timeout."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sim.core import personality as personality_mod

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest")
PER_TEST = "3"  # seconds: pytest-timeout for each test
TESTS = """
def test_one(xbee_port):
    assert xbee_port.firmware["VR"] == "3100C"

def test_two(xbee_port):
    pass

def test_three(xbee_port):
    pass
"""


@pytest.fixture
def slow_bench(tmp_path: Path) -> Iterator[str]:
    """`xbee-sim --pty` whose registration takes 1 + 6 + 1 s (AI 0xFF, 0x22, 0x23)."""
    text = personality_mod.load("cat1-3100C").path.read_text(encoding="utf-8")
    text = re.sub(r"initializing_s: [\d.]+", "initializing_s: 1.0", text)
    text = re.sub(r"registering_s: [\d.]+", "registering_s: 6.0", text)
    text = re.sub(r"connecting_s: [\d.]+", "connecting_s: 1.0", text)
    slow = tmp_path / "slow-registration.yaml"
    slow.write_text(text, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.sim", "--pty", "--no-network",
         "--personality", str(slow)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), proc.stderr.read()
        yield path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)


def _profile(pytester: pytest.Pytester, registration: float) -> str:
    path = pytester.path / f"bench-{registration:g}.yaml"
    path.write_text(
        "name: bench\ndevice:\n  baud: 9600\n"
        f"network:\n  apn: bench.apn\n  registration_timeout: {registration}\n"
        "targets:\n  http:\n    url: http://example.com/\nmodes: [transparent]\n"
        "tls_variants: []\n",
        encoding="utf-8",
    )
    return str(path)


def test_a_registration_over_its_budget_stops_the_run(
    pytester: pytest.Pytester, slow_bench: str
) -> None:
    """The module is still registering when the budget ends: one reason, the rest skipped."""
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess(
        *ARGS, "-o", f"timeout={PER_TEST}", "--device", slow_bench,
        "--profile", _profile(pytester, 1.5), "-rs",
    )  # fmt: skip
    out = result.stdout.str()
    result.assert_outcomes(errors=1, skipped=2)
    assert "Timeout" not in out, out
    assert re.search(r"run stopped: module broken: .*AI", out), out
    assert out.count("SKIPPED [2]") == 1 and "module broken" in out


def test_a_slow_registration_is_waited_for_within_its_budget(
    pytester: pytest.Pytester, slow_bench: str
) -> None:
    """A module just powered up (its own simulator): the run waits out a registration
    longer than the per-test timeout and says what it waits for."""
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess(
        *ARGS, "-o", f"timeout={PER_TEST}", "--device", slow_bench,
        "--profile", _profile(pytester, 60),
    )  # fmt: skip
    out = result.stdout.str()
    result.assert_outcomes(passed=3)
    lines = [line for line in out.splitlines() if line.startswith("xbee-hil: registration: AI")]
    assert lines, out
    assert any("0x00" in line for line in lines), lines  # the transition to connected
    assert any(re.search(r"AI 0x2[23] ", line) for line in lines), lines  # with its meaning
