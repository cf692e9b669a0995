"""The simulated module: `core` (pure), `features` (firmware features), `host` (I/O), `cli`.

Importing the package registers the firmware features with the core's registry, so a
`Modem` built from any import path has the features its personality lists.
"""

from harness.sim import features as _features  # noqa: F401  (registers the feature classes)
