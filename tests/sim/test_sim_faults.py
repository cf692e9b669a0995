"""Named faults as data (harness/sim/core/faults.py), `xbee-sim --fault/--list-faults`, and
what each does to the pure Modem (harness/sim/features/faults.py), with exact times."""

from __future__ import annotations

import subprocess
import sys

import pytest

import harness.sim  # noqa: F401  (registers the features)
from harness.sim.core import faults
from harness.sim.core.effects import ConnectionOpened, OpenConnection, Resolve, ToHost
from harness.sim.core.modem import Modem
from harness.xbee import api, frames


def _frames(effects) -> list:
    data = b"".join(e.data for e in effects if isinstance(e, ToHost))
    return [api.parse(f.data) for f in frames.Deframer().feed(data)
            if isinstance(f, frames.RawFrame)]


def _registered(ap: int = 1) -> Modem:
    modem = Modem("cat1-3100C", ap=ap)
    modem.power_on(0.0)
    modem.tick(100.0)
    assert modem.registered
    return modem


def test_list_faults_prints_every_fault_with_its_source():
    done = subprocess.run([sys.executable, "-m", "harness.sim", "--list-faults"],
                          capture_output=True, text=True, check=True, timeout=60)
    for spec in faults.CATALOGUE.values():
        assert spec.usage() in done.stdout
        assert spec.source in done.stdout


@pytest.mark.parametrize("text, why", [
    ("nope", "unknown fault"), ("dns-flaky", "expected dns-flaky:N"),
    ("dns-flaky:x", "not a whole number"), ("wrong-baud:3", "takes no argument"),
    ("dns-slow:-1", "out of range"),
])
def test_bad_fault_is_one_clear_line(text, why):
    done = subprocess.run([sys.executable, "-m", "harness.sim", "--pty", "--fault", text],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert why in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_registration_denied_then_cleared_registers_again():
    modem = _registered()
    modem.set_faults(["registration-denied"], 100.0)
    out = modem.tick(101.0)
    assert modem.ai == 0x25
    assert any(isinstance(f, api.ModemStatus) and f.status == 0x03 for f in _frames(out))
    modem.clear_faults(200.0)
    modem.tick(300.0)
    assert modem.registered


def test_registration_stuck_survives_a_reset():
    modem = _registered()
    modem.set_faults(["registration-stuck"], 100.0)
    modem.power_cycle(101.0)
    modem.tick(500.0)
    assert modem.ai == 0x22


def test_deregister_after_is_a_deadline_and_registers_again():
    modem = _registered()
    modem.set_faults(["deregister-after:5"], 100.0)
    assert modem.next_deadline() == 105.0
    modem.tick(104.9)
    assert modem.registered
    out = modem.tick(105.0)
    assert modem.ai == 0x22
    assert any(isinstance(f, api.ModemStatus) and f.status == 0x03 for f in _frames(out))
    modem.tick(200.0)
    assert modem.registered


def test_freeze_hears_nothing_until_power_cycle():
    modem = _registered()
    modem.set_faults(["freeze-after:1"], 100.0)
    modem.tick(101.0)
    assert _frames(modem.feed(frames.encode(api.ATCommand(1, "AI").to_bytes()), 102.0)) == []
    modem.power_cycle(103.0)
    out = modem.feed(frames.encode(api.ATCommand(2, "VR").to_bytes()), 104.0)
    assert any(isinstance(f, api.ATCommandResponse) for f in _frames(out))


def test_brownout_puts_back_what_wr_saved():
    modem = _registered()
    modem.feed(frames.encode(api.ATCommand(1, "DE", b"\x12\x34").to_bytes()), 100.0)
    modem.set_faults(["brownout-after:2"], 100.0)
    modem.tick(101.0)
    assert modem.value("DE") == 0x1234
    modem.tick(102.0)
    assert modem.value("DE") != 0x1234


def test_wrong_baud_garbles_ok_as_the_forum_saw():
    assert faults.garble(b"OK\r") == b"\x1c\x1c\xfc"
    modem = _registered(ap=0)
    modem.set_faults(["wrong-baud"], 100.0)
    out = modem.feed(b"+++", 102.0)
    out += modem.tick(104.0)
    data = b"".join(e.data for e in out if isinstance(e, ToHost))
    assert data == b"\x1c\x1c\xfc"


def test_dns_flaky_fails_n_lookups_then_answers():
    modem = _registered(ap=0)
    modem.set_faults(["dns-flaky:2"], 100.0)
    answers = []
    for i in range(3):
        out = modem.feed(b"", 100.0 + 10 * i)
        out = modem.feed(b"+++", 102.0 + 10 * i) + modem.tick(103.1 + 10 * i)
        out = modem.feed(b"ATLA google.com\r", 103.2 + 10 * i)
        asks = [e for e in out if isinstance(e, Resolve)]
        text = b"".join(e.data for e in out if isinstance(e, ToHost))
        answers.append((bool(asks), text))
        modem.feed(b"ATCN\r", 103.3 + 10 * i)
    assert answers[0] == (False, b"ERROR\r") and answers[1] == (False, b"ERROR\r")
    assert answers[2][0] is True  # the third goes to the DNS


def test_tls_closed_mid_handshake_gives_0x76_on_a_0x23():
    modem = _registered()
    modem.set_faults(["tls-closed-mid-handshake"], 100.0)
    tx = api.TXRequestTLSProfile(1, "203.0.113.10", 443, 0, 0, 0, b"GET / HTTP/1.1\r\n\r\n")
    out = modem.feed(frames.encode(tx.to_bytes()), 101.0)
    opens = [e for e in out if isinstance(e, OpenConnection)]
    assert opens and opens[0].tls is not None
    out = modem.handle(ConnectionOpened(opens[0].conn_id), 101.5)
    statuses = [f.status for f in _frames(out) if isinstance(f, api.TXStatus)]
    assert statuses == [0x76]
