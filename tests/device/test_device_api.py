"""The API-mode client against the simulator over a pty, RFC 2217 and TCP; digi-xbee via a tap."""

from __future__ import annotations

import threading
import time

import pytest

from harness.capture import CaptureWriter, read_capture, render
from harness.device.api import ApiClient, open_cellular_device
from harness.device.command import CommandMode
from harness.device.errors import ApiError, CommandError, DeviceTimeout
from harness.device.transport import open_device
from harness.xbee import api


@pytest.fixture(params=["pty", "rfc2217", "socket"])
def kind(request):
    return request.param


@pytest.fixture
def sim_pty(kind, request, start_sim):
    """tests/conftest.py's rig over each port kind; AP=1 unless the test asks for 2."""
    return start_sim(port=kind, ap=getattr(request, "param", 1), time_scale=0.1)


def test_at_query_keeps_raw_status_and_values(api_client):
    client = api_client.client
    vr = client.at("VR")
    assert vr.ok and vr.value == bytes.fromhex("03100C")
    bad = client.at("ZZ")
    assert bad.status == 0x02 and bad.value == b""  # raw, not collapsed
    assert "Invalid command" in bad.meaning()
    with pytest.raises(CommandError, match=r"^ATZZ: .*0x02 Invalid command"):
        client.get("ZZ")
    assert client.get("HV") >> 8 == 0x49  # XBee3 Cellular Cat 1 LTE AT&T (§7.2)
    client.set("DE", 0x1BB)
    assert client.get("DE") == 0x1BB
    out = "\n".join(render(api_client.finish()))
    assert "[0x08 AT Command] frame_id=1 command=VR" in out
    assert "[0x88 AT Command Response] frame_id=2 command=ZZ status=2" in out
    assert "0x02 Invalid command" in out


def test_frame_id_correlation_under_concurrency(api_client):
    client = api_client.client
    results: dict[str, object] = {}

    def ask(name: str) -> None:
        results[name] = client.at(name)

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("VR", "HV", "AP", "GT")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert {n: r.command for n, r in results.items()} == {n: n for n in results}
    assert len(results) == 4
    assert results["AP"].value == b"\x01"


def test_unsolicited_modem_status_is_queued_for_a_waiter(api_client):
    client = api_client.client
    client.take_unsolicited()  # whatever came at power-up
    client.execute("FR")  # software reset: 0x8A 0x00 follows (D-8A)
    rec = client.wait_for(0x8A, timeout=5, where=lambda f: f.status == 0x00)
    assert isinstance(rec.frame, api.ModemStatus)
    with pytest.raises(DeviceTimeout, match=r"no 0xCF frame within 0\.2 s"):
        client.wait_for(0xCF, timeout=0.2)


def test_request_without_frame_id_is_refused(api_client):
    with pytest.raises(ApiError, match="no frame ID"):
        api_client.client.request(api.ATCommand(0, "VR"))


@pytest.mark.parametrize("sim_pty", [2], indirect=True)
def test_escaped_mode_round_trips_special_bytes(api_client):
    client = api_client.client
    assert client.escaped  # AP=2 (D-ESC)
    name = "a~}\x11\x13z"  # 7E 7D 11 13 must travel escaped (D-ESC)
    client.set("NI", name)
    assert client.get("NI") == name
    c = api_client.finish()
    frames_seen = [e for e in c.events if e["ev"] == "frame"]
    assert any(e["dir"] == "rx" and e["fields"].get("command") == "NI" for e in frames_seen)
    assert b"\x7d\x5e" in c.wire("tx")  # 0x7E escaped on the wire


def test_api_mode_reached_from_transparent_via_command_mode(kind, start_sim):
    sim = start_sim(port=kind, time_scale=0.1)  # AP=0 (D-AP default)
    with open_device(sim.path) as tap:
        with CommandMode(tap, guard_time=0.1, command_timeout=1.0) as cm:  # CT at 0.1
            cm.set("AP", 1)
        with ApiClient(tap) as client:
            assert client.get("AP") == 1


def test_digi_cellular_device_through_the_tap_records_its_bytes(tmp_path, start_sim):
    path = start_sim(ap=1).path
    cap = CaptureWriter(tmp_path / "digi.jsonl", test="digi", device=path)
    try:
        dev = open_cellular_device(path, cap)
        try:
            assert dev.is_open()
            assert bytes(dev.get_parameter("VR")) == bytes.fromhex("03100C")
            imei = str(dev.get_imei_addr())
        finally:
            dev.close()
    finally:
        cap.close()
    c = read_capture(cap.path)
    tx = c.wire("tx")
    assert tx.startswith(bytes.fromhex("7E 00 04 09 01 41 50 64"))  # digi's AP probe (§2a)
    assert b"VR" in tx and len(c.wire("rx")) > 50  # ...the device-info reads and replies
    assert imei not in cap.path.read_text()  # the IMEI reply is redacted
    assert imei.encode().hex() not in cap.path.read_text()
    out = "\n".join(render(c))
    assert "[0x09 AT Command - Queue Parameter Value] frame_id=1 command=AP" in out


def test_digi_refuses_urls_with_a_clear_error():
    from harness.device.errors import PortError

    with pytest.raises(PortError, match="digi-xbee opens local serial ports only"):
        open_cellular_device("socket://127.0.0.1:1")


def test_elapsed_is_bounded_when_the_module_is_silent(tmp_path):
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with open_device(os.ttyname(slave)) as tap, ApiClient(tap, timeout=0.3) as client:
            t0 = time.monotonic()
            with pytest.raises(DeviceTimeout, match=r"no response to 0x08 AT Command frame ID 1"):
                client.at("VR")
            assert time.monotonic() - t0 < 10.0  # bounded (not the 120 s test timeout); loose
    finally:
        os.close(master)
        os.close(slave)
