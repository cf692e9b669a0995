"""YAML profiles: what a bench (or the simulator) is, validated strictly, errors at file:line.

A profile says which module is on the bench and how to reach and reset it, the network it
registers on, the AT baseline every test starts from, the HTTP/HTTPS targets, which modes and
TLS variants the suites run, and what may be written to the module's NVM. `extends:` builds a
profile on another one (deep merge; the child's lists and scalars replace the parent's).

`schema` has the pydantic models and the names read from a profile, `load` reads a file into
them (YAML with marks, `extends:`, errors mapped back to file:line), `issues` what is wrong.
"""

from typing import TYPE_CHECKING, Any

from harness.profiles.issues import Issue, Mark, ProfileError
from harness.profiles.names import (
    AP_FOR_MODE,
    BUILTIN_PROFILE_DIR,
    DEFAULT_PROFILE,
    MODES,
    PERSONALITY_DIR,
    PROFILE_SUFFIXES,
    TLS_VARIANTS,
    known_personalities,
)

if TYPE_CHECKING:
    from harness.profiles.load import check, find_profile, load_profile, read_yaml
    from harness.profiles.schema import (
        HARNESS_OWNED,
        NONSTANDARD_BAUD_RANGE,
        STANDARD_BAUDS,
        TARGET_NAMES,
        AtReset,
        CommandReset,
        Device,
        Mode,
        Network,
        NoReset,
        Nvm,
        PowerReset,
        Profile,
        Target,
        TlsVariant,
        check_baud,
    )

# The pydantic half is imported on first use (PEP 562): the pytest plugin reads the light
# names above in every pytest run of the environment (A-LAZY-PLUGIN).
_LAZY = {
    **dict.fromkeys(("check", "find_profile", "load_profile", "read_yaml"), "load"),
    **dict.fromkeys(
        (
            "HARNESS_OWNED", "NONSTANDARD_BAUD_RANGE", "STANDARD_BAUDS", "TARGET_NAMES",
            "AtReset", "CommandReset", "Device", "Mode", "Network", "NoReset", "Nvm",
            "PowerReset", "Profile", "Target", "TlsVariant", "check_baud",
        ),
        "schema",
    ),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if (sub := _LAZY.get(name)) is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{sub}"), name)
    globals()[name] = value
    return value


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
    "NoReset",
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
