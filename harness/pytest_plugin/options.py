"""The plugin's command-line options and markers, the run's state built from them, and the
fixtures that serve them: every option is also a fixture, so a conftest (or
`@pytest.mark.parametrize(..., indirect=True)`) can override it. `build_session` turns the
options and the profile into the `HilSession`: a bad profile or `--device` is a
`ProfileError` / `DeviceSpecError`, which the configure hook turns into one usage line
before a byte reaches the module.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import profiles  # its pydantic half loads on first use (A-LAZY-PLUGIN)
from harness.profiles import DEFAULT_PROFILE, MODES, TLS_VARIANTS, ProfileError
from harness.pytest_plugin.session import (
    DeviceSpec,
    DeviceSpecError,
    HilSession,
    parse_device,
    session_of,
)

if TYPE_CHECKING:
    from harness.profiles import Profile

ENV_DEVICE = "XBEE_DEVICE"
ENV_PROFILE = "XBEE_PROFILE"

MARKERS = (
    "xbee_modes(*modes): run only in these modes (transparent, api, api-escaped)",
    "tls_variants(*names): run only with these TLS variants (see harness/variants.py)",
    "hardware_only: needs a real module; skipped on the simulator",
    "sim_only: needs the simulator (e.g. fault injection); skipped on a real module",
    "requires(*features): needs these module features (e.g. extended_sockets)",
    "own_simulator: makes its own simulator (not the --device): skipped on a replay device",
    "xbee_fault(*faults): named faults (NAME[:ARG], `xbee-sim --list-faults`) put on the "
    "simulated module for this test by the `xbee_faults` fixture and taken off after",
)


def add_markers(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


@dataclass(frozen=True)
class Option:
    """One plugin option: `--xbee-NAME` (and the alias `--NAME` when free, aliases.py), the
    ini key and environment variable of the same name, and its default.

    The command line gives it, else `XBEE_NAME`, else the ini key `xbee_NAME`, else `default`
    (aliases.resolve). argparse's own default stays None, so "given on the command line" is
    seen (gate.py: a given option is one way a run uses the plugin)."""

    name: str  # "tls-variant": --xbee-tls-variant, --tls-variant, XBEE_TLS_VARIANT
    help: str
    default: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    path: bool = False  # an ini value is a path relative to the ini file

    @property
    def dest(self) -> str:
        return "xbee_" + self.name.replace("-", "_")

    @property
    def flag(self) -> str:
        return "--xbee-" + self.name

    @property
    def alias(self) -> str:
        return "--" + self.name

    @property
    def env(self) -> str:
        return self.dest.upper()

    @property
    def repeatable(self) -> bool:
        return self.kwargs.get("action") == "append"

    @property
    def takes_value(self) -> bool:
        return self.kwargs.get("action") != "store_true"


OPTIONS = (
    Option(
        "device",
        "module to test (repeatable): sim, sim:PERSONALITY, replay:PATH, a serial device path, "
        f"rfc2217://HOST:PORT or socket://HOST:PORT. Default ${ENV_DEVICE} or sim.",
        kwargs={"action": "append", "metavar": "SPEC"},
    ),
    Option(
        "profile",
        f"YAML profile (a file, or NAME in ./profiles/ or the shipped ones). Default "
        f"${ENV_PROFILE}, or '{DEFAULT_PROFILE}' with the simulator; required with a real module.",
        kwargs={"metavar": "NAME|PATH"},
        path=True,
    ),
    Option(
        "baud", "serial rate the module is at now (default: the profile's device.baud)",
        kwargs={"type": int, "metavar": "RATE"},
    ),
    Option(
        "mode", f"run only this mode (repeatable): {', '.join(MODES)}",
        kwargs={"action": "append", "metavar": "MODE", "choices": MODES},
    ),
    Option(
        "tls-variant", f"run only this TLS variant (repeatable): {', '.join(TLS_VARIANTS)}",
        kwargs={"action": "append", "metavar": "NAME", "choices": TLS_VARIANTS},
    ),
    Option(
        "record", "record each test's wire traffic into DIR (for replay:)",
        kwargs={"metavar": "DIR"}, path=True,
    ),
    Option(
        "allow-nvm-write", "let the harness persist the profile's nvm.params with ATWR",
        default=False, kwargs={"action": "store_true"},
    ),
    Option(
        "sim-timing",
        "simulator timing (harness/pytest_plugin/simrig.py): fast = module clock x100, "
        "no UART pacing (default); realistic = real time, UART paced at BD, cellular latency, "
        "TLS handshake",
        default="fast", kwargs={"choices": ("fast", "realistic")},
    ),
    Option(
        "clock",
        "the device layer's clock with the replay device and the fast simulator: warp "
        "= skip waits while nothing can happen (default; A-CLOCK-WARP); real = real time. "
        "A bench and realistic timing always use real time",
        default="warp", kwargs={"choices": ("warp", "real")},
    ),
    Option(
        "reports-dir",
        "where the matrix and (without --alluredir) allure-results go (default: reports)",
        default="reports", kwargs={"metavar": "DIR"}, path=True,
    ),
)
GROUP = ("xbee-hil", "xbee-hil: Digi XBee3 Cellular hardware-in-the-loop")


def add_options(parser: pytest.Parser) -> None:
    """The `xbee-hil` option group and its ini keys (called by the `pytest_addoption` hook).
    The short aliases (`--device`, …) are added later, when free (aliases.py)."""
    group = parser.getgroup(*GROUP)
    for opt in OPTIONS:
        group.addoption(
            opt.flag, dest=opt.dest, default=None, help=f"{opt.help} (env {opt.env}, ini "
            f"{opt.dest})", **opt.kwargs,
        )  # fmt: skip
        about = f"xbee-hil: as {opt.flag} (${opt.env} and the command line come first)"
        if opt.repeatable:
            parser.addini(opt.dest, about, type="args", default=[])
        else:
            parser.addini(opt.dest, about, type="string", default="")


def build_session(config: pytest.Config) -> HilSession:
    """Options + profile → the run's state. Raises ProfileError / DeviceSpecError on bad input."""
    opt = config.option
    base = config.invocation_params.dir
    raw_devices = opt.xbee_device or [os.environ.get(ENV_DEVICE) or "sim"]
    devices = tuple(parse_device(d) for d in raw_devices)
    profile_ref = opt.xbee_profile or os.environ.get(ENV_PROFILE)
    real = [d for d in devices if not d.simulated]
    if profile_ref is None:
        if real:
            raise DeviceSpecError(
                f"--profile is required with a real module (--device {real[0].raw}): the "
                f"simulator's profile is not a bench's; see the example --profile cat1-att"
            )
        profile_ref = DEFAULT_PROFILE
    profile = profiles.load_profile(profiles.find_profile(profile_ref, (base / "profiles", base)))
    if real and (issue := profile.local_targets_issue(real[0].raw)) is not None:
        raise ProfileError([issue])  # the simulator's loopback names on a real network
    modes = _narrow("--mode", profile.modes, opt.xbee_mode, profile)
    variants = _narrow("--tls-variant", profile.tls_variants, opt.xbee_tls_variant, profile)
    baud = profile.device.baud
    if opt.xbee_baud is not None:
        try:
            baud = profiles.check_baud(opt.xbee_baud)
        except ValueError as exc:
            raise DeviceSpecError(f"--baud: {exc}") from None
    reports_dir = _writable_dir("--reports-dir", opt.xbee_reports_dir, base)
    record_dir = _writable_dir("--record", opt.xbee_record, base) if opt.xbee_record else None
    alluredir = None
    if getattr(opt, "allure_report_dir", "absent") is None:  # allure-pytest on, no --alluredir
        alluredir = reports_dir / "allure-results"
    elif getattr(opt, "allure_report_dir", None):
        alluredir = _writable_dir("--alluredir", opt.allure_report_dir, Path.cwd())
    session = HilSession(
        devices=devices,
        profile=profile,
        modes=modes,
        tls_variants=variants,
        baud=baud,
        reports_dir=reports_dir,
        record_dir=record_dir,
        allow_nvm_write=bool(opt.xbee_allow_nvm_write),
        alluredir=alluredir,
        labgrid_coordinator=getattr(opt, "lg_coordinator", None),  # labgrid's pytest option
    )
    session.matrix.mode_order = MODES
    session.matrix.variant_order = TLS_VARIANTS
    return session


def _writable_dir(option: str, value: str, base: Path) -> Path:
    """A folder the run writes to, made now: a bad one is one usage line, not an
    INTERNALERROR in a plugin's mkdir or an error in every test."""
    path = (base / value).resolve()
    if path.exists() and not path.is_dir():
        raise DeviceSpecError(f"{option} {value}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise DeviceSpecError(f"{option} {value}: cannot write there: {exc.strerror}") from None
    return path


def _narrow(
    option: str, allowed: Iterable[str], chosen: list[str] | None, profile: Profile
) -> tuple[str, ...]:
    allowed = tuple(allowed)
    if not chosen:
        return allowed
    outside = [c for c in chosen if c not in allowed]
    if outside:
        raise DeviceSpecError(
            f"{option} {', '.join(outside)}: profile {profile.label} ({profile.source}) "
            f"allows only {', '.join(allowed) or 'none'}"
        )
    return tuple(c for c in allowed if c in chosen)


# ----- every option is a fixture -------------------------------------------------------------


@pytest.fixture(scope="session")
def xbee_hil_session(request: pytest.FixtureRequest) -> HilSession:
    """The run's state: devices, profile, axes, matrix, broken flag."""
    session = session_of(request.config)
    if session is None:
        pytest.skip("xbee-hil is not configured in this run")
    return session


@pytest.fixture(scope="session")
def xbee_device_spec(request: pytest.FixtureRequest, xbee_hil_session: HilSession) -> DeviceSpec:
    """The module under test (one of the --device values)."""
    return getattr(request, "param", None) or xbee_hil_session.devices[0]


@pytest.fixture(scope="session")
def xbee_profile(xbee_hil_session: HilSession) -> Profile:
    """The validated profile (--profile)."""
    return xbee_hil_session.profile


@pytest.fixture(scope="session")
def xbee_baud(xbee_hil_session: HilSession) -> int:
    """The rate the module is at now (--baud, else the profile's device.baud)."""
    return xbee_hil_session.baud


@pytest.fixture(scope="session")
def xbee_mode(request: pytest.FixtureRequest, xbee_hil_session: HilSession) -> str:
    """The operating mode of this test: transparent, api or api-escaped."""
    return getattr(request, "param", None) or xbee_hil_session.modes[0]


@pytest.fixture(scope="session")
def tls_variant(request: pytest.FixtureRequest, xbee_hil_session: HilSession) -> str | None:
    """The TLS certificate set-up of this test (a name of harness/variants.py)."""
    param = getattr(request, "param", None)
    if param is not None:
        return param
    return xbee_hil_session.tls_variants[0] if xbee_hil_session.tls_variants else None


@pytest.fixture(scope="session")
def xbee_record_dir(xbee_hil_session: HilSession) -> Path | None:
    """Where to record captures for replay (--record), or None."""
    return xbee_hil_session.record_dir


@pytest.fixture(scope="session")
def xbee_allow_nvm_write(xbee_hil_session: HilSession) -> bool:
    """Whether configure may persist the profile's nvm.params with ATWR (--allow-nvm-write)."""
    return xbee_hil_session.allow_nvm_write


@pytest.fixture(scope="session")
def xbee_reports_dir(xbee_hil_session: HilSession) -> Path:
    """The reports directory (--reports-dir)."""
    return xbee_hil_session.reports_dir


@pytest.fixture(scope="session")
def xbee_targets(xbee_profile: Profile) -> dict[str, Any]:
    """The profile's targets by name (http, https, …)."""
    return dict(xbee_profile.targets)


@pytest.fixture(scope="session")
def xbee_mark_broken(xbee_hil_session: HilSession) -> Callable[[str], None]:
    """`xbee_mark_broken(reason)`: skip every remaining test with this reason."""
    return xbee_hil_session.mark_broken
