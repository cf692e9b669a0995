"""Reports: Allure attachments, parameters, labels and steps; the mode × TLS-variant matrix.

Why a module of its own: a bench run is judged from its report, so what a test saw on the
wire, the HTTP exchange and the module's codes must reach Allure the same way from every
suite. The helpers here are thin over allure-pytest (`allure.attach`, `allure.dynamic`,
`allure.step`); outside a test, or when Allure is not enabled, they do nothing.

The codes read as Digi writes them (`CI = 0x26 Connection refused`, via `harness.xbee.codes`),
and failing tests carry that text so `categories.json` can group them by family.
Secrets (APN credentials, private keys, IMEI/ICCID) are masked before anything is written.
"""

from __future__ import annotations

import enum
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import allure
import pytest
from allure_commons.types import AttachmentType

from harness import atomicio
from harness.xbee import codes as code_tables

MASK = "****"

# kind (as tests and device.http name them) -> (how the report spells it, code table, short)
CODE_KINDS: dict[str, tuple[str, str, str]] = {
    "ci": ("CI", "CI", "CI"),  # D-CI (IP=1/4 table)
    "tx_status": ("TX status", "TX", "TX"),  # D-89
    "socket_status": ("socket status", "SOCKET", "socket"),  # D-SF 0xCF
    "socket_state": ("socket status", "SOCKET", "socket"),  # D-SF 0xCF
    "socket_create": ("socket create status", "SOCKET-CREATE", "create"),  # D-SF p.267
    "socket_option": ("socket option status", "SOCKET-OPTION", "option"),  # D-SF p.269
    "socket_connect": ("socket connect status", "SOCKET-CONNECT", "connect"),  # D-SF p.271
    "socket_close": ("socket close status", "SOCKET-CLOSE", "close"),  # D-XS p.174
    "ai": ("AI", "AI", "AI"),  # reference §3.3
    "at_status": ("AT status", "AT", "AT"),  # D-88
}
# The codes that become Allure parameters (hex strings, "0x26"), so runs can be filtered.
PARAMETER_KINDS = ("ci", "tx_status", "socket_status")


def hex_code(value: int) -> str:
    return f"0x{value:02X}"


def code_line(kind: str, value: int) -> str:
    """`CI = 0x26 Connection refused`: the text steps, failures and categories all use."""
    label, table, _ = CODE_KINDS.get(kind, (kind, "", kind))
    if not table:
        return f"{label} = {hex_code(value)}"
    return f"{label} = {code_tables.describe(table, value)}"


def short_code(kind: str, value: int) -> str:
    """`CI 0x26`: what fits in a matrix cell."""
    return f"{CODE_KINDS.get(kind, (kind, '', kind))[2]} {hex_code(value)}"


# ----- secrets -------------------------------------------------------------------------------

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
SECRET_PROPERTY = re.compile(r"password|passwd|secret|token|imei|iccid|imsi|key$", re.I)
PRIVATE_KEY_PEM = re.compile(
    r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask each secret (as text and as hex, the two ways a capture may carry it) and PEM keys."""
    for secret in secrets:
        if len(secret) < 3:  # masking "1" would mangle every transcript
            continue
        raw = secret.encode()
        for form in (secret, raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(" ").upper()):
            text = text.replace(form, MASK)
    return PRIVATE_KEY_PEM.sub(lambda m: f"-----{m.group(1)}PRIVATE KEY {MASK}-----", text)


# ----- per-test Allure helpers ---------------------------------------------------------------


def set_parameters(**values: str | None) -> None:
    """Allure parameters (`mode`, `tls_variant`, …); None values are left out."""
    for name, value in values.items():
        if value is not None:
            allure.dynamic.parameter(name, value)


def hide_parameter(name: str, value: str = "") -> None:
    """Keep a pytest argument (e.g. `xbee_mode`) out of the report: shown under another name."""
    allure.dynamic.parameter(name, value, excluded=True, mode=allure.parameter_mode.HIDDEN)


def set_labels(**values: str | None) -> None:
    """Allure labels (`device`, `personality`, `firmware`, `hardware`, `profile`)."""
    for name, value in values.items():
        if value:
            allure.dynamic.label(name, value)


def firmware_labels(vr: int | str | None = None, hv: int | str | None = None) -> None:
    """Label the test with the module's VR / HV as the module reports them (reference §7)."""
    set_labels(
        firmware=_version_text(vr) if vr is not None else None,
        hardware=_version_text(hv) if hv is not None else None,
    )


def _version_text(value: int | str) -> str:
    return f"{value:X}" if isinstance(value, int) else str(value)


def record_codes(codes: Mapping[str, int | None]) -> list[str]:
    """Each code as an Allure step (`CI = 0x26 Connection refused`) and, for CI / TX status /
    socket status, as a hex parameter (`ci` = `0x26`). Returns the step texts."""
    lines = []
    for kind, value in codes.items():
        if value is None:
            continue
        line = code_line(kind, value)
        lines.append(line)
        with allure.step(line):
            pass
        if kind in PARAMETER_KINDS:
            allure.dynamic.parameter(kind, hex_code(value))
    return lines


def step(text: str) -> None:
    """One Allure step with no body (a verdict, a note)."""
    with allure.step(text):
        pass


def attach_text(text: str, name: str, secrets: Iterable[str] = ()) -> None:
    _attach(redact(text, secrets), name=name, attachment_type=AttachmentType.TEXT)


def attach_capture(
    jsonl: str | Path | None,
    transcript: Callable[[], str] | None,
    name: str = "capture",
    secrets: Iterable[str] = (),
) -> None:
    """Attach a wire capture: the readable transcript (from the callable, so this module does
    not depend on the capture format) and the raw JSON Lines file, both with secrets masked.
    A transcript that cannot be built is reported as such rather than failing the test."""
    secrets = tuple(secrets)
    if transcript is not None:
        try:
            text = transcript()
        except Exception as exc:  # a broken capture must not hide the test's own outcome
            text = f"(transcript unavailable: {type(exc).__name__}: {exc})"
        attach_text(text, f"{name} (transcript)", secrets)
    if jsonl is not None:
        path = Path(jsonl)
        try:
            raw = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raw = f"(capture {path} unreadable: {exc})"
        _attach(
            redact(raw, secrets),
            name=f"{name}.jsonl",
            attachment_type="text/plain",
            extension="jsonl",
        )


class _Timings(Protocol):
    connect: float | None
    first_byte: float | None
    total: float


class _Code(Protocol):
    kind: str
    value: int


class HttpResultLike(Protocol):
    """What `attach_http` reads from an HTTP result (harness.device.http.HttpResult has it)."""

    method: str
    url: str
    status: int | None
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


BODY_PREVIEW = 2048  # bytes of body shown in the text attachment


def http_text(
    result: HttpResultLike,
    request_headers: Iterable[tuple[str, str]] = (),
    request_body: bytes = b"",
    secrets: Iterable[str] = (),
) -> str:
    """A readable request/response, headers that carry credentials masked."""
    lines = [f"> {result.method} {result.url}"]
    lines += [f"> {k}: {_header_value(k, v)}" for k, v in request_headers]
    if request_body:
        lines += [">", _body_preview(request_body)]
    lines.append("")
    if result.status is None:
        error = getattr(result, "error", None) or "no response"
        lines.append(f"< (no status line: {error})")
    else:
        lines.append(f"< {result.status} {result.reason}".rstrip())
    lines += [f"< {k}: {_header_value(k, v)}" for k, v in result.headers]
    if result.body:
        lines += ["<", _body_preview(result.body)]
    timings: _Timings | None = getattr(result, "timings", None)
    if timings is not None:
        parts = [
            f"{name} {value * 1000:.1f} ms"
            for name in ("connect", "first_byte", "total")
            if (value := getattr(timings, name, None)) is not None
        ]
        if parts:
            lines += ["", "timings: " + ", ".join(parts)]
    found: list[_Code] = list(getattr(result, "codes", ()) or ())
    if found:
        lines += ["", "module codes:"] + [f"  {code_line(c.kind, c.value)}" for c in found]
    return redact("\n".join(lines) + "\n", secrets)


def attach_http(
    result: HttpResultLike,
    name: str = "HTTP",
    request_headers: Iterable[tuple[str, str]] = (),
    request_body: bytes = b"",
    secrets: Iterable[str] = (),
) -> None:
    """Attach an HTTP exchange and record the module's codes it carries as steps/parameters."""
    attach_text(http_text(result, request_headers, request_body, secrets), name)
    found: list[_Code] = list(getattr(result, "codes", ()) or ())
    record_codes({c.kind: c.value for c in found})


def _header_value(name: str, value: str) -> str:
    return MASK if name.lower() in SECRET_HEADERS else value


def _body_preview(body: bytes) -> str:
    shown = body[:BODY_PREVIEW].decode("utf-8", errors="backslashreplace")
    more = len(body) - BODY_PREVIEW
    return shown + (f"\n… ({more} more bytes)" if more > 0 else "")


# ----- results-dir files ---------------------------------------------------------------------


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
    _write_text(path, "\n".join(lines) + "\n")
    return path


def _prop_escape(text: str, is_key: bool) -> str:
    # java.util.Properties: backslash, newlines, and in keys '=', ':' and spaces are escaped.
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if is_key:
        text = text.replace("=", "\\=").replace(":", "\\:").replace(" ", "\\ ")
    return text


@dataclass(frozen=True)
class CodeFamily:
    """Failures that share a cause, by the codes that show it (source tags beside each)."""

    name: str
    codes: Mapping[str, tuple[int, ...]]
    words: tuple[str, ...] = ()  # failure texts that mean the same without a code


CODE_FAMILIES: tuple[CodeFamily, ...] = (
    CodeFamily(
        "TLS authentication",
        # D-CI 0x2F; D-89 0x8B. (Cat 1 3100C shows 0x26 instead: F-HTTPS - see refused.)
        {"ci": (0x2F,), "tx_status": (0x8B,)},
        ("certificate verify failed", "TLS authentication"),
    ),
    CodeFamily(
        "TLS configuration",
        {"tx_status": (0x86,)},  # D-89 "Invalid TLS configuration (missing file, and so forth)"
        ("invalid TLS configuration",),
    ),
    CodeFamily(
        "Connection refused",
        # D-CI 0x26; D-89 0x80; D-SF 0xCF 0x02
        {"ci": (0x26,), "tx_status": (0x80,), "socket_status": (0x02,)},
        ("Connection refused",),
    ),
    CodeFamily(
        "No response",
        # D-CI 0x24 no server (timed out); D-89 0x82 no server; D-SF 0xCF 0x04 timed out
        {"ci": (0x24,), "tx_status": (0x82,), "socket_status": (0x04,)},
        ("no response", "timed out", "Timeout"),
    ),
    CodeFamily(
        "Not registered",
        # D-CI 0x10 / 0x22 / 0x23; D-89 0x22; L-C socket status 0x22; AI not 0x00 (§3.3)
        {"ci": (0x10, 0x22, 0x23), "tx_status": (0x22,), "socket_status": (0x22,)},
        ("not registered", "registration"),
    ),
)


def family_of(codes: Mapping[str, int | None]) -> str | None:
    """The first family a set of codes belongs to, or None."""
    for family in CODE_FAMILIES:
        for kind, values in family.codes.items():
            if codes.get(kind) in values:
                return family.name
    return None


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
    _write_text(path, json.dumps(categories(), indent=2) + "\n")
    return path


# ----- the mode × TLS-variant matrix ---------------------------------------------------------

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
        _write_text(path, text)
        written.append(path)
    return written


def _attach(body: str, **kw: Any) -> None:
    """allure.attach, but a full reports disk is not the module's failure: it is remembered
    (the run stops at the test's end, harness.pytest_plugin.stats.write_stats) and the test
    goes on."""
    try:
        allure.attach(body, **kw)
    except OSError as exc:
        if exc.errno not in atomicio.FULL:
            raise
        atomicio.remember(Path(exc.filename or "."), exc)


def _write_text(path: Path, text: str) -> None:
    """Every report file is written whole or not at all (a temporary file in the same folder,
    then a rename), so a full disk keeps the last good one. A failure stops the run with one
    line naming the file and the cause (pytest's Exit: no INTERNALERROR, issue 10 #8)."""
    try:
        atomicio.write_atomic(path, text)
    except OSError as exc:
        pytest.exit(f"xbee-hil: {exc}", returncode=1)
