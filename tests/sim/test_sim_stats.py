"""The simulator's account of imposed time (`SimServer.stats()`, `xbee-sim --stats`), measured
over real ptys, real loopback sockets and a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from harness.sim.core.modem import Modem
from harness.sim.host import account
from harness.sim.host import server as serve
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.xbee import api, frames

SCALE = 0.02  # GT 1 s -> 20 ms real; Cat 1 registration 8 s -> 160 ms real
CAT1_REGISTRATION_S = 2 + 4 + 2  # cat1-3100C personality (A-REG-TIMING)


def wait_for(cond, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())


def read_frame(port: serial.Serial, want_type: int, timeout: float = 5.0) -> bytes:
    """The whole wire bytes of the next frame of `want_type` (frames of other types skipped)."""
    d = frames.Deframer()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for item in d.feed(port.read(port.in_waiting or 1)):
            if isinstance(item, frames.RawFrame) and item.data[0] == want_type:
                return frames.encode(item.data)
    raise AssertionError(f"no 0x{want_type:02X} frame within {timeout} s")


def registered(srv: serve.SimServer) -> bool:
    return srv.stats()["registrations"] >= 1


def delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in after if isinstance(after[k], int | float)}


@pytest.mark.parametrize(("bd", "rate"), [(3, 9600), (7, 115200)])
def test_uart_time_of_known_bytes_at_bd(bd: int, rate: int):
    modem = Modem("cat1-3100C", ap=1, nvm={"BD": bd})
    with serve.SimServer(modem, time_scale=SCALE, uart_pacing=False) as srv:
        path = srv.start_pty()
        with serial.Serial(path, rate, timeout=0.05) as port:
            assert wait_for(lambda: registered(srv))
            port.reset_input_buffer()
            time.sleep(0.05)  # let any unsolicited 0x8A out before the snapshot
            port.reset_input_buffer()
            before = srv.stats()
            request = api.encode(api.ATCommand(1, "VR"))
            port.write(request)
            reply = read_frame(port, 0x88)
            assert wait_for(lambda: srv.stats()["bytes_to_host"] > before["bytes_to_host"])
            d = delta(before, srv.stats())
    assert d["bytes_to_module"] == len(request)
    assert d["bytes_to_host"] == len(reply)
    assert d["uart_to_module_s"] == pytest.approx(len(request) * 10 / rate)
    assert d["uart_to_host_s"] == pytest.approx(len(reply) * 10 / rate)
    assert d["uart_s"] == pytest.approx((len(request) + len(reply)) * 10 / rate)
    assert d["imposed_s"] == pytest.approx(d["uart_s"])  # nothing else happened meanwhile


@pytest.mark.parametrize("pacing", [False, True], ids=["unpaced", "paced"])
def test_uart_time_is_counted_whether_or_not_paced(pacing: bool):
    modem = Modem("cat1-3100C", ap=0, nvm={"BD": 7})  # 115200: paced replies stay quick
    with serve.SimServer(modem, time_scale=SCALE, uart_pacing=pacing) as srv:
        path = srv.start_pty()
        with serial.Serial(path, 115200, timeout=0.05) as port:
            time.sleep(3 * SCALE)
            port.write(b"+++")
            got = bytearray()
            assert wait_for(lambda: got.extend(port.read(port.in_waiting or 1)) or b"OK\r" in got)
    stats = srv.stats()
    assert stats["bytes_to_module"] == 3 and stats["bytes_to_host"] == 3  # +++ and OK\r
    assert stats["uart_s"] == pytest.approx(6 * 10 / 115200)


@pytest.mark.parametrize(("gt_ms", "ap"), [(0x3E8, 0), (0x1F4, 0), (0x3E8, 1)])
def test_one_escape_adds_gt_before_and_after(gt_ms: int, ap: int):
    modem = Modem("cat1-3100C", ap=ap, nvm={"GT": gt_ms} if gt_ms != 0x3E8 else None)
    gt_real = gt_ms / 1000 * SCALE
    with serve.SimServer(modem, time_scale=SCALE, uart_pacing=False) as srv:
        path = srv.start_pty()
        with serial.Serial(path, 9600, timeout=0.05) as port:
            assert wait_for(lambda: registered(srv))
            before = srv.stats()
            time.sleep(2 * gt_real)
            port.write(b"+++")
            got = bytearray()
            assert wait_for(lambda: got.extend(port.read(port.in_waiting or 1)) or b"OK\r" in got)
            port.write(b"ATCN\r")
            assert wait_for(lambda: got.extend(port.read(port.in_waiting or 1))
                            or got.count(b"OK\r") == 2)
            after = srv.stats()
            time.sleep(2 * gt_real)
            port.write(b"+++")  # a second escape counts again
            assert wait_for(lambda: got.extend(port.read(port.in_waiting or 1))
                            or got.count(b"OK\r") == 3)
            third = srv.stats()
    d = delta(before, after)
    assert d["escapes"] == 1
    assert d["guard_time_s"] == pytest.approx(2 * gt_real)
    assert delta(after, third)["guard_time_s"] == pytest.approx(2 * gt_real)
    assert d["imposed_s"] == pytest.approx(d["guard_time_s"] + d["uart_s"])
    # as wall time: the guards' span, and the UART spans where they do not overlap it
    assert d["guard_time_s"] - 1e-9 <= d["imposed_wall_s"] <= d["imposed_s"] + 1e-9


def test_text_that_is_not_an_escape_adds_no_guard_time():
    modem = Modem("cat1-3100C", ap=0)
    with serve.SimServer(modem, time_scale=SCALE, uart_pacing=False) as srv:
        path = srv.start_pty()
        with serial.Serial(path, 9600, timeout=0.05) as port:
            port.write(b"GET /+++")  # +++ right after data: data, not an escape (D-ENTER)
            assert wait_for(lambda: srv.stats()["bytes_to_module"] == 8)
            time.sleep(3 * SCALE)  # past GT: the held + are given up as data
            stats = srv.stats()
    assert stats["escapes"] == 0 and stats["guard_time_s"] == 0


def test_registration_and_reset_are_accounted():
    modem = Modem("cat1-3100C", ap=1)
    start = time.monotonic()
    with serve.SimServer(modem, time_scale=SCALE, uart_pacing=False) as srv:
        path = srv.start_pty()
        with serial.Serial(path, 9600, timeout=0.05) as port:
            assert wait_for(lambda: registered(srv))
            first = srv.stats()
            waited = time.monotonic() - start
            port.write(api.encode(api.ATCommand(2, "FR")))
            assert wait_for(lambda: srv.stats()["registrations"] == 2)
            second = srv.stats()
    reg = CAT1_REGISTRATION_S * SCALE
    assert first["registrations"] == 1 and first["resets"] == 0
    assert reg <= first["registration_s"] <= waited  # it cannot end before the module's timers
    d = delta(first, second)
    assert d["resets"] == 1
    assert d["reset_s"] == pytest.approx(modem.personality.reset_s * SCALE)
    assert d["registration_s"] >= reg
    assert second["imposed_s"] >= second["registration_s"] + second["reset_s"]


class _Echo:
    """A loopback TCP server that echoes one line: a real peer for the network."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            data = conn.recv(100)
            conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def test_network_delays_are_included():
    echo = _Echo()
    latency = 0.06
    net = Network(NetworkConfig(routes={"203.0.113.5:80": f"127.0.0.1:{echo.port}"},
                                latency=latency))
    modem = Modem("cat1-3100C", ap=1)
    try:
        with serve.SimServer(modem, net, time_scale=SCALE, uart_pacing=False) as srv:
            path = srv.start_pty()
            with serial.Serial(path, 9600, timeout=0.05) as port:
                assert wait_for(lambda: registered(srv))
                before = srv.stats()
                port.write(api.encode(api.TXRequestIPv4(1, "203.0.113.5", 80, 0, 1, 0, b"hi")))
                read_frame(port, 0x89)
                read_frame(port, 0xB0)
                after = srv.stats()
    finally:
        echo.close()
    d = delta(before, after)
    assert after["connections_opened"] == 1
    # connect: one round trip; the data out and back: half a round trip each way
    assert d["network_delay_s"] >= latency
    assert d["imposed_s"] == pytest.approx(d["uart_s"] + d["network_delay_s"]
                                           + d["tls_handshake_delay_s"] + d["guard_time_s"])
    assert d["tls_handshake_delay_s"] == 0
    # seen from the module: connect until opened, data out until the echo came back
    assert d["network_wait_s"] >= latency
    assert d["imposed_wall_s"] >= latency


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20)), max_size=40))
def test_interval_union_is_the_length_of_the_union(spans):
    union = account.IntervalUnion()
    cells: set[int] = set()
    for start, length in spans:
        union.add(float(start), float(start + length))
        cells.update(range(start, start + length))
    assert union.total == pytest.approx(len(cells))


def test_xbee_sim_stats_file_on_sigusr1_and_at_exit(tmp_path: Path):
    out = tmp_path / "stats.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.sim", "--pty", "--time-scale", str(SCALE),
         "--no-network", "--stats", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), proc.stderr.read() if proc.poll() is not None else path
        with serial.Serial(path, 9600, timeout=0.05) as port:
            time.sleep(3 * SCALE)
            port.write(b"+++")
            got = bytearray()
            assert wait_for(lambda: got.extend(port.read(port.in_waiting or 1)) or b"OK\r" in got)
            out.unlink(missing_ok=True)
            os.kill(proc.pid, signal.SIGUSR1)
            assert wait_for(out.exists)
            live = json.loads(out.read_text())
            assert live["escapes"] == 1
            assert live["guard_time_s"] == pytest.approx(2 * SCALE)
            port.write(b"ATCN\r")
            assert wait_for(lambda: got.extend(port.read(port.in_waiting or 1))
                            or got.count(b"OK\r") == 2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    final = json.loads(out.read_text())
    assert final["bytes_to_module"] == len(b"+++ATCN\r")
    assert final["bytes_to_host"] == len(b"OK\rOK\r")
    assert final["imposed_s"] >= final["guard_time_s"] + final["uart_s"]
    assert final["time_scale"] == SCALE


def test_xbee_sim_stats_unwritable_file_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "missing-dir" / "stats.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.sim", "--pty", "--time-scale", str(SCALE),
         "--no-network", "--stats", str(bad)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip().startswith("/dev/")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    err = proc.stderr.read()
    assert f"--stats {bad}" in err and "Traceback" not in err
