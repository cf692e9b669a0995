"""Every pytest hook of the xbee-hil plugin, one function per hook, in the order a run meets
them: options, configure, parametrize, each test's setup / call / report / teardown, the
test's matrix cell, the test loop, the end of the session and the terminal summary.

When the run uses the plugin (gate.py: at configure, or at collection, or never) the
options and the profile become the run's `HilSession` (a bad profile stops the run as a
usage error naming file:line: key, before a byte reaches the module), kept in the stash
(harness/pytest_plugin/session.py); with none, every hook here does nothing. What the
hooks do is in the modules they call: `options`, `matrix` (the axes and each test's cell),
`stats` (one line per test), `budget` (session-level waits outside the test's timeout),
`restores`, `controls`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import harness
from harness import atomicio, report
from harness.device import progress
from harness.device.errors import PortLost
from harness.profiles import MODES, TLS_VARIANTS
from harness.pytest_plugin import (
    budget,
    fresh,
    gate,
    junit,
    matrix,
    openports,
    options,
    plugin,
    restores,
    stats,
)
from harness.pytest_plugin.matrix import ATTACH_CAPTURE, INCONCLUSIVE, ITEM, REPORTS, ItemState
from harness.pytest_plugin.session import (
    SESSION,
    DeviceKind,
    HilSession,
    ModuleBroken,
    session_of,
)
from harness.verdict import Inconclusive

if TYPE_CHECKING:
    from harness.report.allure_disk import AllureDiskGuard  # noqa: F401 (quoted below)

# What only a run that uses the plugin needs (the device layer, allure-commons) is imported
# where it is used: the plugin's import stays light for every other pytest run (A-LAZY-PLUGIN).

BROKEN_PREFIX = "module broken: "  # categories.json groups skips by this text
_WRITTEN = pytest.StashKey[list[Path]]()
_ALLURE_DISK = pytest.StashKey["AllureDiskGuard"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before allure-pytest reads --alluredir
def pytest_configure(config: pytest.Config) -> None:
    options.add_markers(config)
    if config.option.help or config.option.version:
        return
    fresh.note_run_start(config)  # what is older than this is an earlier run's
    gate.configure(config, _opened)  # the session now, at collection, or never (gate.py)
    for name in plugin.FIXTURE_MODULES:  # the module-facing fixtures (a seam: see plugin.py)
        if importlib.util.find_spec(name) is not None and not config.pluginmanager.has_plugin(name):
            config.pluginmanager.import_plugin(name)
    # session-level waits: pytest-timeout's timer, and progress lines on the terminal
    config.pluginmanager.register(budget.TimerTracker(), "xbee-hil-timer-tracker")
    if not hasattr(config, "workerinput"):  # xdist workers have no terminal
        config.add_cleanup(progress.install(lambda line: budget.terminal_line(config, line)))


def _opened(config: pytest.Config, session: HilSession) -> None:
    """The gate opened (gate.py): the run's session, and its Allure results folder."""
    session.matrix.mode_order = MODES
    session.matrix.variant_order = TLS_VARIANTS
    config.stash[SESSION] = session
    if session.alluredir is not None:
        config.option.allure_report_dir = str(session.alluredir)
        _guard_allure_writes(config)
    # Each run's reports are its own (fresh.py). The gate may open late (during collection,
    # or on the xdist controller at a worker's first report): only files older than this
    # run's start go, so what this run's workers wrote already stays.
    fresh.clear_previous_run(config, session)


def _guard_allure_writes(config: pytest.Config) -> None:
    """allure-commons' file writes on a full disk: one line, never a traceback (#8)."""
    import allure_commons

    from harness.report.allure_disk import AllureDiskGuard

    guard = config.stash[_ALLURE_DISK] = AllureDiskGuard()
    name = allure_commons.plugin_manager.register(guard)
    config.add_cleanup(lambda: allure_commons.plugin_manager.unregister(name=name))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = session_of(metafunc.config)
    if session is not None:
        matrix.parametrize(metafunc, session)


# ----- one test ------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """The item is the one a session-level wait pauses the timer of. (Its cell and stats
    line travel on its teardown report: harness/pytest_plugin/handoff.py.)"""
    budget.enter(item)
    try:
        return (yield)
    finally:
        budget.leave(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Counters for the test's stats line; then the skips (module broken, markers) before any
    fixture opens the module, and the report's labels."""
    session = session_of(item.config)
    if session is None:  # the run does not use xbee-hil: no stats line either (gate.py)
        return
    stats.start(item)
    device = matrix.item_device(item, session)
    params = getattr(getattr(item, "callspec", None), "params", {})
    state = ItemState(device, params.get("xbee_mode"), params.get("tls_variant"))
    item.stash[ITEM] = state
    if matrix.uses_harness(item):  # before any skip: a skipped test's parameters read plain too
        matrix.label(item, session, state)
    if session.broken is not None:
        pytest.skip(BROKEN_PREFIX + session.broken)
    if item.get_closest_marker("hardware_only") and device.simulated:
        pytest.skip(f"hardware_only: --device {device.raw} is not a real module")
    if item.get_closest_marker("sim_only") and not device.simulated:
        pytest.skip(f"sim_only: --device {device.raw} is a real module")
    if item.get_closest_marker("own_simulator") and device.kind is DeviceKind.REPLAY:
        pytest.skip(
            f"own_simulator: the test makes its own simulator; --device {device.raw} "
            "has nothing of it to replay"
        )
    matrix.check_requires(item, session, device)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Firmware labels once the fixtures have opened the module and read VR / HV (at setup
    the first test of a run does not know them yet). When the body ends, the capture is
    attached while Allure still files attachments under the test itself; the teardown's
    restore traffic stays in the capture file."""
    session = session_of(item.config)
    state = item.stash.get(ITEM, None)
    if session is not None and state is not None and matrix.uses_harness(item):
        firmware = session.firmware.get(state.device.label, {})
        report.firmware_labels(firmware.get("VR"), firmware.get("HV"))
    try:
        return (yield)
    finally:
        attach = item.stash.get(ATTACH_CAPTURE, None)
        if attach is not None:
            attach()


@pytest.hookimpl(wrapper=True, trylast=True)  # inside allure-pytest's wrapper: it sees our text
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    item.stash.setdefault(REPORTS, {})[rep.when] = rep
    session = session_of(item.config)
    state = item.stash.get(ITEM, None)
    if session is not None and state is not None:
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, ModuleBroken):
            session.mark_broken(str(exc) or type(exc).__name__)
        elif isinstance(exc, PortLost):
            session.mark_broken(exc.during_test(item.name))  # A-PORT-LOST
        if rep.failed and isinstance(exc, Inconclusive):
            rep.user_properties.append((INCONCLUSIVE, str(exc)))
        addsection = getattr(rep.longrepr, "addsection", None)  # a TerminalRepr's, not a str's
        if rep.failed and state.codes and addsection is not None:
            lines = [report.code_line(k, v) for k, v in state.codes.items()]
            addsection("xbee-hil: module codes", "\n".join(lines))
        matrix.fold_outcome(state, rep, call)
        junit.add_properties(rep, item, session, state)  # --junitxml: xbee_device, xbee_ci, …
    if rep.failed and rep.when != "teardown" and openports.ports(item.config):
        from harness.pytest_plugin.devices import MISMATCH_SHOWN, replay_failure

        if why := replay_failure(item.config):
            seen = call.excinfo.exconly().splitlines()[0] if call.excinfo is not None else ""
            rep.longrepr = (
                f"{why}\n\n(after that the device answered nothing; the test saw: {seen})"
            )
            item.stash[MISMATCH_SHOWN] = True
    return rep


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """An inconclusive cell (its control failed) has its own word and letter: it is not a
    pass, and not the module failing the variant either. It still counts as failed for the
    exit status."""
    if report.when == "call" and report.failed and matrix.inconclusive(report):
        return INCONCLUSIVE, "?", ("INCONCLUSIVE", {"yellow": True})
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    try:
        return (yield)
    finally:
        stats.finish(item)


# ----- the run -------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """allure-pytest writes each result inside the test loop: on a full reports disk that is
    an OSError, an INTERNALERROR and a pluggy warning. Stop with one line naming it (#8)."""
    guard = session.config.stash.get(_ALLURE_DISK, None)
    with warnings.catch_warnings(record=True) as seen:
        try:
            if guard is not None:
                guard.in_loop = True
            return (yield)
        except OSError as exc:
            if exc.errno not in atomicio.FULL:
                raise
            seen[:] = [w for w in seen if "exception during an old-style" not in str(w.message)]
            where = exc.filename or stats.reports_dir_of(session.config)
            pytest.exit(f"xbee-hil: reports disk full: {where}: {exc.strerror}", returncode=1)
        finally:
            if guard is not None:
                guard.in_loop = False
            for w in seen:  # everything else is shown as it would have been
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of the session (the restore)
def pytest_sessionfinish(session: pytest.Session) -> None:
    hil = session_of(session.config)
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
    guard = session.config.stash.get(_ALLURE_DISK, None)
    if guard is not None and (unsaid := guard.pending()) is not None:  # met in the teardown
        pytest.exit(f"xbee-hil: {unsaid}", returncode=1)


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
    hil = session_of(config)
    if hil is None:
        return
    if hil.matrix:
        terminalreporter.write_sep("=", "xbee-hil: mode x TLS-variant matrix")
        terminalreporter.write(report.render_text(hil.matrix))
        for path in config.stash.get(_WRITTEN, []):
            terminalreporter.write_line(f"wrote {path}")
    for line in hil.notices:
        terminalreporter.write_line(f"xbee-hil: warning: {line}", yellow=True)
    from harness.pytest_plugin.controls import failed_controls

    for line in failed_controls(hil):
        terminalreporter.write_line(f"xbee-hil: {line}", red=True)
    if hil.broken:
        terminalreporter.write_line(f"run stopped: {BROKEN_PREFIX}{hil.broken}", red=True)
    for line in restores.failed(config):  # the module was not put back: say so, once
        if line not in (hil.broken or ""):
            terminalreporter.write_line(line, red=True, bold=True)
