"""A short guard time for the run (issue 13): written after the first entry, restored at the end.

The simulator runs as its own process (`xbee-sim --pty`, real time), the harness sees it as a
real module (a path, a hardware-style profile). An inner pytest run records the GT and CT the
module has during its tests; the module is then asked directly: it must have the GT and CT
it started with, after a passing run and after a failed test (the SIGINT cases are in
tests/device/test_restore_interrupt.py, which watches GT and CT too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.device.guard import SHORT_CT, SHORT_GT, short_guard
from harness.device.module import Module
from harness.device.transport import open_device
from harness.sim.core import personality as personality_mod

SUITE = """
import json, os
from pathlib import Path

def _seen(xbee_port, name):
    values = xbee_port.module.read(["GT", "CT"])
    Path(os.environ["XBEE_SEEN"], name).write_text(json.dumps(values))

def test_a_fails(xbee, xbee_port):
    _seen(xbee_port, "a")
    assert False, "fails on purpose"

def test_b_passes(xbee, xbee_port):
    _seen(xbee_port, "b")
"""
PROFILE = """
name: bench-guard
device: {{baud: 9600, short_guard_time: {short}}}
network: {{registration_timeout: 30}}
targets:
  http: {{url: "http://127.0.0.1:9/"}}
modes: [transparent]
"""


def test_the_short_guard_is_written_only_where_it_is_shorter() -> None:
    assert short_guard(1.0) == {"GT": SHORT_GT, "CT": SHORT_CT}
    assert SHORT_GT < 0x3E8  # D-GT default
    assert short_guard(1.0, enabled=False) == {}
    assert short_guard(0.01) == {}  # fast timing: the module's 1 s is 10 ms already
    assert 0x64 < short_guard(0.05)["GT"] < 0x3E8  # floored at 10 ms real


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[str]:
    """`xbee-sim --pty` in its own process, with a quick registration."""
    src = Path(personality_mod.__file__).parent / "personalities" / "cat1-3100C.yaml"
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    data["registration"].update(initializing_s=0.1, registering_s=0.2, connecting_s=0.2)
    quick = tmp_path / "quick.yaml"
    quick.write_text(yaml.safe_dump(data), encoding="utf-8")
    cmd = [str(Path(sys.executable).parent / "xbee-sim"), "--pty", "--nvm",
           str(tmp_path / "nvm.json"), "--personality", str(quick), "--log-level", "ERROR"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = proc.stdout.readline().strip()
    assert path.startswith("/dev/"), path
    try:
        yield path
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


def _read(path: str) -> dict[str, Any]:
    tap = open_device(path)
    module = Module(tap)
    try:
        return module.read(["GT", "CT"])
    finally:
        module.close()
        tap.close()


def _run(tmp: Path, path: str, short: bool) -> tuple[str, dict[str, dict[str, int]]]:
    (tmp / "profile.yaml").write_text(PROFILE.format(short=str(short).lower()), "utf-8")
    (tmp / "test_suite.py").write_text(SUITE, encoding="utf-8")
    seen = tmp / "seen"
    seen.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:allure_pytest",
         "-p", "no:hypothesispytest", "-q", "test_suite.py", "--device", path, "--profile",
         "profile.yaml", "--reports-dir", "reports", "-o", "timeout=0"],
        cwd=tmp, env={**os.environ, "XBEE_SEEN": str(seen)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    got = {p.name: json.loads(p.read_text()) for p in seen.iterdir()}
    return done.stdout, got


def test_a_run_has_a_short_guard_and_ends_with_the_modules_own(
    tmp_path: Path, sim: str
) -> None:
    before = _read(sim)
    assert before == {"GT": 0x3E8, "CT": 0x64}  # the factory values (D-GT, D-ENTER)
    out, seen = _run(tmp_path, sim, short=True)
    assert "1 failed, 1 passed" in out, out[-3000:]
    assert "restore of" not in out
    # during the run, also in the test after the failed one (restored to the run's state)
    assert seen == {"a": {"GT": SHORT_GT, "CT": SHORT_CT}, "b": {"GT": SHORT_GT, "CT": SHORT_CT}}
    assert _read(sim) == before


def test_short_guard_time_off_keeps_the_production_guard(tmp_path: Path, sim: str) -> None:
    before = _read(sim)
    out, seen = _run(tmp_path, sim, short=False)
    assert "1 failed, 1 passed" in out, out[-3000:]
    assert seen == {"a": before, "b": before}
    assert _read(sim) == before
