"""Named faults: the failures users report most (field-evidence §3), as data.

A fault is a name, what it does, what its argument means and when it starts, and the field
report it comes from. `parse("dns-flaky:3")` gives an `ActiveFault`; the feature that
carries faults out is `harness.sim.features.faults` (the Modem consults it). Times are
module seconds: "after S seconds" is a deadline from the moment the fault is set, never a
sleep. Where the evidence names no code or limit, the choice is an assumption
(docs/assumptions.md: a row per fault, e.g. A-FAULT-DNS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ArgKind = Literal["none", "seconds", "count", "bytes"]


class FaultError(ValueError):
    """A fault name or argument that is not valid; the message names it and the choices."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One named fault: what it does, its argument, and where users reported it."""

    name: str
    summary: str
    arg: ArgKind = "none"
    default: float | None = None  # the argument when none is given (None: required)
    source: str = ""
    sim_only: bool = True  # False: a bench can cause it from the host side too

    def usage(self) -> str:
        word = {"none": "", "seconds": ":S", "count": ":N", "bytes": ":BYTES"}[self.arg]
        if word and self.default is not None:
            word = f"[{word}]"
        return self.name + word


# The catalogue (field-evidence §3, rows 3-7 and 10). Evidence tags: field-evidence.md §0.
CATALOGUE: dict[str, FaultSpec] = {f.name: f for f in (
    FaultSpec("registration-stuck", "AI stays 0x22 (registering): the module never gets on "
              "the network", source="F-38326; MS-278 (field-evidence §3 #3)"),
    FaultSpec("registration-denied", "AI 0x25: the network denies registration",
              source="F-38326; MS-162; L-PY AI 0x25 (field-evidence §3 #3)"),
    FaultSpec("deregister-after", "after S s the network drops the module: AI 0x22, 0x8A 0x03, "
              "open sockets closed with their codes, then it registers again", "seconds",
              source="F-38326; MP-81 (field-evidence §3 #3, #7); A-FAULT-DEREGISTER"),
    FaultSpec("dns-slow", "every DNS lookup (ATLA, a connection by name) answers S s late",
              "seconds", source="TG-204 (field-evidence §3 #4); A-FAULT-DNS"),
    FaultSpec("dns-flaky", "the first N DNS lookups fail (ATLA ERROR, connection by name: "
              "DNS failure), then they answer", "count",
              source="TG-204 (field-evidence §3 #4); A-FAULT-DNS"),
    FaultSpec("freeze-after", "after S s the module answers nothing, not even FR, until a "
              "power cycle", "seconds", default=0.0,
              source="MS-162; MS-277; F-36750; L-TG-HEAD pinReset() (field-evidence §3 #5)"),
    FaultSpec("brownout-after", "after S s the module resets by itself: 0x8A 0x00, settings "
              "back to what WR saved, connections gone", "seconds", default=0.0,
              source="MS-162; L-TG-HEAD pinReset() (field-evidence §3 #5)"),
    FaultSpec("tls-closed-mid-handshake", "the TLS server closes during the handshake: "
              "TX status 0x76 (socket closed unexpectedly), the firmware's handshake CI",
              source="ANSIC #27 (field-evidence §3 #7); A-FAULT-TLS-CLOSED"),
    FaultSpec("server-reset-mid-response", "the server sends half its first reply, then a "
              "TCP RST", source="MP-81 (field-evidence §3 #7); A-FAULT-SERVER-RESET",
              sim_only=False),
    FaultSpec("pdp-deactivated", "the network deactivates the data context on the next "
              "connection: 0x89 0x8A / 0xCF 0x0E, AI 0x23 while it attaches again",
              source="L-PY TX status 0x8A, socket status 0x0E (field-evidence §3 #7); "
              "A-FAULT-PDP"),
    FaultSpec("command-mode-overflow", "data from the network while the host is in command "
              "mode is kept up to BYTES, the rest is lost", "bytes", default=64,
              source="MS-396; TinyGSM wiki (field-evidence §3 #6); A-FAULT-CMD-OVERFLOW"),
    FaultSpec("wrong-baud", "the module answers at another rate: every byte it sends reaches "
              "the host as garbage (OK\\r as 1C 1C FC)",
              source="forum 20971; D-BD (field-evidence §3 #10); A-FAULT-WRONG-BAUD"),
)}


@dataclass(frozen=True, slots=True)
class ActiveFault:
    """A fault with its argument, as set on a module."""

    spec: FaultSpec
    value: float | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def __str__(self) -> str:
        if self.value is None:
            return self.spec.name
        return f"{self.spec.name}:{self.value:g}"


def parse(text: str, *, where: str = "fault") -> ActiveFault:
    """`NAME` or `NAME:ARG` → an ActiveFault; a FaultError names what is wrong and where."""
    name, sep, arg = str(text).strip().partition(":")
    spec = CATALOGUE.get(name)
    if spec is None:
        raise FaultError(f"{where} {text!r}: unknown fault; known: {', '.join(CATALOGUE)}")
    if spec.arg == "none":
        if sep:
            raise FaultError(f"{where} {text!r}: {name} takes no argument")
        return ActiveFault(spec)
    if not sep:
        if spec.default is None:
            raise FaultError(f"{where} {text!r}: expected {spec.usage()}")
        return ActiveFault(spec, spec.default)
    try:
        value = float(arg) if spec.arg == "seconds" else int(arg, 10)
    except ValueError:
        raise FaultError(f"{where} {text!r}: {arg!r} is not a "
                         f"{'number of seconds' if spec.arg == 'seconds' else 'whole number'}"
                         ) from None
    if not (value >= 0 and value < 1e9):
        raise FaultError(f"{where} {text!r}: {arg!r} out of range (0 or more)")
    return ActiveFault(spec, float(value))


def parse_all(texts: list[str] | tuple[str, ...], *, where: str = "fault"
              ) -> tuple[ActiveFault, ...]:
    return tuple(parse(t, where=where) for t in texts)


def listing() -> str:
    """`xbee-sim --list-faults`: one line per fault (usage, what it does) and its source."""
    width = max(len(f.usage()) for f in CATALOGUE.values())
    lines = []
    for f in CATALOGUE.values():
        lines.append(f"{f.usage():<{width}}  {f.summary}")
        lines.append(f"{'':<{width}}  source: {f.source}")
    return "\n".join(lines)


# Garbage for `wrong-baud`: the forum's three bytes for "OK\r" (forum 20971), and for every
# other byte one with the high bit set, so no reply ever reads as text (A-FAULT-WRONG-BAUD).
FORUM_GARBAGE = {0x4F: 0x1C, 0x4B: 0x1C, 0x0D: 0xFC}


def garble(data: bytes) -> bytes:
    return bytes(FORUM_GARBAGE.get(b, 0x80 | (b >> 1)) for b in data)
