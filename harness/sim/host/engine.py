"""The `Engine` protocol: what `SimServer` runs behind its ports.

The server is a loop around an engine: host bytes go to `feed`, the engine is ticked at its
`next_deadline()`, world events go to `handle`, and whatever comes back (bytes for the host,
work for the world) the server carries out. Time is an argument in simulated seconds. The
Modem (`harness.sim.core.modem.Modem`) is one engine; a replay player is another.

Besides those five calls, the server's ports, UART pacing and time account read a few
facts, named here so nobody reaches into an engine's internals:

- `param("BD")` / `param("GT")`: the UART rate code and guard time (the only parameters read);
- `in_command_mode`, `registered`: to account an escape's guard times and a registration;
- `reset_s`: how long a `Reset` effect keeps the module away (the boot delay, A-FR-DELAY);
- `nvm`: the values to save to `--nvm FILE` when they change.
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.sim.core.effects import Effect, Event
from harness.xbee import at


class Engine(Protocol):
    """What the server drives: a pure state machine fed bytes, time and world events."""

    def power_on(self, now: float) -> list[Effect]: ...

    def feed(self, data: bytes, now: float) -> list[Effect]: ...

    def tick(self, now: float) -> list[Effect]: ...

    def handle(self, event: Event, now: float) -> list[Effect]: ...

    def next_deadline(self) -> float | None: ...

    def param(self, name: str) -> Any: ...

    @property
    def in_command_mode(self) -> bool: ...

    @property
    def registered(self) -> bool: ...

    @property
    def reset_s(self) -> float: ...

    @property
    def nvm(self) -> dict[str, at.Value]: ...
