"""One opened module for the run (`Port`) and the steps every kind of live module shares
when it is opened and put back: the session's capture, VR/HV, the snapshot, the APN, the
recording stamp, the checked restore. What differs by kind is in `devices`.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import capture, report
from harness.device.command import DEFAULT_CT
from harness.device.configure import KnownConfigurator, Snapshot, network_params
from harness.device.module import CommandTiming, Module
from harness.device.transport import Tap
from harness.profiles import Profile
from harness.pytest_plugin.openports import PORTS, ports  # noqa: F401 (re-exported: openports.py)
from harness.pytest_plugin.session import DeviceSpec, HilSession
from harness.replay import cassette

if TYPE_CHECKING:
    from harness.pytest_plugin.devices import Device

# Parameters a test may change beyond the profile's baseline; snapshot and restore them.
TEST_PARAMS = ("IP", "DL", "DE", "$0")


@dataclass
class Port:
    """One opened module for the run: its device (the kind-specific part), the device layer's
    handles on it, and what the run learnt and did to it."""

    device: Device
    tap: Tap
    module: Module
    configurator: KnownConfigurator
    snapshot: Any = None  # the module as found: the end-of-run restore puts it back
    test_snapshot: Any = None  # ... with the run's own settings (the APN): after a failed test
    session_capture: capture.CaptureWriter | None = None  # open, APN, restore: no test's
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
    recording: cassette.Recording | None = None  # the stamp for --record

    # -- what the device kind says --

    @property
    def spec(self) -> DeviceSpec:
        return self.device.spec

    @property
    def personality(self) -> str | None:
        return self.device.personality

    @property
    def first_byte_timeout(self) -> float:
        return self.device.first_byte_timeout

    @property
    def urls(self) -> dict[str, str]:
        return self.device.urls

    @property
    def files(self) -> dict[str, bytes | None]:
        """PKI name -> bytes for the TLS variants."""
        return self.device.files

    @property
    def missing(self) -> dict[str, str]:
        """PKI name -> why it is absent."""
        return self.device.missing

    @property
    def expected_body(self) -> bytes | None:
        """What the local servers answer (simulator, or a replay of one), else None."""
        return self.device.expected_body

    # -- what the run did --

    def forget(self) -> None:
        """Drop what the harness believes about the module (after a failed test)."""
        self.configurator.forget()
        self.files_on_module.clear()

    def counts(self) -> dict[str, int]:
        """What the harness did to this module so far (grows; subtract for a test's share)."""
        return {**self.module.stats.as_dict(), **self.uploads}

    def sim_stats(self) -> dict[str, float] | None:
        """The simulator's account of imposed time so far, or None for a real module."""
        return self.device.stats()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.module.close()
        with contextlib.suppress(Exception):
            self.tap.close()
        if self.session_capture is not None:
            self.session_capture.close()
        self.device.close()


def session_capture(
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


def kept(cap: capture.CaptureWriter, session: HilSession, why: str) -> str:
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


def network(profile: Profile) -> dict[str, str]:
    """The profile's `network:` APN settings as AT parameters (AN, CU, CW)."""
    net = profile.network
    user, password = (s.get_secret_value() if s else None for s in (net.apn_user, net.apn_password))
    return network_params(net.apn, user, password)


def apply_network(port: Port, wanted: dict[str, Any]) -> Snapshot:
    """Write the run's settings (the APN, the short GT and CT) like any other parameter, in
    one apply (only what differs, read back; CU/CW are write-only, L-TG) and return the
    snapshot a failed test is restored to: the module as found, with the run's settings."""
    snap: Snapshot = port.snapshot
    if not wanted:
        return snap
    actual = {k: v for k, v in snap.values.items() if k in wanted}
    port.configurator.apply(wanted, actual=actual)
    readable = {k: v for k, v in wanted.items() if k in snap.values}
    return Snapshot(snap.mode, {**snap.values, **readable})


def restore_loudly(port: Port, snap: Snapshot, when: str) -> str:
    """A checked restore; '' when the module is back, else the one line that says what
    was left changed (also noted in the capture)."""
    result = port.configurator.restore_checked(snap)
    if result.ok:
        return ""
    line = f"xbee-hil: {result.line(str(port.spec))} ({when})"
    with contextlib.suppress(Exception):
        port.tap.note("restore", failed=line)
    return line


def recording(
    port: Port, profile: Profile, directory: Path, timing: CommandTiming
) -> cassette.Recording:
    """The stamp of this run's cassettes; the PKI the uploads come from goes next to them."""
    source = port.device.source
    return cassette.Recording(
        source,
        firmware=dict(port.firmware),
        personality=port.personality,
        device=str(port.spec),
        profile=profile.label,
        profile_sha256=cassette.profile_digest(profile.source) if profile.source else None,
        urls=dict(port.urls),
        pki=cassette.save_pki(directory, port.files, source),
        # the CT the harness keeps to (the run's short CT when it wrote one, A-SHORT-GT)
        command_timeout=port.module.command_timeout or timing.get("command_timeout", DEFAULT_CT),
    )


def read_firmware(module: Module) -> dict[str, str]:
    values = module.read(["VR", "HV"])
    return {k: f"{v:X}" if isinstance(v, int) else str(v) for k, v in values.items()}
