"""Every assumption id cited in the code has its row in docs/assumptions.md.

A citation without a row is a claim nobody can check on hardware (field-evidence §1,
"ledger hygiene"): this fails on the first such id, naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# An id: `A-` then words joined by `-` (A-CODES-0xCF); not part of a longer word (SARA-R410M,
# D-8A-C1) nor a regex class ([A-Z0-9]).
CITED = re.compile(r"(?<![\w\-\[])A-[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)*(?![\w\]])")
ROW = re.compile(r"^\| (A-[A-Za-z0-9-]+) \|", re.MULTILINE)


def cited_ids() -> dict[str, str]:
    """id -> first `file:line` citing it, over harness/ and suites/ (code and data)."""
    seen: dict[str, str] = {}
    for folder in ("harness", "suites"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".yaml", ".yml"}:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for ident in CITED.findall(line):
                    seen.setdefault(ident, f"{path.relative_to(ROOT)}:{n}")
    return seen


def test_every_cited_id_has_a_row() -> None:
    rows = set(ROW.findall((ROOT / "docs" / "assumptions.md").read_text(encoding="utf-8")))
    missing = {i: where for i, where in cited_ids().items() if i not in rows}
    assert not missing, "cited in code, no row in docs/assumptions.md: " + ", ".join(
        f"{i} ({where})" for i, where in sorted(missing.items()))


def test_the_scan_finds_ids() -> None:
    """The scan is not vacuous: it sees well-known citations."""
    ids = cited_ids()
    assert {"A-AT-DEFAULTS", "A-AT-WIDTH"} <= ids.keys()
    assert not CITED.findall("SARA-R410M D-8A-C1 [A-Z0-9]")


def test_each_id_has_one_row() -> None:
    """Two rows for one id disagree sooner or later (a merge keeps both): one row each."""
    rows = ROW.findall((ROOT / "docs" / "assumptions.md").read_text(encoding="utf-8"))
    twice = sorted({i for i in rows if rows.count(i) > 1})
    assert not twice, "more than one row in docs/assumptions.md: " + ", ".join(twice)
