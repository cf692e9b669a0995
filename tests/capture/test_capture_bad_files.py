"""`xbee-hil capture show` / `capture diff` on bad capture files: one line, never a traceback
(issue 10, defect 11, capture part).

The corpus is tests/badinputs/captures/: binary and non-UTF-8 files, malformed events
(a frame whose `data` is missing, not hex, an integer or empty; wire events with integer or
odd hex), wrong types in the header, a cut-off line, deep nesting. Each gives one line on
stderr naming the file, the line and what is wrong, and a non-zero exit.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli
from harness.capture import CaptureWriter

CORPUS = Path(__file__).resolve().parents[1] / "badinputs" / "captures"
BAD = sorted(CORPUS.glob("*.jsonl"))


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good.jsonl"
    with CaptureWriter(path, test="t", device="sim") as cap:
        cap.wire("tx", b"ATVR\r")
        cap.wire("rx", b"3100C\r")
        cap.frame("rx", bytes((0x8A, 0x02)))
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_naming(err: str, path: Path) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.search(re.escape(str(path)) + r":\d+: \S", lines[0]), lines[0]
    return lines[0]


def test_the_corpus_is_there():
    assert len(BAD) >= 15


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
@pytest.mark.parametrize("notes", [False, True], ids=["plain", "notes"])
def test_capture_show_gives_one_line(capsys, path, notes):
    code, _out, err = _run(capsys, "capture", "show", str(path), *(["--notes"] if notes else []))
    assert code != 0
    _one_line_naming(err, path)


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_capture_diff_gives_one_line(capsys, path, good):
    for argv in ((str(path), str(good)), (str(good), str(path)), (str(path), str(path))):
        code, out, err = _run(capsys, "capture", "diff", *argv)
        assert code == 2, out + err
        _one_line_naming(err, path)


def test_a_folder_or_a_missing_file_is_one_line(capsys, tmp_path):
    for path in (tmp_path, tmp_path / "nope.jsonl"):
        code, _out, err = _run(capsys, "capture", "show", str(path))
        assert code != 0 and len(err.strip().splitlines()) == 1 and str(path) in err


def test_the_command_line_itself_gives_one_line():
    """The real command, in a subprocess: exit status and stderr as a user sees them."""
    for path in (CORPUS / "binary.jsonl", CORPUS / "frame-integer-data.jsonl"):
        run = subprocess.run(
            [sys.executable, "-m", "harness.cli", "capture", "show", "--notes", str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode != 0
        _one_line_naming(run.stderr, path)
