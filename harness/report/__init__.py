"""Reports: Allure attachments, parameters, labels and steps; the mode × TLS-variant matrix.

Why a package of its own: a bench run is judged from its report, so what a test saw on the
wire, the HTTP exchange and the module's codes must reach Allure the same way from every
suite. `attach` has the per-test Allure helpers, `codes` how codes read and what is masked,
`files` the results-folder files (environment, categories), `matrix` the matrix,
`allure3` the project's Allure 3 config (`allurerc.json`: categories, one file, history).

The codes read as Digi writes them (`CI = 0x26 Connection refused`, via `harness.xbee.codes`),
and failing tests carry that text so `categories.json` can group them by family.
Secrets (APN credentials, private keys, IMEI/ICCID) are masked before anything is written.
"""

from typing import TYPE_CHECKING, Any

from harness.report.codes import (
    CODE_FAMILIES,
    CODE_KINDS,
    MASK,
    PARAMETER_KINDS,
    PRIVATE_KEY_PEM,
    SECRET_HEADERS,
    SECRET_PROPERTY,
    CodeFamily,
    code_line,
    family_of,
    hex_code,
    redact,
    short_code,
)
from harness.report.files import (
    FAILING,
    NO_CODE_LINE,
    categories,
    write_categories,
    write_environment,
    write_text,
)
from harness.report.matrix import (
    JUDGED,
    NONE,
    Cell,
    Matrix,
    Outcome,
    render_html,
    render_markdown,
    render_text,
    write_matrix,
)

if TYPE_CHECKING:
    from harness.report.attach import (
        BODY_PREVIEW,
        HttpResultLike,
        attach_capture,
        attach_http,
        attach_text,
        firmware_labels,
        hide_parameter,
        http_text,
        record_codes,
        set_labels,
        set_parameters,
        step,
    )

# `attach` imports allure: on first use only (PEP 562), so the pytest plugin's import stays
# light in runs that do not use it (A-LAZY-PLUGIN).
_LAZY_ATTACH = frozenset(
    (
        "BODY_PREVIEW",
        "HttpResultLike",
        "attach_capture",
        "attach_http",
        "attach_text",
        "firmware_labels",
        "hide_parameter",
        "http_text",
        "record_codes",
        "set_labels",
        "set_parameters",
        "step",
    )
)


def __getattr__(name: str) -> Any:
    if name not in _LAZY_ATTACH:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from harness.report import attach

    value = getattr(attach, name)
    globals()[name] = value
    return value


__all__ = [
    "BODY_PREVIEW",
    "CODE_FAMILIES",
    "CODE_KINDS",
    "FAILING",
    "JUDGED",
    "MASK",
    "NONE",
    "NO_CODE_LINE",
    "PARAMETER_KINDS",
    "PRIVATE_KEY_PEM",
    "SECRET_HEADERS",
    "SECRET_PROPERTY",
    "Cell",
    "CodeFamily",
    "HttpResultLike",
    "Matrix",
    "Outcome",
    "attach_capture",
    "attach_http",
    "attach_text",
    "categories",
    "code_line",
    "family_of",
    "firmware_labels",
    "hex_code",
    "hide_parameter",
    "http_text",
    "record_codes",
    "redact",
    "render_html",
    "render_markdown",
    "render_text",
    "set_labels",
    "set_parameters",
    "short_code",
    "step",
    "write_categories",
    "write_environment",
    "write_matrix",
    "write_text",
]
