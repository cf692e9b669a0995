"""What the harness's own tests share, declared once for every folder under tests/.

pytest reads `pytest_plugins` only in the top conftest of a run, so the pytester plugin the
plugin, device and simulator tests drive is declared here rather than in each module.
"""

from __future__ import annotations

pytest_plugins = ["pytester"]
