"""Each run's reports are its own: what an earlier run wrote is cleared when a run starts.

Called once per run from the session start, by the process that writes the reports (the
xdist controller, never a worker: a worker clearing would delete results another worker
has just written). It clears only what the harness and allure-pytest write
(A-XDIST-FRESH-REPORTS):
- in `<reports-dir>`: `stats.jsonl` (and `stats-gw*.jsonl` of older versions),
  `restore.txt`, and everything under `captures/` (not when `--record` points there:
  recordings are the user's);
- in the Allure results folder, only when it is the plugin's own (under `<reports-dir>`;
  an `--alluredir` elsewhere is the user's, who has allure's `--clean-alluredir`): the
  result, container and attachment files, `environment.properties`, `categories.json`,
  `executor.json`. Folders there (e.g. a `history/` kept for trends) stay.

The matrix files are not removed at the start: a new matrix replaces them whole at the end
(a full reports disk keeps the last good one, issue 10 #8); a run that has no matrix
removes them at its end (`clear_stale_matrix`), so an old matrix never stands beside a new
run's results.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import atomicio
from harness.pytest_plugin.session import HilSession

REPORT_FILES = ("stats.jsonl", "restore.txt")
MATRIX_FILES = ("matrix.md", "matrix.html", "matrix.json")  # harness/report/matrix.py
REPORT_GLOBS = ("stats-gw*.jsonl",)
CAPTURES = "captures"
LOOK_ONLY = ("collectonly", "showfixtures", "show_fixtures_per_test")  # pytest's option names
ALLURE_GLOBS = (
    "*-result.json", "*-container.json", "*-attachment.*", "*-attachment",
    "environment.properties", "categories.json", "executor.json",
)  # fmt: skip


def clear_previous_run(config: pytest.Config, hil: HilSession) -> list[Path]:
    """Remove the previous run's reports (see the module docstring); the paths removed."""
    if hasattr(config, "workerinput") or not runs_tests(config):
        return []
    reports = hil.reports_dir
    removed = [p for p in (reports / n for n in REPORT_FILES) if p.is_file()]
    removed += [p for g in REPORT_GLOBS for p in reports.glob(g) if p.is_file()]
    captures = reports / CAPTURES
    if captures.is_dir() and not _overlap(hil.record_dir, captures):
        removed += sorted(captures.iterdir())
    alluredir = hil.alluredir
    if alluredir is not None and alluredir.is_dir() and _within(alluredir, reports):
        removed += [p for g in ALLURE_GLOBS for p in alluredir.glob(g) if p.is_file()]
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def runs_tests(config: pytest.Config) -> bool:
    """False for a run that only looks (`--collect-only`, `--fixtures`, ...): it clears
    nothing."""
    option = getattr(config, "option", None)
    return not any(getattr(option, name, False) for name in LOOK_ONLY)


def clear_stale_matrix(hil: HilSession) -> list[Path]:
    """A run without a matrix: the matrix files of an earlier run go (the paths removed).
    Not when the run stopped on a failing reports disk: the last good matrix stays."""
    if hil.matrix or atomicio.failure(hil.reports_dir) is not None:
        return []
    removed = [p for p in (hil.reports_dir / n for n in MATRIX_FILES) if p.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _overlap(record_dir: Path | None, captures: Path) -> bool:
    """A recording folder in or around `captures/`: leave it alone."""
    return record_dir is not None and (
        _within(record_dir, captures) or _within(captures, record_dir)
    )


def _within(path: Path | None, folder: Path) -> bool:
    if path is None:
        return False
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents
