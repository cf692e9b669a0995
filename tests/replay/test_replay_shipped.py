"""The shipped cassettes (suites/cassettes/) replay with the harness as it is now.

A part of each firmware's suites is replayed through pytest, as a user would; when the
harness's traffic changes on purpose, this fails with the diff and the cassettes must be
re-recorded (suites/cassettes/README.md says how)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.replay.cassette import Deck

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "suites" / "cassettes"
# The forum's failure and fix, a key by XPUT, and plain HTTP in each mode.
PART = "leaf-as-ca or root-ca or client-cert and api or test_http_get"


@pytest.mark.parametrize("firmware", ["cat1-3100C", "ltem-11415"])
def test_shipped_cassettes_replay(firmware: str, tmp_path: Path) -> None:
    deck = SHIPPED / firmware
    info = Deck(deck).first_info()
    assert info.recording is not None and info.recording.source == "simulator"
    assert info.recording.personality == firmware
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider",
         "-p", "no:allure_pytest", "-p", "no:hypothesispytest", "--reports-dir",
         str(tmp_path), "--device", f"replay:{deck}", "-k", PART],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?)", last)}
    assert proc.returncode == 0 and counts.get("passed", 0) >= 8, (
        f"re-record {deck} (see its README) if the harness's traffic changed on purpose:\n"
        + proc.stdout[-4000:]
    )
