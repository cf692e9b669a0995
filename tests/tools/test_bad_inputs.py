"""The bad-input corpus (tests/badinputs/): every bad file or command line ends in one line
naming the problem, a non-zero exit and no traceback (issue 10, defects 9 and 11).

Each case runs the real command in a subprocess (this venv's python, a fresh folder as cwd),
with its address space capped so that a regression to the alias bomb (2 GB in 20 s) fails
here instead of taking the machine with it.
"""

from __future__ import annotations

import re
import resource
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "badinputs"
PROFILES = CORPUS / "profiles"
CASES_FILE = CORPUS / "cmdline" / "cases.txt"
MEMORY_CAP = 1 << 30  # bytes of address space a case may use
TIMEOUT = 120  # seconds; a case takes one or two, a hang is the failure we look for

# What each bad profile must say (after `file:line:col: `), by file name.
PROFILE_EXPECTED: dict[str, str] = {
    "alias-bomb.yaml": r":2:8: YAML alias \*a is not allowed",
    "merge-alias.yaml": r":3:7: YAML alias \*b is not allowed",
    "nul-byte.yaml": r":1:12: character #x0000 is not allowed in YAML text",
    "binary.yaml": r": not UTF-8 text \(byte 0\)",
    "latin-1.yaml": r": not UTF-8 text \(byte 9\)",
    "utf16.yaml": r": not UTF-8 text \(byte 0\)",
    "empty.yaml": r": empty profile",
    "only-comments.yaml": r": empty profile",
    "not-a-mapping.yaml": r":1:1: a profile is a YAML mapping",
    "scalar.yaml": r":1:1: a profile is a YAML mapping",
    "deep-nesting.yaml": r":1:\d+: nested deeper than 64 levels",
    "deep-block-nesting.yaml": r":65:\d+: nested deeper than 64 levels",
    "syntax-error.yaml": r":3:1: YAML syntax: .*expected ',' or '\]'",
    "tab-indent.yaml": r":2:1: YAML syntax: .*'\\t'",
    "two-documents.yaml": r":2:1: YAML syntax: expected a single document",
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run `pytest …` or `xbee-hil …` as a user would; (exit status, stdout + stderr)."""
    tool, *args = argv
    module = {"pytest": "pytest", "xbee-hil": "harness.cli"}[tool]
    extra = ["-p", "no:cacheprovider"] if tool == "pytest" else []
    proc = subprocess.run(
        [sys.executable, "-m", module, *extra, *args],
        cwd=cwd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
        preexec_fn=_cap_memory,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def assert_one_line(status: int, output: str, pattern: str) -> None:
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert re.search(pattern, lines[0]), lines[0]
    assert status != 0, output


def test_the_corpus_has_an_expectation_for_every_profile() -> None:
    assert sorted(p.name for p in PROFILES.iterdir()) == sorted(PROFILE_EXPECTED)


@pytest.mark.parametrize("name", sorted(PROFILE_EXPECTED))
def test_profile_check_says_one_line(name: str, tmp_path: Path) -> None:
    status, output = run(["xbee-hil", "profile", "check", str(PROFILES / name)], tmp_path)
    assert_one_line(status, output, "^" + re.escape(str(PROFILES / name)) + PROFILE_EXPECTED[name])


@pytest.mark.parametrize("name", sorted(PROFILE_EXPECTED))
def test_pytest_profile_is_a_usage_error(name: str, tmp_path: Path) -> None:
    status, output = run(["pytest", "--profile", str(PROFILES / name)], tmp_path)
    assert_one_line(status, output, re.escape(str(PROFILES / name)) + PROFILE_EXPECTED[name])
    assert status == pytest.ExitCode.USAGE_ERROR


def _cases() -> list[pytest.param]:
    out = []
    for n, line in enumerate(CASES_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            command, pattern = (part.strip() for part in line.split("==>"))
            out.append(pytest.param(command, pattern, id=f"{n}-{command[:60]}"))
    return out


@pytest.mark.parametrize(("command", "pattern"), _cases())
def test_command_line_says_one_line(command: str, pattern: str, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    argv = [a.format(corpus=CORPUS, file=a_file) for a in shlex.split(command)]
    status, output = run(argv, tmp_path)
    assert_one_line(status, output, pattern)
