"""Bring a module to a wanted configuration, verify it, and put it back afterwards.

Input is a plain mapping of AT name → wanted value plus a mode (`transparent`, `api`,
`api-escaped`), so this module does not depend on the profile schema. The work is split:

- `plan` (pure): wanted vs actual → the changes, in the order they must be made.
- `Configurator` (on a `device.module.Module`): read → plan → set → AC → read back →
  verify → (WR only if allowed); snapshot/restore as a context manager; reset (FR or an
  external command); wait for registration.

Every wait is bounded; every failure names the parameter, the wanted and the actual value.
Secrets (APN user/password) are shown masked (`xbee.at.redact`).
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.device import progress
from harness.device.errors import (
    CommandError,
    ConfigureError,
    DeviceError,
    DeviceTimeout,
    EmptyValueError,
    NetworkNotReady,
    VerifyError,
    show_value,
)
from harness.device.module import AP_MODE, MODE_AP, Module, Stats
from harness.xbee import at, codes, frames
from harness.xbee.tls import ProfileError, TlsProfile

# Reset: how long to wait for the module to come back (0x8A 0x00 or a `+++` OK), and how
# long to listen for the 0x8A before trying `+++`. ASSUMPTION A-RESET-TIME.
RESET_TIMEOUT = 30.0
BOOT_SIGNAL_WAIT = 2.0
POWER_UP = bytes((0x8A, 0x00))  # 0x8A Modem Status 0x00 "Hardware reset or power up" (D-8A)
# Registration polling (AI = 0x00 "Connected to the Internet", reference §3.3).
REGISTRATION_TIMEOUT = 60.0
AI_POLL = 0.5
# Parameters that change how the host must talk to the module: set last, and followed.
ORDER_LAST = ("GT", "CT", "CC", "BD")
# The APN and its credentials (L-TG): a change means a new data context, so the caller waits
# for registration again (A-SIM-APN-REATTACH). CU/CW are write-only: never read back,
# never restored (ASSUMPTION A-APN-WRITE-ONLY).
NETWORK_PARAMS = ("AN", "CU", "CW")


def network_params(
    apn: str | None, user: str | None = None, password: str | None = None
) -> dict[str, str]:
    """A profile's `network:` block as AT parameters (AN, CU, CW), the unset ones left out."""
    values = {"AN": apn, "CU": user, "CW": password}
    return {k: v for k, v in values.items() if v is not None}


# ----- what was done ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One parameter to write: its value before and the value wanted."""

    name: str
    before: Any
    after: Any

    def __str__(self) -> str:
        before, after = show_value(self.name, self.before), show_value(self.name, self.after)
        return f"AT{self.name}: {before} -> {after}"


@dataclass(slots=True)
class Report:
    """The outcome of one `apply`: mode before/after, the changes made, what it cost."""

    mode_before: str
    mode_after: str
    changes: list[Change] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # write-only parameters (CU, CW)
    written_to_nvm: bool = False
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def network_changed(self) -> bool:
        """An APN parameter was written: the module attaches again (wait for AI = 0)."""
        return any(c.name in NETWORK_PARAMS for c in self.changes)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """The outcome of a checked restore: what was left changed (name → (wanted, has)),
    the error that stopped it, and how the leftover values are known."""

    ok: bool
    left: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: str | None = None
    how: str = "read back"

    def line(self, where: str) -> str:
        """One line for the terminal and the report; empty when the restore succeeded."""
        if self.ok:
            return ""
        if self.left:
            shown = ", ".join(
                f"{n}={show_value(n, has)} (was {show_value(n, was)})"
                for n, (was, has) in self.left.items()
            )
            what = f"left changed: {shown} ({self.how})"
        else:
            what = "parameters left changed are unknown"
        return f"restore of {where} failed: {what}: {self.error}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The module's mode and the values of the parameters a profile touches."""

    mode: str
    values: dict[str, Any]


# ----- the pure part ---------------------------------------------------------------------------


def normalize(name: str, value: Any, *, where: str = "profile") -> Any:
    """A wanted value in the catalogue's form (int for numbers, text otherwise).

    Profiles may write numbers as ints or as hex text (`"1BB"`, `"0x1BB"`, D-CMD); TLS
    profiles are compared in the module's `ca;cert;key` form. Errors name the key.
    """
    try:
        row = at.spec(name)
    except at.AtError as exc:
        raise ConfigureError(f"{where}: {exc}") from None
    if row.readonly or row.kind is at.Kind.COMMAND:
        raise ConfigureError(f"{where}: AT{row.name} cannot be set ({row.meaning})")
    try:
        if row.kind is at.Kind.HEX and isinstance(value, str):
            value = at.parse_hex(value, what=f"AT{row.name}")
        value = at.validate(row.name, value)
        if row.kind is at.Kind.TLS:
            value = TlsProfile.parse(str(value)).format()
        elif value == "":
            raise at.AtError(
                f"AT{row.name}: an empty value cannot be written (an empty parameter is a "
                "query, D-CMD, D-08)"
            )
    except (at.AtError, ProfileError) as exc:
        raise ConfigureError(f"{where}: {exc}") from None
    return value


def same(name: str, wanted: Any, actual: Any) -> bool:
    """Whether the module's value counts as the wanted one (TLS profiles in `a;b;c` form)."""
    if actual is None:
        return False
    if at.spec(name).kind is at.Kind.TLS:
        try:
            return TlsProfile.parse(str(actual)).format() == wanted
        except ProfileError:
            return False
    return bool(actual == wanted)


def plan(wanted: Mapping[str, Any], actual: Mapping[str, Any]) -> list[Change]:
    """The writes that take `actual` to `wanted`: only what differs, in a safe order.

    Write-only parameters (CU, CW: a query answers nothing, L-TG) are always written.
    Parameters that change the host's side of the line (GT, CT, CC, BD) go last.
    """
    changes = []
    for name, value in wanted.items():
        row = at.spec(name)
        if row.write_only or not same(name, value, actual.get(name)):
            changes.append(Change(row.name, actual.get(name), value))
    last = {n: i for i, n in enumerate(ORDER_LAST)}
    return sorted(changes, key=lambda c: last.get(c.name, -1))


def split_mode(wanted: Mapping[str, Any], mode: str | None) -> tuple[dict[str, Any], str | None]:
    """Pull AP out of the mapping: the mode is handled apart (it changes the link)."""
    params = {k.upper(): v for k, v in wanted.items()}
    ap = params.pop("AP", None)
    if mode is None and ap is not None:
        ap = normalize("AP", ap)
        if ap not in AP_MODE:
            raise ConfigureError(f"profile: AP={ap} is not a mode this harness drives")
        mode = AP_MODE[ap]
    if mode is not None and mode not in MODE_AP:
        raise ConfigureError(f"mode {mode!r}: expected one of {', '.join(MODE_AP)}")
    return params, mode


# ----- configuring -----------------------------------------------------------------------------


class Configurator:
    """Apply / verify / restore, reset and registration for one `Module`."""

    def __init__(self, module: Module, *, allow_nvm_write: bool = False) -> None:
        self.module = module
        self.allow_nvm_write = allow_nvm_write
        # How `reset()` resets when not told: None is `FR`; the composition root sets the
        # profile's power switch (`reset: power`, the device's own; a `command`, the shell
        # command), so every reset of the run is a power cycle (A-BENCH-RECOVER). A
        # command's own bound replaces the caller's `timeout` (`reset_timeout`).
        self.reset_with: str | Callable[[], None] | None = None
        self.reset_timeout: float | None = None
        # Why no reset may happen at all (`reset: none`): `reset()` raises it, module untouched.
        self.reset_forbidden: str | None = None

    @property
    def stats(self) -> Stats:
        return self.module.stats

    # --- read and apply ---
    def snapshot(self, names: list[str]) -> Snapshot:
        """The mode and the readable values of `names`, to restore later."""
        mod = self.module
        mode = mod.ensure_mode()
        names = [at.spec(n).name for n in names if n.upper() != "AP"]
        values = mod.read(names)
        return Snapshot(mode, values)

    def apply(
        self,
        wanted: Mapping[str, Any],
        mode: str | None = None,
        *,
        persist: bool = False,
        actual: Mapping[str, Any] | None = None,
        check_mode: bool = False,
    ) -> Report:
        """Bring the module to `wanted` (+ `mode`): read, write only what differs, AC,
        read back and verify, switch mode last, and WR only when `persist` and allowed.

        `actual` skips the read when the caller has just read the same names (snapshot).
        `check_mode` reads AP with the parameters (free in a command-mode batch, one 0x08
        in API mode) instead of trusting the mode this `Module` last saw.
        """
        before = self.stats.as_dict()
        params, mode = split_mode(wanted, mode)
        want = {}
        for key, value in params.items():
            value = normalize(key, value)  # raises naming the key first
            want[at.spec(key).name] = value
        mod = self.module
        mode_before = mod.ensure_mode()
        target_mode = mode or mode_before
        if persist and not self.allow_nvm_write:
            raise ConfigureError(
                "WR (write to flash) asked for but not allowed: flash wear; pass "
                "allow_nvm_write=True (--allow-nvm-write) to persist a profile"
            )
        names = [*want, "AP"] if check_mode else list(want)
        current = dict(actual) if actual is not None else mod.read(names)
        if check_mode and "AP" in current:
            ap = current.pop("AP")
            mode_before = mod.mode = AP_MODE.get(ap) or mod._unsupported(ap)
            target_mode = mode or mode_before
        changes = plan(want, current)
        report = Report(mode_before, target_mode, changes)
        if changes:
            mod.tap.note("configure", changes=[str(c) for c in changes])
            mod.write({c.name: c.after for c in changes})
            self._verify(changes, report)
        if target_mode != mode_before:
            self._switch_mode(target_mode)
        if persist and (changes or target_mode != mode_before):
            mod.execute("WR")  # D-SPECIAL: nothing else until its OK
            self.stats.nvm_writes += 1
            report.written_to_nvm = True
        report.mode_after = mod.mode or target_mode
        report.stats = self.stats.since(before)
        return report

    def _verify(self, changes: list[Change], report: Report) -> None:
        readable = [c for c in changes if not at.spec(c.name).write_only]
        report.unverified = [c.name for c in changes if at.spec(c.name).write_only]
        got = self.module.read([c.name for c in readable])
        for c in readable:
            if not same(c.name, c.after, got.get(c.name)):
                raise VerifyError(c.name, c.after, got.get(c.name))

    def _switch_mode(self, target: str) -> None:
        """Change AP last (it changes the link itself) and follow it (D-AP)."""
        mod = self.module
        ap = MODE_AP[target]
        if mod.in_command_mode or mod.mode == "transparent":
            mod.command().run(("AP", ap))
            mod.leave_command()  # CN applies AP and leaves command mode (D-CMD)
            if target == "transparent":
                mod.mode = target  # nothing to read it back with short of another +++
            else:
                mod.mode = None
                got = mod.detect_mode()  # the API probe: one 0x08 round trip
                if got != target:
                    raise VerifyError("AP", ap, MODE_AP.get(got))
        else:
            client = mod.api()
            client.set("AP", ap)  # 0x08 applies at once; the 0x88 answer still comes first
            mod.mode = target
            if target == "transparent":
                mod._stop_api()
                return
            res = mod.api().at("AP")  # read back in the new framing
            got_ap = int.from_bytes(res.value, "big") if res.ok and res.value else None
            if got_ap != ap:
                raise VerifyError("AP", ap, got_ap)
        mod.tap.note("mode", mode=target, how="configured")

    # --- snapshot / restore ---
    @contextlib.contextmanager
    def configured(
        self, wanted: Mapping[str, Any], mode: str | None = None, *, persist: bool = False
    ) -> Iterator[Report]:
        """Snapshot, apply, run the body, restore: the module is put back also when the
        body (or the apply itself) raises. A restore failure after a failed body is added
        to that exception as a note rather than hiding it."""
        params, _ = split_mode(wanted, mode)
        snap = self.snapshot(list(params))
        try:
            report = self.apply(wanted, mode, persist=persist, actual=snap.values)
            yield report
        except BaseException as exc:
            try:
                self.restore(snap, persist=persist)
            except Exception as again:
                exc.add_note(f"restoring the module also failed: {again}")
            raise
        else:
            self.restore(snap, persist=persist)

    def restore(self, snap: Snapshot, *, persist: bool = False) -> Report:
        """Put the snapshot back (only what differs, read back; WR only if the apply
        persisted). Bytes left on the line by an interrupted exchange are dropped first."""
        mod = self.module
        persist = persist and self.allow_nvm_write
        if not mod.in_command_mode:
            mod._stop_api()  # the reader would race the drain; `api()` starts it again
        mod.tap.drain(quiet=0.05, limit=0.5)  # a late reply must not answer our first query
        values = {k: v for k, v in snap.values.items() if v != ""}
        try:
            report = self.apply(values, snap.mode, persist=persist, check_mode=True)
        except (DeviceTimeout, CommandError, ConfigureError) as exc:
            if isinstance(exc, VerifyError):
                raise
            # the body (or an interrupt) left the module in another mode or mid-exchange
            # than we think: leave it, find its mode afresh, try once more
            self._resync()
            report = self.apply(values, snap.mode, persist=persist, check_mode=True)
        empty = [k for k in snap.values if k not in values]
        if empty:
            got = mod.read(empty)
            for name in empty:
                if got.get(name) not in ("", None):
                    raise EmptyValueError(name, got[name])
        return report

    def _resync(self) -> None:
        mod = self.module
        with contextlib.suppress(DeviceError):
            mod.close()
        mod._stop_api()
        mod._cm.active = False
        mod.mode = None
        mod.tap.drain(quiet=0.05, limit=0.5)

    def restore_checked(self, snap: Snapshot, *, persist: bool = False) -> RestoreResult:
        """`restore`, never raising a device error: the result names what was left changed.

        After a failure the module is read once more to say which parameters differ from
        the snapshot; when it does not answer, the values this harness last wrote stand in
        (`how` says which). Write-only parameters (CU, CW) cannot be compared."""
        believed = dict(getattr(self, "known", {}))
        left: dict[str, tuple[Any, Any]] = {}
        silent = False
        try:
            self.restore(snap, persist=persist)
        except VerifyError as exc:
            error, left[exc.name] = str(exc), (exc.wanted, exc.actual)
        except DeviceError as exc:
            error, silent = str(exc), isinstance(exc, DeviceTimeout)
        else:
            return RestoreResult(True)
        now, how = believed, "as last written; the module did not answer"
        if not silent:  # it answers: ask it once more what it has
            with contextlib.suppress(DeviceError):
                self._resync()
                now, how = self.module.read(list(snap.values)), "read back"
        for name, value in snap.values.items():
            if name in now and name not in left and not same(name, value, now[name]):
                left[name] = (value, now[name])
        return RestoreResult(False, left, error, how)

    # --- reset ---
    def reset(
        self, command: str | Callable[[], None] | None = None, *, timeout: float = RESET_TIMEOUT
    ) -> str:
        """Reset the module, by `reset_with` when `command` is None (FR when that is None
        too), an external shell command (a power switch, `uhubctl …`) or a callable (the
        simulator's power cycle, a place's power driver), then wait until it answers again.
        Returns the mode it came back in.

        Unsaved parameters revert to their flash values, AP included, so the mode is found
        anew: an 0x8A 0x00 power-up frame (D-8A, API mode) or an OK to `+++`.
        """
        mod = self.module
        was_api = mod.mode in ("api", "api-escaped") and not mod.in_command_mode
        if command is None:
            if self.reset_forbidden is not None:
                raise ConfigureError(self.reset_forbidden)
            command = self.reset_with
            if command is not None and self.reset_timeout is not None:
                timeout = self.reset_timeout
        if command is None:
            if was_api:
                mod.api().take_unsolicited()
                mod.api().execute("FR")
            else:
                mod.command().run("FR")
        elif callable(command):
            mod.close()
            command()
        else:
            mod.close()
            self._run_external(command, timeout)
        self.stats.resets += 1
        mod._stop_api()
        mod._cm.active = False  # a reset leaves command mode
        mod.reverted()  # GT/CT at their flash values again
        mod.mode = None
        how = "FR" if command is None else "power" if callable(command) else "external"
        mod.tap.note("reset", how=how)
        said = {"FR": "ATFR", "power": "power cycle", "external": "external command"}[how]
        progress.say("reset", f"{said} done; waiting up "
                     f"to {timeout:g} s for the module to answer")  # fmt: skip
        return self._wait_back(timeout, listen=was_api)

    def _run_external(self, command: str, timeout: float) -> None:
        try:
            done = subprocess.run(
                shlex.split(command), capture_output=True, timeout=timeout, check=False
            )
        except (OSError, ValueError) as exc:
            raise ConfigureError(f"reset command {command!r} could not run: {exc}") from None
        except subprocess.TimeoutExpired:
            raise DeviceTimeout(f"reset command {command!r} ran over {timeout:g} s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode(errors="replace").strip()[-200:]
            raise ConfigureError(
                f"reset command {command!r} exited with {done.returncode}: {tail or 'no output'}"
            )

    def _wait_back(self, timeout: float, *, listen: bool) -> str:
        """Listen for the 0x8A power-up frame when the module was in API mode (D-8A), then
        find the mode; retries until `timeout` while the module is still booting."""
        mod = self.module
        deadline = mod.tap.clock.now() + timeout
        if listen:
            deframer = frames.Deframer()
            until = mod.tap.clock.now() + min(BOOT_SIGNAL_WAIT, timeout)
            while mod.tap.clock.now() < until:
                got = deframer.feed(mod.tap.read_available(0.05))
                if any(getattr(f, "data", None) == POWER_UP for f in got):
                    break
        last: Exception | None = None
        while mod.tap.clock.now() < deadline:
            try:
                return mod.detect_mode()
            except DeviceTimeout as exc:
                last = exc
                mod._cm.active = False
        raise DeviceTimeout(
            f"{mod.tap.spec}: module did not come back within {timeout:g} s after reset ({last})"
        )

    # --- registration ---
    def wait_registered(
        self, timeout: float = REGISTRATION_TIMEOUT, *, poll: float = AI_POLL
    ) -> float:
        """Poll AI until 0x00 (reference §3.3); returns the seconds it took.
        Raises `NetworkNotReady` naming AI and its meaning when time runs out."""
        mod = self.module
        clock = mod.tap.clock
        start = clock.now()
        ai: int | None = None
        said: int | None = 0  # a line per AI change, from the first that is not "connected"
        while True:
            try:
                ai = mod.read(["AI"])["AI"]
            except (CommandError, ConfigureError):
                ai = None
            if ai != said:
                shown = codes.describe("AI", ai) if ai is not None else "unreadable"
                took = clock.now() - start
                progress.say("registration", f"AI {shown} after {took:.1f} s of {timeout:g} s")
                said = ai
            if ai == 0:
                return clock.now() - start
            waited = clock.now() - start
            if waited + poll > timeout:
                raise NetworkNotReady(ai, round(waited, 1))
            clock.sleep(poll)


class KnownConfigurator(Configurator):
    """A `Configurator` that remembers the values it last read, wrote and verified, so a
    test's `apply` reads only what it does not know: what did not change is not verified
    again (one command-mode entry or a few 0x08 round trips saved per test). Writes are
    still read back and verified. It trusts that nothing else changes the module's
    parameters: code that does (raw `AT` lines, a power cycle) calls `forget()`; a reset,
    a restore and any failed apply forget on their own.
    """

    def __init__(self, module: Module, *, allow_nvm_write: bool = False) -> None:
        super().__init__(module, allow_nvm_write=allow_nvm_write)
        self.known: dict[str, Any] = {}
        # What the run keeps on the module beyond any test's wants (the short GT/CT,
        # A-SHORT-GT): after a reset or a `forget()` the next apply puts them back too, in
        # the same entry (a brownout or FR had reverted them; A-SPEED-GT-RESET). Empty for a replay
        # or a recording, whose cassettes hold each test's bytes alone.
        self.run_settings: dict[str, Any] = {}
        self._unsure = False  # the run settings may have reverted

    def forget(self) -> None:
        self.known.clear()
        self._unsure = True

    def snapshot(self, names: list[str]) -> Any:
        snap = super().snapshot(names)
        self.known.update(snap.values)
        return snap

    def apply(
        self,
        wanted: Any,
        mode: str | None = None,
        *,
        persist: bool = False,
        actual: Any = None,
        check_mode: bool = False,
    ) -> Report:
        resettle = self._unsure and bool(self.run_settings) and not check_mode
        if resettle:  # a restore (check_mode) puts its own snapshot back instead
            wanted = {**self.run_settings, **wanted}
        names = self._names(wanted, mode)
        if actual is None and not check_mode and names is not None:
            missing = [n for n in names if n not in self.known]
            if len(missing) < len(names):  # something is known: read only the rest
                self.known.update(self.module.read(missing) if missing else {})
                actual = {n: self.known[n] for n in names}
        try:
            result = super().apply(
                wanted, mode, persist=persist, actual=actual, check_mode=check_mode
            )
        except BaseException:
            self.known.clear()
            raise
        params, _ = split_mode(wanted, mode)
        for key, value in params.items():  # verified or unchanged: the module has them now
            name = at.spec(key).name
            if not at.spec(name).write_only:
                self.known[name] = normalize(key, value)
        if resettle:
            self._unsure = False
        return result

    def reset(self, command: str | Callable[[], None] | None = None, **kw: Any) -> str:
        self.known.clear()  # unsaved values go back to their flash values (FR, §3.2)
        self._unsure = True
        return super().reset(command, **kw)

    @staticmethod
    def _names(wanted: Any, mode: str | None) -> list[str] | None:
        """The readable AT names of `wanted`; None when a key is bad (apply says why)."""
        try:
            params, _ = split_mode(wanted, mode)
            rows = [at.spec(k) for k in params]
        except (at.AtError, ConfigureError):
            return None
        return [r.name for r in rows if not r.write_only]
