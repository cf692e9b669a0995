"""After a reset the run's short GT/CT come back with the next configure (issue 13).

A reset (FR, a power cycle, a brownout) puts unsaved parameters back to their flash values:
the module's GT is 1 s again. The harness then keeps to the GT it opened the port with (not
the short one, whose `+++` the module would ignore, nor the longest retry guard), and its next
`apply` writes the run's short GT/CT again in the same command-mode entry.
"""

from __future__ import annotations

import pytest

from harness.device.configure import KnownConfigurator
from harness.device.guard import SHORT_CT, SHORT_GT, short_guard
from harness.device.module import Module
from harness.device.transport import open_device

SCALE = 0.05  # module seconds per real second: GT 1 s is 50 ms here, the short GT above it


@pytest.fixture
def module(start_sim):
    sim = start_sim(registering_s=0.2, time_scale=SCALE, uart_pacing=False)
    tap = open_device(sim.path)
    mod = Module(tap, guard_time=1.0 * SCALE, time_scale=SCALE,
                 command_timeout=10.0 * SCALE, max_guard_time=1.747 * SCALE)  # fmt: skip
    yield mod, sim
    mod.close()
    tap.close()


def test_a_reset_brings_the_short_guard_back_with_the_next_apply(module):
    mod, sim = module
    guard = short_guard(SCALE)
    assert guard["GT"] >= SHORT_GT and guard["CT"] == SHORT_CT  # floored at this scale
    conf = KnownConfigurator(mod)
    conf.run_settings = dict(guard)
    conf.apply(guard, "transparent")
    assert sim.param("GT") == guard["GT"]
    short = mod._cm.guard_time
    assert short < 1.0 * SCALE

    conf.reset()
    assert sim.param("GT") == 0x3E8  # unsaved: back to the factory GT (D-GT)
    assert mod._cm.guard_time == pytest.approx(1.0 * SCALE), "keeps to the flash GT now"

    conf.apply({"DL": "example.com"})
    assert sim.param("GT") == guard["GT"] and sim.param("CT") == guard["CT"]
    assert mod._cm.guard_time == pytest.approx(short)


def test_a_forget_alone_reads_the_run_settings_once(module):
    """A brownout the harness did not cause: after `forget()` the next apply reads GT/CT with
    its own parameters (one batch) and writes them only if they reverted."""
    mod, _sim = module
    conf = KnownConfigurator(mod)
    conf.run_settings = dict(short_guard(SCALE))
    conf.apply(conf.run_settings, "transparent")
    conf.forget()
    before = mod.stats.as_dict()
    conf.apply({"DL": "example.com"})
    spent = mod.stats.since(before)
    assert spent["command_mode_entries"] <= 1
    assert conf.known["GT"] == conf.run_settings["GT"]


def test_no_run_settings_no_extra_reads(module):
    """Replay and recordings keep their bytes: without run settings nothing is added."""
    mod, _sim = module
    conf = KnownConfigurator(mod)
    conf.apply({"DL": "example.com"}, "transparent")
    conf.forget()
    conf.apply({"DL": "example.org"})
    assert "GT" not in conf.known and "CT" not in conf.known
