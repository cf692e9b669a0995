"""`python -m harness.sim`: the `xbee-sim` command."""

import sys

from harness.sim.cli import main

sys.exit(main())
