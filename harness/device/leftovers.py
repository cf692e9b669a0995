"""No connection of an earlier test: close what the module still holds, and check (issue 10).

A server that keeps a connection open after its response leaves the module holding it; the
next test would then run over the previous test's TLS session (a wrong verdict). So a test
starts by asking the module, and closing what is left:

- transparent mode: `OD` names the operating destination, 0.0.0.0 when there is no
  transparent connection (D-OD). Writing TM closes the current connection "even if the TM
  value is unchanged" (L-TG): TM is written back with its own value and applied, then OD is
  polled, bounded.
- API mode: 0x20/0x23 have no close of their own. `ATSI` lists the open sockets (D-SI);
  if any is left, the module is reset (no socket survives a reset) the way every reset of
  the run is (`Configurator.reset_with`: FR, or the profile's power switch, A-BENCH-RECOVER)
  and SI is read again.
  A module that does not answer SI in API mode cannot be checked: noted, not failed.

Each step is bounded; what cannot be closed raises `LeftoverConnection`, naming it.
"""

from __future__ import annotations

from typing import Any

from harness.device.errors import LeftoverConnection

NO_DESTINATION = "0.0.0.0"  # D-OD: no transparent connection
LEFTOVER_TIMEOUT = 10.0  # seconds to see a closed connection reported closed
POLL = 0.05



def close_leftover_connections(configurator: Any, *, timeout: float = LEFTOVER_TIMEOUT) -> int:
    """Before a test: close any connection the module still holds; returns how many were
    open (0 in the normal case, which costs one AT exchange). `configurator` is a
    `device.configure.Configurator` (its `module`, `reset`, `wait_registered`)."""
    module = configurator.module
    mode = module.ensure_mode()
    if mode == "transparent":
        return _transparent(module, timeout)
    return _api(configurator, timeout)


def _transparent(module: Any, timeout: float) -> int:
    cm = module.command()
    if cm.get("OD") == NO_DESTINATION:
        return 0
    module.tap.note("leftover", mode="transparent", action="close (TM written back)")
    close_transparent(module, timeout)
    return 1


def close_transparent(module: Any, timeout: float = LEFTOVER_TIMEOUT) -> None:
    """Close the transparent connection whatever OD says (one still opening, e.g. waiting
    on a slow name lookup, has OD 0.0.0.0 yet: A-STALE-CLOSE), then poll OD; leaves the
    module in command mode. Writing TM closes it even unchanged (L-TG)."""
    cm = module.command()
    tm = cm.get("TM")
    cm.run(("TM", tm), "AC")  # L-TG: writing TM closes the connection, even unchanged
    clock = module.tap.clock
    deadline = clock.now() + timeout
    while (od := cm.get("OD")) != NO_DESTINATION:
        if clock.now() > deadline:
            raise LeftoverConnection(
                f"{module.tap.spec}: a transparent connection to {od} is still open "
                f"{timeout:g} s after writing TM (L-TG)"
            )
        clock.sleep(POLL)


def _socket_ids(module: Any) -> list[str] | None:
    """IDs `ATSI` lists (D-SI: hex IDs one a line, then a blank line); None: no answer."""
    res = module.api().at("SI")
    if not res.ok:
        return None
    text = bytes(res.value or b"").decode("latin-1")
    return [t for t in text.replace("\r", "\n").split() if t]


def _api(configurator: Any, timeout: float) -> int:
    module = configurator.module
    ids = _socket_ids(module)
    if ids is None:
        module.tap.note("leftover", mode="api", action="not checked: ATSI not answered")
        return 0
    if not ids:
        return 0
    module.tap.note("leftover", mode="api", sockets=ids, action="reset")
    configurator.reset()  # the run's reset (A-BENCH-RECOVER); parameters go back to flash
    configurator.wait_registered()
    if module.ensure_mode() == "transparent":
        return len(ids) + _transparent(module, timeout)
    again = _socket_ids(module)
    if again:
        raise LeftoverConnection(
            f"{module.tap.spec}: sockets {', '.join(again)} still open after a reset (ATSI)"
        )
    return len(ids)
