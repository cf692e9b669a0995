"""The kinds of device a run can test, one small class each (instead of if/elif on kind).

- `SimulatorDevice` (`--device sim[:PERSONALITY]`): the simulator's bench on a pty
  (harness/pytest_plugin/simrig.py), its local servers as targets and its PKI as files.
- `BenchDevice` (a serial path or a pyserial URL): a real module; targets and files from the
  profile; first bytes may take a cellular TLS handshake.
- `ReplayDevice` (`--device replay:DIR|FILE`): recorded cassettes served back on a pty, one
  per test; it sends no session traffic and is never "broken" (docs/design.md "Record and
  replay").

Each says how it is opened and closed, which targets and PKI files it has, how long a first
byte may take, and what it does around a test. `start` picks the class for a `DeviceSpec`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness import capture, variants
from harness.device.clock import REAL, Clock, WarpClock
from harness.device.configure import KnownConfigurator
from harness.device.errors import ConfigureError, DeviceError, NetworkNotReady
from harness.device.guard import short_guard
from harness.device.module import CommandTiming, Module
from harness.device.transport import open_device
from harness.profiles import Profile
from harness.pytest_plugin import port as ports
from harness.pytest_plugin.faults import NO_RESET
from harness.pytest_plugin.matrix import REPORTS
from harness.pytest_plugin.port import Port
from harness.pytest_plugin.session import DeviceKind, DeviceSpec, HilSession, ModuleBroken
from harness.replay import cassette
from harness.servers import DEFAULT_BODY

# How long a test waits for the first byte of a response before it asks the module (CI)
# what happened. The simulator says what its timing needs (`SimRig.first_byte_timeout`); a
# cellular TLS handshake on a bench takes seconds.
FIRST_BYTE_HARDWARE = 30.0
# The server's own leaf and intermediate: the local PKI's on the simulator; on a bench the
# profile's `leaf:` / `intermediate:` files, else fetched from the target (harness/chain.py).
NEEDS_LOCAL_PKI = frozenset({"server_cert", "intermediate_ca"})
SERVER_FILES = {"server_cert": "leaf", "intermediate_ca": "intermediate"}
SIM_FILES = ("root_ca", "server_cert", "intermediate_ca", "wrong_ca", "client_cert", "client_key",
             "client_key_pkcs8", "client_cert_v1")
# Replay. A cassette does not check silence, so the guard before `+++` can be short; a
# recorded answer comes as soon as the host's bytes match, so a first byte that has not come
# in this long never will (A-REPLAY-HOST-TIMING).
REPLAY_GUARD_TIME = 0.01
REPLAY_FIRST_BYTE = 0.5
REPLAY_FOLD_POLLS = True  # runs of identical polls (AI, CI) play once (harness.replay.device)
REPLAY_ESCAPES = True  # `+++` re-entries decided by the harness's CT clock (A-REPLAY-ESCAPES)
MISMATCH_SHOWN = pytest.StashKey[bool]()


class Device:
    """What differs between kinds of module; the `Port` holds one."""

    source: ClassVar[cassette.Source] = "hardware"  # what --record stamps on its cassettes
    isolated: ClassVar[bool] = False  # each test alone, in its own cassette
    power_switch: ClassVar[bool] = False  # `power_cycle` works: the profile may say `reset: power`
    clock: Clock = REAL  # the one clock of the device layer's waits

    def __init__(
        self,
        spec: DeviceSpec,
        personality: str | None,
        first_byte_timeout: float,
        urls: dict[str, str],
        files: dict[str, bytes | None],
        missing: dict[str, str] | None = None,
        expected_body: bytes | None = None,
    ) -> None:
        self.spec = spec
        self.personality = personality
        self.first_byte_timeout = first_byte_timeout
        self.urls = urls
        self.files = files  # PKI name -> bytes for the TLS variants
        self.missing = missing or {}  # PKI name -> why it is absent
        self.expected_body = expected_body  # what the local servers answer

    @property
    def crashed(self) -> str | None:
        """Why the module went silent by a fault of its own host (a simulator crash)."""
        return None

    @property
    def diverged(self) -> str | None:
        """Why a replay stopped answering (the host sent what the cassette does not hold)."""
        return None

    def stop_reason(self, text: str) -> str:
        """The device's own failure when it has one, else `text`: a simulator crash is not
        blamed on the bench (issue 10, defect 7)."""
        return self.crashed or text

    def stats(self) -> dict[str, float] | None:
        """The simulator's account of imposed time so far; None for a real module."""
        return None

    def open(self, session: HilSession, profile: Profile, baud: int) -> Port:
        raise NotImplementedError

    def close(self) -> None:
        """Stop what the device runs on this host (nothing for a real module)."""

    def begin_test(self, port: Port, nodeid: str) -> None:
        """Before a test's capture starts (replay: load its cassette)."""

    def end_test(self, port: Port, item: pytest.Item) -> None:
        """After a test's capture ended (replay: the verdict)."""

    def configure_failed(self, mode: str, exc: Exception) -> Exception:
        """What a test raises when the module could not be configured for it."""
        return ModuleBroken(self.stop_reason(f"configuring {self.spec} for {mode}: {exc}"))

    def faults_unsupported(self) -> str | None:
        """Why named faults cannot be put on this module (None: they can)."""
        return f"named faults need the simulator; --device {self.spec.raw} is not one"

    def set_faults(self, faults: list[str]) -> None:
        """Put named faults (harness.sim.core.faults) on the module for this test."""
        raise NotImplementedError(self.faults_unsupported())

    def clear_faults(self) -> None:
        """Take the faults off (a frozen module is power-cycled, a held one registers)."""

    def power_cycle(self) -> None:
        """Switch the module off and on, where this device has a switch."""
        raise NotImplementedError(f"--device {self.spec.raw} has no power switch")


def set_power_switch(configurator: Any, reset: Any, power_cycle: Any) -> None:
    """Every reset of the run by the profile's power switch, FR only with `reset: at`
    (A-BENCH-RECOVER): `power` is the device's own (`power_cycle`: the simulator's, a
    labgrid place's driver, A-LG-RESET-POWER), `command` the shell command, bounded by its
    `timeout`; `none` refuses any reset with one reason, the module untouched."""
    if reset.method == "none":
        configurator.reset_forbidden = NO_RESET
    elif reset.method == "power":
        configurator.reset_with = power_cycle
    elif reset.method == "command":
        configurator.reset_with = shlex.join(reset.command)
        configurator.reset_timeout = reset.timeout


class _LiveDevice(Device):
    """A module that answers the session's own traffic: opened once, VR/HV read, snapshot
    taken, the APN written, registration waited for."""

    path: str
    guard_time: float | None = None
    timing: CommandTiming

    def port_baud(self, baud: int) -> int:
        return baud

    def attach_clock(self, tap: Any) -> None:
        """Wire a warping clock to the far end (the simulator's server), once the tap is open."""

    def open(self, session: HilSession, profile: Profile, baud: int) -> Port:
        spec = self.spec
        cap = ports.session_capture(spec, profile, session, self.personality)
        try:
            tap = open_device(self.path, self.port_baud(baud), capture=cap, clock=self.clock)
            self.attach_clock(tap)
        except DeviceError as exc:
            self.close()
            raise ModuleBroken(ports.kept(cap, session, self.stop_reason(str(exc)))) from None
        module = Module(tap, guard_time=self.guard_time, **self.timing)
        configurator = KnownConfigurator(module, allow_nvm_write=session.allow_nvm_write)
        set_power_switch(configurator, profile.device.reset, self.power_cycle)
        port = Port(self, tap, module, configurator, session_capture=cap)
        try:
            port.firmware = ports.read_firmware(module)
            port.family = session.set_firmware(
                spec, port.firmware.get("VR"), port.firmware.get("HV")
            )
            wanted_net = ports.network(profile)
            guard = short_guard(module.time_scale, enabled=profile.device.short_guard_time)
            names = sorted(
                {*profile.baseline, *ports.TEST_PARAMS, *(n for n in wanted_net if n == "AN"),
                 *guard}
            )  # fmt: skip
            port.snapshot = port.configurator.snapshot(names)
            # the APN and the short GT/CT in the same entry as the snapshot (A-SHORT-GT)
            port.test_snapshot = ports.apply_network(port, {**wanted_net, **guard})
            if session.record_dir is None:  # back after a reset too (a cassette: its own)
                port.configurator.run_settings = dict(guard)
            # after an APN change the module attaches again: this wait covers it (L-TG)
            port.configurator.wait_registered(profile.network.registration_timeout)
            if session.record_dir is not None:
                port.recording = ports.recording(port, profile, session.record_dir, self.timing)
                port.module.close()  # every test starts out of command mode, no API reader
        except (DeviceError, ConfigureError) as exc:
            why = str(exc)
            if not isinstance(exc, NetworkNotReady) and not why.startswith(f"{tap.spec}:"):
                why = f"{spec}: {why}"
            if port.snapshot is not None and port.test_snapshot is not port.snapshot:
                left = ports.restore_loudly(port, port.snapshot, "after the failed open")
                why += f"; {left}" if left else ""
            cap.note("error", message=why)
            port.close()
            raise ModuleBroken(ports.kept(cap, session, self.stop_reason(why))) from None
        return port


class SimulatorDevice(_LiveDevice):
    """The simulator's bench on a pty: its servers are the targets, its PKI the files."""

    source: ClassVar[cassette.Source] = "simulator"
    power_switch: ClassVar[bool] = True

    def __init__(self, spec: DeviceSpec, personality: str | None, rig: Any) -> None:
        files: dict[str, bytes | None] = {name: rig.pki.read(name) for name in SIM_FILES}
        super().__init__(
            spec, personality, rig.first_byte_timeout, dict(rig.urls), files,
            expected_body=DEFAULT_BODY,
        )  # fmt: skip
        self.rig = rig  # harness.pytest_plugin.simrig.SimRig
        self.base_faults: list[str] = []  # the profile's `device.faults`
        self.path = rig.path
        self.guard_time = rig.guard_time
        self.timing = rig.command_timing

    @classmethod
    def start(
        cls, spec: DeviceSpec, profile: Profile, session: HilSession, workdir: Path, timing: str,
        *, warp: bool = False,
    ) -> SimulatorDevice:
        from harness.pytest_plugin.simrig import start_rig

        personality = session.personality(spec)
        clock = WarpClock() if warp and timing == "fast" else None
        rig = start_rig(
            personality or "cat1-3100C", workdir, timing=timing,
            clock=clock.now if clock else None,
        )  # fmt: skip
        device = cls(spec, personality, rig)
        if clock is not None:
            device.clock = clock
        device.base_faults = list(profile.device.faults)
        if device.base_faults:  # the profile's faults, from power-up on
            rig.server.call(lambda m: m.set_faults(device.base_faults, 0.0))
        return device

    def port_baud(self, baud: int) -> int:
        return self.rig.baud  # the simulated bench's module is at the rig's rate (A-SIM-BD)

    def attach_clock(self, tap: Any) -> None:
        """Fast timing with `--clock warp`: the rig's server runs on a `WarpClock` the tap
        reads too; it skips waits while the module and its network are quiet (A-CLOCK-WARP).
        Realistic timing keeps real time (its server never says it is quiet: UART pacing)."""
        if isinstance(self.clock, WarpClock):
            server = self.rig.server
            self.clock.attach(server.quiet, lambda: (tap.sent, tap.received), server.nudge)

    @property
    def crashed(self) -> str | None:
        return self.rig.failure or None

    def stats(self) -> dict[str, float] | None:
        return self.rig.stats()

    def close(self) -> None:
        self.rig.close()

    def faults_unsupported(self) -> str | None:
        return None

    def set_faults(self, faults: list[str]) -> None:
        server = self.rig.server
        server.call(lambda m: m.set_faults(faults, server.sim_now()))

    def clear_faults(self) -> None:
        """Back to the profile's own faults (none, mostly)."""
        server = self.rig.server
        server.call(lambda m: m.clear_faults(server.sim_now()))
        if self.base_faults:
            self.set_faults(self.base_faults)

    def power_cycle(self) -> None:
        server = self.rig.server
        server.call(lambda m: m.power_cycle(server.sim_now()))


class BenchDevice(_LiveDevice):
    """A real module on a serial path or a pyserial URL: the profile's targets and files."""

    @classmethod
    def start(
        cls, spec: DeviceSpec, profile: Profile, session: HilSession, workdir: Path, timing: str,
        *, warp: bool = False,
    ) -> BenchDevice:
        """A bench keeps real time whatever `warp` says."""
        if profile.device.faults:
            raise ModuleBroken(f"{spec}: the profile's device.faults "
                               f"({', '.join(profile.device.faults)}) need the simulator "
                               "(--device sim); a real module's faults are its own")
        if profile.device.reset.method == "power" and not cls.power_switch:
            raise ModuleBroken(f"{spec}: the profile's `reset: power` needs a power switch: "
                               "a labgrid place's (--device labgrid:PLACE) or the simulator's")
        urls = {**profile.fault_targets.urls(),  # the resilience suite's host-side faults
                **{name: t.url for name, t in profile.targets.items()}}
        files, missing = _hardware_files(profile, workdir, session.tls_variants)
        device = cls(
            spec, profile.device.personality,
            profile.device.first_byte_timeout or FIRST_BYTE_HARDWARE,  # A-FIRST-BYTE-PROFILE
            urls, files, missing,
        )
        device.path = spec.target or spec.raw
        device.timing = {}
        return device


class ReplayDevice(Device):
    """A replay device on a pty in place of the module (docs/design.md "Record and replay").
    No cassette holds the session's own traffic (registration, VR/HV, snapshot, restore),
    so none is sent: firmware, personality, targets, PKI and CT come from the recording."""

    isolated: ClassVar[bool] = True

    def __init__(
        self, spec: DeviceSpec, deck: cassette.Deck, info: Any, urls: dict[str, str],
        clock: Clock = REAL,
    ) -> None:
        from harness.replay.device import ReplayServer
        from harness.replay.matchers import Matchers

        rec = info.recording or cassette.Recording("hardware")
        super().__init__(
            spec, rec.personality, REPLAY_FIRST_BYTE, dict(rec.urls) or urls,
            cassette.load_pki(deck.directory, rec.pki),
            expected_body=DEFAULT_BODY if rec.source == "simulator" else None,
        )  # fmt: skip
        self.deck = deck
        self.recording = rec
        self.firmware = dict(info.firmware)
        self.clock = clock
        self.server = ReplayServer(
            fold_polls=REPLAY_FOLD_POLLS, matchers=Matchers(escapes=REPLAY_ESCAPES),
            clock=self.clock.now,
        )  # fmt: skip

    @classmethod
    def start(
        cls, spec: DeviceSpec, profile: Profile, session: HilSession, workdir: Path, timing: str,
        *, warp: bool = False,
    ) -> ReplayDevice:
        deck = cassette.Deck(spec.target or "")
        try:
            info = deck.first_info()
        except (OSError, capture.CaptureError) as exc:
            raise ModuleBroken(f"{spec}: {exc}") from None
        urls = {name: t.url for name, t in profile.targets.items()}
        return cls(spec, deck, info, urls, clock=WarpClock() if warp else REAL)

    def open(self, session: HilSession, profile: Profile, baud: int) -> Port:
        try:
            tap = open_device(self.server.start_pty(), session.baud, clock=self.clock)
        except (OSError, DeviceError) as exc:
            self.server.stop()
            raise ModuleBroken(f"{self.spec}: {exc}") from None
        if isinstance(self.clock, WarpClock):  # the replay and the tap share it (A-CLOCK-WARP)
            self.clock.attach(
                self.server.quiet, lambda: (tap.sent, tap.received), self.server.nudge
            )
        timing: CommandTiming = {"max_guard_time": REPLAY_GUARD_TIME}
        if self.recording.command_timeout is not None:
            timing["command_timeout"] = self.recording.command_timeout
        module = Module(tap, guard_time=REPLAY_GUARD_TIME, **timing)
        configurator = KnownConfigurator(module, allow_nvm_write=session.allow_nvm_write)
        port = Port(self, tap, module, configurator, firmware=dict(self.firmware))
        port.family = session.set_firmware(
            self.spec, port.firmware.get("VR"), port.firmware.get("HV")
        )
        return port

    @property
    def diverged(self) -> str | None:
        return self.server.failure or None

    def close(self) -> None:
        self.server.stop()

    def configure_failed(self, mode: str, exc: Exception) -> Exception:
        return DeviceError(f"configuring for {mode}: {exc}")  # this test's problem, not broken

    def begin_test(self, port: Port, nodeid: str) -> None:
        """Serve this test's cassette (none: skip with the reason; a bad one fails naming
        file:line); its recording says which personality and PKI the test ran with."""
        from harness.replay import standin
        from harness.replay.player import ReplayError

        path, why = self.deck.for_test(nodeid)
        if path is None:
            pytest.skip(why)
        bad: str | None = None
        try:
            rec = cassette.read_info(path).recording
            # a key kept as SHA-256 only is played as a stand-in (A-REPLAY-STANDIN-KEY)
            files, missing, stand_ins = standin.cassette_files(path, rec.pki if rec else None)
            self.server.load(path, stand_ins)
        except (capture.CaptureError, ReplayError) as exc:
            bad = str(exc)
        if bad is not None:
            pytest.fail(f"cannot replay: {bad}", pytrace=False)
        if rec is not None:
            self.personality = rec.personality
            self.files, self.missing = files, missing

    def end_test(self, port: Port, item: pytest.Item) -> None:
        """The verdict: a mismatch fails the test with the readable diff (unless the test's
        own failure already shows it); a test skipped after its cassette was loaded is not
        judged."""
        from harness.replay.player import ReplayMismatch

        verdict = self.server.finish()
        reports = item.stash.get(REPORTS, {})
        if verdict.ok or item.stash.get(MISMATCH_SHOWN, False):
            return
        if any(r.skipped for r in reports.values()):
            return
        raise ReplayMismatch(verdict.report)


class _LabgridKind:
    """`labgrid:PLACE`: its module is imported only by a run that names a place."""

    @staticmethod
    def start(*args: Any, **kwargs: Any) -> Device:
        from harness.pytest_plugin.labgrid_place import LabgridDevice

        return LabgridDevice.start(*args, **kwargs)


KINDS: dict[DeviceKind, Any] = {
    DeviceKind.SIM: SimulatorDevice,
    DeviceKind.REPLAY: ReplayDevice,
    DeviceKind.SERIAL: BenchDevice,
    DeviceKind.URL: BenchDevice,
    DeviceKind.LABGRID: _LabgridKind,
}


def open_port(
    spec: DeviceSpec,
    profile: Profile,
    baud: int,
    session: HilSession,
    workdir: Path,
    sim_timing: str = "fast",
    *,
    clock: str = "warp",
) -> Port:
    """Start the device of `spec`'s kind and open it: the run's port. `clock="warp"` lets
    the replay device and the fast simulator skip waits (A-CLOCK-WARP); a bench never does."""
    device: Device = KINDS[spec.kind].start(
        spec, profile, session, workdir, sim_timing, warp=clock == "warp"
    )
    return device.open(session, profile, baud)


def replay_failure(config: pytest.Config) -> str | None:
    """Why a replay device of this run stopped answering, if one did."""
    for port in ports.ports(config).values():
        if why := port.device.diverged:
            return why
    return None


def _hardware_files(
    profile: Profile, workdir: Path, run_variants: tuple[str, ...] = ()
) -> tuple[dict[str, bytes | None], dict[str, str]]:
    """What a bench has for the TLS variants, and why a file is absent: the profile's CA and
    client files, a freshly made unrelated root as the wrong CA, and the server's own leaf
    and intermediate from the https target's `leaf:` / `intermediate:` files or, when the
    run has a variant that needs them, from the chain the server presents to this host."""
    from harness.servers import Pki

    https = profile.targets.get("https")
    mutual = profile.targets.get("mutual") or https
    files: dict[str, bytes | None] = dict.fromkeys(NEEDS_LOCAL_PKI)
    missing: dict[str, str] = {}
    files["root_ca"] = https.ca.read_bytes() if https and https.ca else None
    cert = mutual.client_cert if mutual else None
    key = mutual.client_key if mutual else None
    files["client_cert"] = cert.read_bytes() if cert else None
    cert_v1 = mutual.client_cert_v1 if mutual else None  # for LTE-M (D-TLS-101)
    files["client_cert_v1"] = cert_v1.read_bytes() if cert_v1 else None
    needed = {u.pki for v in run_variants for u in variants.get(v).uploads}
    if cert_v1 is None and "client_cert_v1" in needed:
        missing["client_cert_v1"] = ("the profile names no targets.mutual.client_cert_v1 (the "
                                     "client key's certificate as X.509 v1, D-TLS-101)")
    files["client_key"] = key.read_bytes() if key else None
    files["wrong_ca"] = Pki.create(workdir / "wrong-pki").read("wrong_ca")
    needed &= NEEDS_LOCAL_PKI
    for pki_name, key_name in SERVER_FILES.items():
        given = getattr(https, key_name) if https else None
        files[pki_name] = given.read_bytes() if given else None
    fetch = sorted(n for n in needed if files[n] is None)
    if fetch and https is None:
        missing.update(dict.fromkeys(fetch, "the profile names no https target"))
    elif fetch and https is not None:
        from harness import chain

        try:
            presented = chain.fetch_url(https.url)
        except chain.ChainError as exc:
            missing.update(dict.fromkeys(fetch, str(exc)))
        else:
            for name in fetch:
                which = SERVER_FILES[name]
                files[name] = presented.pem(which)
                if files[name] is None:
                    missing[name] = f"{https.url} presented no {which}: set targets.https.{which}"
    return files, missing


