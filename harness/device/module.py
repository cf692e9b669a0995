"""One module behind a tap, in whichever mode it is: the link every other device module
talks through.

`Module` finds the mode (an API probe with an 0x08 AP query, then `+++`), hands out a
`CommandMode` or an `ApiClient` for it (exactly one owns the port at a time), reads and
writes AT parameters in either link, and counts what it did (`Stats`), because a benchmark
reports these per test. Configuring (plan, apply, verify, restore, reset, registration) is
`device.configure`, built on this.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any, TypedDict, Unpack

from harness.device.api import ApiClient
from harness.device.clock import Clock
from harness.device.command import CommandMode
from harness.device.errors import (
    CommandError,
    ConfigureError,
    DeviceError,
    DeviceTimeout,
    show_value,
)
from harness.device.transport import Tap
from harness.xbee import at

# AP value of each mode (D-AP). AP=4 (MicroPython) and 5 (bypass) are not modes we drive.
MODE_AP: dict[str, int] = {"transparent": 0, "api": 1, "api-escaped": 2}
AP_MODE: dict[int, str] = {v: k for k, v in MODE_AP.items()}

# How long the API probe waits for the 0x88 answer before trying `+++`. A round trip at
# 9600 baud is ~20 ms of wire time. ASSUMPTION A-PROBE-TIME (docs/assumptions.md).
PROBE_TIMEOUT = 0.5
# Queries per comma-batched command-mode line. D-CMD allows chaining but gives no line
# limit. ASSUMPTION A-CONF-BATCH (docs/assumptions.md).
BATCH_MAX = 8


class CommandTiming(TypedDict, total=False):
    """How fast the module's clock runs, for CommandMode: CT (`command_timeout`, D-ENTER) and
    the longest GT (`max_guard_time`, D-GT), in real seconds (a time-scaled simulator scales
    them)."""

    command_timeout: float
    max_guard_time: float


class ModuleTiming(CommandTiming, total=False):
    """`CommandTiming` and the module's seconds per real second (`Module(time_scale=)`)."""

    time_scale: float


@dataclass(slots=True)
class Stats:
    """What configuring cost the module: a benchmark reports these per test."""

    command_mode_entries: int = 0
    at_round_trips: int = 0
    resets: int = 0
    nvm_writes: int = 0
    mode_probes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def since(self, before: dict[str, int]) -> dict[str, int]:
        """The counts added since `before` (an `as_dict()` taken earlier)."""
        return {k: v - before.get(k, 0) for k, v in self.as_dict().items()}


class _CountingCommandMode(CommandMode):
    def __init__(self, tap: Tap, stats: Stats, **kw: Any) -> None:
        super().__init__(tap, **kw)
        self.stats = stats

    def enter(self) -> None:
        super().enter()
        self.stats.command_mode_entries += 1

    def run(self, *commands: Any, timeout: float | None = None) -> list[str]:
        self.stats.at_round_trips += 1
        return super().run(*commands, timeout=timeout)

    def lines(self, line: str, **kw: Any) -> list[str]:
        self.stats.at_round_trips += 1
        return super().lines(line, **kw)


class _CountingApiClient(ApiClient):
    def __init__(self, tap: Tap, stats: Stats, **kw: Any) -> None:
        super().__init__(tap, **kw)
        self.stats = stats

    def at(self, name: str, value: Any = None, **kw: Any) -> Any:
        self.stats.at_round_trips += 1
        return super().at(name, value, **kw)


class Module:
    """One module behind a tap, in a mode: the link the other device modules talk through.

    Exactly one of the command-mode session and the API reader owns the port at a time:
    `command()` stops the API reader, `api()` leaves command mode first. `mode` is the
    module's operating mode (AP), None until found.
    """

    def __init__(
        self,
        tap: Tap,
        *,
        mode: str | None = None,
        guard_time: float | None = None,
        api_timeout: float = 5.0,
        stats: Stats | None = None,
        time_scale: float = 1.0,
        **command_timing: Unpack[CommandTiming],
    ) -> None:
        """`command_timing`: see `CommandTiming`; `time_scale` is the module's seconds per
        real second, so a GT or CT the harness writes later is followed in real time."""
        self.tap = tap
        self.time_scale = time_scale
        self.mode = mode
        self.stats = stats or Stats()
        self.api_timeout = api_timeout
        self._cm = _CountingCommandMode(tap, self.stats, guard_time=guard_time, **command_timing)
        self._api: _CountingApiClient | None = None
        # GT and CT as the port was opened with: what a reset puts back (unsaved values)
        self._flash_timing = (self._cm.guard_time, self._cm.command_timeout)

    @property
    def clock(self) -> Clock:
        """The one clock every wait reads (the tap's; harness.device.clock)."""
        return self.tap.clock

    # --- mode ---
    def detect_mode(self) -> str:
        """API probe (0x08 AP query), then `+++` and `ATAP` (the order digi-xbee uses, §2a).

        The probe frame has no byte that AP=2 escapes, so one probe answers both API modes
        (D-ESC). In transparent mode the probe's 8 bytes go out as data (digi-xbee notes §2a).
        """
        self.stats.mode_probes += 1
        self._stop_api()
        if not self._cm.active:
            probe = _CountingApiClient(self.tap, self.stats, timeout=PROBE_TIMEOUT)
            with probe:
                try:
                    res = probe.at("AP")
                except DeviceTimeout:
                    res = None
            if res is not None and res.ok and res.value:
                ap = int.from_bytes(res.value, "big")
                self.mode = AP_MODE.get(ap) or self._unsupported(ap)
                self.tap.note("mode", mode=self.mode, how="api probe")
                return self.mode
        cm = self.command()
        ap = cm.get("AP")
        self.mode = AP_MODE.get(ap) or self._unsupported(ap)
        self.tap.note("mode", mode=self.mode, how="command mode")
        return self.mode

    def _unsupported(self, ap: int) -> str:
        raise ConfigureError(
            f"{self.tap.spec}: module is in AP={ap} (4 = MicroPython REPL, 5 = bypass, D-AP); "
            "set AP to 0, 1 or 2 first"
        )

    def ensure_mode(self) -> str:
        return self.mode or self.detect_mode()

    # --- links ---
    def command(self) -> CommandMode:
        """Command mode, entered (once) and kept until `leave_command()`."""
        self._stop_api()
        if not self._cm.active:
            self._cm.enter()
        return self._cm

    @property
    def command_timeout(self) -> float:
        """The CT the harness keeps to, in real seconds (re-enters when idle near it)."""
        return self._cm.command_timeout

    @property
    def guard_time(self) -> float:
        """The GT the harness keeps to, in real seconds."""
        return self._cm.guard_time

    @property
    def in_command_mode(self) -> bool:
        return self._cm.active

    def leave_command(self) -> None:
        """`ATCN` if in command mode: back to the operating mode (D-ENTER)."""
        if self._cm.active:
            self._cm.exit()

    def api(self) -> ApiClient:
        """The API client for the current mode (AP=1 or 2), reader running."""
        mode = self.ensure_mode()
        if mode not in ("api", "api-escaped"):
            raise ConfigureError(f"{self.tap.spec}: module is in {mode} mode, not API mode")
        self.leave_command()
        escaped = mode == "api-escaped"
        if self._api is None:
            self._api = _CountingApiClient(
                self.tap, self.stats, escaped=escaped, timeout=self.api_timeout
            ).start()
        elif self._api.escaped != escaped:
            self._api.set_escaped(escaped)
        return self._api

    def data(self) -> None:
        """Ready for data in the operating mode: out of command mode."""
        self.leave_command()

    def _stop_api(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    def reverted(self) -> None:
        """After a reset: the module's unsaved GT and CT are back at their flash values, so
        the harness keeps to the ones it opened the port with, not a short GT it wrote since
        (whose `+++` the module would ignore, costing the longest retry guard; A-SPEED-GT-RESET)."""
        self._cm.guard_time, self._cm.command_timeout = self._flash_timing

    def follow(self, name: str, value: Any) -> None:
        """Keep the host side in step with a parameter just applied (GT, CT, CC, BD)."""
        if name == "GT":
            self._cm.guard_time = value / 1000 * self.time_scale  # D-GT: ms
        elif name == "CT":
            self._cm.command_timeout = value / 10 * self.time_scale  # D-ENTER: x100 ms
        elif name == "CC":
            self._cm.cc = bytes((value,))
        elif name == "BD" and value in at.BAUD_RATES:
            self.tap.port.baudrate = at.baud_rate(value)

    # --- AT access in whichever link the mode gives ---
    def read(self, names: list[str]) -> dict[str, Any]:
        """Current values (catalogue form). Write-only parameters read as None."""
        names = [n for n in names if not at.spec(n).write_only]
        out: dict[str, Any] = {}
        if self.in_command_mode or self.ensure_mode() == "transparent":
            cm = self.command()
            for i in range(0, len(names), BATCH_MAX):
                batch = names[i : i + BATCH_MAX]
                replies = cm.run(*((n, None) for n in batch))
                for name, text in zip(batch, replies, strict=True):
                    out[name] = _parse(name, text, at.from_text)
            return out
        client = self.api()
        for name in names:
            res = client.at(name)
            if not res.ok:
                raise CommandError(name, f"status {res.meaning()}")
            out[name] = _parse(name, res.value, at.from_binary)
        return out

    def write(self, values: dict[str, Any], *, apply: bool = True) -> None:
        """Set the values, then AC once (D-CMD; 0x09 queues until AC, D-09)."""
        if not values:
            return
        if self.in_command_mode or self.ensure_mode() == "transparent":
            cm = self.command()
            items = list(values.items())
            for i in range(0, len(items), BATCH_MAX):
                batch = items[i : i + BATCH_MAX]
                tail = ["AC"] if apply and i + BATCH_MAX >= len(items) else []
                cm.run(*batch, *tail)
        else:
            client = self.api()
            for name, value in values.items():
                res = client.at(name, value, queue=apply)
                if not res.ok:
                    raise CommandError(
                        name, f"status {res.meaning()} setting {show_value(name, value)}"
                    )
            if apply:
                client.execute("AC")
        for name, value in values.items():
            self.follow(name, value)

    def execute(self, name: str) -> None:
        """A command without a value (WR, AC) in the current link."""
        if self.in_command_mode or self.ensure_mode() == "transparent":
            self.command().run(name)
        else:
            self.api().execute(name)

    def close(self) -> None:
        """Stop the API reader and leave command mode; the tap stays open (the caller's)."""
        with contextlib.suppress(DeviceError):
            self.leave_command()
        self._stop_api()


def _parse(name: str, raw: Any, parse: Any) -> Any:
    try:
        return parse(name, raw)
    except at.AtError as exc:
        raise ConfigureError(f"reading AT{name}: {exc}") from None
