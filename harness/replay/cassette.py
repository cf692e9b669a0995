"""Cassettes: captures kept for replay — where each test's file lives, and what it was made of.

A cassette is an ordinary capture (`harness.capture`, JSON Lines). Two things make it one:

- its *name*, derived from the test's node id by `cassette_path(dir, nodeid)`: a file name that
  is safe on any OS (no Windows-reserved characters or names, bounded length) and that never
  lets two tests share a file — whenever turning the node id into a name loses anything
  (a replaced character, a separator inside a part, upper case on a case-insensitive disk,
  truncation), a short hash of the exact node id is appended;
- a `cassette` annotation (`stamp(writer, …)`) saying what was recorded: firmware VR/HV,
  personality or device, profile name and the SHA-256 of its file, harness version, and
  `source: simulator|hardware`. It is an annotation, not a header field, because firmware is
  known only after the harness has read it from the module; the latest stamp wins.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness import __version__
from harness.capture import CaptureError, CaptureWriter, iter_capture
from harness.servers import FILES

SUFFIX = ".jsonl"
FILE_SEP = "__"  # between the test file's dotted path and each `::` part of the node id
STAMP_EVENT = "cassette"
SOURCES = ("simulator", "hardware")
Source = Literal["simulator", "hardware"]

# File-name limits. 255 bytes is the usual per-name limit (ext4, NTFS, APFS); Windows paths
# without the long-path opt-in stop at 260 characters in all, so names stay well below that.
MAX_STEM = 96
HASH_LEN = 10  # hex digits of SHA-256(node id): 40 bits, ample for one suite's tests
# Characters kept as they are; everything else becomes "_" (and the name gets a hash).
# Windows forbids <>:"/\|?* and control characters; "[", "]", "=", "+", "," and "-" are legal.
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-\[\]=+,]")
# Names Windows reserves whatever the extension ("CON.jsonl" is the console too).
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(10)]
    + [f"LPT{i}" for i in range(10)]
    + ["COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"]
)


def _clean(part: str) -> tuple[str, bool]:
    """One dotted component made safe; True if something was replaced."""
    safe = _UNSAFE.sub("_", part)
    return safe, safe != part


def cassette_name(nodeid: str) -> str:
    """The file name (with `.jsonl`) for a pytest node id.

    `suites/test_https.py::test_get[api-root-ca]` is `suites.test_https__test_get[api-root-ca]`
    + `.jsonl`: the file's path joined by dots (no `.py`), then each `::` part after `__`.
    When anything is lost on the way, `-<hash of the node id>` goes before `.jsonl`.
    """
    if not nodeid.strip():
        raise ValueError("cassette_name: empty node id")
    lossy = False
    path, sep, rest = nodeid.partition("::")
    fparts: list[str] = []
    if sep:
        fparts = [p for p in re.split(r"[/\\]", path) if p not in ("", ".")]
        if fparts and fparts[-1].endswith(".py"):
            fparts[-1] = fparts[-1][:-3]
        else:
            lossy = True
        names = rest
    else:
        names = nodeid
        lossy = True  # not a file::test node id: keep it apart from real ones
    # "test_x[a.b::c]": the parameter id may hold anything, including "::"
    base, bracket, params = names.partition("[")
    tparts = base.split("::")
    for part in fparts + tparts:  # a separator inside a part would make two ids look alike
        lossy |= "." in part or FILE_SEP in part or part in ("", "..")
    fsafe = [_clean(p.replace(".", "_")) for p in fparts]
    tsafe = [_clean(p) for p in tparts]
    lossy |= any(changed for _, changed in fsafe + tsafe)
    stem = FILE_SEP.join(([".".join(s for s, _ in fsafe)] if fsafe else []) + [s for s, _ in tsafe])
    if bracket:
        safe, changed = _clean(params)
        lossy |= changed
        stem += "[" + safe
    if stem != stem.lower():  # case-insensitive disks (Windows, macOS) would merge A and a
        lossy = True
    first = stem.split(".", 1)[0].upper()
    if first in _RESERVED or first.rstrip(" ") != first:
        stem = "_" + stem
        lossy = True
    if len(stem) > MAX_STEM:
        stem = stem[: MAX_STEM - HASH_LEN - 1]
        lossy = True
    if lossy:
        digest = hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:HASH_LEN]
        stem = f"{stem}-{digest}"
    return stem + SUFFIX


def cassette_path(directory: str | Path, nodeid: str) -> Path:
    """Where the cassette of test `nodeid` lives in `directory` (recording and replay alike)."""
    return Path(directory) / cassette_name(nodeid)


# ----- what a cassette was recorded with ------------------------------------------------------


def profile_digest(profile: str | Path | bytes | None) -> str | None:
    """SHA-256 (hex) of a profile file's bytes, so a replay can tell a changed profile."""
    if profile is None:
        return None
    data = profile if isinstance(profile, bytes) else Path(profile).read_bytes()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Recording:
    """What a cassette was recorded with (the `cassette` annotation's fields)."""

    source: Source
    firmware: dict[str, str] = field(default_factory=dict)  # {"VR": "3100C", "HV": "4941"}
    personality: str | None = None  # simulator personality, or None on hardware
    device: str | None = None  # the --device spec
    profile: str | None = None  # profile name
    profile_sha256: str | None = None
    harness: str = __version__
    # What a replay must use to do what the recording did: the targets the harness reached
    # (the simulator's URLs, or the profile's), the PKI its uploads came from (a folder next
    # to the cassettes, `save_pki`), and the command-mode timeout (CT, real seconds) it knew,
    # since CT decides when the harness re-enters command mode (D-ENTER).
    urls: dict[str, str] = field(default_factory=dict)
    pki: str | None = None
    command_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"Recording.source must be one of {SOURCES}, got {self.source!r}")

    def fields(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "firmware": {k: str(v) for k, v in self.firmware.items()},
            "personality": self.personality,
            "device": self.device,
            "profile": self.profile,
            "profile_sha256": self.profile_sha256,
            "harness": self.harness,
            "urls": dict(self.urls),
            "pki": self.pki,
            "command_timeout": self.command_timeout,
        }


def stamp(writer: CaptureWriter, recording: Recording) -> None:
    """Mark a capture as a cassette: write the `cassette` annotation (call again to update)."""
    writer.note(STAMP_EVENT, **recording.fields())


@dataclass(frozen=True)
class CassetteInfo:
    """A cassette's header merged with its latest stamp; `recording` is None if unstamped."""

    path: Path
    test: str | None
    header: dict[str, Any]
    recording: Recording | None

    @property
    def firmware(self) -> dict[str, str]:
        if self.recording is not None and self.recording.firmware:
            return self.recording.firmware
        return dict(self.header.get("firmware") or {})

    def describe(self) -> str:
        fw = " ".join(f"{k}={v}" for k, v in self.firmware.items()) or "firmware unknown"
        src = self.recording.source if self.recording else "unstamped"
        return f"{self.path} ({self.test}; {src}; {fw}; recorded {self.header.get('started')})"


def read_info(path: str | Path) -> CassetteInfo:
    """Header and stamp of a cassette; a bad line raises `CaptureError` naming file:line.

    Read once per file version: a replay run asks for a deck's stamp for every test (its
    personality decides skips), and the stamp is the last event of a whole capture."""
    try:
        st = Path(path).stat()
    except OSError:
        return _read_info(path)  # says what is wrong with it
    return _read_info_once(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=512)
def _read_info_once(path: str, mtime_ns: int, size: int) -> CassetteInfo:
    return _read_info(path)


def _read_info(path: str | Path) -> CassetteInfo:
    header: dict[str, Any] = {}
    stamped: dict[str, Any] | None = None
    try:
        for i, item in enumerate(iter_capture(path)):
            if i == 0:
                header = item
            elif item.get("ev") == STAMP_EVENT:
                stamped = item
    except UnicodeDecodeError:  # a binary file: the capture reader reads text
        raise CaptureError(f"{path}: not UTF-8 text (not an xbee-hil capture)") from None
    recording = None
    if stamped is not None:
        fields_ = Recording.__dataclass_fields__
        known = {k: stamped[k] for k in fields_ if stamped.get(k) is not None}
        try:
            recording = Recording(**known)
        except (TypeError, ValueError):
            recording = None
    return CassetteInfo(Path(path), header.get("test"), header, recording)


# ----- the inputs a recording used: its PKI ---------------------------------------------------

PKI_DIR = "pki"  # next to the cassettes: DIR/pki/<digest>/<file>
PKI_DIGEST_LEN = 12
# The PKI files the TLS variants upload (names of `harness.servers.FILES`, its file names).
PKI_NAMES = (
    "root_ca", "server_cert", "intermediate_ca", "wrong_ca", "client_cert", "client_key",
    "client_cert_v1", "client_key_pkcs8",
)  # fmt: skip
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def save_pki(directory: str | Path, files: dict[str, bytes | None], source: Source) -> str:
    """Keep the files a recording uploads next to its cassettes, so a replay uploads the
    same bytes (the cassettes hold certificates in the clear and keys as SHA-256 only).

    The folder is named by a digest of its contents (`pki/<digest>`): re-recording part of a
    directory with a new PKI never changes what the older cassettes replay against. The
    simulator's PKI is throwaway and kept whole; a bench's private keys are not copied (a
    replay plays a stand-in in their place, `harness.replay.standin`). Returns the folder,
    relative to `directory`, for the stamp."""
    kept = {
        name: data
        for name, data in sorted(files.items())
        if data is not None
        and name in PKI_NAMES
        and (source == "simulator" or not _PRIVATE_KEY.search(data))
    }
    digest = hashlib.sha256()
    for name, data in kept.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    rel = f"{PKI_DIR}/{digest.hexdigest()[:PKI_DIGEST_LEN]}"
    folder = Path(directory) / rel
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in kept.items():
        path = folder / FILES[name]
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
    return rel


def load_pki(directory: str | Path, rel: str | None) -> dict[str, bytes | None]:
    """The files `save_pki` kept (name -> bytes; None for a file not kept)."""
    out: dict[str, bytes | None] = dict.fromkeys(PKI_NAMES)
    if rel is None:
        return out
    folder = Path(directory) / rel
    for name in PKI_NAMES:
        path = folder / FILES[name]
        out[name] = path.read_bytes() if path.is_file() else None
    return out


# ----- a replay's source: a directory of cassettes, or one file -------------------------------


class Deck:
    """What `--device replay:DIR|FILE` names: a directory with one cassette per test, or one
    cassette (which serves only the test it was recorded from)."""

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target)
        self.is_file = self.target.is_file()
        self.directory = self.target.parent if self.is_file else self.target

    def cassettes(self) -> list[Path]:
        if self.is_file:
            return [self.target]
        return sorted(self.target.glob(f"*{SUFFIX}"))

    def for_test(self, nodeid: str) -> tuple[Path | None, str]:
        """The cassette for `nodeid`, or None and the reason to skip the test."""
        if not self.is_file:
            path = cassette_path(self.target, nodeid)
            if path.is_file():
                return path, ""
            return None, f"no cassette {path} (record one with --record {self.target})"
        recorded = read_info(self.target).test
        if recorded == nodeid:
            return self.target, ""
        return None, f"{self.target} holds {recorded}, not this test"

    def first_info(self) -> CassetteInfo:
        """The stamp of the first readable cassette (a recording run's session facts:
        personality, firmware, targets). A bad cassette is that test's problem; only when
        none can be read does this raise the first `CaptureError` (file:line);
        `FileNotFoundError` for an empty deck."""
        first: CaptureError | None = None
        for path in self.cassettes():
            try:
                return read_info(path)
            except CaptureError as exc:
                first = first or exc
        if first is not None:
            raise first
        raise FileNotFoundError(f"{self.target}: no cassettes (*{SUFFIX}) to replay")
