"""Acceptance: the real digi-xbee library takes the simulator for an XBee3 Cellular module.

One test runs the real `xbee-sim` console script; the others host the Modem in-process.
What digi-xbee does on the wire is in ../shared/reference/digi-xbee-notes.md §2a.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from digi.xbee.devices import CellularDevice
from digi.xbee.exception import InvalidOperatingModeException
from digi.xbee.models.hw import HardwareVersion
from digi.xbee.models.protocol import XBeeProtocol
from digi.xbee.models.status import CellularAssociationIndicationStatus

from harness.sim.core.modem import Modem
from harness.sim.host import server as serve

XBEE_SIM = shutil.which("xbee-sim")


@pytest.fixture
def sim_process(tmp_path: Path):
    """`xbee-sim --pty --ap 1` as a subprocess; yields (path, nvm file)."""
    assert XBEE_SIM, "xbee-sim console script not installed"
    nvm = tmp_path / "nvm.json"
    proc = subprocess.Popen(
        [XBEE_SIM, "--pty", "--ap", "1", "--no-network", "--time-scale", "0.01",
         "--nvm", str(nvm)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), proc.stderr.read()
        yield path, nvm
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=10) == 0  # SIGTERM is a clean stop
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)


def test_open_read_set_apply_write_against_the_console_script(sim_process):
    path, nvm = sim_process
    dev = CellularDevice(path, 115200)
    try:
        start = time.monotonic()
        dev.open()
        assert time.monotonic() - start < 4.0  # API mode at once: no ~6 s +++/ATAP fallback
        assert dev.get_protocol() == XBeeProtocol.CELLULAR
        assert dev.get_hardware_version() == HardwareVersion.CELLULAR_3_CAT1_LTE_ATT
        assert dev.get_firmware_version() == bytearray(b"\x03\x10\x0c")  # VR 3100C
        assert dev.get_parameter("VR") == bytearray(b"\x03\x10\x0c")
        assert str(dev.get_imei_addr()) == "353907104826176"
        deadline = time.monotonic() + 15  # 8 s of registration at time scale 0.01: 0.08 s
        while (dev.get_cellular_ai_status()
               != CellularAssociationIndicationStatus.SUCCESSFULLY_CONNECTED):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        dev.set_parameter("NI", bytearray(b"bench-1"), apply=False)  # 0x09: queued
        dev.set_parameter("DL", bytearray(b"example.com"), apply=False)
        dev.apply_changes()
        dev.write_changes()
        assert dev.get_parameter("NI") == bytearray(b"bench-1")
        assert dev.get_parameter("DL") == bytearray(b"example.com")
    finally:
        dev.close()
    deadline = time.monotonic() + 15
    while not nvm.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert json.loads(nvm.read_text()) == {"AP": 1, "NI": "bench-1", "DL": "example.com"}


def test_escaped_api_mode_opens():
    with serve.SimServer(Modem("ltem-11415", ap=2, features=[])) as srv:
        dev = CellularDevice(srv.start_pty(), 9600)
        try:
            dev.open()
            assert dev.get_hardware_version() == HardwareVersion.CELLULAR_3_LTE_M_ATT
            # SH is 00 13 A2 00: 0x13 travels escaped in AP=2 (D-ESC)
            assert dev.get_parameter("SH") == bytearray(b"\x00\x13\xa2\x00")
            dev.reset()  # FR: OK, then 0x8A 0x00 within digi-xbee's 5 s (A-FR-DELAY)
            assert dev.get_cellular_ai_status() in (  # registration restarts
                CellularAssociationIndicationStatus.INITIALIZING,
                CellularAssociationIndicationStatus.REGISTERING_CELLULAR_NETWORK)
        finally:
            dev.close()


def test_transparent_mode_fails_like_a_real_module():
    """digi-xbee falls back to +++ / ATAP and refuses AP=0 (~6 s of its own sleeps)."""
    with serve.SimServer(Modem("cat1-3100C", ap=0, features=[])) as srv:
        dev = CellularDevice(srv.start_pty(), 9600)
        try:
            with pytest.raises(InvalidOperatingModeException, match="AT mode"):
                dev.open()
        finally:
            dev.close()
        assert not srv.call(lambda m: m.in_command_mode)  # digi-xbee's ATCN was obeyed
        assert srv.call(lambda m: m.ap) == 0
