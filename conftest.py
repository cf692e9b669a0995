"""Top-level conftest: the xbee-hil plugin is loaded through its pytest11 entry point."""
