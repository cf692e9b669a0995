"""Command mode against the simulator over a pty, RFC 2217 and a TCP socket, same test code."""

from __future__ import annotations

import os
import threading
import time
import tty

import pytest

from harness.capture import CaptureWriter, read_capture, render
from harness.device.command import CommandMode
from harness.device.errors import CommandError, DeviceTimeout
from harness.device.transport import open_device

SCALE = 0.1  # simulated time runs 10x faster: GT 1 s → 0.1 s real
GT = 1.0 * SCALE
CT = 10.0 * SCALE  # the module leaves command mode after CT of silence (D-ENTER): 1 s real


@pytest.fixture(params=["pty", "rfc2217", "socket"])
def sim_pty(request, start_sim):
    """The same tests over each port kind (tests/conftest.py's rig, at SCALE)."""
    return start_sim(port=request.param, time_scale=SCALE)


def test_query_set_batch_and_leave(command_terminal):
    term = command_terminal
    assert (term.cm.guard_time, term.cm.command_timeout) == pytest.approx((GT, CT))
    with term.cm as cm:
        assert cm.query("VR") == "3100C"
        assert cm.get("GT") == 0x3E8  # parsed by the AT catalogue
        assert cm.run(("DL", "1.2.3.4"), ("DE", 0x1BB), "AC") == ["OK", "OK", "OK"]
        assert cm.get("DE") == 0x1BB
        assert cm.get("DL") == "1.2.3.4"
        cm.set("CW", "s3cret-apn-pw")
    assert not cm.active
    c = term.finish()
    tx = c.wire("tx")
    assert b"ATDL1.2.3.4,DE1BB,AC\r" in tx
    assert tx.endswith(b"ATCN\r")
    assert b"s3cret" not in tx and "s3cret" not in term.capture_path.read_text()
    modes = [e["mode"] for e in c.events if e["ev"] == "mode"]
    assert modes == ["command", "previous"]


def test_identity_reply_is_redacted_but_returned(command_terminal):
    term = command_terminal
    with term.cm as cm:
        imei = cm.query("IM")
    assert imei.isdigit() and len(imei) == 15
    term.finish()
    assert imei not in term.capture_path.read_text()
    assert imei.encode().hex() not in term.capture_path.read_text()


def test_error_names_the_command(command_terminal):
    with command_terminal.cm as cm:
        with pytest.raises(CommandError, match=r"^ATZZ: module answered 'ERROR'"):
            cm.query("ZZ")
        # a failed command leaves command mode usable
        assert cm.query("VR") == "3100C"


def test_wrong_guard_time_is_recovered(start_sim):
    # The module's GT is 1.5 s (sim) = 0.45 s real; we think it is 0.05 s. The first +++
    # must fail for its short silence before (D-ENTER), so the module hears a byte just
    # before it: otherwise its silence runs from power-up, and a loaded host that takes
    # 0.45 s to get there would make the wrong guard work. The slower scale keeps a stall
    # between that byte and the +++ from passing for a guard.
    scale = 0.3
    sim = start_sim(nvm={"GT": 0x5DC}, time_scale=scale)
    with open_device(sim.path) as tap:
        cm = CommandMode(tap, guard_time=0.05, max_guard_time=0x6D3 / 1000 * scale)
        tap.write(b"x")  # transparent data, as a host in a session would have sent
        cm.enter()
        assert cm.active
        assert cm.guard_time > 1.5 * scale  # it learnt a guard that works
        assert cm.get("GT") == 0x5DC
        cm.exit()


def test_command_mode_timeout_is_recovered(start_sim):
    # CT is 10 s (sim) = 1 s real: after that the module leaves command mode by itself.
    sim = start_sim(time_scale=SCALE)
    with open_device(sim.path) as tap:
        with CommandMode(tap, guard_time=GT, command_timeout=CT) as cm:
            assert cm.query("VR") == "3100C"
            time.sleep(1.1)
            assert cm.query("VR") == "3100C"  # re-entered with +++ first
        assert tap.capture is None


@pytest.fixture
def silent_after_ok():
    """A pty whose far end answers `+++` with OK and then never again."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def answer():
        os.set_blocking(master, False)
        while not stop.is_set():
            try:
                data = os.read(master, 64)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            except OSError:
                return
            if b"+++" in data:
                os.write(master, b"OK\r")

    th = threading.Thread(target=answer, daemon=True)
    th.start()
    yield os.ttyname(slave)
    stop.set()
    th.join(2)
    os.close(master)
    os.close(slave)


def test_reply_timeout_names_the_command(silent_after_ok, tmp_path):
    cap = CaptureWriter(tmp_path / "c.jsonl", test="t", device=silent_after_ok)
    with open_device(silent_after_ok, capture=cap) as tap:
        cm = CommandMode(tap, guard_time=0.05, reply_timeout=0.3)
        cm.enter()
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeout, match=r"no reply to ATVR \(in ATVR\) within 0\.3 s"):
            cm.query("VR")
        assert time.monotonic() - t0 < 10.0  # bounded (not the 120 s test timeout); loose
    cap.close()
    out = "\n".join(render(read_capture(cap.path)))
    assert "-> +++" in out and "<- OK\\r" in out and "-> ATVR\\r" in out


def test_no_answer_at_all_is_a_bounded_clear_error():
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with open_device(os.ttyname(slave)) as tap:
            cm = CommandMode(tap, guard_time=0.02, reply_timeout=0.2, max_guard_time=0.1)
            t0 = time.monotonic()
            with pytest.raises(DeviceTimeout, match=r"no OK to \+\+\+ \(guard times tried"):
                cm.enter()
            assert time.monotonic() - t0 < 10.0  # bounded (not the 120 s test timeout); loose
    finally:
        os.close(master)
        os.close(slave)
