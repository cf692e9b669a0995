"""Frame noise is not amplified into the capture (issue 10, defect 10).

The original input: 300 KB of `7E 07 FF` repeated. Each delimiter claims a 2047-byte frame,
fails its checksum and is rescanned from the next byte (the Deframer's resync, kept), so
every 3 bytes of noise gave a ~2 KB FrameError that `ApiClient` kept and wrote as a note:
a 624 MB capture. Now an error event carries its first bytes, its length and a SHA-256, and
only so many are kept (a counter for the rest). Over a real pty; frames after the noise
still arrive.
"""

from __future__ import annotations

import hashlib
import os
import tty

from harness.capture import CaptureWriter, read_capture
from harness.device.api import MAX_KEPT_FRAME_ERRORS, ApiClient
from harness.device.transport import open_device
from harness.xbee import frames

NOISE = b"\x7e\x07\xff" * 100_000  # 300 KB
REGISTERED = frames.encode(bytes((0x8A, 0x02)))  # modem status: registered (D-8A)
LAST = frames.encode(bytes((0x8A, 0x03)))  # unregistered: the end of the test's traffic


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:4096]) :]


def test_300_kb_of_frame_noise_gives_a_bounded_capture_and_frames_still_arrive(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    path = tmp_path / "noise.jsonl"
    cap = CaptureWriter(path, test="noise", device=os.ttyname(slave))
    # The last delimiters of the noise claim 2047 bytes each, over the frames behind them;
    # the resync finds those frames once the claims fail their checksums, but one claim may
    # pass by chance (1 in 256) and swallow its 2 KB: those ~340 frames are lost, the rest
    # arrive (the Deframer's semantics, unchanged).
    sent = NOISE + REGISTERED * 1000 + LAST
    try:
        with open_device(os.ttyname(slave), capture=cap) as tap, ApiClient(tap) as client:
            _write_all(master, sent)
            got = 0
            while client.wait_for(0x8A, timeout=60).data != LAST[3:-1]:
                got += 1
            assert got >= 1000 - 2051 // len(REGISTERED)
            errors = list(client.frame_errors)
            dropped = client.frame_errors_dropped
    finally:
        cap.close()
        os.close(master)
        os.close(slave)
    size = path.stat().st_size
    assert size < 10 * len(sent), f"capture {size} bytes for {len(sent)} bytes of input"
    assert len(errors) <= MAX_KEPT_FRAME_ERRORS
    assert len(errors) + dropped > 1000  # the resync still sees each bad delimiter
    assert all(len(e.raw) <= 64 for e in errors)  # each kept error is bounded too
    assert errors[0].size == 2051 and errors[0].sha256 == hashlib.sha256(NOISE[:2051]).hexdigest()
    notes = [e for e in read_capture(path).events if e["ev"] == "frame_error"]
    assert 0 < len(notes) <= MAX_KEPT_FRAME_ERRORS + 40  # the kept ones and a few tallies
    assert notes[0]["size"] == 2051 and len(notes[0]["head"]) <= 2 * 64
    assert notes[-1].get("total", 0) >= len(errors) + dropped - 1
