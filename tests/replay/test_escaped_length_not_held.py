"""An AP=2 frame whose length byte is escaped is written at once, not held (issue: the
mutual-TLS cells of the shipped decks diverged in replay).

`ATLA mtls.google.com` is 0x13 bytes of frame data; in AP=2 its length goes on the wire as
0x7D 0x33. The capture's key finder read that as an AP=1 length of 0x7D and held the frame
(and everything the host sent after it) until 129 bytes had come, so the cassette put the
host's request after the module's answers and the replay waited for the wrong thing.
"""

from __future__ import annotations

from pathlib import Path

from harness.capture import RX, TX, CaptureWriter, read_capture
from harness.capture.keystream import KeyStream
from harness.replay.script import build_script
from harness.xbee import frames

LA = b"\x08\x01LAmtls.google.com"  # 0x13 bytes: the length byte is XOFF, escaped in AP=2
ANSWER = b"\x88\x01LA\x00\xcb\x00\x71\x0b"


def test_escaped_length_byte_is_the_escape() -> None:
    assert frames.encode(LA, escaped=True)[1:4] == b"\x00\x7d\x33"


def test_keystream_passes_an_escaped_frame_at_once() -> None:
    raw = frames.encode(LA, escaped=True)
    stream = KeyStream()
    assert stream.feed(raw) == [raw]
    assert not stream.pending


def test_keystream_passes_escaped_frames_with_escaped_payload() -> None:
    data = b"\x23\x02\xcb\x00\x71\x0b\x01\xbb\x00\x00\x00\x00" + b"x\x11\x13\x7d\x7e" * 3
    raw = frames.encode(data, escaped=True)
    assert stream_out(raw) == [raw]


def stream_out(raw: bytes) -> list[bytes]:
    stream = KeyStream()
    out = stream.feed(raw)
    assert not stream.pending
    return [p for p in out if isinstance(p, bytes)]


def test_keystream_still_holds_an_unfinished_escaped_frame() -> None:
    raw = frames.encode(LA, escaped=True)
    stream = KeyStream()
    assert stream.feed(raw[:10]) == []
    assert stream.feed(raw[10:]) == [raw]


def test_capture_keeps_request_before_answer(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    with CaptureWriter(path, test="t", device="sim") as cap:
        cap.wire(TX, frames.encode(LA, escaped=True))
        cap.wire(RX, frames.encode(ANSWER, escaped=True))
    events = [e for e in read_capture(path).events if e["ev"] in (TX, RX)]
    assert [e["ev"] for e in events] == [TX, RX]
    steps = build_script(read_capture(path))
    assert [(s.action, s.data[:1]) for s in steps] == [("expect", b"\x08"), ("emit", b"\x88")]
