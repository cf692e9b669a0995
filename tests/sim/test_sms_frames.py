"""0x1F TX SMS gets the module's 0x89 and the message reaches the simulated network's SMS sink
(reference §2.10, D-89; A-SMS-SINK). Before, the frame was dropped without a word and
digi-xbee's `send_sms` timed out."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from digi.xbee.devices import CellularDevice
from digi.xbee.models.status import TransmitStatus

from harness.device.api import ApiClient
from harness.device.transport import open_device
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer
from harness.xbee import api

SCALE = 0.05  # registration in well under a second


def _registered(srv: SimServer) -> None:
    deadline = time.monotonic() + 10
    while srv.call(lambda m: m.ai) != 0:
        assert time.monotonic() < deadline, "not registered"
        time.sleep(0.02)


@pytest.mark.parametrize("persona", ["ltem-11415", "cat1-3100C"])
def test_digi_xbee_send_sms_gets_success_and_the_sink_has_the_text(persona: str) -> None:
    with SimServer(Modem(persona, ap=1), time_scale=SCALE) as srv:
        dev = CellularDevice(srv.start_pty(), 9600)
        dev.open()
        try:
            _registered(srv)
            status = dev.send_sms("+15555550123", "meter 42: ok")  # raises unless 0x89 0x00
            assert status.transmit_status == TransmitStatus.SUCCESS
        finally:
            dev.close()
        sent = srv.sms.messages()
        assert [(m.to, m.text) for m in sent] == [("+15555550123", b"meter 42: ok")]


def test_sms_errors_have_the_documented_statuses() -> None:
    with SimServer(Modem("ltem-11415", ap=1), time_scale=SCALE) as srv:
        with open_device(srv.start_pty()) as tap, ApiClient(tap) as client:
            # before registration: "Not registered to cell network" (D-89 0x22)
            assert client.request(api.TXSMS(1, 0, "5551234", b"x")).frame.status == 0x22
            _registered(srv)
            # "Invalid frame values (check the phone number)" (D-89 0x2C)
            assert client.request(api.TXSMS(2, 0, "call-me", b"x")).frame.status == 0x2C
            # past L-C's 160 characters: "Message too long" (D-89 0x74)
            assert client.request(api.TXSMS(3, 0, "5551234", b"y" * 161)).frame.status == 0x74
            assert client.request(api.TXSMS(4, 0, "5551234", b"y" * 160)).frame.status == 0
        assert [m.to for m in srv.sms.messages()] == ["5551234"]


def test_xbee_sim_writes_the_sms_log(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).parent)
    exe = shutil.which("xbee-sim") or shutil.which("xbee-sim", path=venv_bin)
    assert exe, "xbee-sim console script not installed"
    log = tmp_path / "sms.jsonl"
    proc = subprocess.Popen(
        [exe, "--pty", "--ap", "1", "--no-network", "--time-scale", str(SCALE),
         "--personality", "ltem-11415", "--sms-log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        path = proc.stdout.readline().strip() if proc.stdout else ""
        assert path.startswith("/dev/"), proc.stderr.read() if proc.stderr else ""
        dev = CellularDevice(path, 9600)
        dev.open()
        try:
            deadline = time.monotonic() + 10
            while dev.get_parameter("AI") != bytearray(b"\x00"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            dev.send_sms("5550100", "door open")
        finally:
            dev.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert [json.loads(x) for x in log.read_text().splitlines()] == [
        {"to": "5550100", "text": "door open"}]


def test_an_incoming_sms_reaches_digi_xbee_as_0x9f() -> None:
    with SimServer(Modem("ltem-11415", ap=1), time_scale=SCALE) as srv:
        dev = CellularDevice(srv.start_pty(), 9600)
        dev.open()
        got: list[tuple[str, str]] = []
        try:
            dev.add_sms_callback(lambda msg: got.append((msg.phone_number, msg.data)))
            assert not srv.deliver_sms("+15555550123", b"early")  # not registered yet
            _registered(srv)
            assert srv.deliver_sms("+15555550123", b"open the gate")
            deadline = time.monotonic() + 5
            while not got:
                assert time.monotonic() < deadline, "no 0x9F reached digi-xbee"
                time.sleep(0.02)
        finally:
            dev.close()
        assert got == [("+15555550123", "open the gate")]
