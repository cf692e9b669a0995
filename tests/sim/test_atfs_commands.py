"""ATFS on the pure Modem (virtual clock): every sub-command, E-lines, YMODEM PUT/XPUT/GET
driven by our own YMODEM ends, the blocked command line and a stalled transfer."""

from __future__ import annotations

import hashlib
import re

import pytest

from harness.sim.core.effects import ToHost
from harness.sim.core.modem import Modem
from harness.sim.host.flashfs import FlashFS
from harness.xbee import api, frames, ymodem

# xbee-python's parsers (L-PY filesystem.py), to check our output is what it reads
LPY_ERROR = re.compile(r"^(.*\s)?(E[A-Z0-9]+)( .*)?\s*$", re.M | re.DOTALL)
LPY_DIR = re.compile(r"^ +<DIR> (.+)/$")
LPY_FILE = re.compile(r"^ +([0-9]+) (.+)$")
LPY_INFO = re.compile(r"^ *([0-9]*) (.*)$")
LPY_FUNCTIONS = re.compile(r"^.*ATFS commands: (.*)$", re.M | re.DOTALL)


def host(effects) -> bytes:
    return b"".join(e.data for e in effects if isinstance(e, ToHost))


class Bench:
    """A Modem in command mode with a clock the test moves."""

    def __init__(self, personality: str = "cat1-3100C", flash: FlashFS | None = None):
        self.flash = flash or FlashFS()
        self.m = Modem(personality, flash=self.flash)
        self.t = 0.0
        self.m.power_on(self.t)
        self.enter()

    def enter(self) -> None:
        self.t += 2.0
        self.m.feed(b"+++", self.t)
        self.t += 1.5  # GT of silence after (D-ENTER)
        assert host(self.m.tick(self.t)) == b"OK\r"

    def cmd(self, line: str) -> str:
        self.t += 0.01
        return host(self.m.feed(line.encode() + b"\r", self.t)).decode("latin-1")

    def run(self, machine, first: bytes) -> bytes:
        """Shuttle bytes between the Modem and a YMODEM end until both are quiet; returns
        what the Modem sent after the machine was done (the command's final answer)."""
        to_modem = machine.feed(first, self.t)
        tail = b""
        for _ in range(10_000):
            if to_modem:
                out = host(self.m.feed(to_modem, self.t))
                to_modem = b""
            else:
                due = [d for d in (self.m.next_deadline(), machine.next_deadline()) if d]
                if machine.done or not due:
                    return tail
                self.t = max(self.t, min(due))
                out = host(self.m.tick(self.t))
                to_modem = machine.tick(self.t)
            if machine.done:
                tail += out
            else:
                to_modem += machine.feed(out, self.t)
                if machine.done and isinstance(machine, ymodem.YmodemSender):
                    tail += out[out.rfind(bytes((ymodem.ACK,))) + 1:]  # after the final ACK
        raise AssertionError("transfer did not settle")

    def put(self, name: str, data: bytes, verb: str = "PUT") -> str:
        answer = self.cmd(f"ATFS {verb} {name}")
        assert answer == "Receiving file with YMODEM...\rC", answer  # D-FSCMD, L-PY "ends with C"
        sender = ymodem.YmodemSender(name.rsplit("/", 1)[-1], data)
        sender.start(self.t)
        tail = self.run(sender, b"C")
        assert sender.result, sender.error
        return tail.decode("latin-1")


@pytest.fixture
def bench() -> Bench:
    return Bench()


def test_banner_lists_subcommands_as_xbee_python_parses_them(bench):
    out = bench.cmd("ATFS")
    m = LPY_FUNCTIONS.match(out.replace("\r", ""))
    assert m and m.string is m.group(0)  # L-PY's own check
    assert set(m.group(1).split(" ")) >= {"PUT", "XPUT", "GET", "HASH", "MV", "LS", "FORMAT"}


def test_pwd_cd_md_ls(bench):
    assert bench.cmd("ATFS PWD") == "/flash\r"  # D-FSCMD: defaults to /flash
    assert bench.cmd("ATFS MD cert/sub") == "OK\r"
    assert bench.cmd("ATFS cd CERT") == "/flash/cert\r"  # lower-case verbs (L-PY sends them)
    bench.flash.write("cert/a.pem", b"x" * 1234)
    bench.flash.write("cert/k.key", b"k", secure=True)
    lines = bench.cmd("ATFS LS").split("\r")
    assert lines[-2:] == ["", ""]  # D-FSCMD: the list ends with a blank line
    dirs = [m.group(1) for m in map(LPY_DIR.match, lines) if m]
    files = {m.group(2): int(m.group(1)) for m in map(LPY_FILE.match, lines) if m}
    assert dirs == [".", "..", "sub"]
    assert files == {"a.pem": 1234, "k.key#": 1}  # secure marked with # (L-PY)
    assert bench.cmd("ATFS CD ..") == "/flash\r"
    assert "a.pem" in bench.cmd("ATFS LS /flash/cert")


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("ATFS CD nothere", "ENOENT"),
        ("ATFS CD /etc", "EACCES"),
        ("ATFS MD cert", "EEXIST"),
        ("ATFS HASH cert", "EISDIR"),
        ("ATFS RM nothere", "ENOENT"),
        ("ATFS MD bad*name", "EINVAL"),
        ("ATFS FROB", "EINVAL"),
        ("ATFS FORMAT", "EINVAL"),  # needs "confirm" (D-FSCMD)
        ("ATFS MV onlyone", "EINVAL"),
        ("ATFS PUT nodir/x.pem", "ENOENT"),
    ],
)
def test_errors_are_e_lines_xbee_python_recognises(bench, line, code):
    out = bench.cmd(line)
    m = LPY_ERROR.match(out)
    assert m and m.group(2) == code, out
    assert bench.cmd("AT") == "OK\r"  # still in command mode, line free


def test_hash_format_matches_xbee_python(bench):
    data = b"certificate bytes"
    bench.flash.write("cert/c.pem", data)
    out = bench.cmd("ATFS HASH cert/c.pem")
    assert out.split("sha256")[1].strip() == hashlib.sha256(data).hexdigest()  # L-PY split


def test_rm_mv_info_format(bench):
    bench.flash.write("lib/x.py", b"12345")
    info = dict(
        (m.group(2), int(m.group(1)))
        for m in map(LPY_INFO.match, bench.cmd("ATFS INFO").strip().split("\r")) if m
    )
    assert info == {"used": 5, "free": 1024 * 1024 - 5, "bad": 0, "total": 1024 * 1024}
    assert bench.cmd("ATFS MV lib/x.py lib/y.py") == "OK\r"
    assert bench.flash.read("lib/y.py") == b"12345"
    assert bench.cmd("ATFS CD lib") == "/flash/lib\r"
    assert bench.cmd("ATFS RM /flash/lib").startswith("EBUSY")  # D-FSCMD: not the CWD
    assert bench.cmd("ATFS RM y.py") == "OK\r"
    assert bench.cmd("ATFS FORMAT confirm") == "OK\r"
    assert bench.cmd("ATFS PWD") == "/flash\r"


def test_put_stores_the_file_and_hash_matches(bench):
    data = bytes(range(256)) * 9 + b"tail"
    assert bench.put("/flash/cert/ca.pem", data) == "OK\r"
    assert bench.flash.read("cert/ca.pem") == data
    assert hashlib.sha256(data).hexdigest() in bench.cmd("ATFS HASH cert/ca.pem")
    assert bench.cmd("ATFS PWD") == "/flash\r"  # command line works again


def test_xput_is_secure_and_get_refuses_it(bench):
    key = b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
    assert bench.put("cert/client.key", key, verb="XPUT") == "OK\r"
    assert bench.flash.stat("cert/client.key").secure
    out = bench.cmd("ATFS GET cert/client.key")
    assert out.startswith("EACCES") and "MIIE" not in out
    assert hashlib.sha256(key).hexdigest() in bench.cmd("ATFS HASH cert/client.key")


def test_get_sends_the_file_over_ymodem(bench):
    data = b"0123456789" * 300
    bench.flash.write("lib/main.py", data)
    out = bench.cmd("ATFS GET lib/main.py")
    assert out == "Sending file with YMODEM...\r\x15"  # D-FSCMD prompt, L-PY waits for NAK
    receiver = ymodem.YmodemReceiver()
    block0 = host(bench.m.feed(receiver.start(bench.t), bench.t))  # our "C" starts it
    final = bench.run(receiver, block0)
    assert receiver.error is None
    assert receiver.result.name == "main.py" and receiver.result.data == data
    assert final == b"OK\r"


def test_command_line_is_blocked_during_a_transfer_and_a_stall_ends_it(bench):
    assert bench.cmd("ATFS PUT cert/x.pem").endswith("C")
    # "ATFS PWD" typed now is YMODEM noise, not a command (D-FSCMD: the processor is blocked)
    assert "/flash" not in bench.cmd("ATFS PWD")
    # no sender: the module repeats "C" once a second, then gives up with an E-line
    out = b""
    for _ in range(ymodem.START_RETRIES + 2):
        bench.t += ymodem.START_INTERVAL
        out += host(bench.m.tick(bench.t))
    assert out.count(b"C") >= ymodem.START_RETRIES - 1
    assert out.endswith(b"\x18\x18EIO YMODEM transfer failed: no YMODEM sender after "
                        + str(ymodem.START_RETRIES).encode() + b" requests\r")
    assert not bench.flash.exists("cert/x.pem")
    assert bench.cmd("ATFS PWD") == "/flash\r"


def test_a_file_larger_than_the_volume_is_refused():
    bench = Bench(flash=FlashFS(volume_bytes=2000))
    assert bench.cmd("ATFS PUT big.bin").endswith("C")
    sender = ymodem.YmodemSender("big.bin", b"x" * 5000)
    sender.start(bench.t)
    tail = bench.run(sender, b"C")
    assert sender.error and "cancelled" in sender.error
    assert tail.endswith(b"ENOSPC No space left on device\r")
    assert not bench.flash.exists("big.bin")


def test_api_mode_atfs_is_an_error():
    m = Modem("cat1-3100C", ap=1)
    m.power_on(0.0)
    out = host(m.feed(api.encode(api.ATCommand(1, "FS", b"PWD")), 1.0))
    [reply] = [api.parse(f.data) for f in frames.Deframer().feed(out)
               if isinstance(f, frames.RawFrame) and f.type == 0x88]
    assert reply.status == 1  # D-FSCMD: not valid in API mode (A-ATFS-API)


def test_reset_brings_cwd_back_to_flash(bench):
    assert bench.cmd("ATFS CD cert") == "/flash/cert\r"
    bench.cmd("ATFR")
    bench.t += 1.0
    bench.m.tick(bench.t)
    bench.enter()
    assert bench.cmd("ATFS PWD") == "/flash\r"
