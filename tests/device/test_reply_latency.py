"""Slow replies (issue 9, observation 6): real modules answer MY and N1 in up to 30 s, AI in
up to 10 s and a TM write in up to 5 s (L-TG-HEAD). The AT catalogue carries those figures,
the device layer waits them, and the simulator can impose a per-command latency as
personality data (a deadline in the Modem, not a sleep)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.device.api import DEFAULT_TIMEOUT, ApiClient
from harness.device.command import REPLY_TIMEOUT, CommandMode
from harness.device.module import Module
from harness.device.transport import open_device
from harness.sim.core import personality as personality_mod
from harness.sim.core.effects import ToHost
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer
from harness.xbee import api, at, frames

SLOW = """
reply_latency:
  MY: {value: 3.0, assumption: true, evidence: "L-TG-HEAD: MY 'can be very slow' (30 s)"}
  AI: {value: 2.0, assumption: true, evidence: "L-TG-HEAD: AI read with a 10 s timeout"}
"""
GT_FAST = {"GT": 0x64}  # GT 100 ms: the test pays little for `+++` at real time


@pytest.fixture
def slow_personality(tmp_path: Path) -> personality_mod.Personality:
    """The 3100C personality plus a slow MY (3 s) and AI (2 s), from a real file."""
    base = (personality_mod.load("cat1-3100C").path).read_text(encoding="utf-8")
    path = tmp_path / "slow-3100C.yaml"
    path.write_text(base + SLOW, encoding="utf-8")
    return personality_mod.load(path)


def test_the_catalogue_carries_the_slow_commands_figures() -> None:
    # L-TG-HEAD (TinyGSM src/TinyGsmClientXBee.h @ 4c55210): readResponseString(30000) for MY
    # and N1, readResponseInt(10000L) for AI, waitResponse(5000L) after a TM write.
    assert at.reply_timeout("MY", REPLY_TIMEOUT) == 30.0
    assert at.reply_timeout("N1", REPLY_TIMEOUT) == 30.0
    assert at.reply_timeout("AI", REPLY_TIMEOUT) == 10.0
    assert at.reply_timeout("TM", REPLY_TIMEOUT) == 5.0
    assert at.reply_timeout("VR", REPLY_TIMEOUT) == REPLY_TIMEOUT  # others: the default
    assert at.reply_timeout("MY", 60.0) == 60.0  # never shorter than the caller's wait
    cm = CommandMode.__new__(CommandMode)
    cm.reply_timeout = REPLY_TIMEOUT
    assert cm._timeout_for([("VR", None), ("MY", None)]) == 30.0  # a batch waits its slowest


def test_a_personality_latency_is_a_deadline_in_the_modem(slow_personality) -> None:
    modem = Modem(slow_personality, ap=1)
    modem.power_on(0.0)
    query = frames.encode(api.ATCommand(1, "MY", b"").to_bytes())
    assert not _frames(modem.feed(query, 10.0))  # no answer yet
    assert modem.next_deadline() == pytest.approx(13.0)
    assert not _frames(modem.tick(12.9))
    answer = _frames(modem.tick(13.0))
    assert [(f.frame_id, f.command, f.status) for f in answer] == [(1, "MY", 0)]
    # a command that is not slow answers at once
    assert _frames(modem.feed(frames.encode(api.ATCommand(2, "VR", b"").to_bytes()), 14.0))


def test_the_latency_row_is_checked(tmp_path: Path) -> None:
    base = personality_mod.load("cat1-3100C").path.read_text(encoding="utf-8")
    bad = base + "reply_latency:\n  ZZ: {value: 1, source: L-TG}\n"
    with pytest.raises(personality_mod.PersonalityError, match=r"reply_latency.*ZZ"):
        personality_mod.loads(bad, tmp_path / "bad.yaml")


def test_command_mode_reads_wait_out_a_slow_my_and_ai(slow_personality) -> None:
    """MY 3 s and AI 2 s at real time: longer than the 2 s a plain AT line gets."""
    server = SimServer(Modem(slow_personality, nvm=GT_FAST), time_scale=1.0)
    spec = server.start_pty()
    try:
        with open_device(spec) as tap:
            module = Module(tap, guard_time=0.1)
            values = module.read(["MY", "AI", "VR"])
            assert values["VR"] == 0x3100C
            assert isinstance(values["MY"], str) and isinstance(values["AI"], int)
            module.close()
    finally:
        server.stop()


def test_api_reads_wait_out_a_slow_my(slow_personality) -> None:
    """At time scale 2 the 3 s MY takes 6 s: longer than an API request's default wait."""
    assert DEFAULT_TIMEOUT < 3.0 * 2
    server = SimServer(Modem(slow_personality, ap=1, nvm=GT_FAST), time_scale=2.0)
    spec = server.start_pty()
    try:
        with open_device(spec) as tap, ApiClient(tap) as client:
            assert isinstance(client.get("MY"), str)
    finally:
        server.stop()


def _frames(effects: list) -> list:
    """The 0x88 AT responses among the Modem's effects."""
    out = []
    deframer = frames.Deframer()
    for effect in effects:
        if isinstance(effect, ToHost):
            out += [api.parse(f.data) for f in deframer.feed(effect.data)]
    return [f for f in out if isinstance(f, api.ATCommandResponse)]
