"""The matrix: its axes as parameters, the markers that narrow them, each test's cell.

The axes are fixtures parametrized here (called by `pytest_generate_tests`): a test that
uses `xbee_mode` runs once per mode, one that uses `tls_variant` once per TLS variant (ids
like `test_https_get[transparent-root-ca]`), filtered by the profile, `--mode` /
`--tls-variant` and the `xbee_modes(...)` / `tls_variants(...)` markers. Every option is also a
fixture, so a conftest or `@pytest.mark.parametrize(..., indirect=True)` can override it (an
overridden axis fixture is not parametrized here). The axis fixtures are session-scoped, so
pytest groups tests by device, mode and variant: a bench switches AP and re-uploads
certificates rarely.

Its fixtures: `xbee_record_codes` (a test's codes, for its cell) and the autouse check of
`requires(...)`. Per test, `ItemState` keeps its axes, the codes it recorded and its
outcome; at its end the outcome becomes the test's cell of the mode x TLS-variant matrix
(harness/report/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import report
from harness.profiles import MODES, TLS_VARIANTS
from harness.pytest_plugin.session import DeviceSpec, HilSession, session_of

if TYPE_CHECKING:
    from harness.verdict import Judgement  # noqa: F401 (the StashKey's type, quoted)

# The test's control judgement (controls.py sets it); here, so that reading it does not import
# the device layer before the gate opens (A-LAZY-PLUGIN).
JUDGEMENT = pytest.StashKey["Judgement"]()

ITEM = pytest.StashKey["ItemState"]()
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()  # a test's reports, by phase
ATTACH_CAPTURE = pytest.StashKey[Callable[[], None]]()  # attaches the test's capture once
FIXTURES = "harness.pytest_plugin.options"  # where the axis fixtures are defined
INCONCLUSIVE = "inconclusive"  # the terminal's status word for a cell whose control failed


def parametrize(metafunc: pytest.Metafunc, session: HilSession) -> None:
    """The matrix axes a test uses, as indirect parameters (see the module docstring)."""
    names = metafunc.fixturenames
    if len(session.devices) > 1 and _ours_to_parametrize(metafunc, "xbee_device_spec"):
        metafunc.parametrize(
            "xbee_device_spec", session.devices, indirect=True,
            ids=[d.label for d in session.devices],
        )  # fmt: skip
    if "xbee_mode" in names and _ours_to_parametrize(metafunc, "xbee_mode"):
        _parametrize_axis(metafunc, "xbee_mode", "xbee_modes", MODES, session.modes, "--mode")
    if "tls_variant" in names and _ours_to_parametrize(metafunc, "tls_variant"):
        _parametrize_axis(
            metafunc, "tls_variant", "tls_variants", TLS_VARIANTS, session.tls_variants,
            "--tls-variant",
        )  # fmt: skip


def _parametrize_axis(
    metafunc: pytest.Metafunc,
    argname: str,
    marker: str,
    known: tuple[str, ...],
    allowed: tuple[str, ...],
    option: str,
) -> None:
    values = list(allowed)
    why = [f"profile and {option} allow {', '.join(allowed) or 'none'}"]
    for mark in metafunc.definition.iter_markers(marker):
        wanted = _marker_names(mark, known, metafunc.definition.nodeid)
        values = [v for v in values if v in wanted]
        why.append(f"@{marker}({', '.join(wanted)})")
    if values:
        metafunc.parametrize(argname, values, indirect=True, ids=values)
        return
    reason = f"no {argname} left to run: " + "; ".join(why)
    metafunc.parametrize(
        argname, [pytest.param(None, marks=pytest.mark.skip(reason=reason), id=f"no-{argname}")],
        indirect=True,
    )  # fmt: skip


def _marker_names(mark: pytest.Mark, known: tuple[str, ...], where: str) -> list[str]:
    names: list[str] = []
    for arg in mark.args:
        names.extend([arg] if isinstance(arg, str) else list(arg))
    bad = [n for n in names if n not in known]
    if not names or bad or mark.kwargs:
        pytest.fail(
            f"{where}: @pytest.mark.{mark.name}({', '.join(map(repr, names))}) - "
            f"expected one or more of: {', '.join(known)}",
            pytrace=False,
        )
    return names


def _ours_to_parametrize(metafunc: pytest.Metafunc, argname: str) -> bool:
    """True unless the test parametrizes the name itself or a conftest/test overrides the
    fixture (then the override decides, as pytest-embedded's "every option is a fixture")."""
    if argname not in metafunc.fixturenames:
        return False
    for mark in metafunc.definition.iter_markers("parametrize"):
        argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(argnames, str):
            argnames = [a.strip() for a in argnames.split(",")]
        if argname in argnames:
            return False
    defs = getattr(metafunc, "_arg2fixturedefs", {}).get(argname)  # pytest has no public API
    if defs:
        func = getattr(defs[-1], "func", None)
        return getattr(func, "__module__", FIXTURES) == FIXTURES
    return True


@dataclass
class ItemState:
    """What the harness knows about one test: its axes, the codes it recorded, its outcome."""

    device: DeviceSpec
    mode: str | None
    variant: str | None
    codes: dict[str, int] = field(default_factory=dict)
    outcome: report.Outcome | None = None
    detail: str = ""
    status: int | None = None  # the HTTP status of the test's last request

    def record(self, codes: dict[str, int | None]) -> None:
        self.codes.update({k: v for k, v in codes.items() if v is not None})


AXIS_FIXTURES = frozenset({"xbee_mode", "tls_variant"})


def item_device(item: pytest.Item, session: HilSession) -> DeviceSpec:
    params = getattr(getattr(item, "callspec", None), "params", {})
    device = params.get("xbee_device_spec")
    return device if isinstance(device, DeviceSpec) else session.devices[0]


def uses_harness(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(n.startswith("xbee") or n in AXIS_FIXTURES for n in names)


def check_requires(item: pytest.Item, session: HilSession, device: DeviceSpec) -> None:
    """Skip when the module lacks a feature a `requires(...)` marker names: known from the
    firmware family the module's VR/HV picked (any device) or the simulator personality."""
    for mark in item.iter_markers("requires"):
        features = session.features_of(device)
        missing = [f for f in mark.args if features is not None and f not in features]
        if missing:
            family = session.family_of(device)
            who = family.name if family is not None else session.personality(device)
            firmware = session.firmware.get(device.label, {}).get("VR")
            who = (who or device.label) + (f" (VR={firmware})" if firmware else "")
            pytest.skip(f"requires {', '.join(missing)}: {who} does not have it")


def label(item: pytest.Item, session: HilSession, state: ItemState) -> None:
    """The test's Allure labels and parameters, every parameter a plain value (`api`, not
    `'api'`; with several devices the device's label, not `DeviceSpec(...)`)."""
    params = dict(getattr(getattr(item, "callspec", None), "params", {}))
    if params.pop("xbee_device_spec", None) is not None:
        report.hide_parameter("xbee_device_spec", state.device.label)
        report.set_parameters(device=state.device.label)
    if params.pop("xbee_mode", None) is not None:
        report.hide_parameter("xbee_mode", state.mode or "")
    params.pop("tls_variant", None)
    report.set_parameters(**{**params, "mode": state.mode, "tls_variant": state.variant})
    report.set_labels(
        device=state.device.label,
        personality=session.personality(state.device),
        profile=session.profile.label,
    )


def fold_outcome(state: ItemState, rep: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    Outcome = report.Outcome
    if rep.when == "call":
        if hasattr(rep, "wasxfail"):
            outcome = Outcome.XFAILED if rep.skipped else Outcome.XPASSED
        elif rep.failed and inconclusive(rep):
            outcome = Outcome.INCONCLUSIVE
        elif rep.failed:
            outcome = Outcome.FAILED
        else:
            outcome = Outcome.SKIPPED if rep.skipped else Outcome.PASSED
    elif rep.failed:
        outcome = Outcome.ERROR
    elif rep.skipped:
        outcome = Outcome.XFAILED if hasattr(rep, "wasxfail") else Outcome.SKIPPED
    else:
        return
    detail = ""
    if rep.skipped and isinstance(rep.longrepr, tuple):
        detail = str(rep.longrepr[2]).removeprefix("Skipped: ")
    elif call.excinfo is not None:
        detail = call.excinfo.exconly().splitlines()[0][:200]
    if state.outcome is None or outcome.severity > state.outcome.severity:
        state.outcome, state.detail = outcome, detail


def inconclusive(rep: pytest.TestReport) -> bool:
    return any(name == INCONCLUSIVE for name, _ in getattr(rep, "user_properties", ()))


def cell_of(item: pytest.Item, session: HilSession, state: ItemState) -> dict[str, Any] | None:
    """The test's cell as `Matrix.add`'s keyword arguments, or None when it has none. The
    process that writes the reports adds it (harness/pytest_plugin/handoff.py)."""
    own = item.get_closest_marker("own_simulator") is not None
    if state.outcome is None or (state.mode is None and state.variant is None and not own):
        return None
    group = f"{Path(item.location[0]).name}::{item.location[2].split('[')[0]}"
    if len(session.devices) > 1:
        group += f" @ {state.device.label}"
    mode, variant = state.mode, state.variant
    if own and mode is None and variant is None:  # a row per parameter set: its own module
        variant = getattr(getattr(item, "callspec", None), "id", None) or item.name
    judgement = item.stash.get(JUDGEMENT, None)
    return {
        "group": group, "mode": mode, "variant": variant, "outcome": state.outcome,
        "codes": dict(state.codes), "detail": state.detail, "test": item.nodeid,
        "verdict": judgement.cell if judgement is not None else "", "status": state.status,
        "note": "own simulator" if own else "",
    }  # fmt: skip


# ----- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _xbee_requires(request: pytest.FixtureRequest) -> None:
    """A `requires(...)` test that is the run's first on a module: open the port (which reads
    VR/HV) before its other fixtures, then check again, so it is skipped on hardware exactly
    as on the simulator instead of running against a module that lacks the feature."""
    item = request.node
    session = session_of(item.config)
    if session is None or item.get_closest_marker("requires") is None:
        return
    device = item_device(item, session)
    if session.features_of(device) is None and "xbee_port" in request.fixturenames:
        request.getfixturevalue("xbee_port")
        check_requires(item, session, device)


@pytest.fixture
def xbee_record_codes(request: pytest.FixtureRequest) -> Callable[..., list[str]]:
    """`xbee_record_codes(result_or_none, ci=0x26, tx_status=…, socket_status=…)`.

    Records the module's codes for this test: Allure steps and hex parameters now, the
    matrix cell and the failure text later. A first argument with a `.codes` list of
    (kind, value) objects (an HTTP result) records those too."""
    state = request.node.stash.get(ITEM, None)

    def record(result: Any = None, /, **codes: int | None) -> list[str]:
        found: dict[str, int | None] = {}
        for code in getattr(result, "codes", None) or ():
            found[code.kind] = code.value
        found.update(codes)
        if state is not None:
            state.record(found)
            state.status = getattr(result, "status", state.status)
        return report.record_codes(found)

    return record
