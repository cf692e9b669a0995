"""Play a cassette back, strictly: the module's side of a recorded test, sans-IO.

A cassette's script (`harness.replay.script`: `expect` a unit the host writes, `emit` a unit
the module sent) is walked in recorded order. What the harness writes must match the next
`expect`, in order; the module's bytes that followed it in the recording are then sent back,
with their recorded gaps scaled by `speed` (0 = as fast as order allows, 1 = real time).
Unsolicited output (0x8A, 0xB0, 0xCD, 0xCF …) therefore comes at its place in the sequence:
after the host bytes that preceded it in the recording. A YMODEM upload the capture kept as a
hash (`ATFS XPUT` of a key) is received live by the module's side of the protocol and judged
by the file's size and SHA-256 (`harness.replay.uploads`).

`Matchers` (`harness.replay.matchers`) decides what may differ: frame IDs (a recorded ID maps
to the live ID on first sight and must stay consistent; responses are renumbered to match),
dates in payloads, redacted secrets, and optionally server addresses/ports.

The first mismatch stops the player (no more answers, so the harness times out quickly) and
`finish()` returns a `Verdict` whose report shows the expected and actual unit decoded
(frame names, fields, codes' meanings), the cassette line, and the last exchanges before it.
A cassette not fully used fails too.

`Player` is pure (bytes and times in, bytes out). `_Engine` wraps it in what the simulator's
host server drives in place of a Modem, so `harness.replay.device.ReplayServer` can serve it
on a pty with the simulator's own port machinery.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture import read_capture, split_units
from harness.replay.matchers import (
    AT_LINE,
    ESCAPE,
    ESCAPE_OK,
    Matchers,
    frame_id_of,
    normalize_frame,
    normalize_text,
    redact_live_frame,
    redact_live_text,
    with_frame_id,
)
from harness.replay.script import Step, build_script, describe, frame_field_diff
from harness.replay.uploads import live_uploads, upload_problem
from harness.sim.core.effects import Effect, ToHost
from harness.xbee import frames, ymodem

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
        self._last_exchange: tuple[int, int] | None = None  # a repeatable one: [first, end)

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
                again = self._repeat(now)
                if again is not None:
                    out += again
                    continue
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
        if step.action == "expect":
            self._last_exchange = (self.pos, self.pos + 1) if step.repeatable else None
        elif self._last_exchange is not None and self._last_exchange[1] == self.pos:
            self._last_exchange = (self._last_exchange[0], self.pos + 1)
        self.pos += 1

    def _repeat(self, now: float) -> bytes | None:
        """The live host repeats the last exchange, which the recording repeated too (a
        folded poll, `Step.repeatable`): its recorded answers again; None when it does not."""
        if self._last_exchange is None:
            return None
        first, end = self._last_exchange
        if end != self.pos:  # something else was played since
            return None
        step = self.steps[first]
        fid = frame_id_of(step.data) if step.kind == "frame" else None
        before = self.fid_map.pop(fid, None) if fid is not None else None  # a new ID each time
        got = self._take(step)
        if not isinstance(got, _Live) or got.problem is not None:
            if fid is not None and before is not None:
                self.fid_map[fid] = before
            return None
        if got.fid is not None:
            self.fid_map[got.fid[0]] = got.fid[1]
        del self.live[: got.consumed]
        self._history.append((step, got.raw))
        return b"".join(self._emit(step) for step in self.steps[first + 1 : end])

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
            if nxt is None or nxt.kind != "text" or not AT_LINE.match(nxt.raw):
                return None
            for skipped in self.steps[self.pos : after]:
                self._complete(skipped, now, b"" if skipped is step else None)
            return b""
        if live == ESCAPE and step.kind == "text" and AT_LINE.match(step.raw):
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
        problem = upload_problem(step, rx, self._received.hexdigest())
        if problem is not None:
            self._fail(step, None, [problem])
        else:
            self._complete(step, now, None)
        return bytes(out)

    def _emit(self, step: Step) -> bytes:
        if step.kind != "frame" or not self.matchers.frame_ids:
            return step.raw
        fid = frame_id_of(step.data)
        if fid is None or fid not in self.fid_map or self.fid_map[fid] == fid:
            return step.raw
        return frames.encode(with_frame_id(step.data, self.fid_map[fid]), escaped=step.escaped)

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
        exp_fid, live_fid = frame_id_of(step.data), frame_id_of(data)
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


# ----- what the simulator's host server drives ------------------------------------------------


class _Engine:
    """What `SimServer` drives in place of a Modem: it implements `harness.sim.host.engine.Engine`
    (power_on/feed/tick/handle/next_deadline, and the state the loop reads: param BD/GT,
    in_command_mode, registered, reset_s, nvm); the type checker holds it to that where
    `SimServer` takes it."""

    in_command_mode = False  # SimServer's accounting of escapes and registrations: nothing
    registered = True  # to account, the cassette already holds their timing
    reset_s = 0.0  # a replay never resets by itself

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
