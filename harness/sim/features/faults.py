"""The named faults (`harness.sim.core.faults`) carried out inside the simulated module.

Every Modem has this feature (it is not firmware: no personality lists it). The core
consults it at a few points — registration steps, UART in and out, held command-mode data,
effects leaving for the world and events coming back, the codes a failure becomes — and
runs the actions it asks for at their deadlines (a brownout is a reset, a deregistration an
AI change). With no fault set, every answer is "carry on", so a faultless module is the
module it always was.

`XBEE_SIM_FAULTS_OFF=1` in the environment makes the feature a no-op: faults are accepted
and ignored. It exists for one check only: that each fault's test fails when its fault does
not really inject (tests/sim/test_faults_meta.py).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from harness.sim.core.effects import (
    CloseConnection,
    ConnectionClosed,
    ConnectionFailed,
    ConnectionOpened,
    DataReceived,
    Effect,
    Event,
    Failure,
    OpenConnection,
    Resolve,
    Resolved,
)
from harness.sim.core.faults import ActiveFault
from harness.sim.core.feature import Feature

DISABLE_ENV = "XBEE_SIM_FAULTS_OFF"

# Codes the evidence names (L-PY TxStatus 0x8A / SocketStatus 0x0E: "PDP context deactivated
# by network"; ANSIC #27: "socket state 0x76 - Socket closed unexpectedly").
PDP_TX_STATUS = 0x8A
PDP_SOCKET_STATUS = 0x0E
TLS_CLOSED_TX_STATUS = 0x76

AI_REGISTERING = 0x22
AI_DENIED = 0x25

Action = tuple[str, Any]  # ("reset" | "deregister" | "emit" | "event" | "reattach", payload)


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


class Faults(Feature):
    name = "faults"

    def __init__(self) -> None:
        self.disabled = os.environ.get(DISABLE_ENV, "") not in ("", "0")
        self.active: dict[str, ActiveFault] = {}
        self._set_at = 0.0
        self._dns_failures = 0
        self._frozen = False
        self._fired: set[str] = set()  # one-shot faults already carried out
        self._later: list[tuple[float, Action]] = []
        self._tls_conns: set[int] = set()
        self._overrides: dict[tuple[Failure, str], int] = {}

    # ----- setting --------------------------------------------------------------------------

    def set(self, faults: tuple[ActiveFault, ...], now: float) -> None:
        self.clear()
        self.active = {f.name: f for f in faults}
        self._set_at = now

    def clear(self) -> None:
        """No fault any more; a lookup a slow DNS still holds goes out now."""
        self.active = {}
        self._dns_failures = 0
        self._fired.clear()
        self._later = [(0.0, a) for _, a in self._later if a[0] == "emit"]
        self._overrides.clear()

    def _on(self, name: str) -> ActiveFault | None:
        return None if self.disabled else self.active.get(name)

    def _arg(self, name: str) -> float:
        fault = self.active[name]
        return fault.value or 0.0

    # ----- what the core asks -----------------------------------------------------------------

    @property
    def frozen(self) -> bool:
        return self._frozen

    def power_cycled(self) -> None:
        """Power off and on: the only way out of a freeze (MS-162 "full freezes")."""
        self._frozen = False
        self._fired.add("freeze-after")

    @property
    def wrong_baud(self) -> bool:
        return self._on("wrong-baud") is not None

    @property
    def hold_limit(self) -> int | None:
        return int(self._arg("command-mode-overflow")) if self._on("command-mode-overflow") \
            else None

    def registration_stop(self) -> int | None:
        """The AI registration stops at, or None to let it go on."""
        if self._on("registration-denied"):
            return AI_DENIED
        if self._on("registration-stuck"):
            return AI_REGISTERING
        return None

    def code_override(self, failure: Failure, kind: str) -> int | None:
        return self._overrides.get((failure, kind))

    def intercept(self, effect: Effect, now: float) -> bool:
        """True when the fault takes `effect` instead of the world (DNS faults)."""
        if isinstance(effect, OpenConnection) and effect.tls is not None:
            self._tls_conns.add(effect.conn_id)
        if isinstance(effect, CloseConnection) and self._drop_held_open(effect.conn_id):
            return True  # closed while its slow lookup was held: it never opens (A-STALE-CLOSE)
        lookup = isinstance(effect, Resolve) or (
            isinstance(effect, OpenConnection) and _is_name(effect.host))
        if not lookup:
            return False
        if self._on("dns-flaky") and self._dns_failures < self._arg("dns-flaky"):
            self._dns_failures += 1
            if isinstance(effect, Resolve):
                failed: Event = Resolved(effect.conn_id, None)
            else:
                assert isinstance(effect, OpenConnection)  # a lookup is one or the other
                failed = ConnectionFailed(effect.conn_id, Failure.DNS_FAILED,
                                          f"fault dns-flaky: lookup {self._dns_failures} fails")
            self._later.append((now, ("event", failed)))
            return True
        if self._on("dns-slow"):
            self._later.append((now + self._arg("dns-slow"), ("emit", effect)))
            return True
        return False

    def _drop_held_open(self, conn_id: int) -> bool:
        """Forget a held (dns-slow) OpenConnection of `conn_id`; True when there was one."""
        keep = [item for item in self._later
                if not (item[1][0] == "emit" and isinstance(item[1][1], OpenConnection)
                        and item[1][1].conn_id == conn_id)]
        dropped = len(keep) != len(self._later)
        self._later = keep
        return dropped

    def filter_event(self, event: Event, now: float) -> list[Event]:
        """The world's event as the module sees it with the faults in place."""
        if isinstance(event, ConnectionOpened):
            tls = event.conn_id in self._tls_conns
            self._tls_conns.discard(event.conn_id)
            if tls and self._on("tls-closed-mid-handshake"):
                self._overrides[(Failure.TLS_HANDSHAKE, "tx_status")] = TLS_CLOSED_TX_STATUS
                self._later.append((now, ("emit", CloseConnection(event.conn_id))))
                return [ConnectionFailed(event.conn_id, Failure.TLS_HANDSHAKE,
                                         "fault tls-closed-mid-handshake")]
            if self._on("pdp-deactivated") and "pdp-deactivated" not in self._fired:
                self._fired.add("pdp-deactivated")
                self._overrides[(Failure.NOT_REGISTERED, "tx_status")] = PDP_TX_STATUS
                self._overrides[(Failure.NOT_REGISTERED, "socket_status")] = PDP_SOCKET_STATUS
                self._later.append((now, ("emit", CloseConnection(event.conn_id))))
                self._later.append((now, ("reattach", None)))
                return [ConnectionFailed(event.conn_id, Failure.NOT_REGISTERED,
                                         "fault pdp-deactivated")]
        if (isinstance(event, DataReceived) and self._on("server-reset-mid-response")
                and "server-reset-mid-response" not in self._fired):
            self._fired.add("server-reset-mid-response")
            self._later.append((now, ("emit", CloseConnection(event.conn_id))))
            half = event.data[: max(1, len(event.data) // 2)]
            return [DataReceived(event.conn_id, half, event.source),
                    ConnectionClosed(event.conn_id, Failure.RESET_BY_PEER,
                                     "fault server-reset-mid-response")]
        return [event]

    def take_actions(self, now: float) -> list[Action]:
        """What is due at `now`, in time order; each one-shot fault fires once."""
        out: list[Action] = []
        for name, action in (("brownout-after", "reset"), ("deregister-after", "deregister"),
                             ("freeze-after", "freeze")):
            if (self._on(name) and name not in self._fired
                    and self._set_at + self._arg(name) <= now):
                self._fired.add(name)
                if action == "freeze":
                    self._frozen = True
                else:
                    out.append((action, None))
        due = sorted((t, i) for i, (t, _) in enumerate(self._later) if t <= now)
        keep = [item for item in self._later if item[0] > now]
        out.extend(self._later[i][1] for _, i in due)
        self._later = keep
        return out

    def next_deadline(self) -> float | None:
        if self.disabled:
            return None
        times = [t for t, _ in self._later]
        for name in ("brownout-after", "deregister-after", "freeze-after"):
            if name in self.active and name not in self._fired:
                times.append(self._set_at + self._arg(name))
        return min(times) if times else None

    def on_reset(self) -> None:
        self._later.clear()
        self._tls_conns.clear()
