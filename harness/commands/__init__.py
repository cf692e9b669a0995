"""Sub-commands of `xbee-hil`, one module each (see harness.cli)."""
