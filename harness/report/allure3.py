"""The project's Allure 3 config (`allurerc.json`): categories, single file, history.

Why a config of our own: Allure 3 (the npm package `allure`) reads categories only from its
config (`categories.rules`; its awesome report ignores a results folder's `categories.json`),
compiles their patterns as JavaScript RegExps (the Java-style `(?s)` of `categories.json` is a
syntax error there), and writes a report of many data files, which Chromium refuses to load
from file:// (an endless spinner). So: the categories in Allure 3's form, made from the same
code families as `categories.json` (`harness.report.codes`); `singleFile` for the awesome
report, so `index.html` opens from disk; and a `historyPath` that each `allure generate`
appends the run to, so the trends grow night after night (A-NIGHTLY-HISTORY). Sources:
allure@3.18.0, `@allurereport/core/dist/config.js` (fields), `core-api/dist/categories.js`
(rules, `matchers`, `new RegExp(v).test`), `plugin-awesome/dist/model.d.ts` (`singleFile`),
`core/dist/history.js` (JSON Lines history, `historyLimit`).

`python -m harness.report.allure3 [--history PATH] [--output DIR]` prints the config; the
repository's `allurerc.json` is that output (a test keeps the two the same).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from harness.report.codes import CODE_FAMILIES, CODE_KINDS, hex_code
from harness.report.files import FAILING

ALLURE_VERSION = "3.18.0"  # the one Allure 3 the project builds its report with (tox.ini)
CONFIG_FILE = "allurerc.json"
OUTPUT = "reports/allure-report"
HISTORY = "reports/history/allure-history.jsonl"  # A-NIGHTLY-HISTORY
HISTORY_LIMIT = 90  # runs kept in the history file: three months of nightlies
REPORT_NAME = "xbee-hil"

_JS_SPECIAL = re.compile(r"[\\^$.*+?()[\]{}|/]")


def js_escape(text: str) -> str:
    """`text` as a literal in a JavaScript RegExp (no Python-only escapes such as `\\ `)."""
    return _JS_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def _any_of(texts: list[str]) -> str:
    return "(" + "|".join(js_escape(t) for t in texts) + ")"


# A trace with no code line in it (`CI = …`, `TX status = …`): then the family's words decide.
NO_CODE_LINE = "^(?![\\s\\S]*" + _any_of(sorted({v[0] for v in CODE_KINDS.values()})) + " = )"


def categories() -> list[dict[str, Any]]:
    """Allure 3 category rules, in `harness.report.files.categories`' order and meaning: one
    rule per code family, matched by a code line in the message or the trace, or by the
    family's words in the message when the trace has no code line. Allure 3 puts a result
    in the first rule that matches; the rest go to its default "Product errors" / "Test
    errors"."""
    rules: list[dict[str, Any]] = [
        {  # a must-fail cell whose control failed (harness.verdict): not a product defect
            "name": "Inconclusive: control failed",
            "matchers": [{"statuses": ["broken"], "message": "inconclusive"}],
        }
    ]
    for family in CODE_FAMILIES:
        lines = [
            f"{CODE_KINDS[kind][0]} = {hex_code(v)}"
            for kind, values in family.codes.items()
            for v in values
        ]
        codes_here = _any_of(lines)
        matchers: list[dict[str, Any]] = [
            {"statuses": FAILING, "message": codes_here},
            {"statuses": FAILING, "trace": codes_here},
        ]
        if family.words:
            matchers.append(
                {"statuses": FAILING, "message": _any_of(list(family.words)), "trace": NO_CODE_LINE}
            )
        rules.append({"name": family.name, "matchers": matchers})
    rules.append(
        {
            "name": "Skipped: module broken",
            "matchers": [{"statuses": ["skipped"], "message": "module broken"}],
        }
    )
    return rules


def config(history: str = HISTORY, output: str = OUTPUT) -> dict[str, Any]:
    """The whole `allurerc.json`. Relative paths are Allure's to resolve: against the folder
    `allure generate` runs in (the repository root, for `tox -e report`)."""
    return {
        "name": REPORT_NAME,
        "output": output,
        "historyPath": history,
        "historyLimit": HISTORY_LIMIT,
        "categories": {"rules": categories()},
        "plugins": {
            "awesome": {
                "options": {
                    "reportName": REPORT_NAME,
                    "singleFile": True,  # index.html carries its data: opens from file://
                }
            }
        },
    }


def render(history: str = HISTORY, output: str = OUTPUT) -> str:
    return json.dumps(config(history, output), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.report.allure3",
        description=f"print xbee-hil's Allure {ALLURE_VERSION} config ({CONFIG_FILE})",
    )
    parser.add_argument("--history", default=HISTORY, help=f"history file (default {HISTORY})")
    parser.add_argument("--output", default=OUTPUT, help=f"report folder (default {OUTPUT})")
    args = parser.parse_args(argv)
    print(render(args.history, args.output), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
