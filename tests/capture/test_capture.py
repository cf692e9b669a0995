"""The capture format: header, flushed events, reader errors, redaction, readable view."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from harness.capture import (
    RX,
    TX,
    CaptureError,
    CaptureWriter,
    Redactor,
    read_capture,
    render,
)
from harness.xbee import api, frames


def _writer(tmp_path, name="cap.jsonl"):
    return CaptureWriter(
        tmp_path / name,
        test="tests/test_x.py::test_y",
        device="/dev/pts/9",
        personality="cat1-3100C",
        firmware={"VR": "3100C"},
        profile="sim",
    )


def test_header_and_events_are_flushed_per_event(tmp_path):
    w = _writer(tmp_path)
    w.wire(TX, b"+++")
    # not closed: a crash now must still leave both lines on disk
    lines = (tmp_path / "cap.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["ev"] == "header"
    assert header["test"] == "tests/test_x.py::test_y"
    assert header["device"] == "/dev/pts/9"
    assert header["firmware"] == {"VR": "3100C"}
    assert header["personality"] == "cat1-3100C"
    assert header["profile"] == "sim"
    assert header["harness"] and header["started"]
    ev = json.loads(lines[1])
    assert ev["ev"] == "tx" and bytes.fromhex(ev["hex"]) == b"+++"
    assert isinstance(ev["t"], float) and ev["t"] >= 0
    w.close()


def test_reader_round_trip(tmp_path):
    with _writer(tmp_path) as w:
        w.wire(TX, b"ATVR\r")
        w.wire(RX, b"3100C\r")
        w.note("mode", mode="command")
    cap = read_capture(tmp_path / "cap.jsonl")
    assert cap.header["device"] == "/dev/pts/9"
    assert [e["ev"] for e in cap.events] == ["tx", "rx", "mode"]
    assert cap.wire(TX) == b"ATVR\r"
    assert cap.wire(RX) == b"3100C\r"
    ts = [e["t"] for e in cap.events]
    assert ts == sorted(ts)


def test_truncated_line_is_an_error_naming_file_and_line(tmp_path):
    with _writer(tmp_path) as w:
        w.wire(TX, b"AT\r")
    path = tmp_path / "cap.jsonl"
    with path.open("a") as fh:
        fh.write('{"ev":"rx","t":1.0,"hex":"4f')  # crash mid-line
    with pytest.raises(CaptureError, match=r"cap\.jsonl:3: truncated"):
        read_capture(path)


def test_corrupt_line_is_an_error_naming_file_and_line(tmp_path):
    with _writer(tmp_path) as w:
        w.wire(TX, b"AT\r")
    path = tmp_path / "cap.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = '{"ev":"tx","t":0.1,"hex":"zz"}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CaptureError, match=r"cap\.jsonl:2: 'hex' is not hex"):
        read_capture(path)
    path.write_text("not json\n")
    with pytest.raises(CaptureError, match=r"cap\.jsonl:1: corrupt line"):
        read_capture(path)


def test_apn_password_never_reaches_the_file(tmp_path):
    with _writer(tmp_path) as w:
        w.wire(TX, b"ATANinternet,CW")  # split mid-line: held until the CR
        w.wire(TX, b"hunter2pass,AC\r")
        w.note("at", cmd="CW", param="hunter2pass", reply="OK")
        w.wire(TX, frames.encode(api.ATCommand(5, "CW", b"hunter2pass").to_bytes()))
        w.wire(TX, frames.encode(api.ATCommand(6, "CU", b"user77").to_bytes(), escaped=True))
    text = (tmp_path / "cap.jsonl").read_text()
    assert b"hunter2pass".hex() not in text and "hunter2pass" not in text
    assert b"user77".hex() not in text
    cap = read_capture(tmp_path / "cap.jsonl")
    assert b"ATANinternet,CW<redacted>,AC\r" in cap.wire(TX)  # the APN name stays readable
    tx = [e for e in cap.events if e["ev"] == "tx"]
    assert any(e.get("redacted") == ["CW"] for e in tx)
    assert any(e.get("redacted") == ["CU"] for e in tx)
    # the redacted frames are still whole, decodable frames
    dec = frames.Deframer()
    got = [f for f in dec.feed(cap.wire(TX)) if isinstance(f, frames.RawFrame)]
    assert api.parse(got[0].data).parameter == b"<redacted>"


def test_identity_replies_are_redacted_text_and_frames(tmp_path):
    with _writer(tmp_path) as w:
        w.wire(TX, b"ATIM,S#,VR\r")
        w.wire(RX, b"35123456789")  # IMEI split across reads
        w.wire(RX, b"0123\r89014103211118510720\r3100C\r")
        w.wire(RX, frames.encode(api.ATCommandResponse(2, "IM", 0, b"351234567890123").to_bytes()))
    text = (tmp_path / "cap.jsonl").read_text()
    for secret in (b"351234567890123", b"89014103211118510720"):
        assert secret.hex() not in text
    rx = read_capture(tmp_path / "cap.jsonl").wire(RX)
    assert b"3100C\r" in rx  # not a secret


def test_private_key_is_recorded_as_size_and_hash(tmp_path):
    key = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"
    with _writer(tmp_path) as w:
        w.wire(TX, b"hello " + key)
    text = (tmp_path / "cap.jsonl").read_text()
    assert b"MIIEow".hex() not in text
    ev = [e for e in read_capture(tmp_path / "cap.jsonl").events if e["ev"] == "tx"]
    # the key alone (BEGIN … END) is hidden; the bytes around it stay (issue 10 #3)
    assert [bytes.fromhex(e.get("hex", "")) for e in ev] == [b"hello ", b"", b"\n"]
    assert ev[1]["redacted"] == ["private-key"]
    assert ev[1]["size"] == len(key) - 1


def test_redact_upload_keeps_size_and_sha256_only(tmp_path):
    secret = b"-----BEGIN RSA PRIVATE KEY-----\nAAAASECRET\n-----END RSA PRIVATE KEY-----\n"
    with _writer(tmp_path) as w:
        w.wire(TX, b"ATFS XPUT client.key\r")
        with w.redact_upload("XPUT client.key", content=secret):
            w.wire(TX, b"\x01\x00\xff" + b"client.key\x00" + secret[:40])
            w.wire(RX, b"\x06C")
            w.wire(TX, secret[40:])
        w.wire(TX, b"ATCN\r")
    text = (tmp_path / "cap.jsonl").read_text()
    assert b"SECRET".hex() not in text
    cap = read_capture(tmp_path / "cap.jsonl")
    up = [e for e in cap.events if e.get("redacted") == ["upload"]]
    assert len(up) == 1
    assert up[0]["size"] == len(secret)
    assert up[0]["sha256"] == hashlib.sha256(secret).hexdigest()
    assert "hex" not in up[0]
    assert b"ATCN\r" in cap.wire(TX)
    assert cap.wire(RX) == b"\x06C"  # the module's side of the transfer stays


def test_guard_time_bytes_are_not_held_back():
    r = Redactor()
    out = r.feed(TX, b"+++", 1.0)
    assert [rec.data for rec in out] == [b"+++"]
    assert r.feed(TX, b"ATC", 2.0) == []  # may become ATCW…: held
    assert [rec.data for rec in r.feed(TX, b"N\r", 2.1)] == [b"ATCN\r"]


def test_render_shows_at_text_and_decoded_frames_with_codes(tmp_path):
    with _writer(tmp_path) as w:
        w.note("mode", mode="command")
        w.wire(TX, b"+++")
        w.wire(RX, b"OK\r")
        w.wire(TX, b"ATCI\r")
        w.wire(RX, b"26\r")
        w.wire(RX, frames.encode(api.TXStatus(1, 0x86).to_bytes()))
        w.wire(RX, frames.encode(api.ATCommandResponse(1, "CI", 0, b"\x26").to_bytes()))
    out = "\n".join(render(read_capture(tmp_path / "cap.jsonl")))
    assert "tests/test_x.py::test_y" in out
    assert "-> ATCI\\r" in out
    assert "<- 26\\r" in out
    assert "Transmit (TX) Status" in out
    assert "Invalid TLS configuration" in out  # the 0x89 code's meaning
    assert "mode: command" in out


def _show(path):
    cmd = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*cmd, "capture", "show", str(path)], capture_output=True, text=True, timeout=60
    )


def test_capture_show_cli(tmp_path):
    """`xbee-hil capture show FILE` (the console script's entry point, harness.cli:main)."""
    with _writer(tmp_path) as w:
        w.wire(TX, b"ATVR\r")
        w.wire(RX, b"3100C\r")
        w.wire(RX, frames.encode(api.TXStatus(1, 0x86).to_bytes()))
    path = tmp_path / "cap.jsonl"
    res = _show(path)
    assert res.returncode == 0, res.stderr
    assert "-> ATVR\\r" in res.stdout and "<- 3100C\\r" in res.stdout
    assert "0x86 Invalid TLS configuration" in res.stdout
    with path.open("a") as fh:
        fh.write("{broken\n")
    res = _show(path)
    assert res.returncode == 1
    assert f"{path}:5: corrupt line" in res.stderr
    assert "Traceback" not in res.stderr
    assert "3100C" in res.stdout  # what came before the bad line is still shown
    res = _show(tmp_path / "missing.jsonl")
    assert res.returncode == 1 and "cannot read capture" in res.stderr
    assert "Traceback" not in res.stderr


def test_xput_without_redact_upload_is_still_hidden(tmp_path):
    key = b"-----BEGIN RSA PRIVATE KEY-----\nSECRETSECRET\n-----END RSA PRIVATE KEY-----\n"
    block = b"\x02\x01\xfe" + key.ljust(1024, b"\x1a") + b"\x12\x34"
    with _writer(tmp_path) as w:
        w.wire(TX, b"ATFS XPUT /flash/cert/k.pem\r")
        w.wire(RX, b"Receiving file with YMODEM...\rC")
        w.wire(TX, block)
        w.wire(RX, b"\x06")
        w.wire(TX, b"\x04")
        w.wire(TX, b"\x01\x00\xff" + bytes(130))  # batch end
        w.wire(TX, b"ATCN\r")
    text = (tmp_path / "cap.jsonl").read_text()
    assert b"SECRETSECRET".hex() not in text
    cap = read_capture(tmp_path / "cap.jsonl")
    up = [e for e in cap.events if e.get("redacted") == ["upload"]]
    assert len(up) == 1 and up[0]["what"] == "XPUT /flash/cert/k.pem"
    assert up[0]["size"] == len(block) + 1 + 133
    assert cap.wire(TX).endswith(b"ATCN\r")  # recording resumes after the batch end
