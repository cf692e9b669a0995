"""Issue 10, defects 4 and 5: a `--flash DIR` never reaches outside itself, odd host entries
in it give the module's file-system errors (no crash, no hang), and 0x3B CREATE keeps an
existing secure file.

The corpus of odd flash folders is the `CORPUS` table below: links cannot be checked in
reliably, so each case is built in `tmp_path` (real folders, real links, real fifos, real
sparse files) and driven through the Modem — 0x3B frames in API mode (LTE-M) and ATFS with a
real YMODEM end in command mode (Cat 1) — and, for the leak cases, through a real pty.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial

from harness.sim.core.effects import ToHost
from harness.sim.core.flash import FsError, Reason
from harness.sim.core.modem import Modem
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.server import SimServer
from harness.xbee import api, codes, frames, ymodem
from harness.xbee.codes import FsCommand as Cmd
from harness.xbee.codes import FsOpen as Open

SECRET = b"HOST-SECRET-" + b"s" * 40  # what lies outside the flash folder
LTEM = "ltem-11415"  # has 0x3B (D-3B)
CAT1 = "cat1-3100C"  # ATFS in command mode (D-FSCMD)
FS_ERRORS = {c.value for c in codes.FS_STATUS.values()} - {0x00}
GIB4 = 4 * 1024**3


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def host(effects) -> bytes:
    return b"".join(e.data for e in effects if isinstance(e, ToHost))


# ----- the odd flash folders --------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One odd flash folder: how to build it, and the module names that reach the odd entry."""

    name: str
    build: Callable[[Path, Path], None]  # (flash DIR, outside folder)
    names: tuple[str, ...]
    put: str | None = None  # an ATFS PUT / 0x3B write target that must not land outside


def _fifo(d: Path, out: Path) -> None:
    os.mkfifo(d / "cert" / "pipe")


def _socket(d: Path, out: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d / "cert" / "sock"))
    s.close()


def _device(d: Path, out: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    os.mknod(d / "cert" / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero


def _sparse(d: Path, out: Path) -> None:
    with open(d / "cert" / "huge.bin", "wb") as fh:
        fh.truncate(GIB4)  # sparse: 4 GiB of size, no blocks


CORPUS: list[Case] = [
    Case("file-link", lambda d, o: (d / "cert" / "leak.pem").symlink_to(o / "secret.pem"),
         ("/flash/cert/leak.pem",), put="/flash/cert/leak.pem"),
    Case("secure-file-link", lambda d, o: (d / "cert" / "key#").symlink_to(o / "secret.pem"),
         ("/flash/cert/key",), put="/flash/cert/key"),
    Case("dir-link", lambda d, o: (d / "cert" / "out").symlink_to(o / "hostdir"),
         ("/flash/cert/out/inside.txt", "/flash/cert/out"), put="/flash/cert/out/new.txt"),
    Case("cert-is-a-link", lambda d, o: (d / "cert").rmdir() or (d / "cert").symlink_to(o),
         ("/flash/cert/secret.pem", "/flash/cert"), put="/flash/cert/new.txt"),
    Case("tmp-trap", lambda d, o: (d / "cert" / "x.pem.tmp~").symlink_to(o / "victim.txt"),
         ("/flash/cert/x.pem.tmp~",), put="/flash/cert/x.pem"),
    Case("two-self-links", lambda d, o: ((d / "a").symlink_to("."), (d / "b").symlink_to(".")),
         ("/flash/a/cert", "/flash/b"), put="/flash/a/new.txt"),
    Case("link-loop", lambda d, o: ((d / "p").symlink_to("q"), (d / "q").symlink_to("p")),
         ("/flash/p", "/flash/q"), put="/flash/p"),
    Case("proc-self", lambda d, o: (d / "proc").symlink_to("/proc/self"),
         ("/flash/proc/environ", "/flash/proc"), put="/flash/proc/new.txt"),
    Case("dangling-link", lambda d, o: (d / "cert" / "gone").symlink_to(o / "nothing"),
         ("/flash/cert/gone",), put="/flash/cert/gone"),
    Case("fifo", _fifo, ("/flash/cert/pipe",), put="/flash/cert/pipe"),
    Case("unix-socket", _socket, ("/flash/cert/sock",), put="/flash/cert/sock"),
    Case("char-device", _device, ("/flash/cert/zero",), put="/flash/cert/zero"),
    Case("sparse-4gib", _sparse, ("/flash/cert/huge.bin",), put="/flash/cert/huge.bin"),
]


def build(tmp_path: Path, case: Case) -> tuple[Path, Path]:
    out = tmp_path / "outside"
    (out / "hostdir").mkdir(parents=True)
    (out / "secret.pem").write_bytes(SECRET)
    (out / "victim.txt").write_bytes(b"victim")
    (out / "hostdir" / "inside.txt").write_bytes(SECRET)
    d = tmp_path / "flash"
    (d / "cert").mkdir(parents=True)
    (d / "lib").mkdir()
    case.build(d, out)
    return d, out


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`, its bytes and mtime (links not followed)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.lstat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


# ----- drivers ----------------------------------------------------------------------------


class ApiModem:
    """A Modem in API mode (0x3B); every request must get its 0xBB."""

    def __init__(self, flash: FlashFS) -> None:
        self.m = Modem(LTEM, ap=1, flash=flash)
        self.t = 0.0
        self.m.power_on(self.t)
        self.seen = b""

    def request(self, cmd: int, data: bytes = b"") -> api.FileSystemResponse:
        self.t += 0.01
        out = host(self.m.feed(api.encode(api.FileSystemRequest(1, cmd, data)), self.t))
        self.seen += out
        [resp] = [api.parse(f.data) for f in frames.Deframer().feed(out)
                  if isinstance(f, frames.RawFrame) and f.type == 0xBB]
        return resp

    def open(self, name: str, opts: int) -> tuple[int, int | None]:
        r = self.request(Cmd.FILE_OPEN, u16(0) + bytes((opts,)) + name.encode())
        return r.status, int.from_bytes(r.fs_data[:2], "big") if r.status == 0 else None


class AtModem:
    """A Modem in command mode (ATFS), with our own YMODEM sender for PUT."""

    def __init__(self, flash: FlashFS) -> None:
        self.m = Modem(CAT1, flash=flash)
        self.t = 0.0
        self.m.power_on(self.t)
        self.seen = b""
        self.t += 2.0
        self.m.feed(b"+++", self.t)
        self.t += 1.5
        assert host(self.m.tick(self.t)) == b"OK\r"

    def _out(self, effects) -> bytes:
        out = host(effects)
        self.seen += out
        return out

    def cmd(self, line: str) -> str:
        self.t += 0.01
        return self._out(self.m.feed(line.encode() + b"\r", self.t)).decode("latin-1")

    def settle(self, machine, first: bytes) -> bytes:
        """Shuttle bytes between the Modem and a YMODEM end; what followed its end."""
        to_modem = machine.feed(first, self.t)
        tail = b""
        for _ in range(10_000):
            if to_modem:
                out = self._out(self.m.feed(to_modem, self.t))
                to_modem = b""
            else:
                due = [d for d in (self.m.next_deadline(), machine.next_deadline()) if d]
                if machine.done or not due:
                    return tail
                self.t = max(self.t, min(due))
                out = self._out(self.m.tick(self.t))
                to_modem = machine.tick(self.t)
            if machine.done:
                tail += out
            else:
                to_modem += machine.feed(out, self.t)
                if machine.done and isinstance(machine, ymodem.YmodemSender):
                    tail += out[out.rfind(bytes((ymodem.ACK,))) + 1:]
        raise AssertionError("transfer did not settle")

    def put(self, name: str, data: bytes) -> str:
        answer = self.cmd(f"ATFS PUT {name}")
        if not answer.endswith("C"):
            return answer  # refused before the transfer
        sender = ymodem.YmodemSender(name.rsplit("/", 1)[-1], data)
        sender.start(self.t)
        return self.settle(sender, b"C").decode("latin-1")


def is_e_line(text: str) -> bool:
    return text.strip().startswith("E") and " " in text.strip()


# ----- the corpus -------------------------------------------------------------------------


@pytest.mark.timeout(60)  # a hang is the defect: bounded, not timed
@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_odd_flash_folder_gives_fs_errors_and_stays_inside(tmp_path, case):
    d, out = build(tmp_path, case)
    before = snapshot(out)
    flash = FlashFS(root=d)

    a = ApiModem(flash)
    for name in case.names:
        status, handle = a.open(name, Open.READ)
        assert status in FS_ERRORS, (name, status)
        assert a.request(Cmd.FILE_HASH, u16(0) + name.encode()).status in FS_ERRORS
        status, handle = a.open(name, Open.WRITE)
        assert status in FS_ERRORS, (name, status)
    if case.put:
        status, handle = a.open(case.put, Open.WRITE | Open.CREATE | Open.TRUNCATE)
        if status == 0:  # the name was free inside DIR: a file there, never outside
            assert a.request(Cmd.FILE_WRITE, u16(handle) + u32(0) + b"PWNED").status == 0
        else:
            assert status in FS_ERRORS
    listing = a.request(Cmd.DIR_OPEN, u16(0) + b"/flash")
    assert listing.status == 0
    info = a.request(Cmd.VOLUME_INFO, b"/flash")
    assert info.status == 0
    used = int.from_bytes(info.fs_data[:4], "big")
    assert used <= flash.volume_bytes

    c = AtModem(flash)
    for name in case.names:
        got = c.cmd(f"ATFS GET {name}")
        assert is_e_line(got), (name, got)
        assert is_e_line(c.cmd(f"ATFS HASH {name}"))
    if case.put:
        answer = c.put(case.put, b"PWNED-BY-PUT")
        assert "OK" in answer or is_e_line(answer), answer
    assert "used" in c.cmd("ATFS INFO")
    assert c.cmd("ATFS LS /flash").rstrip().endswith("../") or "<DIR>" in c.cmd("ATFS LS")

    assert SECRET not in a.seen and SECRET not in c.seen
    assert snapshot(out) == before  # nothing outside read into or written


def test_fifo_is_not_opened(tmp_path):
    """Opening a fifo for reading blocks until a writer comes: the store must never try."""
    d, _ = build(tmp_path, CORPUS[[c.name for c in CORPUS].index("fifo")])
    flash = FlashFS(root=d)
    with pytest.raises(FsError):
        flash.read("/flash/cert/pipe")
    with pytest.raises(FsError):
        flash.write("/flash/cert/pipe", b"x")
    assert stat.S_ISFIFO((d / "cert" / "pipe").lstat().st_mode)  # left where it was


def test_put_through_linked_folder_is_refused(tmp_path):
    """The original report: `ATFS PUT` through a linked folder wrote outside DIR."""
    d, out = build(tmp_path, CORPUS[[c.name for c in CORPUS].index("dir-link")])
    c = AtModem(FlashFS(root=d))
    answer = c.put("/flash/cert/out/new.txt", b"written outside")
    assert is_e_line(answer), answer
    assert not (out / "hostdir" / "new.txt").exists()


def test_0x3b_write_through_linked_file_is_refused(tmp_path):
    d, out = build(tmp_path, CORPUS[0])
    a = ApiModem(FlashFS(root=d))
    status, _ = a.open("/flash/cert/leak.pem", Open.WRITE)
    assert status == codes.FS_STATUS[0x52].value  # not a file of the volume: does not exist
    assert (out / "secret.pem").read_bytes() == SECRET


def test_sparse_4gib_file_does_not_crash_the_next_frame(tmp_path):
    """The original report: `OverflowError` on the next 0x3B frame after a 4 GiB file."""
    d, _ = build(tmp_path, CORPUS[[c.name for c in CORPUS].index("sparse-4gib")])
    a = ApiModem(FlashFS(root=d))
    status, _ = a.open("/flash/cert/huge.bin", Open.READ)
    assert status in FS_ERRORS
    assert a.request(Cmd.VOLUME_INFO, b"/flash").status == 0
    assert a.request(Cmd.DIR_OPEN, u16(0) + b"/flash/cert").status == 0


# ----- a 0x3B read reads only its chunk ---------------------------------------------------


def test_0x3b_read_seeks_to_its_chunk(tmp_path, monkeypatch):
    """Each File Read opens the host file once and reads at most the chunk, not the file."""
    flash = FlashFS(root=tmp_path / "flash")
    body = os.urandom(200_000)
    flash.write("/flash/big.bin", body)
    reads: list[int] = []
    real_read, real_pread = os.read, os.pread

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    def counting_pread(fd: int, n: int, offset: int) -> bytes:
        reads.append(n)
        return real_pread(fd, n, offset)

    monkeypatch.setattr(os, "read", counting_read)
    monkeypatch.setattr(os, "pread", counting_pread)
    a = ApiModem(flash)
    status, handle = a.open("/flash/big.bin", Open.READ)
    assert status == 0
    r = a.request(Cmd.FILE_READ, u16(handle) + u32(150_000) + u16(1000))
    assert r.status == 0 and r.fs_data[6:] == body[150_000:151_000]
    assert reads and max(reads) <= 1000


# ----- defect 5: CREATE on an existing secure file ----------------------------------------


@pytest.mark.parametrize("where", ["memory", "folder"])
@pytest.mark.parametrize("opts", [
    Open.CREATE | Open.WRITE,
    Open.CREATE | Open.WRITE | Open.TRUNCATE,
    Open.CREATE | Open.READ,
    Open.CREATE,
])
def test_create_on_a_secure_file_fails_and_keeps_it(tmp_path, where, opts):
    """0x3B File Open with CREATE (no SECURE) on an XPUT key: ACCESS_DENIED (D-BB 0x50), the
    key keeps its bytes and stays secure (A-FS-SECURE-OPEN)."""
    flash = FlashFS() if where == "memory" else FlashFS(root=tmp_path / "flash")
    key = b"-----BEGIN EC PRIVATE KEY-----\nKEY\n-----END EC PRIVATE KEY-----\n"
    flash.write("/flash/cert/client.key", key, secure=True)
    a = ApiModem(flash)
    status, _ = a.open("/flash/cert/client.key", opts)
    assert status == Reason.DENIED.status == 0x50
    assert flash.stat("/flash/cert/client.key").secure
    assert flash.read_privileged("/flash/cert/client.key") == key


def test_secure_truncate_still_replaces_a_secure_file(tmp_path):
    """SECURE|WRITE|TRUNCATE (D-3B: the way to rewrite a secure file) still works."""
    flash = FlashFS(root=tmp_path / "flash")
    flash.write("/flash/cert/client.key", b"old", secure=True)
    a = ApiModem(flash)
    status, handle = a.open("/flash/cert/client.key",
                            Open.SECURE | Open.WRITE | Open.TRUNCATE | Open.CREATE)
    assert status == 0
    assert a.request(Cmd.FILE_WRITE, u16(handle) + u32(0) + b"new").status == 0
    assert flash.read_privileged("/flash/cert/client.key") == b"new"
    assert flash.stat("/flash/cert/client.key").secure


# ----- through a real pty -----------------------------------------------------------------


@pytest.mark.timeout(60)
def test_atfs_get_of_a_linked_host_file_over_a_pty(tmp_path):
    """`xbee-sim --flash DIR` as a client sees it: ATFS GET of a link to a host file gives an
    E-line and no byte of the host file; ATFS INFO answers with two self-links in DIR."""
    d, out = build(tmp_path, CORPUS[0])
    (d / "a").symlink_to(".")
    (d / "b").symlink_to(".")
    server = SimServer(Modem(CAT1, flash=FlashFS(root=d)), time_scale=0.2)
    path = server.start_pty()
    try:
        port = serial.Serial(path, 9600, timeout=0.05)
        try:
            def until(marker: bytes, bound: float = 20.0) -> bytes:
                buf, deadline = b"", time.monotonic() + bound
                while marker not in buf and time.monotonic() < deadline:
                    buf += port.read(4096)
                assert marker in buf, buf[-200:]
                return buf

            time.sleep(0.3)
            port.write(b"+++")
            until(b"OK\r")
            port.write(b"ATFS GET /flash/cert/leak.pem\r")
            got = until(b"\r")
            time.sleep(0.3)
            got += port.read(4096)
            assert got.startswith(b"E"), got
            assert SECRET not in got and bytes((ymodem.SOH,)) not in got
            port.write(b"ATFS INFO\r")
            assert b"used" in until(b"total\r")
        finally:
            port.close()
    finally:
        server.stop()
    assert (out / "secret.pem").read_bytes() == SECRET
