"""A plain `ATFS PUT` (certificate bytes in the clear, matched byte for byte) whose YMODEM
block ends in 0x7E: the capture must not hold the bytes after it as a possible API frame,
or they reach the cassette late, merged with the next command lines, and cannot replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.capture import CaptureWriter, read_capture
from harness.device.files import Files, Upload
from harness.device.module import Module
from harness.device.transport import Tap, open_device
from harness.replay.device import ReplayServer
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer
from harness.xbee import frames, ymodem


def _awkward_file() -> bytes:
    """128 bytes ending in 0x7E whose CRC-16 reads as a plausible frame length (< 0x800):
    the sender's block is then `… 7E crc_hi crc_lo`, and the host's next byte is EOT."""
    for n in range(1 << 16):
        data = b"-----BEGIN CERTIFICATE-----\n" + n.to_bytes(2, "big") + b"Q" * 97 + b"~"
        if ymodem.crc16(data) < frames.MAX_FRAME_DATA:
            return data
    raise AssertionError("no such file")


def _put(data: bytes) -> Callable[[Tap], Upload]:
    def run(tap: Tap) -> Upload:
        module = Module(tap, guard_time=0.05)
        try:
            return Files(module).put(data, "odd.crt")
        finally:
            module.close()

    return run


def test_a_put_whose_block_ends_in_0x7e_records_in_order_and_replays(tmp_path: Path) -> None:
    data = _awkward_file()
    assert len(data) == ymodem.BLOCK_128
    path = tmp_path / "put.jsonl"
    server = SimServer(Modem("cat1-3100C", nvm={"GT": 0x32, "CT": 0x1770}, ap=0),
                       time_scale=0.1)  # fmt: skip
    try:
        with CaptureWriter(path, test="put", device="pty") as cap:
            tap = open_device(server.start_pty(), capture=cap)
            try:
                recorded = _put(data)(tap)
            finally:
                tap.close()
    finally:
        server.stop()
    # the held tail (7E, CRC, EOT …) never swallows a command line that came after it
    for ev in read_capture(path).events:
        if ev["ev"] == "tx" and "hex" in ev:
            raw = bytes.fromhex(ev["hex"])
            assert not (b"\x7e" in raw and b"ATFS" in raw[raw.index(b"\x7e") :]), raw[:40]
    with ReplayServer() as replay:
        tap = open_device(replay.start_pty())
        try:
            replay.load(path)
            got = _put(data)(tap)
            verdict = replay.finish()
        finally:
            tap.close()
    assert verdict.ok, verdict.report
    assert (got.path, got.size, got.sha256, got.skipped) == (
        recorded.path, recorded.size, recorded.sha256, False)  # fmt: skip
