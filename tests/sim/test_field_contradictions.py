"""The simulator's answers that field evidence contradicted (field-evidence §1), fixed.

Each test names the ledger row and the evidence tag; each fails on the old behaviour.
"""

from __future__ import annotations

import copy

from harness.sim.core.effects import ToHost
from harness.sim.core.modem import Modem
from harness.sim.core.personality import load
from harness.sim.host.flashfs import FlashFS
from harness.xbee import api, frames, ymodem


def _host(effects) -> bytes:
    return b"".join(e.data for e in effects if isinstance(e, ToHost))


class Bench:
    """A pure Modem in command mode on a clock the test moves."""

    def __init__(self, personality: str, *, ap: int = 0, **quirks: object) -> None:
        chosen = copy.copy(load(personality))
        chosen.quirks = {**chosen.quirks, **quirks}
        self.m = Modem(chosen, flash=FlashFS(), ap=ap)
        self.t = 0.0
        self.m.power_on(self.t)

    def enter(self) -> None:
        self.t += 2.0
        self.m.feed(b"+++", self.t)
        self.t += 1.5
        assert _host(self.m.tick(self.t)) == b"OK\r"

    def cmd(self, line: str) -> str:
        self.t += 0.01
        return _host(self.m.feed(line.encode() + b"\r", self.t)).decode("latin-1")

    def api_at(self, name: str, value: bytes) -> api.ATCommandResponse:
        self.t += 0.01
        out = _host(self.m.feed(frames.encode(api.ATCommand(1, name, value).to_bytes()),
                                self.t))
        got = [api.parse(f.data) for f in frames.Deframer().feed(out)
               if isinstance(f, frames.RawFrame)]
        return next(f for f in got if isinstance(f, api.ATCommandResponse))


def test_atfs_missing_file_says_does_not_exist():
    """A-ATFS-ERRORS, U-XB3T: `ATFS HASH /flash/missing.txt` → `ENOENT does not exist`."""
    bench = Bench("ltem-11415")
    bench.enter()
    assert bench.cmd("ATFS HASH /flash/missing.txt") == "ENOENT does not exist\r"


def test_ltem_db_answers_69_while_unregistered_cat1_errors():
    """A-NET-VALUES, L-TG-HEAD: LTE-M answers DB 0x69 while the signal is unknown."""
    ltem = Bench("ltem-11415")
    ltem.enter()
    assert not ltem.m.registered
    assert ltem.cmd("ATDB") == "69\r"
    cat1 = Bench("cat1-3100C")
    cat1.enter()
    assert cat1.cmd("ATDB") == "ERROR\r"


def test_out_of_range_set_status_is_personality_data():
    """A-AT-SET-STATUS, U-XB3T: a refused BD set answers 0x88 status 1 on LTE-M."""
    ltem = Bench("ltem-11415", ap=1)
    assert ltem.api_at("BD", b"\xff\xff\xff\xff").status == 1
    cat1 = Bench("cat1-3100C", ap=1)
    assert cat1.api_at("BD", b"\xff\xff\xff\xff").status == 3  # A-AT-READONLY's status kept


def test_atfs_put_naks_the_first_eot():
    """A-YMODEM-EOT, N-XBS: with the quirk on (off in the shipped personalities until the
    replay of hashed uploads can follow it), the receiver NAKs the first EOT, ACKs the second."""
    bench = Bench("ltem-11415", ymodem_nak_first_eot=True)
    bench.enter()
    assert bench.cmd("ATFS PUT /flash/a.txt").startswith("Receiving file with YMODEM")
    bench.t += 0.01
    bench.m.feed(ymodem.build_block(0, ymodem.block0_payload("a.txt", 3)), bench.t)
    bench.t += 0.01
    bench.m.feed(ymodem.build_block(1, b"abc".ljust(128, b"\x1a")), bench.t)
    bench.t += 0.01
    assert _host(bench.m.feed(bytes((ymodem.EOT,)), bench.t)) == bytes((ymodem.NAK,))
    bench.t += 0.01
    assert _host(bench.m.feed(bytes((ymodem.EOT,)), bench.t)).startswith(bytes((ymodem.ACK,)))
