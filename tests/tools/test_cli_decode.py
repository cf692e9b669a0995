"""`xbee-hil decode` and `xbee-hil codes`, through the real entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from harness import cli
from harness.xbee import api, frames


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_console_script_decodes_the_forum_ci_reply():
    # Reference §2.4: CI query reply 0x26, the value the forum thread's module read.
    exe = shutil.which("xbee-hil")
    cmd = [exe] if exe else [sys.executable, "-m", "harness.cli"]
    proc = subprocess.run(
        [*cmd, "decode", "7E 00 06 88 01 43 49 00 26 C4"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "type": 0x88,
        "name": "AT Command Response",
        "frame_id": 1,
        "command": "CI",
        "status": 0,
        "status_name": "OK",
        "value": "26",
    }


def test_console_script_codes_ci_0x26():
    exe = shutil.which("xbee-hil")
    cmd = [exe] if exe else [sys.executable, "-m", "harness.cli"]
    proc = subprocess.run(
        [*cmd, "codes", "CI", "0x26"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0x26 Connection refused (CONNECTION_REFUSED, D-CI)"


def test_several_frames_with_and_without_spaces(capsys):
    status, out, _ = run_cli(capsys, "decode", "7E 00 02 8A 00 75", "7E0003890186EF")
    assert status == 0
    got = lines(out)
    assert [o["name"] for o in got] == ["Modem Status", "Transmit (TX) Status"]
    assert got[1]["status_name"] == "INVALID_TLS_CONFIGURATION"


def test_escaped_stream(capsys):
    frame = api.ATCommandResponse(0x7E, "SL", 0, b"\x7e\x11\x13\x7d")
    wire = api.encode(frame, escaped=True)
    status, out, _ = run_cli(capsys, "decode", "--escaped", wire.hex(" "))
    assert status == 0
    assert lines(out) == [frame.to_dict()]
    # The same bytes read as AP=1 are not that frame.
    status, out, _ = run_cli(capsys, "decode", wire.hex())
    assert lines(out) != [frame.to_dict()]


def test_broken_frame_has_an_error_naming_the_bytes_and_exits_1(capsys):
    good = frames.encode(b"\x8a\x02").hex()
    status, out, _ = run_cli(capsys, "decode", "7E 00 03 89 01 86 00", good)
    assert status == 1
    bad, ok = lines(out)
    assert bad["kind"] == "checksum"
    assert "bad checksum 0x00, expected 0xEF" in bad["error"]
    assert "7e 00 03 89 01 86 00" in bad["error"]
    assert ok["status_name"] == "JOINED_NETWORK"


def test_truncated_frame_exits_1(capsys):
    status, out, _ = run_cli(capsys, "decode", "7E 00 06 88 01 43")
    assert status == 1
    (obj,) = lines(out)
    assert obj["kind"] == "truncated" and "7e 00 06 88 01 43" in obj["error"]


def test_known_type_too_short_exits_1(capsys):
    status, out, _ = run_cli(capsys, "decode", frames.encode(b"\x89\x01").hex())
    assert status == 1
    (obj,) = lines(out)
    assert obj["name"] == "Transmit (TX) Status" and "needs at least 3 bytes" in obj["error"]


def test_unknown_frame_type_is_printed_whole(capsys):
    status, out, _ = run_cli(capsys, "decode", frames.encode(b"\x2d\x01\x02").hex())
    assert status == 0
    assert lines(out) == [{"type": 0x2D, "name": "Unknown frame type 0x2D", "data": "0102"}]


def test_noise_outside_frames_is_reported(capsys):
    status, out, _ = run_cli(capsys, "decode", "41 42 7E 00 02 8A 00 75")
    assert status == 1
    first, noise = lines(out)
    assert first["name"] == "Modem Status"
    assert noise["kind"] == "noise" and noise["error"].startswith("2 byte(s)")


def test_stdin_when_no_hex_given(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("7e 00 02 8a 03 72\n"))
    status, out, _ = run_cli(capsys, "decode")
    assert status == 0 and lines(out)[0]["status_name"] == "DISASSOCIATED"


@pytest.mark.parametrize(("text", "needle"), [("7E 0G", "not hex: 'G'"), ("7E0", "odd number")])
def test_bad_hex_is_a_usage_error_with_no_traceback(capsys, text, needle):
    status, out, err = run_cli(capsys, "decode", text)
    assert status == 2 and out == ""
    assert needle in err and "Traceback" not in err


def test_codes_lists_unknown_values_raw_and_exits_1(capsys):
    status, out, _ = run_cli(capsys, "codes", "TX", "0x80", "8C")
    assert status == 1
    assert out.splitlines() == [
        "0x80 Connection refused (SOCKET_CONNECTION_REFUSED, D-89)",
        "unknown (0x8C)",
    ]


@pytest.mark.parametrize(
    ("table", "value", "meaning"),
    [
        ("ci-udp", "0x22", "0x22 Unknown server - DNS lookup failed"),
        ("AI", "0x23", "0x23 Connecting to the Internet"),
        ("MODEM", "2", "0x02 Registered with cellular network"),
        ("SOCKET", "0x02", "0x02 Connection refused"),
        ("AT", "3", "0x03 Invalid parameter"),
        ("FS", "0x52", "0x52 File or directory does not exist"),
    ],
)
def test_codes_tables_by_name(capsys, table, value, meaning):
    status, out, _ = run_cli(capsys, "codes", table, value)
    assert status == 0 and out.startswith(meaning + " (")


def test_codes_whole_table_and_table_list(capsys):
    status, out, _ = run_cli(capsys, "codes", "CI")
    assert status == 0 and "0x2F TLS Socket Authentication Error" in out
    status, out, _ = run_cli(capsys, "codes")
    assert status == 0 and "CI-SMS:" in out


@pytest.mark.parametrize(
    ("argv", "needle"), [(["NOPE", "1"], "no table 'NOPE'"), (["CI", "xyz"], "not a hex code")]
)
def test_codes_usage_errors(capsys, argv, needle):
    status, _, err = run_cli(capsys, "codes", *argv)
    assert status == 2 and needle in err
