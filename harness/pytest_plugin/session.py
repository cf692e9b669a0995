"""The state of one pytest run of the harness: which module, which profile, which axes.

The plugin builds one `HilSession` when the run turns out to use it (gate.py, options.py)
and keeps it in the pytest stash; every fixture that talks to a module (the port, the capture,
the configured device, the targets) starts from it and from `xbee_device_spec`. It also
carries what the run learns: the module's firmware (for report labels), its features (for
`requires(...)`), the matrix of outcomes, and the "broken module" flag that skips the rest
of the run with one reason.
"""

from __future__ import annotations

import enum
import functools
import re
import threading
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.profiles import PERSONALITY_DIR, known_personalities
from harness.report import Matrix
from harness.verdict import Control
from harness.xbee import firmware as fw

if TYPE_CHECKING:
    from harness.profiles import Profile

# pyserial URL handlers a --device may use (pyserial `serial_for_url`).
URL_SCHEMES = ("rfc2217", "socket", "spy", "hwgrep", "alt")
HOST_PORT_SCHEMES = ("rfc2217", "socket")  # the ones whose URL is HOST:PORT
SIM_PREFIX = "sim"
REPLAY_PREFIX = "replay:"
LABGRID_PREFIX = "labgrid:"  # a labgrid place (harness/pytest_plugin/labgrid_place.py)


class DeviceKind(enum.Enum):
    SIM = "sim"  # the built-in simulator on a pty (harness.sim.host.server)
    REPLAY = "replay"  # a capture served back (harness.replay)
    SERIAL = "serial"  # a serial device path on this machine
    URL = "url"  # a pyserial URL: rfc2217://, socket://, …
    LABGRID = "labgrid"  # a labgrid place: acquired, its NetworkSerialPort opened


class DeviceSpecError(ValueError):
    """A --device value that names nothing usable."""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A parsed `--device` value."""

    raw: str
    kind: DeviceKind
    target: str | None = None  # personality (sim), capture file/dir (replay), path or URL

    @property
    def simulated(self) -> bool:
        return self.kind in (DeviceKind.SIM, DeviceKind.REPLAY)

    @property
    def label(self) -> str:
        """A short name for test ids and report labels (`sim-cat1-3100C`, `ttyUSB0`)."""
        if self.kind is DeviceKind.SIM:
            return f"sim-{self.target}" if self.target else "sim"
        if self.kind is DeviceKind.REPLAY:
            return f"replay-{Path(self.target or '').stem}"
        if self.kind is DeviceKind.SERIAL:
            return Path(self.target or self.raw).name
        if self.kind is DeviceKind.LABGRID:
            return "labgrid-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", self.target or "").strip("-")
        return re.sub(r"[^A-Za-z0-9_.:-]+", "-", self.raw.split("://", 1)[1]).strip("-")

    def __str__(self) -> str:
        return self.raw


def parse_device(raw: str) -> DeviceSpec:
    """`sim`, `sim:PERSONALITY`, `replay:PATH`, `labgrid:PLACE`, `rfc2217://…` /
    `socket://…`, or a path."""
    spec = raw.strip()
    if not spec:
        raise DeviceSpecError("--device is empty")
    if spec == SIM_PREFIX:
        return DeviceSpec(raw, DeviceKind.SIM)
    if spec.startswith(SIM_PREFIX + ":"):
        personality = spec.split(":", 1)[1]
        known = known_personalities()
        if not personality or (known and personality not in known):
            raise DeviceSpecError(
                f"--device {raw}: no simulator personality {personality!r}"
                + (f"; known: {', '.join(known)}" if known else "")
            )
        return DeviceSpec(raw, DeviceKind.SIM, personality)
    if spec.startswith(REPLAY_PREFIX):
        # a capture file, or a directory of cassettes (one per test, harness.replay.cassette)
        path = Path(spec[len(REPLAY_PREFIX) :]).expanduser()
        if not path.exists():
            raise DeviceSpecError(f"--device {raw}: no capture file or cassette directory {path}")
        if path.is_file():  # one cassette: read it now, so a wrong file is a usage error
            _check_cassette(raw, path)
        return DeviceSpec(raw, DeviceKind.REPLAY, str(path.resolve()))
    if spec.startswith(LABGRID_PREFIX):
        from harness.pytest_plugin.labgrid_place import check_spec  # only labgrid runs

        return DeviceSpec(raw, DeviceKind.LABGRID, check_spec(raw, spec[len(LABGRID_PREFIX) :]))
    if "://" in spec:
        scheme = spec.split("://", 1)[0].lower()
        if scheme not in URL_SCHEMES:
            raise DeviceSpecError(
                f"--device {raw}: unknown URL scheme {scheme!r}; use {', '.join(URL_SCHEMES)}"
            )
        if scheme in HOST_PORT_SCHEMES:
            _check_host_port(raw, spec)
        return DeviceSpec(raw, DeviceKind.URL, spec)
    path = Path(spec).expanduser()
    if not path.exists():
        raise DeviceSpecError(
            f"--device {raw}: no such serial device (use sim, sim:PERSONALITY, replay:PATH, "
            "labgrid:PLACE, a device path or rfc2217://HOST:PORT)"
        )
    return DeviceSpec(raw, DeviceKind.SERIAL, str(path))


def _check_host_port(raw: str, spec: str) -> None:
    """`rfc2217://HOST:PORT` and `socket://HOST:PORT` need both (pyserial fails on a missing
    port with a TypeError of its own)."""
    netloc = urllib.parse.urlsplit(spec).netloc
    host, sep, port = netloc.rpartition(":")
    if not sep:
        host, port = netloc, ""
    if not host.strip("[]"):
        raise DeviceSpecError(f"--device {raw}: no host (give {spec.split('://')[0]}://HOST:PORT)")
    if not port:
        raise DeviceSpecError(f"--device {raw}: no port (give {spec.split('://')[0]}://HOST:PORT)")
    if not port.isdigit():
        raise DeviceSpecError(f"--device {raw}: port {port!r} is not a number")
    if not 1 <= int(port) <= 65535:
        raise DeviceSpecError(f"--device {raw}: port {int(port)} is not 1-65535")


def _check_cassette(raw: str, path: Path) -> None:
    from harness.capture import CaptureError
    from harness.replay.cassette import read_info  # only replay runs need the capture reader

    try:
        read_info(path)
    except (CaptureError, OSError) as exc:
        raise DeviceSpecError(f"--device {raw}: not a replayable capture: {exc}") from None


class ModuleBroken(Exception):
    """Raise from a fixture or test when the module stops answering: the test errors with
    this reason and every later test is skipped with it, instead of timing out one by one."""


@dataclass
class HilSession:
    """Everything the run knows about its modules; one per pytest process."""

    devices: tuple[DeviceSpec, ...]
    profile: Profile
    modes: tuple[str, ...]
    tls_variants: tuple[str, ...]
    baud: int
    reports_dir: Path
    record_dir: Path | None = None
    allow_nvm_write: bool = False
    alluredir: Path | None = None
    # labgrid's coordinator for `labgrid:PLACE` devices: labgrid's own `--lg-coordinator`,
    # else its `LG_COORDINATOR` (harness/pytest_plugin/labgrid_place.py `coordinator`)
    labgrid_coordinator: str | None = None
    matrix: Matrix = field(default_factory=Matrix)
    # learned during the run, by device label
    firmware: dict[str, dict[str, str]] = field(default_factory=dict)
    features: dict[str, frozenset[str]] = field(default_factory=dict)
    families: dict[str, fw.Family | None] = field(default_factory=dict)
    # each target's control result: (device label, server, mode) -> what it did
    controls: dict[tuple[str, str, str], Control] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # one line each: terminal and report
    _broken: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- the broken-module stop --

    @property
    def broken(self) -> str | None:
        """Why the run stopped, or None."""
        return self._broken

    def mark_broken(self, reason: str) -> None:
        """Stop the run: every test not yet started is skipped with this reason (first wins)."""
        with self._lock:
            if self._broken is None:
                self._broken = reason.strip() or "module broken"

    # -- what a device is --

    @property
    def simulated(self) -> bool:
        return all(d.simulated for d in self.devices)

    def personality(self, device: DeviceSpec) -> str | None:
        """The simulator personality a device runs (`sim:NAME`, else the profile's), or the
        one a replay deck was recorded with (so `requires(...)` skips as it did then)."""
        if device.kind is DeviceKind.REPLAY:
            return replay_personality(device.target or "")
        if device.kind is not DeviceKind.SIM:
            return None
        return device.target or self.profile.device.personality

    def set_firmware(
        self, device: DeviceSpec, vr: int | str | None, hv: int | str | None
    ) -> fw.Family | None:
        """Record the module's VR / HV (read by the device layer) and pick its firmware family:
        the profile's `device.firmware` when it names one, else the family VR/HV identify.
        The family gives the features (`requires(...)`) and the expected codes on every
        device; an unknown firmware is one notice line, and verdicts fall back to reason
        families (harness.verdict)."""
        values = {}
        for name, value in (("VR", vr), ("HV", hv)):
            if value is not None:
                values[name] = f"{value:X}" if isinstance(value, int) else str(value)
        self.firmware[device.label] = values
        named = getattr(self.profile.device, "firmware", None)
        family = fw.get(named) if named else fw.identify(vr, hv)
        self.families[device.label] = family
        if family is not None:
            self.features[device.label] = frozenset(family.features)
        else:
            shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "no VR/HV"
            self.notices.append(
                f"{device.label}: unknown firmware ({shown}): expected codes fall back to "
                f"reason families; name it with device.firmware ({', '.join(fw.FAMILIES)})"
            )
        return family

    def family_of(self, device: DeviceSpec) -> fw.Family | None:
        """The firmware family picked for a device (None: unknown or not read yet)."""
        return self.families.get(device.label)

    def set_features(self, device: DeviceSpec, names: Iterable[str]) -> None:
        """Record what a module can do (for `@pytest.mark.requires(...)`)."""
        self.features[device.label] = frozenset(names)

    def features_of(self, device: DeviceSpec) -> frozenset[str] | None:
        """Known features of a device: recorded ones, else its personality's; None = unknown."""
        if device.label in self.features:
            return self.features[device.label]
        name = self.personality(device)
        if name is None:
            return None
        found = personality_features(name)
        if found is not None:
            self.features[device.label] = found
        return found

    # -- what reports need --

    def secrets(self) -> tuple[str, ...]:
        """Values to mask in captures and reports (APN credentials)."""
        net = self.profile.network
        return tuple(
            s.get_secret_value() for s in (net.apn_user, net.apn_password) if s is not None
        )

    def environment(self) -> dict[str, str]:
        """Allure's environment.properties: what was tested, with what (no secrets)."""
        env = {
            "devices": ", ".join(d.raw for d in self.devices),
            "profile": self.profile.label,
            "profile.file": str(self.profile.source or ""),
            "modes": ", ".join(self.modes),
            "tls_variants": ", ".join(self.tls_variants),
            "baud": str(self.baud),
        }
        for device in self.devices:
            if (name := self.personality(device)) is not None:
                env[f"personality.{device.label}"] = name
            for key, value in self.firmware.get(device.label, {}).items():
                env[f"{key}.{device.label}"] = value
            if device.label in self.families:
                family = self.families[device.label]
                env[f"firmware.family.{device.label}"] = family.name if family else "unknown"
        for n, line in enumerate(self.notices, 1):
            env[f"notice.{n}"] = line
        return env


SESSION = pytest.StashKey[HilSession]()  # in config.stash once the gate opens (gate.py)


def session_of(config: pytest.Config) -> HilSession | None:
    """The run's state, or None when the run does not use the plugin (gate.py; --help)."""
    return config.stash.get(SESSION, None)


def personality_features(name: str) -> frozenset[str] | None:
    """The features of a simulator personality: those of the firmware family it names
    (`family:`, harness.xbee.firmware), or None when it names none."""
    from harness import yamlmarks  # PyYAML: when a session needs it (A-LAZY-PLUGIN)

    path = PERSONALITY_DIR / f"{name}.yaml"
    try:
        data, _ = yamlmarks.read(path)  # no aliases, bounded nesting (A-YAML-SAFE)
    except yamlmarks.YamlInputError:
        return None
    family = data.get("family") if isinstance(data, dict) else None
    if not isinstance(family, str) or family not in fw.FAMILIES:
        return None
    return frozenset(fw.FAMILIES[family].features)


def replay_personality(target: str) -> str | None:
    """The personality stamped on a replay deck's cassettes; None when unreadable (the
    replay itself then says what is wrong, test by test). Asked for every test: read once
    per version of the deck's folder (its mtime changes when a cassette comes or goes)."""
    try:
        version = Path(target).stat().st_mtime_ns
    except OSError:
        version = None
    return _replay_personality(target, version)


@functools.lru_cache(maxsize=64)
def _replay_personality(target: str, version: int | None) -> str | None:
    from harness.capture import CaptureError
    from harness.replay.cassette import Deck  # only replay runs need the capture reader

    try:
        info = Deck(target).first_info()
    except (CaptureError, OSError):
        return None
    return info.recording.personality if info.recording is not None else None
