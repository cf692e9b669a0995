"""Every personality's reply latencies stay under what the device layer waits for the same
command (A-SIM-LATENCY-SHIPPED, A-AT-REPLY-TIME): a latency the harness would not wait out
would turn a slow answer into a timeout that no real module of that bound gives. The
shipped personalities carry MY, N1, AI and TM rows (L-TG-HEAD names them slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.device.api import DEFAULT_TIMEOUT
from harness.device.command import REPLY_TIMEOUT
from harness.sim.core import personality as personality_mod
from harness.xbee import at

SLOW_ONES = ("MY", "N1", "AI", "TM")  # L-TG-HEAD, field-evidence §1d


def too_slow(p: personality_mod.Personality) -> dict[str, tuple[float, float]]:
    """Commands whose latency is not under the shorter of the two device-layer waits."""
    out = {}
    for name, latency in p.reply_latency.items():
        wait = min(at.reply_timeout(name, REPLY_TIMEOUT), at.reply_timeout(name, DEFAULT_TIMEOUT))
        if latency >= wait:
            out[name] = (latency, wait)
    return out


@pytest.mark.parametrize("name", personality_mod.available())
def test_latencies_are_within_the_device_layers_timeouts(name: str) -> None:
    p = personality_mod.load(name)
    assert set(SLOW_ONES) <= set(p.reply_latency), "MY, N1, AI, TM rows (A-SIM-LATENCY-SHIPPED)"
    assert too_slow(p) == {}
    for row in p.raw.reply_latency.values():
        assert row.source or row.assumption  # provenance on every row


def test_the_check_catches_a_latency_the_harness_would_not_wait(tmp_path: Path) -> None:
    base = personality_mod.load("ltem-11415").path.read_text(encoding="utf-8")
    path = tmp_path / "slow-vr.yaml"
    path.write_text(base.replace(
        "reply_latency:\n",
        "reply_latency:\n  VR: {value: 3.0, assumption: true, evidence: test}\n"), "utf-8")
    p = personality_mod.load(path)
    assert too_slow(p) == {"VR": (3.0, REPLY_TIMEOUT)}  # VR waits the 2 s of a plain line


def test_the_loader_refuses_a_latency_past_the_catalogue_figure(tmp_path: Path) -> None:
    base = personality_mod.load("ltem-11415").path.read_text(encoding="utf-8")
    bad = base.replace("  MY: {value: 0.0,", "  MY: {value: 31.0,")
    with pytest.raises(personality_mod.PersonalityError, match=r"MY.*not under the 30 s"):
        personality_mod.loads(bad, tmp_path / "bad.yaml")
