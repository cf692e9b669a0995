"""One module per firmware feature; `REGISTRY` says which class implements which name.

Adding a feature is a module here, one line in `REGISTRY` and one word in a personality
(`harness.sim.core.registry.FEATURE_NAMES` lists the names and what each means). Importing
this package registers every class with the core (`harness/sim/__init__.py` does so).
"""

from __future__ import annotations

from harness.sim.core import registry
from harness.sim.core.feature import Feature
from harness.sim.features.atfs import FsCommands
from harness.sim.features.dns import DnsLookup
from harness.sim.features.faults import Faults
from harness.sim.features.fsframes import FsFrames
from harness.sim.features.ipframes import IpFrames
from harness.sim.features.sms import Sms
from harness.sim.features.sockets import ExtendedSockets
from harness.sim.features.transparent import Transparent

# name -> class. Add one line when a feature lands.
REGISTRY: dict[str, type[Feature]] = {
    "fs_commands": FsCommands,
    "fs_frames": FsFrames,
    "transparent": Transparent,
    "ip_frames": IpFrames,
    "extended_sockets": ExtendedSockets,
    "dns_lookup": DnsLookup,
    "faults": Faults,
    "sms": Sms,
}

for _name, _cls in REGISTRY.items():
    registry.register(_name, _cls)
