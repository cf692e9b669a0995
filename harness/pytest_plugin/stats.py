"""Per test, what the harness did and what the module imposed: one JSON line.

The harness's own work (command-mode entries, AT round trips, mode probes, resets, NVM
writes, certificate uploads done and skipped by hash), the test's wall time and, on the
simulator, the time the module and network imposed meanwhile (`SimServer.stats()`) go as one
JSON line to `<reports-dir>/stats.jsonl` and to the test's Allure result
(`benchmarks/suite_speed.py` reads them).
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import atomicio
from harness.pytest_plugin.matrix import REPORTS
from harness.pytest_plugin.openports import ports

STATS_FILE = "stats.jsonl"  # in --reports-dir: one JSON object per test
# Keys of the simulator's account copied into a test's stats line (all real seconds or counts).
SIM_KEYS = (
    "imposed_wall_s", "imposed_s", "uart_s", "guard_time_s", "registration_s", "reset_s",
    "network_delay_s", "tls_handshake_delay_s", "network_wait_s", "escapes", "resets",
    "bytes_to_module", "bytes_to_host", "connections_opened", "connections_failed",
)  # fmt: skip
_BEFORE = pytest.StashKey["_Before"]()
RECORD = pytest.StashKey[dict[str, Any]]()  # a test's line, from its teardown on
_STATS_OUT = pytest.StashKey[atomicio.LineFile | None]()


@dataclass
class _Before:
    """Counters at the start of a test's setup, per port (label), and the clock."""

    t0: float
    counts: dict[str, dict[str, int]]
    sim: dict[str, dict[str, float] | None]


def count_keys() -> tuple[str, ...]:
    """The harness's work per test: configure's `Stats` and the certificate uploads. (The
    device layer is imported once a test runs with the plugin: A-LAZY-PLUGIN.)"""
    from harness.device.module import Stats

    return (*Stats().as_dict(), "uploads", "uploads_skipped", "uploads_known", "upload_bytes")


def start(item: pytest.Item) -> None:
    """Counters at the start of a test's setup (before any fixture runs)."""
    item.stash[_BEFORE] = _Before(
        time.monotonic(),
        {label: port.counts() for label, port in ports(item.config).items()},
        {label: port.sim_stats() for label, port in ports(item.config).items()},
    )


def finish(item: pytest.Item) -> None:
    """The test's line: kept for its teardown report (the process that writes the reports
    puts it in stats.jsonl, harness/pytest_plugin/handoff.py) and, as a courtesy, attached
    to its Allure result."""
    before = item.stash.get(_BEFORE, None)
    if before is None:
        return
    record = item.stash[RECORD] = stats_line(item, before)
    with contextlib.suppress(Exception):  # the report is a courtesy, never a failure
        import allure  # here: the plugin's import stays light (A-LAZY-PLUGIN)

        allure.attach(
            json.dumps(record, indent=2), name="xbee-hil stats",
            attachment_type=allure.attachment_type.JSON,
        )  # fmt: skip


def stats_line(item: pytest.Item, before: _Before) -> dict[str, Any]:
    """One test's line: its wall time, the harness's work on each module it touched (summed),
    and the simulator's account of imposed time over the same span."""
    wall = time.monotonic() - before.t0
    counts: dict[str, int] = dict.fromkeys(count_keys(), 0)
    sim: dict[str, float] | None = None
    devices = []
    for label, port in ports(item.config).items():
        got = _delta(before.counts.get(label, {}), port.counts())
        imposed = port.sim_stats()
        sim_delta = None
        if imposed is not None:
            was = before.sim.get(label) or {}
            sim_delta = {k: imposed[k] - was.get(k, 0) for k in SIM_KEYS if k in imposed}
        if any(got.values()) or (sim_delta and sim_delta.get("bytes_to_module")):
            devices.append(label)
        for k, v in got.items():
            counts[k] = counts.get(k, 0) + v
        if sim_delta is not None:
            sim = sim or {}
            for k, dv in sim_delta.items():
                sim[k] = round(sim.get(k, 0) + dv, 6)
    params = getattr(getattr(item, "callspec", None), "params", {})
    reports = item.stash.get(REPORTS, {})
    outcome = "passed"
    for rep in reports.values():
        if rep.failed:
            outcome = "failed" if rep.when == "call" else "error"
            break
        if rep.skipped:
            outcome = "skipped"
    return {
        "test": item.nodeid,
        "outcome": outcome,
        "wall_s": round(wall, 6),
        "devices": devices,
        # False for tests that make their own module (or none): their wall time has no
        # account beside it (the session's restore may still fall in their teardown)
        "uses_port": "xbee_port" in getattr(item, "fixturenames", ()),
        "mode": params.get("xbee_mode"),
        "variant": params.get("tls_variant"),
        "timing": item.config.getoption("xbee_sim_timing", None) if sim is not None else None,
        "counts": counts,
        "sim": sim,
        # pytest's own phases (setup: leftover check, uploads, configure; teardown: a
        # restore), for benchmarks/suite_speed.py's split of where the time goes
        "phases": {when: round(rep.duration, 6) for when, rep in reports.items()},
    }


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


def write_stats(config: pytest.Config, record: dict[str, Any]) -> None:
    """Append one whole line (or none) to `<reports-dir>/stats.jsonl` (started afresh per
    run). A full reports disk, here or in the test's capture, stops the run with one line
    naming it (issue 10 #8)."""
    reports_dir = reports_dir_of(config)
    if _STATS_OUT not in config.stash:  # first line of the run: open the file (or warn once)
        out: atomicio.LineFile | None = None
        name = STATS_FILE  # one file: xdist workers hand their lines to the controller
        try:
            reports_dir.mkdir(parents=True, exist_ok=True)
            out = atomicio.LineFile(reports_dir / name)
        except OSError as exc:
            warnings.warn(
                pytest.PytestWarning(f"xbee-hil: cannot write {reports_dir / name}: {exc}"),
                stacklevel=1,
            )
        config.stash[_STATS_OUT] = out  # None: it cannot be written (warned once)
        if out is not None:
            config.add_cleanup(out.close)
    out = config.stash[_STATS_OUT]
    failed: OSError | None = atomicio.failure(reports_dir)
    if out is not None and failed is None:
        try:
            out.write_line(json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:
            failed = exc
    if failed is not None:
        pytest.exit(f"xbee-hil: {failed}", returncode=1)


def reports_dir_of(config: pytest.Config) -> Path:
    """--reports-dir as the plugin resolves it (relative to where pytest was started)."""
    option = config.getoption("xbee_reports_dir", None) or "reports"
    return (config.invocation_params.dir / option).resolve()
