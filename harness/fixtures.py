"""The fixtures that talk to a module: the port, the per-test capture, the configured module,
and the HTTP/HTTPS targets. Registered by `harness.plugin` (its `FIXTURE_MODULES`).

One port per device for the whole run: opened once, the module's mode found once, the
registration waited for once. Each test then applies only what differs from the module's
current state (its mode, its TLS profile, its destination) and uploads only certificates
whose hash differs, so a run costs few AT round trips. After a test that failed, the module
is restored to the snapshot taken when the port was opened, so the next test starts from a
known state whatever the failed one left behind; at the end of the run it is restored too.

Per test, the harness's own work (command-mode entries, AT round trips, mode probes, resets,
NVM writes, certificate uploads done and skipped by hash), the test's wall time and, on the
simulator, the time the module and network imposed meanwhile (`SimServer.stats()`) go as one
JSON line to `<reports-dir>/stats.jsonl` and to the test's Allure result
(`benchmarks/suite_speed.py` reads them).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import allure
import pytest

from harness import atomicio, capture, report, restores, variants
from harness.budget import session_wait
from harness.device.command import DEFAULT_CT
from harness.device.configure import KnownConfigurator, Snapshot, network_params
from harness.device.errors import ConfigureError, DeviceError, NetworkNotReady
from harness.device.files import Files, remote_path, sha256_hex
from harness.device.http import Http, HttpResult, parse_url
from harness.device.leftovers import close_leftover_connections
from harness.device.module import Module, Stats
from harness.device.transport import Tap, open_device
from harness.profiles import Profile
from harness.replay import cassette
from harness.servers import DEFAULT_BODY
from harness.session import DeviceKind, DeviceSpec, HilSession, ModuleBroken

# How long a test waits for the first byte of a response before it asks the module (CI)
# what happened. The simulator says what its timing needs (`SimRig.first_byte_timeout`); a
# cellular TLS handshake on a bench takes seconds.
FIRST_BYTE_HARDWARE = 30.0
# Parameters a test may change beyond the profile's baseline; snapshot and restore them.
TEST_PARAMS = ("IP", "DL", "DE", "$0")
# The server's own leaf and intermediate: the local PKI's on the simulator; on a bench the
# profile's `leaf:` / `intermediate:` files, else fetched from the target (harness/chain.py).
NEEDS_LOCAL_PKI = frozenset({"server_cert", "intermediate_ca"})
SERVER_FILES = {"server_cert": "leaf", "intermediate_ca": "intermediate"}
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_ATTACH_CAPTURE = pytest.StashKey[Callable[[], None]]()
# Replay (`--device replay:DIR|FILE`). A cassette does not check silence, so the guard
# before `+++` can be short; a recorded answer comes as soon as the host's bytes match, so
# a first byte that has not come in this long never will (A-REPLAY-HOST-TIMING).
REPLAY_GUARD_TIME = 0.01
REPLAY_FIRST_BYTE = 0.5
REPLAY_FOLD_POLLS = True  # runs of identical polls (AI, CI) play once (harness.replay.device)
REPLAY_ESCAPES = True  # `+++` re-entries decided by the harness's CT clock (A-REPLAY-ESCAPES)
_MISMATCH_SHOWN = pytest.StashKey[bool]()
STATS_FILE = "stats.jsonl"  # in --reports-dir: one JSON object per test
# Keys of the simulator's account copied into a test's stats line (all real seconds or counts).
SIM_KEYS = (
    "imposed_wall_s", "imposed_s", "uart_s", "guard_time_s", "registration_s", "reset_s",
    "network_delay_s", "tls_handshake_delay_s", "network_wait_s", "escapes", "resets",
    "bytes_to_module", "bytes_to_host", "connections_opened", "connections_failed",
)  # fmt: skip
# The harness's work per test: configure's `Stats` and the certificate uploads.
COUNT_KEYS = (*Stats().as_dict(), "uploads", "uploads_skipped", "uploads_known", "upload_bytes")
_PORTS = pytest.StashKey[dict[str, "Port"]]()
_BEFORE = pytest.StashKey["_Before"]()
_STATS_OUT = pytest.StashKey[Any]()


@dataclass
class Port:
    """One opened module for the run: how to reach it and what is known about it."""

    spec: DeviceSpec
    tap: Tap
    module: Module
    configurator: KnownConfigurator
    personality: str | None
    first_byte_timeout: float
    urls: dict[str, str]
    files: dict[str, bytes | None]  # PKI name -> bytes for the TLS variants
    missing: dict[str, str] = field(default_factory=dict)  # PKI name -> why it is absent
    snapshot: Any = None  # the module as found: the end-of-run restore puts it back
    test_snapshot: Any = None  # ... with the run's own settings (the APN): after a failed test
    session_capture: capture.CaptureWriter | None = None  # open, APN, restore: no test's
    rig: Any = None  # harness.simrig.SimRig for the simulator
    expected_body: bytes | None = None  # what the local servers answer (simulator only)
    firmware: dict[str, str] = field(default_factory=dict)
    family: Any = None  # harness.xbee.firmware.Family picked from VR/HV or the profile
    # uploads done; skipped by the module's hash (ATFS HASH); skipped as known this run
    uploads: dict[str, int] = field(
        default_factory=lambda: {
            "uploads": 0, "uploads_skipped": 0, "uploads_known": 0, "upload_bytes": 0
        }
    )  # fmt: skip
    # Files this run put on the module or found there by hash: path -> SHA-256. A test's
    # certificates whose hash is known are not checked again (no ATFS HASH, no command mode).
    files_on_module: dict[str, str] = field(default_factory=dict)
    # record and replay: the replay device and its cassettes, or the stamp for --record
    replay: Any = None  # harness.replay.device.ReplayServer
    deck: cassette.Deck | None = None
    recording: cassette.Recording | None = None

    def forget(self) -> None:
        """Drop what the harness believes about the module (after a failed test)."""
        self.configurator.forget()
        self.files_on_module.clear()

    def counts(self) -> dict[str, int]:
        """What the harness did to this module so far (grows; subtract for a test's share)."""
        return {**self.module.stats.as_dict(), **self.uploads}

    def sim_stats(self) -> dict[str, float] | None:
        """The simulator's account of imposed time so far, or None for a real module."""
        return self.rig.stats() if self.rig is not None else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.module.close()
        with contextlib.suppress(Exception):
            self.tap.close()
        if self.session_capture is not None:
            self.session_capture.close()
        if self.rig is not None:
            self.rig.close()
        if self.replay is not None:
            self.replay.stop()


@dataclass
class XBee:
    """The module as a test sees it: configured for its mode and TLS variant."""

    port: Port
    mode: str
    variant: variants.TlsVariant | None
    http: Http
    record_codes: Callable[..., list[str]]
    session: HilSession | None = None
    item: Any = None  # the pytest item (the verdict goes to its stash)

    @property
    def family(self) -> Any:
        """The module's firmware family (harness.xbee.firmware), or None when unknown."""
        return self.port.family

    def check(self, result: HttpResult, expect: str | None = None) -> Any:
        """Judge a result against the test's TLS variant, with the target's control
        (harness.controls.check): passes, fails, or raises `Inconclusive`."""
        from harness import controls

        return controls.check(self, result, expect)

    @property
    def code_kind(self) -> str:
        """Where this mode reports a failure: CI in transparent mode (D-TRANSP), the 0x89
        TX status for 0x20/0x23 frames in API mode (D-89)."""
        return "ci" if self.mode == "transparent" else "tx_status"

    def get(self, url: str, **kw: Any) -> HttpResult:
        return self.request("GET", url, **kw)

    def request(self, method: str, url: str, **kw: Any) -> HttpResult:
        """One HTTP request through the module; its codes go to the report and the matrix.
        In transparent mode the module's destination (IP, DL, DE) is set from the URL first."""
        target = parse_url(url)
        if self.mode == "transparent":
            self.port.configurator.apply(
                {"IP": 4 if target.tls else 1, "DL": target.host, "DE": target.port}
            )
        kw.setdefault("first_byte_timeout", self.port.first_byte_timeout)
        kw.setdefault("read_ci", self.mode == "transparent")
        record = kw.pop("record", True)  # False: a control's request, not this test's codes
        result = self.http.request(method, url, **kw)
        title = f"HTTP {method} {url}" if record else f"control: HTTP {method} {url}"
        report.attach_text(report.http_text(result), title)
        if record:
            self.record_codes(result)  # Allure steps and parameters, the matrix cell
        return result

    def expected_codes(self, reason: str) -> set[int]:
        """The codes this module's firmware family gives for a failure reason, in this mode
        (harness.xbee.firmware). Empty when the firmware is not known: judge with
        `check`, which falls back to reason families."""
        if self.port.family is None:
            return set()
        return {self.port.family.code(reason, self.code_kind)}


# ----- session: the port ---------------------------------------------------------------------


def _open_port(
    spec: DeviceSpec,
    profile: Profile,
    baud: int,
    session: HilSession,
    workdir: Path,
    sim_timing: str = "fast",
) -> Port:
    rig = None
    personality = profile.device.personality
    if spec.kind is DeviceKind.SIM:
        from harness.simrig import start_rig

        personality = session.personality(spec)
        rig = start_rig(personality or "cat1-3100C", workdir, timing=sim_timing)
        path, guard, first = rig.path, rig.guard_time, rig.first_byte_timeout
        baud = rig.baud  # the simulated bench's module is at the rig's rate (A-SIM-BD)
        timing = rig.command_timing
        urls = dict(rig.urls)
        files: dict[str, bytes | None] = {
            name: rig.pki.read(name)
            for name in ("root_ca", "server_cert", "intermediate_ca", "wrong_ca", "client_cert",
                         "client_key")
        }  # fmt: skip
    elif spec.kind is DeviceKind.REPLAY:
        return _open_replay(spec, profile, session)
    else:
        path, guard = spec.target or spec.raw, None
        first = profile.device.first_byte_timeout or FIRST_BYTE_HARDWARE  # A-FIRST-BYTE-PROFILE
        timing = {}
        urls = {name: t.url for name, t in profile.targets.items()}
        files, missing = _hardware_files(profile, workdir, session.tls_variants)
    expected_body = DEFAULT_BODY if rig is not None else None
    cap = _session_capture(spec, profile, session, personality)
    try:
        tap = open_device(path, baud, capture=cap)
    except DeviceError as exc:
        if rig is not None:
            rig.close()
        raise ModuleBroken(_kept(cap, session, _stop_reason(rig, str(exc)))) from None
    module = Module(tap, guard_time=guard, **timing)
    configurator = KnownConfigurator(module, allow_nvm_write=session.allow_nvm_write)
    port = Port(spec, tap, module, configurator, personality, first, urls, files, rig=rig,
                expected_body=expected_body, session_capture=cap)  # fmt: skip
    if rig is None:
        port.missing = missing
    try:
        port.firmware = _firmware(module)
        port.family = session.set_firmware(spec, port.firmware.get("VR"), port.firmware.get("HV"))
        wanted_net = _network(profile)
        names = sorted({*profile.baseline, *TEST_PARAMS, *(n for n in wanted_net if n == "AN")})
        port.snapshot = port.configurator.snapshot(names)
        port.test_snapshot = _apply_network(port, wanted_net)
        # after an APN change the module attaches again: this wait covers it (L-TG)
        port.configurator.wait_registered(profile.network.registration_timeout)
        if session.record_dir is not None:
            port.recording = _recording(port, profile, session.record_dir, timing)
            port.module.close()  # every test starts out of command mode, no API reader
    except (DeviceError, ConfigureError) as exc:
        why = str(exc)
        if not isinstance(exc, NetworkNotReady) and not why.startswith(f"{tap.spec}:"):
            why = f"{spec}: {why}"
        if port.snapshot is not None and port.test_snapshot is not port.snapshot:
            left = _restore_loudly(port, port.snapshot, "after the failed open")
            why += f"; {left}" if left else ""
        cap.note("error", message=why)
        port.close()
        raise ModuleBroken(_kept(cap, session, _stop_reason(rig, why))) from None
    return port


def _session_capture(
    spec: DeviceSpec, profile: Profile, session: HilSession, personality: str | None
) -> capture.CaptureWriter:
    """The run's own wire traffic (first contact, VR/HV, snapshot, APN, registration, the
    end-of-run restore) in `<reports-dir>/captures/session-<device>.jsonl`: no test owns it,
    and a failed first contact must leave its bytes behind."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.label)
    path = session.reports_dir / "captures" / f"session-{name}.jsonl"
    return capture.CaptureWriter(
        path, test="(session)", device=str(spec), personality=personality,
        profile=profile.label,
    )  # fmt: skip


def _kept(cap: capture.CaptureWriter, session: HilSession, why: str) -> str:
    """Close the failed open's capture, attach it, and name it in the one-line reason."""
    cap.note("error", message=why)
    cap.close()
    with contextlib.suppress(Exception):  # the report is a courtesy, never a failure
        report.attach_capture(
            cap.path,
            lambda: "\n".join(capture.render(capture.read_capture(cap.path))),
            name="session capture",
            secrets=session.secrets(),
        )
    return f"{why} (wire capture: {cap.path})"


def _network(profile: Profile) -> dict[str, str]:
    """The profile's `network:` APN settings as AT parameters (AN, CU, CW)."""
    net = profile.network
    user, password = (s.get_secret_value() if s else None for s in (net.apn_user, net.apn_password))
    return network_params(net.apn, user, password)


def _apply_network(port: Port, wanted: dict[str, str]) -> Snapshot:
    """Write the APN like any other parameter (only what differs, AN read back; CU/CW are
    write-only, L-TG) and return the snapshot a failed test is restored to: the module as
    found, with the run's APN."""
    snap: Snapshot = port.snapshot
    if not wanted:
        return snap
    actual = {k: v for k, v in snap.values.items() if k in wanted}
    port.configurator.apply(wanted, actual=actual)
    readable = {k: v for k, v in wanted.items() if k == "AN"}
    return Snapshot(snap.mode, {**snap.values, **readable})


def _restore_loudly(port: Port, snap: Snapshot, when: str) -> str:
    """A checked restore; '' when the module is back, else the one line that says what
    was left changed (also noted in the capture)."""
    result = port.configurator.restore_checked(snap)
    if result.ok:
        return ""
    line = f"xbee-hil: {result.line(str(port.spec))} ({when})"
    with contextlib.suppress(Exception):
        port.tap.note("restore", failed=line)
    return line


def _stop_reason(rig: Any, text: str) -> str:
    """The simulator's own failure when it has one (it made the module silent), else
    `text`: a simulator crash is not blamed on the bench (issue 10, defect 7)."""
    return (getattr(rig, "failure", None) if rig is not None else None) or text


def _open_replay(spec: DeviceSpec, profile: Profile, session: HilSession) -> Port:
    """A replay device on a pty in place of the module (docs/design.md "Record and replay").
    No cassette holds the session's own traffic (registration, VR/HV, snapshot, restore),
    so none is sent: firmware, personality, targets, PKI and CT come from the recording."""
    from harness.replay.device import ReplayServer
    from harness.replay.matchers import Matchers

    deck = cassette.Deck(spec.target or "")
    try:
        info = deck.first_info()
    except (OSError, capture.CaptureError) as exc:
        raise ModuleBroken(f"{spec}: {exc}") from None
    rec = info.recording or cassette.Recording("hardware")
    server = ReplayServer(fold_polls=REPLAY_FOLD_POLLS, matchers=Matchers(escapes=REPLAY_ESCAPES))
    try:
        tap = open_device(server.start_pty(), session.baud)
    except (OSError, DeviceError) as exc:
        server.stop()
        raise ModuleBroken(f"{spec}: {exc}") from None
    timing = {"max_guard_time": REPLAY_GUARD_TIME}
    if rec.command_timeout is not None:
        timing["command_timeout"] = rec.command_timeout
    module = Module(tap, guard_time=REPLAY_GUARD_TIME, **timing)
    configurator = KnownConfigurator(module, allow_nvm_write=session.allow_nvm_write)
    urls = dict(rec.urls) or {name: t.url for name, t in profile.targets.items()}
    port = Port(spec, tap, module, configurator, rec.personality, REPLAY_FIRST_BYTE, urls,
                cassette.load_pki(deck.directory, rec.pki), replay=server, deck=deck,
                expected_body=DEFAULT_BODY if rec.source == "simulator" else None,
                firmware=dict(info.firmware))  # fmt: skip
    port.family = session.set_firmware(spec, port.firmware.get("VR"), port.firmware.get("HV"))
    return port


def _recording(
    port: Port, profile: Profile, directory: Path, timing: dict[str, float]
) -> cassette.Recording:
    """The stamp of this run's cassettes; the PKI the uploads come from goes next to them."""
    source: cassette.Source = "simulator" if port.rig is not None else "hardware"
    return cassette.Recording(
        source,
        firmware=dict(port.firmware),
        personality=port.personality,
        device=str(port.spec),
        profile=profile.label,
        profile_sha256=cassette.profile_digest(profile.source) if profile.source else None,
        urls=dict(port.urls),
        pki=cassette.save_pki(directory, port.files, source),
        command_timeout=timing.get("command_timeout", DEFAULT_CT),
    )


def _firmware(module: Module) -> dict[str, str]:
    values = module.read(["VR", "HV"])
    return {k: f"{v:X}" if isinstance(v, int) else str(v) for k, v in values.items()}


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
    files["client_key"] = key.read_bytes() if key else None
    files["wrong_ca"] = Pki.create(workdir / "wrong-pki").read("wrong_ca")
    needed = {u.pki for v in run_variants for u in variants.get(v).uploads} & NEEDS_LOCAL_PKI
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


@pytest.fixture(scope="session")
def xbee_port(
    request: pytest.FixtureRequest,
    xbee_hil_session: HilSession,
    xbee_device_spec: DeviceSpec,
    xbee_profile: Profile,
    xbee_baud: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Port]:
    """The opened module. A module that cannot be opened or does not register stops the run
    (`ModuleBroken`): one reason, the remaining tests skipped with it."""
    workdir = tmp_path_factory.mktemp(f"port-{xbee_device_spec.label}")
    timing = request.config.getoption("xbee_sim_timing", "fast")
    budget = xbee_profile.device.open_timeout + xbee_profile.network.registration_timeout
    with session_wait(request.config, f"opening {xbee_device_spec} and registering", budget):
        port = _open_port(
            xbee_device_spec, xbee_profile, xbee_baud, xbee_hil_session, workdir, timing
        )
    request.config.stash.setdefault(_PORTS, {})[xbee_device_spec.label] = port
    try:
        yield port
    finally:
        try:
            if port.snapshot is not None:  # also after Ctrl-C: pytest tears down the session
                port.tap.capture = port.session_capture
                with session_wait(
                    request.config, f"restoring {xbee_device_spec}",
                    xbee_profile.device.open_timeout,
                ):  # fmt: skip
                    line = _restore_loudly(port, port.snapshot, "at the end of the run")
                restores.record(request.config, line)
        finally:
            port.close()


# ----- per test: the capture and the configured module ----------------------------------------


def _capture_name(nodeid: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\[\]-]+", "_", nodeid.split("::", 1)[-1])
    return name[:120] + ".jsonl"


@pytest.fixture
def xbee_capture(
    request: pytest.FixtureRequest,
    xbee_port: Port,
    xbee_hil_session: HilSession,
    xbee_profile: Profile,
) -> Iterator[capture.CaptureWriter]:
    """This test's wire capture (JSON Lines, flushed per event), attached to the report.

    With `--record DIR` it is the test's cassette; with `--device replay:` the test's
    cassette is loaded first and checked at the end. Either way the test starts with no
    memory of earlier tests (mode, parameters, files), so each cassette replays alone."""
    session = xbee_hil_session
    port = xbee_port
    if port.replay is not None:
        _load_cassette(port, request.node.nodeid)
    isolated = port.replay is not None or port.recording is not None
    if port.recording is not None and session.record_dir is not None:
        path = cassette.cassette_path(session.record_dir, request.node.nodeid)
    else:
        directory = session.record_dir or (session.reports_dir / "captures")
        path = directory / _capture_name(request.node.nodeid)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = capture.CaptureWriter(
        path,
        test=request.node.nodeid,
        device=str(xbee_port.spec),
        personality=xbee_port.personality,
        firmware=xbee_port.firmware,
        profile=xbee_profile.label,
    )
    if port.recording is not None:
        cassette.stamp(writer, port.recording)
    if isolated:
        port.forget()
        port.module.mode = None  # found afresh: the cassette holds the probe
        session.controls.clear()  # a control runs inside the cassette that needs it
    port.tap.capture = writer
    attached: list[bool] = []

    def attach() -> None:
        """The capture so far, on the test's own Allure result (not its teardown)."""
        if not attached:
            attached.append(True)
            report.attach_capture(
                path,
                lambda: "\n".join(capture.render(capture.read_capture(path))),
                secrets=session.secrets(),
            )

    request.node.stash[_ATTACH_CAPTURE] = attach
    try:
        yield writer
    finally:
        if isolated and not (port.replay is not None and port.replay.failure):
            with contextlib.suppress(DeviceError):
                port.module.close()  # leave command mode / the API reader, in this cassette
        port.tap.capture = port.session_capture  # between tests: the run's own traffic
        writer.close()
        attach()  # when the test body never ran (a setup error); the file has it all anyway
        if port.replay is not None:
            _check_replay(request.node, port)


def _load_cassette(port: Port, nodeid: str) -> None:
    """Serve this test's cassette (none: skip with the reason; a bad one fails naming
    file:line); its recording says which personality and PKI the test ran with."""
    from harness.replay.player import ReplayError

    assert port.deck is not None
    path, why = port.deck.for_test(nodeid)
    if path is None:
        pytest.skip(why)
    try:
        rec = cassette.read_info(path).recording
        port.replay.load(path)
    except (capture.CaptureError, ReplayError) as exc:
        bad = str(exc)
    else:
        bad = None
    if bad is not None:
        pytest.fail(f"cannot replay: {bad}", pytrace=False)
    if rec is not None:
        port.personality = rec.personality
        port.files = cassette.load_pki(path.parent, rec.pki)


def _check_replay(item: pytest.Item, port: Port) -> None:
    """The verdict: a mismatch fails the test with the readable diff (unless the test's own
    failure already shows it); a test skipped after its cassette was loaded is not judged."""
    from harness.replay.player import ReplayMismatch

    verdict = port.replay.finish()
    reports = item.stash.get(_REPORTS, {})
    if verdict.ok or item.stash.get(_MISMATCH_SHOWN, False):
        return
    if any(r.skipped for r in reports.values()):
        return
    raise ReplayMismatch(verdict.report)


def _replay_failure(config: pytest.Config) -> str | None:
    for port in _ports(config).values():
        if port.replay is not None and (why := port.replay.failure):
            return why
    return None


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Attach the capture when the test body ends, while Allure still files attachments under
    the test itself; the teardown's restore traffic stays in the capture file."""
    try:
        return (yield)
    finally:
        attach = item.stash.get(_ATTACH_CAPTURE, None)
        if attach is not None:
            attach()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    item.stash.setdefault(_REPORTS, {})[rep.when] = rep
    if rep.failed and rep.when != "teardown" and (why := _replay_failure(item.config)):
        seen = call.excinfo.exconly().splitlines()[0] if call.excinfo is not None else ""
        rep.longrepr = f"{why}\n\n(after that the device answered nothing; the test saw: {seen})"
        item.stash[_MISMATCH_SHOWN] = True
    return rep


def _variant_files(port: Port, variant: variants.TlsVariant) -> list[tuple[variants.Upload, bytes]]:
    out = []
    for upload in variant.uploads:
        data = port.files.get(upload.pki)
        if data is None:
            why = port.missing.get(upload.pki) or "a file the profile does not name"
            pytest.skip(f"TLS variant {variant.name} needs {upload.pki}: {why}")
        out.append((upload, data))
    return out


@pytest.fixture
def xbee(
    request: pytest.FixtureRequest,
    xbee_port: Port,
    xbee_mode: str,
    xbee_capture: capture.CaptureWriter,
    xbee_profile: Profile,
    xbee_record_codes: Callable[..., list[str]],
) -> Iterator[XBee]:
    """The module configured for this test: the profile's baseline, the test's mode, and
    (for tests that use `tls_variant`) `$0` with its certificates uploaded."""
    variant = None
    if "tls_variant" in request.fixturenames:
        variant = variants.get(request.getfixturevalue("tls_variant"))
    port = xbee_port
    wanted: dict[str, Any] = dict(xbee_profile.baseline)
    try:
        if port.replay is None and port.recording is None:  # cassettes: A-REPLAY-ISOLATION
            close_leftover_connections(port.configurator)  # issue 10: none from earlier tests
        if variant is not None:
            files = Files(port.module)
            budget = xbee_profile.device.upload_timeout
            with session_wait(request.config, f"uploading {variant.name}'s files", budget):
                for upload, data in _variant_files(port, variant):
                    _put(port, files, upload, data)
            wanted["$0"] = variant.profile
        port.configurator.apply(wanted, xbee_mode)
    except (DeviceError, ConfigureError) as exc:
        if port.replay is not None:  # a replay device is never broken: this test's problem
            raise DeviceError(f"configuring for {xbee_mode}: {exc}") from None
        raise ModuleBroken(
            _stop_reason(port.rig, f"configuring {port.spec} for {xbee_mode}: {exc}")
        ) from None
    session = request.getfixturevalue("xbee_hil_session")
    yield XBee(port, xbee_mode, variant, Http(port.module), xbee_record_codes, session,
               request.node)  # fmt: skip
    if port.rig is not None and port.rig.failure:
        raise ModuleBroken(port.rig.failure)
    if _failed(request.node) and port.snapshot is not None:
        port.forget()
        snap = port.test_snapshot or port.snapshot
        line = _restore_loudly(port, snap, f"after {request.node.name} failed")
        if line:
            restores.record(request.config, line)
            raise ModuleBroken(_stop_reason(port.rig, line))
        if snap is not port.snapshot:  # the run set the APN: a restore may have re-attached
            port.configurator.wait_registered(xbee_profile.network.registration_timeout)


def _put(port: Port, files: Files, upload: variants.Upload, data: bytes) -> None:
    """Upload one certificate unless this run already knows it is there (same SHA-256);
    otherwise `Files.put` checks the module's hash and uploads only when it differs."""
    path = remote_path(upload.name)
    digest = sha256_hex(data)
    if port.files_on_module.get(path) == digest:
        port.uploads["uploads_known"] += 1
        port.tap.note("file", path=path, action="known", sha256=digest)
        return
    done = files.put(data, upload.name, secure=upload.secure)
    port.files_on_module[done.path] = done.sha256
    port.uploads["uploads_skipped" if done.skipped else "uploads"] += 1
    port.uploads["upload_bytes"] += 0 if done.skipped else done.size


# ----- targets -----------------------------------------------------------------------------


@pytest.fixture
def http_target(xbee_port: Port) -> str:
    url = xbee_port.urls.get("http")
    if url is None:
        pytest.skip("the profile names no http target")
    return url


@pytest.fixture
def https_target(request: pytest.FixtureRequest, xbee_port: Port) -> str:
    """The HTTPS URL for this test: the mutual-TLS server for variants that need one."""
    server = "https"
    uses_variant = "tls_variant" in request.fixturenames
    if uses_variant and variants.get(request.getfixturevalue("tls_variant")).server == "mutual":
        server = "mutual"
    url = xbee_port.urls.get(server)
    if url is None:
        pytest.skip(f"the profile names no {server} target")
    return url


# ----- per test: what the harness did and what the module imposed ------------------------------


@dataclass
class _Before:
    """Counters at the start of a test's setup, per port (label), and the clock."""

    t0: float
    counts: dict[str, dict[str, int]]
    sim: dict[str, dict[str, float] | None]


def _ports(config: pytest.Config) -> dict[str, Port]:
    return config.stash.get(_PORTS, {})


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    ports = _ports(item.config)
    item.stash[_BEFORE] = _Before(
        time.monotonic(),
        {label: port.counts() for label, port in ports.items()},
        {label: port.sim_stats() for label, port in ports.items()},
    )
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    try:
        return (yield)
    finally:
        before = item.stash.get(_BEFORE, None)
        if before is not None:
            record = stats_line(item, before)
            _write_stats(item.config, record)
            with contextlib.suppress(Exception):  # the report is a courtesy, never a failure
                allure.attach(
                    json.dumps(record, indent=2), name="xbee-hil stats",
                    attachment_type=allure.attachment_type.JSON,
                )  # fmt: skip


def stats_line(item: pytest.Item, before: _Before) -> dict[str, Any]:
    """One test's line: its wall time, the harness's work on each module it touched (summed),
    and the simulator's account of imposed time over the same span."""
    wall = time.monotonic() - before.t0
    counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)
    sim: dict[str, float] | None = None
    devices = []
    for label, port in _ports(item.config).items():
        got = _delta(before.counts.get(label, {}), port.counts())
        imposed = port.sim_stats()
        sim_delta = None
        if imposed is not None:
            was = before.sim.get(label) or {}
            sim_delta = {k: imposed[k] - was.get(k, 0) for k in SIM_KEYS if k in imposed}
        if any(got.values()) or (sim_delta and sim_delta.get("bytes_to_module")):
            devices.append(label)
        for k, v in got.items():
            counts[k] = counts.get(k, 0) + v
        if sim_delta is not None:
            sim = sim or {}
            for k, v in sim_delta.items():
                sim[k] = round(sim.get(k, 0) + v, 6)
    params = getattr(getattr(item, "callspec", None), "params", {})
    reports = item.stash.get(_REPORTS, {})
    outcome = "passed"
    for rep in reports.values():
        if rep.failed:
            outcome = "failed" if rep.when == "call" else "error"
            break
        if rep.skipped:
            outcome = "skipped"
    return {
        "test": item.nodeid,
        "outcome": outcome,
        "wall_s": round(wall, 6),
        "devices": devices,
        # False for tests that make their own module (or none): their wall time has no
        # account beside it (the session's restore may still fall in their teardown)
        "uses_port": "xbee_port" in getattr(item, "fixturenames", ()),
        "mode": params.get("xbee_mode"),
        "variant": params.get("tls_variant"),
        "timing": item.config.getoption("xbee_sim_timing", None) if sim is not None else None,
        "counts": counts,
        "sim": sim,
    }


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """allure-pytest writes each result inside the test loop: on a full reports disk that is
    an OSError, an INTERNALERROR and a pluggy warning. Stop with one line naming it (#8)."""
    with warnings.catch_warnings(record=True) as seen:
        try:
            return (yield)
        except OSError as exc:
            if exc.errno not in atomicio.FULL:
                raise
            seen[:] = [w for w in seen if "exception during an old-style" not in str(w.message)]
            where = exc.filename or _reports_dir(session.config)
            pytest.exit(f"xbee-hil: reports disk full: {where}: {exc.strerror}", returncode=1)
        finally:
            for w in seen:  # everything else is shown as it would have been
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _write_stats(config: pytest.Config, record: dict[str, Any]) -> None:
    """Append one whole line (or none) to `<reports-dir>/stats.jsonl` (started afresh per
    run). A full reports disk, here or in the test's capture, stops the run with one line
    naming it (issue 10 #8)."""
    reports_dir = _reports_dir(config)
    out = config.stash.get(_STATS_OUT, None)
    if out is None:
        worker = getattr(config, "workerinput", {}).get("workerid")
        name = STATS_FILE if worker is None else f"stats-{worker}.jsonl"
        try:
            reports_dir.mkdir(parents=True, exist_ok=True)
            out = atomicio.LineFile(reports_dir / name)
        except OSError as exc:
            out = False
            warnings.warn(
                pytest.PytestWarning(f"xbee-hil: cannot write {reports_dir / name}: {exc}"),
                stacklevel=1,
            )
        config.stash[_STATS_OUT] = out
        if out:
            config.add_cleanup(out.close)
    failed = atomicio.failure(reports_dir)
    if out and failed is None:
        try:
            out.write_line(json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:
            failed = exc
    if failed is not None:
        pytest.exit(f"xbee-hil: {failed}", returncode=1)


def _reports_dir(config: pytest.Config) -> Path:
    """--reports-dir as the plugin resolves it (relative to where pytest was started)."""
    option = config.getoption("xbee_reports_dir", None) or "reports"
    return (config.invocation_params.dir / option).resolve()
