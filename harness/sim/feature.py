"""The seam between the Modem core and the firmware features plugged into it.

The core (`sim.modem`) owns the UART: operating modes, command mode, the AT parameter store,
frame decoding and dispatch, resets and registration. Everything else a firmware does (the
transparent data path, 0x20/0x23 IP frames, extended sockets, the file system) is a
`Feature`: a small object that claims frame types and AT commands and reacts to the world.
A personality lists which features its firmware has, so firmware differences stay data.

Features talk back through the `ModemContext` they are attached to, never by returning
bytes, so every byte leaves the module in one order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.sim.effects import Effect, Event, Failure
    from harness.xbee.api import Frame


@dataclass(frozen=True, slots=True)
class AtReply:
    """The outcome of one AT command, for either interface.

    `status` uses the 0x88 status values (0 OK, 1 ERROR, 2 invalid command, 3 invalid
    parameter: D-88). `value` is the API (binary) form; `text` the command-mode line without
    the trailing CR (None ⇒ the core prints `OK` / `ERROR` from `status`). `lines` is for
    multi-line command-mode answers (ATFS, SI).
    """

    status: int = 0
    value: bytes = b""
    text: str | None = None
    lines: tuple[str, ...] = ()


class ModemContext(Protocol):
    """What a feature may use of the Modem core."""

    personality: Any  # harness.sim.personality.Personality
    flash: Any  # harness.sim.flashfs.FlashFS

    def emit(self, effect: Effect) -> None:
        """Queue an effect (ToHost, OpenConnection, …) after everything queued before it."""

    def send_frame(self, frame: Frame) -> None:
        """Encode a frame for the current AP (1 or 2) and queue it for the UART."""

    def param(self, name: str) -> Any:
        """The active value of an AT parameter (after AC), by its Digi name."""

    def new_conn_id(self) -> int:
        """A connection id unique for this Modem's lifetime."""

    def code_for(self, failure: Failure, kind: str) -> int:
        """Personality mapping of a failure: kind is 'ci', 'tx_status' or 'socket_status'."""

    @property
    def api_mode(self) -> bool:
        """True when AP is 1 or 2."""

    @property
    def registered(self) -> bool:
        """True when AI == 0x00."""

    @property
    def in_command_mode(self) -> bool: ...


class Feature:
    """Base class: every hook is optional. Subclasses set `name`, `frame_types`, `at_commands`."""

    name: str = ""
    frame_types: tuple[int, ...] = ()
    at_commands: tuple[str, ...] = ()

    def attach(self, modem: ModemContext) -> None:
        self.modem = modem

    def on_frame(self, frame: Frame, now: float) -> None:
        """An API frame of one of `frame_types` arrived from the host."""

    def on_at(self, command: str, param: bytes | None, *, api: bool, now: float) -> AtReply:
        """An AT command in `at_commands`: query when `param` is None. `param` is the raw
        parameter bytes (API) or the text after the command name, encoded (command mode)."""
        return AtReply(status=2)

    def on_transparent_data(self, data: bytes, now: float) -> None:
        """Serial data in transparent mode (AP=0), already cleared of any `+++` escape."""

    def on_event(self, event: Event, now: float) -> None:
        """An outcome from the world for a connection this feature opened."""

    def on_params_applied(self, changed: set[str], now: float) -> None:
        """AC / CN / a 0x08 set made these parameters active (e.g. IP, DL, DE close a link)."""

    def on_reset(self) -> None:
        """FR or power cycle: forget every connection and buffer."""

    def tick(self, now: float) -> None:
        """Time passed; act on deadlines that are due."""

    def next_deadline(self) -> float | None:
        """The next time `tick` has something to do, or None."""
        return None
