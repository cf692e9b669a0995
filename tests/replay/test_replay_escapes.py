"""`Matchers(escapes=True)`: a `+++` re-entry that the harness's CT clock decided otherwise than
when recording is not a difference; anything else about command mode still is."""

from __future__ import annotations

from pathlib import Path

from harness.capture import RX, TX, CaptureWriter, read_capture
from harness.replay.matchers import Matchers
from harness.replay.player import Player
from harness.replay.script import build_script

LENIENT = Matchers(escapes=True)


def craft(path: Path, events: list[tuple[str, bytes]]) -> Path:
    t = [100.0]
    with CaptureWriter(path, test="crafted", device="pty", clock=lambda: t[0]) as w:
        for direction, data in events:
            t[0] += 0.01
            w.wire(direction, data)
    return path


def play(path: Path, live: list[bytes], matchers: Matchers = LENIENT) -> tuple[bytes, str]:
    player = Player(build_script(read_capture(path)), cassette=path, matchers=matchers)
    out = b"".join(player.feed(chunk, 0.0) for chunk in live)
    verdict = player.finish(0.0)
    return out, "ok" if verdict.ok else verdict.report


REENTERED = [(TX, b"+++"), (RX, b"OK\r"), (TX, b"ATVR\r"), (RX, b"3100C\r"), (TX, b"+++"),
             (RX, b"O"), (RX, b"K\r"), (TX, b"ATHV\r"), (RX, b"4941\r")]  # fmt: skip
STAYED = [(TX, b"+++"), (RX, b"OK\r"), (TX, b"ATVR\r"), (RX, b"3100C\r"), (TX, b"ATHV\r"),
          (RX, b"4941\r")]  # fmt: skip


def test_a_recorded_reentry_the_harness_skips_passes(tmp_path: Path) -> None:
    path = craft(tmp_path / "c.jsonl", REENTERED)
    out, report = play(path, [b"+++", b"ATVR\r", b"ATHV\r"])
    assert report == "ok" and out == b"OK\r3100C\r4941\r"
    _out, strict = play(path, [b"+++", b"ATVR\r", b"ATHV\r"], Matchers())
    assert "lines differ" in strict and "expected -> +++" in strict


def test_an_extra_reentry_is_answered_ok(tmp_path: Path) -> None:
    path = craft(tmp_path / "c.jsonl", STAYED)
    out, report = play(path, [b"+++", b"ATVR\r", b"+++", b"ATHV\r"])
    assert report == "ok" and out == b"OK\r3100C\rOK\r4941\r"
    _out, strict = play(path, [b"+++", b"ATVR\r", b"+++", b"ATHV\r"], Matchers())
    assert "not fully used" in strict or "mismatch" in strict


def test_other_differences_in_command_mode_still_fail(tmp_path: Path) -> None:
    path = craft(tmp_path / "c.jsonl", STAYED)
    _out, report = play(path, [b"+++", b"ATVR\r", b"+++", b"ATHS\r"])
    assert "expected -> ATHV\\r" in report and "got      -> ATHS\\r" in report
    # an escape into data, not into another AT line, is not slack
    path = craft(tmp_path / "d.jsonl", [(TX, b"+++"), (RX, b"OK\r"), (TX, b"GET / HTTP/1.1\r")])
    _out, report = play(path, [b"GET / HTTP/1.1\r"])
    assert "mismatch" in report


def test_a_recorded_escape_that_was_retried_matches_one_escape(tmp_path: Path) -> None:
    """Recorded on a busy machine: the first `+++` got no OK in time and was sent again."""
    path = craft(tmp_path / "c.jsonl", [(TX, b"+++"), (TX, b"+++"), (RX, b"OK\r"),
                                        (TX, b"ATVR\r"), (RX, b"3100C\r")])  # fmt: skip
    out, report = play(path, [b"+++", b"ATVR\r"])
    assert report == "ok" and out == b"OK\r3100C\r"
    _out, strict = play(path, [b"+++", b"ATVR\r"], Matchers())
    assert "expected -> ++++++" in strict
