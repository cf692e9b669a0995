"""What a worker learned about its modules reaches the controller whole: through execnet's
own serialiser (the one xdist sends `workeroutput` with), into the controller's session, so
its Allure environment, controls and restores are those of a serial run."""

from __future__ import annotations

from pathlib import Path

import execnet
import pytest

from harness.profiles import find_profile, load_profile
from harness.pytest_plugin import handoff, restores
from harness.pytest_plugin.controls import failed_controls
from harness.pytest_plugin.session import HilSession, parse_device
from harness.verdict import Control

ROOT = Path(__file__).resolve().parents[2]


def _session(tmp_path: Path) -> HilSession:
    profile = load_profile(find_profile("sim", (ROOT / "profiles",)))
    devices = (parse_device("sim"), parse_device("sim:ltem-11415"))
    return HilSession(devices, profile, ("api",), ("root-ca",), 9600, tmp_path)


def test_a_workers_state_survives_the_wire_and_merges(tmp_path: Path, pytester: pytest.Pytester):
    worker_config, controller_config = pytester.parseconfig(), pytester.parseconfig()
    worker = _session(tmp_path)
    sim, ltem = worker.devices
    worker.set_firmware(sim, 0x3100C, 0x4B)
    worker.set_firmware(ltem, "11415", None)
    worker.controls[("sim", "tls", "api")] = Control("root-ca", 500, "tx_status", 0x8B)
    worker.mark_broken("configuring sim: no OK")
    restores.record(worker_config, "restore failed: $0 still 2")

    wire = execnet.loads(execnet.dumps(handoff.worker_state(worker, worker_config)))
    controller = _session(tmp_path)
    handoff.merge_worker_state(controller, controller_config, wire)

    assert controller.environment() == worker.environment()
    assert controller.family_of(sim) is worker.family_of(sim) is not None
    assert controller.features_of(ltem) == worker.features_of(ltem)
    assert failed_controls(controller) == failed_controls(worker) != []
    assert controller.broken == "configuring sim: no OK"
    assert restores.failed(controller_config) == ["restore failed: $0 still 2"]
