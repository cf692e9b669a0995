"""A stand-in for a private key a cassette kept as SHA-256 only (A-REPLAY-STANDIN-KEY).

A bench recording never copies its private key next to the cassettes (`cassette.save_pki`):
the capture keeps the key's upload as size + SHA-256, and the module's `ATFS HASH` answers
name that SHA-256. A replay cannot upload those bytes, so the variants that need the key
(`client-cert`) would have nothing to send. Instead the replay device gives the harness a
fixed stand-in key, and the script is rewritten as if the module had held the stand-in:
where the recording shows the key's SHA-256 (an `ATFS HASH` line, a 0x3B hash answer, the
uploaded file), the stand-in's is served and expected. What the replay checks is unchanged:
the harness hashed, uploaded (or skipped) and configured the key where and when it did on the
bench. Its bytes were never in the cassette to check. Pure: steps in, steps out.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.replay.script import Step
from harness.variants import VARIANTS
from harness.xbee import frames, fspath

# Not a key: a PEM block the harness treats as one (secure upload, redacted in captures),
# fixed so a replay is the same every run.
STAND_IN_KEY = (
    b"-----BEGIN RSA PRIVATE KEY-----\n"
    b"eGJlZS1oaWwgcmVwbGF5IHN0YW5kLWluOiB0aGUgYmVuY2gncyBrZXkgd2FzIGtl\n"
    b"cHQgYXMgU0hBLTI1NiBvbmx5\n"
    b"-----END RSA PRIVATE KEY-----\n"
)
FS_RESPONSE = 0xBB  # D-3B: File System Response (status, then a 32-byte hash for FILE_HASH)


@dataclasses.dataclass(frozen=True)
class StandIn:
    """The recorded key's SHA-256 and the stand-in served in its place."""

    recorded: str
    data: bytes = STAND_IN_KEY

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def key_paths() -> dict[str, str]:
    """Module path -> PKI name of the private keys the TLS variants upload (`client_key`)."""
    return {fspath.resolve(u.name, fspath.CERT_DIR): u.pki
            for v in VARIANTS.values() for u in v.uploads if u.secure}  # fmt: skip


def recorded_keys(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """PKI name -> the SHA-256 the recording knew for that key (its `file` notes: uploaded,
    skipped because the module held it, or known)."""
    paths = key_paths()
    out: dict[str, str] = {}
    for ev in events:
        name = paths.get(str(ev.get("path"))) if ev.get("ev") == "file" else None
        if name is not None and ev.get("sha256"):
            out.setdefault(name, str(ev["sha256"]).lower())
    return out


def apply(steps: list[Step], stand_ins: Iterable[StandIn]) -> list[Step]:
    """The script as if the module had held each stand-in where it held the recorded key."""
    swap = {s.recorded: s for s in stand_ins}
    if not swap:
        return steps
    return [_swap(step, swap) for step in steps]


def _swap(step: Step, swap: dict[str, StandIn]) -> Step:
    if step.kind == "upload" and step.file_sha256 in swap:
        new = swap[step.file_sha256]
        return dataclasses.replace(step, file_size=len(new.data), file_sha256=new.sha256,
                                   size=0, sha256="")  # fmt: skip
    if step.action != "emit":
        return step
    if step.kind == "text":
        raw = step.raw
        for old, new in swap.items():
            raw = raw.replace(old.encode(), new.sha256.encode())
            raw = raw.replace(old.upper().encode(), new.sha256.upper().encode())
        return step if raw == step.raw else dataclasses.replace(step, raw=raw)
    if step.kind == "frame" and step.data[:1] == bytes((FS_RESPONSE,)):
        data = step.data
        for old, new in swap.items():
            data = data.replace(bytes.fromhex(old), bytes.fromhex(new.sha256))
        if data != step.data:
            return dataclasses.replace(step, data=data,
                                       raw=frames.encode(data, escaped=step.escaped))  # fmt: skip
    return step


def cassette_files(
    path: str | Path, rel: str | None
) -> tuple[dict[str, bytes | None], dict[str, str], list[StandIn]]:
    """The files a replay of the cassette `path` uploads (its PKI folder `rel`, beside it),
    why one is absent, and the stand-ins for keys the recording kept as SHA-256 only."""
    from harness.capture import read_capture
    from harness.replay import cassette

    files = cassette.load_pki(Path(path).parent, rel)
    missing: dict[str, str] = {}
    stand_ins: list[StandIn] = []
    absent = [name for name in key_paths().values() if name in files and files[name] is None]
    if not absent:
        return files, missing, stand_ins
    recorded = recorded_keys(read_capture(path).events)
    for name in absent:
        if name in recorded:
            stand_in = StandIn(recorded[name])
            files[name] = stand_in.data
            stand_ins.append(stand_in)
        else:
            missing[name] = (f"{Path(path).name} keeps no copy of the recording's {name} "
                             "(a bench's private key stays on the bench) and never hashed "
                             "or uploaded it, so a replay has nothing to stand in for")  # fmt: skip
    return files, missing, stand_ins
