"""YMODEM uploads a replay receives live instead of byte for byte (A-REPLAY-YMODEM).

A capture keeps an `ATFS XPUT` of a key as size + SHA-256 only, and a `PUT` recorded with
retransmissions cannot be repeated byte for byte by a fresh sender. `live_uploads` turns such
uploads in a script into `upload` steps; the player then runs the module's side of YMODEM
(`harness.xbee.ymodem`) on the host's live bytes and `upload_problem` judges the received
file by the recorded size and SHA-256.
"""

from __future__ import annotations

import hashlib
import re

from harness.replay.script import Step
from harness.xbee import ymodem

# An `ATFS PUT` / `ATFS XPUT` line (D-FSCMD): the module prompts, then receives by YMODEM (§6.3).
_FS_UPLOAD_LINE = re.compile(rb"^\s*AT\s*FS\s+X?PUT\s+\S", re.IGNORECASE)
_YMODEM_CONTROL = frozenset((ymodem.CRC_MODE, ymodem.ACK, ymodem.NAK, ymodem.CAN))


def _split_ymodem_answer(answer: bytes) -> tuple[bytes, bytes] | None:
    """(prompt, trailer) of the module's recorded answer to a PUT/XPUT: the lines before
    the receiver's first control byte, and the text after its last ACK (`OK\r`, A-ATFS-DONE).
    None when the recorded transfer did not end with an ACK or was cancelled."""
    start = next(
        (n for n, b in enumerate(answer) if b in _YMODEM_CONTROL and (n == 0 or answer[n - 1]
         in b"\r\n")),
        None,
    )  # fmt: skip
    last_ack = answer.rfind(bytes((ymodem.ACK,)))
    if start is None or last_ack < start or ymodem.CAN in answer[start : last_ack + 1]:
        return None
    return answer[:start], answer[last_ack + 1 :]


def live_uploads(steps: list[Step]) -> list[Step]:
    """The script with YMODEM uploads that cannot match byte for byte turned into live ones.

    A capture keeps an `ATFS XPUT` upload (a private key) as size + SHA-256 only, so the
    module's recorded YMODEM answers cannot be lined up with the host's blocks. But the
    module's side of YMODEM is protocol, not recording: an `upload` step runs
    `ymodem.YmodemReceiver` on the host's live bytes and compares the file it received with
    the recorded size and SHA-256 (A-REPLAY-YMODEM). The recorded prompt (`Receiving file
    with YMODEM...`) goes out before the receiver's first "C" and the recorded line after
    the transfer (`OK`) after its last ACK. A plain `ATFS PUT` recorded in the clear stays
    byte for byte when its blocks are what a sender makes of that file in one go; one with
    retransmissions (a NAK, a timeout) is received live as well, judged by the file. A
    recorded transfer that was cancelled or never finished stays as it was (strict)."""
    out = list(steps)
    i = 0
    while i < len(out):
        step = out[i]
        if step.action != "expect" or step.kind != "text" or not _FS_UPLOAD_LINE.match(step.raw):
            i += 1
            continue
        found = _hashed_upload(out, i) or _clear_upload(out, i)
        if found is None:
            i += 1
            continue
        last, upload = found  # the upload's last host step, and the step that replaces it
        end = next((j for j in range(last + 1, len(out)) if out[j].action == "expect"), len(out))
        emits = [s for s in out[i + 1 : end] if s.action == "emit"]
        parts = None
        if emits and all(s.kind in ("text", "opaque") for s in emits):
            parts = _split_ymodem_answer(b"".join(s.raw for s in emits))
        if parts is None:
            i += 1
            continue
        prompt, trailer = parts
        new = [Step("emit", "text", prompt, emits[0].line, emits[0].t)] if prompt else []
        new.append(upload)
        if trailer:
            new.append(Step("emit", "text", trailer, emits[-1].line, emits[-1].t))
        out[i + 1 : end] = new
        i += 1 + len(new)
    return out


def _hashed_upload(steps: list[Step], k: int) -> tuple[int, Step] | None:
    """The upload after the command line `steps[k]` when the capture kept it as a hash."""
    i = next((j for j in range(k + 1, len(steps)) if steps[j].action == "expect"), None)
    if i is None or steps[i].kind != "secret":
        return None
    s = steps[i]
    return i, Step("expect", "upload", b"", s.line, s.t, size=s.size, sha256=s.sha256,
                   what=s.what, file_size=s.file_size, file_sha256=s.file_sha256)  # fmt: skip


def _clear_upload(steps: list[Step], k: int) -> tuple[int, Step] | None:
    """A PUT recorded in the clear whose blocks a fresh sender would not repeat byte for
    byte (the recording retransmitted): the upload, judged by its file. None otherwise."""
    rx = ymodem.YmodemReceiver()
    rx.start(0.0)
    wire = bytearray()
    last = None
    for j in range(k + 1, len(steps)):
        s = steps[j]
        if s.action != "expect":
            continue
        if s.kind == "secret":
            return None
        wire += s.raw
        rx.feed(s.raw, 0.0)
        if rx.done:
            last = j
            break
    if last is None or rx.result is None or rx.error is not None:
        return None
    data, name = rx.result.data, rx.result.name
    if bytes(wire) == _clean_send(name, data):
        return None  # byte for byte works: keep it strict
    first = steps[k + 1]
    what = steps[k].raw.decode("latin-1").strip().removeprefix("AT").removeprefix("FS").strip()
    digest = hashlib.sha256(data).hexdigest()
    return last, Step("expect", "upload", b"", first.line, first.t, size=len(wire),
                      sha256=hashlib.sha256(wire).hexdigest(), what=what,
                      file_size=len(data), file_sha256=digest)  # fmt: skip


def _clean_send(name: str, data: bytes) -> bytes:
    """What `ymodem.YmodemSender` writes for this file to a receiver that never NAKs."""
    sender, rx = ymodem.YmodemSender(name, data), ymodem.YmodemReceiver()
    sent = bytearray()
    sender.start(0.0)
    out = sender.feed(rx.start(0.0), 0.0)
    while out and not sender.done:
        sent += out
        out = sender.feed(rx.feed(out, 0.0), 0.0)
    return bytes(sent + out)


def upload_problem(step: Step, rx: ymodem.YmodemReceiver, wire_sha256: str) -> str | None:
    """Why a live upload does not match the recorded one (None: it does). `wire_sha256`:
    the hash of the host bytes the receiver took, for a capture that knew only those."""
    recorded = f"recorded {step.file_size} bytes with sha256 {step.file_sha256[:16]}…"
    if rx.error is not None or rx.result is None:
        return f"upload {step.what}: the YMODEM transfer failed: {rx.error}; {recorded}"
    data = rx.result.data
    if step.file_sha256 and step.file_sha256 != step.sha256:  # the file's own hash
        size, digest = len(data), hashlib.sha256(data).hexdigest()
        if (size, digest) == (step.file_size, step.file_sha256):
            return None
    else:  # the capture knew only the wire bytes: compare those
        digest = wire_sha256
        if digest == step.sha256:
            return None
        size, recorded = len(data), f"recorded wire sha256 {step.sha256[:16]}…"
    return (
        f"upload {step.what}: received {size} bytes with sha256 {digest[:16]}…, "
        f"{recorded} (content not shown: it is a secret)"
    )
