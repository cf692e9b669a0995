"""What client libraries send to an XBee3 Cellular at set-up gets OK from the simulator.

The script is TinyGSM's `src/TinyGsmClientXBee.h` @ 4c55210 (L-TG-HEAD, fetched from
github:vshymanskyy/TinyGSM): `initImpl(pin)` (PN, AP, GT, CT, WR, AC, HS), `setupPinSleep()`
(`changeSettingIfNeeded` on SM 1 and SO 1: query, set, query again), `getTemperatureImpl()`
(TP), and ModularSensors' `extraModemSetup` (L-MS: D8, D9, D7, D5, P0, P1, each followed by
`waitResponse() == 1`, field-evidence §2.6). It runs as text through a real pty, every line
checked as those libraries check it.
"""

from __future__ import annotations

import time

import pytest
import serial

from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer


class Line:
    """A command-mode host on a pty, as TinyGSM drives it (one line, one reply)."""

    def __init__(self, port: serial.Serial) -> None:
        self.port = port
        self.guard = 1.0  # the module's GT (1 s) until TinyGSM sets GT 64

    def enter(self) -> None:
        time.sleep(self.guard + 0.01)  # TinyGSM commandMode: delay(guardTime + 10)
        self.port.write(b"+++")
        assert self.reply(self.guard * 2 + 1.0) == "OK"

    def reply(self, timeout: float = 2.0) -> str:
        self.port.timeout = timeout
        line = self.port.read_until(b"\r")
        assert line.endswith(b"\r"), f"no reply within {timeout} s (got {line!r})"
        return line[:-1].decode("ascii")

    def at(self, command: str) -> str:
        self.port.write(f"AT{command}\r".encode())
        return self.reply()

    def ok(self, command: str) -> None:
        assert self.at(command) == "OK", f"AT{command}"

    def change_if_needed(self, name: str, value: int) -> None:
        """TinyGSM `changeSettingIfNeeded`: query, set if different, query again."""
        if int(self.at(name), 16) != value:
            self.ok(f"{name}{value:X}")
            assert int(self.at(name), 16) == value, f"AT{name} after the set"


@pytest.fixture
def line():
    server = SimServer(Modem("ltem-11415"))
    spec = server.start_pty()
    try:
        with serial.Serial(spec, 9600, timeout=2.0) as port:
            yield Line(port)
    finally:
        server.stop()


def test_tinygsm_and_modularsensors_setup_gets_ok(line):
    line.enter()
    # initImpl(pin)
    line.ok("PN1234")  # a SIM PIN: "if (waitResponse() != 1) ret_val = false"
    line.change_if_needed("AP", 0)
    if int(line.at("GT"), 16) != 0x64:
        line.ok("GT64")
    line.change_if_needed("CT", 0x64)
    line.ok("WR")  # writeChanges()
    line.ok("AC")
    assert line.at("HS")  # getSeries()
    # setupPinSleep(): SM 1, SO 1 ("not supported by all modules, will return ERROR")
    line.change_if_needed("SM", 1)
    line.change_if_needed("SO", 1)
    line.ok("WR")
    line.ok("AC")
    # ModularSensors extraModemSetup: each checked for OK
    for command in ("D81", "D91", "D71", "D51", "P00", "P10"):
        line.ok(command)
    # getTemperatureImpl(): a signed byte in hex, "" means failure
    temperature = line.at("TP")
    assert temperature and -128 <= int(temperature, 16) - (256 if int(temperature, 16) > 127
                                                            else 0) <= 127
    line.ok("CN")
    line.guard = 0.1  # GT 64 took effect on AC
    line.enter()
    assert [line.at(n) for n in ("SM", "SO", "D8", "P0")] == ["1", "1", "1", "0"]
    assert line.at("PN") == ""  # a SIM PIN is not read back (as CW)
