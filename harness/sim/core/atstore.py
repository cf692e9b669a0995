"""The AT parameter store of the simulated module: written, queued, active and saved values.

Four layers, as the reference describes them:
- `nvm`: what WR saved (D-SPECIAL); survives FR and a power cycle (the host may persist it);
- `current`: what the host last wrote (command mode or 0x08); queries answer this layer
  (ASSUMPTION A-AT-QUERY-WRITTEN: a query before AC shows the written value);
- `queued`: 0x09 values, not visible until an 0x08 frame or AC (D-09);
- `active`: what the module runs with, set from `current` by AC / CN / an 0x08 (D-CMD, D-08).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.xbee import at


def writable() -> list[str]:
    """Every parameter a host can set and WR can save."""
    return [r.name for r in at.CATALOGUE.values()
            if not r.readonly and r.kind is not at.Kind.COMMAND]


class AtStore:
    def __init__(self, defaults: Mapping[str, at.Value],
                 nvm: Mapping[str, at.Value] | None = None) -> None:
        self._defaults = {name: defaults[name] for name in writable() if name in defaults}
        self.nvm: dict[str, at.Value] = {}
        for name, value in (nvm or {}).items():
            row = at.CATALOGUE.get(name.upper())
            if row is None or row.readonly or row.kind is at.Kind.COMMAND:
                raise at.AtError(f"NVM key {name!r}: not a writable AT parameter")
            self.nvm[row.name] = at.validate(row.name, value)
        self.current: dict[str, at.Value] = {}
        self.active: dict[str, at.Value] = {}
        self.queued: dict[str, at.Value] = {}
        self.written: set[str] = set()
        self.power_up()

    def power_up(self) -> None:
        """Volatile values back to NVM (or defaults): FR and power-on."""
        self.current = {**self._defaults, **self.nvm}
        self.active = dict(self.current)
        self.queued.clear()
        self.written.clear()

    def get(self, name: str) -> at.Value | None:
        return self.current.get(name)

    def write(self, name: str, value: at.Value) -> None:
        self.current[name] = value
        self.written.add(name)

    def queue(self, name: str, value: at.Value) -> None:
        self.queued[name] = value

    def apply(self) -> set[str]:
        """Queued values are written, then everything written becomes active. Returns the
        names written since the last apply (even with an unchanged value)."""
        for name, value in self.queued.items():
            self.write(name, value)
        self.queued.clear()
        self.active.update(self.current)
        changed, self.written = self.written, set()
        return changed

    def save(self) -> None:
        """WR: the written values become the power-up values. Only values that differ from
        the defaults are kept, so `nvm` reads as a diff."""
        self.nvm = {k: v for k, v in self.current.items() if self._defaults.get(k) != v}

    def restore_defaults(self) -> None:
        """RE: written values back to defaults (applied by AC/CN, saved by WR)."""
        for name, value in self._defaults.items():
            if self.current.get(name) != value:
                self.write(name, value)
        self.queued.clear()
