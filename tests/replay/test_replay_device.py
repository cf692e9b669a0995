"""Record on the simulator, replay anywhere: the same harness code against `ReplayServer` on a
real pty passes; changed on purpose (a value, an extra frame, a dropped frame) it fails with a
diff naming the first differing unit and its cassette line."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.capture import CaptureWriter
from harness.device.command import CommandMode
from harness.device.configure import Configurator
from harness.device.errors import DeviceError
from harness.device.files import Files
from harness.device.http import Http
from harness.device.module import Module
from harness.device.transport import Tap, open_device
from harness.replay.device import ReplayServer
from harness.replay.player import Verdict
from harness.servers import HttpServer
from harness.sim.core import personality as personality_mod
from harness.sim.core.modem import Modem
from harness.sim.host.netconfig import NetworkConfig
from harness.sim.host.network import Network
from harness.sim.host.server import SimServer
from harness.xbee import at

Scenario = Callable[..., Any]


def _fast_personality() -> personality_mod.Personality:
    p = copy.copy(personality_mod.load(personality_mod.DEFAULT))  # cached: change a copy
    p.registration = p.registration.model_copy(
        update={"initializing_s": 0.05, "registering_s": 0.1, "connecting_s": 0.05}
    )
    return p


def record(path: Path, scenario: Scenario, *, ap: int, **kw: Any) -> Any:
    """Run `scenario(tap, **kw)` against the simulator with a capture; return its result."""
    net = Network(NetworkConfig(loopback_direct=True))  # scenarios dial 127.0.0.1 servers
    server = SimServer(Modem(_fast_personality(), nvm={"GT": 0x32}, ap=ap), net)
    try:
        port = server.start_pty()
        with CaptureWriter(path, test=path.stem, device=port) as cap:
            tap = open_device(port, capture=cap)
            try:
                return scenario(tap, **kw)
            finally:
                tap.close()
    finally:
        server.stop()


def replay(path: Path, scenario: Scenario, **kw: Any) -> tuple[Any, Verdict]:
    """Run `scenario(tap, **kw)` against the cassette on a pty; harness errors are results."""
    with ReplayServer() as server:
        tap = open_device(server.start_pty())
        try:
            server.load(path)  # after the open: pyserial flushes input when it opens a port
            try:
                result = scenario(tap, **kw)
            except DeviceError as err:
                result = err
            return result, server.finish()
        finally:
            tap.close()


# ----- the harness code under test ---------------------------------------------------------


@dataclass
class ApiOutcome:
    vr: bytes
    hv: int | None
    status: int | None
    body: bytes


def api_session(tap: Tap, **kw: Any) -> ApiOutcome:
    module = Module(tap, guard_time=0.05, api_timeout=kw.get("timeout", 5.0))
    try:
        return _api_steps(module, **kw)
    finally:
        module.close()


def _api_steps(
    module: Module,
    *,
    url: str,
    de: int = 0x1BB,
    extra: bool = False,
    skip_hv: bool = False,
    burn_ids: int = 0,
    timeout: float = 5.0,
) -> ApiOutcome:
    Configurator(module).wait_registered(timeout=10, poll=0.05)
    client = module.api()
    for _ in range(burn_ids):  # the live run numbers its frames differently
        client.next_frame_id()
    vr = client.at("VR").value
    client.set("DE", de)
    if extra:
        client.at("AI")
    hv = None if skip_hv else client.get("HV")
    result = Http(module, timeout=timeout).get(url)
    return ApiOutcome(vr, hv, result.status, result.body)


def command_session(
    tap: Tap, *, ni: str = "bench", cw: str = "s3cr3t-pw", reply_timeout: float = 2.0
) -> list[str]:
    with CommandMode(tap, guard_time=0.05, reply_timeout=reply_timeout) as cm:
        replies = [cm.query("VR")]
        cm.set("NI", ni)
        cm.set("CW", cw)  # a secret: the cassette holds <redacted>
        replies += cm.run(("DL", "1.2.3.4"), ("DE", 0x1BB), "AC")
    return replies


# ----- recordings (once per module: the simulator takes the time) ---------------------------


@dataclass
class Recorded:
    path: Path
    url: str
    outcome: Any


@pytest.fixture(scope="module")
def api_cassette(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    path = tmp_path_factory.mktemp("cassettes") / "api.jsonl"
    with HttpServer(body=b"hello from the far end") as web:
        outcome = record(path, api_session, ap=1, url=web.url + "index.html")
        yield Recorded(path, web.url + "index.html", outcome)


@pytest.fixture(scope="module")
def command_cassette(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    path = tmp_path_factory.mktemp("cassettes") / "command.jsonl"
    return Recorded(path, "", record(path, command_session, ap=0))


# ----- the same harness code replays -------------------------------------------------------


def test_api_session_with_http_replays_without_the_simulator(api_cassette: Recorded) -> None:
    rec = api_cassette
    assert rec.outcome.status == 200 and rec.outcome.body == b"hello from the far end"
    started = time.monotonic()
    got, verdict = replay(rec.path, api_session, url=rec.url)
    assert verdict.ok, verdict.report
    assert verdict.outcome == "passed" and verdict.used == verdict.steps > 10
    assert got == rec.outcome  # VR, HV, HTTP status and body: all from the cassette
    assert time.monotonic() - started < 5


def test_frame_ids_renumbered_consistently(api_cassette: Recorded) -> None:
    got, verdict = replay(api_cassette.path, api_session, url=api_cassette.url, burn_ids=7)
    assert verdict.ok, verdict.report  # responses carry the live IDs, or request() times out
    assert got == api_cassette.outcome


def test_command_mode_session_replays(command_cassette: Recorded) -> None:
    assert command_cassette.outcome[0] == "3100C"
    assert "s3cr3t" not in command_cassette.path.read_text()
    got, verdict = replay(command_cassette.path, command_session)
    assert verdict.ok, verdict.report
    assert got == command_cassette.outcome


# ----- changed on purpose: the replay fails, naming the first differing unit ------------------


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line and '"ev":"tx"' in line:
            return n
    raise AssertionError(f"{needle} not in {path}")


def test_a_different_at_value_fails_with_a_field_diff(api_cassette: Recorded) -> None:
    _got, verdict = replay(api_cassette.path, api_session, url=api_cassette.url, de=0x50,
                           timeout=0.5)  # fmt: skip
    assert not verdict.ok and verdict.outcome == "mismatch"
    report = verdict.report
    de_line = _line_of(api_cassette.path, "4445" + "01bb")  # "DE" 0x01BB in the 0x08 frame
    assert f"{api_cassette.path}:{de_line}" in report
    assert "expected -> [0x08 AT Command]" in report
    assert "command=DE" in report
    assert "parameter: 0x01BB → 0x50" in report
    assert "last exchanges before it:" in report and "command=VR" in report


def test_an_extra_frame_fails_naming_it(api_cassette: Recorded) -> None:
    _got, verdict = replay(api_cassette.path, api_session, url=api_cassette.url, extra=True,
                           timeout=0.5)  # fmt: skip
    assert verdict.outcome == "mismatch", verdict.report
    assert "expected -> [0x08 AT Command]" in verdict.report
    assert "command: 'HV' → 'AI'" in verdict.report


def test_a_dropped_frame_fails_naming_the_missing_one(api_cassette: Recorded) -> None:
    _got, verdict = replay(api_cassette.path, api_session, url=api_cassette.url, skip_hv=True,
                           timeout=0.5)  # fmt: skip
    assert verdict.outcome == "mismatch", verdict.report
    assert "command=HV" in verdict.report.splitlines()[1]  # the expected unit
    assert "got      -> [0x20 Transmit (TX) Request: IPv4]" in verdict.report
    assert "frame type: 0x08 AT Command → 0x20 Transmit (TX) Request: IPv4" in verdict.report


def test_after_a_mismatch_the_device_goes_silent(api_cassette: Recorded) -> None:
    started = time.monotonic()
    got, verdict = replay(api_cassette.path, api_session, url=api_cassette.url, extra=True,
                          timeout=0.5)  # fmt: skip
    assert isinstance(got, DeviceError) and "no response" in str(got)  # timed out
    # bounded by the extra command's own reply timeout (AI: 10 s in the AT catalogue), not hung
    assert time.monotonic() - started < 10 + at.reply_timeout("AI", 0.5)
    assert not verdict.ok


def test_a_stopped_session_leaves_the_cassette_unused(api_cassette: Recorded) -> None:
    def first_part(tap: Tap) -> bytes:
        module = Module(tap, guard_time=0.05)
        try:
            Configurator(module).wait_registered(timeout=10, poll=0.05)
            return module.api().at("VR").value
        finally:
            module.close()

    got, verdict = replay(api_cassette.path, first_part)
    assert got == api_cassette.outcome.vr
    assert verdict.outcome == "unused" and not verdict.ok
    assert "cassette not fully used" in verdict.report
    assert "next     -> [0x08 AT Command]" in verdict.report


def test_a_changed_command_line_fails_without_showing_secrets(
    command_cassette: Recorded,
) -> None:
    got, verdict = replay(
        command_cassette.path, command_session, ni="other", cw="other-pw", reply_timeout=0.3
    )
    assert isinstance(got, DeviceError)
    assert verdict.outcome == "mismatch"
    line = _line_of(command_cassette.path, "41544e4962656e6368")  # ATNIbench
    assert f":{line} " in verdict.report.splitlines()[0]
    assert "expected -> ATNIbench\\r" in verdict.report
    assert "got      -> ATNIother\\r" in verdict.report
    assert "ATVR\\r" in verdict.report  # the exchanges before it


def test_a_different_secret_is_not_a_difference(command_cassette: Recorded) -> None:
    got, verdict = replay(command_cassette.path, command_session, cw="another-password")
    assert verdict.ok, verdict.report  # the cassette never knew the secret
    assert got == command_cassette.outcome
    assert "another-password" not in verdict.report


CERT = b"-----BEGIN CERTIFICATE-----\n" + b"QUJD" * 200 + b"\n-----END CERTIFICATE-----\n"


def upload_session(tap: Tap) -> str:
    module = Module(tap, guard_time=0.05)
    try:
        return Files(module).put(CERT, "c.crt").path
    finally:
        module.close()


def test_a_ymodem_put_replays_in_causal_order(tmp_path: Path) -> None:
    """The capture writes a YMODEM `C` that came with the PUT's reply line after the block it
    asked for (it held the line's tail back); replay goes by time and answers in order."""
    path = tmp_path / "put.jsonl"
    recorded = record(path, upload_session, ap=0)
    got, verdict = replay(path, upload_session)
    assert verdict.ok, verdict.report
    assert got == recorded
