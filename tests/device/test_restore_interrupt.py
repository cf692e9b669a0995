"""Restores that are checked and loud (issue 9, observation 4).

The simulator runs as a separate process (`xbee-sim --pty --nvm`), the harness sees it as a
real module (a path, a hardware-style profile, no personality). A pytest run of a small suite
changes `$0` and `TM` and is interrupted with SIGINT at several points of a test; the module
is then queried directly and must be back at its starting values. A restore that cannot work
(the module stops answering: the simulator is SIGSTOPped) prints one line naming what was
left changed, and writes it to `reports/restore.txt`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.device.configure import Configurator
from harness.device.module import Module
from harness.device.transport import open_device
from harness.sim.core import personality as personality_mod

WATCHED = ["$0", "TM", "AN", "DL", "IP", "GT", "CT"]  # GT, CT: the short guard (issue 13)
SUITE = """
import os, time
from pathlib import Path

def test_interrupted(xbee, xbee_port):
    conf = xbee_port.configurator
    conf.apply({"$0": "other.crt;;", "TM": 0x20})
    Path(os.environ["XBEE_READY"]).write_text("ready")
    if os.environ["XBEE_BODY"] == "idle":
        time.sleep(120)
    while True:  # busy: the interrupt lands in the middle of an exchange
        for tm in (0x21, 0x22):
            conf.forget()
            conf.apply({"TM": tm, "$0": "busy.crt;;"})
"""
PROFILE = """
name: bench-interrupt
device: {baud: 9600}
network: {apn: bench.apn, registration_timeout: 30}
baseline: {TM: 0x64}
targets:
  http: {url: "http://127.0.0.1:9/"}
modes: [transparent, api]
tls_variants: [no-ca]
"""


def _personality(tmp: Path) -> Path:
    """cat1-3100C with a quick registration (the suite's wait is not what is tested)."""
    path = Path(personality_mod.__file__).parent / "personalities" / "cat1-3100C.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["registration"].update(initializing_s=0.1, registering_s=0.2, connecting_s=0.2)
    out = tmp / "quick.yaml"
    out.write_text(yaml.safe_dump(data), encoding="utf-8")
    return out


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`xbee-sim --pty` in its own process, WR values in an --nvm file."""
    cmd = [str(Path(sys.executable).parent / "xbee-sim"), "--pty",
           "--nvm", str(tmp_path / "nvm.json"),
           "--personality", str(_personality(tmp_path)), "--log-level", "ERROR"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = proc.stdout.readline().strip()
    assert path.startswith("/dev/"), path
    _set(path, {"AN": "carrier.apn"})  # an empty AN cannot be written back (A-RESTORE-EMPTY)
    try:
        yield proc, path
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


def _set(path: str, values: dict[str, Any]) -> None:
    tap = open_device(path)
    module = Module(tap)
    try:
        Configurator(module).apply(values)
    finally:
        module.close()
        tap.close()


def _read(path: str) -> dict[str, Any]:
    """The module's values, asked directly (no harness run around it)."""
    tap = open_device(path)
    module = Module(tap)
    try:
        module.detect_mode()
        values = module.read(WATCHED)
        values["AP"] = module.mode
        return values
    finally:
        module.close()
        tap.close()


def _run(tmp: Path, path: str, mode: str, body: str, delay: float,
         before_sigint: Any = None, allure: bool = False) -> tuple[int, str]:  # fmt: skip
    (tmp / "profile.yaml").write_text(PROFILE, encoding="utf-8")
    (tmp / "test_suite.py").write_text(SUITE, encoding="utf-8")
    ready = tmp / "ready"
    env = {**os.environ, "XBEE_READY": str(ready), "XBEE_BODY": body}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
           "-p", "no:hypothesispytest", "-q", "test_suite.py", "--device", path, "--profile",
           "profile.yaml", "--mode", mode, "--reports-dir", "reports",
           "-o", "timeout=0"]  # fmt: skip
    cmd += ["--alluredir", "allure"] if allure else ["-p", "no:allure_pytest"]
    proc = subprocess.Popen(
        cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), f"the inner run never got going: {proc.communicate()[0][-2000:]}"
    time.sleep(delay)
    if before_sigint is not None:
        before_sigint()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    return proc.returncode, out


@pytest.mark.parametrize(
    ("mode", "body", "delay"),
    [
        ("transparent", "idle", 0.0),  # still in command mode right after the apply
        ("transparent", "idle", 0.3),
        ("transparent", "busy", 0.4),  # mid AT line
        ("transparent", "busy", 1.3),
        ("api", "idle", 0.2),  # API reader running
        ("api", "busy", 0.5),  # mid 0x08 / 0x88
        ("api", "busy", 1.1),
    ],
)
def test_an_interrupted_run_leaves_the_module_as_it_found_it(
    tmp_path: Path, sim: tuple[subprocess.Popen[str], str], mode: str, body: str, delay: float
) -> None:
    _, path = sim
    before = _read(path)
    code, out = _run(tmp_path, path, mode, body, delay)
    assert code == 2, out[-3000:]  # pytest's "interrupted"
    after = _read(path)
    assert after == before, out[-3000:]
    assert "restore of" not in out
    assert not (tmp_path / "reports" / "restore.txt").exists()


def test_a_restore_that_fails_is_one_line_naming_what_was_left(
    tmp_path: Path, sim: tuple[subprocess.Popen[str], str]
) -> None:
    proc, path = sim
    code, out = _run(
        tmp_path, path, "transparent", "idle", 0.1,
        before_sigint=lambda: os.kill(proc.pid, signal.SIGSTOP),  # the module stops answering
        allure=True,
    )  # fmt: skip
    os.kill(proc.pid, signal.SIGCONT)
    lines = [line for line in out.splitlines() if "restore of" in line]
    assert len(lines) == 1, out[-3000:]
    line = lines[0]
    assert line.startswith(f"xbee-hil: restore of {path} failed: left changed: ")
    assert "$0='other.crt;;'" in line and "TM=0x20" in line and "AN='bench.apn'" in line
    assert "(at the end of the run)" in line
    written = (tmp_path / "reports" / "restore.txt").read_text(encoding="utf-8")
    assert written.strip() == line
    env = (tmp_path / "allure" / "environment.properties").read_text(encoding="utf-8")
    assert "restore" in env and "other.crt" in env
    assert code == 2


FAILING = """
def test_a_fails_after_changing_the_module(xbee, xbee_port):
    xbee_port.configurator.apply({"$0": "other.crt;;", "TM": 0x20})
    assert False, "fails on purpose"

def test_b_starts_from_the_run_state(xbee, xbee_port):
    assert xbee_port.module.read(["$0", "TM", "AN"]) == {
        "$0": ";;", "TM": 0x64, "AN": "bench.apn"}
"""


def test_after_a_failed_test_the_next_starts_from_the_runs_state(
    tmp_path: Path, sim: tuple[subprocess.Popen[str], str]
) -> None:
    _, path = sim
    before = _read(path)
    (tmp_path / "profile.yaml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "test_suite.py").write_text(FAILING, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:allure_pytest",
         "-p", "no:hypothesispytest", "-q", "test_suite.py", "--device", path, "--profile",
         "profile.yaml", "--mode", "transparent", "--reports-dir", "reports"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-3000:]
    assert "restore of" not in done.stdout
    assert _read(path) == before
