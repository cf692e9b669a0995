"""YAML profiles: what a bench (or the simulator) is, validated strictly, errors at file:line.

A profile says which module is on the bench and how to reach and reset it, the network it
registers on, the AT baseline every test starts from, the HTTP/HTTPS targets, which modes and
TLS variants the suites run, and what may be written to the module's NVM. `extends:` builds a
profile on another one (deep merge; the child's lists and scalars replace the parent's).

Why the line numbers: a profile is hand-written and a typo must not cost a bench run. The YAML
is composed into PyYAML nodes (which keep their marks), turned into plain data with a map
from key path to (file, line, column), validated by pydantic (`extra="forbid"`), and every
pydantic error location is mapped back to the YAML line that caused it.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import types
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from harness import yamlmarks
from harness.variants import VARIANTS
from harness.xbee import at

# Where `--profile NAME` and the default profile are looked up when not found from the cwd.
BUILTIN_PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"
DEFAULT_PROFILE = "sim"
# The simulator's firmware personalities (data files of harness.sim), by file stem.
PERSONALITY_DIR = Path(__file__).resolve().parent / "sim" / "core" / "personalities"
PROFILE_SUFFIXES = (".yaml", ".yml")

Mode = Literal["transparent", "api", "api-escaped"]
MODES: tuple[str, ...] = get_args(Mode)
# The API mode each mode sets (D-AP): AP=0 transparent, AP=1 API, AP=2 API with escapes.
AP_FOR_MODE: dict[str, int] = {"transparent": 0, "api": 1, "api-escaped": 2}

# TLS variants by name; what each one is (files, $0, expected outcome) is `harness.variants`.
TLS_VARIANTS: tuple[str, ...] = tuple(VARIANTS)
TlsVariant = Literal[tuple(TLS_VARIANTS)]  # type: ignore[valid-type]

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
PATH_KEYS = ("ca", "client_cert", "client_key", "leaf", "intermediate")
# The targets the harness reads (harness/pytest_plugin/devices.py, the `server` of
# harness/variants.py): a profile naming another one would be ignored without a word, so it
# is refused.
TARGET_NAMES = ("http", "https", "mutual")


# ----- errors --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a profile, at the place a person must edit."""

    file: str
    line: int | None
    column: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ProfileError(Exception):
    """A profile that cannot be used; `str()` is one `file:line:col: key: message` per issue."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


# ----- YAML with marks -----------------------------------------------------------------------

Path_ = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    file: str
    line: int
    column: int


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, *yamlmarks.mark_of(node))


def _display(path: Path) -> str:
    """A path as the user typed it when it is relative to the cwd, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> tuple[Any, dict[Path_, Mark]]:
    """Load one YAML file into plain data plus a mark for every key path (and the root ()).

    Loaded with `harness.yamlmarks.SafeLoader`: no aliases, bounded nesting (A-YAML-SAFE)."""
    file = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError([Issue(file, None, None, "", "no such profile file")]) from None
    except UnicodeDecodeError as exc:
        raise ProfileError(
            [Issue(file, None, None, "", f"not UTF-8 text (byte {exc.start}); is it a profile?")]
        ) from None
    except OSError as exc:
        raise ProfileError([Issue(file, None, None, "", f"cannot read: {exc}")]) from None
    try:
        loader = yamlmarks.SafeLoader(text)
    except yaml.YAMLError as exc:  # a NUL or other control character
        bad = yamlmarks.error(file, text, exc)
        raise ProfileError([Issue(file, bad.line, bad.column, "", bad.message)]) from None
    loader.name = file
    try:
        node = loader.get_single_node()
        if node is None:  # A-YAML-EMPTY: an empty file is a mistake, not "all defaults"
            raise ProfileError(
                [Issue(file, None, None, "", "empty profile (no YAML mapping in the file)")]
            )
        marks: dict[Path_, Mark] = {}
        data = _walk(loader, node, (), marks, file)
    except yaml.YAMLError as exc:
        bad = yamlmarks.error(file, text, exc)
        raise ProfileError([Issue(file, bad.line, bad.column, "", bad.message)]) from None
    finally:
        loader.dispose()
    return data, marks


def _walk(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path_, marks: dict[Path_, Mark], file: str
) -> Any:
    marks.setdefault(path, _mark(file, node))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<), as SafeLoader would
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = yamlmarks.mark_of(key_node)
                why = "a key must be a plain scalar"
                raise ProfileError([Issue(file, *where, _dotted(path), why)])
            key = loader.construct_object(key_node)
            if key in out:
                first = marks[(*path, key)]
                raise ProfileError(
                    [
                        Issue(
                            file,
                            *yamlmarks.mark_of(key_node),
                            _dotted((*path, key)),
                            f"duplicate key (first set at line {first.line})",
                        )
                    ]
                )
            marks[(*path, key)] = _mark(file, key_node)
            out[key] = _walk(loader, value_node, (*path, key), marks, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, (*path, i), marks, file) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ----- schema --------------------------------------------------------------------------------


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


def known_personalities() -> list[str]:
    return sorted(p.stem for p in PERSONALITY_DIR.glob("*.yaml"))


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
    """Reset by `ATFR` (software reset; TinyGSM does the same: L-TG)."""

    method: Literal["at"] = "at"


class CommandReset(_Strict):
    """Reset by an external command (relay, PDU, GPIO), run without a shell."""

    method: Literal["command"]
    command: list[str] = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return shlex.split(value) if isinstance(value, str) else value


def _reset_shorthand(value: Any) -> Any:
    return {"method": value} if isinstance(value, str) else value


Reset = Annotated[
    AtReset | CommandReset, Field(discriminator="method"), BeforeValidator(_reset_shorthand)
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
        files = (self.ca, self.client_cert, self.client_key, self.leaf, self.intermediate)
        if self.scheme == "http" and any(files):
            raise ValueError(
                "ca / client_cert / client_key / leaf / intermediate only make sense for an "
                "https URL"
            )
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together (D-TLS p.100)")
        return self


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
            "(profiles/cat1-att.yaml)",
        )  # fmt: skip

    def redacted(self) -> dict[str, Any]:
        """The profile as JSON-able data with secrets masked (for reports and logs)."""
        return self.model_dump(mode="json")  # SecretStr dumps as '**********'


# ----- loading -------------------------------------------------------------------------------


def find_profile(ref: str, search: tuple[Path, ...] = ()) -> Path:
    """A `--profile` value to a file: a path as given, else NAME(.yaml) in `profiles/` dirs.

    `search` lists directories to try first (the invocation dir's `profiles/`); the profiles
    shipped with the harness come last, so `--profile sim` works from anywhere.
    """
    direct = Path(ref).expanduser()
    if direct.is_file():
        return direct.resolve()
    if os.sep not in ref and "/" not in ref:
        names = [ref] if ref.endswith(PROFILE_SUFFIXES) else [ref + s for s in PROFILE_SUFFIXES]
        for directory in (*search, BUILTIN_PROFILE_DIR):
            for name in names:
                candidate = directory / name
                if candidate.is_file():
                    return candidate.resolve()
    raise ProfileError([Issue(ref, None, None, "", "no such profile file or profile name")])


def load_profile(path: str | Path) -> Profile:
    """Load, merge (`extends:`) and validate a profile. Raises `ProfileError`, nothing else."""
    path = Path(path).resolve()
    data, marks, chain = _load_chain(path, (), None)
    baseline, issues = _baseline_values(data.get("baseline"), marks, _display(path))
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        issues = _issues(exc, marks, _display(path)) + issues
    if issues:
        raise ProfileError(sorted(issues, key=lambda i: (i.file, i.line or 0, i.column or 0)))
    profile = profile.model_copy(update={"baseline": baseline})
    profile._source = path
    profile._chain = chain
    profile._marks = marks
    return profile


def check(path: str | Path) -> list[Issue]:
    """Every issue in a profile (empty when it is good); for `xbee-hil profile check`."""
    try:
        load_profile(path)
    except ProfileError as exc:
        return exc.issues
    return []


def _baseline_values(
    raw: Any, marks: dict[Path_, Mark], root_file: str
) -> tuple[dict[str, Any], list[Issue]]:
    """Each baseline value checked against its catalogue row (type, range, length) and
    normalised: a hex parameter written as text (`DE: 1BB`) is the number the module reads
    (D-CMD). Names the schema rejects are left to the schema's own message."""
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    if not isinstance(raw, dict):
        return values, issues
    for name, value in raw.items():
        row = at.CATALOGUE.get(name) if isinstance(name, str) else None
        if row is None or row.kind is at.Kind.COMMAND or isinstance(value, bool | list | dict):
            continue
        try:
            if row.kind is at.Kind.HEX and isinstance(value, str):
                value = at.parse_hex(value, what=f"AT{name}")
            values[name] = at.validate(name, value)
        except at.AtError as exc:
            mark = marks.get(("baseline", name))
            line, col = (mark.line, mark.column) if mark else (None, None)
            file = mark.file if mark else root_file
            shown = str(exc) if not row.secret else f"AT{name}: invalid value"
            issues.append(Issue(file, line, col, f"baseline.{name}", shown))
    return values, issues


def _load_chain(
    path: Path, stack: tuple[Path, ...], referrer: Mark | None
) -> tuple[dict[str, Any], dict[Path_, Mark], tuple[Path, ...]]:
    if path in stack:
        cycle = " -> ".join(_display(p) for p in (*stack[stack.index(path) :], path))
        if referrer is None:
            raise ProfileError([Issue(_display(path), None, None, "extends", f"cycle: {cycle}")])
        raise ProfileError(
            [Issue(referrer.file, referrer.line, referrer.column, "extends", f"cycle: {cycle}")]
        )
    data, marks = read_yaml(path)
    file = _display(path)
    if data is None or data == {}:
        m = marks[()]
        raise ProfileError(
            [Issue(file, m.line, m.column, "", "the profile is empty (name at least its targets)")]
        )
    if not isinstance(data, dict):
        m = marks[()]
        raise ProfileError([Issue(file, m.line, m.column, "", "a profile is a YAML mapping")])
    _resolve_paths(data, path.parent)
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data, marks, (path,)
    where = marks[("extends",)]
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ProfileError(
            [Issue(file, where.line, where.column, "extends", "extends names one profile file")]
        )
    parent_path = _extends_target(path.parent, parent_ref)
    if parent_path is None:
        raise ProfileError(
            [Issue(file, where.line, where.column, "extends", f"no such profile: {parent_ref}")]
        )
    base, base_marks, chain = _load_chain(parent_path, (*stack, path), where)
    merged, merged_marks = _merge(base, base_marks, data, marks, ())
    return merged, merged_marks, (path, *chain)


def _extends_target(directory: Path, ref: str) -> Path | None:
    candidate = (directory / ref).resolve()
    if candidate.is_file():
        return candidate
    if not ref.endswith(PROFILE_SUFFIXES):
        for suffix in PROFILE_SUFFIXES:
            if (with_suffix := candidate.with_name(candidate.name + suffix)).is_file():
                return with_suffix
    return None


def _resolve_paths(data: dict[str, Any], directory: Path) -> None:
    """Target files are relative to the profile file that names them, not to the cwd."""
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return
    for target in targets.values():
        if not isinstance(target, dict):
            continue
        for key in PATH_KEYS:
            value = target.get(key)
            if isinstance(value, str) and value:
                target[key] = str((directory / Path(value).expanduser()).resolve())


def _merge(
    base: Any, base_marks: dict[Path_, Mark], child: Any, child_marks: dict[Path_, Mark], at: Path_
) -> tuple[Any, dict[Path_, Mark]]:
    """Deep-merge mappings; anything else in the child replaces the base (marks follow)."""
    marks = dict(base_marks) if at == () else base_marks
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            sub = (*at, key)
            if key in out:
                out[key], marks = _merge(out[key], marks, value, child_marks, sub)
            else:
                out[key] = value
                marks.update(_subtree(child_marks, sub))
            marks[sub] = child_marks[sub]
        return out, marks
    for key in [k for k in marks if k[: len(at)] == at and len(k) > len(at)]:
        del marks[key]
    marks.update(_subtree(child_marks, at))
    return child, marks


def _subtree(marks: dict[Path_, Mark], at: Path_) -> Iterator[tuple[Path_, Mark]]:
    return ((k, m) for k, m in marks.items() if k[: len(at)] == at)


_PYDANTIC_LOC_NOISE = re.compile(r"^(function-|\[key\]$|int$|str$|list\[|dict\[|tagged-union)")


def _issues(exc: ValidationError, marks: dict[Path_, Mark], root_file: str) -> list[Issue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        matched: Path_ = ()
        for part in loc:
            if (*matched, part) in marks:
                matched = (*matched, part)
        key_parts = list(matched)
        if error["type"] == "missing" and loc and loc[-1] not in key_parts:
            key_parts.append(loc[-1])
        mark = marks.get(matched) or marks.get(())
        key = _dotted(tuple(key_parts))
        message = _message(error, matched)
        if mark is None:
            issues.append(Issue(root_file, None, None, key, message))
        else:
            issues.append(Issue(mark.file, mark.line, mark.column, key, message))
    return issues


def _allowed_keys(path: Path_) -> list[str]:
    """The keys the schema takes at `path` (for "did you mean"), or [] when it cannot tell."""
    model: Any = Profile
    expect_key = False  # the previous part was a dict field: this part is a free name
    for part in path:
        if expect_key:
            expect_key = False
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model, expect_key = _unwrap(field.annotation)
    if expect_key or not hasattr(model, "model_fields"):
        return []
    return [*model.model_fields, *(["extends"] if model is Profile else [])]


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The model a field holds (through Optional / Annotated / dict values / unions)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is dict:
        return _unwrap(get_args(annotation)[1])[0], True
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if hasattr(arg, "model_fields"):
                return arg, False
    return annotation, False


def _message(error: Mapping[str, Any], path: Path_) -> str:
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1])
        if not allowed:
            return "unknown key"
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key ({hint}keys here: {', '.join(allowed)})"
    if kind == "missing":
        return "required key is missing"
    if any(p in SECRET_KEYS for p in path):
        return message  # never echo a secret
    value = error.get("input")
    if kind not in ("value_error", "assertion_error") and isinstance(value, str | int | float):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        message += f" (got {shown})"
    return message
