"""The device layer's exceptions: one line each, naming the port or command and the cause.

Tests and the plugin show these messages to people at a bench, so every message says what
was tried, where, and what to do about it; none carries a traceback's worth of detail.
"""

from __future__ import annotations


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
