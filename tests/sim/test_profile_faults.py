"""A simulator profile's `device.faults`: checked when the profile loads, carried by the
simulator from power-up, refused on a real module with one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.profiles import BUILTIN_PROFILE_DIR, load_profile


def _profile(tmp_path: Path, faults: str) -> Path:
    text = (BUILTIN_PROFILE_DIR / "sim.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^(  reset: .*\n)", rf"\g<1>  faults: {faults}\n", text, count=1,
                  flags=re.M)
    text = text.replace("registration_timeout: 30", "registration_timeout: 1")  # fail fast
    path = tmp_path / "faulty.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_profile_faults_load(tmp_path):
    profile = load_profile(_profile(tmp_path, '["dns-flaky:2", "wrong-baud"]'))
    assert profile.device.faults == ["dns-flaky:2", "wrong-baud"]


def test_bad_profile_fault_names_it(tmp_path):
    with pytest.raises(Exception) as err:
        load_profile(_profile(tmp_path, '["dns-flaky"]'))
    assert "dns-flaky" in str(err.value) and "expected dns-flaky:N" in str(err.value)


def test_profile_fault_reaches_the_simulated_module(tmp_path):
    """registration-stuck from the profile: the session cannot get the module on the
    network and the run stops with one reason naming AI 0x22."""
    suite = tmp_path / "test_one.py"
    suite.write_text("def test_get(xbee):\n    pass\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:allure_pytest",
         "-p", "no:cacheprovider", "--profile", str(_profile(tmp_path, '["registration-stuck"]')),
         "--reports-dir", str(tmp_path / "reports")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-2000:]
    assert "AI=0x22" in out, out[-2000:]
