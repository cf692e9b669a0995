"""Failed restores, said out loud (issue 9, observation 4).

A module left with another `$0` or `TM` makes the next run (or the next person at the bench)
fail for a reason no one sees. Every restore the harness does (after a failed test, at the
end of the run, after Ctrl-C) is read back; one that fails becomes one line, kept here for
the run and shown in the terminal summary, written to `<reports-dir>/restore.txt` and put in
the Allure environment (`restore` key).
"""

from __future__ import annotations

from pathlib import Path

import pytest

RESTORE_FILE = "restore.txt"
_FAILED = pytest.StashKey[list[str]]()


def record(config: pytest.Config, line: str) -> None:
    """Keep one failed restore's line for the summary and the report (once per text)."""
    lines = config.stash.setdefault(_FAILED, [])
    if line and line not in lines:
        lines.append(line)


def failed(config: pytest.Config) -> list[str]:
    kept: list[str] = config.stash.get(_FAILED, [])
    return list(kept)


def write(config: pytest.Config, reports_dir: Path) -> Path | None:
    """`<reports-dir>/restore.txt` with one line per failed restore; none when all went back."""
    lines = failed(config)
    if not lines:
        return None
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / RESTORE_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
