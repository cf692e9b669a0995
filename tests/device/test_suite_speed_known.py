"""KnownConfigurator (harness/pytest_plugin/fixtures.py): a second apply of the same values costs
no AT round trip, writes are still verified, and it forgets after a reset, a failure or `forget()`.
Against the simulator on a real pty."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.device.configure import KnownConfigurator
from harness.device.errors import ConfigureError
from harness.device.module import Module
from harness.device.transport import open_device
from harness.pytest_plugin.simrig import start_rig


@pytest.fixture
def known(tmp_path: Path):
    with start_rig("cat1-3100C", tmp_path) as rig:
        tap = open_device(rig.path, rig.baud)
        module = Module(tap, guard_time=rig.guard_time, **rig.command_timing)
        try:
            conf = KnownConfigurator(module)
            conf.wait_registered(10)
            yield conf
        finally:
            module.close()
            tap.close()


def cost(conf: KnownConfigurator, fn) -> dict[str, int]:
    before = conf.stats.as_dict()
    fn()
    return conf.stats.since(before)


@pytest.mark.parametrize("mode", ["api", "transparent"])
def test_applying_known_values_again_costs_nothing(known: KnownConfigurator, mode: str):
    wanted = {"TM": 0x64, "$0": "root.crt;;", "DL": "google.com"}
    known.apply(wanted, mode)
    known.module.data()
    again = cost(known, lambda: known.apply(wanted, mode))
    assert again["at_round_trips"] == 0 and again["command_mode_entries"] == 0
    # a change is written and read back (verified) even though the rest is known
    changed = cost(known, lambda: known.apply({**wanted, "$0": "other.crt;;"}, mode))
    assert changed["at_round_trips"] >= 2  # the write (+AC) and its read-back
    assert known.module.read(["$0"])["$0"] == "other.crt;;"
    assert known.known["$0"] == "other.crt;;"


def test_only_unknown_names_are_read(known: KnownConfigurator):
    known.apply({"TM": 0x64}, "api")
    client = known.module.api()
    seen: list[str] = []
    original = client.at

    def spy(name, value=None, **kw):
        seen.append(name)
        return original(name, value, **kw)

    client.at = spy
    known.apply({"TM": 0x64, "DE": 0x50}, "api")
    assert seen[0] == "DE" and "TM" not in seen  # DE read, written, verified; TM trusted


def test_forget_makes_it_read_again_and_repair_a_change_behind_its_back(
    known: KnownConfigurator,
):
    known.apply({"TM": 0x64}, "api")
    known.module.api().set("TM", 0x20)  # not through the configurator
    known.apply({"TM": 0x64}, "api")
    assert known.module.read(["TM"])["TM"] == 0x20  # trusted memory: not seen
    known.forget()
    report = known.apply({"TM": 0x64}, "api")
    assert [c.name for c in report.changes] == ["TM"]
    assert known.module.read(["TM"])["TM"] == 0x64


def test_a_failed_apply_and_a_reset_forget(known: KnownConfigurator):
    known.apply({"TM": 0x64}, "api")
    with pytest.raises(ConfigureError):
        known.apply({"TM": 0x64, "ZZ": 1}, "api")  # a bad key: apply names it
    assert known.known == {}
    known.apply({"TM": 0x64}, "api")
    assert known.known
    known.reset()
    assert known.known == {}
