"""The scheduler of a `--dist loadgroup` run: one group (a device) is one work unit.

Imported only when xdist makes its scheduler (harness/pytest_plugin/xdist_support.py), so
the plugin does not need xdist installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling


class DeviceGroupScheduling(LoadScopeScheduling):
    """xdist's loadscope with the groups the workers wrote beside their ids: a grouped test's
    scope is its group; any other test is its own scope (spread as `load` would)."""

    def __init__(self, config: pytest.Config, log: Any, folder: Path) -> None:
        super().__init__(config, log)
        self._folder = folder
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:  # asked first once every worker has sent its collection
            self._groups = {}
            for path in sorted(self._folder.glob("*.json")):
                self._groups.update(json.loads(path.read_text(encoding="utf-8")))
        group = self._groups.get(nodeid)
        return f"xdist_group:{group}" if group is not None else nodeid
