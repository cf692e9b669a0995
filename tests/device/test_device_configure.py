"""device.configure against the simulator on a real pty: mode, apply/verify/restore, reset,
registration. The device layer sees only the pty; the tests look at the simulated module
from the other side (`SimServer.call`) and at the wire in the capture."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.capture import CaptureWriter, read_capture
from harness.device.configure import Configurator, plan
from harness.device.errors import ConfigureError, NetworkNotReady, VerifyError
from harness.device.module import Module
from harness.device.transport import Tap, open_device
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.server import SimServer
from harness.xbee import at, frames

# Ten parameters; RO and TL are already at their factory values, so 8 must be written.
PROFILE: dict[str, Any] = {
    "IP": 4,
    "DL": "127.0.0.1",
    "DE": "1BB",  # hex text as a profile may write it (D-CMD)
    "TM": 0x64,
    "TS": 0x32,
    "$0": "wgc.crt;;",
    "$1": "root.pem",
    "RO": 3,
    "TL": 3,
    "DO": 0,
}
CHANGED = {"IP", "DL", "DE", "TM", "TS", "$0", "$1", "DO"}


@dataclass
class Rig:
    server: SimServer
    tap: Tap
    module: Module
    conf: Configurator
    capture: Path

    def sim(self, name: str) -> Any:
        return self.server.call(lambda m: m.param(name))

    def sim_nvm(self) -> dict[str, Any]:
        return dict(self.server.call(lambda m: m.nvm))

    def sent_at_lines(self) -> list[at.AtCommand]:
        """Every command-mode command the host sent (from the capture)."""
        self.tap.capture.close()  # type: ignore[union-attr]
        wire = read_capture(self.capture).wire("tx")
        out = []
        for line in wire.split(b"\r"):
            start = line.upper().find(b"AT")
            if start >= 0:
                out += at.parse_line(line[start:])
        return out

    def sent_frames(self) -> list[bytes]:
        self.tap.capture.close()  # type: ignore[union-attr]
        wire = read_capture(self.capture).wire("tx")
        got = frames.Deframer().feed(wire)  # AP=1 frames (command-mode text is skipped)
        return [f.data for f in got if isinstance(f, frames.RawFrame)]


def _fast_personality(registering_s: float = 1.0) -> personality_mod.Personality:
    p = copy.copy(personality_mod.load())  # cached and shared: change a copy
    p.registration = p.registration.model_copy(
        update={"initializing_s": 0.1, "registering_s": registering_s, "connecting_s": 0.1}
    )
    return p


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Any]:
    made: list[Rig] = []

    def make(
        *,
        nvm: dict[str, Any] | None = None,
        ap: int | None = None,
        gt: float = 0.05,
        allow_nvm_write: bool = False,
        registering_s: float = 1.0,
    ) -> Rig:
        modem = Modem(
            _fast_personality(registering_s), nvm=nvm if nvm is not None else {"GT": 0x32}, ap=ap
        )
        server = SimServer(modem)
        path = server.start_pty()
        cap = tmp_path / f"capture{len(made)}.jsonl"
        tap = open_device(path, capture=CaptureWriter(cap, test="configure", device=path))
        module = Module(tap, guard_time=gt)
        rig = Rig(server, tap, module, Configurator(module, allow_nvm_write=allow_nvm_write), cap)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.module.close()
        rig.tap.close()
        rig.server.stop()


def test_plan_writes_only_what_differs_and_moves_host_side_params_last() -> None:
    wanted = {"GT": 0x32, "DL": "a.b", "RO": 3, "CW": "hunter22"}
    changes = plan(wanted, {"GT": 0x3E8, "DL": "a.b", "RO": 3})
    assert [c.name for c in changes] == ["CW", "GT"]  # CW is write-only: always written
    assert str(changes[0]) == "ATCW: nothing -> <secret, 8 characters>"
    assert str(changes[1]) == "ATGT: 0x3E8 -> 0x32"


def test_factory_defaults_to_profile_and_back(make_rig: Any) -> None:
    rig = make_rig(nvm={}, gt=1.0)  # a factory-fresh module: AP=0, GT 1 s (D-GT)
    before = {name: rig.sim(name) for name in PROFILE}
    nvm_before = rig.sim_nvm()

    with rig.conf.configured(PROFILE, "api") as report:
        assert rig.module.mode == "api" and rig.sim("AP") == 1
        assert {c.name for c in report.changes} == CHANGED
        assert rig.sim("DE") == 0x1BB and rig.sim("$0") == "wgc.crt;;"
        assert rig.sim("$1") == "root.pem;;"
        assert report.stats["command_mode_entries"] == 0  # reused the probe's entry
        assert report.stats["nvm_writes"] == 0

    assert {name: rig.sim(name) for name in PROFILE} == before
    assert rig.sim("AP") == 0 and rig.module.mode == "transparent"
    assert rig.sim_nvm() == nvm_before  # no WR without permission
    assert rig.module.stats.nvm_writes == 0
    assert rig.module.stats.command_mode_entries == 1  # one +++ for the whole round trip

    sets = [c for c in rig.sent_at_lines() if not c.is_query and c.name not in ("AC", "CN")]
    assert {c.name for c in sets} == CHANGED | {"AP"}  # RO, TL never written
    assert all(c.name != "WR" for c in rig.sent_at_lines())
    # the restore ran in API mode: queued 0x09 sets for exactly the changed ones, AP last
    sent = rig.sent_frames()
    queued = [f[2:4].decode() for f in sent if f[0] == 0x09 and len(f) > 4]
    immediate = [f[2:4].decode() for f in sent if f[0] == 0x08 and len(f) > 4]
    assert sorted(queued) == sorted(CHANGED) and immediate == ["AP"]


def test_body_that_raises_still_restores(make_rig: Any) -> None:
    rig = make_rig(ap=1)
    with (
        pytest.raises(RuntimeError, match="test body failed"),
        rig.conf.configured(PROFILE, "transparent"),
    ):
        assert rig.sim("AP") == 0 and rig.sim("DL") == "127.0.0.1"
        raise RuntimeError("test body failed")
    assert rig.sim("AP") == 1 and rig.module.mode == "api"
    assert rig.sim("DL") == "0.0.0.0" and rig.sim("IP") == 1


def test_restore_finds_a_mode_the_body_changed_behind_its_back(make_rig: Any) -> None:
    rig = make_rig(ap=1)
    with rig.conf.configured({"DL": "10.0.0.1"}, "api"):
        rig.module.api().set("AP", 2)  # the test switched to escaped API itself
    assert rig.sim("AP") == 1 and rig.sim("DL") == "0.0.0.0"


def test_escaped_api_round_trip(make_rig: Any) -> None:
    rig = make_rig(ap=1)
    report = rig.conf.apply({"DL": "example.com", "DE": 0x50}, "api-escaped")
    assert report.mode_before == "api" and report.mode_after == "api-escaped"
    assert rig.sim("AP") == 2
    # in AP=2 the module still answers us, framed with escapes
    assert rig.module.read(["DL", "DE"]) == {"DL": "example.com", "DE": 0x50}
    assert report.stats["command_mode_entries"] == 0


def test_persist_needs_permission_then_writes_flash_once(make_rig: Any) -> None:
    rig = make_rig(ap=1)
    with pytest.raises(ConfigureError, match="not allowed"):
        rig.conf.apply({"DL": "1.2.3.4"}, persist=True)
    assert rig.sim("DL") == "0.0.0.0"  # refused before anything was written

    rig2 = make_rig(ap=1, allow_nvm_write=True)
    report = rig2.conf.apply({"DL": "1.2.3.4"}, persist=True)
    assert report.written_to_nvm and rig2.module.stats.nvm_writes == 1
    assert rig2.sim_nvm().get("DL") == "1.2.3.4"
    again = rig2.conf.apply({"DL": "1.2.3.4"}, persist=True)
    assert not again.written_to_nvm and rig2.module.stats.nvm_writes == 1  # nothing changed


def test_a_read_back_mismatch_names_parameter_wanted_and_actual(make_rig: Any) -> None:
    rig = make_rig(ap=1)

    class StaleModule(Module):
        """A module whose DL write does not stick (what a refused value would look like)."""

        def write(self, values: dict[str, Any], *, apply: bool = True) -> None:
            super().write({k: v for k, v in values.items() if k != "DL"}, apply=apply)

    stale = StaleModule(rig.tap, mode="api")
    try:
        with pytest.raises(VerifyError) as err:
            Configurator(stale).apply({"DL": "10.1.1.1", "DE": 0x50})
    finally:
        stale.close()
    assert str(err.value) == "ATDL: wanted '10.1.1.1', module has '0.0.0.0' after AC"


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ({"ZZ": 1}, "unknown AT command 'ZZ'"),
        ({"MY": "1.2.3.4"}, "ATMY cannot be set"),
        ({"DE": "nope"}, "ATDE: 'nope' is not a hex number"),
        ({"AN": ""}, "ATAN: an empty value cannot be written"),
        ({"AP": 4}, "AP=4 is not a mode"),
    ],
)
def test_bad_profile_values_are_named(make_rig: Any, wanted: dict[str, Any], message: str) -> None:
    rig = make_rig(ap=1)
    with pytest.raises(ConfigureError, match=message.replace("$", r"\$")):
        rig.conf.apply(wanted)


def test_reset_by_fr_and_by_external_command(make_rig: Any) -> None:
    rig = make_rig(ap=1)
    rig.conf.apply({"DL": "10.9.9.9"})
    assert rig.conf.reset() == "api"  # FR, then the 0x8A power-up and the AP probe
    assert rig.sim("DL") == "0.0.0.0"  # not written to flash: gone after the reset
    assert rig.conf.reset(command="true") == "api"
    assert rig.module.stats.resets == 2
    with pytest.raises(ConfigureError, match=r"reset command 'false' exited with 1"):
        rig.conf.reset(command="false")


def test_reset_in_transparent_mode_comes_back_through_plus_plus_plus(make_rig: Any) -> None:
    rig = make_rig()
    assert rig.module.detect_mode() == "transparent"
    assert rig.conf.reset() == "transparent"
    assert rig.module.stats.resets == 1


def test_registration_wait_names_ai_then_succeeds(make_rig: Any) -> None:
    # AI 0xFF -> 0x22 after 0.1 s, then 0x22 for 3 s: the first wait must fall inside it
    # even when a loaded host is slow to open the port and probe the mode
    rig = make_rig(ap=1, registering_s=3.0)
    rig.module.detect_mode()
    with pytest.raises(NetworkNotReady, match=r"network not ready: AI=0x22 registering"):
        rig.conf.wait_registered(timeout=0.4, poll=0.1)
    took = rig.conf.wait_registered(timeout=10, poll=0.1)
    assert took < 5 and rig.module.read(["AI"]) == {"AI": 0}
