"""Dependency floors that are security fixes hold in the installed environment (issue 10,
defect 14): h11 0.16.0 fixes CVE-2025-43859 (lenient chunked-encoding parsing)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _requirement(name: str) -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == name)


def test_h11_floor_is_the_cve_fix_and_installed_h11_meets_it() -> None:
    req = _requirement("h11")
    assert not req.specifier.contains("0.15.0")  # CVE-2025-43859
    assert req.specifier.contains("0.16.0")
    assert req.specifier.contains(importlib.metadata.version("h11"))
