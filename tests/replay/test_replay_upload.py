"""Secure uploads in replay: an `ATFS XPUT` of a private key is recorded as size + SHA-256 only;
the replay device runs the module's YMODEM receiver on the live bytes and compares the file.

Recorded through `harness.device.files.Files` against the simulator on a real pty, replayed
by `ReplayServer` on another real pty: the same key passes, a different key fails with a
report naming the upload (and never showing the key)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.capture import CaptureWriter, read_capture
from harness.device.command import CommandMode
from harness.device.errors import DeviceError
from harness.device.files import Files, Upload
from harness.device.module import Module
from harness.device.transport import Tap, open_device
from harness.replay.device import ReplayServer
from harness.replay.player import Verdict
from harness.replay.script import build_script
from harness.replay.uploads import live_uploads
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer
from harness.xbee import ymodem

NAME = "client.key"


def _key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as Digi wants (D-TLS p.101)
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return _key(), _key()


def _record(path: Path, scenario: Callable[[Tap], Any]) -> Any:
    # GT 50 ms; CT 600 s, so command mode outlasts a slow machine at this time scale (D-ENTER)
    server = SimServer(Modem("cat1-3100C", nvm={"GT": 0x32, "CT": 0x1770}, ap=0),
                       time_scale=0.1)  # fmt: skip
    try:
        port = server.start_pty()
        with CaptureWriter(path, test=path.stem, device=port) as cap:
            tap = open_device(port, capture=cap)
            try:
                return scenario(tap)
            finally:
                tap.close()
    finally:
        server.stop()


def _replay(path: Path, scenario: Callable[[Tap], Any]) -> tuple[Any, Verdict]:
    with ReplayServer() as server:
        tap = open_device(server.start_pty())
        try:
            server.load(path)
            try:
                result = scenario(tap)
            except DeviceError as err:
                result = err
            return result, server.finish()
        finally:
            tap.close()


def _put(data: bytes, *, verify: bool = True) -> Callable[[Tap], Upload]:
    def run(tap: Tap) -> Upload:
        module = Module(tap, guard_time=0.05)
        try:
            return Files(module).put(data, NAME, verify=verify)
        finally:
            module.close()

    return run


@pytest.fixture(scope="module")
def xput_cassette(tmp_path_factory: pytest.TempPathFactory, keys: tuple[bytes, bytes]) -> Path:
    path = tmp_path_factory.mktemp("xput") / "xput.jsonl"
    done = _record(path, _put(keys[0]))
    assert done.secure and not done.skipped
    return path


def test_the_cassette_keeps_the_key_as_size_and_hash_only(
    xput_cassette: Path, keys: tuple[bytes, bytes]
) -> None:
    text = xput_cassette.read_text()
    body = b"".join(keys[0].splitlines()[1:-1])
    for chunk in (body[:24], body[200:224], body[-24:]):
        assert chunk.decode() not in text and chunk.hex() not in text
    steps = live_uploads(build_script(read_capture(xput_cassette)))
    kinds = [(s.action, s.kind) for s in steps]
    i = kinds.index(("expect", "upload"))
    assert steps[i - 1].raw == b"Receiving file with YMODEM...\r"  # the prompt, before the C
    assert steps[i + 1].raw == b"OK\r"  # A-ATFS-DONE, after the last ACK
    assert steps[i].file_size == len(keys[0])
    assert not any(s.kind == "secret" for s in steps)  # no recorded YMODEM byte is replayed


def test_the_same_key_replays(xput_cassette: Path, keys: tuple[bytes, bytes]) -> None:
    started = time.monotonic()
    got, verdict = _replay(xput_cassette, _put(keys[0]))
    assert verdict.ok, verdict.report
    assert isinstance(got, Upload) and got.secure and not got.skipped
    assert got.size == len(keys[0])  # the module's ATFS HASH (recorded) agreed
    assert time.monotonic() - started < 10


def test_a_different_key_fails_naming_the_upload(
    xput_cassette: Path, keys: tuple[bytes, bytes]
) -> None:
    # verify=False: after the mismatch the device is silent, so the ATFS HASH that would
    # follow could only time out; the verdict is the same either way
    _got, verdict = _replay(xput_cassette, _put(keys[1], verify=False))
    assert verdict.outcome == "mismatch", verdict.report
    first = verdict.report.splitlines()
    lines = read_capture(xput_cassette).events
    upload_line = next(n for n, e in enumerate(lines, 2) if e.get("redacted") == ["upload"])
    assert f"{xput_cassette}:{upload_line}" in first[0]
    assert "XPUT /flash/cert/client.key" in verdict.report
    assert f"recorded {len(keys[0])} bytes" in verdict.report
    assert f"received {len(keys[1])} bytes" in verdict.report
    body = b"".join(keys[1].splitlines()[1:-1]).decode()
    assert body[:24] not in verdict.report and "PRIVATE KEY" not in verdict.report


def _by_hand(data: bytes, verb: str = "XPUT", corrupt: bool = False) -> Callable[[Tap], bool]:
    """An upload driven by hand: `ATFS XPUT` without redact_upload (the capture spots it by
    itself, so only the wire bytes' hash is known), or a plain `ATFS PUT` whose first data
    block is damaged once on the way (`corrupt`: the module NAKs it, the sender repeats it)."""

    def run(tap: Tap) -> bool:
        with CommandMode(tap, guard_time=0.05) as cm:
            cm.send_line(f"ATFS {verb} {NAME}")
            crc = bytes((ymodem.CRC_MODE,))
            tap.read_until(crc, 5.0, what=f"YMODEM 'C' after ATFS {verb}")
            sender = ymodem.YmodemSender(NAME, data)
            now = time.monotonic()
            sender.start(now)
            out = sender.feed(crc, now)
            damage = corrupt
            deadline = now + 20
            while not sender.done and time.monotonic() < deadline:
                if out and damage and out[0] in (ymodem.SOH, ymodem.STX) and out[1] == 1:
                    out, damage = out[:10] + bytes((out[10] ^ 0xFF,)) + out[11:], False
                if out:
                    tap.write(out)
                got = tap.read_available(0.05)
                now = time.monotonic()
                out = sender.feed(got, now) if got else sender.tick(now)
            tap.drain(quiet=0.2, limit=2.0)  # the OK after the last ACK
        return bool(sender.result)

    return run


def test_an_upload_known_only_by_its_wire_hash_replays_by_it(
    tmp_path: Path, keys: tuple[bytes, bytes]
) -> None:
    path = tmp_path / "auto.jsonl"
    assert _record(path, _by_hand(keys[0]))
    up = [e for e in read_capture(path).events if e.get("redacted") == ["upload"]]
    assert len(up) == 1 and up[0]["sha256"] == up[0]["wire_sha256"]
    got, verdict = _replay(path, _by_hand(keys[0]))
    assert verdict.ok and got is True, verdict.report
    _got, verdict = _replay(path, _by_hand(keys[1]))
    assert verdict.outcome == "mismatch" and "recorded wire sha256" in verdict.report


CERT = b"-----BEGIN CERTIFICATE-----\n" + b"QUJD" * 300 + b"\n-----END CERTIFICATE-----\n"


def test_a_clean_put_stays_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "put.jsonl"
    assert _record(path, _by_hand(CERT, "PUT"))
    steps = live_uploads(build_script(read_capture(path)))
    assert not any(s.kind == "upload" for s in steps)  # strict: the blocks themselves
    got, verdict = _replay(path, _by_hand(CERT, "PUT"))
    assert verdict.ok and got is True, verdict.report


def test_a_put_recorded_with_a_retransmission_replays_by_its_file(tmp_path: Path) -> None:
    path = tmp_path / "nak.jsonl"
    assert _record(path, _by_hand(CERT, "PUT", corrupt=True))
    nak = bytes((ymodem.NAK,))
    rx = [bytes.fromhex(e["hex"]) for e in read_capture(path).events if e["ev"] == "rx"]
    assert any(nak in chunk for chunk in rx)  # the module NAKed the damaged block
    steps = live_uploads(build_script(read_capture(path)))
    upload = next(s for s in steps if s.kind == "upload")
    assert upload.what == f"PUT {NAME}" and upload.file_size == len(CERT)
    got, verdict = _replay(path, _by_hand(CERT, "PUT"))  # this time nothing is damaged
    assert verdict.ok and got is True, verdict.report
    _got, verdict = _replay(path, _by_hand(CERT.replace(b"QUJD", b"QUJE", 1), "PUT"))
    assert verdict.outcome == "mismatch" and f"upload PUT {NAME}: received" in verdict.report
