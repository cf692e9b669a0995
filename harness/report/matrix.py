"""The mode × TLS-variant matrix: one cell per (mode, variant, device), rendered as text,
Markdown, HTML and JSON next to the Allure results."""

from __future__ import annotations

import enum
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.report.codes import code_line, hex_code, short_code
from harness.report.files import write_text

NONE = "-"  # the axis a test does not have (an HTTP test has no TLS variant)


class Outcome(enum.Enum):
    """A cell's outcome; when several tests share a cell the most severe one wins."""

    ERROR = "error"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"  # a control failed: the cell cannot be judged
    XPASSED = "xpassed"
    PASSED = "passed"
    XFAILED = "xfailed"
    SKIPPED = "skipped"

    @property
    def severity(self) -> int:
        return len(Outcome) - list(Outcome).index(self)

    @property
    def short(self) -> str:
        return _SHORT[self]


_SHORT = {
    Outcome.ERROR: "ERROR",
    Outcome.FAILED: "FAIL",
    Outcome.INCONCLUSIVE: "INCONCLUSIVE",
    Outcome.XPASSED: "XPASS",
    Outcome.PASSED: "PASS",
    Outcome.XFAILED: "xfail",
    Outcome.SKIPPED: "skip",
}


# A cell's mark: whether the module did what was expected (✓), did not (✗), or the cell
# cannot be judged (?).
_MARK = {
    Outcome.ERROR: "✗ error",
    Outcome.FAILED: "✗",
    Outcome.INCONCLUSIVE: "? inconclusive",
    Outcome.XPASSED: "✗ xpass",
    Outcome.PASSED: "✓",
    Outcome.XFAILED: "xfail",
    Outcome.SKIPPED: "skip",
}
JUDGED = (Outcome.PASSED, Outcome.FAILED, Outcome.INCONCLUSIVE)


@dataclass
class Cell:
    outcome: Outcome
    codes: dict[str, int] = field(default_factory=dict)
    detail: str = ""  # skip reason or the first line of the failure
    tests: list[str] = field(default_factory=list)
    verdict: str = ""  # the judgement's cell text (harness.verdict): `✓ refused · CI 0x26`
    status: int | None = None  # the HTTP status the module delivered, if any
    note: str = ""  # how the cell was made, when unusual ("own simulator")

    def text(self) -> str:
        """What the module did, its code and whether that was expected: `✓ 200 · CI 0x27`,
        `? inconclusive · control CI 0x25`, `✗ 200 (expected TLS failure)`."""
        if self.verdict and self.outcome in JUDGED:
            out = self.verdict
        else:
            codes = " ".join(short_code(k, v) for k, v in self.codes.items())
            what = str(self.status) if self.status is not None else ""
            if not what and codes and self.outcome in (Outcome.PASSED, Outcome.FAILED):
                what = self.outcome.value
            out = _MARK[self.outcome] + (f" {what}" if what else "")
            out += f" · {codes}" if codes else ""
        return out + (f" ({self.note})" if self.note else "")

    def title(self) -> str:
        """The long form: every code described, the detail, the tests."""
        parts = [code_line(k, v) for k, v in self.codes.items()]
        if self.detail:
            parts.append(self.detail)
        parts += self.tests
        return "\n".join(parts)


@dataclass
class Matrix:
    """Cells by (group, TLS variant, mode); a group is a test function (and device)."""

    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    mode_order: tuple[str, ...] = ()
    variant_order: tuple[str, ...] = ()

    def add(
        self,
        group: str,
        mode: str | None,
        variant: str | None,
        outcome: Outcome,
        codes: Mapping[str, int | None] | None = None,
        detail: str = "",
        test: str = "",
        verdict: str = "",
        status: int | None = None,
        note: str = "",
    ) -> Cell:
        key = (group, variant or NONE, mode or NONE)
        found = {k: v for k, v in (codes or {}).items() if v is not None}
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell(outcome, found, detail, verdict=verdict,
                                          status=status, note=note)  # fmt: skip
        elif outcome.severity > cell.outcome.severity:
            cell.outcome, cell.detail = outcome, detail or cell.detail
            cell.verdict, cell.status = verdict or cell.verdict, status or cell.status
            cell.codes = {**found, **{k: v for k, v in cell.codes.items() if k not in found}}
        else:
            cell.codes.update({k: v for k, v in found.items() if k not in cell.codes})
        if test:
            cell.tests.append(test)
        return cell

    def __bool__(self) -> bool:
        return bool(self.cells)

    def groups(self) -> list[str]:
        return list(dict.fromkeys(g for g, _, _ in self.cells))

    def axes(self, group: str) -> tuple[list[str], list[str]]:
        """The (variants, modes) present in a group, in the declared order, others after."""
        variants = {v for g, v, _ in self.cells if g == group}
        modes = {m for g, _, m in self.cells if g == group}
        return _ordered(variants, self.variant_order), _ordered(modes, self.mode_order)

    def counts(self) -> dict[Outcome, int]:
        out = dict.fromkeys(Outcome, 0)
        for cell in self.cells.values():
            out[cell.outcome] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "cells": [
                {"group": g, "tls_variant": v, "mode": m, "outcome": c.outcome.value,
                 "text": c.text(), "status": c.status,
                 "codes": {k: hex_code(x) for k, x in c.codes.items()},
                 "detail": c.detail, "note": c.note, "tests": c.tests}
                for (g, v, m), c in self.cells.items()
            ]
        }  # fmt: skip


def _ordered(values: set[str], order: tuple[str, ...]) -> list[str]:
    known = [v for v in order if v in values]
    rest = sorted(v for v in values if v not in order and v != NONE)
    return known + rest + ([NONE] if NONE in values else [])


def render_text(matrix: Matrix) -> str:
    """The matrix for a terminal: one table per group, variants down, modes across."""
    out = []
    for group in matrix.groups():
        variants, modes = matrix.axes(group)
        rows = [["TLS variant", *modes]]
        for variant in variants:
            row = [variant]
            for mode in modes:
                cell = matrix.cells.get((group, variant, mode))
                row.append(cell.text() if cell else "")
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out.append(group)
        for row in rows:
            out.append(
                "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
        out.append("")
    counts = matrix.counts()
    out.append("cells: " + ", ".join(f"{n} {o.value}" for o, n in counts.items() if n))
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", "<br>")


def render_markdown(matrix: Matrix, title: str = "xbee-hil: mode × TLS-variant matrix") -> str:
    out = [f"# {_md(title)}", ""]
    for group in matrix.groups():
        variants, modes = matrix.axes(group)
        out += [f"## {_md(group)}", ""]
        out.append("| TLS variant | " + " | ".join(_md(m) for m in modes) + " |")
        out.append("|---|" + "---|" * len(modes))
        for variant in variants:
            cells = []
            for mode in modes:
                cell = matrix.cells.get((group, variant, mode))
                cells.append(_md(cell.text()) if cell else "")
            out.append(f"| {_md(variant)} | " + " | ".join(cells) + " |")
        out.append("")
    counts = matrix.counts()
    out.append("Cells: " + ", ".join(f"{n} {o.value}" for o, n in counts.items() if n) + ".")
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: left; }
td.passed { background: #d8f5d0; } td.failed, td.error, td.xpassed { background: #f8d0d0; }
td.inconclusive { background: #fbe3b8; }
td.skipped { background: #eee; color: #666; } td.xfailed { background: #f5ecc8; }
"""


def render_html(matrix: Matrix, title: str = "xbee-hil: mode × TLS-variant matrix") -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for group in matrix.groups():
        variants, modes = matrix.axes(group)
        out.append(f"<h2>{esc(group)}</h2><table>")
        out.append("<tr><th>TLS variant</th>" + "".join(f"<th>{esc(m)}</th>" for m in modes))
        for variant in variants:
            row = [f"<tr><th>{esc(variant)}</th>"]
            for mode in modes:
                cell = matrix.cells.get((group, variant, mode))
                if cell is None:
                    row.append("<td></td>")
                else:
                    row.append(
                        f'<td class="{cell.outcome.value}" title="{esc(cell.title())}">'
                        f"{esc(cell.text())}</td>"
                    )
            out.append("".join(row) + "</tr>")
        out.append("</table>")
    counts = matrix.counts()
    summary = ", ".join(f"{n} {o.value}" for o, n in counts.items() if n)
    out += [f"<p>Cells: {esc(summary)}.</p>", "</body></html>"]
    return "\n".join(out) + "\n"


def write_matrix(matrix: Matrix, reports_dir: str | Path) -> list[Path]:
    """`matrix.md`, `matrix.html` and `matrix.json` in the reports dir; returns the paths."""
    directory = Path(reports_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("matrix.md", render_markdown(matrix)),
        ("matrix.html", render_html(matrix)),
        ("matrix.json", json.dumps(matrix.to_dict(), indent=2) + "\n"),
    ):
        path = directory / name
        write_text(path, text)
        written.append(path)
    return written
