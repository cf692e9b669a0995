"""`ATLA host`: look a name up in the simulated DNS, as a real module asks its network.

The Modem is pure, so the lookup is an effect (`Resolve`) the world answers (`Resolved`)
and the AT answer is deferred until then (`finish_at`). In command mode the answer is the
dotted quad (L-TG reads `ATLA<host>` → `a.b.c.d\\r`, or `ERROR`); in API mode it is the four
address bytes, like MY (L-PY reads MY as 4 bytes) — an assumption (A-LA-API): the reference
does not say what 0x88 carries for LA.
"""

from __future__ import annotations

import ipaddress

from harness.sim.core.effects import Event, Resolve, Resolved
from harness.sim.core.feature import ERROR, INVALID_PARAMETER, AtReply, Feature


class DnsLookup(Feature):
    name = "dns_lookup"
    at_commands = ("LA",)

    def __init__(self) -> None:
        self._pending: int | None = None

    def on_at(self, command: str, param: bytes | None, *, api: bool, now: float
              ) -> AtReply | None:
        host = (param or b"").decode("ascii", "replace").strip()
        if not host:
            return INVALID_PARAMETER
        if not self.modem.registered:  # no network, no DNS (L-TG retries while registering)
            return ERROR
        self._pending = self.modem.new_conn_id()
        self.modem.emit(Resolve(self._pending, host))
        return None  # answered when the world replies

    def on_event(self, event: Event, now: float) -> None:
        if not isinstance(event, Resolved) or event.conn_id != self._pending:
            return
        self._pending = None
        if event.address is None:
            self.modem.finish_at(ERROR)
            return
        packed = ipaddress.IPv4Address(event.address).packed
        self.modem.finish_at(AtReply(value=packed, text=event.address))

    def on_reset(self) -> None:
        self._pending = None
