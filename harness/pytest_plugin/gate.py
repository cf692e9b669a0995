"""Whether this run uses xbee-hil at all (issue 14, "a good citizen"), decided once.

Installed, the plugin is loaded into every pytest run of the environment. Until a run uses
it, it loads no profile, writes no file (no reports/, stats.jsonl, matrix, restore.txt) and
sets no Allure results folder: the run's `HilSession` does not exist, and every hook that
writes or loads starts from it (`session_of`). A run uses it when
- the command line gives an xbee option (`--xbee-*`, or an alias) or the ini file an
  `xbee_*` key: the gate opens at configure, before allure-pytest reads `--alluredir`;
- else a collected test's fixtures (the whole closure) include one the plugin defines, or
  it carries one of the plugin's own markers: the gate opens during collection, at the first
  such test function's `pytest_generate_tests` (its axes need the profile) or, for a
  marker-only test, after collection. allure-pytest's results listener is then started
  late, as its own `pytest_configure` would have started it (`start_allure`).
The environment (`XBEE_DEVICE`, `XBEE_PROFILE`, …) gives values but never opens the gate: a
bench host's shell exports them for the suites, and another project run from that shell
must not load the profile they name (A-CITIZEN-ENV). Under pytest-xdist the controller
collects nothing: a worker whose gate is open says so in each test report, and the
controller opens its own gate at the first such report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from harness.profiles import ProfileError
from harness.pytest_plugin import aliases, options, plugin
from harness.pytest_plugin.session import DeviceSpecError, HilSession, session_of

# The plugin's markers that say "this test is an xbee-hil test"; `requires` is a common word
# other projects use for their own marker, so it alone does not count (A-CITIZEN-GATE).
MARKERS = frozenset(
    {"xbee_modes", "tls_variants", "xbee_fault", "hardware_only", "sim_only", "own_simulator"}
)
# Where the plugin's fixtures are defined (a bench's replacement fixture modules included).
FIXTURE_MODULES = ("harness.pytest_plugin.", *plugin.FIXTURE_MODULES)
USED = "xbee-hil"  # the user property an xdist worker's reports carry once its gate is open

OnOpen = Callable[[pytest.Config, HilSession], None]


@dataclass
class _Gate:
    on_open: OnOpen
    why: str | None = None  # what opened it
    error: str | None = None  # the usage error met opening it during collection


_GATE = pytest.StashKey[_Gate]()


def configure(config: pytest.Config, on_open: OnOpen) -> None:
    """At configure: open now when the command line or the ini file names an xbee option."""
    config.stash[_GATE] = _Gate(on_open)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_ControllerWatch(config), "xbee-hil-controller-watch")
    why = aliases.given_on_command_line(config) or aliases.given_in_ini(config)
    if why is not None:
        open_gate(config, why, late=False)


def open_gate(config: pytest.Config, why: str, late: bool) -> HilSession | None:
    """Build the run's session (profile, devices, axes) once. At configure a bad value is a
    usage error at once; during collection it is kept and raised after collection."""
    gate = config.stash.get(_GATE, None)
    if gate is None or gate.error is not None:
        return None
    if (session := session_of(config)) is not None:
        return session
    allure_unset = getattr(config.option, "allure_report_dir", "absent") is None
    try:
        aliases.resolve(config)
        session = options.build_session(config)
    except (ProfileError, DeviceSpecError) as exc:
        gate.error = "xbee-hil: " + aliases.with_origin(config, str(exc))
        if not late:
            raise pytest.UsageError(gate.error) from None
        return None
    gate.why = why
    if late and allure_unset and session.alluredir is not None:
        start_allure(config, str(session.alluredir))
    gate.on_open(config, session)
    return session


def why_open(config: pytest.Config) -> str | None:
    gate = config.stash.get(_GATE, None)
    return gate.why if gate is not None and session_of(config) is not None else None


def start_allure(config: pytest.Config, alluredir: str) -> None:
    """allure-pytest's results listener and file writer, as its `pytest_configure` starts them
    when `--alluredir` is given (allure_pytest/plugin.py), for a run whose gate opened after
    that. Not under an xdist controller: its workers write the results."""
    config.option.allure_report_dir = alluredir
    if _is_xdist_controller(config) or config.pluginmanager.has_plugin("allure_listener"):
        return
    import allure_commons
    from allure_commons.logger import AllureFileLogger
    from allure_pytest.listener import AllureListener  # type: ignore[import-untyped]

    listener = AllureListener(config)
    config.pluginmanager.register(listener, "allure_listener")
    allure_commons.plugin_manager.register(listener)
    clean = bool(getattr(config.option, "clean_alluredir", False)) and not config.option.collectonly
    logger = AllureFileLogger(os.path.abspath(alluredir), clean)
    allure_commons.plugin_manager.register(logger)

    def stop() -> None:
        for name_or_plugin in (listener, logger):
            name = allure_commons.plugin_manager.get_name(name_or_plugin)
            allure_commons.plugin_manager.unregister(name=name)

    config.add_cleanup(stop)


def _is_xdist_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession")


# ----- what counts as using the plugin -------------------------------------------------------


def uses_plugin(
    fixturenames: Iterable[str],
    defs: Mapping[str, Sequence[Any]] | None,
    markers: Iterable[str],
) -> bool:
    """A test uses xbee-hil when the closest definition of one of its fixtures (not an
    autouse `_` one) is the plugin's, or it carries one of the plugin's markers."""
    if any(name in MARKERS for name in markers):
        return True
    for name in fixturenames:
        if name.startswith("_"):
            continue
        chain = defs.get(name) if defs is not None else None
        if chain:
            module = getattr(getattr(chain[-1], "func", None), "__module__", "") or ""
            if module.startswith(FIXTURE_MODULES):
                return True
    return False


def _metafunc_uses(metafunc: pytest.Metafunc) -> bool:
    defs = getattr(metafunc, "_arg2fixturedefs", None)  # pytest has no public API for it
    marks = (m.name for m in metafunc.definition.iter_markers())
    return uses_plugin(metafunc.fixturenames, defs, marks)


def _item_uses(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)  # pytest has no public API for it
    defs = getattr(info, "name2fixturedefs", None)
    marks = (m.name for m in item.iter_markers())
    return uses_plugin(getattr(item, "fixturenames", ()), defs, marks)


# ----- hooks ---------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before hooks.py's, which parametrizes from the session
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    if session_of(config) is None and _GATE in config.stash and _metafunc_uses(metafunc):
        open_gate(config, f"test {metafunc.definition.nodeid} uses xbee-hil", late=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gate = config.stash.get(_GATE, None)
    if gate is None:
        return
    if session_of(config) is None and gate.error is None:
        used = next((item for item in items if _item_uses(item)), None)
        if used is not None:
            open_gate(config, f"test {used.nodeid} uses xbee-hil", late=True)
    if gate.error is not None:
        raise pytest.UsageError(gate.error)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """An xdist worker's reports say that its gate is open (the controller collects nothing)."""
    rep = yield
    if hasattr(item.config, "workerinput") and session_of(item.config) is not None:
        rep.user_properties.append((USED, True))
    return rep


class _ControllerWatch:
    """On the xdist controller: open the gate at the first report of a worker whose is open."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if session_of(self.config) is None and (USED, True) in report.user_properties:
            open_gate(self.config, "an xdist worker's tests use xbee-hil", late=True)


@pytest.hookimpl(tryfirst=True)
def pytest_report_header(config: pytest.Config) -> str | None:
    why = why_open(config)
    return None if why is None else f"xbee-hil: in use ({why})"
