"""Observations 1, 2 and 9 of issue 9, on the hardware code path: the simulator served as
RFC 2217 (tests/plugin/benchrig.py), a hardware-style profile, no personality.

Obs 1: must-fail TLS variants passed on a DNS failure (CI 0x25) and, with the HTTPS server
stopped, on "refused" (CI 0x26). Obs 2: CI 0x27 after a good GET failed `test_http_get`, and
the extended-socket test waited and failed on a 3100C instead of being skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugin.benchrig import BenchRig, start_bench

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "suites"
ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:randomly")


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[BenchRig]:
    rig = start_bench(tmp_path / "bench")
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture
def lost_bench(tmp_path: Path) -> Iterator[BenchRig]:
    rig = start_bench(tmp_path / "bench", resolvable=False)
    try:
        yield rig
    finally:
        rig.close()


def _run(pytester: pytest.Pytester, rig: BenchRig, *args: str) -> tuple[pytest.RunResult, dict]:
    result = pytester.runpytest(*ARGS, *rig.args(*args, "--reports-dir", "reports", "-rA"))
    matrix = pytester.path / "reports" / "matrix.json"
    cells = json.loads(matrix.read_text())["cells"] if matrix.exists() else []
    by = {(c["group"].split("::")[-1], c["tls_variant"], c["mode"]): c for c in cells}
    return result, by


def test_unresolvable_target_gives_no_passed_must_fail_cell(pytester, lost_bench):
    """Obs 1: `wrong-ca PASS CI 0x25`. Now: the control (root-ca) failed with 0x25, so the
    must-fail cell is inconclusive, the run exits non-zero, one line names the control."""
    result, cells = _run(
        pytester, lost_bench, str(SUITES / "test_https.py"), "--mode", "transparent",
        "--mode", "api", "--tls-variant", "root-ca", "--tls-variant", "wrong-ca",
    )  # fmt: skip
    out = result.stdout.str()
    wrong = cells[("test_https_get", "wrong-ca", "transparent")]
    assert wrong["outcome"] == "inconclusive", wrong
    assert wrong["text"] == "? inconclusive · control CI 0x25"
    # API mode: the lookup fails before a frame is sent, so the control has no code
    assert cells[("test_https_get", "wrong-ca", "api")]["outcome"] == "inconclusive"
    assert not any(c["outcome"] == "passed" for c in cells.values())
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "INCONCLUSIVE" in out
    result.stdout.fnmatch_lines(
        ["*control failed: root-ca against the https target in transparent mode*(CI 0x25)*"])


def test_control_runs_when_it_was_not_in_the_run(pytester, lost_bench):
    """Only the must-fail variant selected: its control is run before judging."""
    result, cells = _run(
        pytester, lost_bench, str(SUITES / "test_https.py"), "--mode", "transparent",
        "--tls-variant", "wrong-ca",
    )  # fmt: skip
    assert cells[("test_https_get", "wrong-ca", "transparent")]["outcome"] == "inconclusive"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_https_server_down_makes_must_fail_cells_inconclusive(pytester, bench):
    """Obs 1 on the simulator: CI 0x26 is both refused and TLS on 3100C; with the server
    stopped the control is refused too, so nothing passes."""
    bench.stop("https")
    result, cells = _run(
        pytester, bench, str(SUITES / "test_https.py"), "--mode", "transparent",
        "--tls-variant", "no-ca", "--tls-variant", "wrong-ca", "--tls-variant", "missing-file",
    )  # fmt: skip
    for variant in ("wrong-ca", "missing-file"):
        cell = cells[("test_https_get", variant, "transparent")]
        assert cell["text"] == "? inconclusive · control CI 0x26", cell
    assert not any(c["outcome"] == "passed" for c in cells.values())
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_bench_cells_as_expected_and_ambiguous_code_says_so(pytester, bench):
    result, cells = _run(
        pytester, bench, str(SUITES / "test_https.py"), "--mode", "transparent",
        "--mode", "api", "--tls-variant", "root-ca", "--tls-variant", "wrong-ca",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert cells[("test_https_get", "root-ca", "transparent")]["text"] in (
        "✓ 200 · CI 0x27", "✓ 200 · CI 0x00")
    assert cells[("test_https_get", "wrong-ca", "transparent")]["text"] == (
        "✓ TLS authentication or refused · CI 0x26")
    assert cells[("test_https_get", "wrong-ca", "api")]["text"] == (
        "✓ TLS authentication · TX 0x8B")


def test_http_on_bench_closed_by_peer_and_extended_socket_skipped(pytester, bench):
    """Obs 2: CI 0x27 after a completed 200 is the peer's close, not a failure; the
    extended-socket test, first of the run, is skipped on 3100C (VR read from the module)."""
    result, cells = _run(
        pytester, bench, str(SUITES / "test_http.py"), "-k", "extended_socket or transparent",
    )  # fmt: skip
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*requires extended_sockets: cat1-3100 (VR=3100C)*"])
    assert cells[("test_http_get", "-", "transparent")]["text"].startswith("✓ 200 · CI 0x")
