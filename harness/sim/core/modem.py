"""The simulated XBee3 Cellular module's core: a pure state machine behind the UART.

`Modem.feed(data, now)`, `tick(now)` and `handle(event, now)` return the effects the host
must carry out (`harness.sim.core.effects`); `next_deadline()` says when to tick next. Time is an
argument in seconds, so guard times, CT and registration are exact and tests need no sleeps.
The core owns the operating modes (AP 0/1/2, D-AP), command mode (`commandmode`), the AT
store (`atstore`), 0x08/0x09 → 0x88 (D-08, D-09, D-88), 0x8A (D-8A), resets and network
registration (§3.3); everything else is a `Feature` the personality lists (`features`).

Over 600 lines as one coherent thing: the UART's one state machine (modes, command mode,
frame dispatch, the AT answers, registration and resets share its state and its single
output order); what could leave it already has (`commandmode`, `atstore`, the features).
It implements `harness.sim.host.engine.Engine`, the contract the server runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.sim.core import atstore, commandmode
from harness.sim.core import faults as faults_mod
from harness.sim.core import personality as personality_mod
from harness.sim.core import registry as feature_registry
from harness.sim.core.effects import (
    ClientAccepted,
    ConnectionClosed,
    ConnectionFailed,
    Effect,
    Event,
    Failure,
    Listen,
    OpenConnection,
    Reset,
    Resolve,
    Resolved,
    ToHost,
)
from harness.sim.core.feature import INVALID_COMMAND, INVALID_PARAMETER, OK, AtReply, Feature
from harness.sim.core.flash import Flash
from harness.sim.core.personality import Personality
from harness.xbee import api, at, frames

log = logging.getLogger(__name__)

# 0x8A status values (D-8A, D-8A-C1).
MODEM_POWER_UP = 0x00
MODEM_REGISTERED = 0x02
MODEM_UNREGISTERED = 0x03

# AI values (§3.3: L-PY, L-J, L-TG).
AI_CONNECTED = 0x00
AI_REGISTERING = 0x22
AI_CONNECTING = 0x23
APN_PARAMS = frozenset({"AN", "CU", "CW"})  # L-TG: APN, its user and password
AI_AIRPLANE = 0x2A
AI_SHUT_DOWN = 0x2D  # after SD (D-SPECIAL)
AI_INITIALIZING = 0xFF

# 0xFE frame error codes (L-PY FrameError), sent only when the personality's
# `frame_error_reply` quirk is on (A-FRAME-ERROR: UNVERIFIED on Cellular, §1.1).
FRAME_ERROR_INVALID_TYPE = 0x02
FRAME_ERROR_INVALID_LENGTH = 0x03
FRAME_ERROR_CHECKSUM = 0x04

# Values the module reports only while registered (the personality's `network:` block).
NETWORK_VALUES = frozenset({"MY", "MN", "DB", "N1"})

# Read-only status registers with their power-up values: CI 0xFF "no known status" before any
# connection (§8, D-CI); OD 0.0.0.0 with no transparent connection (D-OD).
STATUS_DEFAULTS: Mapping[str, at.Value] = {"CI": 0xFF, "OD": "0.0.0.0"}

# How a comma chain is answered in command mode: one reply per command, and the first
# failing command ends the chain (ASSUMPTION A-CMD-CHAIN).
CHAIN_STOPS_AT_ERROR = True

MODE_NAMES = {0: "transparent", 1: "api", 2: "api-escaped", 4: "micropython", 5: "bypass"}


@dataclass(slots=True)
class _Pending:
    """An AT command a feature answers later (`finish_at`)."""

    name: str
    api: bool
    frame_id: int
    is_query: bool
    rest: list[at.AtCommand]
    queued: bool = False


@dataclass(slots=True)
class _Slow:
    """A parameter query or set the personality answers late (`reply_latency`)."""

    due: float
    row: at.AtSpec
    param: bytes | None
    api: bool
    queued: bool


class _Port:
    """The `ModemContext` one feature sees: the Modem, plus who is asking."""

    def __init__(self, modem: Modem, feature: Feature) -> None:
        self._modem = modem
        self._feature = feature

    @property
    def personality(self) -> Personality:
        return self._modem.personality

    @property
    def flash(self) -> Any:
        return self._modem.flash

    def emit(self, effect: Effect) -> None:
        self._modem._emit_from(self._feature, effect)

    def deliver(self, data: bytes) -> None:
        self._modem._deliver(data)

    def send_frame(self, frame: api.AnyFrame) -> None:
        self._modem._send_frame_data(frame.to_bytes())

    def send_frame_data(self, frame_data: bytes) -> None:
        self._modem._send_frame_data(bytes(frame_data))

    def param(self, name: str) -> Any:
        return self._modem.param(name)

    def set_status(self, name: str, value: Any) -> None:
        self._modem._set_status(name, value)

    def new_conn_id(self) -> int:
        return next(self._modem._conn_ids)

    def code_for(self, failure: Failure, kind: str) -> int:
        return self._modem._code_for(failure, kind)

    def feature(self, name: str) -> Feature | None:
        return self._modem.features.get(name)

    def take_uart(self, feature: Feature) -> None:
        self._modem._uart_owner = feature

    def release_uart(self) -> None:
        self._modem._release_uart()

    def finish_at(self, reply: AtReply) -> None:
        self._modem._finish_at(reply)

    @property
    def api_mode(self) -> bool:
        return self._modem.api_mode

    @property
    def registered(self) -> bool:
        return self._modem.registered

    @property
    def in_command_mode(self) -> bool:
        return self._modem.in_command_mode


class Modem:
    """One simulated module. Not thread-safe: one caller at a time (`sim.host.server` is one)."""

    def __init__(
        self,
        personality: Personality | str = personality_mod.DEFAULT,
        *,
        nvm: Mapping[str, at.Value] | None = None,
        ap: int | None = None,
        flash: Any = None,
        features: Iterable[Feature] | None = None,
    ) -> None:
        """`nvm`: values a previous WR saved; `ap`: the AP the module was configured with
        (saved into NVM, like a module someone set up); `features`: instances to use instead
        of the personality's list (tests)."""
        self.personality = (personality if isinstance(personality, Personality)
                            else personality_mod.load(personality))
        if flash is None:
            flash = Flash()  # an empty /flash in memory (D-FS)
        self.flash = flash
        saved = dict(nvm or {})
        if ap is not None:
            saved["AP"] = ap
        defaults = {n: v for n in atstore.writable()
                    if (v := self.personality.default(n)) is not None}
        self._store = atstore.AtStore(defaults, saved)
        for name, value in self._store.nvm.items():
            if isinstance(value, int) and not self.personality.allows(name, value):
                raise at.AtError(f"NVM {name}=0x{value:X}: out of range for "
                                 f"{self.personality.name}")
        self._status: dict[str, at.Value] = dict(STATUS_DEFAULTS)
        self._out: list[Effect] = []
        self._out_tail = bytearray()  # host bytes after the last other effect, not yet in _out
        self._now = 0.0
        self._powered = False
        self._ap = 0
        self._deframer = frames.Deframer()
        self._escape = commandmode.EscapeDetector()
        self._lines = commandmode.LineBuffer()
        self._command_mode = False
        self._ct_due: float | None = None
        self._hold = bytearray()
        self._uart_owner: Feature | None = None
        self._pending: _Pending | None = None
        self._slow: _Slow | None = None  # a parameter answered after the personality's latency
        self._deferred_input = bytearray()
        self._reset_due: float | None = None
        self._ai = AI_INITIALIZING
        self._reg_due: float | None = None
        self._conn_ids = itertools.count(1)
        self._owners: dict[int, Feature] = {}
        self.features: dict[str, Feature] = {}
        self._frame_owner: dict[int, Feature] = {}
        self._at_owner: dict[str, Feature] = {}
        self._install(features)

    # ----- public surface ---------------------------------------------------------------------

    def power_on(self, now: float) -> list[Effect]:
        """Start the module (0x8A 0x00 in API mode, registration begins). `feed`, `tick`
        and `handle` do it themselves if nobody did."""
        self._ensure_on(now)
        return self._drain()

    def feed(self, data: bytes, now: float) -> list[Effect]:
        """Bytes from the host's UART, received at `now`."""
        self._ensure_on(now)
        self._advance(now)
        faults = self._faults
        if faults is not None and faults.frozen:
            return self._drain()  # frozen: nothing is heard (MS-277 "completely locked up")
        self._input(bytes(data), now)
        self._advance(now)
        return self._drain()

    def tick(self, now: float) -> list[Effect]:
        self._ensure_on(now)
        self._advance(now)
        return self._drain()

    def handle(self, event: Event, now: float) -> list[Effect]:
        """An outcome from the world, routed to the feature that opened that connection."""
        self._ensure_on(now)
        self._advance(now)
        faults = self._faults
        for seen in [event] if faults is None else faults.filter_event(event, now):
            self._dispatch(seen, now)
        self._advance(now)
        return self._drain()

    def _dispatch(self, event: Event, now: float) -> None:
        key = event.listener_id if isinstance(event, ClientAccepted) else event.conn_id
        owner = self._owners.get(key)
        if isinstance(event, ClientAccepted) and owner is not None:
            self._owners[event.conn_id] = owner
        if owner is None:
            log.debug("event for unknown connection %s dropped: %r", key, event)
        else:
            owner.on_event(event, now)
        if isinstance(event, ConnectionFailed | ConnectionClosed | Resolved):
            self._owners.pop(event.conn_id, None)

    def next_deadline(self) -> float | None:
        due = [self._reset_due, self._reg_due, self._slow.due if self._slow else None]
        if self._command_mode:
            if self._uart_owner is None and self._pending is None:
                due.append(self._ct_due)
        else:
            due.append(self._escape.deadline(self._gt))
        due.extend(f.next_deadline() for f in self.features.values())
        found = [d for d in due if d is not None]
        return min(found) if found else None

    @property
    def nvm(self) -> dict[str, at.Value]:
        """What WR saved (only values that differ from defaults); persist it across runs."""
        return dict(self._store.nvm)

    @property
    def ap(self) -> int:
        """The operating mode in use (AP after the last apply)."""
        return self._ap

    @property
    def mode(self) -> str:
        return MODE_NAMES.get(self._ap, f"ap{self._ap}")

    @property
    def api_mode(self) -> bool:
        return self._ap in (1, 2)

    @property
    def registered(self) -> bool:
        return self._ai == AI_CONNECTED

    @property
    def ai(self) -> int:
        return self._ai

    @property
    def in_command_mode(self) -> bool:
        return self._command_mode

    @property
    def reset_s(self) -> float:
        """How long a reset keeps the module away (the personality's boot delay, A-FR-DELAY)."""
        return self.personality.reset_s

    def param(self, name: str) -> Any:
        """Active value of a parameter (after AC), or a read-only register's value."""
        name = name.upper()
        if name in self._store.active:
            return self._store.active[name]
        return self._value(name)

    def value(self, name: str) -> Any:
        """What a query `ATxx` answers now (the written value, before AC)."""
        return self._value(name.upper())

    # ----- features ---------------------------------------------------------------------------

    def _install(self, given: Iterable[Feature] | None) -> None:
        if given is None:
            instances = []
            for name in self.personality.features:
                cls = feature_registry.load(name)
                if cls is not None:
                    instances.append(cls())
        else:
            instances = list(given)
        faults_cls = feature_registry.find("faults")  # every module can be faulted
        if faults_cls is not None and not any(f.name == "faults" for f in instances):
            instances.append(faults_cls())
        for feature in instances:
            name = feature.name or type(feature).__name__
            self.features[name] = feature
            for t in feature.frame_types:
                self._claim(self._frame_owner, t, feature, f"frame type 0x{t:02X}")
            for c in feature.at_commands:
                self._claim(self._at_owner, c.upper(), feature, f"AT{c}")
        for feature in instances:
            feature.attach(_Port(self, feature))

    @staticmethod
    def _claim(table: dict[Any, Feature], key: Any, feature: Feature, what: str) -> None:
        if key in table:
            raise ValueError(f"{what} claimed by both {table[key].name!r} and {feature.name!r}")
        table[key] = feature

    def _emit_from(self, feature: Feature, effect: Effect) -> None:
        if isinstance(effect, OpenConnection | Listen | Resolve):
            self._owners[effect.conn_id] = feature
        if isinstance(effect, OpenConnection) and effect.tls is not None \
                and effect.tls.limits is None:  # the firmware's limits (D-TLS-101, F-SNI)
            limits = self.personality.family.tls  # v3 client certs too (A-TLS-CLIENT-V3)
            effect = dataclasses.replace(effect, tls=dataclasses.replace(effect.tls, limits=limits))
        faults = self._faults
        if faults is not None and faults.intercept(effect, self._now):
            return  # a DNS fault answers it, or sends it late
        self._emit(effect)

    # ----- named faults (sim.core.faults, sim.features.faults) -------------------------------

    @property
    def _faults(self) -> Any:
        return self.features.get("faults")

    def set_faults(self, texts: Iterable[str], now: float) -> None:
        """Put named faults on this module from `now` (replacing any); "after S" counts from
        `now`. A FaultError names a bad one. The effects go out with the next tick."""
        parsed = faults_mod.parse_all(tuple(texts))
        faults = self._faults
        if faults is None:
            raise faults_mod.FaultError("this simulator has no fault feature")
        self._now = max(self._now, now)
        faults.set(parsed, self._now)
        stop = faults.registration_stop()
        if stop is not None and not faults.disabled:
            self._reg_due = None
            self._set_ai(stop, self._now)
        self._advance(self._now)

    def clear_faults(self, now: float) -> None:
        """Take every fault off; a module held off the network registers again, a frozen
        one is power-cycled (the fixture's guarantee that the next test starts clean)."""
        faults = self._faults
        if faults is None:
            return
        self._now = max(self._now, now)
        held = faults.registration_stop() is not None and self._ai in (AI_REGISTERING, 0x25)
        frozen = faults.frozen
        faults.clear()
        if frozen:
            self.power_cycle(self._now)
        elif held:
            self._start_registration(self._now, AI_REGISTERING)

    def power_cycle(self, now: float) -> None:
        """Power off and on: connections gone, volatile values back to NVM, 0x8A 0x00."""
        self._now = max(self._now, now)
        if self._faults is not None:
            self._faults.power_cycled()
        self._do_reset(self._now)

    def _fault_action(self, action: str, payload: Any, now: float) -> None:
        if action == "reset":
            self._do_reset(now)  # a brownout: as FR, without the OK (MS-162)
        elif action == "deregister":
            self._reg_due = None
            self._set_ai(AI_REGISTERING, now)  # A-FAULT-DEREGISTER: then registers again
            self._reg_due = now + self._durations()[AI_REGISTERING]
        elif action == "reattach":
            if self._ai == AI_CONNECTED:
                self._start_registration(now, AI_CONNECTING)
        elif action == "emit":
            self._emit(payload)
        elif action == "event":
            self._dispatch(payload, now)

    def _code_for(self, failure: Failure, kind: str) -> int:
        faults = self._faults
        code = faults.code_override(failure, kind) if faults is not None else None
        return self.personality.code(failure, kind) if code is None else code

    # ----- output -----------------------------------------------------------------------------

    def _emit(self, effect: Effect) -> None:
        """Queue an effect; consecutive host bytes become one ToHost. They gather in a
        bytearray: joining bytes per reply was quadratic in the replies of one call."""
        if isinstance(effect, ToHost):
            self._out_tail += effect.data
            return
        self._end_tail()
        self._out.append(effect)

    def _end_tail(self) -> None:
        if self._out_tail:
            self._out.append(ToHost(bytes(self._out_tail)))
            self._out_tail.clear()

    def _to_host(self, data: bytes, *, hold: bool = False) -> None:
        """UART output; `hold` output waits while in command mode (D-ENTER)."""
        if hold and self._command_mode:
            faults = self._faults
            limit = faults.hold_limit if faults is not None else None
            if limit is not None:  # A-FAULT-CMD-OVERFLOW: the rest is lost (MS-396)
                data = data[: max(0, limit - len(self._hold))]
            self._hold += data
        else:
            self._emit(ToHost(data))

    def _drain(self) -> list[Effect]:
        self._end_tail()
        out, self._out = self._out, []
        faults = self._faults
        if faults is not None and (faults.frozen or faults.wrong_baud):
            if faults.frozen:  # a frozen module says nothing (MS-162, F-36750)
                return [e for e in out if not isinstance(e, ToHost)]
            return [ToHost(faults_mod.garble(e.data)) if isinstance(e, ToHost) else e
                    for e in out]  # A-FAULT-WRONG-BAUD (forum 20971)
        return out

    def _deliver(self, data: bytes) -> None:
        self._to_host(bytes(data), hold=True)

    def _send_frame_data(self, frame_data: bytes) -> None:
        if not self.api_mode:
            log.warning("frame 0x%02X dropped: module is in %s mode", frame_data[0], self.mode)
            return
        self._to_host(frames.encode(frame_data, escaped=self._ap == 2), hold=True)

    def _send_frame(self, frame: api.AnyFrame) -> None:
        self._send_frame_data(frame.to_bytes())

    # ----- time -------------------------------------------------------------------------------

    @property
    def _gt(self) -> float:
        return int(self._store.active.get("GT", 0x3E8)) / 1000.0  # ms (D-GT)

    @property
    def _ct(self) -> float:
        return int(self._store.active.get("CT", 0x64)) / 10.0  # x100 ms (D-ENTER)

    @property
    def _cc(self) -> int:
        return int(self._store.active.get("CC", 0x2B))  # D-CC

    def _ensure_on(self, now: float) -> None:
        self._now = max(self._now, now)
        if not self._powered:
            self._powered = True
            self._power_on(now)

    def _advance(self, now: float) -> None:
        """Run every timer that is due at `now`, in time order."""
        for _ in range(1000):
            if self._reset_due is not None and self._reset_due <= now:
                self._do_reset(now)
                continue
            if self._reg_due is not None and self._reg_due <= now:
                self._registration_step(now)
                continue
            if self._slow is not None and self._slow.due <= now:
                self._answer_slow()
                continue
            if not self._command_mode:
                due = self._escape.deadline(self._gt)
                if due is not None and due <= now:
                    result = self._escape.tick(now, gt=self._gt)
                    if result.data:
                        self._data(result.data, now)
                    if result.entered:
                        self._enter_command_mode(now)
                    continue
            elif (self._ct_due is not None and self._ct_due <= now
                  and self._uart_owner is None and self._pending is None):
                log.debug("CT timeout: leaving command mode")
                self._exit_command_mode(now)
                continue
            break
        for feature in list(self.features.values()):
            due = feature.next_deadline()
            if due is not None and due <= now:
                feature.tick(now)
        faults = self._faults
        if faults is not None:
            for action, payload in faults.take_actions(now):
                self._fault_action(action, payload, now)

    # ----- power, reset, registration ---------------------------------------------------------

    def _power_on(self, now: float) -> None:
        self._ap = int(self._store.active.get("AP", 0))
        self._deframer = frames.Deframer(escaped=self._ap == 2)
        self._escape.reset(now)
        if self.api_mode:
            self._send_frame(api.ModemStatus(MODEM_POWER_UP))  # D-8A
        self._start_registration(now, AI_INITIALIZING)

    def _do_reset(self, now: float) -> None:
        """FR: connections dropped, volatile values back to NVM, power-up again (§3.2 FR)."""
        log.debug("reset")
        self._reset_due = None
        for feature in self.features.values():
            feature.on_reset()
        self._emit(Reset())
        self._owners.clear()
        self._store.power_up()
        self._status = dict(STATUS_DEFAULTS)
        self._command_mode = False
        self._ct_due = None
        self._lines.clear()
        self._hold.clear()
        self._uart_owner = None
        self._pending = None
        self._deferred_input.clear()
        self._ai = AI_INITIALIZING
        self._reg_due = None
        self._power_on(now)

    def _durations(self) -> dict[int, float]:
        reg = self.personality.registration
        return {AI_INITIALIZING: reg.initializing_s, AI_REGISTERING: reg.registering_s,
                AI_CONNECTING: reg.connecting_s}

    def _start_registration(self, now: float, state: int) -> None:
        if int(self._store.active.get("AM", 0)) == 1:
            self._reg_due = None
            self._set_ai(AI_AIRPLANE, now)
            return
        self._set_ai(state, now)
        self._reg_due = now + self._durations()[state]
        self._advance_registration(now)

    def _advance_registration(self, now: float) -> None:
        while self._reg_due is not None and self._reg_due <= now:
            self._registration_step(now)

    def _registration_step(self, now: float) -> None:
        """AI 0xFF → 0x22 → 0x23 → 0x00 (§3.3), each after the personality's duration."""
        following = {AI_INITIALIZING: AI_REGISTERING, AI_REGISTERING: AI_CONNECTING,
                     AI_CONNECTING: AI_CONNECTED}
        nxt = following.get(self._ai)
        if nxt is None or self._reg_due is None:
            self._reg_due = None
            return
        stop = self._faults.registration_stop() if self._faults is not None else None
        if stop is not None and nxt in (AI_CONNECTING, AI_CONNECTED):
            self._reg_due = None  # registration-stuck / -denied: it stays here (F-38326)
            self._set_ai(stop, now)
            return
        due = self._reg_due
        self._reg_due = None if nxt == AI_CONNECTED else due + self._durations()[nxt]
        self._set_ai(nxt, now)

    def _set_ai(self, value: int, now: float) -> None:
        was = self.registered
        self._ai = value
        if was == self.registered:
            return
        log.debug("AI=0x%02X (%s)", value, "registered" if self.registered else "unregistered")
        if self.api_mode:
            self._send_frame(api.ModemStatus(MODEM_REGISTERED if self.registered
                                             else MODEM_UNREGISTERED))  # D-8A
        for feature in list(self.features.values()):
            feature.on_registration(self.registered, now)

    # ----- input ------------------------------------------------------------------------------

    def _input(self, data: bytes, now: float) -> None:
        if not data:
            return
        if self._uart_owner is not None:
            self._uart_owner.on_uart(data, now)
            return
        if self._pending is not None:
            self._deferred_input += data
            return
        if self._command_mode:
            self._command_input(data, now)
            return
        can_start = not (self.api_mode and self._deframer.pending)
        data = self._escape.feed(data, now, gt=self._gt, cc=self._cc, can_start=can_start)
        if data:
            self._data(data, now)

    def _data(self, data: bytes, now: float) -> None:
        """Host bytes that are not a command-mode escape: frames in API mode, else data."""
        if self.api_mode:
            for item in self._deframer.feed(data):
                if isinstance(item, frames.RawFrame):
                    self._on_frame(item, now)
                else:
                    self._on_frame_error(item)
            return
        if self._ap != 0:
            log.debug("%d bytes dropped in AP=%d (not simulated)", len(data), self._ap)
            return
        takers = [f for f in self.features.values()
                  if type(f).on_transparent_data is not Feature.on_transparent_data]
        if not takers:
            log.debug("%d transparent bytes dropped: no transparent feature", len(data))
        for feature in takers:
            feature.on_transparent_data(data, now)

    # ----- command mode (D-ENTER, D-CMD) ------------------------------------------------------

    def _enter_command_mode(self, now: float) -> None:
        log.debug("entering command mode")
        self._command_mode = True
        self._lines.clear()
        self._ct_due = now + self._ct
        self._emit(ToHost(b"OK\r"))

    def _exit_command_mode(self, now: float) -> None:
        """CN or CT timeout: changes take effect (D-CMD; A-CT-APPLY for the timeout)."""
        self._command_mode = False
        self._ct_due = None
        self._lines.clear()
        self._escape.reset(now)
        self._apply(now, force=True)
        if self._hold:
            held, self._hold = bytes(self._hold), bytearray()
            self._emit(ToHost(held))

    def _command_input(self, data: bytes, now: float) -> None:
        self._escape.last_rx = now
        self._ct_due = now + self._ct
        # One pass over `data` by offset: slicing off the rest after each line copied it
        # once per line, quadratic in the lines of one call (issue 10, defect 13).
        pos, end = 0, len(data)
        while pos < end:
            cr = data.find(b"\r", pos)
            stop = end if cr < 0 else cr + 1
            for line in self._lines.feed(data[pos:stop]):
                self._run_line(line, now)
            pos = stop
            if pos < end and (not self._command_mode  # CN ended it: the rest is data again
                              or self._pending is not None or self._uart_owner is not None):
                self._input(data[pos:], now)
                return

    def _run_line(self, line: bytes | None, now: float) -> None:
        if line is None:
            self._emit(ToHost(b"ERROR\r"))
            return
        try:
            commands = at.parse_line(line)
        except at.AtError as err:
            log.debug("command line rejected: %s", err)
            self._emit(ToHost(b"ERROR\r"))
            return
        if not commands:
            self._emit(ToHost(b"OK\r"))  # bare "AT" (D-CMD)
            return
        self._run_chain(commands, now)

    def _run_chain(self, commands: list[at.AtCommand], now: float) -> None:
        for i, cmd in enumerate(commands):
            param = None if cmd.param is None else cmd.param.encode("ascii")
            reply, after = self._execute(cmd.name, param, api=False, queued=False, now=now)
            if reply is None:
                self._pending = _Pending(cmd.name, False, 0, cmd.is_query, commands[i + 1:])
                return
            self._write_text_reply(reply, cmd.is_query)
            if after is not None:
                after()
            if (reply.status and CHAIN_STOPS_AT_ERROR) or not self._command_mode:
                return
            if self._uart_owner is not None:
                return

    def _write_text_reply(self, reply: AtReply, is_query: bool) -> None:
        if reply.status:
            out = "ERROR\r"
        else:
            parts = []
            if reply.text is not None:
                parts.append(reply.text)
            parts.extend(reply.lines)
            if not parts:
                parts.append(reply.value.hex().upper().lstrip("0") or "0"
                             if is_query and reply.value else "OK")
            out = "".join(p + "\r" for p in parts)
        self._emit(ToHost(out.encode("ascii", "replace")))

    def _release_uart(self) -> None:
        self._uart_owner = None
        if self._command_mode:
            self._ct_due = self._now + self._ct

    def _finish_at(self, reply: AtReply) -> None:
        pending = self._pending
        if pending is None:
            raise RuntimeError("finish_at() with no AT command waiting for an answer")
        self._pending = None
        now = self._now
        if pending.api:
            self._send_at_response(pending.frame_id, pending.name, reply)
            if not pending.queued:
                self._apply(now)  # as for any 0x08 (D-08, D-09)
        else:
            self._write_text_reply(reply, pending.is_query)
            self._ct_due = now + self._ct
            if pending.rest and self._command_mode and not (reply.status and
                                                            CHAIN_STOPS_AT_ERROR):
                self._run_chain(pending.rest, now)
        if self._deferred_input and self._pending is None:
            data, self._deferred_input = bytes(self._deferred_input), bytearray()
            self._input(data, now)

    # ----- API frames (D-08, D-09, D-88) ------------------------------------------------------

    def _on_frame(self, raw: frames.RawFrame, now: float) -> None:
        frame = api.parse(raw.data)
        if isinstance(frame, api.ATCommand | api.ATCommandQueue):
            self._api_at(frame, now)
            return
        owner = self._frame_owner.get(raw.type)
        if owner is not None:
            owner.on_frame(frame, now)  # may be an api.BadFrame: the feature answers it
            return
        if isinstance(frame, api.BadFrame):
            log.info("frame dropped: %s", frame.error)
            self._frame_error(FRAME_ERROR_INVALID_LENGTH)
        else:
            log.info("frame type 0x%02X dropped: not supported by %s", raw.type,
                     self.personality.name)
            self._frame_error(FRAME_ERROR_INVALID_TYPE)

    def _on_frame_error(self, err: frames.FrameError) -> None:
        log.info("bad frame dropped: %s", err.describe())
        code = {"checksum": FRAME_ERROR_CHECKSUM, "length": FRAME_ERROR_INVALID_LENGTH}
        if err.kind in code:
            self._frame_error(code[err.kind])

    def _frame_error(self, status: int) -> None:
        if self.personality.quirk("frame_error_reply", False):
            self._send_frame(api.FrameErrorFrame(status))

    def _api_at(self, frame: api.ATCommand | api.ATCommandQueue, now: float) -> None:
        name = frame.command.upper()
        queued = isinstance(frame, api.ATCommandQueue)
        param = frame.parameter or None
        reply, after = self._execute(name, param, api=True, queued=queued, now=now)
        if reply is None:
            self._pending = _Pending(name, True, frame.frame_id, param is None, [], queued)
            return
        self._send_at_response(frame.frame_id, frame.command, reply)
        if after is not None:
            after()
        if not queued:
            self._apply(now)  # an 0x08 frame applies what is queued (D-08, D-09)

    def _send_at_response(self, frame_id: int, command: str, reply: AtReply) -> None:
        if frame_id == 0:
            return  # D-08: frame ID 0 ⇒ no response
        self._send_frame(api.ATCommandResponse(frame_id, command, reply.status, reply.value))

    # ----- AT commands ------------------------------------------------------------------------

    def _execute(self, name: str, param: bytes | None, *, api: bool, queued: bool, now: float,
                 ) -> tuple[AtReply | None, Callable[[], None] | None]:
        name = name.upper()
        log.debug("AT%s %s (%s)", name, "?" if param is None else
                  at.redact(name, param.decode("ascii", "replace")), "API" if api else "text")
        owner = self._at_owner.get(name)
        if owner is not None:
            return owner.on_at(name, param, api=api, now=now), None
        row = at.CATALOGUE.get(name)
        if row is None:
            return INVALID_COMMAND, None  # D-88 status 2
        if row.kind is at.Kind.COMMAND:
            return self._command(name, param, now)
        if self._slow is None and (latency := self.personality.reply_latency.get(name)):
            self._slow = _Slow(now + latency, row, param, api, queued)
            return None, None  # pending: answered by `_answer_slow` at the deadline
        if param is None:
            return self._query(row, api=api), None
        return self._set(row, param, api=api, queued=queued), None

    def _command(self, name: str, param: bytes | None, now: float,
                 ) -> tuple[AtReply, Callable[[], None] | None]:
        if name == "AC":
            return OK, lambda: self._apply(now, force=True)
        if name == "CN":
            def leave() -> None:
                if self._command_mode:
                    self._exit_command_mode(now)
                else:
                    self._apply(now, force=True)
            return OK, leave
        if name == "WR":
            self._store.save()
            return OK, None
        if name == "RE":
            self._store.restore_defaults()
            return OK, None
        if name == "FR":
            def schedule() -> None:
                self._reset_due = now + self.personality.reset_s
            return OK, schedule
        if name == "SD":
            def shut_down() -> None:
                self._reg_due = None
                self._set_ai(AI_SHUT_DOWN, now)
            return OK, shut_down
        return INVALID_COMMAND, None  # LA, SI, FS, … without the feature that answers them

    def _answer_slow(self) -> None:
        """The answer of a parameter whose personality latency has run out (A-SIM-LATENCY)."""
        slow, self._slow = self._slow, None
        if slow is None or self._pending is None:
            return  # a reset dropped the command meanwhile
        if slow.param is None:
            reply = self._query(slow.row, api=slow.api)
        else:
            reply = self._set(slow.row, slow.param, api=slow.api, queued=slow.queued)
        self._finish_at(reply)

    def _value(self, name: str) -> at.Value | None:
        if name == "AI":
            return self._ai
        if name in self._status:
            return self._status[name]
        if name in NETWORK_VALUES:
            if self.registered and name in self.personality.network:
                return self.personality.network[name]
            if not self.registered and name in self.personality.network_unregistered:
                return self.personality.network_unregistered[name]  # A-NET-VALUES
            return at.CATALOGUE[name].default
        if name in self.personality.identity:
            return self.personality.identity[name]
        value = self._store.get(name)
        if value is not None:
            return value
        row = at.CATALOGUE.get(name)
        return row.default if row is not None else None

    def _query(self, row: at.AtSpec, *, api: bool) -> AtReply:
        if row.write_only:
            return AtReply(text="")  # L-TG: the module does not return CU/CW
        value = self._value(row.name)
        if value is None:
            return AtReply(status=1)
        if api:
            return AtReply(value=at.to_binary(row.name, value))
        return AtReply(value=at.to_binary(row.name, value), text=at.to_text(row.name, value))

    def _set(self, row: at.AtSpec, param: bytes, *, api: bool, queued: bool) -> AtReply:
        if row.readonly:
            return INVALID_PARAMETER  # A-AT-READONLY
        try:
            if row.kind is at.Kind.HEX:
                if api:
                    if len(param) > 8:
                        raise at.AtError(f"AT{row.name}: {len(param)} value bytes")
                    value: at.Value = int.from_bytes(param, "big")
                else:
                    value = at.parse_hex(param.decode("ascii"), what=f"AT{row.name}")
                if not self.personality.allows(row.name, int(value)):
                    log.info("AT%s rejected: 0x%X out of range", row.name, int(value))
                    # U-XB3T saw status 1 for a bad BD set (A-AT-SET-STATUS): a quirk
                    return AtReply(status=int(self.personality.quirk("set_out_of_range_status",
                                                                     3)))
            else:
                value = at.decode_value(row.name, param, api=api)
        except (at.AtError, UnicodeDecodeError) as err:
            log.info("AT%s rejected: %s", row.name, err)
            return INVALID_PARAMETER  # D-88 status 3
        if queued:
            self._store.queue(row.name, value)
        else:
            self._store.write(row.name, value)
        return OK

    def _set_status(self, name: str, value: at.Value) -> None:
        name = name.upper()
        if name in at.CATALOGUE:
            value = at.validate(name, value)
        self._status[name] = value

    def _apply(self, now: float, *, force: bool = False) -> None:
        """AC / CN / 0x08: queued and written values become active (D-CMD, D-08, D-09)."""
        before_am = int(self._store.active.get("AM", 0))
        changed = self._store.apply()
        if not changed and not force:
            return
        new_ap = int(self._store.active.get("AP", 0))
        if new_ap != self._ap:
            log.debug("AP %d -> %d", self._ap, new_ap)
            self._ap = new_ap
            self._deframer = frames.Deframer(escaped=new_ap == 2)
        am = int(self._store.active.get("AM", 0))
        if am != before_am:
            if am == 1:
                self._reg_due = None
                self._set_ai(AI_AIRPLANE, now)  # L-TG, L-PY: AI 0x2A in airplane mode
            else:
                self._start_registration(now, AI_REGISTERING)
        elif APN_PARAMS & changed and self._ai in (AI_CONNECTED, AI_CONNECTING):
            # A new APN is a new data context: attach again (ASSUMPTION A-SIM-APN-REATTACH)
            self._start_registration(now, AI_CONNECTING)
        for feature in list(self.features.values()):
            feature.on_params_applied(set(changed), now)
