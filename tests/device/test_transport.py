"""Opening device specs and the wire tap, over real pseudo-terminals and loopback sockets."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
import tty

import pytest

from harness.capture import CaptureWriter, read_capture
from harness.device.errors import DeviceTimeout, PortError
from harness.device.transport import explain_open_error, open_device


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def _read_master(fd: int, n: int, timeout: float = 2.0) -> bytes:
    os.set_blocking(fd, False)
    out = b""
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        try:
            out += os.read(fd, n - len(out))
        except BlockingIOError:
            time.sleep(0.005)
    return out


def test_tap_records_both_directions_with_timestamps(pty_pair, tmp_path):
    master, path = pty_pair
    cap = CaptureWriter(tmp_path / "c.jsonl", test="t", device=path)
    with open_device(path, 9600, cap) as tap:
        tap.write(b"ATVR\r")
        assert _read_master(master, 5) == b"ATVR\r"
        os.write(master, b"3100C\r")
        assert tap.read_until(b"\r", 2.0, what="VR reply") == b"3100C\r"
    cap.close()
    c = read_capture(tmp_path / "c.jsonl")
    assert c.header["device"] == path
    assert c.wire("tx") == b"ATVR\r"
    assert c.wire("rx") == b"3100C\r"
    assert c.events[0]["t"] <= c.events[-1]["t"]


def test_read_until_timeout_names_what_and_last_bytes(pty_pair):
    master, path = pty_pair
    with open_device(path) as tap:
        os.write(master, b"partial")
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeout, match=r"no reply to ATCI within 0\.3 s.*partial"):
            tap.read_until(b"\r", 0.3, what="reply to ATCI")
        assert time.monotonic() - t0 < 2.0


def test_missing_port_is_a_one_line_error(tmp_path):
    spec = str(tmp_path / "ttyUSB-nothing")
    with pytest.raises(PortError) as info:
        open_device(spec)
    msg = str(info.value)
    assert msg.startswith(f"cannot open {spec}: no such port")
    assert "\n" not in msg


def test_port_held_by_another_process_names_the_holder(pty_pair):
    _master, path = pty_pair
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import serial, sys, time\n"
            f"p = serial.Serial({path!r}, exclusive=True)\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PortError) as info:
            open_device(path)
        msg = str(info.value)
        assert msg.startswith(f"cannot open {path}: port is in use by another process")
        assert f"pid {holder.pid}" in msg
        assert "\n" not in msg
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=10)


def test_second_open_in_same_process_is_refused(pty_pair):
    _master, path = pty_pair
    with open_device(path), pytest.raises(PortError, match="in use"):
        open_device(path)


def test_permission_and_refused_messages():
    denied = explain_open_error("/dev/ttyUSB0", PermissionError(errno.EACCES, "Permission denied"))
    assert "dialout" in denied
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connect is refused
        with pytest.raises(PortError) as info:
            open_device(f"socket://127.0.0.1:{port}")
    assert str(info.value) == (
        f"cannot open socket://127.0.0.1:{port}: connection refused "
        "(is the simulator or ser2net listening there?)"
    )


def test_unknown_scheme_is_a_one_line_error():
    with pytest.raises(PortError, match=r"cannot open nope://x: .*nope"):
        open_device("nope://x")


def test_socket_url_moves_bytes_both_ways(tmp_path):
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    cap = CaptureWriter(tmp_path / "c.jsonl", test="t", device=f"socket://127.0.0.1:{port}")
    with srv, open_device(f"socket://127.0.0.1:{port}", capture=cap) as tap:
        conn, _ = srv.accept()
        with conn:
            tap.write(b"+++")
            conn.settimeout(2)
            assert conn.recv(16) == b"+++"
            conn.sendall(b"OK\r")
            assert tap.read_until(b"OK\r", 2.0, what="OK") == b"OK\r"
    cap.close()
    c = read_capture(tmp_path / "c.jsonl")
    assert c.wire("tx") == b"+++" and c.wire("rx") == b"OK\r"
