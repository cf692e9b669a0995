"""The device layer's exceptions, one per failure kind: cannot open the port (`PortOpenError`),
lost it (`PortLost`), a wait ran out (`DeviceTimeout`), the module said ERROR (`CommandError`),
an API exchange failed (`ApiError`), a value cannot be configured (`ConfigureError`) or did not
read back (`VerifyError`, `EmptyValueError`), the network is not up (`NetworkNotReady`), a file
operation failed (`FileError`), a connection of an earlier test is stuck
(`LeftoverConnection`). One line each, naming the port or command and the cause.

Tests and the plugin show these messages to people at a bench, so every message says what
was tried, where, and what to do about it; none carries a traceback's worth of detail.
"""

from __future__ import annotations

from typing import Any

from harness.xbee import at, codes


class DeviceError(Exception):
    """Anything the device layer could not do with the module."""


class PortError(DeviceError):
    """Something went wrong with the port itself. Raised as such it means an open failure
    (kept for callers that raise it so); new code raises `PortOpenError` or `PortLost`."""

    def __init__(self, spec: str, cause: str) -> None:
        self.spec = spec
        self.cause = cause
        super().__init__(f"cannot open {spec}: {cause}")


class PortOpenError(PortError):
    """A `--device` spec could not be opened (missing, held, no permission, refused)."""


class PortLost(PortError):
    """A port that was open failed under a read or write (unplugged, the other end of a pty
    or socket gone, the kernel's EIO): the module is out of reach, not wrong."""

    def __init__(self, spec: str, cause: str, during: str = "") -> None:
        DeviceError.__init__(self, self.message(spec, cause, during))
        self.spec = spec
        self.cause = cause
        self.during = during

    @staticmethod
    def message(spec: str, cause: str, during: str) -> str:
        return f"lost {spec}" + (f" during {during}" if during else "") + f": {cause}"

    def during_test(self, name: str) -> str:
        """The message as the stop reason of a run: naming the test it happened in."""
        return self.message(self.spec, self.cause, name)


class DeviceTimeout(DeviceError, TimeoutError):
    """A bounded wait ran out; the message names what was awaited and what came instead."""


class CommandError(DeviceError):
    """The module answered an AT command with ERROR (or an `E…` file-system error)."""

    def __init__(self, command: str, reply: str) -> None:
        self.command = command
        self.reply = reply
        super().__init__(f"AT{command}: module answered {reply!r}")


class ApiError(DeviceError):
    """An API-mode exchange failed (bad status, unexpected frame, closed port)."""


class FileError(DeviceError):
    """A file operation the module refused or that did not complete; names file and cause."""


class LeftoverConnection(DeviceError):
    """A connection of an earlier test is still open and could not be closed."""


class ConfigureError(DeviceError):
    """A profile value the module cannot take, or a step of configuring that failed."""


class VerifyError(ConfigureError):
    """The read-back of a parameter differs from what was written."""

    def __init__(self, name: str, wanted: Any, actual: Any) -> None:
        self.name, self.wanted, self.actual = name, wanted, actual
        want, got = show_value(name, wanted), show_value(name, actual)
        super().__init__(f"AT{name}: wanted {want}, module has {got} after AC")


class EmptyValueError(VerifyError):
    """A parameter found empty cannot be put back: an empty value is a query (D-CMD, D-08).
    ASSUMPTION A-RESTORE-EMPTY (docs/assumptions.md)."""

    def __init__(self, name: str, actual: Any) -> None:
        ConfigureError.__init__(
            self,
            f"AT{name}: was empty, module has {show_value(name, actual)}; an empty value cannot be "
            "written back (an empty parameter is a query, D-CMD)",
        )
        self.name, self.wanted, self.actual = name, "", actual


class NetworkNotReady(DeviceError):
    """AI did not reach 0x00 in time; the message carries AI and its meaning (codes.py)."""

    def __init__(self, ai: int | None, waited: float) -> None:
        self.ai = ai
        if ai is None:
            what = "AI unreadable"
        else:
            row = codes.lookup("AI", ai)
            meaning = row.meaning[:1].lower() + row.meaning[1:] if row.known else row.name
            what = f"AI=0x{ai:02X} {meaning}"
        super().__init__(f"network not ready: {what} (waited {waited:g} s)")


def show_value(name: str, value: Any) -> str:
    """A value for a message: hex for numbers, quoted text, secrets (CU, CW) fully hidden."""
    if value is None:
        return "nothing"
    row = at.CATALOGUE.get(name.upper())
    if row is not None and row.secret:
        return f"<secret, {len(str(value))} characters>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value:X}"
    return repr(str(value))
