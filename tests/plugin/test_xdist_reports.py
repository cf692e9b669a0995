"""`-n 2` writes what a serial run writes: the matrix (terminal and files), one stats.jsonl,
the Allure environment and categories, assembled on the xdist controller
(harness/pytest_plugin/handoff.py). Real suite runs on two simulators, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = (
    "suites/test_https.py", "suites/test_http.py", "--mode", "transparent", "--mode", "api",
    "--tls-variant", "root-ca", "--tls-variant", "wrong-ca",
    "--device", "sim", "--device", "sim:ltem-11415",
)  # fmt: skip
MATRIX_FILES = ("matrix.md", "matrix.html", "matrix.json")


def run(reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--reports-dir", str(reports), *SUITE, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def matrix_text(stdout: str) -> str:
    """The terminal's matrix: from its heading to its counts line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "mode x TLS-variant matrix" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("cells: ") and i > start)
    return "\n".join(lines[start : end + 1])


def properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines())
    return {k: v for k, v in pairs}


def test_two_workers_write_the_matrix_stats_and_environment_of_a_serial_run(tmp_path: Path):
    serial_dir, xdist_dir = tmp_path / "serial", tmp_path / "xdist"
    serial = run(serial_dir)
    xdist = run(xdist_dir, "-n", "2")
    assert "bringing up nodes" in xdist.stdout  # xdist ran it
    # the terminal's matrix, cell for cell
    assert matrix_text(xdist.stdout) == matrix_text(serial.stdout)
    # the matrix files, byte for byte
    for name in MATRIX_FILES:
        assert (xdist_dir / name).read_text(encoding="utf-8") == (serial_dir / name).read_text(
            encoding="utf-8"
        ), name
        assert f"wrote {xdist_dir / name}" in xdist.stdout
    cells = json.loads((xdist_dir / "matrix.json").read_text(encoding="utf-8"))["cells"]
    assert {c["group"].rsplit(" @ ", 1)[1] for c in cells} == {"sim", "sim-ltem-11415"}
    # one stats.jsonl, one line per test, no per-worker files
    assert sorted(p.name for p in xdist_dir.glob("stats*.jsonl")) == ["stats.jsonl"]
    lines = [json.loads(x) for x in (xdist_dir / "stats.jsonl").read_text().splitlines()]
    serial_lines = [json.loads(x) for x in (serial_dir / "stats.jsonl").read_text().splitlines()]
    assert sorted(r["test"] for r in lines) == sorted(r["test"] for r in serial_lines)
    assert len(lines) == len(serial_lines) == 14
    for r in lines:  # each line is the worker's account of its test
        assert r["outcome"] in ("passed", "skipped"), r
        assert r["outcome"] == "skipped" or r["sim"]["imposed_wall_s"] > 0, r
    # the Allure environment (the firmware the workers read) and categories, on the controller
    env = properties(xdist_dir / "allure-results" / "environment.properties")
    assert env == properties(serial_dir / "allure-results" / "environment.properties")
    assert {"VR.sim", "VR.sim-ltem-11415", "firmware.family.sim"} <= env.keys()
    assert (xdist_dir / "allure-results" / "categories.json").read_text() == (
        serial_dir / "allure-results" / "categories.json"
    ).read_text()
