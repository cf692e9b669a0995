"""Command mode over a byte port: `+++` with guard times, AT queries and sets, `ATCN`.

Works the same on a real module and the simulator: it only sees a `Tap`. Every wait is
bounded and a timeout names the command it was waiting for. Line syntax and value
parsing come from the AT catalogue (`harness.xbee.at`); this module adds only timing.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from harness.device import progress
from harness.device.errors import CommandError, DeviceTimeout
from harness.device.transport import Tap, _fd_holders, _proc_name, is_url
from harness.xbee import at

DEFAULT_GT = 1.0  # GT default 0x3E8 ms (D-GT)
MAX_GT = 0x6D3 / 1000  # GT range 0x2-0x6D3 ms (D-GT): the longest guard a module can want
DEFAULT_CT = 10.0  # CT default 0x64 × 100 ms (D-ENTER)
GUARD_MARGIN = 1.1  # wait 10 % longer than GT on each side of +++
# ... and at least this much longer: the module counts the silence from when the last byte
# reached it, which a loaded host, a USB adapter or RFC 2217 delays by some ms; 10 % of a
# short GT (100 ms) is less than that (ASSUMPTION A-GUARD-JITTER, docs/assumptions.md).
GUARD_JITTER = 0.05


def guard_silence(guard: float) -> float:
    """The host's silence on each side of `+++` for a module whose GT is `guard` seconds."""
    return guard + max(guard * (GUARD_MARGIN - 1), GUARD_JITTER)
ESCAPE_REPLY = 1.0  # OK is due GT after +++; allow this much more (A-AT-REPLY-TIME)
REPLY_TIMEOUT = 2.0  # per AT line; ASSUMPTION A-AT-REPLY-TIME (docs/assumptions.md)
# Slow commands (MY, N1, AI, TM, FS, WR, SD, LA, RE) wait their own time: the AT catalogue's
# `reply_timeout` column (harness/xbee/at.py, L-TG-HEAD, A-AT-REPLY-TIME).

# An ATFS error line: capital E, capitals/digits, a space, text (D-FSCMD; L-PY's regex).
FS_ERROR = re.compile(r"^E[A-Z0-9]+ ")

Value = at.Value | None
Command = str | tuple[str, Value]


class CommandMode:
    """One module's command mode. Use as a context manager: enters on entry, `ATCN` on exit.

    `guard_time` is the module's GT in seconds when known (default 1 s). If `+++` gets no
    `OK`, `enter()` probes with `\rAT\r` in case the module is already in command mode (a
    terminal session left it there), then retries with the longest guard the module allows
    (GT may have been set higher). When nothing answers, the error says what else it saw.
    """

    def __init__(
        self,
        tap: Tap,
        *,
        guard_time: float | None = None,
        command_timeout: float = DEFAULT_CT,
        cc: bytes = b"+",
        reply_timeout: float = REPLY_TIMEOUT,
        max_guard_time: float = MAX_GT,
    ) -> None:
        self.tap = tap
        self.guard_time = DEFAULT_GT if guard_time is None else guard_time
        self.command_timeout = command_timeout
        self.cc = cc
        self.reply_timeout = reply_timeout
        self.max_guard_time = max_guard_time  # the retry guard (a time-scaled sim: scale it)
        self.active = False
        self._stray = 0  # bytes that came while entering that were not an answer to us

    # --- entering and leaving ---
    def enter(self) -> None:
        """Enter command mode (silence ≥ GT, `+++`, silence ≥ GT, then `OK\\r`: D-ENTER)."""
        longest = self.max_guard_time
        guards = [self.guard_time] + ([longest] if self.guard_time < longest else [])
        self._stray = 0
        for i, guard in enumerate(guards):
            if self._escape(guard) or (i == 0 and self._probe()):
                self.guard_time = guard
                self._entered()
                return
        tried = ", ".join(f"{g:g} s" for g in guards)
        raise DeviceTimeout(
            f"{self.tap.spec}: no OK to {self.cc.decode() * 3} (guard times tried: {tried}) "
            f"nor to AT; {self._why_silent()}"
        )

    def _escape(self, guard: float) -> bool:
        if 2 * guard_silence(guard) >= progress.WORTH_SAYING and guard != getattr(
            self, "_guard_said", None
        ):  # one line per guard time in use, not per entry
            self._guard_said = guard
            progress.say("command mode", f"guard time {guard:g} s of silence each side of +++")
        self.tap.reset_input_buffer()  # what our own earlier exchanges left
        self._silence(guard_silence(guard))
        self._stray += len(self.tap.read_available(0.0))  # came while we said nothing
        self.tap.write(self.cc * 3)  # no CR after +++ (D-ENTER)
        try:
            self.tap.read_until(
                b"OK\r", guard_silence(guard) + min(ESCAPE_REPLY, self.reply_timeout), what="OK"
            )
        except DeviceTimeout:
            self._stray += len(self.tap.read_available(0.0))  # an answer, but not OK
            return False
        return True

    def _probe(self) -> bool:
        """`\\rAT\\r` answers OK only in command mode (D-CMD): the leading CR ends whatever
        half line a terminal (or our API probe, or `+++` typed into command mode) left, which
        answers ERROR first. In the other modes these 4 bytes are data, like the API probe's
        (ASSUMPTION A-AT-PROBE)."""
        self.tap.reset_input_buffer()
        self.tap.write(b"\rAT\r")
        try:
            self.tap.read_until(b"OK\r", self.reply_timeout, what="OK to AT")
        except DeviceTimeout:
            return False
        return True

    def _why_silent(self) -> str:
        """What the harness could see of why nothing answered, in words a bench user can act
        on: another program holding the port without a lock, bytes no one asked for."""
        hints = []
        if others := other_holders(self.tap.spec):
            hints.append(
                f"another program has the port open without a lock ({others}): close it"
            )
        if self._stray:
            hints.append(
                f"{self._stray} bytes arrived that the harness did not ask for (another "
                "program on the line, or a transparent-mode connection still open)"
            )
        return "; ".join(hints) or "is the baud rate right and is the module powered?"

    def _silence(self, seconds: float) -> None:
        """Sleep until the host has sent nothing for `seconds` (the guard before +++)."""
        wait = self.tap.last_tx + seconds - self.tap.clock.now()
        if wait > 0:
            self.tap.clock.sleep(wait)

    def _entered(self) -> None:
        self.active = True
        self.tap.note("mode", mode="command")

    def exit(self) -> None:
        """`ATCN`: apply pending changes and return to the previous mode (D-CMD, D-ENTER)."""
        if not self.active:
            return
        try:
            self.run("CN")
        finally:
            self.active = False
            self.tap.note("mode", mode="previous")

    def __enter__(self) -> CommandMode:
        self.enter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.exit()

    # --- AT exchanges ---
    def query(self, name: str, *, timeout: float | None = None) -> str:
        """`AT<name>\\r` → the reply text (without CR). ERROR raises CommandError."""
        return self.run((name, None), timeout=timeout)[0]

    def get(self, name: str, *, timeout: float | None = None) -> Any:
        """A query, parsed by the AT catalogue (numbers as int, addresses as text …)."""
        return at.from_text(name, self.query(name, timeout=timeout))

    def set(self, name: str, value: at.Value, *, timeout: float | None = None) -> None:
        """`AT<name><value>\\r` → OK, else CommandError. Ints go as hex digits (D-CMD)."""
        self.run((name, value), timeout=timeout)

    def apply(self) -> None:
        self.run("AC")

    def run(self, *commands: Command, timeout: float | None = None) -> list[str]:
        """Send commands in one comma-batched line (`ATDLx,DE1BB,AC`, D-CMD); one reply each.

        A command is a bare name (`"AC"`, `"CN"`, `"VR"`: executes or queries), or
        `(name, value)`; value None is a query, anything else a set. Returns the reply
        lines; the first ERROR raises.
        """
        if not commands:
            return []
        self._keep_alive()
        pairs = [_pair(c) for c in commands]
        line = at.format_chain(pairs)
        wait = timeout if timeout is not None else self._timeout_for(pairs)
        label = ",".join(n for n, _ in pairs)
        self.tap.write(line)
        replies: list[str] = []
        for name, value in pairs:
            raw = self.tap.read_until(b"\r", wait, what=f"reply to AT{name} (in AT{label})")
            text = raw[:-1].decode("latin-1").lstrip("\n")
            replies.append(text)
            self.tap.note("at", cmd=name, param=_shown(value), reply=text)
            if text == "ERROR":
                raise CommandError(name if len(pairs) == 1 else f"{name} (in AT{label})", text)
        if any(n == "CN" for n, _ in pairs):
            self.active = False
        return replies

    def lines(
        self, line: str, *, timeout: float = REPLY_TIMEOUT, end: Iterable[str] = ("",)
    ) -> list[str]:
        """A command with a multi-line answer (`ATFS LS`, `ATSI`): lines until one in `end`.

        `end` defaults to the blank line that ends listings (D-FSCMD, D-SI). A line starting
        with `E` + capitals (an FS error, D-FSCMD) or `ERROR` raises CommandError.
        """
        self._keep_alive()
        stop = set(end)
        self.tap.write(line.encode("latin-1") + b"\r")
        out: list[str] = []
        deadline = self.tap.clock.now() + timeout
        while True:
            left = max(0.0, deadline - self.tap.clock.now())
            raw = self.tap.read_until(b"\r", left, what=f"reply to {line}")
            text = raw[:-1].decode("latin-1").lstrip("\n")
            if text == "ERROR" or FS_ERROR.match(text):
                self.tap.note("at", cmd=line, reply=text)
                raise CommandError(line.removeprefix("AT"), text)
            if text in stop:
                self.tap.note("at", cmd=line, reply="\n".join(out))
                return out
            out.append(text)

    def send_line(self, line: str) -> None:
        """Write one raw command line (CR added), e.g. `ATFS XPUT key.pem` before YMODEM."""
        self._keep_alive()
        self.tap.write(line.encode("latin-1") + b"\r")

    # --- helpers ---
    def _keep_alive(self) -> None:
        """Re-enter if CT may have expired since the last byte we sent (D-ENTER)."""
        if not self.active:
            self.enter()
            return
        idle = self.tap.clock.now() - self.tap.last_tx
        if idle > self.command_timeout * 0.9:
            self.active = False
            self.enter()

    def _timeout_for(self, pairs: Sequence[tuple[str, Value]]) -> float:
        return max(at.reply_timeout(n, self.reply_timeout) for n, _ in pairs)


def _pair(c: Command) -> tuple[str, Value]:
    if isinstance(c, str):
        return (c, None)
    name, value = c
    return (name, value)


def _shown(value: Value) -> str | None:
    return None if value is None else str(value)


def other_holders(spec: str) -> str:
    """Other processes that have a local port open (from /proc/*/fd), as `pid N (name)`.

    pyserial's `exclusive=True` is an flock: a program that opened the port without one
    (a terminal, `cat`) is visible only in /proc. For a pseudo-terminal the process that
    serves it (holding /dev/ptmx: the simulator, ser2net, socat) is the module's side, not
    a competitor, and is left out (ASSUMPTION A-PTY-SERVER). Best effort: empty when /proc
    says nothing."""
    if is_url(spec):
        return ""
    with contextlib.suppress(OSError):
        real = os.path.realpath(spec)
        pids = _fd_holders(real)
        if pids and real.startswith("/dev/pts/"):
            servers = set(_fd_holders("/dev/ptmx"))
            pids = [p for p in pids if p not in servers]
        return ", ".join(f"pid {p} {_proc_name(p)}".rstrip() for p in pids)
    return ""
