"""The names a profile is read against that need no pydantic: the modes, the TLS variants'
names, where profiles and personalities live. Why a module of its own: the pytest plugin
reads these before its gate opens (options, markers, the matrix axes), in every pytest run
of the environment, and must not pay for pydantic there (issues 13, 14; A-LAZY-PLUGIN).
`schema` re-exports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from harness.variants import VARIANTS

BUILTIN_PROFILE_DIR = Path(__file__).resolve().parent / "builtin"
DEFAULT_PROFILE = "sim"
# The simulator's firmware personalities (data files of harness.sim), by file stem.
PERSONALITY_DIR = Path(__file__).resolve().parents[1] / "sim" / "core" / "personalities"
PROFILE_SUFFIXES = (".yaml", ".yml")

Mode = Literal["transparent", "api", "api-escaped"]
MODES: tuple[Mode, ...] = get_args(Mode)
# The API mode each mode sets (D-AP): AP=0 transparent, AP=1 API, AP=2 API with escapes.
AP_FOR_MODE: dict[str, int] = {"transparent": 0, "api": 1, "api-escaped": 2}

# TLS variants by name; what each one is (files, $0, expected outcome) is `harness.variants`.
TLS_VARIANTS: tuple[str, ...] = tuple(VARIANTS)


def known_personalities() -> list[str]:
    return sorted(p.stem for p in PERSONALITY_DIR.glob("*.yaml"))
