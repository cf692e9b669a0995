"""Per-test Allure helpers: attachments, parameters, labels and steps.

Why: a bench run is judged from its report, so what a test saw on the wire, the HTTP exchange
and the module's codes must reach Allure the same way from every suite. The helpers are thin
over allure-pytest (`allure.attach`, `allure.dynamic`, `allure.step`); outside a test, or when
Allure is not enabled, they do nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import allure
import allure_commons
from allure_commons.types import AttachmentType

from harness import atomicio
from harness.report.codes import (
    MASK,
    PARAMETER_KINDS,
    SECRET_HEADERS,
    code_line,
    hex_code,
    redact,
)


class Plain:
    """A parameter value Allure shows as written: allure-commons' `represent()` quotes every
    str (`'0x8B'`) and shows any other object by its repr, so this object's repr is its text.
    (allure-python-commons 2.16 `utils.represent`; allure-pytest adds a test's own pytest
    parameters after our setup hook, only those not set already: `listener.py`
    `pytest_runtest_setup`, so a plain value set here is the one shown.)"""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def plain(value: Any) -> Plain:
    """A pytest parameter as a reader wants it: `api`, `0x26`, a device by its label."""
    if isinstance(value, str | int | float | bool) or value is None:
        return Plain(str(value))
    return Plain(str(getattr(value, "label", None) or value))


def set_parameters(**values: Any) -> None:
    """Allure parameters (`mode`, `tls_variant`, …) as plain values; None values are left
    out. A pytest argument of the same name is shown with this value instead."""
    for name, value in values.items():
        if value is not None:
            allure.dynamic.parameter(name, plain(value))


def hide_parameter(name: str, value: str = "") -> None:
    """Keep a pytest argument (e.g. `xbee_mode`) out of the report: shown under another name."""
    allure.dynamic.parameter(
        name, plain(value), excluded=True, mode=allure.parameter_mode.HIDDEN
    )


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
            allure.dynamic.parameter(kind, Plain(hex_code(value)))
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
    if not _recording():
        return  # no Allure results in this run: reading and rendering the capture is waste
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
    """What `attach_http` reads from an HTTP result (as harness.device.http_exchange.HttpResult
    has it)."""

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


def _recording() -> bool:
    """Whether an Allure listener takes attachments (allure-pytest with --alluredir)."""
    return bool(allure_commons.plugin_manager.hook.attach_data.get_hookimpls())


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
