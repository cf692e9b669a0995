"""Redaction holds whatever the chunking (issue 10, defect 3).

A private key or a CU/CW write that crosses a read boundary must not reach the capture in
clear, in either direction, and every non-secret byte must still be there, in order. The
original leak: `ATFS GET` of a cert+key bundle, where a YMODEM block edge cut the PEM marker.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture import RX, TX, CaptureWriter, read_capture
from harness.xbee import frames, ymodem


def _pem(key, fmt) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=1024)
_EC = ec.generate_private_key(ec.SECP256R1())
KEYS = [
    _pem(_RSA, serialization.PrivateFormat.TraditionalOpenSSL),  # BEGIN RSA PRIVATE KEY
    _pem(_EC, serialization.PrivateFormat.PKCS8),  # BEGIN PRIVATE KEY
    _pem(_EC, serialization.PrivateFormat.TraditionalOpenSSL),  # BEGIN EC PRIVATE KEY
]
CERT = (
    b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUNotAKeyJustACertificate0=\n"
    b"-----END CERTIFICATE-----\n"
)

# Non-secret filler, rich in near-misses of the markers (and never an AT line or an
# identity-looking line, which have their own rules).
FILLER = st.lists(
    st.sampled_from(
        [CERT, b"-----BEGIN ", b"-----", b"-", b"PRIVATE KEY-----", b"-----END ", b"OK\r",
         b"hello world\n", b"\r\n", b"BEGIN", b"x" * 50, bytes(range(0x20, 0x7F)),
         b"\x01\x02\x1a\x00", b"-----BEGIN PUBLIC KEY-----\n"]
    ),
    max_size=8,
).map(b"".join).filter(lambda b: b"PRIVATE KEY-----" not in b.replace(b"-----BEGIN ", b"", 0)
                       and re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", b) is None)


def _body_pieces(key: bytes) -> list[bytes]:
    """Pieces of the key's base64 body: none may be in the capture, as text or hex."""
    body = b"".join(key.splitlines()[1:-1])
    return [body[i : i + 24] for i in range(0, len(body) - 24, 24)]


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return [c for c in out if c]


def _record(direction: str, chunks: list[bytes], *, before: list[tuple[str, bytes]] = ()):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.jsonl"
        with CaptureWriter(path, test="t", device="sim") as cap:
            for d, data in before:
                cap.wire(d, data)
            for chunk in chunks:
                cap.wire(direction, chunk)
        events = path.read_text(encoding="utf-8").split("\n", 1)[1]  # after the header
        return events, read_capture(path)


def _assert_no_key(text: str, key: bytes) -> None:
    for piece in _body_pieces(key):
        assert piece.decode() not in text
        assert piece.hex() not in text


CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=40)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    key=st.sampled_from(KEYS),
    before=FILLER,
    after=FILLER,
    cuts=CUTS,
    direction=st.sampled_from([TX, RX]),
    bytewise=st.booleans(),
)
def test_a_pem_key_never_reaches_the_capture_whatever_the_chunking(
    key, before, after, cuts, direction, bytewise
):
    stream = before + key + after
    chunks = [bytes((b,)) for b in stream] if bytewise else _chunks(stream, cuts)
    text, cap = _record(direction, chunks)
    _assert_no_key(text, key)
    # every other byte, in order (the key is BEGIN … END; its last newline is not secret)
    assert cap.wire(direction) == before + b"\n" + after
    secret = [e for e in cap.events if "private-key" in e.get("redacted", [])]
    assert [e["sha256"] for e in secret] == [hashlib.sha256(key[:-1]).hexdigest()]
    assert secret[0]["size"] == len(key) - 1


SECRETS = st.text(alphabet="abcdefghijkmnopqrstuvwxyz0123456789!#$%", min_size=2, max_size=30).map(
    lambda s: "s3!" + s  # never a word of the capture format itself
)


@SETTINGS
@given(
    cmd=st.sampled_from(["CU", "CW", "cu", "cW"]),
    secret=SECRETS,
    cuts=CUTS,
    bytewise=st.booleans(),
    lead=st.sampled_from([b"", b"ATDL1.2.3.4\r", b"+++", b"OK\r", b"AT\r"]),
)
def test_a_cu_cw_line_never_reaches_the_capture_whatever_the_chunking(
    cmd, secret, cuts, bytewise, lead
):
    stream = lead + f"AT{cmd}{secret}\r".encode() + b"ATCN\r"
    chunks = [bytes((b,)) for b in stream] if bytewise else _chunks(stream, cuts)
    text, cap = _record(TX, chunks)
    assert secret not in text and secret.encode().hex() not in text
    assert cap.wire(TX) == lead + f"AT{cmd}".encode() + b"<redacted>\rATCN\r"


@SETTINGS
@given(
    cmd=st.sampled_from([b"CU", b"CW"]),
    secret=SECRETS,
    cuts=CUTS,
    escaped=st.booleans(),
    frame_type=st.sampled_from([0x08, 0x09]),
)
def test_a_cu_cw_frame_never_reaches_the_capture_whatever_the_chunking(
    cmd, secret, cuts, escaped, frame_type
):
    data = bytes((frame_type, 0x01)) + cmd + secret.encode()
    stream = frames.encode(data, escaped=escaped) + frames.encode(b"\x08\x02VR", escaped=escaped)
    text, cap = _record(TX, _chunks(stream, cuts))
    assert secret not in text and secret.encode().hex() not in text
    want = frames.encode(data[:4] + b"<redacted>", escaped=escaped)
    assert cap.wire(TX) == want + frames.encode(b"\x08\x02VR", escaped=escaped)


@SETTINGS
@given(
    cmd=st.sampled_from(["IM", "S#", "II"]),
    value=st.text(alphabet="0123456789", min_size=15, max_size=20),
    cuts=CUTS,
)
def test_an_identity_reply_never_reaches_the_capture_whatever_the_chunking(cmd, value, cuts):
    stream = f"{value}\r".encode()
    text, cap = _record(RX, _chunks(stream, cuts), before=[(TX, f"AT{cmd}\r".encode())])
    assert value not in text and value.encode().hex() not in text
    assert cap.wire(RX) == b"<redacted>\r"


def _ymodem_stream(name: str, data: bytes) -> tuple[bytes, list[bytes]]:
    """What a YMODEM sender puts on the wire for `data` (its blocks, EOT, closing block 0)."""
    sender = ymodem.YmodemSender(name, data)
    blocks = [ymodem.build_block(0, ymodem.block0_payload(name, len(data)))]
    for seq, payload in enumerate(sender._split(data), 1):
        blocks.append(ymodem.build_block(seq, payload))
    blocks += [bytes((ymodem.EOT,)), ymodem.build_block(0, ymodem.block0_payload_empty())]
    return b"".join(blocks), blocks


@SETTINGS
@given(
    key=st.sampled_from(KEYS),
    pad=st.integers(min_value=0, max_value=1100),
    cuts=CUTS,
    direction=st.sampled_from([TX, RX]),
)
def test_a_pem_key_in_ymodem_blocks_never_reaches_the_capture(key, pad, cuts, direction):
    """The block edge falls anywhere in the key (the `pad` moves it); the reads split anywhere."""
    bundle = CERT * (pad // len(CERT)) + b"#" * (pad % len(CERT)) + key + CERT
    wire, blocks = _ymodem_stream("bundle.pem", bundle)
    line = b"ATFS GET bundle.pem\r" if direction == RX else b"ATFS PUT bundle.pem\r"
    text, cap = _record(direction, _chunks(wire, cuts), before=[(TX, line)])
    _assert_no_key(text, key)
    got = cap.wire(direction)
    if direction == TX:
        got = got[len(line) :]
    # the blocks that hold no key byte are all there, in order; the others are hidden whole
    k0 = bundle.index(key)
    k1 = k0 + len(key) - 1  # BEGIN … END, without the last newline
    keep, off = [], 0
    for b in blocks:
        if b[0] in (ymodem.SOH, ymodem.STX) and b[1] != 0:
            size = len(b) - 5
            if off < k1 and k0 < off + size:
                off += size
                continue
            off += size
        keep.append(b)
    assert got == b"".join(keep)
    assert any("private-key" in e.get("redacted", []) for e in cap.events)


@pytest.mark.parametrize("key", KEYS[:2])
def test_capture_show_and_allure_attachment_carry_no_key(tmp_path, key):
    import allure_commons

    from harness import report
    path = tmp_path / "c.jsonl"
    stream = CERT + key + CERT
    with CaptureWriter(path, test="t", device="sim") as cap:
        for i in range(0, len(stream), 7):
            cap.wire(RX, stream[i : i + 7])
    attached: list[str] = []

    class Listener:  # an Allure listener as allure-pytest registers one: attachments reach it
        @allure_commons.hookimpl
        def attach_data(self, body, name, attachment_type, extension):
            attached.append(body)

    from harness.capture import read_capture as rc
    from harness.capture import render

    listener = Listener()
    allure_commons.plugin_manager.register(listener)
    try:
        report.attach_capture(path, lambda: "\n".join(render(rc(path))))
    finally:
        allure_commons.plugin_manager.unregister(listener)
    assert len(attached) == 2
    for body in attached:
        _assert_no_key(body, key)
    out = subprocess.run(
        [sys.executable, "-m", "harness.cli", "capture", "show", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    _assert_no_key(out, key)
    assert "private-key redacted" in out


def test_atfs_get_of_a_cert_and_key_bundle_leaks_no_key(tmp_path):
    """The original leak: `ATFS GET` of a cert+key bundle through the simulator, over a real
    pty, the PEM marker cut by the 1 KB block edge. The capture, `capture show` and the
    Allure attachment must carry no byte of the key; the file still arrives whole."""
    from harness.device.command import CommandMode
    from harness.device.transport import open_device
    from harness.sim.core.modem import Modem
    from harness.sim.host.flashfs import FlashFS
    from harness.sim.host.server import SimServer

    key = KEYS[0]
    head = CERT * (1024 // len(CERT))
    bundle = head + b"#" * (1024 - 15 - len(head)) + key + CERT * 12  # "…BEGIN RSA " | "PRIV…"
    assert bundle[1024 - 15 : 1024] == b"-----BEGIN RSA "
    flash = FlashFS(root=tmp_path / "flash")
    flash.write("/flash/cert/bundle.pem", bundle)
    server = SimServer(Modem("cat1-3100C", flash=flash), time_scale=0.1)
    spec = server.start_pty()
    path = tmp_path / "get.jsonl"
    cap = CaptureWriter(path, test="get", device=spec)
    try:
        with open_device(spec, capture=cap) as tap:
            cm = CommandMode(tap, guard_time=0.1, command_timeout=1.0)
            cm.enter()
            cm.send_line("ATFS GET /flash/cert/bundle.pem")
            tap.read_until(bytes((ymodem.NAK,)), 5.0, what="NAK after ATFS GET")
            rx = ymodem.YmodemReceiver()
            out = rx.start(time.monotonic())
            deadline = time.monotonic() + 30
            while not rx.done:
                if out:
                    tap.write(out)
                assert time.monotonic() < deadline, "YMODEM download did not finish"
                got = tap.read_available(0.05)
                now = time.monotonic()
                out = rx.feed(got, now) if got else rx.tick(now)
            if out:
                tap.write(out)
            assert rx.result is not None and rx.result.data == bundle, rx.error
            tap.drain(quiet=0.2, limit=2.0)
    finally:
        cap.close()
        server.stop()
    text = path.read_text()
    _assert_no_key(text, key)
    c = read_capture(path)
    assert any("private-key" in e.get("redacted", []) for e in c.events)
    assert CERT in c.wire(RX)  # the certificate around the key stays readable
    shown = subprocess.run(
        [sys.executable, "-m", "harness.cli", "capture", "show", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    _assert_no_key(shown, key)


@SETTINGS
@given(
    key=st.sampled_from(KEYS),
    size=st.integers(min_value=1, max_value=300),
    cuts=CUTS,
    direction=st.sampled_from([TX, RX]),
    status_between=st.booleans(),
)
def test_a_pem_key_split_over_api_frames_never_reaches_the_capture(
    key, size, cuts, direction, status_between
):
    """An HTTP body holding a key, cut into 0xB0 frames (module→host) or 0x20 frames
    (host→module) of any size, read in any chunks; a 0x8A may come between two frames."""
    body = b"HTTP/1.1 200 OK\r\n\r\n" + CERT + key + CERT
    if direction == RX:
        head = bytes((0xB0, 10, 0, 0, 1, 0xC3, 0x50, 0x01, 0xBB, 4, 0))
    else:
        head = bytes((0x20, 1, 10, 0, 0, 1, 0x01, 0xBB, 0, 0, 4, 0))
    status = frames.encode(bytes((0x8A, 0x02)))
    wire_frames = []
    for i in range(0, len(body), size):
        wire_frames.append(frames.encode(head + body[i : i + size]))
        if status_between and i == size:
            wire_frames.append(status)
    stream = b"".join(wire_frames)
    text, cap = _record(direction, _chunks(stream, cuts))
    _assert_no_key(text, key)
    k0, k1 = body.index(key), body.index(key) + len(key) - 1
    keep, off = [], 0
    for f in wire_frames:
        if f is status:
            keep.append(f)
            continue
        n = len(f) - 4 - len(head)
        if not (off < k1 and k0 < off + n):
            keep.append(f)
        off += n
    assert cap.wire(direction) == b"".join(keep)


@SETTINGS
@given(
    keys=st.lists(st.sampled_from(KEYS), min_size=2, max_size=3),
    sep=st.sampled_from([b"", b"\n", b"-", b"----", b"-----BEGIN ", b"x"]),
    cuts=CUTS,
    framed=st.integers(min_value=0, max_value=200),
)
def test_keys_back_to_back_are_all_hidden(keys, sep, cuts, framed):
    """A key right after another (no newline, or a marker's start between them): the end of
    one and the start of the next are decided together, in plain text or in 0xB0 frames."""
    body = sep.join(k[:-1] for k in keys) + b"\nbye\n"
    if framed:
        head = bytes((0xB0, 10, 0, 0, 1, 0xC3, 0x50, 0x01, 0xBB, 4, 0))
        stream = b"".join(frames.encode(head + body[i : i + framed])
                          for i in range(0, len(body), framed))  # fmt: skip
    else:
        stream = body
    text, cap = _record(RX, _chunks(stream, cuts))
    for key in keys:
        _assert_no_key(text, key)
    if not framed:
        assert cap.wire(RX) == (sep * (len(keys) - 1) if sep != b"-----BEGIN " else b"") + (
            b"\nbye\n"
        ) or sep == b"-----BEGIN "


@pytest.mark.parametrize("direction", [TX, RX])
def test_frame_annotations_carry_no_key(direction):
    """The API client annotates each frame it sends or receives (`CaptureWriter.frame`): a
    key split over 0xB0 / 0x20 frames is hidden there too, and the other frames keep theirs."""
    key = KEYS[0]
    body = CERT + key + CERT * 3
    if direction == RX:
        head = bytes((0xB0, 10, 0, 0, 1, 0xC3, 0x50, 0x01, 0xBB, 4, 0))
    else:
        head = bytes((0x20, 1, 10, 0, 0, 1, 0x01, 0xBB, 0, 0, 4, 0))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.jsonl"
        with CaptureWriter(path, test="t", device="sim") as cap:
            for i in range(0, len(body), 100):
                data = head + body[i : i + 100]
                cap.frame(direction, data)
                cap.wire(direction, frames.encode(data))
        text = path.read_text().split("\n", 1)[1]
        c = read_capture(path)
    _assert_no_key(text, key)
    notes = [e for e in c.events if e["ev"] == "frame"]
    assert any("private-key" in e.get("redacted", []) for e in notes)
    shown = b"".join(bytes.fromhex(e["data"])[len(head) :] for e in notes)
    assert shown.startswith(CERT)  # before the key: in full
    assert shown.count(b"-----BEGIN CERTIFICATE-----") >= 2  # and after it
