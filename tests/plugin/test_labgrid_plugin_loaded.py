"""The resilience suite next to labgrid's own pytest plugin, as a user with the `labgrid` extra
runs it: pytest loads labgrid's plugin (entry point `labgrid`) into every run of the
environment, so the suites must behave the same with it as without it.

tox's tests env once kept labgrid's plugin out of the harness's tests because the bench
rehearsal's simulator run failed its brownout cell with it ("no reply to ATAP within 2 s",
examples/bench/README.md). These runs put the real plugin in (and check that it is in), run
the named faults on the real simulator, brownout included, and compare every cell with a run
that has `-p no:labgrid`. The inner runs get no PYTEST_ADDOPTS: whatever the outer run's
environment says, one has the plugin and one does not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("labgrid") is None:
    pytest.skip(
        "labgrid is not installed (pip install 'xbee-hil[labgrid]'; tox -e tests and .ci/run "
        "install it)",
        allow_module_level=True,
    )

from harness.profiles import BUILTIN_PROFILE_DIR

ROOT = Path(__file__).resolve().parents[2]
FAULTS_SUITE = ROOT / "suites" / "test_faults.py"
BROWNOUT = ("test_faults.py::test_brownout_resets_to_saved_settings", "-", "api")
# -v (not -q): the header's "plugins:" line names the plugins the run loaded
INNER = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:randomly", "-v", "-rA"]  # fmt: skip
pytestmark = pytest.mark.timeout(300)


def _run(workdir: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XBEE_", "LG_")) and k != "PYTEST_ADDOPTS"}  # fmt: skip
    cmd = [*INNER, *extra, str(FAULTS_SUITE), "--device", "sim:cat1-3100C",
           "--profile", str(BUILTIN_PROFILE_DIR / "sim.yaml"),
           "--reports-dir", str(workdir / "reports")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    matrix = workdir / "reports" / "matrix.json"
    cells = json.loads(matrix.read_text(encoding="utf-8")) if matrix.exists() else {"cells": []}
    return proc, {(c["group"], c["tls_variant"], c["mode"]): c for c in cells["cells"]}


def _plugins(out: str) -> str:
    return next((line for line in out.splitlines() if line.startswith("plugins:")), "")


def _seen(cell: dict[str, Any]) -> tuple[Any, ...]:
    return cell["outcome"], cell["codes"], cell["text"]


def test_resilience_suite_same_with_labgrid_plugin_loaded(tmp_path: Path) -> None:
    with_lg, cells = _run(tmp_path / "with")
    out = with_lg.stdout + with_lg.stderr
    assert "labgrid-" in _plugins(out), _plugins(out)  # the real plugin is in this run
    assert with_lg.returncode == pytest.ExitCode.OK, out[-4000:]
    assert cells[BROWNOUT]["outcome"] == "passed", cells[BROWNOUT]
    without, plain = _run(tmp_path / "without", "-p", "no:labgrid")
    out = without.stdout + without.stderr
    assert "labgrid-" not in _plugins(out), _plugins(out)
    assert without.returncode == pytest.ExitCode.OK, out[-4000:]
    assert set(cells) == set(plain)
    differ = {k: (_seen(plain[k]), _seen(cells[k])) for k in cells
              if _seen(cells[k]) != _seen(plain[k])}  # fmt: skip
    assert not differ, differ
