"""Issue 14: a wheel built from the repository, installed in a fresh virtual environment
outside it, has its profiles (package data), its version, and runs a copy of the suites.

Honest on purpose: the venv is made without --system-site-packages, so nothing of the work
tree's editable install can be seen; its dependencies come from the package index pip is
configured with (as a user's `pip install xbee-hil` would get them). The wheel is built from
a copy of the tracked (and untracked, not ignored) files, so the build writes nothing into the
repository. The suites run is a subset (`-k "http_get or root-ca"`: every HTTP cell and the
root-ca HTTPS cells, about a tenth of the suites) to keep the test near a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-3000:]}\n" + (
        done.stderr[-3000:]
    )
    return done.stdout + done.stderr


def _source_copy(dest: Path) -> Path:
    """The files git would ship (tracked, or untracked and not ignored), copied to dest."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _clean_env(venv: Path) -> dict[str, str]:
    """No trace of the work tree's environment: its venv off PATH, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "XBEE_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(
        [str(venv / "bin")]
        + [p for p in env.get("PATH", "").split(os.pathsep) if str(ROOT) not in p]
    )
    return env


def test_a_wheel_installed_outside_the_repository_runs_profiles_and_suites(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    venv = tmp_path / "venv"
    env = _clean_env(venv)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
         tmp_path, env)  # fmt: skip
    (wheel,) = dist.glob("xbee_hil-*.whl")
    assert wheel.name.startswith(f"xbee_hil-{harness.__version__}-")
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(venv / "bin" / "python"), "-c", "import harness; print(harness.__file__)"],
                 work, env)  # fmt: skip
    assert str(venv) in where and str(ROOT) not in where

    # the shipped profiles are package data; one version, said by both commands
    out = _run([str(venv / "bin" / "xbee-hil"), "profile", "check", "sim"], work, env)
    assert "sim: OK" in out
    out = _run([str(venv / "bin" / "xbee-hil"), "profile", "check", "ltem"], work, env)
    assert "ltem: OK" in out
    for command in ("xbee-hil", "xbee-sim"):
        out = _run([str(venv / "bin" / command), "--version"], work, env)
        assert out.strip() == f"{command} {harness.__version__}"

    # a copy of the suites, outside the repository, with the plugin from the wheel
    shutil.copytree(ROOT / "suites", work / "suites", ignore=shutil.ignore_patterns("__pycache__"))
    out = _run(
        [str(venv / "bin" / "pytest"), "suites", "-q", "-p", "no:cacheprovider",
         "-k", "http_get or root-ca"],
        work, env, timeout=900,
    )  # fmt: skip
    assert " passed" in out and "failed" not in out, out[-3000:]
    assert (work / "reports" / "matrix.md").is_file()
    assert list((work / "reports" / "allure-results").glob("*-result.json"))
