"""A host at the wrong baud rate over RFC 2217 sees garbage, not silence (issue 11 item 3,
forum 20971: after a BD change "it responds with a three-byte sequence: 0x1C 0x1C 0xFC").

pyserial's own rfc2217:// client sets the rate; the simulator's RFC 2217 server knows it and
the module's BD (A-BENCH-RFC2217-BAUD)."""

from __future__ import annotations

import time

import pytest
import serial

from harness.sim.core.modem import Modem
from harness.sim.host import server as serve
from harness.xbee import api, frames

# pyserial's RFC 2217 client still calls setDaemon()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")
FORUM_OK = b"\x1c\x1c\xfc"  # the module's "OK\r" at another rate (forum 20971)


def _read(ser: serial.Serial, want: int, limit: float = 5.0) -> bytes:
    got = b""
    end = time.monotonic() + limit
    while len(got) < want and time.monotonic() < end:
        got += ser.read(want - len(got))
    return got


def _enter_command_mode(ser: serial.Serial, gt: float) -> None:
    time.sleep(gt)
    ser.write(b"+++")
    time.sleep(gt)


def test_wrong_rate_sees_the_forums_garbage_for_ok():
    """+++ at 115200 against a module at BD=3 (9600): the forum's 1C 1C FC, not silence."""
    with serve.SimServer(Modem("cat1-3100C"), time_scale=0.01) as srv:
        host, port = srv.start_rfc2217("127.0.0.1", 0)
        with serial.serial_for_url(f"rfc2217://{host}:{port}", baudrate=115200,
                                   timeout=0.2) as ser:  # fmt: skip
            _enter_command_mode(ser, 0.05)  # GT 1 s of module time = 10 ms
            got = _read(ser, 3)
            assert got == FORUM_OK, got
            # the same module at the right rate answers in clear text
            ser.baudrate = 9600
            time.sleep(0.2)  # past CT (10 module seconds): out of command mode
            ser.reset_input_buffer()
            _enter_command_mode(ser, 0.05)
            assert _read(ser, 3) == b"OK\r"


def test_wrong_rate_api_frame_is_garbage_not_silence():
    with serve.SimServer(Modem("cat1-3100C", ap=1, features=[])) as srv:
        host, port = srv.start_rfc2217("127.0.0.1", 0)
        with serial.serial_for_url(f"rfc2217://{host}:{port}", baudrate=115200,
                                   timeout=0.2) as ser:  # fmt: skip
            ser.write(api.encode(api.ATCommand(2, "HV")))
            got = _read(ser, 8)
            assert got, "silence at the wrong rate"
            assert not frames.Deframer().feed(got), f"a frame survived the wrong rate: {got!r}"
            assert all(b & 0x80 or b in FORUM_OK for b in got), got
