"""The ports a run has opened, by device label: the stash key and its reader, without the
device layer (port.py has the `Port` itself). Why apart: `stats` and the hooks read this in
every pytest run, and the plugin's import must stay light until its gate opens (issues 13,
14; A-LAZY-PLUGIN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.pytest_plugin.port import Port

PORTS = pytest.StashKey[dict[str, "Port"]]()


def ports(config: pytest.Config) -> dict[str, Port]:
    """The ports opened so far this run, by device label."""
    return config.stash.get(PORTS, {})
