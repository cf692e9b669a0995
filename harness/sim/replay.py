"""Serve a cassette back, strictly: the module's side of a recorded test, on a pty.

A cassette (a capture, `harness.capture`) becomes a *script* of steps in recorded order:
`expect` a unit the host writes, `emit` a unit the module sent. The units are the ones
`capture.render` shows: API frames (AP=1 or AP=2), `\\r`-terminated command-mode lines, `+++`
(a host write the module answered before any CR came, so it stands alone), and uploads the
capture keeps as size + SHA-256 only. What the harness writes must match the next `expect`,
in order; the module's bytes that followed it in the recording are then sent back, with
their recorded gaps scaled by `speed` (0 = as fast as order allows, 1 = real time).
Unsolicited output (0x8A, 0xB0, 0xCD, 0xCF …) therefore comes at its place in the sequence:
after the host bytes that preceded it in the recording. A YMODEM upload the capture kept as a
hash (`ATFS XPUT` of a key) is received live by the module's side of the protocol and judged
by the file's size and SHA-256 (`live_uploads`).

`Matchers` decides what may differ: frame IDs (a recorded ID maps to the live ID on first
sight and must stay consistent; responses are renumbered to match), dates in payloads
(HTTP `Date:`, ISO 8601), redacted secrets (the live bytes are redacted by the capture's own
rules before comparing), and optionally server addresses/ports (ephemeral test servers).

The first mismatch stops the device (no more answers, so the harness times out quickly) and
`finish()` returns a `Verdict` whose report shows the expected and actual unit decoded
(frame names, fields, codes' meanings), the cassette line, and the last exchanges before it.
A cassette not fully used fails too.

Layers: `build_script` and `Player` are sans-IO (bytes and times in, bytes out). `ReplayServer`
hosts a Player with `harness.sim.serve.SimServer` (same pty / TCP / RFC 2217 machinery as the
simulator), so the device layer cannot tell it from a module. `exchanges` / `answer_keys`
serve `xbee-hil capture diff`. CLI: `python -m harness.sim.replay FILE --pty`.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture import (
    RX,
    TX,
    WIRE_EVENTS,
    Capture,
    CaptureError,
    Redactor,
    frame_codes,
    read_capture,
    redact_frame_data,
    render,
    split_units,
)
from harness.sim.effects import Effect, ToHost
from harness.sim.serve import SimServer
from harness.xbee import api, at, codes, frames, ymodem

log = logging.getLogger(__name__)

HISTORY = 6  # exchanges shown before a mismatch
TEXT_SLACK = 256  # a live line this much longer than the recorded one, still without CR, fails
MAX_LIVE = 64 * 1024  # live bytes held while waiting for a unit to complete


class ReplayError(Exception):
    """A cassette that cannot be replayed (message names the file and line)."""


class NoCassette(ReplayError):
    """The test has no cassette; the message is the reason a plugin skips with."""


class ReplayMismatch(AssertionError):
    """Raised by `Verdict.check()`: the harness did not do what the cassette recorded."""


# ----- matchers: what may differ between the recording and the live run --------------------

# RFC 9110 IMF-fixdate (HTTP Date:, Last-Modified:) and ISO 8601 date-times.
_DATES = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" \d{4} \d{2}:\d{2}:\d{2} GMT"
    rb"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_HOST_HEADER = re.compile(rb"(?im)^(Host:[ \t]*)[^\r\n]*")
# DL / DE in a command-mode line (D-CMD: `ATDL…,DE…`); their values name the server.
_AT_ADDRESS = re.compile(rb"(?i)((?:^\s*AT|,)\s*(?:DL|DE))[^,\r]*")
_ADDRESS_COMMANDS = ("DL", "DE")


@dataclass(frozen=True)
class Matchers:
    """Which volatile fields a replay (and `capture diff`) ignores."""

    frame_ids: bool = True  # renumbered consistently (D-08: any non-zero ID; 0 = no response)
    dates: bool = True  # HTTP dates and ISO 8601 timestamps in payloads and lines
    redacted: bool = True  # live secrets are redacted by the capture's rules before comparing
    addresses: bool = False  # 0x20/0x23/0x42 destination, DL/DE values, Host: header
    # `+++` re-entries into command mode that the harness's own CT clock decided otherwise
    # (A-REPLAY-ESCAPES): an extra one is answered OK, a recorded one it skipped is passed.
    escapes: bool = False


ESCAPE = b"+++"  # D-ENTER: three CC characters (CC default "+")
ESCAPE_OK = b"OK\r"  # D-ENTER: the module's answer
_AT_LINE = re.compile(rb"^\s*AT", re.IGNORECASE)

def _frame_id_of(data: bytes) -> int | None:
    """The frame ID, if this frame type has one: byte 1 of every such layout (api `_LAYOUT`)."""
    frame = api.parse(data)
    if isinstance(frame, api.Frame) and hasattr(frame, "frame_id"):
        return data[1]
    return None


def _with_frame_id(data: bytes, fid: int) -> bytes:
    return data[:1] + bytes((fid,)) + data[2:]


def redact_live_frame(data: bytes) -> bytes:
    return redact_frame_data(data)[0]


def redact_live_text(raw: bytes) -> bytes:
    """A host line as the capture would have stored it (CU/CW values hidden, keys hashed)."""
    red = Redactor()
    records = red.feed(TX, raw, 0.0) + red.flush()
    return b"".join(r.data if r.data is not None else b"<redacted>" for r in records)


def _mask_addresses_frame(data: bytes) -> bytes:
    frame = api.parse(data)
    if isinstance(frame, api.TXRequestIPv4 | api.TXRequestTLSProfile):
        return data[:2] + bytes(8) + data[10:]  # dest_addr(4) dest_port(2) src_port(2): D-20, D-23
    if isinstance(frame, api.SocketConnect):
        return data[:3] + bytes(2) + data[5:6]  # port, type; the address dropped: D-SF p.270
    if isinstance(frame, api.ATCommand | api.ATCommandQueue) and frame.command.upper() in (
        _ADDRESS_COMMANDS
    ):
        return data[:4]
    return data


def normalize_frame(data: bytes, m: Matchers, fid: int | None = None) -> bytes:
    """Frame data with the volatile fields `m` ignores masked; the frame ID becomes `fid`."""
    if m.redacted:
        data = redact_live_frame(data)
    if m.addresses:
        data = _mask_addresses_frame(data)
        data = _HOST_HEADER.sub(rb"\1<host>", data)
    if fid is not None and _frame_id_of(data) is not None:
        data = _with_frame_id(data, fid)
    if m.dates:
        data = _DATES.sub(b"<date>", data)
    return data


def normalize_text(raw: bytes, m: Matchers, *, host: bool = True) -> bytes:
    if m.redacted and host:
        raw = redact_live_text(raw)
    if m.addresses:
        raw = _AT_ADDRESS.sub(rb"\1<addr>", raw)
        raw = _HOST_HEADER.sub(rb"\1<host>", raw)
    if m.dates:
        raw = _DATES.sub(b"<date>", raw)
    return raw


# ----- the script ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One unit of the cassette. `action`: expect (host writes) or emit (module sends).

    `kind`: frame (`data` = frame data, `escaped` = AP=2 form), text (a line, or `partial`
    bytes the module answered before a CR), opaque (bytes that are neither), secret (an upload
    or key kept as `size` + `sha256` only).
    """

    action: str
    kind: str
    raw: bytes
    line: int
    t: float
    data: bytes = b""
    escaped: bool = False
    partial: bool = False
    size: int = 0
    sha256: str = ""
    what: str = ""
    # kind "upload": the file a YMODEM upload carried (the capture's `size`/`sha256`, the
    # content when the harness named it, else the wire bytes, like `size`/`sha256`)
    file_size: int = 0
    file_sha256: str = ""

    @property
    def direction(self) -> str:
        return TX if self.action == "expect" else RX


def _causal_order(wire: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Wire events in the order the replay must keep, which is not always file order.

    The capture holds back an unfinished piece that may be a secret or a frame, writes it when
    it completes, and stamps it with its first byte's time. The module's bytes may therefore
    move up to that time: a YMODEM `C` read with the reply line before it is written after
    the block it asked for, yet the host waited for it. The host's bytes never move before
    anything written ahead of them: a held tail (a block ending in 0x7E, an upload kept as a
    hash) was finished only after the module's answers the file shows first
    (A-REPLAY-ORDER, A-REPLAY-UPLOAD). Ties keep file order."""
    latest = float("-inf")
    keyed = []
    for line, ev in wire:
        t = float(ev["t"])
        latest = max(latest, t)
        keyed.append((latest if ev["ev"] == TX else t, line, ev))
    return [(line, ev) for _, line, ev in sorted(keyed, key=lambda k: k[0])]


def _units_to_steps(action: str, units: Iterable[Any], line: int, t: float) -> list[Step]:
    out = []
    for u in units:
        partial = u.kind == "text" and not u.raw.endswith(b"\r")
        out.append(Step(action, u.kind, u.raw, line, t, u.data, u.escaped, partial))
    return out


def build_script(capture: Capture, *, by_time: bool = True) -> list[Step]:
    """The cassette as steps. Events are lines 2… of the file (line 1 is the header).

    `by_time=False` keeps file order and never looks at a timestamp (`capture diff`)."""
    steps: list[Step] = []
    wire = [(i + 2, e) for i, e in enumerate(capture.events) if e["ev"] in WIRE_EVENTS]
    if by_time:
        wire = _causal_order(wire)
    held = {TX: b"", RX: b""}
    held_at = {TX: (0, 0.0), RX: (0, 0.0)}
    action = {TX: "expect", RX: "emit"}

    def flush(direction: str) -> None:
        if held[direction]:
            units, _ = split_units(held[direction], final=True, hold_text=lambda _t: False)
            steps.extend(_units_to_steps(action[direction], units, *held_at[direction]))
            held[direction] = b""

    for n, (line, ev) in enumerate(wire):
        direction, t = ev["ev"], float(ev["t"])
        following = wire[n + 1][1]["ev"] if n + 1 < len(wire) else None
        if "hex" not in ev:  # kept as size + hash: an upload (tx) or a key (either way)
            flush(direction)
            steps.append(
                Step(
                    action[direction], "secret", b"", line, t,
                    size=int(ev.get("wire_size", ev.get("size", 0)) or 0),
                    sha256=str(ev.get("wire_sha256", ev.get("sha256", ""))),
                    what=str(ev.get("what") or ", ".join(ev.get("redacted", [])) or "secret"),
                    file_size=int(ev.get("size", 0) or 0),
                    file_sha256=str(ev.get("sha256", "")),
                )
            )  # fmt: skip
            continue
        if not held[direction]:
            held_at[direction] = (line, t)
        # Host text waits for its CR (a line is one unit); module text passes at once. A
        # frame cut between reads is held until whole (its ID may need renumbering).
        units, held[direction] = split_units(
            held[direction] + bytes.fromhex(ev["hex"]),
            final=False,
            hold_text=(lambda _t: True) if direction == TX else (lambda _t: False),
        )
        steps.extend(_units_to_steps(action[direction], units, line, t))
        if held[direction]:
            held_at[direction] = (line, t)
            if following != direction:  # the other side acted on what came so far
                flush(direction)
    flush(TX)
    flush(RX)
    return steps


def fold_repeats(steps: list[Step], matchers: Matchers | None = None) -> list[Step]:
    """The script with runs of identical exchanges (a request and its answers, frame IDs and
    dates aside) cut to one: a harness polling AI until registered then asks once per state,
    as fast as the answers allow, instead of as often as the recording's clock made it."""
    canon = Canon(matchers or Matchers())
    out: list[Step] = []
    block: list[Step] = []
    last: tuple[bytes, list[bytes]] | None = None

    def close() -> None:
        nonlocal last
        if not block:
            return
        key = (canon.request(block[0]), [k for k, _, _ in canon.answers(block[1:])])
        if block[0].action != "expect" or key != last:
            out.extend(block)
        last = key if block[0].action == "expect" else None
        block.clear()

    for step in steps:
        if step.action == "expect":
            close()
        block.append(step)
    close()
    return out


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


# ----- describing units ----------------------------------------------------------------------


def describe(step: Step, raw: bytes | None = None) -> str:
    """One readable line for a unit, as `xbee-hil capture show` prints it (no time column)."""
    arrow = "->" if step.direction == TX else "<-"
    if step.kind == "secret" and raw is None:
        return f"{arrow} <{step.what} redacted: {step.size} bytes, sha256 {step.sha256[:16]}…>"
    if step.kind == "upload":
        return (f"{arrow} <{step.what}: YMODEM upload of {step.file_size} bytes, "
                f"sha256 {step.file_sha256[:16]}…>")  # fmt: skip
    raw = step.raw if raw is None else raw
    if not raw:
        return f"{arrow} (nothing)"
    lines = [ln[11:] for ln in render([{"ev": step.direction, "t": 0.0, "hex": raw.hex()}])]
    return " | ".join(lines) if lines else f"{arrow} {raw!r}"


def _show(value: Any, hexvalue: bool = False) -> str:
    if hexvalue and isinstance(value, str):
        return f"0x{value.upper()}" if value else "''"
    if isinstance(value, str) and value and all(c in "0123456789abcdef" for c in value):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return repr(value)
        if all(0x20 <= b < 0x7F or b in (0x0D, 0x0A) for b in raw):
            return repr(raw.decode("ascii"))
        return "0x" + value.upper()
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value:02X}"
    return repr(value)


def frame_field_diff(expected: bytes, actual: bytes) -> list[str]:
    """`field: expected → actual` for two frames, codes with Digi's meaning (codes.py)."""
    a, b = api.parse(expected).to_dict(), api.parse(actual).to_dict()
    if a.get("type") != b.get("type"):
        was, now = f"0x{expected[0]:02X} {a.get('name')}", f"0x{actual[0]:02X} {b.get('name')}"
        return [f"frame type: {was} → {now}"]
    row = at.CATALOGUE.get(str(a.get("command", "")).upper())
    hexvalue = row is not None and row.kind is at.Kind.HEX  # numbers print as 0x… (D-CMD)
    out = []
    for key in dict.fromkeys([*a, *b]):
        if key in ("type", "name", "status_name") or a.get(key) == b.get(key):
            continue
        hx = hexvalue and key in ("parameter", "value")
        line = f"{key}: {_show(a.get(key), hx)} → {_show(b.get(key), hx)}"
        if key == "status":
            ca, cb = frame_codes(expected), frame_codes(actual)
            line += "".join(f" ({t}: {ca.get(t)} → {cb.get(t)})" for t in ca)
        out.append(line)
    return out


# ----- the player (sans-IO) ------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The outcome of one replayed test: passed, mismatch, unused, extra, idle, error."""

    ok: bool
    outcome: str
    report: str
    cassette: Path | None = None
    used: int = 0
    steps: int = 0

    def __bool__(self) -> bool:
        return self.ok

    def check(self) -> None:
        """Raise `ReplayMismatch(report)` unless the replay passed."""
        if not self.ok:
            raise ReplayMismatch(self.report)


NEED_MORE = object()


@dataclass
class _Live:
    """What a live unit turned out to be: the bytes it took and how it compares."""

    consumed: int
    raw: bytes
    problem: str | None = None
    details: list[str] = field(default_factory=list)
    data: bytes = b""  # frame data, for a frame
    fid: tuple[int, int] | None = None  # (recorded, live) to remember on success


class Player:
    """Plays one cassette's script against the host's live bytes. Pure: no I/O, no clock.

    `feed(data, now)` and `tick(now)` return bytes for the host; `next_deadline()` says when
    the next timed emission is due; `finish(now)` gives the Verdict and stops the player.
    """

    def __init__(
        self,
        steps: list[Step],
        *,
        cassette: Path | None = None,
        speed: float = 0.0,
        matchers: Matchers | None = None,
        now: float = 0.0,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self.steps = steps
        self.cassette = cassette
        self.speed = speed
        self.matchers = matchers or Matchers()
        self.pos = 0
        self.live = bytearray()
        self.fid_map: dict[int, int] = {}
        self.failure: str | None = None
        self.finished = False
        self._anchor = now  # live time the previous step completed
        self._last_t = steps[0].t if steps else 0.0  # its recorded time
        self._due: float | None = None
        self._history: deque[tuple[Step, bytes | None]] = deque(maxlen=HISTORY)
        self._receiver: ymodem.YmodemReceiver | None = None  # an `upload` step under way
        self._received = hashlib.sha256()  # the wire bytes the receiver took

    # --- state ---
    @property
    def done(self) -> bool:
        """Every step used (or the replay failed): nothing more will happen."""
        return self.failure is not None or (self.pos >= len(self.steps) and not self.live)

    def next_deadline(self) -> float | None:
        return None if self.failure or self.finished else self._due

    # --- input ---
    def feed(self, data: bytes, now: float) -> bytes:
        if self.failure is not None or self.finished:
            return b""
        self.live += data
        return self._advance(now)

    def tick(self, now: float) -> bytes:
        if self.failure is not None or self.finished:
            return b""
        return self._advance(now)

    # --- the walk ---
    def _advance(self, now: float) -> bytes:
        out = bytearray()
        self._due = None
        while self.failure is None:
            if self.pos >= len(self.steps):
                if self.live:
                    self._extra()
                break
            step = self.steps[self.pos]
            if step.action == "emit":
                due = self._anchor + self.speed * max(0.0, step.t - self._last_t)
                if due > now:
                    self._due = due
                    break
                if step.kind == "secret":
                    self._fail(
                        step,
                        None,
                        [f"the module's bytes here were recorded as a hash only ({step.what}):"
                         " this cassette cannot be replayed past this point"],
                    )  # fmt: skip
                    break
                out += self._emit(step)
                self._complete(step, due, None)
                continue
            if self.matchers.escapes and self.live:
                extra = self._escape_slack(step, now)
                if extra is not None:
                    out += extra
                    continue
            if step.kind == "upload":
                out += self._receive(step, now)
                if self._receiver is not None or self.failure is not None:
                    break
                continue
            got = self._take(step)
            if got is NEED_MORE:
                break
            assert isinstance(got, _Live)
            if got.problem is not None:
                self._fail(step, got, [got.problem, *got.details])
                break
            if got.fid is not None:
                self.fid_map[got.fid[0]] = got.fid[1]
            del self.live[: got.consumed]
            self._complete(step, now, got.raw if step.kind != "secret" else None)
        return bytes(out)

    def _complete(self, step: Step, when: float, live: bytes | None) -> None:
        self._history.append((step, live))  # described only if a report is needed
        self._anchor = when
        self._last_t = step.t
        self.pos += 1

    # --- re-entries into command mode decided by the clock ---
    def _escape_slack(self, step: Step, now: float) -> bytes | None:
        """With `Matchers.escapes`: bytes for the host when a `+++` differs only because the
        harness judged CT (D-ENTER) otherwise than when recording, else None (match as usual).

        The harness re-enters command mode when it has been idle for about CT; how idle it
        was depends on the machine's speed, not on what it does. So where the recording has
        `+++`, `OK` and then an AT line, a harness sending that AT line at once passes; and
        where it sends `+++` before an AT line the recording sent without one, it gets `OK`."""
        live = bytes(self.live)
        repeats = len(step.raw) // len(ESCAPE)
        if step.kind == "text" and repeats > 1 and step.raw == ESCAPE * repeats and live == ESCAPE:
            # the recording's first `+++` went unanswered in time and was sent again (a busy
            # machine at a fast time scale): one escape that is answered is the same thing
            del self.live[: len(ESCAPE)]
            self._complete(step, now, ESCAPE)
            return b""
        if step.kind == "text" and step.raw == ESCAPE and not live.startswith(ESCAPE[:1]):
            n = self._answer_steps(ESCAPE_OK)
            after = self.pos + 1 + n
            nxt = self.steps[after] if n and after < len(self.steps) else None
            if nxt is None or nxt.kind != "text" or not _AT_LINE.match(nxt.raw):
                return None
            for skipped in self.steps[self.pos : after]:
                self._complete(skipped, now, b"" if skipped is step else None)
            return b""
        if live == ESCAPE and step.kind == "text" and _AT_LINE.match(step.raw):
            self.live.clear()
            self._history.append((Step("expect", "text", ESCAPE, step.line, step.t), ESCAPE))
            return ESCAPE_OK
        return None

    def _answer_steps(self, answer: bytes) -> int:
        """How many emit steps after the current one make up exactly `answer` (0: they don't)."""
        got = b""
        for n, step in enumerate(self.steps[self.pos + 1 :], 1):
            if step.action != "emit" or step.kind != "text":
                return 0
            got += step.raw
            if got == answer:
                return n
            if not answer.startswith(got):
                return 0
        return 0

    # --- a YMODEM upload received live ---
    def _receive(self, step: Step, now: float) -> bytes:
        """Run the module's YMODEM receiver (harness.xbee.ymodem, §6.3) on the live bytes;
        once it is done, compare the file with the recorded size and SHA-256."""
        rx = self._receiver
        out = bytearray()
        if rx is None:
            rx = self._receiver = ymodem.YmodemReceiver()
            self._received = hashlib.sha256()
            out += rx.start(now)
        taken = 0
        while taken < len(self.live) and not rx.done:  # byte by byte: stop at its end
            out += rx.feed(bytes(self.live[taken : taken + 1]), now)
            taken += 1
        self._received.update(bytes(self.live[:taken]))
        del self.live[:taken]
        if not taken and not rx.done:
            out += rx.tick(now)
        if not rx.done:
            self._due = rx.next_deadline()
            return bytes(out)
        self._receiver = None
        problem = self._upload_problem(step, rx)
        if problem is not None:
            self._fail(step, None, [problem])
        else:
            self._complete(step, now, None)
        return bytes(out)

    def _upload_problem(self, step: Step, rx: ymodem.YmodemReceiver) -> str | None:
        recorded = f"recorded {step.file_size} bytes with sha256 {step.file_sha256[:16]}…"
        if rx.error is not None or rx.result is None:
            return f"upload {step.what}: the YMODEM transfer failed: {rx.error}; {recorded}"
        data = rx.result.data
        if step.file_sha256 and step.file_sha256 != step.sha256:  # the file's own hash
            size, digest = len(data), hashlib.sha256(data).hexdigest()
            if (size, digest) == (step.file_size, step.file_sha256):
                return None
        else:  # the capture knew only the wire bytes: compare those
            digest = self._received.hexdigest()
            if digest == step.sha256:
                return None
            size, recorded = len(data), f"recorded wire sha256 {step.sha256[:16]}…"
        return (
            f"upload {step.what}: received {size} bytes with sha256 {digest[:16]}…, "
            f"{recorded} (content not shown: it is a secret)"
        )

    def _emit(self, step: Step) -> bytes:
        if step.kind != "frame" or not self.matchers.frame_ids:
            return step.raw
        fid = _frame_id_of(step.data)
        if fid is None or fid not in self.fid_map or self.fid_map[fid] == fid:
            return step.raw
        return frames.encode(_with_frame_id(step.data, self.fid_map[fid]), escaped=step.escaped)

    # --- matching one expected unit ---
    def _take(self, step: Step) -> _Live | object:
        live = bytes(self.live)
        if not live:
            return NEED_MORE
        if step.kind == "secret":
            if len(live) < step.size:
                return NEED_MORE
            chunk = live[: step.size]
            digest = hashlib.sha256(chunk).hexdigest()
            if digest == step.sha256:
                return _Live(step.size, chunk)
            return _Live(
                step.size,
                b"",
                f"upload {step.what}: {step.size} bytes with sha256 {digest[:16]}…, "
                f"recorded sha256 {step.sha256[:16]}… (content not shown: it is a secret)",
            )
        if live[0] == frames.START and step.kind != "opaque":
            frame = self._take_frame(live, step.escaped)
            if frame is NEED_MORE:
                return NEED_MORE if len(live) < MAX_LIVE else _Live(len(live), live, "no frame")
            if step.kind == "frame":
                return self._compare_frame(step, frame)  # type: ignore[arg-type]
            assert isinstance(frame, _Live)
            return _Live(frame.consumed, frame.raw, "expected a text line, got an API frame")
        if step.kind == "frame":  # text where a frame was due: show what came
            cr = live.find(b"\r")
            cut = cr + 1 if cr >= 0 else len(live)
            return _Live(cut, live[:cut], "expected an API frame, got text")
        if step.kind == "opaque":
            n = len(step.raw)
            if len(live) < n and step.raw.startswith(live):
                return NEED_MORE
            ok = live[:n] == step.raw
            return _Live(n, live[:n], None if ok else "bytes differ")
        return self._take_text(step, live)

    def _take_frame(self, live: bytes, escaped: bool) -> _Live | object:
        deframer = frames.Deframer(escaped=escaped)
        items = deframer.feed(live)
        if not items:
            return NEED_MORE
        item = items[0]
        if isinstance(item, frames.FrameError):
            return _Live(len(item.raw), item.raw, f"bad frame from the host: {item.describe()}")
        return _Live(len(item.raw), item.raw, data=item.data)

    def _compare_frame(self, step: Step, got: _Live) -> _Live:
        if got.problem is not None:
            return got
        m = self.matchers
        data = got.data
        got.raw = frames.encode(redact_live_frame(data), escaped=step.escaped)  # no live secret
        exp_fid, live_fid = _frame_id_of(step.data), _frame_id_of(data)
        pin: int | None = None
        if m.frame_ids and exp_fid is not None and live_fid is not None:
            if (exp_fid == 0) != (live_fid == 0):
                got.problem = (
                    f"frame ID: recorded 0x{exp_fid:02X}, live 0x{live_fid:02X}"
                    " (0 means no response: they cannot be renumbered to each other)"
                )
                return got
            seen = self.fid_map.get(exp_fid)
            if seen is not None and seen != live_fid:
                got.problem = (
                    f"frame ID: recorded 0x{exp_fid:02X} was live 0x{seen:02X} before, "
                    f"now 0x{live_fid:02X} (renumbering must stay consistent)"
                )
                return got
            pin = 0
            got.fid = (exp_fid, live_fid)
        if normalize_frame(step.data, m, pin) != normalize_frame(data, m, pin):
            got.problem = "frames differ"
            got.details = frame_field_diff(
                normalize_frame(step.data, m, pin), normalize_frame(data, m, pin)
            ) or ["(they differ only where the matchers look past)"]
            got.fid = None
        return got

    def _take_text(self, step: Step, live: bytes) -> _Live | object:
        cr = live.find(b"\r")
        if step.partial:  # bytes the module answered before a CR came (`+++`)
            n = len(step.raw)
            if 0 <= cr < n:
                cut = cr + 1
            elif len(live) < n:
                if step.raw.startswith(live):
                    return NEED_MORE
                cut = len(live)
            else:
                cut = n
        elif cr >= 0:
            cut = cr + 1
        elif len(live) > len(step.raw) + TEXT_SLACK:
            cut = len(live)
        else:
            return NEED_MORE
        raw = live[:cut]
        m = self.matchers
        if normalize_text(step.raw, m) == normalize_text(raw, m):
            return _Live(cut, redact_live_text(raw))
        if cr >= cut:  # show the host's whole line, not just as many bytes as expected
            cut = cr + 1
        return _Live(cut, redact_live_text(live[:cut]), "lines differ")

    # --- failing ---
    def _fail(self, step: Step, got: _Live | None, details: list[str]) -> None:
        where = f"{self.cassette or 'cassette'}:{step.line}"
        lines = [
            f"replay mismatch at {where} (step {self.pos + 1} of {len(self.steps)}):",
            f"  expected {describe(step)}",
        ]
        if got is not None:
            lines.append(f"  got      {describe(step, got.raw) if got.raw else '(see below)'}")
        lines += [f"  {d}" for d in details]
        lines += self._history_lines()
        self.failure = "\n".join(lines)
        self._due = None
        log.info("%s", self.failure)  # the verdict carries it; a warning would print it twice

    def _extra(self) -> None:
        live = bytes(self.live)
        units, _ = split_units(live, final=True, hold_text=lambda _t: False)
        shown = (
            frames.encode(redact_live_frame(units[0].data), escaped=units[0].escaped)
            if units and units[0].kind == "frame"
            else redact_live_text(live[:200])
        )
        probe = Step("expect", "opaque", shown, 0, 0.0)
        lines = [
            f"replay mismatch: the harness wrote more than {self.cassette or 'the cassette'}"
            f" holds (all {len(self.steps)} steps used):",
            f"  extra    {describe(probe)}",
            *self._history_lines(),
        ]
        self.failure = "\n".join(lines)

    def _history_lines(self) -> list[str]:
        if not self._history:
            return ["  (nothing was exchanged before it)"]
        shown = [f"    line {s.line:>5} {describe(s, live)}" for s, live in self._history]
        return ["  last exchanges before it:", *shown]

    # --- the end ---
    def finish(self, now: float = 0.0) -> Verdict:
        """The verdict; the player stops answering. Unused steps and leftover bytes fail."""
        if not self.finished and self.failure is None:
            self._advance(now)  # steps due now (speed 0: all emits up to the next expect)
        self.finished = True
        total = len(self.steps)
        if self.failure is not None:
            kind = "extra" if self.pos >= total else "mismatch"
            return Verdict(False, kind, self.failure, self.cassette, self.pos, total)
        if self.pos < total:
            step = self.steps[self.pos]
            left = total - self.pos
            lines = [
                f"cassette not fully used: {self.cassette or 'cassette'}:{step.line}, "
                f"{left} step(s) left (step {self.pos + 1} of {total}):",
                f"  next     {describe(step)}",
            ]
            if self.live:
                lines.append(f"  got only {describe(step, redact_live_text(bytes(self.live)))}")
            lines += self._history_lines()
            return Verdict(False, "unused", "\n".join(lines), self.cassette, self.pos, total)
        return Verdict(True, "passed", f"replayed {self.cassette}: {total} steps", self.cassette,
                       total, total)  # fmt: skip


def load_script(path: str | Path) -> list[Step]:
    """Read and script a cassette. Missing: `NoCassette`; bad line: `CaptureError` (file:line)."""
    path = Path(path)
    if not path.is_file():
        raise NoCassette(f"no cassette {path} (record one with --record)")
    return live_uploads(build_script(read_capture(path)))


# ----- serving: a Player behind SimServer's ports ----------------------------------------------


class _Wake:
    """An event posted to the server loop so a newly loaded cassette starts at once."""


class _Poke:
    """The 'world' of a replay: no network; `poke()` wakes the server loop (world contract,
    docs/design.md "The world": `post(event)` reaches `handle` on the loop thread)."""

    def __init__(self) -> None:
        self._post: Callable[[Any], None] | None = None

    def start(self, post: Callable[[Any], None]) -> _Poke:
        self._post = post
        return self

    def perform(self, effect: Effect) -> None:  # a replay never asks the world for anything
        pass

    def poke(self) -> None:
        if self._post is not None:
            self._post(_Wake())

    def close(self) -> None:
        self._post = None


class _Persona:
    reset_s = 0.0  # a replay never resets by itself


class _Engine:
    """What `SimServer` drives in place of a Modem: power_on/feed/tick/handle/next_deadline,
    and the state its loop reads (param BD/GT, in_command_mode, registered, nvm)."""

    in_command_mode = False  # SimServer's accounting of escapes and registrations: nothing
    registered = True  # to account, the cassette already holds their timing
    personality = _Persona()

    def __init__(self, bd: int = 3) -> None:
        self.player: Player | None = None
        self.nvm: dict[str, Any] = {}
        self._params = {"BD": bd, "GT": 1000}  # BD code for RFC 2217 (3 = 9600), GT: D-GT

    def param(self, name: str) -> Any:
        return self._params.get(name.upper(), 0)

    def power_on(self, now: float) -> list[Effect]:
        return self.tick(now)

    def feed(self, data: bytes, now: float) -> list[Effect]:
        if self.player is None:
            log.info("replay: %d host bytes with no cassette loaded (dropped)", len(data))
            return []
        return self._out(self.player.feed(bytes(data), now))

    def tick(self, now: float) -> list[Effect]:
        return [] if self.player is None else self._out(self.player.tick(now))

    def handle(self, event: Any, now: float) -> list[Effect]:
        return self.tick(now)

    def next_deadline(self) -> float | None:
        player = self.player
        return None if player is None else player.next_deadline()

    @staticmethod
    def _out(data: bytes) -> list[Effect]:
        return [ToHost(data)] if data else []




class ReplayServer:
    """A replay device on a pty (or TCP / RFC 2217), one cassette per test.

    ```
    with ReplayServer(speed=0) as replay:
        port = replay.start_pty()          # open it with device.transport.open_device
        replay.load(cassette_path(d, id))  # NoCassette → skip; CaptureError → file:line
        ...the test runs...
        verdict = replay.finish()          # Verdict; verdict.check() raises on failure
    ```
    """

    def __init__(
        self,
        cassette: str | Path | None = None,
        *,
        speed: float = 0.0,
        matchers: Matchers | None = None,
        baudrate: int = 9600,
        fold_polls: bool = False,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self.speed = speed
        self.matchers = matchers or Matchers()
        self.fold_polls = fold_polls  # runs of identical exchanges play once (fold_repeats)
        self._engine = _Engine(at.bd_value(baudrate))
        self._world = _Poke()
        self._server = SimServer(self._engine, self._world, uart_pacing=False)  # type: ignore[arg-type]
        if cassette is not None:
            self.load(cassette)

    # --- ports (SimServer's) ---
    def start_pty(self, link: str | Path | None = None) -> str:
        return self._server.start_pty(link)

    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        return self._server.start_tcp(host, port)

    def start_rfc2217(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        return self._server.start_rfc2217(host, port)

    # --- one test ---
    def load(self, path: str | Path) -> list[Step]:
        """Play `path` from now on (a cassette still loaded is dropped: call finish first)."""
        steps = load_script(path)
        if self.fold_polls:
            steps = fold_repeats(steps, self.matchers)
        player_path = Path(path)

        def install(engine: Any) -> None:
            engine.player = Player(
                steps, cassette=player_path, speed=self.speed, matchers=self.matchers,
                now=self._server.sim_now(),
            )  # fmt: skip

        self._server.call(install)
        self._world.poke()
        return steps

    def finish(self) -> Verdict:
        """The loaded cassette's verdict; the device then answers nothing until the next load."""

        def take(engine: Any) -> Verdict:
            player: Player | None = engine.player
            engine.player = None
            if player is None:
                return Verdict(True, "idle", "no cassette was loaded")
            return player.finish(self._server.sim_now())

        verdict: Verdict = self._server.call(take)
        if self._server.error is not None:  # the serving loop died: say so, whatever happened
            why = f"replay device stopped: {self._server.error!r}"
            return Verdict(False, "error", f"{why}\n{verdict.report}", verdict.cassette,
                           verdict.used, verdict.steps)  # fmt: skip
        return verdict

    @property
    def done(self) -> bool:
        """The loaded cassette is used up or failed (False when none is loaded)."""
        return bool(self._server.call(lambda e: e.player is not None and e.player.done))

    @property
    def failure(self) -> str | None:
        """The loaded cassette's mismatch report so far (None while it matches), without
        finishing it: a harness that just timed out can say why the device went silent."""
        return self._server.call(lambda e: None if e.player is None else e.player.failure)

    @property
    def error(self) -> BaseException | None:
        return self._server.error

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----- exchanges, for `xbee-hil capture diff` ------------------------------------------------


@dataclass
class Exchange:
    """A host request and the module's answers to it (`request` None: output before any)."""

    request: Step | None
    answers: list[Step] = field(default_factory=list)


def exchanges(steps: list[Step]) -> list[Exchange]:
    """Steps grouped by request. A response carrying a frame ID joins the request that sent
    that ID, wherever it landed in time; everything else joins the request before it."""
    out: list[Exchange] = [Exchange(None)]
    by_fid: dict[int, Exchange] = {}
    for step in steps:
        if step.action == "expect":
            ex = Exchange(step)
            out.append(ex)
            fid = _frame_id_of(step.data) if step.kind == "frame" else None
            if fid:
                by_fid[fid] = ex
            continue
        fid = _frame_id_of(step.data) if step.kind == "frame" else None
        target = by_fid.get(fid) if fid else None
        (target or out[-1]).answers.append(step)
    if not out[0].answers:
        out.pop(0)
    return out


class Canon:
    """Comparable keys for the units of a cassette. With `frame_ids`, IDs are masked (0 stays
    0: "no response", D-08): `exchanges` has already paired each response with its request,
    so the numbers themselves carry nothing, and repeated polls look alike."""

    def __init__(self, matchers: Matchers) -> None:
        self.matchers = matchers

    def _fid(self, data: bytes) -> int | None:
        fid = _frame_id_of(data)
        if fid is None or not self.matchers.frame_ids:
            return None
        return 0 if fid == 0 else 1

    def request(self, step: Step | None) -> bytes:
        if step is None:
            return b"(before any request)"
        if step.kind == "frame":
            return b"F" + normalize_frame(step.data, self.matchers, self._fid(step.data))
        if step.kind in ("secret", "upload"):
            return f"S{step.size}:{step.sha256}".encode()
        return b"T" + normalize_text(step.raw, self.matchers, host=False)

    def answers(self, steps: list[Step]) -> list[tuple[bytes, bytes, bytes]]:
        """(key, raw, frame data) per answer unit; text is re-split at CRs so read chunking
        does not matter."""
        out: list[tuple[bytes, bytes, bytes]] = []
        text = bytearray()

        def flush() -> None:
            if text:
                for piece in re.split(rb"(?<=\r)", bytes(text)):
                    if piece:
                        key = b"T" + normalize_text(piece, self.matchers, host=False)
                        out.append((key, piece, b""))
                text.clear()

        for step in steps:
            if step.kind == "frame":
                flush()
                key = b"F" + normalize_frame(step.data, self.matchers, self._fid(step.data))
                out.append((key, step.raw, step.data))
            elif step.kind == "secret":
                flush()
                out.append((f"S{step.size}:{step.sha256}".encode(), b"", b""))
            else:
                text += step.raw
        flush()
        return out


# AT queries whose answer is a code (text in command mode, value bytes in 0x88).
CODE_QUERIES = {"CI": "CI", "AI": "AI"}  # D-CI, D-AI (codes.py tables)


def code_meaning(command: str | None, answer: bytes, frame: bool) -> str | None:
    """`CI 0x26 Connection refused` for the answer to an ATCI / ATAI query, else None."""
    table = CODE_QUERIES.get((command or "").upper())
    if table is None:
        return None
    try:
        value = answer[0] if frame else int(answer.strip().decode("ascii"), 16)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None
    return f"{command} {codes.describe(table, value)}"


def query_command(step: Step | None) -> str | None:
    """The AT command a request queries (`ATCI\\r`, 0x08 CI with no parameter), else None."""
    if step is None:
        return None
    if step.kind == "frame":
        frame = api.parse(step.data)
        if isinstance(frame, api.ATCommand | api.ATCommandQueue) and not frame.parameter:
            return frame.command.upper()
        return None
    m = re.fullmatch(rb"\s*AT([A-Za-z0-9%$#]{2})\s*\r?", step.raw)
    return m.group(1).decode("latin-1").upper() if m else None


# ----- command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m harness.sim.replay",
        description="Serve a cassette (a capture) back as a module would, strictly. With --pty "
        "the first line printed is the device path. Exit 0 when the host did exactly what the "
        "cassette recorded, 1 when it did not (the report goes to stderr), 2 on bad input.",
    )
    p.add_argument("cassette", metavar="FILE", help="a .jsonl capture")
    p.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    p.add_argument("--link", metavar="PATH", help="with --pty: also make PATH a symlink to it")
    p.add_argument("--tcp", metavar="HOST:PORT", help="serve raw bytes on TCP (socket://…)")
    p.add_argument("--speed", type=float, default=0.0, metavar="X",
                   help="recorded gaps times X (0 = as fast as order allows, 1 = real time)")
    p.add_argument("--ignore-addresses", action="store_true",
                   help="ignore server addresses and ports (DL/DE, 0x20/0x23/0x42, Host:)")
    p.add_argument("--until-done", action="store_true",
                   help="exit when the cassette is used up or fails (else run until Ctrl-C)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    prog = "replay"
    if not (args.pty or args.tcp):
        print(f"{prog}: nothing to serve on; give --pty and/or --tcp", file=sys.stderr)
        return 2
    if args.speed < 0:
        print(f"{prog}: --speed must be >= 0", file=sys.stderr)
        return 2
    matchers = Matchers(addresses=args.ignore_addresses)
    try:
        server = ReplayServer(args.cassette, speed=args.speed, matchers=matchers)
    except (ReplayError, CaptureError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.pty:
            print(server.start_pty(args.link), flush=True)
        if args.tcp:
            host, _, port = args.tcp.rpartition(":")
            if not port.isdigit():
                print(f"{prog}: --tcp {args.tcp!r}: expected HOST:PORT", file=sys.stderr)
                return 2
            print("socket://{}:{}".format(*server.start_tcp(host or "127.0.0.1", int(port))),
                  flush=True)  # fmt: skip
        while not stop.wait(0.1):
            if args.until_done and server.done:
                break
        verdict = server.finish()
    except OSError as err:
        print(f"{prog}: {err.strerror or err}", file=sys.stderr)
        return 2
    finally:
        server.stop()
    print(verdict.report, file=sys.stderr)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
