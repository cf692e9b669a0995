"""Each fault's test in suites/test_faults.py fails when its fault does not really inject.

The suite runs twice in child pytest processes against the simulator: as shipped (every test
passes), and with `XBEE_SIM_FAULTS_OFF=1`, which makes the simulator's fault feature a no-op
(harness/sim/features/faults.py). Every test that puts a fault on the module must then fail;
the one that needs no fault (a name that does not resolve) still passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.sim.core import faults as faults_mod
from harness.sim.features.faults import DISABLE_ENV

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "test_faults.py"


def _run(tmp_path: Path, name: str, env_extra: dict[str, str]) -> dict[str, str]:
    xml = tmp_path / f"{name}.xml"
    env = {**os.environ, **env_extra}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:allure_pytest",
         "-p", "no:cacheprovider", f"--junitxml={xml}", "--reports-dir", str(tmp_path / name)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert xml.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    outcome: dict[str, str] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = child.tag
        outcome[case.get("name", "")] = kind
    return outcome


def _fault_of(test: str) -> list[str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("suite_faults", SUITE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, test.split("[", 1)[0])
    return [str(a) for m in getattr(fn, "pytestmark", []) if m.name == "xbee_fault"
            for a in m.args]


def test_each_fault_test_fails_without_its_fault(tmp_path):
    shipped = _run(tmp_path, "shipped", {})
    assert shipped and all(v in ("passed", "skipped") for v in shipped.values()), shipped
    off = _run(tmp_path, "faults-off", {DISABLE_ENV: "1"})
    faulted = {t for t in shipped if shipped[t] == "passed" and _fault_of(t)}
    covered = {f.split(":", 1)[0] for t in faulted for f in _fault_of(t)}
    assert covered == set(faults_mod.CATALOGUE), (
        f"faults with no passing test: {sorted(set(faults_mod.CATALOGUE) - covered)}")
    still_passing = sorted(t for t in faulted if off.get(t) == "passed")
    assert not still_passing, f"these pass with the faults off (they test nothing): " \
                              f"{still_passing}"
    plain = [t for t in shipped if shipped[t] == "passed" and not _fault_of(t)]
    assert all(off[t] == "passed" for t in plain), {t: off[t] for t in plain}
