"""The xbee-hil pytest plugin: options, fixtures, markers and hooks (the composition root).

Registered as the `pytest11` entry point `xbee_hil`. At configure time it parses `--device`,
finds and validates the profile (a bad profile stops the run as a usage error naming
file:line: key, before a byte reaches the module) and keeps a `HilSession` in the stash.

The matrix axes are fixtures parametrized by `pytest_generate_tests`: a test that uses
`xbee_mode` runs once per mode, one that uses `tls_variant` once per TLS variant (ids like
`test_https_get[transparent-root-ca]`), filtered by the profile, `--mode` / `--tls-variant`
and the `xbee_modes(...)` / `tls_variants(...)` markers. Every option is also a fixture, so a
conftest or `@pytest.mark.parametrize(..., indirect=True)` can override it (an overridden
axis fixture is not parametrized here). The axis fixtures are session-scoped, so pytest groups
tests by device, mode and variant: a bench switches AP and re-uploads certificates rarely.

Fixtures that talk to a module (`xbee_port`, `xbee_capture`, `xbee`, `http_target`,
`https_target`) build on `xbee_hil_session` and `xbee_device_spec`; they live in the modules
of `FIXTURE_MODULES`, which are registered as plugins when they exist.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import harness
from harness import report, restores
from harness.controls import JUDGEMENT, failed_controls
from harness.device.errors import PortLost
from harness.profiles import (
    DEFAULT_PROFILE,
    MODES,
    TLS_VARIANTS,
    Profile,
    ProfileError,
    check_baud,
    find_profile,
    load_profile,
)
from harness.session import (
    DeviceKind,
    DeviceSpec,
    DeviceSpecError,
    HilSession,
    ModuleBroken,
    parse_device,
)
from harness.verdict import Inconclusive

SESSION = pytest.StashKey[HilSession]()
ITEM = pytest.StashKey["ItemState"]()
# the module-facing fixtures, and the budgets of session-level waits (when present)
FIXTURE_MODULES = ("harness.budget", "harness.fixtures")
ENV_DEVICE = "XBEE_DEVICE"
ENV_PROFILE = "XBEE_PROFILE"
BROKEN_PREFIX = "module broken: "  # categories.json groups skips by this text

MARKERS = (
    "xbee_modes(*modes): run only in these modes (transparent, api, api-escaped)",
    "tls_variants(*names): run only with these TLS variants (see harness/variants.py)",
    "hardware_only: needs a real module; skipped on the simulator",
    "sim_only: needs the simulator (e.g. fault injection); skipped on a real module",
    "requires(*features): needs these module features (e.g. extended_sockets)",
    "own_simulator: makes its own simulator (not the --device): skipped on a replay device",
)
INCONCLUSIVE = "inconclusive"  # the terminal's status word for a cell whose control failed


# ----- options -------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xbee-hil", "xbee-hil: Digi XBee3 Cellular hardware-in-the-loop")
    group.addoption(
        "--device",
        action="append",
        dest="xbee_device",
        metavar="SPEC",
        default=None,
        help="module to test (repeatable): sim, sim:PERSONALITY, replay:PATH, a serial "
        f"device path, rfc2217://HOST:PORT or socket://HOST:PORT. Default ${ENV_DEVICE} or sim.",
    )
    group.addoption(
        "--profile",
        dest="xbee_profile",
        metavar="NAME|PATH",
        default=None,
        help=f"YAML profile (a file, or NAME in profiles/). Default ${ENV_PROFILE}, or "
        f"'{DEFAULT_PROFILE}' with the simulator; required with a real module.",
    )
    group.addoption(
        "--baud", dest="xbee_baud", type=int, metavar="RATE", default=None,
        help="serial rate the module is at now (default: the profile's device.baud)",
    )  # fmt: skip
    group.addoption(
        "--mode", action="append", dest="xbee_mode", metavar="MODE", default=None,
        choices=MODES, help=f"run only this mode (repeatable): {', '.join(MODES)}",
    )  # fmt: skip
    group.addoption(
        "--tls-variant", action="append", dest="xbee_tls_variant", metavar="NAME",
        default=None, choices=TLS_VARIANTS,
        help=f"run only this TLS variant (repeatable): {', '.join(TLS_VARIANTS)}",
    )  # fmt: skip
    group.addoption(
        "--record", dest="xbee_record", metavar="DIR", default=None,
        help="record each test's wire traffic into DIR (for replay:)",
    )  # fmt: skip
    group.addoption(
        "--allow-nvm-write", dest="xbee_allow_nvm_write", action="store_true",
        help="let the harness persist the profile's nvm.params with ATWR",
    )  # fmt: skip
    group.addoption(
        "--sim-timing", dest="xbee_sim_timing", default="fast", choices=("fast", "realistic"),
        help="simulator timing (harness/simrig.py): fast = module clock x100, no UART pacing "
        "(default); realistic = real time, UART paced at BD, cellular latency, TLS handshake",
    )  # fmt: skip
    group.addoption(
        "--reports-dir", dest="xbee_reports_dir", metavar="DIR", default="reports",
        help="where the matrix and (without --alluredir) allure-results go (default: reports)",
    )  # fmt: skip


# ----- configure: the session ----------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before allure-pytest reads --alluredir
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if config.option.help or config.option.version:
        return
    try:
        session = build_session(config)
    except (ProfileError, DeviceSpecError) as exc:
        raise pytest.UsageError(f"xbee-hil: {exc}") from None
    config.stash[SESSION] = session
    if session.alluredir is not None:
        config.option.allure_report_dir = str(session.alluredir)
    for name in FIXTURE_MODULES:
        if importlib.util.find_spec(name) is not None and not config.pluginmanager.has_plugin(name):
            config.pluginmanager.import_plugin(name)


def build_session(config: pytest.Config) -> HilSession:
    """Options + profile → the run's state. Raises ProfileError / DeviceSpecError on bad input."""
    opt = config.option
    base = config.invocation_params.dir
    raw_devices = opt.xbee_device or [os.environ.get(ENV_DEVICE) or "sim"]
    devices = tuple(parse_device(d) for d in raw_devices)
    profile_ref = opt.xbee_profile or os.environ.get(ENV_PROFILE)
    real = [d for d in devices if not d.simulated]
    if profile_ref is None:
        if real:
            raise DeviceSpecError(
                f"--profile is required with a real module (--device {real[0].raw}): the "
                f"simulator's profile is not a bench's; see profiles/cat1-att.yaml"
            )
        profile_ref = DEFAULT_PROFILE
    profile = load_profile(find_profile(profile_ref, (base / "profiles", base)))
    if real and (issue := profile.local_targets_issue(real[0].raw)) is not None:
        raise ProfileError([issue])  # the simulator's loopback names on a real network
    modes = _narrow("--mode", profile.modes, opt.xbee_mode, profile)
    variants = _narrow("--tls-variant", profile.tls_variants, opt.xbee_tls_variant, profile)
    baud = profile.device.baud
    if opt.xbee_baud is not None:
        try:
            baud = check_baud(opt.xbee_baud)
        except ValueError as exc:
            raise DeviceSpecError(f"--baud: {exc}") from None
    reports_dir = _writable_dir("--reports-dir", opt.xbee_reports_dir, base)
    record_dir = _writable_dir("--record", opt.xbee_record, base) if opt.xbee_record else None
    alluredir = None
    if getattr(opt, "allure_report_dir", "absent") is None:  # allure-pytest on, no --alluredir
        alluredir = reports_dir / "allure-results"
    elif getattr(opt, "allure_report_dir", None):
        alluredir = _writable_dir("--alluredir", opt.allure_report_dir, Path.cwd())
    session = HilSession(
        devices=devices,
        profile=profile,
        modes=modes,
        tls_variants=variants,
        baud=baud,
        reports_dir=reports_dir,
        record_dir=record_dir,
        allow_nvm_write=bool(opt.xbee_allow_nvm_write),
        alluredir=alluredir,
    )
    session.matrix.mode_order = MODES
    session.matrix.variant_order = TLS_VARIANTS
    return session


def _writable_dir(option: str, value: str, base: Path) -> Path:
    """A folder the run writes to, made now: a bad one is one usage line, not an
    INTERNALERROR in a plugin's mkdir or an error in every test."""
    path = (base / value).resolve()
    if path.exists() and not path.is_dir():
        raise DeviceSpecError(f"{option} {value}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise DeviceSpecError(f"{option} {value}: cannot write there: {exc.strerror}") from None
    return path


def _narrow(
    option: str, allowed: Iterable[str], chosen: list[str] | None, profile: Profile
) -> tuple[str, ...]:
    allowed = tuple(allowed)
    if not chosen:
        return allowed
    outside = [c for c in chosen if c not in allowed]
    if outside:
        raise DeviceSpecError(
            f"{option} {', '.join(outside)}: profile {profile.label} ({profile.source}) "
            f"allows only {', '.join(allowed) or 'none'}"
        )
    return tuple(c for c in allowed if c in chosen)


def _session(config: pytest.Config) -> HilSession | None:
    return config.stash.get(SESSION, None)


# ----- parametrization -----------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = _session(metafunc.config)
    if session is None:
        return
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
        return getattr(func, "__module__", __name__) == __name__
    return True


# ----- per-test state ------------------------------------------------------------------------


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


def _item_device(item: pytest.Item, session: HilSession) -> DeviceSpec:
    params = getattr(getattr(item, "callspec", None), "params", {})
    device = params.get("xbee_device_spec")
    return device if isinstance(device, DeviceSpec) else session.devices[0]


def _uses_harness(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(n.startswith("xbee") or n in AXIS_FIXTURES for n in names)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    session = _session(item.config)
    if session is None:
        return
    device = _item_device(item, session)
    params = getattr(getattr(item, "callspec", None), "params", {})
    state = ItemState(device, params.get("xbee_mode"), params.get("tls_variant"))
    item.stash[ITEM] = state
    if session.broken is not None:
        pytest.skip(BROKEN_PREFIX + session.broken)
    if item.get_closest_marker("hardware_only") and device.simulated:
        pytest.skip(f"hardware_only: --device {device.raw} is not a real module")
    if item.get_closest_marker("sim_only") and not device.simulated:
        pytest.skip(f"sim_only: --device {device.raw} is a real module")
    if item.get_closest_marker("own_simulator") and device.kind is DeviceKind.REPLAY:
        pytest.skip(f"own_simulator: the test makes its own simulator; --device {device.raw} "
                    "has nothing of it to replay")
    _check_requires(item, session, device)
    if _uses_harness(item):
        _label(item, session, state)


def _check_requires(item: pytest.Item, session: HilSession, device: DeviceSpec) -> None:
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


@pytest.fixture(autouse=True)
def _xbee_requires(request: pytest.FixtureRequest) -> None:
    """A `requires(...)` test that is the run's first on a module: open the port (which reads
    VR/HV) before its other fixtures, then check again, so it is skipped on hardware exactly
    as on the simulator instead of running against a module that lacks the feature."""
    item = request.node
    session = _session(item.config)
    if session is None or item.get_closest_marker("requires") is None:
        return
    device = _item_device(item, session)
    if session.features_of(device) is None and "xbee_port" in request.fixturenames:
        request.getfixturevalue("xbee_port")
        _check_requires(item, session, device)


def _label(item: pytest.Item, session: HilSession, state: ItemState) -> None:
    if state.mode is not None:
        report.hide_parameter("xbee_mode", state.mode)
    report.set_parameters(mode=state.mode, tls_variant=state.variant)
    report.set_labels(
        device=state.device.label,
        personality=session.personality(state.device),
        profile=session.profile.label,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Firmware labels once the fixtures have opened the module and read VR / HV (at setup
    the first test of a run does not know them yet)."""
    session = _session(item.config)
    state = item.stash.get(ITEM, None)
    if session is None or state is None or not _uses_harness(item):
        return
    firmware = session.firmware.get(state.device.label, {})
    report.firmware_labels(firmware.get("VR"), firmware.get("HV"))


@pytest.hookimpl(wrapper=True, trylast=True)  # inside allure-pytest's wrapper: it sees our text
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | Any:
    rep: pytest.TestReport = yield
    session = _session(item.config)
    state = item.stash.get(ITEM, None)
    if session is None or state is None:
        return rep
    if call.excinfo is not None and isinstance(call.excinfo.value, ModuleBroken):
        session.mark_broken(str(call.excinfo.value) or type(call.excinfo.value).__name__)
    elif call.excinfo is not None and isinstance(call.excinfo.value, PortLost):
        session.mark_broken(call.excinfo.value.during_test(item.name))  # A-PORT-LOST
    if rep.failed and call.excinfo is not None and isinstance(call.excinfo.value, Inconclusive):
        rep.user_properties.append((INCONCLUSIVE, str(call.excinfo.value)))
    if rep.failed and state.codes and hasattr(rep.longrepr, "addsection"):
        lines = [report.code_line(k, v) for k, v in state.codes.items()]
        rep.longrepr.addsection("xbee-hil: module codes", "\n".join(lines))
    _fold_outcome(state, rep, call)
    return rep


def _fold_outcome(state: ItemState, rep: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    Outcome = report.Outcome
    if rep.when == "call":
        if hasattr(rep, "wasxfail"):
            outcome = Outcome.XFAILED if rep.skipped else Outcome.XPASSED
        elif rep.failed and _inconclusive(rep):
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


def _inconclusive(rep: pytest.TestReport) -> bool:
    return any(name == INCONCLUSIVE for name, _ in getattr(rep, "user_properties", ()))


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """An inconclusive cell (its control failed) has its own word and letter: it is not a
    pass, and not the module failing the variant either. It still counts as failed for the
    exit status."""
    if report.when == "call" and report.failed and _inconclusive(report):
        return INCONCLUSIVE, "?", ("INCONCLUSIVE", {"yellow": True})
    return None


def _add_to_matrix(item: pytest.Item, session: HilSession, state: ItemState) -> None:
    own = item.get_closest_marker("own_simulator") is not None
    if state.outcome is None or (state.mode is None and state.variant is None and not own):
        return
    group = f"{Path(item.location[0]).name}::{item.location[2].split('[')[0]}"
    if len(session.devices) > 1:
        group += f" @ {state.device.label}"
    mode, variant = state.mode, state.variant
    if own and mode is None and variant is None:  # a row per parameter set: its own module
        variant = getattr(getattr(item, "callspec", None), "id", None) or item.name
    judgement = item.stash.get(JUDGEMENT, None)
    session.matrix.add(
        group, mode, variant, state.outcome, state.codes, state.detail, item.nodeid,
        verdict=judgement.cell if judgement is not None else "", status=state.status,
        note="own simulator" if own else "",
    )  # fmt: skip


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    result = yield
    session = _session(item.config)
    state = item.stash.get(ITEM, None)
    if session is not None and state is not None:
        _add_to_matrix(item, session, state)
    return result


# ----- session end: files and the terminal ---------------------------------------------------


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of the session (the restore)
def pytest_sessionfinish(session: pytest.Session) -> None:
    hil = _session(session.config)
    if hil is None or hasattr(session.config, "workerinput"):  # xdist workers write nothing
        return
    written: list[Path] = []
    if hil.matrix:
        written += report.write_matrix(hil.matrix, hil.reports_dir)
    if (restore_file := restores.write(session.config, hil.reports_dir)) is not None:
        written.append(restore_file)
    if hil.alluredir is not None and hil.alluredir.is_dir():
        env = {**hil.environment(), **_run_environment(session.config)}
        if failed_restores := restores.failed(session.config):
            env["restore"] = " | ".join(failed_restores)
        written.append(report.write_environment(hil.alluredir, env))
        written.append(report.write_categories(hil.alluredir))
    session.config.stash[_WRITTEN] = written


_WRITTEN = pytest.StashKey[list[Path]]()


def _run_environment(config: pytest.Config) -> dict[str, str]:
    env = {
        "python": sys.version.split()[0],
        "pytest": pytest.__version__,
        "xbee-hil": harness.__version__,
    }
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=config.rootpath, capture_output=True,
            text=True, timeout=2, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        sha = ""
    if sha:
        env["git"] = sha
    return env


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    hil = _session(config)
    if hil is None:
        return
    if hil.matrix:
        terminalreporter.write_sep("=", "xbee-hil: mode x TLS-variant matrix")
        terminalreporter.write(report.render_text(hil.matrix))
        for path in config.stash.get(_WRITTEN, []):
            terminalreporter.write_line(f"wrote {path}")
    for line in hil.notices:
        terminalreporter.write_line(f"xbee-hil: warning: {line}", yellow=True)
    for line in failed_controls(hil):
        terminalreporter.write_line(f"xbee-hil: {line}", red=True)
    if hil.broken:
        terminalreporter.write_line(f"run stopped: {BROKEN_PREFIX}{hil.broken}", red=True)
    for line in restores.failed(config):  # the module was not put back: say so, once
        if line not in (hil.broken or ""):
            terminalreporter.write_line(line, red=True, bold=True)


# ----- fixtures: every option is a fixture ---------------------------------------------------


@pytest.fixture(scope="session")
def xbee_hil_session(request: pytest.FixtureRequest) -> HilSession:
    """The run's state: devices, profile, axes, matrix, broken flag."""
    session = _session(request.config)
    if session is None:
        pytest.skip("xbee-hil is not configured in this run")
    return session


@pytest.fixture(scope="session")
def xbee_device_spec(request: pytest.FixtureRequest, xbee_hil_session: HilSession) -> DeviceSpec:
    """The module under test (one of the --device values)."""
    return getattr(request, "param", None) or xbee_hil_session.devices[0]


@pytest.fixture(scope="session")
def xbee_profile(xbee_hil_session: HilSession) -> Profile:
    """The validated profile (--profile)."""
    return xbee_hil_session.profile


@pytest.fixture(scope="session")
def xbee_baud(xbee_hil_session: HilSession) -> int:
    """The rate the module is at now (--baud, else the profile's device.baud)."""
    return xbee_hil_session.baud


@pytest.fixture(scope="session")
def xbee_mode(request: pytest.FixtureRequest, xbee_hil_session: HilSession) -> str:
    """The operating mode of this test: transparent, api or api-escaped."""
    return getattr(request, "param", None) or xbee_hil_session.modes[0]


@pytest.fixture(scope="session")
def tls_variant(request: pytest.FixtureRequest, xbee_hil_session: HilSession) -> str | None:
    """The TLS certificate set-up of this test (a name of harness/variants.py)."""
    param = getattr(request, "param", None)
    if param is not None:
        return param
    return xbee_hil_session.tls_variants[0] if xbee_hil_session.tls_variants else None


@pytest.fixture(scope="session")
def xbee_record_dir(xbee_hil_session: HilSession) -> Path | None:
    """Where to record captures for replay (--record), or None."""
    return xbee_hil_session.record_dir


@pytest.fixture(scope="session")
def xbee_allow_nvm_write(xbee_hil_session: HilSession) -> bool:
    """Whether configure may persist the profile's nvm.params with ATWR (--allow-nvm-write)."""
    return xbee_hil_session.allow_nvm_write


@pytest.fixture(scope="session")
def xbee_reports_dir(xbee_hil_session: HilSession) -> Path:
    """The reports directory (--reports-dir)."""
    return xbee_hil_session.reports_dir


@pytest.fixture(scope="session")
def xbee_targets(xbee_profile: Profile) -> dict[str, Any]:
    """The profile's targets by name (http, https, …)."""
    return dict(xbee_profile.targets)


@pytest.fixture(scope="session")
def xbee_mark_broken(xbee_hil_session: HilSession) -> Callable[[str], None]:
    """`xbee_mark_broken(reason)`: skip every remaining test with this reason."""
    return xbee_hil_session.mark_broken


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
