"""Capture size for frame noise: how many bytes of capture a byte of noise costs (issue 10 #10).

`7E 07 FF` repeated: each delimiter claims a 2047-byte frame that fails its checksum, and the
Deframer rescans from the next byte. Before the bound, each became a ~2 KB note (300 KB of
noise: a 624 MB capture, ~2,000x). The noise and 1,000 good 0x8A frames after it go through
a real pty into an `ApiClient` with a capture; prints the sizes and the ratio.

    python benchmarks/capture_noise.py [--kb 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tty
from pathlib import Path

from harness.capture import CaptureWriter
from harness.device.api import ApiClient
from harness.device.transport import open_device
from harness.xbee import frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=300, help="KB of noise (default 300)")
    args = parser.parse_args()
    noise = b"\x7e\x07\xff" * (args.kb * 1000 // 3)
    last = frames.encode(bytes((0x8A, 0x03)))
    sent = noise + frames.encode(bytes((0x8A, 0x02))) * 1000 + last
    controller, peripheral = os.openpty()
    tty.setraw(peripheral)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noise.jsonl"
        cap = CaptureWriter(path, test="noise", device="pty")
        start = time.monotonic()
        with open_device(os.ttyname(peripheral), capture=cap) as tap, ApiClient(tap) as client:
            view = memoryview(sent)
            while view:
                view = view[os.write(controller, view[:4096]) :]
            while client.wait_for(0x8A, timeout=120).data != last[3:-1]:
                pass
            kept, dropped = len(client.frame_errors), client.frame_errors_dropped
        cap.close()
        size = path.stat().st_size
    os.close(controller)
    os.close(peripheral)
    print(f"input {len(sent)} B, capture {size} B ({size / len(sent):.1f}x), "
          f"frame errors kept {kept}, counted {dropped}, {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
