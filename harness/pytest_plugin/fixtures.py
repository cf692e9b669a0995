"""The fixtures that talk to a module: the port, the per-test capture, the configured module,
and the HTTP/HTTPS targets. Registered at configure time from `FIXTURE_MODULES` of
harness/pytest_plugin/plugin.py (a bench may put its own in their place); the option fixtures
they build on are in `options`.

One port per device for the whole run: opened once, the module's mode found once, the
registration waited for once. Each test then applies only what differs from the module's
current state (its mode, its TLS profile, its destination) and uploads only certificates
whose hash differs, so a run costs few AT round trips. After a test that failed, the module
is restored to the snapshot taken when the port was opened, so the next test starts from a
known state whatever the failed one left behind; at the end of the run it is restored too.
What differs by kind of device (simulator, replay, bench) is in `devices`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from harness import report, variants
from harness.device.errors import ConfigureError, DeviceError
from harness.pytest_plugin import restores
from harness.pytest_plugin.budget import session_wait
from harness.pytest_plugin.matrix import ATTACH_CAPTURE, REPORTS
from harness.pytest_plugin.openports import PORTS
from harness.pytest_plugin.session import DeviceSpec, HilSession, ModuleBroken

if TYPE_CHECKING:
    from harness import capture
    from harness.profiles import Profile
    from harness.pytest_plugin.configured import XBee
    from harness.pytest_plugin.port import Port

# This module is registered in every run (plugin.FIXTURE_MODULES); the device layer, the
# capture format and the replay it uses are imported inside the fixtures, when a test first
# asks for one (A-LAZY-PLUGIN).

# ----- the port, the capture, the configured module -------------------------------------------


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
    from harness.pytest_plugin.devices import open_port
    from harness.pytest_plugin.port import restore_loudly

    workdir = tmp_path_factory.mktemp(f"port-{xbee_device_spec.label}")
    timing = request.config.getoption("xbee_sim_timing", "fast")
    budget = xbee_profile.device.open_timeout + xbee_profile.network.registration_timeout
    with session_wait(request.config, f"opening {xbee_device_spec} and registering", budget):
        port = open_port(
            xbee_device_spec, xbee_profile, xbee_baud, xbee_hil_session, workdir, timing,
            clock=request.config.getoption("xbee_clock", "warp"),
        )
    request.config.stash.setdefault(PORTS, {})[xbee_device_spec.label] = port
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
                    line = restore_loudly(port, port.snapshot, "at the end of the run")
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
    from harness import capture
    from harness.replay import cassette

    session = xbee_hil_session
    port = xbee_port
    port.device.begin_test(port, request.node.nodeid)
    isolated = port.device.isolated or port.recording is not None
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

    request.node.stash[ATTACH_CAPTURE] = attach
    try:
        yield writer
    finally:
        if isolated and not port.device.diverged:
            with contextlib.suppress(DeviceError):
                port.module.close()  # leave command mode / the API reader, in this cassette
        port.tap.capture = port.session_capture  # between tests: the run's own traffic
        writer.close()
        attach()  # when the test body never ran (a setup error); the file has it all anyway
        port.device.end_test(port, request.node)


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(REPORTS, {})
    return any(r.failed for r in reports.values())


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
    from harness.device.files import Files
    from harness.device.http import Http
    from harness.device.leftovers import close_leftover_connections
    from harness.pytest_plugin.configured import XBee, put, variant_files
    from harness.pytest_plugin.port import restore_loudly

    variant = None
    if "tls_variant" in request.fixturenames:
        variant = variants.get(request.getfixturevalue("tls_variant"))
    port = xbee_port
    wanted: dict[str, Any] = dict(xbee_profile.baseline)
    try:
        if not port.device.isolated and port.recording is None:  # cassettes: A-REPLAY-ISOLATION
            close_leftover_connections(port.configurator)  # issue 10: none from earlier tests
        if variant is not None:
            files = Files(port.module)
            budget = xbee_profile.device.upload_timeout
            with session_wait(request.config, f"uploading {variant.name}'s files", budget):
                for upload, data in variant_files(port, variant):
                    put(port, files, upload, data)
            wanted["$0"] = variant.profile
        port.configurator.apply(wanted, xbee_mode)
    except (DeviceError, ConfigureError) as exc:
        raise port.device.configure_failed(xbee_mode, exc) from None  # replay: never broken
    session = request.getfixturevalue("xbee_hil_session")
    http = Http(port.module, stay_in_command=True)  # the CI read's entry serves what follows
    yield XBee(port, xbee_mode, variant, http, xbee_record_codes, session, request.node)
    if port.device.crashed:
        raise ModuleBroken(port.device.crashed)
    if _failed(request.node) and port.snapshot is not None:
        port.forget()
        snap = port.test_snapshot or port.snapshot
        line = restore_loudly(port, snap, f"after {request.node.name} failed")
        if line:
            restores.record(request.config, line)
            raise ModuleBroken(port.device.stop_reason(line))
        if snap is not port.snapshot:  # the run set the APN: a restore may have re-attached
            port.configurator.wait_registered(xbee_profile.network.registration_timeout)


# ----- targets -------------------------------------------------------------------------------


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
    if (
        uses_variant
        and (kind := variants.get(request.getfixturevalue("tls_variant")).server) != "tls"
    ):
        server = kind  # mutual, or a TLS limit's own server (ecdhe, long-cn, sni)
    url = xbee_port.urls.get(server)
    if url is None:
        pytest.skip(f"the profile names no {server} target")
    return url
