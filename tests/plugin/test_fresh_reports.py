"""Each run's reports are its own (harness/pytest_plugin/fresh.py, A-XDIST-FRESH-REPORTS):
after two runs into one reports folder, nothing of the first run's results, captures,
matrix or stats is left; the user's files and Allure's history stay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness import report
from harness.pytest_plugin import fresh

ROOT = Path(__file__).resolve().parents[2]


def run(reports: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--reports-dir", str(reports), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def results(alluredir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in alluredir.glob("*-result.json")]


@pytest.mark.parametrize("second", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_second_run_leaves_nothing_of_the_first(tmp_path: Path, second: tuple[str, ...]):
    reports = tmp_path / "reports"
    allure = reports / "allure-results"
    run(reports, "suites/test_https.py", "--mode", "transparent", "--tls-variant", "root-ca",
        "--tls-variant", "wrong-ca")  # fmt: skip
    first = results(allure)
    assert len(first) == 2 and all("test_https_get" in r["fullName"] for r in first)
    assert any("test_https_get" in p.name for p in (reports / "captures").iterdir())
    # what is not the harness's to clear
    (allure / "history").mkdir()
    (allure / "history" / "history.json").write_text("{}")
    (allure / "notes.txt").write_text("mine")
    (reports / "stats-gw0.jsonl").write_text("{}\n")  # left by an older xdist run

    run(reports, "suites/test_http.py", "-k", "test_http_get and not extended", "--mode", "api",
        *second)  # fmt: skip
    now = results(allure)
    assert [r["fullName"].rsplit("#", 1)[-1] for r in now] == ["test_http_get"], now
    names = [p.name for p in allure.iterdir()]
    assert not [n for n in names if n.endswith("-container.json") and any(
        r["uuid"] in n for r in first)]  # fmt: skip
    uuids = {r["uuid"] for r in first}
    assert not [n for n in names if n.split("-result")[0] in uuids]
    captures = sorted(p.name for p in (reports / "captures").iterdir())
    assert captures and not [n for n in captures if "https" in n], captures
    cells = json.loads((reports / "matrix.json").read_text())["cells"]
    assert {c["group"] for c in cells} == {"test_http.py::test_http_get"}
    stats = [json.loads(x) for x in (reports / "stats.jsonl").read_text().splitlines()]
    assert [s["test"] for s in stats] == ["suites/test_http.py::test_http_get[api]"]
    assert not (reports / "stats-gw0.jsonl").exists()
    assert (allure / "history" / "history.json").read_text() == "{}"
    assert (allure / "notes.txt").read_text() == "mine"


def _hil(reports: Path, alluredir: Path | None = None, record: Path | None = None) -> Any:
    matrix = report.Matrix()
    return SimpleNamespace(reports_dir=reports, alluredir=alluredir, record_dir=record,
                           matrix=matrix)  # fmt: skip


def _plant(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("x")


def test_an_xdist_worker_clears_nothing(tmp_path: Path):
    _plant(tmp_path / "captures", "old.jsonl")
    _plant(tmp_path, "stats.jsonl")
    worker = SimpleNamespace(workerinput={"workerid": "gw0"})
    assert fresh.clear_previous_run(worker, _hil(tmp_path)) == []  # type: ignore[arg-type]
    assert (tmp_path / "captures" / "old.jsonl").exists() and (tmp_path / "stats.jsonl").exists()


def test_an_alluredir_outside_the_reports_folder_is_the_users(tmp_path: Path):
    reports, theirs = tmp_path / "reports", tmp_path / "their-allure"
    _plant(theirs, "a-result.json", "b-container.json")
    fresh.clear_previous_run(SimpleNamespace(), _hil(reports, theirs))  # type: ignore[arg-type]
    assert sorted(p.name for p in theirs.iterdir()) == ["a-result.json", "b-container.json"]


def test_recordings_in_the_captures_folder_are_the_users(tmp_path: Path):
    captures = tmp_path / "captures"
    _plant(captures / "deck", "test_x.jsonl")
    fresh.clear_previous_run(SimpleNamespace(), _hil(tmp_path, record=captures / "deck"))  # type: ignore[arg-type]
    assert (captures / "deck" / "test_x.jsonl").exists()


def test_a_run_without_a_matrix_removes_the_old_matrix_files(tmp_path: Path):
    _plant(tmp_path, "matrix.md", "matrix.html", "matrix.json", "README.md")
    fresh.clear_stale_matrix(_hil(tmp_path))  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


@pytest.mark.parametrize("look", fresh.LOOK_ONLY)
def test_a_run_that_only_looks_clears_nothing(tmp_path: Path, look: str):
    _plant(tmp_path / "captures", "old.jsonl")
    config = SimpleNamespace(option=SimpleNamespace(**{look: True}))
    assert fresh.clear_previous_run(config, _hil(tmp_path)) == []  # type: ignore[arg-type]
    assert (tmp_path / "captures" / "old.jsonl").exists()


def test_collect_only_keeps_the_last_runs_reports(tmp_path: Path):
    reports = tmp_path / "reports"
    _plant(reports / "captures", "test_x.jsonl")
    _plant(reports, "stats.jsonl")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only",
         "--reports-dir", str(reports), "suites/test_http.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert (reports / "captures" / "test_x.jsonl").exists() and (reports / "stats.jsonl").exists()
