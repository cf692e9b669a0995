"""Named faults in tests: `@pytest.mark.xbee_fault("dns-flaky:3")` and the `xbee_faults`
fixture, which puts them on the simulated module after the test's configuration, takes them
off after the test and leaves the module as the next test needs it.

Recovery (A-FAULT-RECOVER) is what a bench would do, in order: `FR`; a power cycle where
the device has a switch (the simulator has one); otherwise the run stops with one reason
(`ModuleBroken`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.device.errors import ConfigureError, DeviceError
from harness.pytest_plugin.configured import XBee
from harness.pytest_plugin.session import ModuleBroken
from harness.sim.core import faults as faults_mod

# How long the module gets to come back after FR or a power cycle, and to register again,
# in real seconds on the simulator (fast timing: a module second is 10 ms).
RECOVER_RESET_TIMEOUT = 3.0
RECOVER_REGISTRATION_TIMEOUT = 10.0
# How long an AT query may go unanswered before the module counts as silent (real seconds).
PROBE_TIMEOUT = 1.0


def marked_faults(item: pytest.Item) -> list[str]:
    """The faults of every `xbee_fault` marker on the test, checked (one clear line)."""
    texts = [str(a) for m in item.iter_markers("xbee_fault") for a in m.args]
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
        faults_mod.parse_all(faults)
        self.xbee.port.device.set_faults(list(faults))
        self.active = list(faults)

    def clear(self) -> None:
        self.xbee.port.device.clear_faults()
        self.active = []

    def _silent(self, probe: float) -> str | None:
        """Why the module does not answer an AT query within `probe` s (None: it does);
        FR needs a module that listens, so a silent one goes straight to the power switch."""
        module = self.xbee.port.module
        try:
            if module.mode in ("api", "api-escaped") and not module.in_command_mode:
                module.api().at("AI", timeout=probe)
            else:
                module.command().run("AI", timeout=probe)
        except DeviceError as exc:
            return str(exc)
        return None

    def recover(self, *, reset_timeout: float = RECOVER_RESET_TIMEOUT,
                probe: float = PROBE_TIMEOUT) -> str:
        """Bring the module back: FR, else a power cycle, then registration. Returns how
        ("FR" or "power cycle"); raises ModuleBroken with one reason when neither works."""
        port = self.xbee.port
        port.forget()
        why = self._silent(probe)
        how = "FR"
        if why is None:
            try:
                port.configurator.reset(timeout=reset_timeout)
            except DeviceError as exc:
                why = str(exc)
        if why is not None:
            how = "power cycle"
            try:
                port.configurator.reset(port.device.power_cycle, timeout=reset_timeout)
            except NotImplementedError as exc:
                raise ModuleBroken(f"module does not answer ({why}) and {exc}") from None
            except DeviceError as exc:
                raise ModuleBroken(f"module does not answer ({why}), not even after a power "
                                   f"cycle: {exc}") from None
        try:
            port.configurator.wait_registered(RECOVER_REGISTRATION_TIMEOUT)
        except (DeviceError, ConfigureError) as exc:
            raise ModuleBroken(f"module back after {how} but not on the network: {exc}"
                               ) from None
        return how


@pytest.fixture
def xbee_faults(request: pytest.FixtureRequest, xbee: XBee) -> Iterator[FaultControl]:
    """The test's `xbee_fault` faults put on the module once it is configured; taken off
    (and the module's remembered values forgotten) after the test."""
    texts = marked_faults(request.node)
    why = xbee.port.device.faults_unsupported()
    if why is not None:
        pytest.skip(why)
    control = FaultControl(xbee, [])
    if texts:
        control.set(*texts)
    yield control
    control.clear()
    xbee.port.forget()  # a brownout or a power cycle put NVM values back
