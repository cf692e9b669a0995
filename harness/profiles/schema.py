"""The profile schema: pydantic models validated strictly (`extra="forbid"`), and the names
the rest of the harness reads from a profile (modes, TLS variants, targets, where profiles and
personalities live). Loading a file into these models, with errors at file:line, is `load`.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from harness.profiles.issues import Issue, Mark, Path_
from harness.profiles.names import (  # re-exported: the light names (names.py)
    AP_FOR_MODE,  # noqa: F401
    BUILTIN_PROFILE_DIR,  # noqa: F401
    DEFAULT_PROFILE,  # noqa: F401
    MODES,
    PERSONALITY_DIR,  # noqa: F401
    PROFILE_SUFFIXES,  # noqa: F401
    TLS_VARIANTS,
    Mode,
    known_personalities,
)
from harness.xbee import at

# `--profile NAME` and the default profile are looked up, when not found in the cwd's
# `profiles/`, in BUILTIN_PROFILE_DIR: the shipped profiles are package data (issue 14).
if TYPE_CHECKING:
    TlsVariant = str  # the names are data (harness.variants): a type checker sees a string
else:
    TlsVariant = Literal[tuple(TLS_VARIANTS)]  # pydantic checks the name against the data

# D-BD: BD table rates, and the non-standard range 0x4B0-0xEC400 the module also accepts.
STANDARD_BAUDS = tuple(at.BAUD_RATES.values())
NONSTANDARD_BAUD_RANGE = (0x4B0, 0xEC400)

# Parameters the harness sets itself from another part of the profile or from the test axes;
# a baseline that sets them would fight the harness.
HARNESS_OWNED: dict[str, str] = {
    "AP": "the mode axis (`modes:`, --mode)",  # D-AP
    "BD": "`device.baud`",  # D-BD
    "$0": "the TLS-variant axis (`tls_variants:`)",  # D-TLS p.100
    "$1": "the TLS-variant axis (`tls_variants:`)",
    "$2": "the TLS-variant axis (`tls_variants:`)",
    "AN": "`network.apn`",  # L-TG
    "CU": "`network.apn_user`",  # L-TG
    "CW": "`network.apn_password`",  # L-TG
}
AT_NAME = re.compile(r"^[A-Z0-9$%#]{2}$")  # D-CMD: AT + two-character command
SECRET_KEYS = frozenset({"apn_user", "apn_password"})
# target files, relative to their profile file
PATH_KEYS = ("ca", "client_cert", "client_key", "leaf", "intermediate", "client_cert_v1")
# The targets the harness reads (harness/pytest_plugin/devices.py, the `server` of
# harness/variants.py): a profile naming another one would be ignored without a word, so it
# is refused.
TARGET_NAMES = ("http", "https", "mutual")



def _check_at_name(name: str) -> str:
    """A parameter the module holds, by its name in the AT catalogue (harness/xbee/at.py)."""
    if not AT_NAME.match(name):
        hint = f" (did you mean {name.upper()!r}?)" if AT_NAME.match(name.upper()) else ""
        raise ValueError(f"not an AT command name: {name!r}; Digi names are two characters{hint}")
    row = at.CATALOGUE.get(name)
    if row is None:
        raise ValueError(f"{name} is not in the AT catalogue (harness/xbee/at.py)")
    if row.kind is at.Kind.COMMAND:
        raise ValueError(f"{name} is a command, not a parameter ({row.source})")
    if row.readonly:
        raise ValueError(f"{name} is read-only on the module ({row.source})")
    return name


def _check_baseline_name(name: str) -> str:
    _check_at_name(name)
    if name in HARNESS_OWNED:
        raise ValueError(f"{name} is set by the harness from {HARNESS_OWNED[name]}")
    return name


def _check_scalar(value: Any) -> int | str:
    # A YAML int (0x64 is hex in YAML 1.1) is a number the configure step writes in hex;
    # a string goes to the module as written (DL: google.com, DE: 1BB).
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            "an AT value is a number or a string (quote YAML words like yes/no/on/off), "
            f"not {type(value).__name__}"
        )
    return value


def check_baud(value: int) -> int:
    low, high = NONSTANDARD_BAUD_RANGE
    if value not in STANDARD_BAUDS and not low <= value <= high:
        raise ValueError(f"{value} is not a rate BD can set ({low}-{high}; D-BD)")
    return value


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"no such file: {path} (a relative path is relative to its profile)")
    return path


def _check_personality(name: str) -> str:
    known = known_personalities()
    if known and name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"no simulator personality {name!r} ({hint}known: {', '.join(known)})")
    return name


def _check_target_name(name: str) -> str:
    if name not in TARGET_NAMES:
        close = difflib.get_close_matches(name, TARGET_NAMES, n=1, cutoff=0.4)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"unknown target {name!r}: the harness reads only {', '.join(TARGET_NAMES)} ({hint}"
            "mutual is the mutual-TLS server)"
        )
    return name


def _secret_from_env(value: Any) -> Any:
    """`{env: NAME}` takes a secret from the environment, so it is never in the YAML file."""
    if isinstance(value, Mapping):
        if set(value) != {"env"} or not isinstance(value["env"], str):
            raise ValueError("a secret is a string or {env: VARIABLE_NAME}")
        name = value["env"]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]
    return value


AtName = Annotated[str, AfterValidator(_check_at_name)]
BaselineName = Annotated[str, AfterValidator(_check_baseline_name)]
AtValue = Annotated[Any, BeforeValidator(_check_scalar)]
TargetName = Annotated[str, AfterValidator(_check_target_name)]
HostFile = Annotated[Path, AfterValidator(_existing_file)]
Personality = Annotated[str, AfterValidator(_check_personality)]


def _check_family(name: str) -> str:
    from harness.xbee.firmware import FAMILIES

    if name not in FAMILIES:
        raise ValueError(f"unknown firmware family {name!r}; known: {', '.join(FAMILIES)}")
    return name
Secret = Annotated[SecretStr, BeforeValidator(_secret_from_env)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AtReset(_Strict):
    """Reset by `ATFR` (software reset; TinyGSM does the same: L-TG); a module that does not
    answer cannot take it, so a frozen one stops the run (A-BENCH-RECOVER)."""

    method: Literal["at"] = "at"


class CommandReset(_Strict):
    """The module's power switch is an external command (relay, PDU, GPIO), run without a
    shell: every reset of the run is that command, never FR (A-BENCH-RECOVER). `timeout`
    bounds the command and then the module's return."""

    method: Literal["command"]
    command: list[str] = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return shlex.split(value) if isinstance(value, str) else value


class PowerReset(_Strict):
    """The module's power switch is the device's own: a labgrid place's power driver
    (`labgrid-client power cycle`, A-LG-RESET-POWER) or the simulator's power cycle. Every
    reset of the run switches it off and on, never FR (A-BENCH-RECOVER)."""

    method: Literal["power"]


class NoReset(_Strict):
    """Never reset this module: a run that needs a reset (a leftover socket only a reset
    closes, a recovery) stops with one reason, the module untouched."""

    method: Literal["none"]


def _reset_shorthand(value: Any) -> Any:
    return {"method": value} if isinstance(value, str) else value


# How the harness resets the module, every time it does (the leftover check, recovery;
# A-BENCH-RECOVER): `at` (FR; a silent module cannot take it), `command` or `power` (the
# module's power switch: always the switch, never FR), `none` (never: the run stops with one
# reason).
Reset = Annotated[
    AtReset | CommandReset | PowerReset | NoReset,
    Field(discriminator="method"),
    BeforeValidator(_reset_shorthand),
]


def _check_faults(texts: list[str]) -> list[str]:
    from harness.sim.core import faults  # pure data; imported only when a profile names one

    if texts:
        try:
            faults.parse_all(texts, where="fault")
        except faults.FaultError as exc:
            raise ValueError(str(exc)) from None
    return texts


class Device(_Strict):
    baud: Annotated[int, AfterValidator(check_baud)] = 9600  # D-BD default BD=3
    # The simulator's firmware personality (`--device sim` without `:NAME`); unused on hardware.
    personality: Personality | None = None
    # The firmware family (harness/xbee/firmware.py) when VR/HV should not decide it.
    firmware: Annotated[str, AfterValidator(_check_family)] | None = None
    reset: Reset = AtReset()
    # Budgets of the session-level waits, outside the per-test timeout (pytest_plugin/budget.py):
    # opening the port (first contact, VR/HV, snapshot, the chain fetch), and the
    # certificate uploads of one test. Registration has `network.registration_timeout`.
    open_timeout: float = Field(default=120.0, gt=0)
    upload_timeout: float = Field(default=300.0, gt=0)
    # How long a request waits for the response's first byte before asking the module what
    # happened (CI); unset: harness/pytest_plugin/devices.py FIRST_BYTE_HARDWARE. In
    # transparent mode a refused or failed connection is silence, so this is what each such
    # cell costs
    # (A-FIRST-BYTE-PROFILE).
    first_byte_timeout: float | None = Field(default=None, gt=0)
    # After its first command-mode entry the harness writes a short GT (and CT) for the run
    # and restores the module's own at the end (harness/device/guard.py, A-SHORT-GT); false
    # keeps the module's GT, for a user who must test the production guard time.
    short_guard_time: bool = True
    # Named faults (`xbee-sim --list-faults`) the simulator carries from power-up; only
    # valid with `--device sim` (a real module's faults are its own).
    faults: Annotated[list[str], AfterValidator(_check_faults)] = Field(default_factory=list)


class Network(_Strict):
    apn: str | None = None
    apn_user: Secret | None = None
    apn_password: Secret | None = None
    # A-REG-TIMEOUT: how long AI may take to reach 0x00 after a reset
    registration_timeout: float = Field(default=180.0, gt=0)


class Target(_Strict):
    url: str
    expect_status: int = Field(default=200, ge=100, le=599)
    ca: HostFile | None = None
    client_cert: HostFile | None = None
    client_key: HostFile | None = None
    # The same key's certificate as X.509 v1 (no extensions), for `client-cert-v1`: LTE-M
    # takes no v3 client certificate (D-TLS-101); `openssl x509 -req` without extensions
    # makes one. Unset: that variant is skipped, naming the key.
    client_cert_v1: HostFile | None = None
    # The server's own leaf and intermediate for `leaf-as-ca` / `intermediate-as-ca` on a
    # bench; when absent the harness fetches the chain from the host (harness/chain.py).
    leaf: HostFile | None = None
    intermediate: HostFile | None = None
    local: bool = False  # served by harness.servers on loopback (the simulator's internet)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value

    @property
    def scheme(self) -> str:
        return urllib.parse.urlsplit(self.url).scheme

    @model_validator(mode="after")
    def _tls_files(self) -> Target:
        files = (self.ca, self.client_cert, self.client_key, self.leaf, self.intermediate,
                 self.client_cert_v1)
        if self.scheme == "http" and any(files):
            raise ValueError(
                "ca / client_cert / client_key / leaf / intermediate only make sense for an "
                "https URL"
            )
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together (D-TLS p.100)")
        if self.client_cert_v1 is not None and self.client_key is None:
            raise ValueError("client_cert_v1 needs the client_key it certifies (D-TLS p.100)")
        return self


def _check_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
# RFC 2606 reserves .invalid: no DNS resolves it, on a bench or in the simulator.
UNRESOLVABLE_URL = "http://no-such-host.invalid/"


class FaultTargets(_Strict):
    """Endpoints the resilience suite's host-side faults fail against on a bench
    (suites/test_faults.py; `python -m harness.servers.faulty` serves the first three).
    Unset: that fault's test is skipped, naming the key. The simulator has its own."""

    server_down: Url | None = None  # a port nothing listens on (refused)
    server_reset: Url | None = None  # sends part of a response, then resets (RST)
    slow_server: Url | None = None  # answers later than device.first_byte_timeout
    unresolvable: Url = UNRESOLVABLE_URL  # a name no DNS resolves

    def urls(self) -> dict[str, str]:
        """By the name the suite asks `port.urls` for ("server-down", …)."""
        return {k.replace("_", "-"): v for k, v in self.model_dump().items() if v is not None}


class Nvm(_Strict):
    """What the harness may persist on the module. WR also needs --allow-nvm-write."""

    params: list[AtName] = Field(default_factory=list)
    upload_certificates: bool = True  # files on /flash/cert are always persistent (D-FS)


def _unique(values: list[str]) -> list[str]:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"listed twice: {', '.join(dupes)}")
    return values


class Profile(_Strict):
    """A validated profile. `source` is the file it came from, `chain` its extends chain."""

    name: str | None = None
    description: str = ""
    device: Device = Device()
    network: Network = Network()
    baseline: dict[BaselineName, AtValue] = Field(default_factory=dict)
    targets: dict[TargetName, Target] = Field(default_factory=dict)
    modes: Annotated[list[Mode], AfterValidator(_unique)] = Field(
        default_factory=lambda: list(MODES), min_length=1
    )
    tls_variants: Annotated[list[TlsVariant], AfterValidator(_unique)] = Field(
        default_factory=lambda: list(TLS_VARIANTS)
    )
    nvm: Nvm = Nvm()
    fault_targets: FaultTargets = FaultTargets()

    _source: Path | None = PrivateAttr(default=None)
    _chain: tuple[Path, ...] = PrivateAttr(default=())
    _marks: dict[Path_, Mark] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def chain(self) -> tuple[Path, ...]:
        return self._chain

    @property
    def label(self) -> str:
        """The name reports show: `name:`, else the file's stem."""
        if self.name:
            return self.name
        return self._source.stem if self._source else "profile"

    def local_targets_issue(self, device: str) -> Issue | None:
        """One line refusing `local: true` targets for a device that is not simulated: they
        are the simulator's loopback internet, and on a module they would go to the real
        network under the same names (google.com) without a word."""
        local = [name for name, t in self.targets.items() if t.local]
        if not local:
            return None
        mark = self._marks.get(("targets", local[0], "local")) or self._marks.get(())
        file = mark.file if mark else str(self._source or self.label)
        others = f" (also {', '.join(f'targets.{n}' for n in local[1:])})" if local[1:] else ""
        return Issue(
            file, mark.line if mark else None, mark.column if mark else None,
            f"targets.{local[0]}.local",
            f"a local (simulated, loopback) target cannot be used with --device {device}, a "
            f"real module{others}; use a profile whose targets are real servers "
            "(e.g. --profile cat1-att)",
        )  # fmt: skip

    def redacted(self) -> dict[str, Any]:
        """The profile as JSON-able data with secrets masked (for reports and logs)."""
        return self.model_dump(mode="json")  # SecretStr dumps as '**********'

