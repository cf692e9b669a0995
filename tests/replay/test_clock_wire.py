"""A warping clock changes how long the harness waits, never what it sends (issue 13, 2).

The shipped cassettes are replayed through pytest with `--clock warp` (the replay device's
clock skips waits while the cassette has nothing to say, A-CLOCK-WARP); every replayed
test's capture must hold, host to module, exactly the bytes of its cassette, and the
verdicts must be those of a real-time replay of the same tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.capture import read_capture
from harness.replay.cassette import Deck

ROOT = Path(__file__).resolve().parents[2]
DECK = ROOT / "suites" / "cassettes" / "cat1-3100C"
# Waits of every kind: a first-byte timeout and CI polls (transparent), frame waits (API),
# a refused TLS handshake (leaf-as-ca) and plain HTTP in each mode.
PART = "test_http_get or (test_https_get and (root-ca or leaf-as-ca) and not escaped)"


def _replay(tmp: Path, clock: str) -> tuple[dict[str, str], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider",
         "-p", "no:allure_pytest", "-p", "no:hypothesispytest", "--reports-dir", str(tmp),
         "--device", f"replay:{DECK}", "--clock", clock, "-k", PART, "-rA"],
        cwd=ROOT, capture_output=True, text=True, timeout=200, check=False,
    )  # fmt: skip
    found = re.findall(r"^(PASSED|FAILED|ERROR) (\S+::\S+)", proc.stdout, re.M)
    return {test: verdict for verdict, test in found}, proc.stdout[-3000:]


@pytest.fixture(scope="module")
def warped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    tmp = tmp_path_factory.mktemp("warp")
    verdicts, out = _replay(tmp, "warp")
    return tmp, verdicts, out


def test_replayed_host_bytes_equal_the_cassettes(
    warped: tuple[Path, dict[str, str], str],
) -> None:
    tmp, verdicts, out = warped
    assert verdicts and all(v == "PASSED" for v in verdicts.values()), out
    compared = 0
    for live in sorted((tmp / "captures").glob("test_*.jsonl")):
        replayed = read_capture(live)
        test = replayed.header["test"]
        cassette, why = Deck(DECK).for_test(test)
        assert cassette is not None, why
        assert replayed.wire("tx") == read_capture(cassette).wire("tx"), test
        compared += 1
    assert compared >= 6, out


def test_verdicts_equal_a_real_time_replay(
    warped: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    _, verdicts, _ = warped
    real, out = _replay(tmp_path, "real")
    assert real == verdicts, out
