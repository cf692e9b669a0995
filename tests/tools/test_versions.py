"""One version source (issue 14): `harness.__version__`, read by pyproject (dynamic) and said
by both commands' `--version`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "harness.__version__"}


@pytest.mark.parametrize(("command", "module"), [("xbee-hil", "harness.cli"),
                                                 ("xbee-sim", "harness.sim.cli")])  # fmt: skip
def test_both_commands_say_the_version(command: str, module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())",
         "--version"], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{command} {harness.__version__}"
