"""First contact with a module (issue 9, observation 7).

A module left in command mode by a terminal session is found (a `\\rAT\\r` probe ends any
half-typed line); when nothing answers `+++`, the one-line error says what the harness could
see: another program holding the port without a lock (/proc), or bytes the harness did not
cause. A failed open keeps its wire capture in reports/captures.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.device.errors import DeviceTimeout
from harness.device.module import Module
from harness.device.transport import open_device

ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest")


@pytest.fixture
def sim_path(start_sim: Any) -> str:
    return start_sim(registering_s=0.05, nvm={"GT": 0x32}).path  # GT 50 ms: quick guards


@pytest.fixture
def dead_pty() -> Iterator[tuple[int, str]]:
    """A port with nothing behind it: the controller side is ours and never answers."""
    controller, peripheral = os.openpty()
    try:
        yield controller, os.ttyname(peripheral)
    finally:
        os.close(controller)
        os.close(peripheral)


def test_a_module_left_in_command_mode_by_a_terminal_is_found(sim_path: str) -> None:
    # a terminal session: +++, OK, a half-typed line, then the terminal quits (no ATCN)
    term = open_device(sim_path)
    time.sleep(0.06)
    term.write(b"+++")
    term.read_until(b"OK\r", 2.0, what="OK")
    term.write(b"ATD")
    term.close()
    tap = open_device(sim_path)
    module = Module(tap, guard_time=0.05)
    try:
        assert module.detect_mode() == "transparent"
        assert module.read(["AP"]) == {"AP": 0}
    finally:
        module.close()
        tap.close()


def test_a_port_held_by_another_program_without_a_lock_is_named(dead_pty: tuple[int, str]) -> None:
    _, path = dead_pty
    holder = subprocess.Popen(["sleep", "30"], stdin=open(path, "rb"))  # noqa: SIM115
    try:
        tap = open_device(path)  # no flock held by `sleep`: the open succeeds
        module = Module(tap, guard_time=0.02, max_guard_time=0.02)
        with pytest.raises(DeviceTimeout) as err:
            module.detect_mode()
        tap.close()
    finally:
        holder.kill()
        holder.wait()
    text = str(err.value)
    assert "\n" not in text
    assert f"pid {holder.pid} (sleep)" in text and "without a lock" in text


def test_bytes_the_harness_did_not_cause_are_said(dead_pty: tuple[int, str]) -> None:
    controller, path = dead_pty
    stop = threading.Event()

    def chatter() -> None:  # something else on the line: a program, a modem in data mode
        while not stop.is_set():
            os.write(controller, b"RING\r")
            time.sleep(0.01)

    tap = open_device(path)
    module = Module(tap, guard_time=0.02, max_guard_time=0.02)
    t = threading.Thread(target=chatter, daemon=True)
    t.start()
    try:
        with pytest.raises(DeviceTimeout) as err:
            module.detect_mode()
    finally:
        stop.set()
        t.join()
        tap.close()
    assert "bytes arrived that the harness did not ask for" in str(err.value)


def test_a_failed_open_keeps_its_wire_capture(pytester: pytest.Pytester, dead_pty: Any) -> None:
    _, path = dead_pty
    (pytester.path / "bench.yaml").write_text(
        "name: bench\ntargets:\n  http: {url: 'http://127.0.0.1:9/'}\n", encoding="utf-8"
    )
    pytester.makepyfile("def test_one(xbee):\n    pass\n")
    reports = pytester.path / "reports"
    alluredir = pytester.path / "allure"
    result = pytester.runpytest(
        *ARGS[:4], "--device", path, "--profile", "bench.yaml", "--reports-dir", str(reports),
        "--alluredir", str(alluredir),
    )  # fmt: skip
    result.assert_outcomes(errors=1, skipped=2)  # three modes: one reason, the rest skip
    caps = list((reports / "captures").glob("session-*.jsonl"))
    assert len(caps) == 1
    text = caps[0].read_text(encoding="utf-8")
    assert '"ev":"tx"' in text, "the bytes the harness sent are kept"
    assert "no OK to +++" in text  # the reason, noted in the capture
    out = result.stdout.str()
    assert f"wire capture: {caps[0]}" in out
    attached = [
        a for r in alluredir.glob("*-result.json")
        for step in [json.loads(r.read_text())] for a in step.get("attachments", [])
    ] + [
        a for c in alluredir.glob("*-container.json")
        for fix in json.loads(c.read_text()).get("befores", []) for a in fix.get("attachments", [])
    ]  # fmt: skip
    assert any(a["name"] == "session capture.jsonl" for a in attached), attached
