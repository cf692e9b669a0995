"""The `pytest11` entry point `xbee_hil`: which modules make the plugin.

pytest registers this module and, through `pytest_plugins`, the option fixtures, the
matrix's fixtures and the hooks (every `pytest_*` hook). The fixtures that talk to a module
(`xbee_port`, `xbee_capture`, `xbee`, `http_target`, `https_target`) are the modules of
`FIXTURE_MODULES`, registered at configure time when they exist: the seam where a bench can
put its own in their place.
"""

pytest_plugins = (  # hooks last: it imports the other two, which must be registered first
    "harness.pytest_plugin.options",
    "harness.pytest_plugin.matrix",
    "harness.pytest_plugin.faults",
    "harness.pytest_plugin.xdist_support",
    "harness.pytest_plugin.handoff",
    "harness.pytest_plugin.hooks",
)
FIXTURE_MODULES = ("harness.pytest_plugin.fixtures",)
