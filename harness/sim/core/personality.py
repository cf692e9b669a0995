"""Personalities: one YAML file per firmware, loaded into a typed, checked object.

Firmware differences are data, not `if` chains: identity values, parameter defaults and
ranges, registration timing, socket limits and quirks here; the features the firmware has
and the code a `Failure` becomes come from its firmware family (`harness.xbee.firmware`,
named by `family:`), the table the suites read on hardware too, so they are written once.
Every row carries its provenance (a source tag, or
`assumption: true` with evidence); a file without it does not load. A bad file gives a
`PersonalityError` naming the file, the line and the key.
"""

from __future__ import annotations

import functools
import importlib.resources
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness import yamlmarks
from harness.sim.core import registry as feature_registry
from harness.sim.core.effects import Failure
from harness.xbee import at
from harness.xbee import firmware as fw

DEFAULT = "cat1-3100C"
CODE_KINDS = ("ci", "tx_status", "socket_status")


class PersonalityError(ValueError):
    """A personality file that cannot be used; the message names file, line and key."""


class _Sourced(BaseModel):
    """Provenance every row carries: a reference source tag, or a marked assumption."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    assumption: bool = False
    evidence: str | None = None

    @model_validator(mode="after")
    def _has_provenance(self) -> _Sourced:
        if self.assumption and not self.evidence:
            raise ValueError("an assumption needs `evidence`")
        if not self.assumption and not self.source:
            raise ValueError("needs `source` (a reference tag) or `assumption: true` + `evidence`")
        return self


class Row(_Sourced):
    value: Any


class Registration(_Sourced):
    initializing_s: float = Field(ge=0)  # AI 0xFF
    registering_s: float = Field(ge=0)  # AI 0x22
    connecting_s: float = Field(ge=0)  # AI 0x23


class Sockets(_Sourced):
    max_total: int = Field(ge=1)
    max_tcp: int = Field(ge=0)
    max_udp: int = Field(ge=0)
    max_tls: int = Field(ge=0)
    # TX requests one socket may hold unsent before 0x89 0x32 (D-SOCKLIM-147 says a limit
    # exists, not its number: the row carries its own provenance); None: no limit
    pending_tx: Row | None = None


class Codes(_Sourced):
    ci: int = Field(ge=0, le=0xFF)
    tx_status: int = Field(ge=0, le=0xFF)
    socket_status: int = Field(ge=0, le=0xFF)


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reset_s: Row
    # module seconds between the last 0xCD of a socket and a peer close's 0xCF
    # (A-SIM-CLOSE-SPACING); None: back to back
    close_after_data_s: Row | None = None


class _File(BaseModel):
    """The YAML file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    product: str
    source: str
    family: str  # harness.xbee.firmware family: codes and features
    identity: dict[str, Row]
    network: dict[str, Row] = {}
    # what a network query answers before registration, where not the catalogue default
    # (LTE-M DB 0x69 "signal unknown": L-TG-HEAD, field-evidence §1d, A-NET-VALUES)
    network_unregistered: dict[str, Row] = {}
    defaults: dict[str, Row] = {}
    ranges: dict[str, Row] = {}
    registration: Registration
    timing: Timing
    sockets: Sockets
    codes: dict[str, Codes] = {}  # overrides of the family's codes (fault injection only)
    quirks: dict[str, Row] = {}
    # AT name -> module seconds before the answer (a slow MY, AI, TM write: L-TG-HEAD)
    reply_latency: dict[str, Row] = {}

    @field_validator("reply_latency")
    @classmethod
    def _latency_rows(cls, rows: dict[str, Row]) -> dict[str, Row]:
        for name, row in rows.items():
            if name.upper() not in at.CATALOGUE:
                raise ValueError(f"{name}: not in the AT catalogue (harness/xbee/at.py)")
            value = row.value
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name}: a latency is a number of seconds >= 0")
            bound = at.CATALOGUE[name.upper()].reply_timeout
            if bound is not None and value >= bound:  # the device layer would give up first
                raise ValueError(f"{name}: {value} s is not under the {bound:g} s the harness "
                                 "waits for it (harness/xbee/at.py reply_timeout)")
        return rows

    @field_validator("identity", "network", "network_unregistered", "defaults")
    @classmethod
    def _values_fit_catalogue(cls, rows: dict[str, Row]) -> dict[str, Row]:
        for name, row in rows.items():
            try:
                at.validate(name, row.value)
            except at.AtError as err:
                raise ValueError(f"{name}: {err}") from None
        return rows

    @field_validator("ranges")
    @classmethod
    def _ranges_shape(cls, rows: dict[str, Row]) -> dict[str, Row]:
        for name, row in rows.items():
            if at.spec(name).kind is not at.Kind.HEX:
                raise ValueError(f"{name}: ranges only apply to numeric commands")
            ok = isinstance(row.value, list) and all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(v, int) for v in r)
                and r[0] <= r[1] for r in row.value)
            if not ok:
                raise ValueError(f"{name}: value must be a list of [low, high] pairs")
        return rows

    @field_validator("family")
    @classmethod
    def _known_family(cls, name: str) -> str:
        try:
            family = fw.get(name)
        except KeyError as err:
            raise ValueError(err.args[0]) from None
        missing = sorted({f.value for f in Failure} - set(family.codes))
        if missing:
            raise ValueError(f"family {name}: missing failure reason(s) {missing}")
        unknown = sorted(set(family.features) - set(feature_registry.FEATURE_NAMES))
        if unknown:
            raise ValueError(f"family {name}: unknown feature(s) {unknown}")
        return name

    @field_validator("codes")
    @classmethod
    def _known_failures(cls, rows: dict[str, Codes]) -> dict[str, Codes]:
        known = {f.value for f in Failure}
        unknown = sorted(set(rows) - known)
        if unknown:
            raise ValueError(f"unknown failure reason(s) {unknown}; known: {sorted(known)}")
        return rows


_K = TypeVar("_K")
_V = TypeVar("_V")


def _frozen(d: dict[_K, _V]) -> Mapping[_K, _V]:
    return types.MappingProxyType(d)


class Personality:
    """A firmware's data, ready for the Modem and its features (read-only: it is shared)."""

    def __init__(self, data: _File, path: Path) -> None:
        self.path = path
        self.name = data.name
        self.product = data.product
        self.identity: Mapping[str, at.Value] = _frozen(
            {k.upper(): v.value for k, v in data.identity.items()})
        self.network: Mapping[str, at.Value] = _frozen(
            {k.upper(): v.value for k, v in data.network.items()})
        self.network_unregistered: Mapping[str, at.Value] = _frozen(
            {k.upper(): v.value for k, v in data.network_unregistered.items()})
        self.defaults: Mapping[str, at.Value] = _frozen(
            {k.upper(): v.value for k, v in data.defaults.items()})
        self.ranges: dict[str, tuple[tuple[int, int], ...]] = {
            k.upper(): tuple((lo, hi) for lo, hi in v.value) for k, v in data.ranges.items()}
        self.registration = data.registration
        self.reset_s = float(data.timing.reset_s.value)
        spacing = data.timing.close_after_data_s
        self.close_after_data_s = float(spacing.value) if spacing is not None else 0.0
        self.family = fw.get(data.family)
        self.features: tuple[str, ...] = tuple(self.family.features)
        self.sockets = data.sockets
        codes: dict[Failure, Codes | fw.Codes] = {
            Failure(k): v for k, v in self.family.codes.items()}
        codes.update({Failure(k): v for k, v in data.codes.items()})
        self.codes: Mapping[Failure, Codes | fw.Codes] = _frozen(codes)
        self.quirks: Mapping[str, Any] = _frozen({k: v.value for k, v in data.quirks.items()})
        self.reply_latency: Mapping[str, float] = _frozen(
            {k.upper(): float(v.value) for k, v in data.reply_latency.items()})
        self.raw = data

    def __repr__(self) -> str:
        return f"Personality({self.name!r}, VR={self.identity.get('VR', 0):X})"

    def has_feature(self, name: str) -> bool:
        return name in self.features

    def default(self, name: str) -> at.Value | None:
        """This firmware's default for a parameter: the file's, else the catalogue's."""
        name = name.upper()
        if name in self.defaults:
            return self.defaults[name]
        return at.spec(name).default

    def allows(self, name: str, value: int) -> bool:
        """Range check with this firmware's overrides (e.g. BD on *13 and earlier, D-BD)."""
        name = name.upper()
        if name in self.ranges:
            return any(lo <= value <= hi for lo, hi in self.ranges[name])
        return at.spec(name).allows(value)

    def code(self, failure: Failure, kind: str) -> int:
        """CI / TX status / socket status for a failure reason on this firmware."""
        if kind not in CODE_KINDS:
            raise KeyError(f"code kind {kind!r}; expected one of {CODE_KINDS}")
        return int(getattr(self.codes[failure], kind))

    def quirk(self, name: str, default: Any = None) -> Any:
        return self.quirks.get(name, default)


def available() -> list[str]:
    """Names of the personalities shipped with the package."""
    folder = importlib.resources.files("harness.sim.core") / "personalities"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir()
                  if p.name.endswith(".yaml"))


def load(name_or_path: str | Path = DEFAULT) -> Personality:
    """A shipped personality by name (`cat1-3100C`), or any YAML file by path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        folder = importlib.resources.files("harness.sim.core") / "personalities"
        candidate = folder / f"{name_or_path}.yaml"
        if not candidate.is_file():
            raise PersonalityError(
                f"no personality {str(name_or_path)!r}; available: {', '.join(available())}")
        path = Path(str(candidate))
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as err:
        raise PersonalityError(f"{path}: cannot read: {err.strerror}") from None
    return _load_file(str(path), stamp)


@functools.lru_cache(maxsize=32)
def _load_file(path: str, stamp: int) -> Personality:
    """Parsed once per file version: a Personality is read-only data."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise PersonalityError(f"{path}: cannot read: {err.strerror}") from None
    return loads(text, path)


def loads(text: str, path: Path | str = "<personality>") -> Personality:
    """Parse and check personality YAML text; `path` is only used in error messages."""
    path = Path(path)
    try:  # no aliases, bounded nesting (A-YAML-SAFE)
        data, node = yamlmarks.load(text, str(path), "not valid YAML")
    except yamlmarks.YamlInputError as err:
        raise PersonalityError(str(err)) from None
    if not isinstance(data, dict):
        raise PersonalityError(f"{path}: expected a mapping at the top level")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        key = ".".join(loc) or "(top level)"
        extra = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise PersonalityError(f"{where}: {key}: {first['msg']}{extra}") from None
    return Personality(parsed, path)


def _line_of(node: yaml.Node | None, loc: tuple[str, ...]) -> int | None:
    """1-based line of the deepest YAML node along a pydantic error location."""
    return yamlmarks.line_of(node, loc, value=True)
