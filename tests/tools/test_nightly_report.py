"""`tox -e report` builds a report that opens from disk (issue 14, acceptance): two nights of
a bench, each running part of the suites against the simulator (one test fails with the
module's TX 0x8B) and then tox's own report command with the repository's `allurerc.json`,
the history kept between them. Headless Chromium opens `index.html` from file:// and must
show the tests (not the loader's spinner, which a report of separate data files shows on
file://), the failure under its category, and after the second night a trend with history.

Needs Chromium and the pinned Allure (on PATH, or in npm's cache for `npx --offline`); each
is skipped with its reason when absent. `.ci/run` installs both. Chromium resolves no host
name here (the report links an analytics script), so the test stays on the machine.
"""

from __future__ import annotations

import configparser
import html.parser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.profiles import BUILTIN_PROFILE_DIR
from harness.report import allure3

ROOT = Path(__file__).resolve().parents[2]
VERSION = allure3.ALLURE_VERSION
CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FAILING_TEST = r"""
import pytest


@pytest.mark.xbee_modes("api")
@pytest.mark.tls_variants("wrong-ca")
def test_wrong_ca_expected_200(xbee, https_target, tls_variant):
    result = xbee.get(https_target)  # the simulator's 3100C: TX status 0x8B
    assert result.status == 200, "no HTTP response"
"""


def _version(command: list[str]) -> str:
    try:
        run = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return run.stdout.strip().splitlines()[-1] if run.returncode == 0 and run.stdout else ""


@pytest.fixture(scope="module")
def allure() -> list[str]:
    """The pinned Allure 3: an `allure` on PATH of that version, else npm's cached copy."""
    on_path = shutil.which("allure")
    if on_path and _version([on_path]) == VERSION:
        return [on_path]
    npx = shutil.which("npx")
    if npx:
        cached = [npx, "--offline", "--yes", f"allure@{VERSION}"]  # never the network
        if _version(cached) == VERSION:
            return cached
    pytest.skip(f"Allure {VERSION} is not installed (npm install --global allure@{VERSION})")


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in CHROMIUMS:
        if found := shutil.which(name):
            return found
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")


def tox_report_command(allure: list[str]) -> list[str]:
    """`[testenv:report] commands` of tox.ini, its `npx --yes allure@X` made `allure`."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    command = shlex.split(tox["testenv:report"]["commands"].strip())
    assert command[:3] == ["npx", "--yes", f"allure@{VERSION}"], command
    return [*allure, *command[3:]]


class _Visible(html.parser.HTMLParser):
    """The text a reader sees: no script or style bodies (the report's data is a script)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.words.append(data.strip())


def page(chromium: str, index: Path, route: str, profile: Path) -> list[str]:
    """The rendered page's visible texts, as headless Chromium leaves the DOM."""
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
         "--virtual-time-budget=15000", "--dump-dom", index.as_uri() + route],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    parser = _Visible()
    parser.feed(run.stdout)
    return parser.words


def trend(words: list[str]) -> list[str]:
    """The "Status dynamics" chart's texts: its x-axis labels, or its no-history line."""
    start = words.index("Status dynamics") + 1
    return words[start : words.index("Test results by severities", start)]


def night(bench: Path, report_command: list[str]) -> None:
    """One nightly run: part of the suites, then tox's report command."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--clean-alluredir",
         "--profile", str(BUILTIN_PROFILE_DIR / "sim.yaml"), "--mode", "api",
         "test_http.py", "test_deliberate.py"],
        cwd=bench, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 1 and "1 failed, 1 passed" in run.stdout, run.stdout[-3000:]
    built = subprocess.run(
        report_command, cwd=bench, capture_output=True, text=True, timeout=600, check=False
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]


def test_tox_report_opens_from_disk_with_categories_and_history(
    tmp_path: Path, allure: list[str], chromium: str
) -> None:
    bench = tmp_path / "bench"  # a bench checkout: the config, a part of the suites
    bench.mkdir()
    shutil.copy(ROOT / allure3.CONFIG_FILE, bench)
    shutil.copy(ROOT / "suites" / "test_http.py", bench)
    (bench / "test_deliberate.py").write_text(FAILING_TEST)
    command = tox_report_command(allure)
    report = bench / "reports" / "allure-report"
    index = report / "index.html"
    history = bench / allure3.HISTORY

    night(bench, command)
    assert sorted(p.name for p in report.iterdir() if p.is_dir()) == []  # one file, no data/
    main = page(chromium, index, "", tmp_path / "chromium")
    assert "test_wrong_ca_expected_200[api-wrong-ca]" in main, main  # rendered, no spinner
    assert {"Results", "Failed", "Passed", "test_http_get[api]"} <= set(main), " | ".join(main)
    categories = page(chromium, index, "#/categories", tmp_path / "chromium")
    assert "TLS authentication" in categories, categories
    assert trend(page(chromium, index, "#/charts", tmp_path / "chromium")) == [
        "No history information available"
    ]

    night(bench, command)
    assert len(history.read_text().splitlines()) == 2  # each night added to the history
    labels = trend(page(chromium, index, "#/charts", tmp_path / "chromium"))
    assert "Latest" in labels, labels
    dates = [w for w in labels if w != "Latest" and not w.replace(".", "").isdigit()]
    assert len(dates) == 1, labels  # the first night, from the history


def test_the_nightly_script_keeps_the_history_outside_a_cleaned_checkout(
    tmp_path: Path, allure: list[str]
) -> None:
    """examples/nightly/nightly.sh, as cron, systemd and the CI workflow run it: two nights
    in a checkout whose `reports/` is gone in between (a CI checkout is cleaned), the
    history kept in XBEE_HIL_HISTORY, each night published with a `latest` link."""
    bench = tmp_path / "checkout"
    (bench / "examples" / "nightly").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "nightly" / "nightly.sh", bench / "examples" / "nightly")
    shutil.copy(ROOT / allure3.CONFIG_FILE, bench)
    shutil.copy(ROOT / "suites" / "test_http.py", bench)
    (bench / "test_deliberate.py").write_text(FAILING_TEST)
    keep = tmp_path / "var" / "allure-history.jsonl"
    www = tmp_path / "www"
    env = {
        **os.environ,
        "XBEE_HIL_PYTHON": sys.executable,
        "XBEE_HIL_ALLURE": shlex.join(allure),
        "XBEE_HIL_HISTORY": str(keep),
        "XBEE_HIL_PUBLISH": str(www),
    }
    for nights in (1, 2):
        shutil.rmtree(bench / "reports", ignore_errors=True)
        run = subprocess.run(
            ["bash", "examples/nightly/nightly.sh", "-p", "no:cacheprovider", "--mode", "api",
             "--profile", str(BUILTIN_PROFILE_DIR / "sim.yaml"),
             "test_http.py", "test_deliberate.py"],
            cwd=bench, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]  # pytest's
        assert len(keep.read_text().splitlines()) == nights
    latest = www / "latest"
    assert latest.is_symlink() and (latest / "index.html").is_file()
    assert sorted(p.name for p in latest.iterdir()) == [
        "index.html", "junit.xml", "matrix.html", "matrix.md"
    ]  # fmt: skip
    assert 'name="xbee_tx_status" value="0x8B"' in (latest / "junit.xml").read_text()


def test_the_scheduler_files_run_the_nightly_script() -> None:
    here = ROOT / "examples" / "nightly"
    check = subprocess.run(["bash", "-n", str(here / "nightly.sh")], check=False)
    assert check.returncode == 0
    workflow = yaml.safe_load((here / "xbee-hil-nightly.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    bench = workflow["jobs"]["bench"]
    assert "self-hosted" in bench["runs-on"] and bench["env"]["XBEE_HIL_HISTORY"]
    steps = " ".join(str(step.get("run", "")) for step in bench["steps"])
    assert "examples/nightly/nightly.sh suites/" in steps
    service = (here / "xbee-hil-nightly.service").read_text()
    assert "ExecStart=/home/bench/xbee-hil/examples/nightly/nightly.sh suites/" in service
    assert "OnCalendar=" in (here / "xbee-hil-nightly.timer").read_text()
    doc = (ROOT / "docs" / "nightly.md").read_text()
    assert re.search(r"^30 2 \* \* \* .*examples/nightly/nightly\.sh suites/", doc, re.M)
