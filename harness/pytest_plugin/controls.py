"""Judging a test's request against its TLS variant, with the target's control.

The glue between a test and `harness.verdict`: which code kind the mode reports, which
firmware family the module is, and the control (the variant that must succeed against the
same target in the same mode), whose result is reused when it already ran this run and is
otherwise run here, through the device layer, before judging (A-VERDICT-CONTROL). The
judgement goes to the item (the plugin puts its cell text in the matrix and its status in
the terminal) and to Allure as a step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import report, variants
from harness.device.files import Files
from harness.pytest_plugin import matrix
from harness.pytest_plugin.configured import put
from harness.verdict import OK, Control, Inconclusive, Judgement, Verdict, judge

if TYPE_CHECKING:
    from harness.device.http_exchange import HttpResult
    from harness.pytest_plugin.configured import XBee

# The variants that must succeed against each target, in order of preference.
# A variant this firmware is expected to fail (a v3 client certificate on LTE-M, D-TLS-101) is
# no control: the next one is (client-cert-v1).
CONTROL_VARIANTS = {"tls": ("root-ca", "no-ca"), "mutual": ("client-cert", "client-cert-v1")}
JUDGEMENT = matrix.JUDGEMENT  # defined there: matrix must not import this (device layer)


def _key(xbee: XBee, server: str) -> tuple[str, str, str]:
    return (xbee.port.spec.label, server, xbee.mode)


def _expect_status(xbee: XBee, server: str) -> int:
    session = xbee.session
    name = "https" if server == "tls" else server
    target = session.profile.targets.get(name) if session is not None else None
    return target.expect_status if target is not None else 200


def remember(xbee: XBee, variant: variants.TlsVariant, result: HttpResult) -> None:
    """Keep a control variant's result for the must-fail variants of its target."""
    if xbee.session is None or variant.name not in CONTROL_VARIANTS.get(variant.server, ()):
        return
    if variant.expect_for(xbee.family) != OK:  # not a control on this firmware
        return
    code = result.code(xbee.code_kind)
    xbee.session.controls[_key(xbee, variant.server)] = Control(
        variant.name, result.status, xbee.code_kind, code.value if code else None,
        _expect_status(xbee, variant.server),
    )  # fmt: skip


def control_for(xbee: XBee, server: str) -> Control | None:
    """The target's control in this mode: reused, else run now (None when none can run:
    its files are not on this bench)."""
    session = xbee.session
    if session is None:
        return None
    if server not in CONTROL_VARIANTS:  # a TLS limit's own server: the https control shows
        server = "tls"  # that the path, the files and the module's TLS work
    found = session.controls.get(_key(xbee, server))
    if found is not None:
        return found
    port = xbee.port
    for name in CONTROL_VARIANTS[server]:
        variant = variants.get(name)
        if variant.expect_for(xbee.family) != OK:
            continue
        kept = [port.files.get(u.pki) for u in variant.uploads]
        contents = [data for data in kept if data is not None]
        if len(contents) < len(kept):
            continue
        url = port.urls.get("https" if server == "tls" else server)
        if url is None:
            return None
        files = Files(port.module)
        for upload, content in zip(variant.uploads, contents, strict=True):
            put(port, files, upload, content)
        port.configurator.apply({"$0": variant.profile}, xbee.mode)
        port.tap.note("control", variant=name, server=server, mode=xbee.mode)
        result = xbee.request("GET", url, record=False)
        control = Control(
            name, result.status, xbee.code_kind,
            (c.value if (c := result.code(xbee.code_kind)) else None),
            _expect_status(xbee, server),
        )  # fmt: skip
        if not port.device.diverged:  # a replay that diverged proves nothing
            session.controls[_key(xbee, server)] = control
        return control
    return None


def check(xbee: XBee, result: HttpResult, expect: str | None = None) -> Judgement:
    """Judge `result` against the test's TLS variant (or `expect`, a failure reason or
    `ok`). Passes quietly; raises AssertionError on a wrong outcome and `Inconclusive` when
    the target's control failed (the plugin reports it as INCONCLUSIVE, Allure as broken)."""
    variant = xbee.variant
    server = variant.server if variant is not None else "tls"
    wanted = expect or (variant.expect_for(xbee.family) if variant is not None else OK)
    expect_status = _expect_status(xbee, server)
    control = None
    if variant is not None and not expect and variant.name in CONTROL_VARIANTS.get(server, ()):
        remember(xbee, variant, result)
    if wanted != OK and result.status is None:
        control = control_for(xbee, server)
    code = result.code(xbee.code_kind)
    judgement = judge(
        wanted, xbee.family, xbee.code_kind, code.value if code else None, result.status,
        control, expect_status,
    )  # fmt: skip
    if xbee.item is not None:
        xbee.item.stash[JUDGEMENT] = judgement
    report.step(f"verdict: {judgement.verdict.value}: {judgement.reason}")
    name = variant.name if variant is not None else wanted
    if judgement.verdict is Verdict.INCONCLUSIVE:
        raise Inconclusive(f"{name}: inconclusive: {judgement.reason}")
    if judgement.verdict is Verdict.FAIL:
        raise AssertionError(f"{name}: {judgement.reason}: {result.summary()}")
    return judgement


def failed_controls(session: Any) -> list[str]:
    """One line per control that failed this run (the run then exits non-zero)."""
    out = []
    for (label, server, mode), c in sorted(session.controls.items()):
        if not c.ok:
            target = "https" if server == "tls" else server
            out.append(
                f"control failed: {c.variant} against the {target} target in {mode} mode on "
                f"{label} ({c.code_text()}): its must-fail cells are inconclusive"
            )
    return out
