"""Files in the Allure results folder (environment.properties, categories.json), written
whole or not at all."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness import atomicio
from harness.report.codes import CODE_FAMILIES, CODE_KINDS, MASK, SECRET_PROPERTY, hex_code


def write_environment(results_dir: str | Path, values: Mapping[str, Any]) -> Path:
    """`environment.properties` (Allure's Environment widget); secret-looking keys masked."""
    path = Path(results_dir) / "environment.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for key, value in values.items():
        if value is None or value == "":
            continue
        shown = MASK if SECRET_PROPERTY.search(key) else str(value)
        lines.append(f"{_prop_escape(key, True)}={_prop_escape(shown, False)}")
    write_text(path, "\n".join(lines) + "\n")
    return path


def _prop_escape(text: str, is_key: bool) -> str:
    # java.util.Properties: backslash, newlines, and in keys '=', ':' and spaces are escaped.
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if is_key:
        text = text.replace("=", "\\=").replace(":", "\\:").replace(" ", "\\ ")
    return text


FAILING = ["failed", "broken"]
NO_CODE_LINE = "(?s)(?!.*(" + "|".join(re.escape(v[0]) for v in CODE_KINDS.values()) + ") = ).*"


def categories() -> list[dict[str, Any]]:
    """Allure categories, one per code family. A code line (`CI = 0x26 …`, see `code_line`)
    is looked for in the failure message and in the trace (where the plugin adds the codes a
    test recorded); the family's words in the message, only when no code line is in the
    trace. A result in no category goes to Allure's default product / test defects."""
    out: list[dict[str, Any]] = [
        {  # a must-fail cell whose control failed (harness.verdict): not a product defect
            "name": "Inconclusive: control failed",
            "matchedStatuses": ["broken"],
            "messageRegex": "(?s).*inconclusive.*",
        }
    ]
    for family in CODE_FAMILIES:
        lines = [
            re.escape(f"{CODE_KINDS[kind][0]} = {hex_code(v)}")
            for kind, values in family.codes.items()
            for v in values
        ]
        codes_here = "(?s).*(" + "|".join(lines) + ").*"
        for key in ("messageRegex", "traceRegex"):
            out.append({"name": family.name, "matchedStatuses": FAILING, key: codes_here})
        if family.words:
            words = "(?s).*(" + "|".join(re.escape(w) for w in family.words) + ").*"
            out.append(
                {
                    "name": family.name,
                    "matchedStatuses": FAILING,
                    "messageRegex": words,
                    "traceRegex": NO_CODE_LINE,  # a code, when there is one, decides
                }
            )
    out.append(
        {
            "name": "Skipped: module broken",
            "matchedStatuses": ["skipped"],
            "messageRegex": "(?s).*module broken.*",
        }
    )
    return out


def write_categories(results_dir: str | Path) -> Path:
    path = Path(results_dir) / "categories.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(categories(), indent=2) + "\n")
    return path


def write_text(path: Path, text: str) -> None:
    """Every report file is written whole or not at all (a temporary file in the same folder,
    then a rename), so a full disk keeps the last good one. A failure stops the run with one
    line naming the file and the cause (pytest's Exit: no INTERNALERROR, issue 10 #8)."""
    try:
        atomicio.write_atomic(path, text)
    except OSError as exc:
        pytest.exit(f"xbee-hil: {exc}", returncode=1)
