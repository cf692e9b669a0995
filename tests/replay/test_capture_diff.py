"""`xbee-hil capture diff A B`: where the module's behaviour changed between two cassettes of a
test, aligned by exchange, ignoring timing, frame IDs, dates and repeated polls."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest

from harness.capture import RX, TX, CaptureWriter
from harness.cli import main
from harness.device.configure import Configurator
from harness.device.module import Module
from harness.device.transport import open_device
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer
from harness.xbee import api


class Clock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def craft(path: Path, events: list[tuple[float, str, bytes]]) -> Path:
    clock = Clock()
    with CaptureWriter(path, test="suites/test_https.py::test_get", device="pty",
                       clock=clock) as w:  # fmt: skip
        for t, direction, data in events:
            clock.t = 50.0 + t
            w.wire(direction, data)
    return path


def diff(a: Path, b: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["capture", "diff", str(a), str(b), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def command_session(ci: bytes, times: list[float]) -> list[tuple[float, str, bytes]]:
    steps = [(TX, b"+++"), (RX, b"OK\r"), (TX, b"ATCI\r"), (RX, ci + b"\r"), (TX, b"ATCN\r"),
             (RX, b"OK\r")]  # fmt: skip
    return [(t, d, data) for t, (d, data) in zip(times, steps, strict=True)]


def test_a_changed_ci_code_is_named_with_its_meaning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = craft(tmp_path / "old.jsonl", command_session(b"0", [0, 1.1, 1.2, 1.3, 1.4, 1.5]))
    # the new run: other timings, even out of order in the file; CI 0x26 (F-HTTPS)
    new = craft(tmp_path / "new.jsonl", command_session(b"26", [0, 3.0, 2.0, 9.0, 4.0, 0.5]))
    code, out = diff(old, new, capsys)
    assert code == 1
    assert "answers differ (A line 4, B line 4): -> ATCI\\r" in out
    assert "  - <- 0\\r   (CI 0x00 " in out
    assert "  + <- 26\\r   (CI 0x26 Connection refused" in out
    assert "1 exchange(s) differ" in out
    assert "+++" not in out.split("answers differ")[1].split("\n")[1:][0]


def test_same_behaviour_other_timing_is_equivalent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = craft(tmp_path / "a.jsonl", command_session(b"0", [0, 1.1, 1.2, 1.3, 1.4, 1.5]))
    b = craft(tmp_path / "b.jsonl", command_session(b"0", [5, 1.0, 0.2, 7.3, 0.4, 0.1]))
    code, out = diff(a, b, capsys)
    assert code == 0 and "equivalent" in out


def _post(fid: int, date: str) -> bytes:
    payload = f"GET / HTTP/1.1\r\nHost: google.com\r\nDate: {date}\r\n\r\n".encode()
    return api.encode(api.TXRequestTLSProfile(fid, "142.250.64.78", 443, 0, 0, 0, payload))


def api_session(fids: tuple[int, int], status: int, date: str, *, modem_status: bool = True,
                extra: bool = False) -> list[tuple[float, str, bytes]]:  # fmt: skip
    f1, f2 = fids
    events = [
        (0.0, TX, api.encode(api.ATCommand(f1, "AI"))),
        (0.1, RX, api.encode(api.ATCommandResponse(f1, "AI", 0, b"\x00"))),
    ]
    if modem_status:
        events.append((0.2, RX, api.encode(api.ModemStatus(0x02))))
    if extra:
        events += [(0.25, TX, api.encode(api.ATCommand(9, "DB"))),
                   (0.26, RX, api.encode(api.ATCommandResponse(9, "DB", 0, b"\x40")))]  # fmt: skip
    events += [
        (0.3, TX, _post(f2, date)),
        (0.4, RX, api.encode(api.TXStatus(f2, status))),
    ]
    return events


def test_renumbered_frame_ids_and_new_dates_are_not_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = craft(tmp_path / "a.jsonl", api_session((1, 2), 0x00, "Tue, 15 Nov 1994 08:12:31 GMT"))
    b = craft(tmp_path / "b.jsonl", api_session((40, 41), 0x00, "Fri, 02 May 2031 10:00:00 GMT"))
    code, out = diff(a, b, capsys)
    assert code == 0, out


def test_a_changed_tx_status_and_a_missing_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    date = "Tue, 15 Nov 1994 08:12:31 GMT"
    a = craft(tmp_path / "a.jsonl", api_session((1, 2), 0x00, date))
    b = craft(tmp_path / "b.jsonl", api_session((7, 8), 0x86, date, modem_status=False))
    code, out = diff(a, b, capsys)
    assert code == 1
    assert "modem status frames differ (whenever they came):" in out
    assert "  - (missing) <- [0x8A Modem Status] status=2" in out
    assert "answers differ (A line 5, B line 4): -> [0x23 TX Request with TLS Profile]" in out
    assert "  + <- [0x89 Transmit (TX) Status] frame_id=8 status=134" in out
    assert "status: 0x00 → 0x86 (TX: 0x00 Successful transmit → 0x86 " in out
    assert "frame_id:" not in out  # renumbered IDs are no difference
    assert "2 exchange(s) differ" in out


def test_an_extra_exchange_is_only_in_b(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    date = "Tue, 15 Nov 1994 08:12:31 GMT"
    a = craft(tmp_path / "a.jsonl", api_session((1, 2), 0, date))
    b = craft(tmp_path / "b.jsonl", api_session((1, 2), 0, date, extra=True))
    code, out = diff(a, b, capsys)
    assert code == 1
    assert "exchange only in B (line 5): -> [0x08 AT Command] frame_id=9 command=DB" in out
    assert "<- [0x88 AT Command Response] frame_id=9 command=DB status=0 value=0x40" in out


def test_bad_input_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = craft(tmp_path / "a.jsonl", command_session(b"0", [0, 1, 2, 3, 4, 5]))
    bad = tmp_path / "bad.jsonl"
    lines = good.read_text().splitlines(keepends=True)
    lines[2] = '{"ev":"rx","t":"soon","hex":"4f4b0d"}\n'
    bad.write_text("".join(lines))
    code, out = diff(good, bad, capsys)
    assert code == 2 and f"{bad}:3: event 'rx' has no number 't'" in out
    code, out = diff(good, tmp_path / "missing.jsonl", capsys)
    assert code == 2 and "missing.jsonl" in out and "Traceback" not in out


# ----- two real recordings of the same harness code ------------------------------------------


def _record(path: Path, burn: int) -> None:
    p = copy.copy(personality_mod.load(personality_mod.DEFAULT))
    p.registration = p.registration.model_copy(
        update={"initializing_s": 0.05, "registering_s": 0.15, "connecting_s": 0.05}
    )
    with SimServer(Modem(p, ap=1)) as server:
        port = server.start_pty()
        deadline = time.monotonic() + 10
        while not server.call(lambda m: m.registered) and time.monotonic() < deadline:
            time.sleep(0.02)  # registered before recording: one AI poll, whatever the timing
        # ... and its 0x8A "registered" frame already out, so opening the port flushes it in
        # both recordings (otherwise it lands in one and not the other, by a few ms)
        assert server.wait_output_drained(10)
        with CaptureWriter(path, test="t", device=port) as cap:
            tap = open_device(port, capture=cap)
            module = Module(tap)
            try:
                Configurator(module).wait_registered(timeout=10, poll=0.05)
                client = module.api()
                for _ in range(burn):
                    client.next_frame_id()
                client.at("VR")
                client.at("ZZ")
                client.at("CI")
            finally:
                module.close()
                tap.close()


def test_two_simulator_runs_of_the_same_code_are_equivalent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _record(a, 0)
    _record(b, 5)  # other frame IDs, other timestamps
    code, out = diff(a, b, capsys)
    assert code == 0, out


def test_repeated_polls_count_once_unless_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def polls(answers: list[bytes]) -> list[tuple[float, str, bytes]]:
        out = []
        for n, ai in enumerate(answers, 1):
            out += [(n * 0.1, TX, api.encode(api.ATCommand(n, "AI"))),
                    (n * 0.1 + 0.01, RX, api.encode(api.ATCommandResponse(n, "AI", 0, ai)))]
        return out  # fmt: skip

    a = craft(tmp_path / "a.jsonl", polls([b"\x22", b"\x22", b"\x22", b"\x00"]))
    b = craft(tmp_path / "b.jsonl", polls([b"\x22", b"\x00"]))
    assert diff(a, b, capsys)[0] == 0
    code, out = diff(a, b, capsys, "--keep-repeats")
    assert code == 1 and "exchange only in A" in out
    c = craft(tmp_path / "c.jsonl", polls([b"\x22", b"\x23", b"\x00"]))
    code, out = diff(a, c, capsys)
    assert code == 1 and "(AI 0x23 Connecting to the Internet)" in out
