"""`harness/replay/` is the one home of record / replay / diff: `capture diff` works with the
simulator unimportable, and `python -m harness.replay` serves a deck's cassette and diffs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from harness.capture import RX, TX, CaptureWriter
from harness.device.transport import open_device
from harness.replay.cassette import cassette_path
from harness.xbee import api

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
VR_Q = api.encode(api.ATCommand(1, "VR"))
VR_A = api.encode(api.ATCommandResponse(1, "VR", 0, bytes.fromhex("03100C")))
CI_Q = api.encode(api.ATCommand(2, "CI"))


def craft(path: Path, test: str, events: list[tuple[str, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with CaptureWriter(path, test=test, device="pty") as w:
        for direction, data in events:
            w.wire(direction, data)
    return path


def ci_session(path: Path, code: int) -> Path:
    answer = api.encode(api.ATCommandResponse(2, "CI", 0, bytes((code,))))
    return craft(path, "t.py::test_ci", [(TX, VR_Q), (RX, VR_A), (TX, CI_Q), (RX, answer)])


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=ENV, timeout=60, cwd=ROOT)  # fmt: skip


BLOCK_SIM = "import sys; sys.modules['harness.sim'] = None\n"  # any `import harness.sim…` fails


def test_the_blocker_really_blocks_the_simulator() -> None:
    proc = run(BLOCK_SIM + "import harness.replay.device")
    assert proc.returncode != 0 and "harness.sim" in proc.stderr


def test_capture_diff_runs_with_the_simulator_unimportable(tmp_path: Path) -> None:
    a, b = ci_session(tmp_path / "a.jsonl", 0x00), ci_session(tmp_path / "b.jsonl", 0x26)
    code = BLOCK_SIM + (
        "from harness.cli import main\n"
        "import harness.replay.diff\n"
        "raise SystemExit(main(['capture', 'diff', sys.argv[1], sys.argv[2]]))\n"
    )
    proc = run(code, str(a), str(b))
    assert proc.returncode == 1, proc.stderr
    assert "CI 0x26 Connection refused" in proc.stdout
    assert "harness.sim" not in proc.stderr


def test_python_m_harness_replay_diff(tmp_path: Path) -> None:
    a, b = ci_session(tmp_path / "a.jsonl", 0x00), ci_session(tmp_path / "b.jsonl", 0x00)
    proc = subprocess.run([sys.executable, "-m", "harness.replay", "diff", str(a), str(b)],
                          capture_output=True, text=True, env=ENV, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "equivalent: the module answered the same" in proc.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ev":"header"}\n')
    proc = subprocess.run([sys.executable, "-m", "harness.replay", "diff", str(a), str(bad)],
                          capture_output=True, text=True, env=ENV, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert f"{bad}:1: not an xbee-hil capture" in proc.stderr and "Traceback" not in proc.stderr


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "harness.replay", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)  # fmt: skip


def test_serve_dir_serves_the_named_tests_cassette_on_a_pty(tmp_path: Path) -> None:
    deck = tmp_path / "deck"
    nodeid = "suites/test_x.py::test_vr[api]"
    craft(cassette_path(deck, nodeid), nodeid, [(TX, VR_Q), (RX, VR_A)])
    proc = _serve(str(deck), "--test", nodeid, "--pty", "--until-done")
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read() if proc.stderr else ""
        tap = open_device(port)
        try:
            tap.write(VR_Q)
            got, deadline = b"", time.monotonic() + 5
            while len(got) < len(VR_A) and time.monotonic() < deadline:
                got += tap.read_available(0.05)
            assert got == VR_A
        finally:
            tap.close()
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "replayed" in err


def test_serve_dir_without_a_cassette_for_the_test_exits_2_with_the_reason(
    tmp_path: Path,
) -> None:
    deck = tmp_path / "deck"
    deck.mkdir()
    for extra in ([], ["--test", "t.py::nothing"]):
        proc = _serve(str(deck), *extra, "--pty")
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 2
        assert err.startswith("replay: ") and "Traceback" not in err
        assert ("--test NODEID" in err) if not extra else ("no cassette" in err)
