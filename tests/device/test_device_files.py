"""device.files against the simulator on a real pty: YMODEM uploads (PUT and XPUT), the
hash check that skips a second upload, listing and removing; the capture never holds a key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.capture import CaptureWriter, read_capture
from harness.device.errors import FileError
from harness.device.files import Files, sha256_hex
from harness.device.module import Module
from harness.device.transport import Tap, open_device
from harness.servers import Pki
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer


@dataclass
class Rig:
    server: SimServer
    tap: Tap
    module: Module
    files: Files
    capture: Path

    def flash(self, fn: Any) -> Any:
        return self.server.call(lambda m: fn(m.flash))

    def capture_bytes(self) -> bytes:
        self.tap.capture.close()  # type: ignore[union-attr]
        return self.capture.read_bytes()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Any]:
    made: list[Rig] = []

    def make(*, ap: int | None = None, personality: str | None = None, method: str = "atfs") -> Rig:
        kw = {"personality": personality} if personality else {}
        modem = Modem(nvm={"GT": 0x32}, ap=ap, **kw)
        server = SimServer(modem)
        path = server.start_pty()
        cap = tmp_path / f"capture{len(made)}.jsonl"
        tap = open_device(path, capture=CaptureWriter(cap, test="files", device=path))
        module = Module(tap, guard_time=0.05)
        rig = Rig(server, tap, module, Files(module, method=method), cap)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.module.close()
        rig.tap.close()
        rig.server.stop()


def test_upload_then_second_upload_is_skipped_by_hash(make_rig: Any, pki: Pki) -> None:
    rig = make_rig()
    ca = pki.read("root_ca")
    first = rig.files.put(pki.path("root_ca"), "wgc.crt")
    assert first.path == "/flash/cert/wgc.crt" and not first.skipped and not first.secure
    assert first.sha256 == sha256_hex(ca) and first.size == len(ca)
    assert rig.flash(lambda fs: fs.read("/flash/cert/wgc.crt")) == ca
    assert rig.files.hash("/flash/cert/wgc.crt") == sha256_hex(ca)

    second = rig.files.put(pki.path("root_ca"), "wgc.crt")
    assert second.skipped
    rig.capture_bytes()  # close the capture
    tx = read_capture(rig.capture).wire("tx")
    assert tx.count(b"ATFS PUT /flash/cert/wgc.crt") == 1  # the second one never went out
    assert rig.module.stats.command_mode_entries == 1


def test_changed_file_is_uploaded_again(make_rig: Any, pki: Pki) -> None:
    rig = make_rig()
    rig.files.put(pki.path("root_ca"), "ca.pem")
    again = rig.files.put(pki.path("wrong_ca"), "ca.pem")
    assert not again.skipped
    assert rig.flash(lambda fs: fs.read("/flash/cert/ca.pem")) == pki.read("wrong_ca")


def test_private_key_goes_secure_and_never_into_the_capture(make_rig: Any, pki: Pki) -> None:
    rig = make_rig(ap=1)  # from API mode: command mode is entered for ATFS, then left
    key = pki.read("client_key")
    up = rig.files.put(key, "client.key")
    assert up.secure and not up.skipped
    assert rig.flash(lambda fs: fs.read_privileged("/flash/cert/client.key")) == key
    with pytest.raises(Exception, match="secure"):
        rig.flash(lambda fs: fs.read("/flash/cert/client.key"))  # write-only (D-3B)
    listed = {e.name: e for e in rig.files.list()}
    assert listed["client.key"].secure and not listed["client.key"].is_dir
    rig.module.api()  # back to API frames: command mode was left with ATCN
    text = rig.capture_bytes()
    body = key.split(b"\n")[1]  # a line of the key's base64
    assert body not in text and body.hex().encode() not in text
    assert b"PRIVATE KEY" not in bytes.fromhex(
        "".join(e.get("hex", "") for e in read_capture(rig.capture).events)
    )


def test_list_and_remove(make_rig: Any, pki: Pki) -> None:
    rig = make_rig()
    rig.files.put(pki.path("root_ca"), "a.crt")
    rig.files.put(pki.path("wrong_ca"), "b.crt")
    entries = {e.name: e.size for e in rig.files.list()}
    assert entries["a.crt"] == len(pki.read("root_ca"))
    assert entries["b.crt"] == len(pki.read("wrong_ca"))
    assert rig.files.remove("/flash/cert/a.crt") is True
    assert rig.files.hash("/flash/cert/a.crt") is None
    assert rig.files.remove("/flash/cert/a.crt") is False  # already gone
    assert "a.crt" not in {e.name for e in rig.files.list()}


def test_bad_names_and_missing_local_files_are_named(make_rig: Any, tmp_path: Path) -> None:
    rig = make_rig()
    with pytest.raises(FileError, match=r"file name 'bad name\.crt'"):
        rig.files.put(b"x", "bad name.crt")
    with pytest.raises(FileError, match=r"cannot read .*nothere\.pem"):
        rig.files.put(tmp_path / "nothere.pem")
    with pytest.raises(FileError, match="outside"):
        rig.files.put(b"x", "/etc/passwd")
