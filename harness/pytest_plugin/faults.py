"""Named faults in tests: `@pytest.mark.xbee_fault("dns-flaky:3")` and the `xbee_faults`
fixture, which puts them on the simulated module after the test's configuration, takes them
off after the test and leaves the module as the next test needs it.

Recovery (A-FAULT-RECOVER, A-BENCH-RECOVER) resets the way every reset of the run does, by
the profile's `device.reset`: `at` by FR, which a silent module cannot take (the run stops
with one reason); `power` (the device's own switch: the simulator's, a labgrid place's) and
`command` (a relay or PDU) by that switch, never FR first; `none` stops the run with one
reason (`ModuleBroken`) before touching the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from harness import profiles  # its pydantic half loads on first use (A-LAZY-PLUGIN)
from harness.device.errors import ConfigureError, DeviceError
from harness.pytest_plugin.session import ModuleBroken

if TYPE_CHECKING:
    from types import ModuleType

    from harness.pytest_plugin.configured import XBee


def _faults_mod() -> ModuleType:
    """The simulator's fault grammar, imported when a test first names a fault: the plugin's
    import stays light in runs that use none (A-LAZY-PLUGIN)."""
    from harness.sim.core import faults

    return faults

# How long the module gets to come back after FR or a power cycle (a `command` has its own
# `timeout`), and to register again when the test has no session profile (with one, its
# `network.registration_timeout`): bounds, not waits — a simulator is back in ms, a bench
# module boots in seconds and may take minutes to register (A-FAULT-RECOVER).
RECOVER_RESET_TIMEOUT = 30.0  # = device.configure.RESET_TIMEOUT (not imported: A-LAZY-PLUGIN)
RECOVER_REGISTRATION_TIMEOUT = 180.0
# How long an AT query may go unanswered before the module counts as silent (real seconds).
PROBE_TIMEOUT = 1.0
# What a run whose profile says `reset: none` stops with when a reset is needed.
NO_RESET = "the module needs a reset and the profile forbids one (device.reset: none)"
# How a reset was done, as `settle` and `recover` say it.
FR, POWER_CYCLE = "FR", "power cycle"


def marked_faults(item: pytest.Item) -> list[str]:
    """The faults of every `xbee_fault` marker on the test, checked (one clear line)."""
    texts = [str(a) for m in item.iter_markers("xbee_fault") for a in m.args]
    if not texts:
        return texts
    faults_mod = _faults_mod()
    try:
        faults_mod.parse_all(texts, where=f"{item.nodeid}: xbee_fault")
    except faults_mod.FaultError as exc:
        pytest.fail(str(exc), pytrace=False)
    return texts


@dataclass
class FaultControl:
    """The test's hold on the module's faults."""

    xbee: XBee
    active: list[str]

    def set(self, *faults: str) -> None:
        """Replace the module's faults (deadlines count from now)."""
        _faults_mod().parse_all(faults)
        self.xbee.port.device.set_faults(list(faults))
        self.active = list(faults)

    def clear(self) -> None:
        if self.active:
            self.xbee.port.device.clear_faults()
        self.active = []

    def _silent(self, probe: float) -> str | None:
        """Why the module does not answer an AT query within `probe` s (None: it does);
        FR needs a module that listens."""
        module = self.xbee.port.module
        try:
            if module.mode in ("api", "api-escaped") and not module.in_command_mode:
                module.api().at("AI", timeout=probe)
            else:
                module.command().run("AI", timeout=probe)
        except DeviceError as exc:
            return str(exc)
        return None

    def reconfigure(self) -> None:
        """After a reset: the profile's baseline and the test's mode again (unsaved values
        went back to flash, AP with them), so the test's next request meets its set-up."""
        session = self.xbee.session
        wanted = dict(session.profile.baseline) if session is not None else {}
        self.xbee.port.configurator.apply(wanted, self.xbee.mode)

    def reset_method(self) -> Any:
        """The profile's `device.reset` (ATFR when the test has no session)."""
        session = self.xbee.session
        return session.profile.device.reset if session is not None else profiles.AtReset()

    @property
    def reset_how(self) -> str:
        """How any reset of this module is done (A-BENCH-RECOVER): "power cycle" where the
        profile names a power switch (`power`, a `command`), else "FR"."""
        return FR if self.xbee.port.configurator.reset_with is None else POWER_CYCLE

    def settle(self, *, probe: float = PROBE_TIMEOUT) -> str:
        """After a far end failed (host-side faults): a module that answers and whose
        connections close (A-LEFTOVER) needs no reset ("settled"); one whose leftover socket
        only a reset closes was reset the profile's way ("FR" or "power cycle", as
        `reset_how`); any other is recovered as `recover` does. Returns how (a caller
        reconfigures unless "settled")."""
        if self._silent(probe) is None:
            configurator = self.xbee.port.configurator
            resets = configurator.stats.resets
            try:
                from harness.device.leftovers import close_leftover_connections

                close_leftover_connections(configurator)
            except (DeviceError, ConfigureError):
                pass
            else:
                if configurator.stats.resets == resets:
                    return "settled"
                # API mode cannot close a 0x20/0x23 socket (a slow server's, still open): the
                # check reset the module, so its set-up went back to flash like any reset's
                self.xbee.port.forget()
                return self.reset_how
        return self.recover(probe=probe)

    def recover(self, *, reset_timeout: float = RECOVER_RESET_TIMEOUT,
                probe: float = PROBE_TIMEOUT) -> str:
        """Bring the module back the way the profile's `device.reset` says (A-BENCH-RECOVER):
        by its power switch (`power`, a `command`) whether or not the module answers; by FR
        (`at`) when it answers an AT query within `probe` s; otherwise, and always with
        `none`, the run stops with one reason (ModuleBroken). Then registration. Returns how
        ("FR" or "power cycle")."""
        port = self.xbee.port
        reset = self.reset_method()
        port.forget()
        if reset.method == "none":
            raise ModuleBroken(NO_RESET)
        how = self.reset_how
        if how == POWER_CYCLE:
            try:
                port.configurator.reset(timeout=reset_timeout)  # a command: its own timeout
            except NotImplementedError as exc:
                raise ModuleBroken(f"the module needs a power cycle and {exc}") from None
            except (DeviceError, ConfigureError) as exc:
                raise ModuleBroken(f"module not back after a power cycle (device.reset: "
                                   f"{reset.method}): {exc}") from None
        else:
            why = self._silent(probe)
            if why is None:
                try:
                    port.configurator.reset(timeout=reset_timeout)
                except DeviceError as exc:
                    why = str(exc)
            if why is not None:
                raise ModuleBroken(
                    f"module does not answer ({why}) and the profile resets it by ATFR only "
                    "(device.reset: at), which a silent module cannot take; name a power "
                    "switch (device.reset: power, or method: command)")
        session = self.xbee.session
        bound = (session.profile.network.registration_timeout if session is not None
                 else RECOVER_REGISTRATION_TIMEOUT)
        try:
            port.configurator.wait_registered(bound)
        except (DeviceError, ConfigureError) as exc:
            raise ModuleBroken(f"module back after {how} but not on the network: {exc}"
                               ) from None
        return how


@pytest.fixture
def xbee_faults(request: pytest.FixtureRequest, xbee: XBee) -> Iterator[FaultControl]:
    """The test's `xbee_fault` faults put on the module once it is configured; taken off
    (and the module's remembered values forgotten) after the test. Without faults (a
    host-side fault: a server down, a name that does not resolve) it serves any device."""
    texts = marked_faults(request.node)
    why = xbee.port.device.faults_unsupported()
    if why is not None and texts:  # a host-side fault needs none: its recovery runs anywhere
        pytest.skip(why)
    control = FaultControl(xbee, [])
    if texts:
        control.set(*texts)
    yield control
    control.clear()
    xbee.port.forget()  # a brownout or a power cycle put NVM values back
