"""A cassette as a script: what the host must send and what the module answered.

A cassette (a capture, `harness.capture`) becomes a list of `Step`s in recorded order:
`expect` a unit the host writes, `emit` a unit the module sent. The units are the ones
`capture.render` shows: API frames (AP=1 or AP=2), `\\r`-terminated command-mode lines, `+++`,
and uploads the capture keeps as size + SHA-256 only. What may differ between a recording and
a live run is `harness.replay.matchers`; uploads received live are `harness.replay.uploads`.
`exchanges` and `Canon` pair requests with their answers (`harness.replay.diff`,
`fold_repeats`). Pure: no I/O beyond reading the capture. `harness.replay.player` plays a
script back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.capture import (
    RX,
    TX,
    WIRE_EVENTS,
    Capture,
    frame_codes,
    render,
    split_units,
)
from harness.replay.matchers import Matchers, frame_id_of, normalize_frame, normalize_text
from harness.xbee import api, at

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
    # an `expect` step whose exchange the recording repeated (fold_repeats kept one): the
    # player answers it again as often as the live harness repeats it
    repeatable: bool = False

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
    as fast as the answers allow, instead of as often as the recording's clock made it. The
    kept exchange is marked `repeatable`: a harness that polls until its own limit (CI staying
    0xFF, A-CI-POLL-COUNT) gets the same answer as often as it asks."""
    canon = Canon(matchers or Matchers())
    out: list[Step] = []
    block: list[Step] = []
    last: tuple[bytes, list[bytes]] | None = None
    kept: int | None = None  # where in `out` the exchange a run of repeats was cut to is

    def close() -> None:
        nonlocal last, kept
        if not block:
            return
        key = (canon.request(block[0]), [k for k, _, _ in canon.answers(block[1:])])
        if block[0].action != "expect" or key != last:
            out.extend(block)
        elif kept is not None:  # a repeat: the kept exchange plays as often as asked
            out[kept] = dataclasses.replace(out[kept], repeatable=True)
        if block[0].action == "expect" and key != last:
            kept = len(out) - len(block)
        last = key if block[0].action == "expect" else None
        if last is None:
            kept = None
        block.clear()

    for step in steps:
        if step.action == "expect":
            close()
        block.append(step)
    close()
    return out


# ----- describing units ----------------------------------------------------------------------


DESCRIBE_MAX = 160  # characters of one unit shown in reports and diffs


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
    text = " | ".join(lines) if lines else f"{arrow} {raw!r}"
    if len(text) > DESCRIBE_MAX:  # a YMODEM block or a long payload: its start is enough
        digest = hashlib.sha256(raw).hexdigest()[:16]
        text = f"{text[:DESCRIBE_MAX]}… ({len(raw)} bytes, sha256 {digest}…)"
    return text


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
            fid = frame_id_of(step.data) if step.kind == "frame" else None
            if fid:
                by_fid[fid] = ex
            continue
        fid = frame_id_of(step.data) if step.kind == "frame" else None
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
        fid = frame_id_of(data)
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
