"""The replay device on hand-made cassettes: order of unsolicited output, timing scale, volatile
fields (dates, addresses, frame IDs), uploads kept as hashes, bad cassettes named by file:line,
and the `python -m harness.replay serve` command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.capture import RX, TX, CaptureError, CaptureWriter, read_capture
from harness.device.transport import Tap, open_device
from harness.replay.device import ReplayServer
from harness.replay.matchers import Matchers
from harness.replay.player import NoCassette, Player
from harness.replay.script import build_script, fold_repeats
from harness.xbee import api, frames

ROOT = Path(__file__).resolve().parents[2]


def frame(f: api.Frame) -> bytes:
    return api.encode(f)


VR_Q = frame(api.ATCommand(1, "VR"))
VR_A = frame(api.ATCommandResponse(1, "VR", 0, bytes.fromhex("03100C")))
HV_Q = frame(api.ATCommand(2, "HV"))
HV_A = frame(api.ATCommandResponse(2, "HV", 0, bytes.fromhex("4941")))
REGISTERED = frame(api.ModemStatus(0x02))  # D-8A: registered with cellular network


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def craft(path: Path, events: list[tuple[float, str, bytes]], upload: bytes | None = None) -> Path:
    """A cassette with these (t, direction, bytes); `upload` goes last, as a hashed XPUT."""
    clock = Clock()
    with CaptureWriter(path, test="crafted", device="pty", clock=clock) as w:
        for t, direction, data in events:
            clock.t = 100.0 + t
            w.wire(direction, data)
        if upload is not None:
            with w.redact_upload("XPUT client.key", upload):
                w.wire(TX, upload)
            w.wire(RX, b"OK\r")
    return path


@pytest.fixture
def device() -> Iterator[tuple[ReplayServer, Tap]]:
    with ReplayServer() as server:
        tap = open_device(server.start_pty())
        yield server, tap
        tap.close()


def read_exactly(tap: Tap, n: int, timeout: float = 3.0) -> bytes:
    deadline = time.monotonic() + timeout
    out = b""
    while len(out) < n and time.monotonic() < deadline:
        out += tap.read_available(0.05)
    return out


# ----- order and timing ---------------------------------------------------------------------


def test_unsolicited_output_comes_after_the_host_bytes_that_preceded_it(
    tmp_path: Path, device: tuple[ReplayServer, Tap]
) -> None:
    path = craft(
        tmp_path / "c.jsonl",
        [(0.0, TX, VR_Q), (0.01, RX, VR_A), (0.02, RX, REGISTERED), (0.5, TX, HV_Q),
         (0.51, RX, HV_A)],
    )  # fmt: skip
    server, tap = device
    server.load(path)
    assert tap.read_available(0.3) == b""  # nothing before the host speaks
    tap.write(VR_Q)
    assert read_exactly(tap, len(VR_A + REGISTERED)) == VR_A + REGISTERED
    assert tap.read_available(0.2) == b""  # HV's answer waits for HV
    tap.write(HV_Q)
    assert read_exactly(tap, len(HV_A)) == HV_A
    verdict = server.finish()
    assert verdict.ok and verdict.used == 5, verdict.report


@pytest.mark.parametrize(("speed", "at_least", "below"), [(1.0, 0.55, 5.0), (0.0, 0.0, 0.45)])
def test_recorded_gaps_are_scaled_by_speed(
    tmp_path: Path, speed: float, at_least: float, below: float
) -> None:
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, VR_Q), (0.7, RX, VR_A)])
    with ReplayServer(path, speed=speed) as server:
        tap = open_device(server.start_pty())
        try:
            started = time.monotonic()
            tap.write(VR_Q)
            assert read_exactly(tap, len(VR_A)) == VR_A
            took = time.monotonic() - started
            assert at_least <= took < below
            assert server.finish().ok
        finally:
            tap.close()


# ----- volatile fields ----------------------------------------------------------------------


def _http_frame(fid: int, port: int, date: str) -> bytes:
    payload = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nDate: {date}\r\n\r\n".encode()
    return frame(api.TXRequestIPv4(fid, "127.0.0.1", port, 0, 1, 0, payload))


def _tx_status(fid: int) -> bytes:
    return frame(api.TXStatus(fid, 0))


def _play(path: Path, live: list[bytes], matchers: Matchers | None = None) -> tuple[bytes, str]:
    """Feed a Player directly (sans-IO): what it sends back and its verdict's report."""
    player = Player(build_script(read_capture(path)), cassette=path, matchers=matchers)
    out = player.tick(0.0)
    for chunk in live:
        out += player.feed(chunk, 0.0)
    verdict = player.finish(0.0)
    return out, ("ok" if verdict.ok else verdict.report)


def test_dates_in_payloads_are_ignored_unless_asked(tmp_path: Path) -> None:
    recorded = _http_frame(1, 8080, "Tue, 15 Nov 1994 08:12:31 GMT")
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, recorded), (0.1, RX, _tx_status(1))])
    live = _http_frame(1, 8080, "Wed, 01 Jan 2031 23:59:59 GMT")
    out, report = _play(path, [live])
    assert report == "ok" and out == _tx_status(1)
    _out, report = _play(path, [live], Matchers(dates=False))
    assert "payload:" in report and "1994" in report and "2031" in report


def test_server_addresses_matter_unless_ignored(tmp_path: Path) -> None:
    date = "Tue, 15 Nov 1994 08:12:31 GMT"
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, _http_frame(1, 8080, date)),
                                        (0.1, RX, _tx_status(1))])  # fmt: skip
    _out, report = _play(path, [_http_frame(1, 40123, date)])
    assert "dest_port: 0x1F90 → 0x9CBB" in report
    _out, report = _play(path, [_http_frame(1, 40123, date)], Matchers(addresses=True))
    assert report == "ok"


def test_frame_ids_map_on_first_sight_and_must_stay_consistent(tmp_path: Path) -> None:
    path = craft(
        tmp_path / "c.jsonl",
        [(0.0, TX, VR_Q), (0.1, RX, VR_A), (0.2, TX, frame(api.ATCommand(1, "VR"))),
         (0.3, RX, VR_A)],
    )  # fmt: skip
    out, report = _play(path, [frame(api.ATCommand(9, "VR")), frame(api.ATCommand(9, "VR"))])
    assert report == "ok"
    answer = frame(api.ATCommandResponse(9, "VR", 0, bytes.fromhex("03100C")))
    assert out == answer * 2  # the response carries the live ID
    _out, report = _play(path, [frame(api.ATCommand(9, "VR")), frame(api.ATCommand(4, "VR"))])
    assert "recorded 0x01 was live 0x09 before, now 0x04" in report
    _out, report = _play(path, [frame(api.ATCommand(0, "VR"))])
    assert "0 means no response" in report


def test_escaped_frames_replay_in_ap2_form(tmp_path: Path) -> None:
    query = frames.encode(api.ATCommand(0x11, "NI").to_bytes(), escaped=True)  # 0x11 is escaped
    answer = frames.encode(api.ATCommandResponse(0x11, "NI", 0, b"\x7e").to_bytes(), escaped=True)
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, query), (0.1, RX, answer)])
    steps = build_script(read_capture(path))
    assert [(s.kind, s.escaped) for s in steps] == [("frame", True), ("frame", True)]
    live = frames.encode(api.ATCommand(0x13, "NI").to_bytes(), escaped=True)
    out, report = _play(path, [live[:3], live[3:]])
    assert report == "ok"
    want = frames.encode(api.ATCommandResponse(0x13, "NI", 0, b"\x7e").to_bytes(), escaped=True)
    assert out == want


# ----- command mode units -------------------------------------------------------------------


def test_plus_plus_plus_and_lines_are_units_of_their_own(tmp_path: Path) -> None:
    path = craft(
        tmp_path / "c.jsonl",
        [(0.0, TX, b"+++"), (1.1, RX, b"OK\r"), (1.2, TX, b"ATV"), (1.21, TX, b"R\rATHV\r"),
         (1.3, RX, b"3100C\r4941\r"), (1.4, TX, b"ATCN\r"), (1.5, RX, b"OK\r")],
    )  # fmt: skip
    steps = build_script(read_capture(path))
    assert [(s.action, s.raw) for s in steps] == [
        ("expect", b"+++"), ("emit", b"OK\r"), ("expect", b"ATVR\r"), ("expect", b"ATHV\r"),
        ("emit", b"3100C\r"), ("emit", b"4941\r"), ("expect", b"ATCN\r"), ("emit", b"OK\r"),
    ]  # fmt: skip
    assert steps[0].partial and steps[2].line == 4  # the capture held "ATV" until its CR
    out, report = _play(path, [b"++", b"+", b"ATVR\rATH", b"V\r", b"ATCN\r"])
    assert report == "ok" and out == b"OK\r3100C\r4941\rOK\r"
    _out, report = _play(path, [b"+++", b"ATVL\r"])
    assert "expected -> ATVR\\r" in report and "got      -> ATVL\\r" in report
    assert ":4 (step 3 of 8)" in report
    _out, report = _play(path, [b"ATCN\r"])
    assert "expected -> +++" in report and "got      -> ATCN\\r" in report


# ----- the end of the cassette ----------------------------------------------------------------


def test_bytes_after_the_last_step_are_extra(tmp_path: Path) -> None:
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, VR_Q), (0.1, RX, VR_A)])
    _out, report = _play(path, [VR_Q, HV_Q])
    assert "wrote more than" in report and "command=HV" in report


def test_an_unused_cassette_names_the_next_step(tmp_path: Path) -> None:
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, VR_Q), (0.1, RX, VR_A), (0.2, TX, HV_Q)])
    _out, report = _play(path, [VR_Q, HV_Q[:4]])
    assert "not fully used" in report and f"{path}:4" in report
    assert "next     -> [0x08 AT Command] frame_id=2 command=HV" in report
    assert "got only" in report


# ----- uploads kept as hashes ----------------------------------------------------------------

KEY = b"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Q\n-----END RSA PRIVATE KEY-----\n"  # noqa: E501


def test_a_hashed_upload_matches_by_size_and_hash_and_never_shows(tmp_path: Path) -> None:
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, b"ATFS XPUT client.key\r"),
                                        (0.1, RX, b"C")], upload=KEY)  # fmt: skip
    assert b"MIIBOgIBAAJBAKj34" not in path.read_bytes()
    out, report = _play(path, [b"ATFS XPUT client.key\r", KEY])
    assert report == "ok" and out == b"COK\r"
    other = KEY.replace(b"MIIB", b"MIIC")
    _out, report = _play(path, [b"ATFS XPUT client.key\r", other])
    assert "upload" in report and "sha256" in report and "MIIC" not in report


# ----- bad cassettes --------------------------------------------------------------------------


def test_no_cassette_is_a_reason_to_skip(tmp_path: Path) -> None:
    with ReplayServer() as server, pytest.raises(NoCassette, match=r"no cassette .*nothing\.jsonl"):
        server.load(tmp_path / "nothing.jsonl")


def test_truncated_and_corrupt_cassettes_name_file_and_line(tmp_path: Path) -> None:
    good = craft(tmp_path / "good.jsonl", [(0.0, TX, VR_Q), (0.1, RX, VR_A)])
    lines = good.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:-1]) + lines[-1][:20])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + '{"ev":"tx","t":0.1,"hex":"7e00zz"}\n' + "".join(lines[2:]))
    with ReplayServer() as server:
        with pytest.raises(CaptureError, match=rf"^{cut}:{len(lines)}: truncated"):
            server.load(cut)
        with pytest.raises(CaptureError, match=rf"^{bad}:2: 'hex' is not hex"):
            server.load(bad)


# ----- the command line ---------------------------------------------------------------------


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.replay", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_cli_serves_a_cassette_on_a_pty_until_done(tmp_path: Path) -> None:
    path = craft(tmp_path / "c.jsonl", [(0.0, TX, VR_Q), (0.1, RX, VR_A)])
    proc = _cli(str(path), "--pty", "--until-done")
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/")
        tap = open_device(port)
        try:
            tap.write(VR_Q)
            assert read_exactly(tap, len(VR_A)) == VR_A
        finally:
            tap.close()
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "replayed" in err


def test_cli_bad_cassette_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ev":"header"}\n')
    proc = _cli(str(bad), "--pty")
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert f"{bad}:1: not an xbee-hil capture" in err and "Traceback" not in err


def test_fold_polls_plays_a_run_of_identical_polls_once(tmp_path: Path) -> None:
    def poll(fid: int, ai: bytes, t: float) -> list[tuple[float, str, bytes]]:
        return [(t, TX, frame(api.ATCommand(fid, "AI"))),
                (t + 0.01, RX, frame(api.ATCommandResponse(fid, "AI", 0, ai)))]  # fmt: skip

    events = poll(1, b"\x22", 0.0) + poll(2, b"\x22", 0.1) + poll(3, b"\x22", 0.2)
    path = craft(tmp_path / "c.jsonl", events + poll(4, b"\x00", 0.3))
    steps = build_script(read_capture(path))
    folded = fold_repeats(steps)
    assert len(steps) == 8 and len(folded) == 4
    live = [frame(api.ATCommand(1, "AI")), frame(api.ATCommand(2, "AI"))]
    player = Player(folded, cassette=path)
    out = b"".join(player.feed(f, 0.0) for f in live)
    assert out == (frame(api.ATCommandResponse(1, "AI", 0, b"\x22"))
                   + frame(api.ATCommandResponse(2, "AI", 0, b"\x00")))  # fmt: skip
    assert player.finish().ok
    _out, report = _play(path, live)  # strict: every recorded poll is expected
    assert "not fully used" in report


def test_a_folded_poll_is_answered_as_often_as_the_harness_repeats_it(tmp_path: Path) -> None:
    """A poll the recording repeated until the harness gave up (CI staying 0xFF, A-CI-POLL-
    COUNT) folds to one exchange, which the player answers again each time the live harness
    repeats it; anything else after it still has to match the next step."""

    def poll(fid: int, t: float) -> list[tuple[float, str, bytes]]:
        return [(t, TX, frame(api.ATCommand(fid, "CI"))),
                (t + 0.01, RX, frame(api.ATCommandResponse(fid, "CI", 0, b"\xff")))]  # fmt: skip

    def vr(fid: int) -> tuple[bytes, bytes]:
        return (frame(api.ATCommand(fid, "VR")),
                frame(api.ATCommandResponse(fid, "VR", 0, bytes.fromhex("11415"+"0"))))  # fmt: skip

    recorded_vr = [(0.9, TX, vr(4)[0]), (0.91, RX, vr(4)[1])]
    path = craft(tmp_path / "c.jsonl", poll(1, 0.0) + poll(2, 0.25) + poll(3, 0.5) + recorded_vr)
    folded = fold_repeats(build_script(read_capture(path)))
    assert len(folded) == 4 and folded[0].repeatable and not folded[2].repeatable
    player = Player(folded, cassette=path)
    asked = [frame(api.ATCommand(n, "CI")) for n in (1, 2, 3, 4, 5)]
    out = b"".join(player.feed(f, 0.0) for f in asked)
    assert out == b"".join(frame(api.ATCommandResponse(n, "CI", 0, b"\xff")) for n in range(1, 6))
    assert player.feed(vr(6)[0], 0.0) == vr(6)[1]  # renumbered as usual
    assert player.finish().ok
    again = Player(folded, cassette=path)  # the repeat is of the poll only: HV is no match
    again.feed(asked[0], 0.0)
    again.feed(frame(api.ATCommand(2, "HV")), 0.0)
    assert not again.finish().ok
