"""Acceptance over a real pty: the simulator's ATFS against real clients — digi-xbee's own
ATFS file-system manager (L-PY `LocalXBeeFileSystemManager`), lrzsz's `sz`/`rz` — and a
`--flash` folder that outlives the simulator."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import serial
from digi.xbee.filesystem import LocalXBeeFileSystemManager
from digi.xbee.serial import XBeeSerialPort

from harness.sim.core.modem import Modem
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.server import SimServer
from harness.xbee import ymodem

TIME_SCALE = 0.5  # simulated seconds run twice as fast: GT 1 s → 0.5 s real
GT_REAL = 1.0 * TIME_SCALE  # D-GT default 0x3E8 ms

needs_lrzsz = pytest.mark.skipif(
    shutil.which("sz") is None or shutil.which("rz") is None,
    reason="lrzsz (sz/rz) not installed: apt-get install lrzsz",
)


class Term:
    """The host end, as a terminal program would be: pyserial on the pty."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.port = serial.Serial(path, 9600, timeout=0.05)
        self.pending = b""  # bytes read already that belong to the next answer

    def close(self) -> None:
        self.port.close()

    def read_until(self, pattern: bytes, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        buf, self.pending = self.pending, b""
        while time.monotonic() < deadline:
            buf += self.port.read(4096)
            if re.search(pattern, buf):
                return buf
        raise AssertionError(f"no {pattern!r} within {timeout} s; got {buf[-200:]!r}")

    def enter_command_mode(self) -> None:
        time.sleep(GT_REAL * 1.3)  # silence before (D-ENTER)
        self.port.write(b"+++")
        self.read_until(rb"OK\r", timeout=10)  # GT of silence, then OK: a bound, not timing

    def cmd(self, line: str, until: bytes = rb"\r") -> str:
        self.port.write(line.encode() + b"\r")
        return self.read_until(until).decode("latin-1")


def serve(flash: FlashFS, *, uart_pacing: bool = False) -> tuple[SimServer, str]:
    server = SimServer(Modem("cat1-3100C", flash=flash), time_scale=TIME_SCALE,
                       uart_pacing=uart_pacing)
    return server, server.start_pty()


@contextlib.contextmanager
def running(tmp_path, *, uart_pacing: bool = False):
    flash = FlashFS(root=tmp_path / "flash")
    server, path = serve(flash, uart_pacing=uart_pacing)
    try:
        term = Term(path)
        try:
            term.enter_command_mode()
            yield server, term, flash
        finally:
            term.close()
    finally:
        server.stop()


@pytest.fixture
def sim(tmp_path):
    with running(tmp_path) as rig:
        yield rig


@pytest.fixture
def paced_sim(tmp_path):
    """The same, with host-bound bytes paced at BD (for lrzsz's `rz`, see below)."""
    with running(tmp_path, uart_pacing=True) as rig:
        yield rig


def hash_line(term: Term, path: str) -> str:
    out = term.cmd(f"ATFS HASH {path}", until=rb"(sha256 [0-9a-f]{64}|E[A-Z0-9]+ [^\r]*)\r")
    m = re.search(r"sha256 ([0-9a-f]{64})", out)
    return m.group(1) if m else out


def xbee_python_manager(path: str) -> LocalXBeeFileSystemManager:
    """digi-xbee's ATFS client, unchanged but for its hardware check, which refuses every
    Cellular HV (L-PY `LOCAL_SUPPORTED_HW_VERSIONS`, digi-xbee-notes §2d)."""
    mgr = object.__new__(LocalXBeeFileSystemManager)
    mgr._serial_port = XBeeSerialPort(9600, path, timeout=0.05)
    mgr._supported_functions = []
    mgr._is_connected = False
    mgr._device_was_connected = False
    mgr._old_read_timeout = 0.05
    mgr._xbee_device = type("NotOpen", (), {"is_open": False})()
    return mgr


def test_xbee_python_put_file_hashes_to_the_source(sim, tmp_path):
    """A certificate uploaded by digi-xbee's own `put_file` (ATFS PUT + its YMODEM sender)
    hashes (ATFS HASH, parsed by its `get_file_hash`) to the SHA-256 of the source."""
    _server, term, flash = sim
    term.close()  # the library opens the port itself
    src = tmp_path / "server-ca.pem"
    src.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + os.urandom(2500) + b"\n")
    key = tmp_path / "client.key"
    key.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\n" + os.urandom(1200) + b"\n")
    mgr = xbee_python_manager(term.path)
    mgr.connect()  # "AT" probe (already in command mode), then ATFS: the sub-command list
    try:
        assert {"PUT", "XPUT", "HASH", "MV"} <= set(mgr._supported_functions)
        mgr.put_file(str(src), "/flash/cert/server-ca.pem")
        mgr.put_file(str(key), "/flash/cert/client.key", secure=True)
        assert mgr.get_file_hash("/flash/cert/server-ca.pem") == \
            hashlib.sha256(src.read_bytes()).hexdigest()
        listing = {e.name: (e.size, e.is_secure) for e in mgr.list_directory("/flash/cert")
                   if not e.is_dir}
        assert listing == {"server-ca.pem": (src.stat().st_size, False),
                           "client.key#": (key.stat().st_size, True)}
        assert int(mgr.get_usage_information()["used"]) == \
            src.stat().st_size + key.stat().st_size
    finally:
        mgr._serial_port.close()
    assert flash.read("cert/server-ca.pem") == src.read_bytes()
    assert (tmp_path / "flash" / "cert" / "client.key#").read_bytes() == key.read_bytes()


def test_xput_key_cannot_be_read_back_with_get(sim):
    """ATFS XPUT stores a secure file; ATFS GET refuses it and no key byte crosses the UART,
    while the module's own TLS stack can still read it (D-3B SECURE, D-TLS p.100)."""
    _server, term, flash = sim
    key = b"-----BEGIN RSA PRIVATE KEY-----\nS3CR3T-KEY-MATERIAL\n-----END RSA PRIVATE KEY-----\n"
    assert term.cmd("ATFS XPUT cert/client.key", until=rb"C$").endswith("C")
    sender = ymodem.YmodemSender("client.key", key)
    sender.start(time.monotonic())
    out = sender.feed(b"C", time.monotonic())
    deadline = time.monotonic() + 30  # a bound for a loaded host; no retry is needed
    data = b""
    while not sender.done and time.monotonic() < deadline:
        if out:
            term.port.write(out)
        data = term.port.read(4096)
        now = time.monotonic()
        out = sender.feed(data, now) if data else sender.tick(now)
    assert sender.result, sender.error
    term.pending = data[data.rfind(bytes((ymodem.ACK,))) + 1:]  # what followed the last ACK
    term.read_until(rb"OK\r")
    assert hash_line(term, "cert/client.key") == hashlib.sha256(key).hexdigest()
    term.port.reset_input_buffer()
    term.port.write(b"ATFS GET cert/client.key\r")
    answer = term.read_until(rb"E[A-Z0-9]+ [^\r]*\r")
    time.sleep(0.3)
    answer += term.port.read(4096)
    assert answer.startswith(b"EACCES")
    assert b"S3CR3T" not in answer and bytes((ymodem.SOH,)) not in answer
    assert b"client.key" in term.cmd("ATFS LS cert", until=rb"\r\r").encode()
    assert flash.read_privileged("client.key") == key


# lrzsz's `rz` flushes its input right after writing each ACK / "C" (`purgeline`). On a
# real line the module's answer comes a wire time later; an unpaced simulator answers at
# once, and when `rz` is scheduled out between its write and its flush the block is thrown
# away (a 5 s NAK round, or a hang when it is the closing block 0). So the GET runs on a
# simulator that paces its output at BD like a UART (A-UART-PACING).
@needs_lrzsz
def test_sz_put_then_rz_get(paced_sim, tmp_path):
    """Terminal-style: `sz --ymodem` answers ATFS PUT, `rz --ymodem` answers ATFS GET."""
    _server, term, _flash = paced_sim
    src = tmp_path / "ca.pem"
    src.write_bytes(os.urandom(1100))  # a 1024-byte block and a short 128-byte one
    assert term.cmd("ATFS PUT cert/ca.pem", until=rb"C$").startswith(
        "Receiving file with YMODEM...")  # D-FSCMD
    line = os.open(term.path, os.O_RDWR | os.O_NOCTTY)
    try:
        proc = subprocess.run(["sz", "--ymodem", "-q", str(src)], stdin=line, stdout=line,
                              stderr=subprocess.PIPE, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert hash_line(term, "cert/ca.pem") == hashlib.sha256(src.read_bytes()).hexdigest()
        term.port.reset_input_buffer()
        term.port.write(b"ATFS GET cert/ca.pem\r")
        term.read_until(rb"Sending file with YMODEM\.\.\.\r\x15")  # D-FSCMD; NAK: L-PY
        out = tmp_path / "out"
        out.mkdir()
        proc = subprocess.run(["rz", "--ymodem", "-vv", "-y", "-t", "20"], stdin=line,
                              stdout=line, stderr=subprocess.PIPE, cwd=out, timeout=30)
        assert proc.returncode == 0, proc.stderr
    finally:
        os.close(line)
    assert (out / "ca.pem").read_bytes() == src.read_bytes()


@needs_lrzsz
def test_flash_folder_persists_across_a_new_xbee_sim(tmp_path):
    """`xbee-sim --flash DIR`: a file PUT into one simulator is in the next one on DIR."""
    flash_dir = tmp_path / "flash"
    src = tmp_path / "wgc.crt"
    src.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + os.urandom(900))
    want = hashlib.sha256(src.read_bytes()).hexdigest()

    def xbee_sim() -> tuple[subprocess.Popen, str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.sim", "--pty", "--no-network",
             "--flash", str(flash_dir), "--time-scale", str(TIME_SCALE)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return proc, proc.stdout.readline().strip()

    proc, path = xbee_sim()
    try:
        term = Term(path)
        term.enter_command_mode()
        term.cmd("ATFS PUT /flash/cert/wgc.crt", until=rb"C$")
        line = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            done = subprocess.run(["sz", "--ymodem", "-q", str(src)], stdin=line, stdout=line,
                                  stderr=subprocess.PIPE, timeout=60)
        finally:
            os.close(line)
        assert done.returncode == 0, done.stderr
        assert hash_line(term, "cert/wgc.crt") == want
        term.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert (flash_dir / "cert" / "wgc.crt").read_bytes() == src.read_bytes()

    proc, path = xbee_sim()  # a new simulator, same folder
    try:
        term = Term(path)
        term.enter_command_mode()
        assert hash_line(term, "/flash/cert/WGC.crt") == want  # names are case-insensitive
        listing = term.cmd("ATFS LS cert", until=rb"\r\r")
        assert re.search(rf" {src.stat().st_size} wgc\.crt\r", listing)
        term.close()
    finally:
        proc.terminate()
        proc.wait(10)
