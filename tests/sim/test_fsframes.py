"""0x3B/0xBB file-system frames: on the pure Modem (LTE-M personality, API mode), and a
round trip over a real pty with frames built and parsed by digi-xbee's own classes."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
import serial
from digi.xbee.models import filesystem as lpy
from digi.xbee.models.mode import OperatingMode
from digi.xbee.models.options import FileOpenRequestOption as LpyOpen
from digi.xbee.packets.filesystem import FSRequestPacket, FSResponsePacket

from harness.sim.core.effects import ToHost
from harness.sim.core.modem import Modem
from harness.sim.features.fsframes import (
    ENTRY_IS_DIR,
    ENTRY_IS_LAST,
    ENTRY_IS_SECURE,
    HANDLE_TTL,
    MAX_DATA,
)
from harness.sim.host.flashfs import FlashFS
from harness.sim.host.server import SimServer
from harness.xbee import api, frames
from harness.xbee.codes import FsCommand as Cmd
from harness.xbee.codes import FsOpen as Open

LTEM = "ltem-11415"  # the personality with fs_frames (D-3B: LTE-M/NB-IoT guide)
CAT1 = "cat1-3100C"  # no fs_frames (D-FSCMD: FS only from command mode; A-FS-FRAMES-CAT1)


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


class Api:
    """A Modem in API mode and a frame-ID counter."""

    def __init__(self, personality: str = LTEM, flash: FlashFS | None = None):
        self.flash = flash or FlashFS()
        self.m = Modem(personality, ap=1, flash=self.flash)
        self.t = 0.0
        self.m.power_on(self.t)
        self.fid = 0

    def request(self, cmd: int, data: bytes = b"", *, fid: int | None = None,
                advance: float = 0.01) -> list:
        self.t += advance
        if fid is None:
            self.fid = self.fid % 255 + 1
            fid = self.fid
        raw = api.encode(api.FileSystemRequest(fid, cmd, data))
        out = b"".join(e.data for e in self.m.feed(raw, self.t) if isinstance(e, ToHost))
        return [api.parse(f.data) for f in frames.Deframer().feed(out)
                if isinstance(f, frames.RawFrame) and f.type == 0xBB]

    def ok(self, cmd: int, data: bytes = b"", **kw) -> bytes:
        [resp] = self.request(cmd, data, **kw)
        assert (resp.fs_command, resp.status) == (cmd, 0), resp
        return resp.fs_data

    def status(self, cmd: int, data: bytes = b"", **kw) -> int:
        [resp] = self.request(cmd, data, **kw)
        assert resp.fs_data == b""  # D-BB: data only when status is 0
        return resp.status

    def open(self, name: str, opts: int, path_id: int = 0) -> int:
        data = self.ok(Cmd.FILE_OPEN, u16(path_id) + bytes((opts,)) + name.encode())
        return int.from_bytes(data[:2], "big")


def entries(listing: bytes) -> list[bytes]:
    """Directory entries after the 2-byte handle, split the way L-PY does it
    (`OpenDirCmdResponse.create_cmd`: the NUL after the 4 flags-and-size bytes)."""
    out, offset = [], 2
    while offset < len(listing):
        end = listing.find(0, offset + 4)
        end = len(listing) if end < 0 else end
        out.append(listing[offset:end])
        offset = end + 1
    return out


@pytest.fixture
def fs() -> Api:
    return Api()


def test_write_hash_read_back_round_trip(fs):
    body = os.urandom(4000)
    h = fs.open("/flash/cert/ca.pem", Open.CREATE | Open.WRITE | Open.TRUNCATE)
    for off in range(0, len(body), 1000):
        assert fs.ok(Cmd.FILE_WRITE, u16(h) + u32(0xFFFFFFFF) + body[off:off + 1000]) == \
            u16(h) + u32(off + len(body[off:off + 1000]))  # handle, offset after the write
    fs.ok(Cmd.FILE_CLOSE, u16(h))
    assert fs.ok(Cmd.FILE_HASH, u16(0) + b"flash/cert/ca.pem") == hashlib.sha256(body).digest()
    data = fs.ok(Cmd.FILE_OPEN, u16(0) + bytes((Open.READ,)) + b"/flash/cert/CA.PEM")
    h, size = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:6], "big")
    assert size == len(body)
    got = b""
    while len(got) < size:
        chunk = fs.ok(Cmd.FILE_READ, u16(h) + u32(0xFFFFFFFF) + u16(0xFFFF))
        assert chunk[:2] == u16(h) and int.from_bytes(chunk[2:6], "big") == len(got)
        assert len(chunk) - 6 <= MAX_DATA
        got += chunk[6:]
    assert got == body
    assert fs.ok(Cmd.FILE_READ, u16(h) + u32(size) + u16(10))[6:] == b""  # at EOF: nothing
    assert fs.status(Cmd.FILE_READ, u16(h) + u32(size + 1) + u16(10)) == 0x56  # past EOF


def test_secure_file_is_write_only(fs):
    key = b"-----BEGIN RSA PRIVATE KEY-----\nsecret\n"
    opts = Open.SECURE | Open.WRITE | Open.CREATE | Open.EXCLUSIVE
    h = fs.open("/flash/cert/client.key", opts)
    fs.ok(Cmd.FILE_WRITE, u16(h) + u32(0) + key)
    fs.ok(Cmd.FILE_CLOSE, u16(h))
    assert fs.status(Cmd.FILE_OPEN, u16(0) + bytes((Open.READ,)) + b"/flash/cert/client.key") \
        == 0x50  # D-BB access denied
    assert fs.ok(Cmd.FILE_HASH, u16(0) + b"/flash/cert/client.key") == \
        hashlib.sha256(key).digest()
    assert fs.flash.read_privileged("client.key") == key
    # D-3B: SECURE only with WRITE and CREATE+EXCLUSIVE or TRUNCATE
    assert fs.status(Cmd.FILE_OPEN, u16(0) + bytes((Open.SECURE | Open.WRITE,)) + b"x") == 0x03


@pytest.mark.parametrize(
    ("cmd", "data", "status"),
    [
        (Cmd.FILE_OPEN, u16(0) + bytes((Open.READ,)) + b"/flash/none", 0x52),
        (Cmd.FILE_OPEN, u16(0) + bytes((Open.READ,)) + b"/flash/cert", 0x54),
        (Cmd.FILE_OPEN, u16(0) + bytes((Open.CREATE | Open.EXCLUSIVE,)) + b"/flash/cert", 0x51),
        (Cmd.FILE_OPEN, u16(0) + bytes((Open.CREATE,)) + b"/flash/bad name", 0x53),
        (Cmd.FILE_OPEN, u16(0) + bytes((Open.CREATE,)) + b"/elsewhere", 0x50),
        (Cmd.FILE_OPEN, u16(77) + bytes((Open.READ,)) + b"x", 0x03),  # unknown path ID
        (Cmd.FILE_READ, u16(99) + u32(0) + u16(1), 0x03),  # unknown handle
        (Cmd.FILE_READ, b"\x00", 0x03),  # too short
        (Cmd.DIR_CREATE, u16(0) + b"/flash/cert", 0x51),
        (Cmd.DELETE, u16(0) + b"/flash/nothing", 0x52),
        (0x77, b"", 0x02),  # D-BB invalid FS command
    ],
)
def test_errors_map_to_d_bb_statuses(fs, cmd, data, status):
    assert fs.status(cmd, data) == status


def test_frame_id_zero_gets_no_response(fs):
    assert fs.request(Cmd.DIR_CREATE, u16(0) + b"/flash/quiet", fid=0) == []
    assert fs.flash.exists("/flash/quiet")


def test_directories_path_ids_rename_delete(fs):
    fs.ok(Cmd.DIR_CREATE, u16(0) + b"flash/lib/pkg")
    fs.flash.write("lib/pkg/a.py", b"aaa")
    fs.flash.write("lib/pkg/k.key", b"k", secure=True)
    data = fs.ok(Cmd.GET_PATH_ID, u16(0) + b"/flash/lib/pkg")
    pid, full = int.from_bytes(data[:2], "big"), data[2:]
    assert full == b"/flash/lib/pkg"
    listing = fs.ok(Cmd.DIR_OPEN, u16(pid))  # empty name = "." (D-3B notes)
    parsed = {e[4:]: (e[0], int.from_bytes(e[1:4], "big")) for e in entries(listing)}
    assert parsed == {b"a.py": (0, 3), b"k.key": (ENTRY_IS_SECURE | ENTRY_IS_LAST, 1)}
    fs.ok(Cmd.RENAME, u16(pid) + b"a.py,b.py")  # L-PY: name "," new name
    assert fs.flash.read("lib/pkg/b.py") == b"aaa"
    assert fs.status(Cmd.DELETE, u16(0) + b"/flash/lib/pkg") == 0x55  # not empty
    fs.ok(Cmd.DELETE, u16(pid) + b"b.py")
    fs.ok(Cmd.DELETE, u16(pid) + b"k.key")
    empty = fs.ok(Cmd.DIR_OPEN, u16(pid))
    assert empty[2:] == bytes((ENTRY_IS_LAST, 0, 0, 0))  # L-PY: empty dir = one IS_LAST entry
    top = fs.ok(Cmd.DIR_OPEN, u16(0) + b"/flash")
    assert top[2] & ENTRY_IS_DIR and top[6:10] == b"cert"


def test_long_listing_continues_with_dir_read(fs):
    for i in range(120):
        fs.flash.write(f"lib/module_with_a_long_name_{i:03d}.py", b"x" * i)
    first = fs.ok(Cmd.DIR_OPEN, u16(0) + b"/flash/lib")
    handle, names = first[:2], []
    data = first
    while True:
        batch = entries(data)
        names += [e[4:] for e in batch]
        if batch[-1][0] & ENTRY_IS_LAST:
            break
        assert len(data) <= MAX_DATA
        data = fs.ok(Cmd.DIR_READ, handle)
    assert len(names) == 120 and len(set(names)) == 120
    assert fs.status(Cmd.DIR_READ, handle) == 0x03  # IS_LAST closed the handle (L-PY)


def test_handles_expire_after_two_minutes(fs):
    h = fs.open("/flash/cert/x", Open.CREATE | Open.WRITE)
    fs.ok(Cmd.FILE_WRITE, u16(h) + u32(0), advance=HANDLE_TTL - 1)  # empty write refreshes
    fs.ok(Cmd.FILE_WRITE, u16(h) + u32(0) + b"a", advance=HANDLE_TTL - 1)
    assert fs.status(Cmd.FILE_WRITE, u16(h) + u32(0) + b"b", advance=HANDLE_TTL + 1) == 0x03


def test_volume_info_and_format(fs):
    fs.flash.write("cert/a", b"x" * 100)
    info = fs.ok(Cmd.VOLUME_INFO, b"/flash")
    used, free, bad = (int.from_bytes(info[i:i + 4], "big") for i in (0, 4, 8))
    assert (used, free, bad) == (100, 1024 * 1024 - 100, 0)
    assert fs.status(Cmd.VOLUME_INFO, b"/other") == 0x50
    after = fs.ok(Cmd.VOLUME_FORMAT, b"/flash")
    assert int.from_bytes(after[:4], "big") == 0
    assert not fs.flash.exists("cert/a") and fs.flash.exists("cert")


def test_cat1_personality_has_no_0x3b():
    m = Api(CAT1)
    assert m.request(Cmd.VOLUME_INFO, b"/flash") == []


# ----- over a real pty, with digi-xbee's frame classes --------------------------------------


def test_round_trip_over_pty_with_digi_xbee_packets(tmp_path):
    """Frames built by digi-xbee's FSRequestPacket and parsed by its FSResponsePacket."""
    flash = FlashFS(root=tmp_path / "flash")
    server = SimServer(Modem(LTEM, ap=1, flash=flash), time_scale=0.1, uart_pacing=False)
    path = server.start_pty()
    body = bytearray(b"-----BEGIN CERTIFICATE-----\n" + os.urandom(600))  # L-PY wants bytearrays
    try:
        with serial.Serial(path, 9600, timeout=0.05) as port:
            deframer = frames.Deframer()
            fid = 0

            def call(command):
                nonlocal fid
                fid += 1
                port.write(bytes(FSRequestPacket(fid, command).output()))  # L-PY bytes
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    for item in deframer.feed(port.read(4096)):
                        if isinstance(item, frames.RawFrame) and item.type == 0xBB:
                            raw = bytearray(frames.encode(item.data))
                            pkt = FSResponsePacket.create_packet(raw, OperatingMode.API_MODE)
                            assert pkt.frame_id == fid
                            return pkt.command
                raise AssertionError(f"no 0xBB for frame {fid}")

            flags = LpyOpen.CREATE | LpyOpen.WRITE | LpyOpen.TRUNCATE
            opened = call(lpy.OpenFileCmdRequest(0, "/flash/cert/wgc.crt", flags))
            assert opened.status_value == 0
            wrote = call(lpy.WriteFileCmdRequest(opened.fs_id, 0, body[:240]))
            assert wrote.status_value == 0 and wrote.actual_offset == 240
            wrote = call(lpy.WriteFileCmdRequest(opened.fs_id, 240, body[240:480]))
            wrote = call(lpy.WriteFileCmdRequest(opened.fs_id, 480, body[480:]))
            assert wrote.actual_offset == len(body)
            assert call(lpy.CloseFileCmdRequest(opened.fs_id)).status_value == 0
            hashed = call(lpy.HashFileCmdRequest(0, "/flash/cert/wgc.crt"))
            assert bytes(hashed.file_hash) == hashlib.sha256(body).digest()
            reopened = call(lpy.OpenFileCmdRequest(0, "/flash/cert/wgc.crt", LpyOpen.READ))
            assert reopened.size == len(body)
            got = b""
            while len(got) < len(body):  # ≤247 bytes a read: L-PY ReadFileCmdResponse's cap
                read = call(lpy.ReadFileCmdRequest(reopened.fs_id, len(got), 200))
                assert read.status_value == 0 and read.offset == len(got)
                got += bytes(read.data)
            assert got == body
            listed = call(lpy.OpenDirCmdRequest(0, "/flash/cert"))
            assert [e.name for e in listed.fs_entries] == ["wgc.crt"]
            stat = call(lpy.VolStatCmdRequest("/flash"))
            assert stat.bytes_used == len(body)
    finally:
        server.stop()
    assert (tmp_path / "flash" / "cert" / "wgc.crt").read_bytes() == body
