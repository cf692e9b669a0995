"""Which Feature class implements which firmware feature a personality can list.

One place, so adding a feature is one line here plus one word in a personality. Entries are
"module:Class" strings, imported when a Modem is built, so this module imports nothing and a
feature module may import the core freely. A personality may name a feature that has no
entry yet (it is being written): the Modem then runs without it and logs a warning.
"""

from __future__ import annotations

import importlib
import logging

from harness.sim.feature import Feature

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
}

# name -> "module:Class". Add one line when a feature lands.
REGISTRY: dict[str, str] = {
    "fs_commands": "harness.sim.atfs:FsCommands",
    "fs_frames": "harness.sim.fsframes:FsFrames",
    "transparent": "harness.sim.transparent:Transparent",
    "ip_frames": "harness.sim.ipframes:IpFrames",
    "extended_sockets": "harness.sim.sockets:ExtendedSockets",
    "dns_lookup": "harness.sim.dnslookup:DnsLookup",
}


def load(name: str) -> type[Feature] | None:
    """The class registered for `name`, or None when no one has written it yet."""
    if name not in FEATURE_NAMES:
        raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")
    target = REGISTRY.get(name)
    if target is None:
        log.warning("feature %r is not implemented yet; the simulated module runs without it",
                    name)
        return None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Feature)):
        raise TypeError(f"{target} is not a Feature subclass")
    return cls
