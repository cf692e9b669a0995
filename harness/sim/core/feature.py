"""The seam between the Modem core and the firmware features plugged into it.

The core (`sim.core.modem`) owns the UART: operating modes, command mode, the AT parameter store,
frame decoding and dispatch, resets and registration. Everything else a firmware does (the
transparent data path, 0x20/0x23 IP frames, extended sockets, the file system) is a
`Feature`: a small object that claims frame types and AT commands and reacts to the world.
A personality lists which features its firmware has, so firmware differences stay data;
`harness.sim.features.REGISTRY` maps a feature name to its class (registered with
`harness.sim.core.registry`).

Features talk back through the `ModemContext` they are attached to, never by returning
bytes, so every byte leaves the module in one order. Every hook runs inside a `Modem.feed`,
`tick` or `handle` call: no threads, no clock reads, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.sim.core.effects import Effect, Event, Failure
    from harness.xbee.api import AnyFrame, Frame


@dataclass(frozen=True, slots=True)
class AtReply:
    """The outcome of one AT command, for either interface.

    `status` uses the 0x88 status values (0 OK, 1 ERROR, 2 invalid command, 3 invalid
    parameter: D-88); command mode prints `ERROR` for every non-zero status (D-CMD).
    `value` is the API (binary) form. `text` is the command-mode answer without the trailing
    CR; when it is None the core prints `OK` / `ERROR` from `status`, or, for a query that
    returned a `value`, the value in hex. `lines` is for multi-line command-mode answers
    (ATFS LS, SI): each is printed followed by CR, after `text` if both are given.
    """

    status: int = 0
    value: bytes = b""
    text: str | None = None
    lines: tuple[str, ...] = ()


OK = AtReply()
ERROR = AtReply(status=1)
INVALID_COMMAND = AtReply(status=2)
INVALID_PARAMETER = AtReply(status=3)


class ModemContext(Protocol):
    """What a feature may use of the Modem core."""

    @property
    def personality(self) -> Any:
        """The Modem's harness.sim.core.personality.Personality."""

    @property
    def flash(self) -> Any:
        """Whatever the host gave `Modem(flash=...)` (a FlashFS), or None."""

    def emit(self, effect: Effect) -> None:
        """Queue an effect (OpenConnection, SendData, …, or ToHost for bytes that must go out
        now, e.g. YMODEM control bytes) after everything queued before it.

        Emitting `OpenConnection` or `Listen` records this feature as the owner of that
        conn_id: later events for it (and for clients accepted on a listener) come to
        this feature's `on_event`."""

    def deliver(self, data: bytes) -> None:
        """Serial data received from the network for the host in transparent mode. Held while
        the module is in command mode and sent when it leaves (D-ENTER: in command mode the
        module "knows to stop sending data")."""

    def send_frame(self, frame: Frame) -> None:
        """Encode a frame for the current AP (1 or 2) and queue it for the UART."""

    def send_frame_data(self, frame_data: bytes) -> None:
        """Same as `send_frame` for frame data already built (type byte first)."""

    def param(self, name: str) -> Any:
        """The active value of an AT parameter (after AC), by its Digi name: int for numbers,
        str for strings, dotted str for addresses, the raw "ca;cert;key" str for $0-$2."""

    def set_status(self, name: str, value: Any) -> None:
        """Set a read-only status register the core answers queries for (CI, OD, …)."""

    def new_conn_id(self) -> int:
        """A connection id unique for this Modem's lifetime."""

    def code_for(self, failure: Failure, kind: str) -> int:
        """Personality mapping of a failure: kind is 'ci', 'tx_status' or 'socket_status'."""

    def feature(self, name: str) -> Feature | None:
        """Another feature of this Modem, by name (None if the personality lacks it)."""

    def take_uart(self, feature: Feature) -> None:
        """Route every byte from the host to `feature.on_uart` until `release_uart` (YMODEM
        after ATFS PUT). Command mode's CT timer is paused meanwhile."""

    def release_uart(self) -> None: ...

    def finish_at(self, reply: AtReply) -> None:
        """Answer an AT command whose `on_at` returned None (a deferred answer)."""

    @property
    def api_mode(self) -> bool:
        """True when the active AP is 1 or 2."""

    @property
    def registered(self) -> bool:
        """True when AI == 0x00."""

    @property
    def in_command_mode(self) -> bool: ...


class Feature:
    """Base class: every hook is optional. Subclasses set `name`, `frame_types`, `at_commands`.

    One instance per Modem; the core calls `attach` once, before any other hook.
    """

    name: str = ""
    frame_types: tuple[int, ...] = ()
    at_commands: tuple[str, ...] = ()

    def attach(self, modem: ModemContext) -> None:
        self.modem = modem

    def on_frame(self, frame: AnyFrame, now: float) -> None:
        """An API frame of one of `frame_types` arrived from the host (an `api.BadFrame` when
        its fields do not parse)."""

    def on_at(
        self, command: str, param: bytes | None, *, api: bool, now: float
    ) -> AtReply | None:
        """An AT command in `at_commands`: a query when `param` is None.

        `param` is the raw parameter bytes (API) or the text after the command name with
        leading spaces removed, ASCII-encoded (command mode). Return None to answer later
        with `modem.finish_at(reply)`; the core holds the rest of a comma chain until then.
        """
        return INVALID_COMMAND

    def on_uart(self, data: bytes, now: float) -> None:
        """Host bytes while this feature holds the UART (see `ModemContext.take_uart`)."""

    def on_transparent_data(self, data: bytes, now: float) -> None:
        """Serial data in transparent mode (AP=0), already cleared of any `+++` escape."""

    def on_event(self, event: Event, now: float) -> None:
        """An outcome from the world for a connection this feature opened."""

    def on_params_applied(self, changed: set[str], now: float) -> None:
        """AC / CN / a 0x08 frame made parameters active. `changed` holds every name written
        since the last apply, even when written with its old value (a TM write closes the
        transparent connection even if unchanged: L-TG); compare values if that matters."""

    def on_registration(self, registered: bool, now: float) -> None:
        """AI became 0x00 (True) or left 0x00 (False: AM=1, reset)."""

    def on_reset(self) -> None:
        """FR or power cycle: forget every connection and buffer."""

    def tick(self, now: float) -> None:
        """Time passed; act on deadlines that are due."""

    def next_deadline(self) -> float | None:
        """The next time `tick` has something to do, or None."""
        return None
