"""The verdict on one request: did the module do what the TLS variant expects, and for the
variant's reason? Pure: no I/O, no pytest; `harness.pytest_plugin.controls` feeds it and acts on it.

Why it exists: on a bench, "any failure code" is not "failed for the right reason". A DNS,
route or registration failure never satisfies a TLS variant; a code a firmware gives for
several reasons (3100C CI 0x26: refused or TLS, F-HTTPS) is only believed when the control
(the variant that must succeed against the same target, same mode) reached the server; and
when the control itself failed, nothing the must-fail variants showed can be judged: they
are inconclusive, with the control's code as the reason (A-VERDICT-CONTROL).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from harness.xbee.codes import TLS_REASONS, Reason, generic_reason
from harness.xbee.firmware import FAILURE_REASONS, Family

OK = "ok"  # harness.variants.OK
SHORT_KIND = {"ci": "CI", "tx_status": "TX", "socket_status": "socket"}
# A module whose firmware family is unknown: a TLS variant accepts a TLS-family code, or a
# "refused" one (the Cat 1 family reports TLS failures as refused, F-HTTPS), the latter
# only as an ambiguous code that leans on the control (A-VERDICT-UNKNOWN-FW).
UNKNOWN_FW_TLS = TLS_REASONS | {Reason.REFUSED}


class Verdict(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Inconclusive(Exception):
    """Raised by a test whose outcome cannot be judged (its control failed). Not an
    AssertionError, so Allure files it as "broken"; the plugin shows it as INCONCLUSIVE."""


@dataclass(frozen=True)
class Control:
    """What the control variant did against a target: its HTTP status and its code."""

    variant: str
    status: int | None
    kind: str
    code: int | None
    expect_status: int = 200

    @property
    def ok(self) -> bool:
        return self.status == self.expect_status

    def code_text(self) -> str:
        if self.code is None:
            return f"{self.variant} got {self.status}" if self.status else "no code"
        return code_text(self.kind, self.code)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str  # one line: why
    cell: str  # the matrix cell: `✓ 200 · CI 0x27`, `? inconclusive · control CI 0x25`

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS


def code_text(kind: str, value: int) -> str:
    return f"{SHORT_KIND.get(kind, kind)} 0x{value:02X}"


def reasons_of(family: Family | None, kind: str, code: int) -> frozenset[Reason]:
    """What a code means on this firmware (its family's table), else Digi's generic meaning."""
    if family is not None:
        return family.reasons(kind, code)
    return frozenset({generic_reason(kind, code)})


def _names(reasons: Iterable[Reason]) -> str:
    order = list(Reason)
    return " or ".join(r.value for r in sorted(reasons, key=order.index))


def expected_reason(expect: str) -> Reason:
    """A variant's `expect` (a simulator failure reason, `tls_auth`) as a reason family."""
    try:
        return FAILURE_REASONS[expect]
    except KeyError:
        known = ", ".join(FAILURE_REASONS)
        raise KeyError(f"unknown failure reason {expect!r}; known: {known}") from None


def _what(reason: Reason) -> str:
    return "TLS failure" if reason in TLS_REASONS else reason.value


def judge(
    expect: str,
    family: Family | None,
    kind: str,
    code: int | None,
    status: int | None,
    control: Control | None = None,
    expect_status: int = 200,
) -> Judgement:
    """Judge one request. `expect` is OK or a failure reason (`tls_auth`, `tls_config`, …);
    `kind` where the mode reports a failure (ci / tx_status / socket_status); `control` what
    the target's control variant did (None: none could run)."""
    shown = f" · {code_text(kind, code)}" if code is not None else ""
    if expect == OK:
        if status == expect_status:
            return Judgement(Verdict.PASS, f"{status} as expected", f"✓ {status}{shown}")
        got = str(status) if status is not None else _failure_word(family, kind, code)
        return Judgement(
            Verdict.FAIL, f"{got}{shown.replace(' · ', ', ')}: expected {expect_status}",
            f"✗ {got}{shown} (expected {expect_status})",
        )  # fmt: skip
    wanted = expected_reason(expect)
    if status is not None:
        return Judgement(
            Verdict.FAIL, f"answered {status}: expected a {wanted.value} failure",
            f"✗ {status} (expected {_what(wanted)})",
        )  # fmt: skip
    if control is not None and not control.ok:
        why = f"control {control.variant} failed ({control.code_text()})"
        return Judgement(
            Verdict.INCONCLUSIVE, f"{why}: the target was not reached, so this cannot be judged",
            f"? inconclusive · control {control.code_text()}",
        )  # fmt: skip
    if code is None:
        return Judgement(
            Verdict.FAIL, f"no {SHORT_KIND.get(kind, kind)} code: expected {wanted.value}",
            f"✗ no code (expected {_what(wanted)})",
        )  # fmt: skip
    reasons = reasons_of(family, kind, code)
    if family is None and wanted in TLS_REASONS:
        matched = bool(reasons & UNKNOWN_FW_TLS)
    else:
        matched = wanted in reasons
    meaning = _names(reasons)
    text = code_text(kind, code)
    if not matched:
        return Judgement(
            Verdict.FAIL, f"{text} means {meaning}, not {wanted.value}",
            f"✗ {meaning}{shown} (expected {_what(wanted)})",
        )  # fmt: skip
    ambiguous = len(reasons) > 1 or (family is None and not reasons <= {wanted})
    if control is None:
        return Judgement(
            Verdict.INCONCLUSIVE,
            f"{text}: {meaning}; no control could run against this target",
            "? inconclusive · no control",
        )
    # the variant's reason and the non-TLS reasons the same code also stands for
    alts = _names({wanted} | (reasons - TLS_REASONS))
    if ambiguous and alts != wanted.value:
        return Judgement(
            Verdict.PASS, f"{text}: {alts}; control {control.variant} reached the server",
            f"✓ {alts}{shown}",
        )  # fmt: skip
    return Judgement(Verdict.PASS, f"{text}: {wanted.value} as expected", f"✓ {alts}{shown}")


def _failure_word(family: Family | None, kind: str, code: int | None) -> str:
    if code is None:
        return "no response"
    return _names(reasons_of(family, kind, code))


def closed_after_response(family: Family | None, kind: str, code: int | None) -> bool:
    """After a completed response in transparent mode, CI may say "open" or the peer's close
    (the request says `Connection: close`, D-TRANSP): neither is a failure."""
    if code is None:
        return False
    return bool(reasons_of(family, kind, code) & {Reason.OK, Reason.CLOSED_BY_PEER})
