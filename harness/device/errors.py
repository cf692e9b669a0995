"""The device layer's exceptions: one line each, naming the port or command and the cause.

Tests and the plugin show these messages to people at a bench, so every message says what
was tried, where, and what to do about it; none carries a traceback's worth of detail.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Anything the device layer could not do with the module."""


class PortError(DeviceError):
    """A `--device` spec could not be opened (missing, held, no permission, refused)."""

    def __init__(self, spec: str, cause: str) -> None:
        self.spec = spec
        self.cause = cause
        super().__init__(f"cannot open {spec}: {cause}")


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
