"""What `capture diff` looks past by default: the bytes that carried the same behaviour.

Two recordings of identical runs still differ in three ways that say nothing about the module
(A-DIFFQ-BEHAVIOUR): the simulator makes a new PKI each run (other certificate bytes, other
`ATFS HASH` answers, other key hashes), the module cuts a response into 0xB0/0xCD/0xCE
frames where its reads happened to end, and the YMODEM receiver's ACKs land in one read or
several. So, unless `--bytes` asks for the bytes:

- an `ATFS PUT`/`XPUT` upload is one request naming the file's path and its role in the
  recording's PKI (`client_key`, not its SHA-256), and one answer: the prompt, the receiver's
  control bytes as runs with counts (`C ACKx3`), the line after;
- a SHA-256 the module prints is the role of the file it hashes (`<sha256 of root_ca>`);
- payload frames leave their exchanges and become one byte stream per socket (0xB0: the
  remote address, port and protocol; 0xCD/0xCE: the socket), the module's local port aside;
- a `+++` the module answered `OK` is not compared: the harness re-enters command mode when
  its CT clock says so (`is_escape`).

Pure: steps in, steps out (`harness.replay.script`), plus the roles read from the cassette.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from harness.capture import Capture
from harness.replay import cassette
from harness.replay.script import Step
from harness.variants import VARIANTS
from harness.xbee import api, fspath, ymodem

_FS_UPLOAD_LINE = re.compile(rb"^\s*AT\s*FS\s+(X?PUT)\s+(\S+)", re.IGNORECASE)
_SHA256_HEX = re.compile(rb"(?i)(?<=sha256 )[0-9a-f]{64}\b")  # an `ATFS HASH` answer (D-FSCMD)
_CONTROL_NAMES = {ymodem.CRC_MODE: "C", ymodem.ACK: "ACK", ymodem.NAK: "NAK",
                  ymodem.CAN: "CAN"}  # fmt: skip
PAYLOAD_FRAMES = frozenset({0xB0, 0xCD, 0xCE})  # D-B0, D-SF p.279/280


@dataclass
class Roles:
    """What a recording's files are: SHA-256 -> PKI name, module path -> PKI name."""

    by_digest: dict[str, str] = field(default_factory=dict)
    by_path: dict[str, str] = field(default_factory=dict)

    def of(self, digest: str, path: str = "") -> str:
        return self.by_digest.get(digest.lower()) or self.by_path.get(path) or "another file"


def _upload_paths() -> dict[str, str]:
    """`/flash/cert/client.key` -> `client_key`: the files the TLS variants upload."""
    return {fspath.resolve(u.name, fspath.CERT_DIR): u.pki
            for v in VARIANTS.values() for u in v.uploads}  # fmt: skip


def roles_of(capture: Capture) -> Roles:
    """The roles of the files a capture uploaded or hashed: its cassette's PKI folder (the
    certificates), and its `file` notes (a key kept as SHA-256 only is known by its path)."""
    roles = Roles(by_path=_upload_paths())
    rel = next((ev.get("pki") for ev in capture.events if ev.get("ev") == "cassette"), None)
    if rel and capture.path is not None:
        for name, data in cassette.load_pki(Path(capture.path).parent, rel).items():
            if data is not None:
                roles.by_digest.setdefault(hashlib.sha256(data).hexdigest(), name)
    for ev in capture.events:
        if ev.get("ev") == "file" and ev.get("sha256") and ev.get("path") in roles.by_path:
            roles.by_digest.setdefault(str(ev["sha256"]).lower(), roles.by_path[ev["path"]])
    return roles


def control_runs(answer: bytes) -> str:
    """`C ACKx3 C`: a YMODEM receiver's control bytes as runs (how reads cut them is not
    behaviour); a repeated `C` once (the receiver asks again while the sender is slow to
    start: timing); other bytes as `?`."""
    runs = ((name, len(list(group)))
            for name, group in groupby(_CONTROL_NAMES.get(b, "?") for b in answer))  # fmt: skip
    return " ".join(f"{name}x{n}" if n > 1 and name != "C" else name for name, n in runs)


def _split_answer(answer: bytes) -> tuple[bytes, bytes, bytes]:
    """(prompt, control bytes, trailer) of the module's answer to a PUT/XPUT."""
    at_line_start = (n for n, b in enumerate(answer)
                     if b in _CONTROL_NAMES and (n == 0 or answer[n - 1] in b"\r\n"))  # fmt: skip
    start = next(at_line_start, None)
    if start is None:
        return answer, b"", b""
    end = start
    while end < len(answer) and answer[end] in _CONTROL_NAMES:
        end += 1
    return answer[:start], answer[start:end], answer[end:]


def _upload_end(steps: list[Step], k: int) -> tuple[int, int, str] | None:
    """(index of the upload's last host step, size and SHA-256 of its file) after `steps[k]`."""
    rx = ymodem.YmodemReceiver()
    rx.start(0.0)
    for j in range(k + 1, len(steps)):
        s = steps[j]
        if s.action != "expect":
            continue
        if s.kind == "secret":
            return j, s.file_size or s.size, s.file_sha256 or s.sha256
        rx.feed(s.raw, 0.0)
        if rx.done:
            data = rx.result.data if rx.result is not None else b""
            return j, len(data), hashlib.sha256(data).hexdigest()
    return None


def collapse_uploads(steps: list[Step], roles: Roles) -> list[Step]:
    """Each PUT/XPUT as one `upload` request naming its path and role, and one answer."""
    out: list[Step] = []
    i = 0
    while i < len(steps):
        s = steps[i]
        m = _FS_UPLOAD_LINE.match(s.raw) if s.action == "expect" and s.kind == "text" else None
        found = _upload_end(steps, i) if m else None
        if m is None or found is None:
            out.append(s)
            i += 1
            continue
        last, size, digest = found
        stop = next((j for j in range(last + 1, len(steps)) if steps[j].action == "expect"),
                    len(steps))  # fmt: skip
        answer = b"".join(x.raw for x in steps[i + 1 : stop] if x.action == "emit")
        verb, path = m.group(1).decode().upper(), m.group(2).decode("latin-1")
        role = roles.of(digest, path)
        what = f"{verb} {path} ({role})"
        out.append(Step("expect", "upload", b"", s.line, s.t, size=0, sha256=f"{verb}:{role}",
                        what=what, file_size=size, file_sha256=digest))  # fmt: skip
        prompt, controls, trailer = _split_answer(answer)
        summary = f"<YMODEM receiver: {control_runs(controls)}>\r".encode() if controls else b""
        for piece in (prompt, summary, trailer):
            if piece:
                out.append(Step("emit", "text", piece, s.line, s.t))
        i = stop
    return out


def name_digests(steps: Iterable[Step], roles: Roles) -> list[Step]:
    """The module's text with each SHA-256 replaced by the role of the file it hashes."""

    def role(m: re.Match[bytes]) -> bytes:
        return f"<sha256 of {roles.of(m.group(0).decode())}>".encode()

    out = []
    for s in steps:
        if s.action == "emit" and s.kind == "text" and _SHA256_HEX.search(s.raw):
            s = Step(s.action, s.kind, _SHA256_HEX.sub(role, s.raw), s.line, s.t,
                     partial=s.partial)  # fmt: skip
        out.append(s)
    return out


def behaviour_steps(steps: list[Step], capture: Capture) -> list[Step]:
    """The script as `capture diff` compares it by default (uploads by role, digests named)."""
    roles = roles_of(capture)
    return name_digests(collapse_uploads(steps, roles), roles)


def stream_key(data: bytes, *, addresses: bool = False) -> str | None:
    """Which stream a payload frame belongs to (None: not a payload frame). `addresses`:
    the remote address and port are ignored too."""
    if not data or data[0] not in PAYLOAD_FRAMES:
        return None
    frame = api.parse(data)
    if isinstance(frame, api.RXIPv4):
        where = "" if addresses else f" from {frame.src_addr}:{frame.src_port}"
        return f"0xB0{where} protocol {frame.protocol}"
    if isinstance(frame, api.SocketReceive):
        return f"0xCD socket {frame.socket_id}"
    if isinstance(frame, api.SocketReceiveFrom):
        where = "" if addresses else f" from {frame.src_addr}:{frame.src_port}"
        return f"0xCE socket {frame.socket_id}{where}"
    return None


def payload_of(data: bytes) -> bytes:
    frame = api.parse(data)
    return bytes(getattr(frame, "payload", b""))


_ESCAPE = re.compile(rb"\s*\+\+\+")  # D-ENTER, after the tail of a transparent request


def is_escape(request: Step | None, answers: list[Step]) -> bool:
    """A `+++` the module answered `OK`: entering command mode, which the harness does when
    its CT clock says command mode has ended, so how often is timing (as A-REPLAY-ESCAPES
    for the replay). A `+++` left unanswered is not one: that stays a difference."""
    return (request is not None and request.action == "expect" and request.kind == "text"
            and _ESCAPE.fullmatch(request.raw) is not None
            and b"".join(a.raw for a in answers) == b"OK\r")  # fmt: skip
