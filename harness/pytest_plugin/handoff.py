"""What the process that runs a test hands to the process that writes the reports.

In a serial run they are one process; under pytest-xdist the workers run the tests and the
controller writes the matrix (terminal and `reports/matrix.*`), `stats.jsonl`, the Allure
environment and categories. Both go the same way, so `-n 2` writes what a serial run does:
- each test's matrix cell and stats line ride on its teardown report, as the extra
  attribute `xbee_hil` (pytest serialises every attribute of a report's `__dict__` in
  `_report_to_json` and gives unknown ones back through `TestReport(**extra)`; xdist sends
  reports that way). The writing process takes them in `pytest_runtest_logreport`: the
  stats line goes to `stats.jsonl` at once, the cells are kept and added to the matrix at
  session finish in collection order (a worker finishes its tests in its own order, and a
  cell's order decides the matrix's rows and its merged codes).
- what a worker learned about its modules (VR/HV and firmware family, notices, controls,
  the broken-module stop, failed restores) goes in its `workeroutput` at session finish
  (xdist's channel back to the controller, read in `pytest_testnodedown`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

import pytest

from harness.pytest_plugin import fresh, matrix, restores, stats
from harness.pytest_plugin.matrix import ITEM
from harness.pytest_plugin.session import HilSession, session_of
from harness.report import Outcome
from harness.verdict import Control
from harness.xbee import firmware as fw

CARRY = "xbee_hil"  # the attribute on a teardown report; the key in a worker's workeroutput
_NO_INDEX = 1 << 30  # a test the collection did not name goes last, in arrival order


@pytest.hookimpl(wrapper=True)  # outside hooks.py's trylast wrapper: the cell is final
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    if rep.when == "teardown":
        carried: dict[str, Any] = {}
        session = session_of(item.config)
        state = item.stash.get(ITEM, None)
        if session is not None and state is not None:
            cell = matrix.cell_of(item, session, state)
            if cell is not None:
                carried["cell"] = {**cell, "outcome": cell["outcome"].value}
        record = item.stash.get(stats.RECORD, None)
        if record is not None:
            carried["stats"] = record
        if carried:
            setattr(rep, CARRY, carried)
    return rep


def pytest_configure(config: pytest.Config) -> None:
    if session_of(config) is not None and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Writer(config), "xbee-hil-handoff-writer")


@pytest.hookimpl(trylast=True)  # after the session's teardown: its restores are known
def pytest_sessionfinish(session: pytest.Session) -> None:
    hil = session_of(session.config)
    output = getattr(session.config, "workeroutput", None)
    if hil is not None and output is not None:
        output[CARRY] = worker_state(hil, session.config)


class Writer:
    """The writing process's side: cells and stats lines in, the matrix out."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.cells: list[tuple[str, dict[str, Any]]] = []
        self.order: dict[str, int] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A serial run's order (the controller of an xdist run collects nothing)."""
        self.order = {item.nodeid: n for n, item in enumerate(session.items)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """An xdist run's order: the workers' collection (xdist checks they are the same)."""
        if not self.order:
            self.order = {nodeid: n for n, nodeid in enumerate(ids)}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        carried = getattr(report, CARRY, None)
        if not isinstance(carried, dict):
            return
        if (record := carried.get("stats")) is not None:
            stats.write_stats(self.config, record)
        if (cell := carried.get("cell")) is not None:
            self.cells.append((report.nodeid, cell))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        state = getattr(node, "workeroutput", {}).get(CARRY)
        hil = session_of(self.config)
        if isinstance(state, dict) and hil is not None:
            merge_worker_state(hil, self.config, state)

    @pytest.hookimpl(tryfirst=True)  # before hooks.py writes the matrix
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        hil = session_of(self.config)
        if hil is None:
            return
        arrival = {id(cell): n for n, (_, cell) in enumerate(self.cells)}
        for _, cell in sorted(
            self.cells, key=lambda c: (self.order.get(c[0], _NO_INDEX), arrival[id(c[1])])
        ):
            hil.matrix.add(**{**cell, "outcome": Outcome(cell["outcome"])})
        self.cells.clear()
        fresh.clear_stale_matrix(hil)


def worker_state(hil: HilSession, config: pytest.Config) -> dict[str, Any]:
    """What a worker learned about its modules, in types execnet sends."""
    return {
        "firmware": {label: dict(values) for label, values in hil.firmware.items()},
        "families": {label: f.name if f else None for label, f in hil.families.items()},
        "features": {label: sorted(names) for label, names in hil.features.items()},
        "notices": list(hil.notices),
        "broken": hil.broken,
        "controls": [[*key, dataclasses.asdict(c)] for key, c in hil.controls.items()],
        "restores": restores.failed(config),
    }


def merge_worker_state(hil: HilSession, config: pytest.Config, state: dict[str, Any]) -> None:
    hil.firmware.update(state.get("firmware", {}))
    for label, name in state.get("families", {}).items():
        hil.families[label] = fw.FAMILIES.get(name) if name else None
    for label, names in state.get("features", {}).items():
        hil.features[label] = frozenset(names)
    hil.notices.extend(n for n in state.get("notices", []) if n not in hil.notices)
    if state.get("broken"):
        hil.mark_broken(state["broken"])
    for label, server, mode, control in state.get("controls", []):
        hil.controls[(label, server, mode)] = Control(**control)
    for line in state.get("restores", []):
        restores.record(config, line)
