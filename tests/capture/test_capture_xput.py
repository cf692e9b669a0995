"""A private key uploaded with ATFS XPUT over YMODEM reaches the capture as size + SHA-256 only.

End to end: command mode over a real pty to the simulator, a real YMODEM transfer, and the
simulator's file system holding the real bytes afterwards (its ATFS HASH agrees).
"""

from __future__ import annotations

import hashlib
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.capture import CaptureWriter, read_capture, render
from harness.device.command import CommandMode
from harness.device.transport import Tap, open_device
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer
from harness.xbee import ymodem


@pytest.fixture(scope="module")
def key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as Digi wants (D-TLS p.101)
        serialization.NoEncryption(),
    )


def _xput(tap: Tap, cm: CommandMode, name: str, data: bytes) -> None:
    """`ATFS XPUT name`, wait for the receiver's C, send the file with YMODEM (§6.3)."""
    cm.send_line(f"ATFS XPUT {name}")
    crc = bytes((ymodem.CRC_MODE,))
    tap.read_until(crc, 5.0, what="YMODEM 'C' after ATFS XPUT")
    sender = ymodem.YmodemSender(name.rsplit("/", 1)[-1], data)
    now = time.monotonic()
    sender.start(now)
    out = sender.feed(crc, now)
    deadline = now + 30
    while not sender.done:
        if out:
            tap.write(out)
        assert time.monotonic() < deadline, "YMODEM upload did not finish"
        got = tap.read_available(0.05)
        now = time.monotonic()
        out = sender.feed(got, now) if got else sender.tick(now)
    if out:
        tap.write(out)
    assert not sender.error, sender.error
    tap.drain(quiet=0.2, limit=2.0)


@pytest.mark.parametrize("explicit", [True, False], ids=["redact_upload", "auto-detected"])
def test_xput_key_is_only_size_and_hash_in_the_capture(tmp_path, key_pem, explicit):
    server = SimServer(Modem("cat1-3100C"), time_scale=0.1)
    spec = server.start_pty()
    cap = CaptureWriter(tmp_path / "xput.jsonl", test="xput", device=spec)
    name = "/flash/cert/client.key"
    try:
        # CT 10 s (D-ENTER) is 1 s real at this scale: the host re-enters after a slow spell
        with (
            open_device(spec, capture=cap) as tap,
            CommandMode(tap, guard_time=0.1, command_timeout=1.0) as cm,
        ):
            if explicit:
                with tap.redact_upload(f"XPUT {name}", key_pem):
                    _xput(tap, cm, name, key_pem)
            else:
                _xput(tap, cm, name, key_pem)
            assert cm.query("VR") == "3100C"  # the port is usable after the transfer
    finally:
        cap.close()
        stored = server.call(lambda m: m.flash.hash(name))
        server.stop()
    text = cap.path.read_text()
    body = b"".join(key_pem.splitlines()[1:-1])  # the base64 of the key
    for chunk in (body[:32], body[100:132], body[-32:]):
        assert chunk.decode() not in text and chunk.hex() not in text
    c = read_capture(cap.path)
    up = [e for e in c.events if e.get("redacted") == ["upload"]]
    assert len(up) == 1
    assert "hex" not in up[0]
    if explicit:
        assert up[0]["size"] == len(key_pem)
        assert up[0]["sha256"] == hashlib.sha256(key_pem).hexdigest()
    else:
        assert up[0]["what"] == f"XPUT {name}"
        assert up[0]["size"] > len(key_pem)  # wire bytes: YMODEM blocks around the key
    assert b"ATFS XPUT /flash/cert/client.key\r" in c.wire("tx")
    out = "\n".join(render(c))
    assert "<upload redacted XPUT /flash/cert/client.key" in out
    assert stored == hashlib.sha256(key_pem).digest()  # the key itself went through intact
