"""The device layer on labgrid's pyserial fork (`pyserial-labgrid`), over RFC 2217.

labgrid requires `pyserial-labgrid` (labgrid pyproject.toml), which installs the same `serial`
package as `pyserial`; its RFC 2217 client skips re-sending unchanged options and does not
reconfigure the port when the timeout changes. Where it is installed (tox -e tests installs
the `labgrid` extra and puts the fork's files back, as README "Running on a bench" says), the
`serial` module is the fork's, and the harness's own transport, command mode and API mode
work through it to a simulator served as RFC 2217.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
import serial

from harness.device.configure import Configurator
from harness.device.module import Module
from harness.device.transport import open_device
from harness.pytest_plugin.labgrid_place import FORK, serial_fork_issue

try:
    FORK_VERSION = importlib.metadata.version(FORK)
except importlib.metadata.PackageNotFoundError:
    pytest.skip(f"{FORK} is not installed (pip install 'xbee-hil[labgrid]')",
                allow_module_level=True)  # fmt: skip

SCALE = 0.1
# pyserial's RFC 2217 client (the fork's too) still calls setDaemon()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")


def test_serial_is_the_forks_own_files() -> None:
    assert serial_fork_issue() is None
    assert serial.__version__ == FORK_VERSION


@pytest.mark.parametrize("ap", [0, 1, 2])
def test_the_device_layer_over_rfc2217_on_the_fork(start_sim: Any, ap: int) -> None:
    """Mode detection, reads, a verified write and a reset, in each mode, through the fork's
    RFC 2217 client."""
    sim = start_sim(port="rfc2217", ap=ap, time_scale=SCALE, registering_s=0.1)
    assert sim.path.startswith("rfc2217://")
    tap = open_device(sim.path)
    module = Module(tap, guard_time=sim.seconds("GT", 0.001))
    try:
        assert module.detect_mode() == ("transparent", "api", "api-escaped")[ap]
        assert module.read(["VR"])["VR"] in (0x3100C, "3100C")
        configurator = Configurator(module)
        configurator.apply({"DE": 0x1BB})
        assert module.read(["DE"])["DE"] == 0x1BB
        assert configurator.reset() == ("transparent", "api", "api-escaped")[ap]
    finally:
        module.close()
        tap.close()
