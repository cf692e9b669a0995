"""The project's Allure 3 config (`allurerc.json`, harness/report/allure3.py): the file in the
repository is what the code makes, tox pins the same Allure, and the category rules group
failures as `categories.json` does, read the way Allure 3 reads them (the first rule with a
matching matcher; a pattern is a JavaScript RegExp that need only match somewhere)."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.report import allure3

ROOT = Path(__file__).resolve().parents[2]

CASES = [  # (status, message, trace) -> category
    ("failed", "AssertionError", "E  assert None == 200\nxbee-hil: module codes\nCI = 0x26 Con"),
    ("failed", "AssertionError: x", "codes:\nTX status = 0x8B TLS Socket Authentication Error"),
    ("failed", "AssertionError: TX status = 0x86 Invalid TLS configuration", ""),
    ("broken", "TimeoutError: no response within 30 s", "Traceback ..."),
    ("failed", "AssertionError: no response", "codes:\nCI = 0x26 Connection refused"),
    ("failed", "AssertionError: x", "codes:\nCI = 0x22 No network registration"),
    ("broken", "Inconclusive: inconclusive: control root-ca failed", ""),
    ("skipped", "module broken: port lost", ""),
    ("failed", "AssertionError: 404 != 200", "assert 404 == 200"),
    ("failed", "AssertionError: x", "y = 'no response'"),
]
EXPECTED = [
    "Connection refused",
    "TLS authentication",
    "TLS configuration",
    "No response",
    "Connection refused",  # a code decides over words
    "Not registered",
    "Inconclusive: control failed",
    "Skipped: module broken",
    None,  # Allure 3's default "Product errors"
    None,  # words count in the message only
]


def matches(matcher: dict[str, Any], status: str, message: str, trace: str) -> bool:
    """`@allurereport/core-api` matchObjectMatcher: statuses, then `new RegExp(p).test(...)`."""
    if status not in matcher.get("statuses", [status]):
        return False
    return all(
        re.search(matcher[key], text) is not None
        for key, text in (("message", message), ("trace", trace))
        if key in matcher
    )


def category(status: str, message: str, trace: str) -> str | None:
    for rule in allure3.categories():
        if any(matches(m, status, message, trace) for m in rule["matchers"]):
            return str(rule["name"])
    return None


def test_the_repository_config_is_what_the_code_makes() -> None:
    on_disk = (ROOT / allure3.CONFIG_FILE).read_text()
    assert on_disk == allure3.render(), (
        "allurerc.json is stale: python -m harness.report.allure3 > allurerc.json"
    )
    config = json.loads(on_disk)
    assert config["plugins"]["awesome"]["options"]["singleFile"] is True
    assert config["historyPath"] == allure3.HISTORY and config["output"] == allure3.OUTPUT


def test_tox_report_runs_the_pinned_allure_with_the_config() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    command = shlex.split(tox["testenv:report"]["commands"].strip())
    assert command[:4] == ["npx", "--yes", f"allure@{allure3.ALLURE_VERSION}", "generate"]
    assert "--config" in command and command[command.index("--config") + 1] == "allurerc.json"
    assert re.fullmatch(r"\d+\.\d+\.\d+", allure3.ALLURE_VERSION)  # exact, not a range
    for where in (".ci/run", "examples/nightly/nightly.sh"):  # the same Allure everywhere
        assert f"allure@{allure3.ALLURE_VERSION}" in (ROOT / where).read_text(), where


def test_rules_group_failures_by_code_family_as_allure_3_reads_them() -> None:
    assert [category(*case) for case in CASES] == EXPECTED


def test_no_java_only_regex_syntax() -> None:
    """`(?s)` and other inline flags are a SyntaxError in a JavaScript RegExp."""
    for rule in allure3.categories():
        for matcher in rule["matchers"]:
            for key in ("message", "trace"):
                assert "(?s" not in matcher.get(key, ""), (rule["name"], matcher)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_node_compiles_the_rules_and_groups_alike() -> None:
    """The same cases through Node's own RegExp, as Allure 3 runs them."""
    script = r"""
const [rules, cases] = JSON.parse(require("fs").readFileSync(0, "utf8"));
const hit = (m, [status, message, trace]) =>
  (!m.statuses || m.statuses.includes(status)) &&
  (m.message === undefined || new RegExp(m.message).test(message)) &&
  (m.trace === undefined || new RegExp(m.trace).test(trace));
const out = cases.map((c) => {
  const rule = rules.find((r) => r.matchers.some((m) => hit(m, c)));
  return rule ? rule.name : null;
});
console.log(JSON.stringify(out));
"""
    payload = json.dumps([allure3.categories(), CASES])
    run = subprocess.run(
        ["node", "-e", script], input=payload, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == EXPECTED
