"""xbee-hil: a hardware-in-the-loop test harness and simulator for Digi XBee3 Cellular modems."""

__version__ = "0.1.0"
