"""device.files over 0x3B/0xBB frames (LTE-M firmware, D-3B) against the simulator: upload,
hash skip, secure key, delete, all in API mode without entering command mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.capture import CaptureWriter, read_capture
from harness.device.errors import FileError
from harness.device.files import Files, sha256_hex
from harness.device.module import Module
from harness.device.transport import open_device
from harness.servers import Pki
from harness.sim.features.fsframes import FsFrames


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def rig(tmp_path: Path, start_sim: Any) -> Iterator[Any]:
    sim = start_sim("ltem-11415", nvm={"GT": 0x32}, ap=1, features=[FsFrames()])
    server, path = sim.server, sim.path
    cap = tmp_path / "capture.jsonl"
    tap = open_device(path, capture=CaptureWriter(cap, test="files-frames", device=path))
    module = Module(tap, guard_time=0.05)
    yield server, module, Files(module, method="frames"), cap
    module.close()
    tap.close()


def test_upload_skip_and_delete_by_frames(rig: Any, pki: Pki) -> None:
    server, module, files, _ = rig
    ca = pki.read("root_ca")
    first = files.put(pki.path("root_ca"), "root.crt")
    assert not first.skipped and first.sha256 == sha256_hex(ca)
    assert server.call(lambda m: m.flash.read("/flash/cert/root.crt")) == ca
    assert files.put(pki.path("root_ca"), "root.crt").skipped
    assert files.remove("/flash/cert/root.crt") is True
    assert files.remove("/flash/cert/root.crt") is False
    assert files.hash("/flash/cert/root.crt") is None
    assert module.stats.command_mode_entries == 0 and module.mode == "api"


def test_secure_key_by_frames_stays_out_of_the_capture(rig: Any, pki: Pki) -> None:
    server, module, files, cap = rig
    key = pki.read("client_key")
    up = files.put(key, "client.key")
    assert up.secure
    assert server.call(lambda m: m.flash.read_privileged("/flash/cert/client.key")) == key
    module.tap.capture.close()
    wire = read_capture(cap).wire()
    assert b"PRIVATE KEY" not in wire and key.split(b"\n")[1] not in wire


def test_a_refused_open_is_named(rig: Any) -> None:
    _, _, files, _ = rig
    with pytest.raises(FileError, match="outside"):
        files.put(b"x", "/etc/x.crt")
