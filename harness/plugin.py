"""The xbee-hil pytest plugin: options, fixtures, markers and hooks (the composition root)."""
