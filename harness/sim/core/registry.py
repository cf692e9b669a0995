"""The firmware feature names a personality can list, and the classes registered for them.

The core only knows the names (`FEATURE_NAMES`) and a table the feature package fills:
`harness.sim.features` imports each Feature class explicitly and registers it here (and
`harness/sim/__init__.py` imports that package, so the table is full before any Modem is
built). So the core never imports a feature, and a feature imports the core freely. A
personality may name a feature that has no class yet (it is being written): the Modem then
runs without it and logs a warning.
"""

from __future__ import annotations

import logging

from harness.sim.core.feature import Feature

log = logging.getLogger(__name__)

# The feature names a personality may list, and what each one means on the real module.
FEATURE_NAMES: dict[str, str] = {
    "transparent": "AP=0 data path: IP/DL/DE/TM, lazy connect on data, CI/OD (D-TRANSP)",
    "ip_frames": "0x20 TX IPv4, 0x23 TX with TLS profile, 0x89, 0xB0 (D-20, D-23, D-89, D-B0)",
    "extended_sockets": "0x40-0x46 socket frames and 0xC0-0xCF replies (L-C: x15 and later)",
    "fs_commands": "ATFS in command mode, YMODEM PUT/XPUT/GET (D-FSCMD)",
    "fs_frames": "0x3B/0xBB file system frames (D-3B, LTE-M/NB-IoT guide)",
    "dns_lookup": "ATLA host: a name looked up in the network's DNS (L-TG)",
    "sms": "0x1F TX SMS / 0x9F RX SMS (L-C sms.h)",
    "faults": "named faults from the field (sim.core.faults); on every Modem, not firmware",
}

# name -> the Feature class; filled by `harness.sim.features` (its REGISTRY) at import.
_CLASSES: dict[str, type[Feature]] = {}


def register(name: str, cls: type[Feature]) -> None:
    """Make `cls` the implementation of the feature `name` (one of FEATURE_NAMES)."""
    if name not in FEATURE_NAMES:
        raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")
    if not (isinstance(cls, type) and issubclass(cls, Feature)):
        raise TypeError(f"{cls!r} is not a Feature subclass")
    _CLASSES[name] = cls


def find(name: str) -> type[Feature] | None:
    """The class registered for `name`, or None, without a warning (optional features)."""
    return _CLASSES.get(name)


def load(name: str) -> type[Feature] | None:
    """The class registered for `name`, or None when no one has written it yet."""
    if name not in FEATURE_NAMES:
        raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")
    cls = _CLASSES.get(name)
    if cls is None:
        log.warning("feature %r is not implemented yet; the simulated module runs without it",
                    name)
    return cls
