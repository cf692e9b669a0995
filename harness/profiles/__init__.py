"""YAML profiles: what a bench (or the simulator) is, validated strictly, errors at file:line.

A profile says which module is on the bench and how to reach and reset it, the network it
registers on, the AT baseline every test starts from, the HTTP/HTTPS targets, which modes and
TLS variants the suites run, and what may be written to the module's NVM. `extends:` builds a
profile on another one (deep merge; the child's lists and scalars replace the parent's).

`schema` has the pydantic models and the names read from a profile, `load` reads a file into
them (YAML with marks, `extends:`, errors mapped back to file:line), `issues` what is wrong.
"""

from harness.profiles.issues import Issue, Mark, ProfileError
from harness.profiles.load import check, find_profile, load_profile, read_yaml
from harness.profiles.schema import (
    AP_FOR_MODE,
    BUILTIN_PROFILE_DIR,
    DEFAULT_PROFILE,
    HARNESS_OWNED,
    MODES,
    NONSTANDARD_BAUD_RANGE,
    PERSONALITY_DIR,
    PROFILE_SUFFIXES,
    STANDARD_BAUDS,
    TARGET_NAMES,
    TLS_VARIANTS,
    AtReset,
    CommandReset,
    Device,
    Mode,
    Network,
    Nvm,
    PowerReset,
    Profile,
    Target,
    TlsVariant,
    check_baud,
    known_personalities,
)

__all__ = [
    "AP_FOR_MODE",
    "BUILTIN_PROFILE_DIR",
    "DEFAULT_PROFILE",
    "HARNESS_OWNED",
    "MODES",
    "NONSTANDARD_BAUD_RANGE",
    "PERSONALITY_DIR",
    "PROFILE_SUFFIXES",
    "STANDARD_BAUDS",
    "TARGET_NAMES",
    "TLS_VARIANTS",
    "AtReset",
    "CommandReset",
    "Device",
    "Issue",
    "Mark",
    "Mode",
    "Network",
    "Nvm",
    "PowerReset",
    "Profile",
    "ProfileError",
    "Target",
    "TlsVariant",
    "check",
    "check_baud",
    "find_profile",
    "known_personalities",
    "load_profile",
    "read_yaml",
]
