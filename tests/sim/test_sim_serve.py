"""SimServer over real ports: a pty, TCP and RFC 2217 on loopback, the NVM file, time scale."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import serial

from harness.sim import cli
from harness.sim.core.effects import ConnectionFailed, Failure, OpenConnection, Protocol
from harness.sim.core.feature import Feature
from harness.sim.core.modem import Modem
from harness.sim.host import server as serve
from harness.xbee import api, frames


class Taker(Feature):
    """Records transparent data; opens a connection for every 0x20 frame."""

    name = "taker"
    frame_types = (0x20,)

    def __init__(self) -> None:
        self.data = bytearray()
        self.events: list = []

    def on_transparent_data(self, data: bytes, now: float) -> None:
        self.data += data

    def on_frame(self, frame, now: float) -> None:
        self.modem.emit(OpenConnection(self.modem.new_conn_id(), Protocol.TCP, "10.9.9.9", 80))

    def on_event(self, event, now: float) -> None:
        self.events.append(event)


def read_until(port, want: bytes, timeout: float = 10.0) -> bytes:
    """Read from a pyserial port until `want` is seen or the bounded wait ends."""
    got = bytearray()
    end = time.monotonic() + timeout
    while want not in got and time.monotonic() < end:
        got += port.read(port.in_waiting or 1)
    return bytes(got)


def wait_for(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def one_frame(port, timeout: float = 10.0) -> api.AnyFrame:
    d = frames.Deframer()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for item in d.feed(port.read(port.in_waiting or 1)):
            if isinstance(item, frames.RawFrame):
                return api.parse(item.data)
    raise AssertionError("no frame within the timeout")


SCALE = 0.05  # GT 1 s → 50 ms real, CT 10 s → 0.5 s real
GT_REAL = 1.0 * SCALE


def test_transparent_guard_times_and_switch_to_api_over_pty():
    taker = Taker()
    with serve.SimServer(Modem("cat1-3100C", features=[taker]), time_scale=SCALE) as srv:
        path = srv.start_pty()
        with serial.Serial(path, 9600, timeout=0.05) as port:
            time.sleep(3 * GT_REAL)
            port.write(b"GET /+++")  # +++ right after data: not an escape, it is data
            assert wait_for(lambda: bytes(taker.data) == b"GET /+++")
            time.sleep(4 * GT_REAL)
            assert port.read(100) == b""  # nothing came back for the early +++
            port.write(b"+++")
            assert read_until(port, b"OK\r") == b"OK\r"
            port.write(b"ATAP1,WR,CN\r")
            assert read_until(port, b"OK\rOK\rOK\r") == b"OK\rOK\rOK\r"  # A-CMD-CHAIN
            port.write(api.encode(api.ATCommand(7, "AP")))
            reply = one_frame(port)
            assert reply == api.ATCommandResponse(7, "AP", 0, b"\x01")
        assert bytes(taker.data) == b"GET /+++"
        assert srv.call(lambda m: m.nvm) == {"AP": 1}


def test_registration_runs_on_the_time_scale_and_link_is_made(tmp_path: Path):
    link = tmp_path / "xbee0"
    modem = Modem("cat1-3100C", ap=1, features=[])
    with serve.SimServer(modem, time_scale=0.01) as srv:
        path = srv.start_pty(link=link)
        assert os.path.realpath(link) == os.path.realpath(path)
        with serial.Serial(str(link), 9600, timeout=0.05) as port:
            start = time.monotonic()
            frame = one_frame(port, timeout=5.0)  # 8 s of simulated registration
            while frame != api.ModemStatus(0x02):
                frame = one_frame(port, timeout=5.0)
            assert time.monotonic() - start < 4.0  # unscaled it takes 8 s; loose for load
        assert srv.sim_now() > 8.0
    assert not link.exists()  # removed at stop


def test_no_internet_world_fails_connections_with_no_route():
    taker = Taker()
    with serve.SimServer(Modem("cat1-3100C", ap=1, features=[taker]), time_scale=0.01) as srv:
        path = srv.start_pty()
        with serial.Serial(path, 9600, timeout=0.05) as port:
            port.write(api.encode(api.TXRequestIPv4(1, "10.9.9.9", 80, 0, 1, 0, b"x")))
            assert wait_for(lambda: bool(taker.events))
    assert taker.events == [ConnectionFailed(1, Failure.NO_ROUTE, taker.events[0].detail)]


def test_tcp_one_client_at_a_time():
    with serve.SimServer(Modem("ltem-11415", ap=1, features=[])) as srv:
        host, port = srv.start_tcp("127.0.0.1", 0)
        with socket.create_connection((host, port), timeout=10) as first:
            first.sendall(api.encode(api.ATCommand(1, "VR")))
            data = b""
            while b"VR" not in data:
                data += first.recv(100)
            assert api.parse(frames.Deframer().feed(data)[-1].data).value == b"\x01\x14\x15"
            with socket.create_connection((host, port), timeout=10) as second:
                second.settimeout(10)
                assert second.recv(10) == b""  # refused: closed at once


def test_rfc2217_port_and_baud_rate():
    with serve.SimServer(Modem("cat1-3100C", ap=1, features=[])) as srv:
        host, port = srv.start_rfc2217("127.0.0.1", 0)
        with serial.serial_for_url(f"rfc2217://{host}:{port}", baudrate=9600,
                                   timeout=0.2) as ser:
            ser.write(api.encode(api.ATCommand(1, "HV")))
            assert one_frame(ser).value == b"\x49\x41"
            ser.baudrate = 115200  # the module still runs at BD=3 (9600): its answer is
            ser.reset_input_buffer()  # garbage (A-BENCH-RFC2217-BAUD)
            ser.write(api.encode(api.ATCommand(2, "HV")))
            garbage = ser.read(20)
            assert garbage and not frames.Deframer().feed(garbage), garbage
            ser.baudrate = 9600
            ser.write(api.encode(api.ATCommand(3, "HV")))
            assert one_frame(ser).frame_id == 3


def test_nvm_file_persists_wr(tmp_path: Path):
    nvm = tmp_path / "nvm.json"
    with serve.SimServer(Modem("cat1-3100C", ap=1, features=[]), nvm_path=nvm) as srv:
        path = srv.start_pty()
        with serial.Serial(path, 9600, timeout=0.05) as port:
            port.write(api.encode(api.ATCommand(1, "NI", b"bench-7")))
            port.write(api.encode(api.ATCommand(2, "WR")))
            assert wait_for(lambda: nvm.exists())
    assert json.loads(nvm.read_text()) == {"AP": 1, "NI": "bench-7"}
    assert cli.load_nvm(nvm) == {"AP": 1, "NI": "bench-7"}
    assert Modem("cat1-3100C", nvm=cli.load_nvm(nvm), features=[]).param("NI") == "bench-7"


@pytest.mark.parametrize("content, needle", [
    ('{"NI": "ok", "VR": 5}', "key 'VR'"),
    ('{"GT": 1}', "key 'GT'"),
    ("[1, 2]", "expected a JSON object"),
    ('{"AP": 1,', "nvm.json:1: not valid JSON"),
])
def test_bad_nvm_file_is_a_clear_error(tmp_path: Path, capsys, content, needle):
    nvm = tmp_path / "nvm.json"
    nvm.write_text(content)
    assert cli.main(["--pty", "--no-network", "--nvm", str(nvm)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_cli_usage_errors(capsys):
    assert cli.main(["--no-network"]) == 2
    assert "give --pty" in capsys.readouterr().err
    assert cli.main(["--pty", "--personality", "nope"]) == 2
    assert "no personality 'nope'" in capsys.readouterr().err
