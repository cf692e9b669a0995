"""Where the module's behaviour changed between two cassettes of one test (`capture diff`).

Exchanges (a host request and the module's answers) are aligned, and a changed code, value,
or a missing or extra frame or line is reported with its cassette lines. Timing is ignored,
and so are the volatile fields the replay device ignores (frame IDs, dates; addresses with
`Matchers(addresses=True)`). Runs of identical exchanges count once (polling AI until
registered takes as many rounds as it takes). Pure, and independent of the simulator: it
reads captures (`harness.capture`) and scripts them (`harness.replay.script`).
By default it compares behaviour, not bytes (`harness.replay.behaviour`, A-DIFFQ-BEHAVIOUR):
uploads by the role of their file, SHA-256s by the file they name, payload frames as one
stream per socket, YMODEM ACKs as counts; `strict` (`--bytes`) compares every unit.
Used by `xbee-hil capture diff` and `python -m harness.replay diff`.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.capture import Capture, CaptureError, read_capture
from harness.replay import behaviour
from harness.replay.matchers import Matchers, normalize_frame, normalize_text
from harness.replay.script import (
    Canon,
    Exchange,
    Step,
    build_script,
    describe,
    exchanges,
    frame_field_diff,
)
from harness.xbee import api, codes

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


@dataclass
class Keyed:
    """One exchange with comparable keys (frame IDs renumbered, dates masked)."""

    exchange: Exchange
    request: bytes
    answers: list[tuple[bytes, bytes, bytes]]  # (key, raw, frame data)
    repeats: int = 1

    @property
    def line(self) -> int:
        ex = self.exchange
        step = ex.request or (ex.answers[0] if ex.answers else None)
        return step.line if step is not None else 0


# Frames the module sends when its state changes, not in answer to anything: where they land
# between requests is timing, so they are compared as a stream of their own (D-8A).
ASYNC_FRAMES = frozenset({0x8A})


def _is_async(step: Step) -> bool:
    return step.kind == "frame" and bool(step.data) and step.data[0] in ASYNC_FRAMES


@dataclass
class KeyedCapture:
    """A capture as `compare` reads it: exchanges, the async frames, the payload streams."""

    exchanges: list[Keyed]
    status: Keyed
    streams: dict[str, bytes]


def keyed_exchanges(
    capture: Capture, matchers: Matchers, *, keep_repeats: bool, strict: bool = True
) -> tuple[list[Keyed], Keyed]:
    """The exchanges with keys, runs of identical ones folded, and the async frames apart."""
    keyed = keyed_capture(capture, matchers, keep_repeats=keep_repeats, strict=strict)
    return keyed.exchanges, keyed.status


def keyed_capture(
    capture: Capture, matchers: Matchers, *, keep_repeats: bool, strict: bool
) -> KeyedCapture:
    """As `keyed_exchanges`; unless `strict`, by behaviour: uploads by role, digests named,
    payload frames taken out into one stream per socket (A-DIFFQ-BEHAVIOUR)."""
    canon = Canon(matchers)
    out: list[Keyed] = []
    status: list[Step] = []
    streams: dict[str, bytearray] = {}
    steps = build_script(capture, by_time=False)  # timing ignored
    if not strict:
        steps = behaviour.behaviour_steps(steps, capture)
    for ex in exchanges(steps):
        status += [a for a in ex.answers if _is_async(a)]
        answers = [a for a in ex.answers if not _is_async(a)]
        if not strict:
            kept = []
            for a in answers:
                key = behaviour.stream_key(a.data, addresses=matchers.addresses) \
                    if a.kind == "frame" else None
                if key is None:
                    kept.append(a)
                else:
                    streams.setdefault(key, bytearray()).extend(behaviour.payload_of(a.data))
            answers = kept
        ex = Exchange(ex.request, answers)
        if ex.request is None and not ex.answers:
            continue
        if not strict and behaviour.is_escape(ex.request, answers):
            continue  # when the harness re-enters command mode is its CT clock's affair
        out.append(Keyed(ex, canon.request(ex.request), canon.answers(ex.answers)))
        if not keep_repeats:
            _fold_cycle(out)
    masked = {k: normalize_text(bytes(v), matchers, host=False) for k, v in streams.items()}
    return KeyedCapture(out, Keyed(Exchange(None, status), b"", canon.answers(status)), masked)


# The longest cycle of exchanges that folds when it repeats: `+++` then `ATCI` polled until
# the code settles is a cycle of 2; entering command mode, asking, leaving is 3.
MAX_CYCLE = 4


def _key(k: Keyed) -> tuple[bytes, list[bytes]]:
    return k.request, [a[0] for a in k.answers]


def _fold_cycle(out: list[Keyed]) -> None:
    """Fold the last cycle of exchanges into the one before it when they are identical: a
    poll repeated until the module's state changed counts once (as many rounds as it took)."""
    for period in range(1, MAX_CYCLE + 1):
        if len(out) < 2 * period:
            return
        last, before = out[-period:], out[-2 * period : -period]
        if [_key(k) for k in last] == [_key(k) for k in before]:
            for k, gone in zip(before, last, strict=True):
                k.repeats += gone.repeats
            del out[-period:]
            return


DESCRIBE_LINE = 200  # characters of one differing payload line shown


def _streams_diff(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """Where the payload streams differ: a stream only on one side, or its lines."""
    out: list[str] = []
    for key in dict.fromkeys([*a, *b]):
        old, new = a.get(key), b.get(key)
        if old == new:
            continue
        if old is None or new is None:
            side, data = ("B", new) if old is None else ("A", old)
            out.append(f"payload stream only in {side}: {key} ({len(data or b'')} bytes)")
            continue
        out.append(f"payload stream differs: {key} ({len(old)} → {len(new)} bytes)")
        la, lb = old.splitlines(keepends=True), new.splitlines(keepends=True)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, la, lb,
                                                           autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            out += [f"  - {line!r}"[:DESCRIBE_LINE] for line in la[i1:i2]]
            out += [f"  + {line!r}"[:DESCRIBE_LINE] for line in lb[j1:j2]]
    return out


def _request_text(k: Keyed) -> str:
    if k.exchange.request is None:
        return "(module output before any request)"
    return describe(k.exchange.request)


def _answer_text(raw: bytes, data: bytes, key: bytes) -> str:
    if key.startswith(b"S"):
        return "<- <redacted bytes>"
    return describe(Step("emit", "frame" if data else "text", raw, 0, 0.0, data))


def _meaning(k: Keyed, raw: bytes, data: bytes) -> str:
    if data:
        frame = api.parse(data)
        if isinstance(frame, api.ATCommandResponse):
            return code_meaning(frame.command, frame.value, True) or ""
        return ""
    return code_meaning(query_command(k.exchange.request), raw, False) or ""


def _answers_diff(a: Keyed, b: Keyed, matchers: Matchers) -> list[str]:
    ka, kb = [x[0] for x in a.answers], [x[0] for x in b.answers]
    out: list[str] = []
    sm = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        olds, news = a.answers[i1:i2], b.answers[j1:j2]
        for n in range(max(len(olds), len(news))):
            old = olds[n] if n < len(olds) else None
            new = news[n] if n < len(news) else None
            if old is not None:
                out.append(_answer_line("-" if new is not None else "- (missing)", a, old))
            if new is not None:
                out.append(_answer_line("+" if old is not None else "+ (extra)", b, new))
            if old is not None and new is not None and old[2] and new[2]:
                fields = frame_field_diff(
                    normalize_frame(old[2], matchers, 0), normalize_frame(new[2], matchers, 0)
                )
                out += [f"      {f}" for f in fields]
    return out


def _answer_line(sign: str, k: Keyed, answer: tuple[bytes, bytes, bytes]) -> str:
    key, raw, data = answer
    why = _meaning(k, raw, data)
    return f"  {sign} {_answer_text(raw, data, key)}" + (f"   ({why})" if why else "")


def _only(side: str, k: Keyed) -> list[str]:
    rep = f" (x{k.repeats})" if k.repeats > 1 else ""
    lines = [f"exchange only in {side} (line {k.line}){rep}: {_request_text(k)}"]
    lines += [f"    {_answer_text(raw, data, key)}" for key, raw, data in k.answers]
    return lines


def compare(a: Capture, b: Capture, matchers: Matchers, *, keep_repeats: bool = False,
            strict: bool = False) -> list[str]:  # fmt: skip
    """Lines describing each difference (empty: the module behaved the same). `strict`:
    byte for byte (uploads, digests and payload frames as recorded)."""
    side_a = keyed_capture(a, matchers, keep_repeats=keep_repeats, strict=strict)
    side_b = keyed_capture(b, matchers, keep_repeats=keep_repeats, strict=strict)
    ea, status_a, eb, status_b = side_a.exchanges, side_a.status, side_b.exchanges, side_b.status
    out: list[str] = []
    changed = _answers_diff(status_a, status_b, matchers)
    if changed:
        out.append("modem status frames differ (whenever they came):")
        out += changed
    sm = difflib.SequenceMatcher(None, [k.request for k in ea], [k.request for k in eb],
                                 autojunk=False)  # fmt: skip
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            for ka, kb in zip(ea[i1:i2], eb[j1:j2], strict=True):
                changed = _answers_diff(ka, kb, matchers)
                if changed:
                    out.append(f"answers differ (A line {ka.line}, B line {kb.line}): "
                               f"{_request_text(ka)}")  # fmt: skip
                    out += changed
            continue
        olds, news = ea[i1:i2], eb[j1:j2]
        for n in range(max(len(olds), len(news))):
            old = olds[n] if n < len(olds) else None
            new = news[n] if n < len(news) else None
            if old is not None and new is not None:
                out.append(f"request differs (A line {old.line}, B line {new.line}):")
                out.append(f"  - {_request_text(old)}")
                out.append(f"  + {_request_text(new)}")
                ra, rb = old.exchange.request, new.exchange.request
                if ra is not None and rb is not None and ra.kind == rb.kind == "frame":
                    fields = frame_field_diff(normalize_frame(ra.data, matchers, 0),
                                              normalize_frame(rb.data, matchers, 0))  # fmt: skip
                    out += [f"      {f}" for f in fields]
                out += _answers_diff(old, new, matchers)
            elif old is not None:
                out += _only("A", old)
            elif new is not None:
                out += _only("B", new)
    out += _streams_diff(side_a.streams, side_b.streams)
    return out


def header(tag: str, capture: Capture) -> str:
    """The `---` / `+++` line naming a capture: its test, firmware and start."""
    h = capture.header
    fw = " ".join(f"{k}={v}" for k, v in (h.get("firmware") or {}).items()) or "firmware ?"
    for ev in capture.events:  # a cassette stamp (harness.replay.cassette) knows the firmware
        if ev.get("ev") == "cassette" and ev.get("firmware"):
            fw = " ".join(f"{k}={v}" for k, v in ev["firmware"].items())
    return f"{tag} {capture.path}  ({h.get('test')}; {fw}; started {h.get('started')})"


def report(a: Capture, b: Capture, matchers: Matchers, *, keep_repeats: bool = False,
           strict: bool = False) -> tuple[list[str], int]:  # fmt: skip
    """What `capture diff` prints, and its exit status: 0 equivalent, 1 different."""
    lines = compare(a, b, matchers, keep_repeats=keep_repeats, strict=strict)
    out = [header("---", a), header("+++", b)]
    if a.header.get("test") != b.header.get("test"):
        out.append(f"note: not the same test ({a.header.get('test')} / {b.header.get('test')})")
    out += lines
    changes = sum(1 for line in lines if not line.startswith(" "))
    if changes:
        out.append(f"{changes} exchange(s) differ")
        return out, 1
    out.append("equivalent: the module answered the same" if strict else
               "equivalent: the module answered the same (compared by behaviour; --bytes "
               "compares uploads, hashes and payload frames byte for byte)")  # fmt: skip
    return out, 0


def run(a: str | Path, b: str | Path, *, prog: str, ignore_addresses: bool = False,
        keep_repeats: bool = False, strict: bool = False) -> int:
    """The `diff` command of `xbee-hil capture` and `python -m harness.replay`: print where
    the module's behaviour changed; 0 same, 1 changed, 2 an unreadable capture (one line)."""
    try:
        ca, cb = read_capture(a), read_capture(b)
    except CaptureError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    lines, status = report(ca, cb, Matchers(addresses=ignore_addresses),
                           keep_repeats=keep_repeats, strict=strict)  # fmt: skip
    for line in lines:
        print(line)
    return status
